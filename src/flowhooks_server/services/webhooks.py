"""Webhook use cases behind both REST surfaces: create, read, list, change, unsuspend, delete,
and reading and rotating the signing secret. Each change is validated as a whole webhook before
anything is written.

Signing secrets (SPEC §7, rules in `domain.signing`): a webhook created without one gets a
generated `whsec_` secret; a change of the secret (PATCH on either surface) is a rotation with
the default 24 h grace, and `rotate_secret` one with the grace asked for. The secret leaves the
server only through `secret` and `rotate_secret`, and is never logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.errors import NotFound, Violations, found
from flowhooks_server.domain.signing import (
    DEFAULT_GRACE,
    generate_secret,
    grace_refusal,
    secret_refusal,
)
from flowhooks_server.domain.webhooks import (
    FieldNames,
    Webhook,
    WebhookFilter,
    WebhookSpec,
    validate,
)
from flowhooks_server.ids import new_id
from flowhooks_server.storage import deliveries as delivery_store
from flowhooks_server.storage import tenants as tenant_store
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.db import Database

log = logging.getLogger("flowhooks.webhooks")


class WebhookManager:
    def __init__(self, db: Database, allow_insecure_targets: bool,
                 on_released: Callable[[], None] = lambda: None) -> None:
        self._db = db
        self._insecure = allow_insecure_targets
        self._on_released = on_released  # held deliveries became due (after commit)

    async def create(self, tenant: str, spec: WebhookSpec, names: FieldNames) -> Webhook:
        validate(spec, names, self._insecure)
        now = utcnow()
        webhook = Webhook(id=new_id("wh"), tenant_id=tenant,
                          spec=spec.with_changes(secret=spec.secret or generate_secret()),
                          created_at=now, updated_at=now)
        async with self._db.session() as session, session.begin():
            await tenant_store.ensure_tenant(session, tenant)
            return await webhook_store.add(session, webhook)

    async def get(self, tenant: str, webhook_id: str) -> Webhook:
        async with self._db.session(readonly=True) as session:
            return found(await webhook_store.get(session, tenant, webhook_id), "webhook",
                         webhook_id)

    async def list(self, tenant: str, where: WebhookFilter, limit: int,
                   offset: int) -> list[Webhook]:
        async with self._db.session(readonly=True) as session:
            return await webhook_store.list_webhooks(session, tenant, where, limit, offset)

    async def change(self, tenant: str, webhook_id: str, names: FieldNames,
                     edit: Callable[[WebhookSpec], WebhookSpec],
                     unsuspend: bool = False) -> Webhook:
        """Apply `edit` to the stored spec, validate the result, and save it."""
        async with self._db.session() as session, session.begin():
            before = found(
                await webhook_store.get(session, tenant, webhook_id, for_update=True),
                "webhook", webhook_id)
            spec = edit(before.spec)
            validate(spec, names, self._insecure, stored_secret=before.spec.secret)
            after = before.with_spec(spec.with_changes(secret=spec.secret or generate_secret()),
                                     utcnow())
            released = 0
            if unsuspend and before.suspended:
                after = after.unsuspended()
                released = await delivery_store.release_held(session, webhook_id)
            saved = await webhook_store.save(
                session, after, event_types_changed=spec.event_types != before.spec.event_types)
        if released:
            self._on_released()
        return saved

    async def secret(self, tenant: str, webhook_id: str) -> str:
        """The current signing secret."""
        return (await self.get(tenant, webhook_id)).spec.secret or ""

    async def rotate_secret(self, tenant: str, webhook_id: str, key: str | None,
                            grace: timedelta | None) -> str:
        """Make `key` (generated when None) the current secret; the old one keeps signing for
        `grace` (default 24 h). Answers the new current secret."""
        grace = DEFAULT_GRACE if grace is None else grace
        problems = Violations()
        if key is not None and (refusal := secret_refusal(key)):
            problems.add("key", refusal)
        if refusal := grace_refusal(grace):
            problems.add("gracePeriod", refusal)
        problems.raise_if_any()
        async with self._db.session() as session, session.begin():
            webhook = found(
                await webhook_store.get(session, tenant, webhook_id, for_update=True),
                "webhook", webhook_id)
            rotated = webhook.with_secret(key or generate_secret(), grace, utcnow())
            await webhook_store.save(session, rotated, event_types_changed=False)
            current = rotated.spec.secret or ""
        log.info("signing secret rotated", extra={
            "webhook": webhook_id, "grace_s": int(grace.total_seconds()),
            "generated": key is None})
        return current

    async def unsuspend(self, tenant: str, webhook_id: str) -> None:
        async with self._db.session() as session, session.begin():
            webhook = found(
                await webhook_store.get(session, tenant, webhook_id, for_update=True),
                "webhook", webhook_id)
            if not webhook.suspended:
                return
            await webhook_store.save(session, webhook.unsuspended(), event_types_changed=False)
            released = await delivery_store.release_held(session, webhook_id)
        if released:
            self._on_released()

    async def delete(self, tenant: str, webhook_id: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await webhook_store.remove(session, tenant, webhook_id):
                raise NotFound(f"webhook {webhook_id!r} not found")

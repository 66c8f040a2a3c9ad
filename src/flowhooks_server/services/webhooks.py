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
from dataclasses import dataclass
from datetime import datetime, timedelta

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.catalog import covering_entries
from flowhooks_server.domain.errors import NotFound, Violations, found
from flowhooks_server.domain.signing import (
    DEFAULT_GRACE,
    SecretState,
    generate_secret,
    grace_refusal,
    secret_refusal,
)
from flowhooks_server.domain.webhooks import (
    FailureHandling,
    FieldNames,
    WebhookSpec,
    validate,
)
from flowhooks_server.ids import new_id
from flowhooks_server.storage import deliveries as delivery_store
from flowhooks_server.storage import tenants as tenant_store
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Webhook

log = logging.getLogger("flowhooks.webhooks")


@dataclass(frozen=True)
class ListQuery:
    name: str | None = None
    enabled: bool | None = None
    suspended: bool | None = None
    active: bool | None = None
    event_types: tuple[str, ...] = ()
    after_id: str | None = None


def spec_of(row: Webhook) -> WebhookSpec:
    return WebhookSpec(
        name=row.name,
        url=row.url,
        event_types=tuple(row.event_types),
        headers={k: tuple(v) for k, v in row.headers.items()},
        secret=row.secret,
        enabled=row.enabled,
        failure_handling=FailureHandling.from_json(row.failure_handling),
        timeout_s=row.timeout_ms / 1000,
        format=row.format,
        ordered=row.ordered,
    )


def _write_secret(row: Webhook, secret: str, grace: timedelta, now: datetime) -> None:
    """`secret` made current: the first one, or a rotation with `grace` (expired previous
    secrets are dropped on the way)."""
    if row.secret:
        state = webhook_store.secret_state(row).rotated(secret, grace, now)
    else:
        state = SecretState(secret)
    row.secret, row.previous_secret = state.current, state.previous
    row.previous_secret_expires_at = state.previous_expires_at


def _write_spec(row: Webhook, spec: WebhookSpec) -> None:
    _write_secret(row, spec.secret or generate_secret(), DEFAULT_GRACE, utcnow())
    row.name, row.url, row.enabled = spec.name, spec.url, spec.enabled
    row.event_types = list(spec.event_types)
    row.headers = {k: list(v) for k, v in spec.headers.items()}
    row.failure_handling = spec.failure_handling.to_json()
    row.timeout_ms = round(spec.timeout_s * 1000)
    row.format, row.ordered = spec.format, spec.ordered


class WebhookManager:
    def __init__(self, db: Database, allow_insecure_targets: bool,
                 on_released: Callable[[], None] = lambda: None):
        self._db = db
        self._insecure = allow_insecure_targets
        self._on_released = on_released  # held deliveries became due (after commit)

    async def create(self, tenant: str, spec: WebhookSpec, names: FieldNames) -> Webhook:
        validate(spec, names, self._insecure)
        now = utcnow()
        row = Webhook(id=new_id("wh"), tenant_id=tenant, suspended=False, created_at=now,
                      updated_at=now)
        row.secret = None
        _write_spec(row, spec)  # generates the secret if `spec` has none
        async with self._db.session() as session, session.begin():
            await tenant_store.ensure_tenant(session, tenant)
            return await webhook_store.add(session, row)

    async def get(self, tenant: str, webhook_id: str) -> Webhook:
        async with self._db.session(readonly=True) as session:
            return found(await webhook_store.get(session, tenant, webhook_id), "webhook",
                         webhook_id)

    async def list(self, tenant: str, query: ListQuery, limit: int, offset: int) -> list[Webhook]:
        entries = None
        if query.event_types:
            entries = frozenset().union(*(covering_entries(t) for t in query.event_types))
        where = webhook_store.WebhookFilter(
            name=query.name, enabled=query.enabled, suspended=query.suspended,
            active=query.active, event_entries=entries, after_id=query.after_id)
        async with self._db.session(readonly=True) as session:
            return await webhook_store.list_webhooks(session, tenant, where, limit, offset)

    async def change(self, tenant: str, webhook_id: str, names: FieldNames,
                     edit: Callable[[WebhookSpec], WebhookSpec],
                     unsuspend: bool = False) -> Webhook:
        """Apply `edit` to the stored spec, validate the result, and save it."""
        async with self._db.session() as session, session.begin():
            row = found(await webhook_store.get(session, tenant, webhook_id, for_update=True),
                        "webhook", webhook_id)
            before = spec_of(row)
            after = edit(before)
            validate(after, names, self._insecure, stored_secret=before.secret)
            _write_spec(row, after)
            released = 0
            if unsuspend and row.suspended:
                row.suspended, row.suspended_at = False, None
                released = await delivery_store.release_held(session, row.id)
            saved = await webhook_store.save(
                session, row, event_types_changed=after.event_types != before.event_types)
        if released:
            self._on_released()
        return saved

    async def secret(self, tenant: str, webhook_id: str) -> str:
        """The current signing secret."""
        return (await self.get(tenant, webhook_id)).secret or ""

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
            row = found(await webhook_store.get(session, tenant, webhook_id, for_update=True),
                        "webhook", webhook_id)
            _write_secret(row, key or generate_secret(), grace, utcnow())
            await webhook_store.save(session, row, event_types_changed=False)
            current = row.secret
        log.info("signing secret rotated", extra={
            "webhook": webhook_id, "grace_s": int(grace.total_seconds()),
            "generated": key is None})
        return current

    async def unsuspend(self, tenant: str, webhook_id: str) -> None:
        async with self._db.session() as session, session.begin():
            row = found(await webhook_store.get(session, tenant, webhook_id, for_update=True),
                        "webhook", webhook_id)
            if not row.suspended:
                return
            row.suspended, row.suspended_at = False, None
            await webhook_store.save(session, row, event_types_changed=False)
            released = await delivery_store.release_held(session, row.id)
        if released:
            self._on_released()

    async def delete(self, tenant: str, webhook_id: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await webhook_store.remove(session, tenant, webhook_id):
                raise NotFound(f"webhook {webhook_id!r} not found")

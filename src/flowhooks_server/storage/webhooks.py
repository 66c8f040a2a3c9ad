"""Webhook rows and their event-type index rows, and the one mapping between a row and the
domain `Webhook` (`to_domain`, `_write`): JSON columns are parsed here, once, and nowhere else.

Writes take domain values. `save` writes a whole `Webhook` over the row it was read from, bumps
`updated_at`, and rebuilds the event-type index when the event types changed."""

from __future__ import annotations

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.webhooks import (
    FailureHandling,
    Webhook,
    WebhookFilter,
    WebhookSpec,
)
from flowhooks_server.storage.db import affected
from flowhooks_server.storage.models import Webhook as WebhookRow
from flowhooks_server.storage.models import WebhookEventType


def to_domain(row: WebhookRow) -> Webhook:
    spec = WebhookSpec(
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
    return Webhook(
        id=row.id, tenant_id=row.tenant_id, spec=spec, created_at=row.created_at,
        updated_at=row.updated_at, suspended=row.suspended, suspended_at=row.suspended_at,
        previous_secret=row.previous_secret,
        previous_secret_expires_at=row.previous_secret_expires_at)


def _write(row: WebhookRow, webhook: Webhook) -> None:
    """Every column but the ids and timestamps, from `webhook`."""
    spec = webhook.spec
    row.name, row.url, row.enabled = spec.name, spec.url, spec.enabled
    row.event_types = list(spec.event_types)
    row.headers = {k: list(v) for k, v in spec.headers.items()}
    row.secret = spec.secret
    row.previous_secret = webhook.previous_secret
    row.previous_secret_expires_at = webhook.previous_secret_expires_at
    row.failure_handling = spec.failure_handling.to_json()
    row.timeout_ms = round(spec.timeout_s * 1000)
    row.format, row.ordered = spec.format, spec.ordered
    row.suspended, row.suspended_at = webhook.suspended, webhook.suspended_at


async def get(session: AsyncSession, tenant_id: str, webhook_id: str,
              for_update: bool = False) -> Webhook | None:
    row = await _row(session, tenant_id, webhook_id, for_update)
    return None if row is None else to_domain(row)


async def _row(session: AsyncSession, tenant_id: str, webhook_id: str,
               for_update: bool = False) -> WebhookRow | None:
    query = select(WebhookRow).where(WebhookRow.tenant_id == tenant_id,
                                     WebhookRow.id == webhook_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def add(session: AsyncSession, webhook: Webhook) -> Webhook:
    row = WebhookRow(id=webhook.id, tenant_id=webhook.tenant_id,
                     created_at=webhook.created_at, updated_at=webhook.updated_at)
    _write(row, webhook)
    session.add(row)
    await session.flush()
    await _index_event_types(session, row)
    return to_domain(row)


async def save(session: AsyncSession, webhook: Webhook, event_types_changed: bool) -> Webhook:
    """Write `webhook` over its row (read, and locked, earlier in this transaction); answers
    it as saved, with its new `updated_at`."""
    # The row read earlier is in the session: this finds it without a query.
    row = await session.get(WebhookRow, webhook.id)
    if row is None or row.tenant_id != webhook.tenant_id:
        raise LookupError(f"webhook {webhook.id!r} vanished while being changed")
    _write(row, webhook)
    row.updated_at = utcnow()
    await session.flush()
    if event_types_changed:
        await session.execute(
            delete(WebhookEventType).where(WebhookEventType.webhook_id == row.id))
        await _index_event_types(session, row)
    return to_domain(row)


async def _index_event_types(session: AsyncSession, row: WebhookRow) -> None:
    session.add_all(
        WebhookEventType(webhook_id=row.id, event_type=entry, tenant_id=row.tenant_id)
        for entry in dict.fromkeys(row.event_types)
    )
    await session.flush()


async def remove(session: AsyncSession, tenant_id: str, webhook_id: str) -> bool:
    return await affected(session, delete(WebhookRow).where(
        WebhookRow.tenant_id == tenant_id, WebhookRow.id == webhook_id)) > 0


def _filtered(query: Select[WebhookRow], tenant_id: str,
              where: WebhookFilter) -> Select[WebhookRow]:
    if where.name is not None:
        query = query.where(WebhookRow.name == where.name)
    if where.enabled is not None:
        query = query.where(WebhookRow.enabled == where.enabled)
    if where.suspended is not None:
        query = query.where(WebhookRow.suspended == where.suspended)
    if where.active is True:
        query = query.where(WebhookRow.enabled.is_(True), WebhookRow.suspended.is_(False))
    elif where.active is False:
        query = query.where((WebhookRow.enabled.is_(False)) | (WebhookRow.suspended.is_(True)))
    entries = where.event_entries()
    if entries is not None:
        query = query.where(
            WebhookRow.id.in_(
                select(WebhookEventType.webhook_id).where(
                    WebhookEventType.tenant_id == tenant_id,
                    WebhookEventType.event_type.in_(sorted(entries)),
                )
            )
        )
    if where.after_id is not None:
        query = query.where(WebhookRow.id > where.after_id)
    return query


async def list_webhooks(session: AsyncSession, tenant_id: str, where: WebhookFilter,
                        limit: int, offset: int) -> list[Webhook]:
    """Oldest first (ids are time-sortable), served by the (tenant_id, id) index."""
    query = _filtered(select(WebhookRow).where(WebhookRow.tenant_id == tenant_id), tenant_id,
                      where)
    query = query.order_by(WebhookRow.id).limit(limit).offset(offset)
    return [to_domain(row) for row in await session.scalars(query)]

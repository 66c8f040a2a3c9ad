"""Webhook rows and their event-type index rows."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.signing import SecretState
from flowhooks_server.storage.models import Webhook, WebhookEventType


def secret_state(row: Webhook) -> SecretState:
    """The signing secrets a row holds (SPEC §7): the one mapping from its three columns."""
    return SecretState(row.secret or "", row.previous_secret, row.previous_secret_expires_at)


@dataclass(frozen=True)
class WebhookFilter:
    name: str | None = None
    enabled: bool | None = None
    suspended: bool | None = None
    active: bool | None = None
    # Stored entries (types or patterns) any of which selects a webhook.
    event_entries: frozenset[str] | None = None
    after_id: str | None = None


async def get(session: AsyncSession, tenant_id: str, webhook_id: str,
              for_update: bool = False) -> Webhook | None:
    query = select(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.id == webhook_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def add(session: AsyncSession, row: Webhook) -> Webhook:
    session.add(row)
    await session.flush()
    await _index_event_types(session, row)
    return row


async def save(session: AsyncSession, row: Webhook, event_types_changed: bool) -> Webhook:
    row.updated_at = utcnow()
    await session.flush()
    if event_types_changed:
        await session.execute(
            delete(WebhookEventType).where(WebhookEventType.webhook_id == row.id))
        await _index_event_types(session, row)
    return row


async def _index_event_types(session: AsyncSession, row: Webhook) -> None:
    session.add_all(
        WebhookEventType(webhook_id=row.id, event_type=entry, tenant_id=row.tenant_id)
        for entry in dict.fromkeys(row.event_types)
    )
    await session.flush()


async def remove(session: AsyncSession, tenant_id: str, webhook_id: str) -> bool:
    result = await session.execute(
        delete(Webhook).where(Webhook.tenant_id == tenant_id, Webhook.id == webhook_id))
    return result.rowcount > 0


async def list_webhooks(session: AsyncSession, tenant_id: str, where: WebhookFilter,
                        limit: int, offset: int) -> list[Webhook]:
    """Oldest first (ids are time-sortable), served by the (tenant_id, id) index."""
    query = select(Webhook).where(Webhook.tenant_id == tenant_id)
    if where.name is not None:
        query = query.where(Webhook.name == where.name)
    if where.enabled is not None:
        query = query.where(Webhook.enabled == where.enabled)
    if where.suspended is not None:
        query = query.where(Webhook.suspended == where.suspended)
    if where.active is True:
        query = query.where(Webhook.enabled.is_(True), Webhook.suspended.is_(False))
    elif where.active is False:
        query = query.where((Webhook.enabled.is_(False)) | (Webhook.suspended.is_(True)))
    if where.event_entries is not None:
        query = query.where(
            Webhook.id.in_(
                select(WebhookEventType.webhook_id).where(
                    WebhookEventType.tenant_id == tenant_id,
                    WebhookEventType.event_type.in_(sorted(where.event_entries)),
                )
            )
        )
    if where.after_id is not None:
        query = query.where(Webhook.id > where.after_id)
    query = query.order_by(Webhook.id).limit(limit).offset(offset)
    return list(await session.scalars(query))

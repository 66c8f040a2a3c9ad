"""Diverted events: deliveries whose retries ran out, kept to be resent or deleted. Read with
their event's type, as domain `DivertedEvent` values. A resend is
`storage.deliveries.add_resend`'s: it adds the delivery and marks the record."""

from __future__ import annotations

from sqlalchemy import Row, Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.domain.delivery_logs import DivertedEvent
from flowhooks_server.storage.db import affected
from flowhooks_server.storage.models import DivertedEvent as DivertedRow
from flowhooks_server.storage.models import Event


def to_domain(row: DivertedRow, event_type: str) -> DivertedEvent:
    return DivertedEvent(
        id=row.id, tenant_id=row.tenant_id, webhook_id=row.webhook_id, event_id=row.event_id,
        event_type=event_type, delivery_id=row.delivery_id,
        request_locator=row.request_locator, failure_message=row.failure_message,
        failure_timestamp=row.failure_timestamp, failure_trigger=row.failure_trigger,
        resend_delivery_id=row.resend_delivery_id, created_at=row.created_at)


def _with_type() -> Select[DivertedRow, str]:
    return select(DivertedRow, Event.type).join(Event, Event.id == DivertedRow.event_id)


def _of(found: Row[DivertedRow, str]) -> DivertedEvent:
    return to_domain(found[0], found[1])


async def page(session: AsyncSession, tenant_id: str, webhook_id: str, limit: int,
               offset: int) -> list[DivertedEvent]:
    """Oldest first."""
    query = (_with_type()
             .where(DivertedRow.tenant_id == tenant_id, DivertedRow.webhook_id == webhook_id)
             .order_by(DivertedRow.id).limit(limit).offset(offset))
    return [_of(found) for found in (await session.execute(query)).all()]


async def get(session: AsyncSession, tenant_id: str, webhook_id: str, event_id: str,
              for_update: bool = False) -> DivertedEvent | None:
    query = _with_type().where(
        DivertedRow.tenant_id == tenant_id, DivertedRow.webhook_id == webhook_id,
        DivertedRow.event_id == event_id)
    if for_update:
        query = query.with_for_update(of=DivertedRow)
    found = (await session.execute(query)).first()
    return None if found is None else _of(found)


async def remove(session: AsyncSession, tenant_id: str, webhook_id: str, event_id: str) -> bool:
    return await affected(session, delete(DivertedRow).where(
        DivertedRow.tenant_id == tenant_id, DivertedRow.webhook_id == webhook_id,
        DivertedRow.event_id == event_id)) > 0

"""Diverted events: deliveries whose retries ran out, kept to be resent or deleted."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.models import DivertedEvent, Event


async def page(session: AsyncSession, tenant_id: str, webhook_id: str, limit: int,
               offset: int) -> list[tuple[DivertedEvent, str]]:
    """Oldest first, with each event's type."""
    query = (select(DivertedEvent, Event.type)
             .join(Event, Event.id == DivertedEvent.event_id)
             .where(DivertedEvent.tenant_id == tenant_id, DivertedEvent.webhook_id == webhook_id)
             .order_by(DivertedEvent.id).limit(limit).offset(offset))
    return [(row, event_type) for row, event_type in (await session.execute(query)).all()]


async def get(session: AsyncSession, tenant_id: str, webhook_id: str, event_id: str,
              for_update: bool = False) -> tuple[DivertedEvent, str] | None:
    query = (select(DivertedEvent, Event.type)
             .join(Event, Event.id == DivertedEvent.event_id)
             .where(DivertedEvent.tenant_id == tenant_id, DivertedEvent.webhook_id == webhook_id,
                    DivertedEvent.event_id == event_id))
    if for_update:
        query = query.with_for_update(of=DivertedEvent)
    found = (await session.execute(query)).first()
    return (found[0], found[1]) if found else None


async def remove(session: AsyncSession, tenant_id: str, webhook_id: str, event_id: str) -> bool:
    result = await session.execute(delete(DivertedEvent).where(
        DivertedEvent.tenant_id == tenant_id, DivertedEvent.webhook_id == webhook_id,
        DivertedEvent.event_id == event_id))
    return result.rowcount > 0

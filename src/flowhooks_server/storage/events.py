"""Event rows."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.ids import new_id
from flowhooks_server.storage.models import Event, utcnow


async def get(session: AsyncSession, tenant_id: str, event_id: str) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.tenant_id == tenant_id, Event.id == event_id))


async def add(session: AsyncSession, tenant_id: str, event_type: str, data: dict, *,
              source: str | None = None, workflow_id: str | None = None,
              workflow_run_id: str | None = None) -> Event:
    row = Event(id=new_id("evt"), tenant_id=tenant_id, type=event_type, data=data,
                source=source, workflow_id=workflow_id, workflow_run_id=workflow_run_id,
                created_at=utcnow())
    session.add(row)
    await session.flush()
    return row

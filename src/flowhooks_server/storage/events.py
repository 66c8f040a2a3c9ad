"""Event rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.ids import new_id
from flowhooks_server.storage.models import Event


async def get(session: AsyncSession, tenant_id: str, event_id: str) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.tenant_id == tenant_id, Event.id == event_id))


async def add_many(session: AsyncSession, tenant_id: str, events: list[tuple[str, dict]], *,
                   workflow_id: str | None = None,
                   workflow_run_id: str | None = None) -> list[NewEvent]:
    """Insert events (type, data) of one run, in order, in one statement."""
    return await add_each(session, tenant_id, [(t, d, workflow_id, workflow_run_id)
                                               for t, d in events])


@dataclass(frozen=True)
class NewEvent:
    """An event just inserted (plain data: building ORM objects costs more than the insert)."""

    id: str
    tenant_id: str
    type: str
    data: dict
    workflow_id: str | None
    workflow_run_id: str | None
    created_at: datetime


async def add_each(session: AsyncSession, tenant_id: str,
                   events: list[tuple[str, dict, str | None, str | None]]) -> list[NewEvent]:
    """Insert events (type, data, workflow id, run id), in order, in one statement."""
    now = utcnow()
    rows = [NewEvent(new_id("evt"), tenant_id, event_type, data, workflow_id, run_id, now)
            for event_type, data, workflow_id, run_id in events]
    await session.execute(insert(Event.__table__), [
        {"id": r.id, "tenant_id": r.tenant_id, "type": r.type, "data": r.data, "source": None,
         "workflow_id": r.workflow_id, "workflow_run_id": r.workflow_run_id,
         "created_at": r.created_at} for r in rows])
    return rows

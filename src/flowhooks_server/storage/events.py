"""Event rows, read and written as domain `Event` values. Events are inserted in bulk, from
plain values (building ORM objects costs more than the insert)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.events import Event
from flowhooks_server.ids import new_id
from flowhooks_server.storage.models import Event as EventRow

# Inserted as a table, not through the ORM: many at a time, from plain values.
_EVENTS = cast(Table, EventRow.__table__)


def to_domain(row: EventRow) -> Event:
    return Event(id=row.id, tenant_id=row.tenant_id, type=row.type, data=row.data,
                 workflow_id=row.workflow_id, workflow_run_id=row.workflow_run_id,
                 created_at=row.created_at, source=row.source)


async def get(session: AsyncSession, tenant_id: str, event_id: str) -> Event | None:
    row = await session.scalar(
        select(EventRow).where(EventRow.tenant_id == tenant_id, EventRow.id == event_id))
    return None if row is None else to_domain(row)


async def add_many(session: AsyncSession, tenant_id: str,
                   events: list[tuple[str, dict[str, Any]]], *,
                   workflow_id: str | None = None,
                   workflow_run_id: str | None = None) -> list[Event]:
    """Insert events (type, data) of one run, in order, in one statement."""
    return await add_each(session, tenant_id, [(t, d, workflow_id, workflow_run_id)
                                               for t, d in events])


async def add_each(session: AsyncSession, tenant_id: str,
                   events: list[tuple[str, dict[str, Any], str | None, str | None]]
                   ) -> list[Event]:
    """Insert events (type, data, workflow id, run id), in order, in one statement."""
    now = utcnow()
    made = [Event(new_id("evt"), tenant_id, event_type, data, workflow_id, run_id, now)
            for event_type, data, workflow_id, run_id in events]
    rows = [{"id": e.id, "tenant_id": e.tenant_id, "type": e.type, "data": e.data,
             "source": e.source, "workflow_id": e.workflow_id,
             "workflow_run_id": e.workflow_run_id, "created_at": e.created_at} for e in made]
    if session.get_bind().dialect.name != "postgresql":
        await session.execute(insert(_EVENTS), rows)
        return made
    # jsonb orders an object's keys its own way: the data comes back as stored, so that a
    # first attempt made from these values renders what every later one reads back.
    stored = (await session.execute(
        insert(_EVENTS).returning(_EVENTS.c.data, sort_by_parameter_order=True),
        rows)).scalars().all()
    return [replace(e, data=data) for e, data in zip(made, stored, strict=True)]

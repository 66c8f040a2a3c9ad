"""Publishing events: the event row and its deliveries in one transaction (the outbox), and
a prompt wake-up of the delivery worker once it commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server import metrics
from flowhooks_server.delivery.handoff import Handoff
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.events import Event
from flowhooks_server.storage import deliveries as delivery_store
from flowhooks_server.storage import events as event_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.deliveries import FanOut

# An event of a run: (type, data, workflow id, run id).
RunEvent = tuple[str, dict, str | None, str | None]


@dataclass(frozen=True)
class Published:
    event: Event
    delivery_ids: list[str]


class Outbox:
    def __init__(self, db: Database, wakeups: Wakeups, handoff: Handoff | None = None):
        self._db = db
        self._wakeups = wakeups
        self._handoff = handoff or Handoff()

    async def add(self, session: AsyncSession, tenant: str, event_type: str, data: dict,
                  **kwargs: str | None) -> Published:
        """Within the caller's transaction; call `committed()` after it commits."""
        [published] = await self.add_many(session, tenant, [(event_type, data)], **kwargs)
        return published

    async def add_many(self, session: AsyncSession, tenant: str,
                       events: list[tuple[str, dict]], *, workflow_id: str | None = None,
                       workflow_run_id: str | None = None,
                       only_webhook: str | None = None) -> list[Published]:
        """Several events, in order, with three statements however many there are."""
        rows = await event_store.add_many(session, tenant, events, workflow_id=workflow_id,
                                          workflow_run_id=workflow_run_id)
        made = await delivery_store.fan_out(session, rows, only_webhook)
        for event_type, _ in events:
            metrics.EVENTS_ACCEPTED.labels(type=event_type).inc()
        return [Published(row, made.ids[row.id]) for row in rows]

    async def add_each(self, session: AsyncSession, tenant: str,
                       events: list[RunEvent]) -> FanOut:
        """Events of several runs of one tenant (type, data, workflow id, run id), in order,
        in the caller's transaction, in three statements; the deliveries the worker can
        start at once are leased to it (`delivery.handoff`). Pass what this returns to
        `committed` once the transaction commits."""
        rows = await event_store.add_each(session, tenant, events)
        made = await delivery_store.fan_out(session, rows, lease=self._handoff.lease())
        for event_type, *_ in events:
            metrics.EVENTS_ACCEPTED.labels(type=event_type).inc()
        return made

    def committed(self, made: Sequence[FanOut] = ()) -> None:
        """After the transaction commits: leased deliveries go to the worker; a claimer is
        woken for the others (for everything, when `made` is not told)."""
        self._handoff.take([job for fan_out in made for job in fan_out.leased])
        if not made or any(fan_out.pending for fan_out in made):
            self._wakeups.outbox_changed()
        self._wakeups.logs_written()

    async def publish(self, tenant: str, event_type: str, data: dict,
                      **kwargs: str | None) -> Published:
        async with self._db.session() as session, session.begin():
            published = await self.add(session, tenant, event_type, data, **kwargs)
        self.committed()
        return published

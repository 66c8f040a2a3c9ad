"""Pruning old rows in small batches (SPEC §8.14). Unfinished and diverted work is kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.db import affected
from flowhooks_server.storage.models import Delivery, DeliveryLog, DivertedEvent, Event

FINISHED = ("succeeded", "failed", "diverted")


async def prune_logs(session: AsyncSession, before: datetime, batch: int) -> int:
    doomed = select(DeliveryLog.seq).where(DeliveryLog.created_at < before).limit(batch)
    return await affected(session, delete(DeliveryLog).where(DeliveryLog.seq.in_(doomed)))


async def prune_deliveries(session: AsyncSession, before: datetime, batch: int) -> int:
    """Finished deliveries; a diverted one stays while its diverted record does."""
    kept = exists().where(DivertedEvent.delivery_id == Delivery.id)
    doomed = (select(Delivery.seq)
              .where(Delivery.status.in_(FINISHED), Delivery.updated_at < before, ~kept)
              .limit(batch))
    return await affected(session, delete(Delivery).where(Delivery.seq.in_(doomed)))


async def prune_events(session: AsyncSession, before: datetime, batch: int) -> int:
    """Events (the payloads) no delivery or diverted record still needs."""
    doomed = (select(Event.id)
              .where(Event.created_at < before,
                     ~exists().where(Delivery.event_id == Event.id),
                     ~exists().where(DivertedEvent.event_id == Event.id))
              .limit(batch))
    return await affected(session, delete(Event).where(Event.id.in_(doomed)))

"""Delivery log entries: pages for the list endpoints, and runs by `seq` for watchers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.models import DeliveryLog


@dataclass(frozen=True)
class LogFilter:
    tenant_id: str | None = None
    webhook_id: str | None = None
    event_type: str | None = None

    def where(self, query):
        if self.tenant_id is not None:
            query = query.where(DeliveryLog.tenant_id == self.tenant_id)
        if self.webhook_id:
            query = query.where(DeliveryLog.webhook_id == self.webhook_id)
        if self.event_type:
            query = query.where(DeliveryLog.event_type == self.event_type)
        return query

    def matches(self, entry: DeliveryLog) -> bool:
        return ((self.tenant_id is None or entry.tenant_id == self.tenant_id)
                and (not self.webhook_id or entry.webhook_id == self.webhook_id)
                and (not self.event_type or entry.event_type == self.event_type))


async def newest_first(session: AsyncSession, where: LogFilter, limit: int,
                       offset: int) -> list[DeliveryLog]:
    query = where.where(select(DeliveryLog)).order_by(DeliveryLog.seq.desc())
    return list(await session.scalars(query.limit(limit).offset(offset)))


async def after(session: AsyncSession, where: LogFilter, seq: int, limit: int) -> list[DeliveryLog]:
    """Entries with a larger `seq`, oldest first."""
    query = where.where(select(DeliveryLog).where(DeliveryLog.seq > seq))
    return list(await session.scalars(query.order_by(DeliveryLog.seq).limit(limit)))


async def last_seq(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(DeliveryLog.seq))) or 0


async def first_of_delivery(session: AsyncSession, delivery_id: str) -> DeliveryLog | None:
    return await session.scalar(select(DeliveryLog).where(
        DeliveryLog.delivery_id == delivery_id).order_by(DeliveryLog.seq).limit(1))

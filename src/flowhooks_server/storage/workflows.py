"""Workflow rows. Triggers (secrets included), tasks and default params live in the row's
JSON columns; their shapes are the domain's `to_json` forms."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.storage.models import Workflow


async def get(session: AsyncSession, tenant_id: str, workflow_id: str,
              for_update: bool = False) -> Workflow | None:
    query = select(Workflow).where(Workflow.tenant_id == tenant_id, Workflow.id == workflow_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def add(session: AsyncSession, row: Workflow) -> Workflow:
    session.add(row)
    await session.flush()
    return row


async def save(session: AsyncSession, row: Workflow) -> Workflow:
    row.updated_at = utcnow()
    await session.flush()
    return row


async def remove(session: AsyncSession, tenant_id: str, workflow_id: str) -> bool:
    result = await session.execute(
        delete(Workflow).where(Workflow.tenant_id == tenant_id, Workflow.id == workflow_id))
    return result.rowcount > 0


async def list_workflows(session: AsyncSession, tenant_id: str, limit: int, offset: int,
                         after_id: str | None = None) -> list[Workflow]:
    """Oldest first (ids are time-sortable), served by the (tenant_id, id) index."""
    query = select(Workflow).where(Workflow.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(Workflow.id > after_id)
    query = query.order_by(Workflow.id).limit(limit).offset(offset)
    return list(await session.scalars(query))

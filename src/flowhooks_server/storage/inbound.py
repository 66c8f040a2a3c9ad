"""Workflow look-ups the inbound route needs beyond a tenant's CRUD: a workflow by id alone
(signed GitHub and Slack deliveries name no tenant) and every workflow of a tenant (routing an
event without `ref`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.models import Workflow

PAGE = 500


async def workflow_by_id(session: AsyncSession, workflow_id: str) -> Workflow | None:
    return await session.get(Workflow, workflow_id)


async def tenant_workflows(session: AsyncSession, tenant_id: str) -> AsyncIterator[Workflow]:
    """Every workflow of the tenant, oldest first, read a page at a time."""
    after = ""
    while True:
        rows = list(await session.scalars(
            select(Workflow).where(Workflow.tenant_id == tenant_id, Workflow.id > after)
            .order_by(Workflow.id).limit(PAGE)))
        for row in rows:
            yield row
        if len(rows) < PAGE:
            return
        after = rows[-1].id

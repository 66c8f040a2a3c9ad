"""Workflow look-ups the inbound route needs beyond a tenant's CRUD: a workflow by id alone
(signed GitHub and Slack deliveries name no tenant) and every workflow of a tenant (routing an
event without `ref`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.domain.workflows import Workflow
from flowhooks_server.storage import models
from flowhooks_server.storage.workflows import workflow_of

PAGE = 500


async def workflow_by_id(session: AsyncSession, workflow_id: str) -> Workflow | None:
    row = await session.get(models.Workflow, workflow_id)
    return None if row is None else workflow_of(row)


async def tenant_workflows(session: AsyncSession, tenant_id: str) -> AsyncIterator[Workflow]:
    """Every workflow of the tenant, oldest first, read a page at a time."""
    rows = models.Workflow
    after = ""
    while True:
        page = list(await session.scalars(
            select(rows).where(rows.tenant_id == tenant_id, rows.id > after)
            .order_by(rows.id).limit(PAGE)))
        for row in page:
            yield workflow_of(row)
        if len(page) < PAGE:
            return
        after = page[-1].id

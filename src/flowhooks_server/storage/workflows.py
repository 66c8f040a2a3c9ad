"""Workflow rows. Triggers (secrets included), tasks and default params live in the row's
JSON columns; their shapes are the domain's `to_json` forms. Rows are mapped to and from the
domain's `Workflow` here (`workflow_of`, `_spec_columns`); nothing above storage sees a row."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.workflows import TaskSpec, Triggers, Workflow, WorkflowSpec
from flowhooks_server.storage import models
from flowhooks_server.storage.db import affected

_Rows = models.Workflow
_TABLE = cast(Table, _Rows.__table__)


def workflow_of(row: models.Workflow) -> Workflow:
    """The one row -> `Workflow` mapping: the JSON columns parsed into a `WorkflowSpec`."""
    spec = WorkflowSpec(
        name=row.name,
        triggers=Triggers.from_json(row.triggers),
        tasks=tuple(TaskSpec.from_json(t) for t in row.tasks),
        params=dict(row.params or {}),
    )
    return Workflow(id=row.id, tenant_id=row.tenant_id, spec=spec, created_at=row.created_at,
                    updated_at=row.updated_at)


def _spec_columns(spec: WorkflowSpec) -> dict[str, Any]:
    return {"name": spec.name, "triggers": spec.triggers.to_json(),
            "tasks": [task.to_json() for task in spec.tasks], "params": dict(spec.params)}


async def get(session: AsyncSession, tenant_id: str, workflow_id: str,
              for_update: bool = False) -> Workflow | None:
    query = select(_Rows).where(_Rows.tenant_id == tenant_id, _Rows.id == workflow_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    return None if row is None else workflow_of(row)


async def name_of(session: AsyncSession, workflow_id: str) -> str:
    """The workflow's name, or "" once it is deleted (its runs outlive it)."""
    return await session.scalar(select(_Rows.name).where(_Rows.id == workflow_id)) or ""


async def names_of(session: AsyncSession, workflow_ids: set[str]) -> dict[str, str]:
    """`name_of` several workflows at once: a deleted one is missing."""
    rows = await session.execute(select(_Rows.id, _Rows.name).where(
        _Rows.id.in_(sorted(workflow_ids))))
    return {workflow_id: name for workflow_id, name in rows}


async def add(session: AsyncSession, workflow: Workflow) -> Workflow:
    await session.execute(insert(_TABLE).values(
        id=workflow.id, tenant_id=workflow.tenant_id, created_at=workflow.created_at,
        updated_at=workflow.updated_at, **_spec_columns(workflow.spec)))
    return workflow


async def save(session: AsyncSession, workflow: Workflow, spec: WorkflowSpec) -> Workflow:
    """Store `spec` as the workflow's, stamped with the time of the change."""
    now = utcnow()
    await session.execute(update(_TABLE).where(_Rows.id == workflow.id).values(
        updated_at=now, **_spec_columns(spec)))
    return Workflow(id=workflow.id, tenant_id=workflow.tenant_id, spec=spec,
                    created_at=workflow.created_at, updated_at=now)


async def remove(session: AsyncSession, tenant_id: str, workflow_id: str) -> bool:
    return await affected(session, delete(_Rows).where(
        _Rows.tenant_id == tenant_id, _Rows.id == workflow_id)) > 0


async def list_workflows(session: AsyncSession, tenant_id: str, limit: int, offset: int,
                         after_id: str | None = None) -> list[Workflow]:
    """Oldest first (ids are time-sortable), served by the (tenant_id, id) index."""
    query = select(_Rows).where(_Rows.tenant_id == tenant_id)
    if after_id is not None:
        query = query.where(_Rows.id > after_id)
    query = query.order_by(_Rows.id).limit(limit).offset(offset)
    return [workflow_of(row) for row in await session.scalars(query)]

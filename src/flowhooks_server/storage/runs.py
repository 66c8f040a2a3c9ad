"""Workflow runs, their task runs, and callbacks that arrived before their task (lookback)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.ids import new_id
from flowhooks_server.storage.db import dialect_insert
from flowhooks_server.storage.models import PendingCallback, TaskRun, WorkflowRun


async def get(session: AsyncSession, tenant_id: str, run_id: str,
              for_update: bool = False) -> WorkflowRun | None:
    query = select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id,
                                      WorkflowRun.id == run_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def tasks_of(session: AsyncSession, run_ids: list[str]) -> dict[str, list[TaskRun]]:
    rows = await session.scalars(select(TaskRun).where(TaskRun.run_id.in_(run_ids))
                                 .order_by(TaskRun.run_id, TaskRun.position))
    by_run: dict[str, list[TaskRun]] = {run_id: [] for run_id in run_ids}
    for row in rows:
        by_run[row.run_id].append(row)
    return by_run


async def page(session: AsyncSession, tenant_id: str, workflow_id: str | None,
               status: str | None, limit: int, offset: int) -> list[WorkflowRun]:
    """Newest first."""
    query = select(WorkflowRun).where(WorkflowRun.tenant_id == tenant_id)
    if workflow_id:
        query = query.where(WorkflowRun.workflow_id == workflow_id)
    if status:
        query = query.where(WorkflowRun.status == status)
    query = query.order_by(WorkflowRun.id.desc()).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def task_with_run(session: AsyncSession, tenant_id: str,
                        task_id: str) -> tuple[TaskRun, WorkflowRun] | None:
    found = (await session.execute(
        select(TaskRun, WorkflowRun).join(WorkflowRun, WorkflowRun.id == TaskRun.run_id)
        .where(TaskRun.id == task_id, WorkflowRun.tenant_id == tenant_id)
        .with_for_update(of=WorkflowRun))).first()
    return (found[0], found[1]) if found else None


async def pending_callbacks(session: AsyncSession, run_id: str) -> dict[str, tuple[str, dict]]:
    rows = await session.scalars(select(PendingCallback).where(PendingCallback.run_id == run_id))
    return {row.topic: (row.status, row.data) for row in rows}


async def remember_callback(session: AsyncSession, run_id: str, topic: str, status: str,
                            data: dict) -> None:
    """The first callback for a topic not reached yet wins; repeats change nothing."""
    await session.execute(
        dialect_insert(session, PendingCallback)
        .values(id=new_id("cb"), run_id=run_id, topic=topic, status=status, data=data,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[PendingCallback.run_id, PendingCallback.topic]))


async def forget_callbacks(session: AsyncSession, run_id: str, topics: list[str]) -> None:
    if topics:
        await session.execute(delete(PendingCallback).where(
            PendingCallback.run_id == run_id, PendingCallback.topic.in_(topics)))


async def due_runs(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Runs with a task whose timer (sleep end, eventwait timeout) has passed."""
    rows = await session.scalars(
        select(TaskRun.run_id).where(TaskRun.status.in_(("running", "waiting")),
                                     TaskRun.due_at <= now).limit(limit))
    return list(dict.fromkeys(rows))


async def next_timer(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(TaskRun.due_at)).where(
        TaskRun.status.in_(("running", "waiting")), TaskRun.due_at.is_not(None)))


async def waiting_external(session: AsyncSession, tenant_id: str, workflow_id: str,
                           task_name: str, after_id: str, limit: int) -> list[TaskRun]:
    query = (select(TaskRun).join(WorkflowRun, WorkflowRun.id == TaskRun.run_id)
             .where(WorkflowRun.tenant_id == tenant_id, TaskRun.type == "external",
                    TaskRun.status == "waiting", TaskRun.id > after_id)
             .order_by(TaskRun.id).limit(limit))
    if workflow_id:
        query = query.where(WorkflowRun.workflow_id == workflow_id)
    if task_name:
        query = query.where(TaskRun.name == task_name)
    return list(await session.scalars(query))

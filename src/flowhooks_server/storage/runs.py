"""Workflow runs, their task runs, and callbacks that arrived before their task (lookback).
Rows are mapped to and from the domain's `Run` and `TaskRun` here, next to their queries;
nothing above storage sees a row."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.run_records import Run, TaskRun
from flowhooks_server.ids import new_id
from flowhooks_server.storage import models
from flowhooks_server.storage.db import dialect_insert

_Runs = models.WorkflowRun
_Tasks = models.TaskRun
_RUNS_TABLE = cast(Table, _Runs.__table__)
_TASKS_TABLE = cast(Table, _Tasks.__table__)
_RUN_FIELDS = ("id", "tenant_id", "workflow_id", "trigger", "status", "phase", "params",
               "created_at", "start_time", "end_time")
_TASK_FIELDS = ("id", "run_id", "position", "name", "type", "status", "phase", "params",
                "results", "start_time", "end_time", "due_at")
# What a move can change (`domain.runs`); the rest is written once, at insert.
_RUN_MOVES = ("status", "phase", "start_time", "end_time")
_TASK_MOVES = ("status", "phase", "results", "start_time", "end_time", "due_at")


def _run(row: models.WorkflowRun) -> Run:
    return Run(**{name: getattr(row, name) for name in _RUN_FIELDS})


def _task(row: models.TaskRun) -> TaskRun:
    return TaskRun(**{name: getattr(row, name) for name in _TASK_FIELDS})


# -- writes -------------------------------------------------------------------------------------


async def insert_runs(session: AsyncSession, runs: Sequence[Run]) -> None:
    """New runs, in one multi-row statement."""
    if runs:
        await session.execute(insert(_RUNS_TABLE), [
            {name: getattr(run, name) for name in _RUN_FIELDS} for run in runs])


async def insert_tasks(session: AsyncSession, tasks: Sequence[TaskRun]) -> None:
    """New task runs, in one multi-row statement."""
    if tasks:
        await session.execute(insert(_TASKS_TABLE), [
            {name: getattr(task, name) for name in _TASK_FIELDS} for task in tasks])


async def save_moves(session: AsyncSession, before: Run, after: Run,
                     tasks_before: Iterable[TaskRun], tasks_after: Iterable[TaskRun]) -> None:
    """Write what a move changed: the run's row if it changed, and the changed task rows."""
    await save_many_moves(session, [(before, after, tasks_before, tasks_after)])


Move = tuple[Run, Run, Iterable[TaskRun], Iterable[TaskRun]]  # run before/after, tasks


async def save_many_moves(session: AsyncSession, moves: Sequence[Move]) -> None:
    """`save_moves` of several runs: one executemany for the changed run rows, one for the
    changed task rows, however many runs moved."""
    runs = [after for before, after, _, _ in moves if after != before]
    tasks: list[TaskRun] = []
    for _, _, tasks_before, tasks_after in moves:
        old = {task.id: task for task in tasks_before}
        tasks += [task for task in tasks_after if old.get(task.id) != task]
    # The SET columns are the parameters' keys besides the id.
    if runs:
        await session.execute(
            update(_RUNS_TABLE).where(_RUNS_TABLE.c.id == bindparam("run_id")),
            [{"run_id": run.id, **{name: getattr(run, name) for name in _RUN_MOVES}}
             for run in runs])
    if tasks:
        await session.execute(
            update(_TASKS_TABLE).where(_Tasks.id == bindparam("task_id")),
            [{"task_id": task.id, **{name: getattr(task, name) for name in _TASK_MOVES}}
             for task in tasks])


# -- reads --------------------------------------------------------------------------------------


async def get(session: AsyncSession, tenant_id: str, run_id: str,
              for_update: bool = False) -> Run | None:
    query = select(_Runs).where(_Runs.tenant_id == tenant_id, _Runs.id == run_id)
    if for_update:
        query = query.with_for_update()
    row = await session.scalar(query)
    return None if row is None else _run(row)


async def get_many(session: AsyncSession, run_ids: Sequence[str],
                   for_update: bool = False) -> list[Run]:
    """Runs by id, whatever their tenant (for the timer loop), in id order."""
    query = select(_Runs).where(_Runs.id.in_(list(run_ids))).order_by(_Runs.id)
    if for_update:
        query = query.with_for_update()
    return [_run(row) for row in await session.scalars(query)]


async def tasks_of(session: AsyncSession,
                   run_ids: list[str]) -> dict[str, tuple[TaskRun, ...]]:
    rows = await session.scalars(select(_Tasks).where(_Tasks.run_id.in_(run_ids))
                                 .order_by(_Tasks.run_id, _Tasks.position))
    by_run: dict[str, list[TaskRun]] = {run_id: [] for run_id in run_ids}
    for row in rows:
        by_run[row.run_id].append(_task(row))
    return {run_id: tuple(tasks) for run_id, tasks in by_run.items()}


async def page(session: AsyncSession, tenant_id: str, workflow_id: str | None,
               status: str | None, limit: int, offset: int) -> list[Run]:
    """Newest first."""
    query = select(_Runs).where(_Runs.tenant_id == tenant_id)
    if workflow_id:
        query = query.where(_Runs.workflow_id == workflow_id)
    if status:
        query = query.where(_Runs.status == status)
    query = query.order_by(_Runs.id.desc()).limit(limit).offset(offset)
    return [_run(row) for row in await session.scalars(query)]


async def task_with_run(session: AsyncSession, tenant_id: str,
                        task_id: str) -> tuple[TaskRun, Run] | None:
    """A task run and its run, the run's row locked for the move."""
    found = (await session.execute(
        select(_Tasks, _Runs).join(_Runs, _Runs.id == _Tasks.run_id)
        .where(_Tasks.id == task_id, _Runs.tenant_id == tenant_id)
        .with_for_update(of=_Runs))).first()
    return (_task(found[0]), _run(found[1])) if found else None


async def waiting_external(session: AsyncSession, tenant_id: str, workflow_id: str,
                           task_name: str, after_id: str, limit: int) -> list[TaskRun]:
    query = (select(_Tasks).join(_Runs, _Runs.id == _Tasks.run_id)
             .where(_Runs.tenant_id == tenant_id, _Tasks.type == "external",
                    _Tasks.status == "waiting", _Tasks.id > after_id)
             .order_by(_Tasks.id).limit(limit))
    if workflow_id:
        query = query.where(_Runs.workflow_id == workflow_id)
    if task_name:
        query = query.where(_Tasks.name == task_name)
    return [_task(row) for row in await session.scalars(query)]


# -- timers -------------------------------------------------------------------------------------


async def due_runs(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Runs with a task whose timer (sleep end, eventwait timeout) has passed."""
    rows = await session.scalars(
        select(_Tasks.run_id).where(_Tasks.status.in_(("running", "waiting")),
                                    _Tasks.due_at <= now).limit(limit))
    return list(dict.fromkeys(rows))


async def next_timer(session: AsyncSession) -> datetime | None:
    return await session.scalar(select(func.min(_Tasks.due_at)).where(
        _Tasks.status.in_(("running", "waiting")), _Tasks.due_at.is_not(None)))


# -- callbacks that arrived before their task ---------------------------------------------------


async def pending_callbacks(session: AsyncSession,
                            run_id: str) -> dict[str, tuple[str, dict[str, Any]]]:
    return (await pending_callbacks_of(session, [run_id]))[run_id]


async def pending_callbacks_of(session: AsyncSession, run_ids: Sequence[str]
                               ) -> dict[str, dict[str, tuple[str, dict[str, Any]]]]:
    """`pending_callbacks` of several runs at once, by run id."""
    rows = await session.scalars(select(models.PendingCallback)
                                 .where(models.PendingCallback.run_id.in_(list(run_ids))))
    by_run: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {run_id: {} for run_id in run_ids}
    for row in rows:
        by_run[row.run_id][row.topic] = (row.status, row.data)
    return by_run


async def remember_callback(session: AsyncSession, run_id: str, topic: str, status: str,
                            data: dict[str, Any]) -> None:
    """The first callback for a topic not reached yet wins; repeats change nothing."""
    pending = models.PendingCallback
    await session.execute(
        dialect_insert(session, pending)
        .values(id=new_id("cb"), run_id=run_id, topic=topic, status=status, data=data,
                created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[pending.run_id, pending.topic]))


async def forget_callbacks(session: AsyncSession, run_id: str, topics: Sequence[str]) -> None:
    if topics:
        await session.execute(delete(models.PendingCallback).where(
            models.PendingCallback.run_id == run_id,
            models.PendingCallback.topic.in_(list(topics))))

"""The run executor: starts runs, moves them on callbacks, worker results and timers, and
publishes each move's lifecycle events in the same transaction (the outbox). Timers live in
the database (`task_runs.due_at`), so a sleep or a timeout still fires after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from flowhooks_server.clock import utcnow
from flowhooks_server.domain import runs as rules
from flowhooks_server.domain.errors import FailedPrecondition, InvalidArgument, found
from flowhooks_server.ids import new_id
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.services.run_starts import NewRun, OnceKey, RunStarts, Started
from flowhooks_server.storage import runs as run_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import TaskRun, Workflow, WorkflowRun

log = logging.getLogger("flowhooks.runs")
TIMER_POLL_S = 1.0
TIMER_BATCH = 100


@dataclass(frozen=True)
class RunView:
    run: WorkflowRun
    tasks: list[TaskRun]


class RunEngine:
    def __init__(self, db: Database, outbox: Outbox):
        self._db = db
        self._outbox = outbox
        self._starts = RunStarts(db, outbox)
        self._timer_changed = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- lifecycle of the timer loop --------------------------------------------------------

    async def start_timers(self) -> None:
        await self._starts.start()
        self._task = asyncio.create_task(self._timer_loop(), name="run-timers")

    async def stop_timers(self) -> None:
        await self._starts.stop()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- use cases ----------------------------------------------------------------------------

    def prepare(self, tenant: str, workflow: Workflow, trigger: str, params: dict) -> NewRun:
        """A new run of `workflow`, moved as far as it goes at once, not yet written."""
        now = utcnow()
        run = WorkflowRun(id=new_id("run"), tenant_id=tenant, workflow_id=workflow.id,
                          trigger=trigger, status="notstarted", phase="pending",
                          params={**(workflow.params or {}), **params}, created_at=now)
        tasks = [TaskRun(id=new_id("task"), run_id=run.id, position=i, name=t["name"],
                         type=t["type"], status="notstarted", phase="pending",
                         params={k: t.get(k) for k in ("topic", "timeout_s", "duration_s")}
                         | {"params": t.get("params") or {}}, results={})
                 for i, t in enumerate(workflow.tasks)]
        moves = rules.start(run, tasks, workflow.name, now, {})
        return NewRun(run, tasks, moves.events)

    async def start(self, tenant: str, workflow: Workflow, trigger: str,
                    params: dict) -> RunView:
        """A new run of `workflow`, moved as far as it goes, committed with its events."""
        new = self.prepare(tenant, workflow, trigger, params)
        await self.start_once([new])
        return RunView(new.run, new.tasks)

    async def start_once(self, news: list[NewRun], key: OnceKey | None = None) -> Started:
        """Write `news` with the de-duplication `key` in one transaction, unless the key was
        written before (then `first` is False and `run_ids` are the first request's)."""
        started = await self._starts.write(news, key)
        if started.first and any(t.due_at for new in news for t in new.tasks):
            self._timer_changed.set()
        return started

    async def callback(self, tenant: str, run_id: str, topic: str, status: str,
                       data: dict) -> None:
        status = status.lower() or "succeeded"
        if status not in rules.CALLBACK_STATUSES:
            raise InvalidArgument("status", "must be succeeded or failed")
        async with self._db.session() as session, session.begin():
            run, tasks, name = await self._locked(session, tenant, run_id)
            if rules.is_finished(run):
                raise FailedPrecondition(f"workflow run {run_id!r} has already finished")
            moves = rules.Moves()
            for task in tasks:
                if task.type != "eventwait" or task.params.get("topic") != topic:
                    continue
                if task.status == "waiting":
                    pending = await run_store.pending_callbacks(session, run.id)
                    rules.end_task(run, tasks, task, status, {"data": data}, name, utcnow(),
                                   pending, moves)
                elif task.status == "notstarted":
                    await run_store.remember_callback(session, run.id, topic, status, data)
                if rules.is_finished(run):
                    break
            await self._publish(session, run, moves)
        self._committed()

    async def end_task(self, tenant: str, task_id: str, status: str, results: dict) -> TaskRun:
        status = status.lower() or "succeeded"
        if status not in rules.CALLBACK_STATUSES:
            raise InvalidArgument("status", "must be succeeded or failed")
        async with self._db.session() as session, session.begin():
            task_and_run = await run_store.task_with_run(session, tenant, task_id)
            task, run = found(task_and_run, "task run", task_id)
            tasks = (await run_store.tasks_of(session, [run.id]))[run.id]
            task = next(t for t in tasks if t.id == task.id)
            if task.type != "external":
                raise FailedPrecondition(f"task run {task_id!r} is not an external task")
            if task.status != "waiting":
                raise FailedPrecondition(f"task run {task_id!r} is {task.status}, not waiting")
            name = await self._workflow_name(session, run)
            pending = await run_store.pending_callbacks(session, run.id)
            moves = rules.end_task(run, tasks, task, status, results, name, utcnow(), pending,
                                   rules.Moves())
            await self._publish(session, run, moves)
        self._committed()
        return task

    async def cancel(self, tenant: str, run_id: str) -> RunView:
        async with self._db.session() as session, session.begin():
            run, tasks, name = await self._locked(session, tenant, run_id)
            if rules.is_finished(run):
                raise FailedPrecondition(f"workflow run {run_id!r} has already finished")
            await self._publish(session, run, rules.cancel(run, tasks, name, utcnow()))
        self._committed()
        return RunView(run, tasks)

    async def get(self, tenant: str, run_id: str) -> RunView:
        async with self._db.session(readonly=True) as session:
            run = found(await run_store.get(session, tenant, run_id), "workflow run", run_id)
            return RunView(run, (await run_store.tasks_of(session, [run.id]))[run.id])

    async def list(self, tenant: str, workflow_id: str, status: str, limit: int,
                   offset: int) -> list[RunView]:
        async with self._db.session(readonly=True) as session:
            runs = await run_store.page(session, tenant, workflow_id, status, limit, offset)
            tasks = await run_store.tasks_of(session, [r.id for r in runs])
        return [RunView(r, tasks[r.id]) for r in runs]

    async def waiting_external(self, tenant: str, workflow_id: str, task_name: str,
                               after_id: str) -> list[TaskRun]:
        async with self._db.session(readonly=True) as session:
            return await run_store.waiting_external(session, tenant, workflow_id, task_name,
                                                    after_id, 100)

    # -- timers -------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Move every run whose timer has passed; returns how many."""
        now = utcnow()
        async with self._db.session(readonly=True) as session:
            run_ids = await run_store.due_runs(session, now, TIMER_BATCH)
        for run_id in run_ids:
            try:
                await self._fire(run_id)
            except Exception:
                log.exception("run timer failed", extra={"run": run_id})
        return len(run_ids)

    async def _fire(self, run_id: str) -> None:
        async with self._db.session() as session, session.begin():
            tenant = await session.scalar(
                WorkflowRun.__table__.select().with_only_columns(WorkflowRun.tenant_id)
                .where(WorkflowRun.id == run_id))
            run, tasks, name = await self._locked(session, tenant, run_id)
            now, moves = utcnow(), rules.Moves()
            pending = await run_store.pending_callbacks(session, run.id)
            for task in tasks:
                if task.status in ("running", "waiting") and task.due_at and task.due_at <= now:
                    outcome = "succeeded" if task.type == "sleep" else "timedout"
                    rules.end_task(run, tasks, task, outcome, {}, name, now, pending, moves)
                    break
            await self._publish(session, run, moves)
        self._committed()

    async def _timer_loop(self) -> None:
        while True:
            self._timer_changed.clear()
            try:
                while await self.fire_due() == TIMER_BATCH:
                    pass
                async with self._db.session(readonly=True) as session:
                    due = await run_store.next_timer(session)
            except Exception:
                log.exception("run timers failed")
                due = None
            delay = TIMER_POLL_S if due is None else \
                min(max((due - utcnow()).total_seconds(), 0.0), TIMER_POLL_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._timer_changed.wait()

    # -- helpers ------------------------------------------------------------------------------

    async def _locked(self, session, tenant: str, run_id: str):
        run = found(await run_store.get(session, tenant, run_id, for_update=True),
                    "workflow run", run_id)
        tasks = (await run_store.tasks_of(session, [run.id]))[run.id]
        return run, tasks, await self._workflow_name(session, run)

    @staticmethod
    async def _workflow_name(session, run: WorkflowRun) -> str:
        workflow = await session.get(Workflow, run.workflow_id)
        return workflow.name if workflow else ""

    async def _publish(self, session, run: WorkflowRun, moves: rules.Moves) -> None:
        await run_store.forget_callbacks(session, run.id, moves.used_callbacks)
        if moves.events:
            await self._outbox.add_many(session, run.tenant_id, moves.events,
                                        workflow_id=run.workflow_id, workflow_run_id=run.id)
        await session.flush()

    def _committed(self) -> None:
        self._outbox.committed()
        self._timer_changed.set()

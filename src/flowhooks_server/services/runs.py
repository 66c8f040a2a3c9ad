"""The run executor: starts runs, moves them on callbacks, worker results and timers, and
publishes each move's lifecycle events in the same transaction (the outbox). The moves are
the pure rules of `domain.runs`; this module loads a run (its row locked), applies one, and
stores what it changed with its events. Timers live in the database (`task_runs.due_at`), so
a sleep or a timeout still fires after a restart."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.background import Background
from flowhooks_server.clock import utcnow
from flowhooks_server.domain import runs as rules
from flowhooks_server.domain.errors import found
from flowhooks_server.domain.run_records import Run, RunView, TaskRun
from flowhooks_server.domain.workflows import Workflow
from flowhooks_server.services.group_commit import GroupCommit, NewRun, OnceKey, Started
from flowhooks_server.services.outbox import Outbox, RunEvent
from flowhooks_server.storage import runs as run_store
from flowhooks_server.storage import workflows as workflow_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.deliveries import FanOut
from flowhooks_server.storage.errors import is_outage

log = logging.getLogger("flowhooks.runs")
TIMER_POLL_S = 1.0
TIMER_BATCH = 100


class RunEngine:
    def __init__(self, db: Database, outbox: Outbox):
        self._db = db
        self._outbox = outbox
        self._starts = GroupCommit(db, outbox)
        self._timer_changed = asyncio.Event()
        self._timers = Background("run-timers")

    # -- lifecycle of the group commit and the timer loop -----------------------------------

    async def start_timers(self) -> None:
        await self._starts.start()
        self._timers.start(self._timer_loop)

    async def stop_timers(self) -> None:
        await self._starts.stop()
        await self._timers.stop()

    # -- use cases ----------------------------------------------------------------------------

    def prepare(self, tenant: str, workflow: Workflow, trigger: str,
                params: dict[str, Any]) -> NewRun:
        """A new run of `workflow`, moved as far as it goes at once, not yet written."""
        moves = rules.begin(tenant, workflow, trigger, params, utcnow())
        return NewRun(moves.run, moves.tasks, moves.events)

    async def start(self, tenant: str, workflow: Workflow, trigger: str,
                    params: dict[str, Any]) -> RunView:
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
                       data: dict[str, Any]) -> None:
        status = rules.callback_status(status)
        async with self._db.session() as session, session.begin():
            run, tasks, name = await self._locked(session, tenant, run_id)
            # Pending callbacks matter only if the callback ends a task and the run goes on.
            pending = await run_store.pending_callbacks(session, run.id) \
                if rules.awaits(tasks, topic) else {}
            moves = rules.callback(run, tasks, topic, status, data, name, utcnow(), pending)
            if moves.keep_callback:
                await run_store.remember_callback(session, run.id, topic, status, data)
            await self._store(session, run, tasks, moves)
        self._committed()

    async def end_task(self, tenant: str, task_id: str, status: str,
                       results: dict[str, Any]) -> TaskRun:
        status = rules.callback_status(status)
        async with self._db.session() as session, session.begin():
            task, run = found(await run_store.task_with_run(session, tenant, task_id),
                              "task run", task_id)
            tasks = (await run_store.tasks_of(session, [run.id]))[run.id]
            name = await workflow_store.name_of(session, run.workflow_id)
            pending = await run_store.pending_callbacks(session, run.id)
            moves = rules.end_task(run, tasks, task.id, status, results, name, utcnow(),
                                   pending)
            await self._store(session, run, tasks, moves)
        self._committed()
        return moves.task(task.id)

    async def cancel(self, tenant: str, run_id: str) -> RunView:
        async with self._db.session() as session, session.begin():
            run, tasks, name = await self._locked(session, tenant, run_id)
            moves = rules.cancel(run, tasks, name, utcnow())
            await self._store(session, run, tasks, moves)
        self._committed()
        return RunView(moves.run, moves.tasks)

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
                               after_id: str) -> Sequence[TaskRun]:
        async with self._db.session(readonly=True) as session:
            return await run_store.waiting_external(session, tenant, workflow_id, task_name,
                                                    after_id, 100)

    # -- timers -------------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Move every run whose timer has passed, up to TIMER_BATCH of them in one
        transaction; returns how many were due. A batch the database refuses is fired one
        run at a time, so one run that cannot be moved holds up no other."""
        now = utcnow()
        async with self._db.session(readonly=True) as session:
            run_ids = await run_store.due_runs(session, now, TIMER_BATCH)
        if not run_ids:
            return 0
        try:
            await self._fire_batch(run_ids)
        except Exception as exc:
            if is_outage(exc):
                raise
            log.warning("firing a batch of run timers failed; firing them one by one",
                        extra={"count": len(run_ids), "error": type(exc).__name__})
            for run_id in run_ids:
                try:
                    await self._fire_batch([run_id])
                except Exception:
                    log.exception("run timer failed", extra={"run": run_id})
        return len(run_ids)

    async def _fire_batch(self, run_ids: Sequence[str]) -> None:
        """Move `run_ids` by their timers in one transaction (one run, when a batch failed):
        each statement reads them all, and their events go out through one fan-out per
        tenant."""
        made: list[FanOut] = []
        async with self._db.session() as session, session.begin():
            runs = await run_store.get_many(session, run_ids, for_update=True)
            tasks = await run_store.tasks_of(session, [run.id for run in runs])
            names = await workflow_store.names_of(session, {run.workflow_id for run in runs})
            pending = await run_store.pending_callbacks_of(session, [run.id for run in runs])
            events: dict[str, list[RunEvent]] = defaultdict(list)
            saved: list[run_store.Move] = []
            for run in runs:
                moves = rules.fire_timer(run, tasks[run.id], names.get(run.workflow_id, ""),
                                         utcnow(), pending[run.id])
                saved.append((run, moves.run, tasks[run.id], moves.tasks))
                await run_store.forget_callbacks(session, run.id, moves.used_callbacks)
                events[run.tenant_id] += [(event_type, data, run.workflow_id, run.id)
                                          for event_type, data in moves.events]
            await run_store.save_many_moves(session, saved)
            for tenant, of_tenant in events.items():
                if of_tenant:
                    made.append(await self._outbox.add_each(session, tenant, of_tenant))
        self._outbox.committed(made)
        self._timer_changed.set()

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

    async def _locked(self, session: AsyncSession, tenant: str,
                      run_id: str) -> tuple[Run, tuple[TaskRun, ...], str]:
        """The run (its row locked until the transaction ends), its tasks, its workflow's
        name."""
        run = found(await run_store.get(session, tenant, run_id, for_update=True),
                    "workflow run", run_id)
        tasks = (await run_store.tasks_of(session, [run.id]))[run.id]
        return run, tasks, await workflow_store.name_of(session, run.workflow_id)

    async def _store(self, session: AsyncSession, run: Run, tasks: tuple[TaskRun, ...],
                     moves: rules.Moves) -> None:
        """What the move changed, its events and their deliveries, in the caller's
        transaction."""
        await run_store.save_moves(session, run, moves.run, tasks, moves.tasks)
        await run_store.forget_callbacks(session, run.id, moves.used_callbacks)
        if moves.events:
            await self._outbox.add_many(session, run.tenant_id, list(moves.events),
                                        workflow_id=run.workflow_id, workflow_run_id=run.id)

    def _committed(self) -> None:
        self._outbox.committed()
        self._timer_changed.set()

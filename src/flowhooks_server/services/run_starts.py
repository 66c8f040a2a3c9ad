"""Group commit for new runs: concurrent starts are written together, one transaction and a
handful of multi-row statements per batch instead of per run. A run and its first lifecycle
events still commit together, and a caller hears back only once its batch is durable."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import insert

from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import TaskRun, WorkflowRun

MAX_BATCH = 256
_RUN_COLUMNS = [c.key for c in WorkflowRun.__table__.columns]
_TASK_COLUMNS = [c.key for c in TaskRun.__table__.columns]


@dataclass
class _Start:
    run: WorkflowRun
    tasks: list[TaskRun]
    events: list[tuple[str, dict]]
    done: asyncio.Future


class RunStarts:
    def __init__(self, db: Database, outbox: Outbox):
        self._db = db
        self._outbox = outbox
        self._queue: list[_Start] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="run-starts")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def write(self, run: WorkflowRun, tasks: list[TaskRun],
                    events: list[tuple[str, dict]]) -> None:
        """Returns once the run, its tasks and its events are committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Start(run, tasks, events, done))
        self._wake.set()
        await done

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                try:
                    delivered = await self._write(batch)
                except Exception as exc:  # noqa: BLE001 - each caller gets the failure
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)
                if delivered:  # else nobody has anything new to do
                    self._outbox.committed()

    async def _write(self, batch: list[_Start]) -> bool:
        """True if deliveries were made."""
        by_tenant: dict[str, list] = defaultdict(list)
        for item in batch:
            by_tenant[item.run.tenant_id] += [(t, d, item.run.workflow_id, item.run.id)
                                              for t, d in item.events]
        async with self._db.session() as session, session.begin():
            await session.execute(insert(WorkflowRun.__table__), [
                {c: getattr(item.run, c) for c in _RUN_COLUMNS} for item in batch])
            tasks = [{c: getattr(t, c) for c in _TASK_COLUMNS}
                     for item in batch for t in item.tasks]
            if tasks:
                await session.execute(insert(TaskRun.__table__), tasks)
            delivered = False
            for tenant, events in by_tenant.items():
                delivered |= await self._outbox.add_each(session, tenant, events)
        return delivered

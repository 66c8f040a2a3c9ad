"""Group commit for new runs: concurrent starts are written together, one transaction and a
handful of multi-row statements per batch instead of per run. A caller hears back only once
its batch is durable.

One request's unit of work (`Start`) is every run it starts, their tasks and first lifecycle
events, and its de-duplication key (SPEC §6 "Atomic de-duplication"). The key is inserted in
the same transaction as the runs, with ON CONFLICT DO NOTHING: a key that is already there
(committed by an earlier request, or earlier in this batch) means this request is a repeat,
and it gets the first request's run ids instead of writing its own. So whatever fails — a
crash, an outage, a timeout answered 503 after the commit — the key and its runs exist
together or not at all, and a retry either finds both or writes both. On PostgreSQL a second
transaction inserting the same key waits for the first on the unique index, then sees it.

A batch that fails on its data (not for want of a database) is written again one start at a time,
so one request the database refuses cannot fail the others that shared its batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import insert

from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage import dedupe as dedupe_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.errors import is_outage
from flowhooks_server.storage.models import TaskRun, WorkflowRun

log = logging.getLogger("flowhooks.runs")

MAX_BATCH = 256
_RUN_COLUMNS = [c.key for c in WorkflowRun.__table__.columns]
_TASK_COLUMNS = [c.key for c in TaskRun.__table__.columns]


@dataclass(frozen=True)
class NewRun:
    """A run ready to be written: the row, its tasks, and the events of its first moves."""

    run: WorkflowRun
    tasks: list[TaskRun]
    events: list[tuple[str, dict]]


@dataclass(frozen=True)
class OnceKey:
    """A de-duplication key: (tenant, scope, key) is unique."""

    tenant: str
    scope: str
    key: str


@dataclass(frozen=True)
class Started:
    """`first`: this request's runs were written. Otherwise `run_ids` are the first's."""

    first: bool
    run_ids: list[str]


@dataclass
class _Start:
    runs: list[NewRun]
    key: OnceKey | None
    done: asyncio.Future
    outcome: Started | None = field(default=None)


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

    async def write(self, runs: list[NewRun], key: OnceKey | None = None) -> Started:
        """Returns once the runs (and the key) are committed, or the key was found."""
        done = asyncio.get_running_loop().create_future()
        self._queue.append(_Start(runs, key, done))
        self._wake.set()
        return await done

    async def _loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                await self._commit(batch)

    async def _commit(self, batch: list[_Start]) -> None:
        try:
            delivered = await self._write(batch)
        except Exception as exc:  # noqa: BLE001 - each caller gets the failure
            if len(batch) == 1 or is_outage(exc):
                _fail(batch, exc)
                return
            log.warning("a group commit of runs failed on its data; writing its starts alone",
                        extra={"count": len(batch), "error": type(exc).__name__})
            for item in batch:
                await self._commit([item])
            return
        for item in batch:
            if not item.done.done():
                item.done.set_result(item.outcome)
        if delivered:  # else nobody has anything new to do
            self._outbox.committed()

    async def _write(self, batch: list[_Start]) -> bool:
        """True if deliveries were made. Sets each start's `outcome`."""
        async with self._db.session() as session, session.begin():
            fresh: list[_Start] = []
            in_batch: dict[OnceKey, list[str]] = {}
            for item in batch:
                ids = [new.run.id for new in item.runs]
                if item.key is None:
                    item.outcome = Started(True, ids)
                elif item.key in in_batch:
                    item.outcome = Started(False, in_batch[item.key])
                    continue
                else:
                    first = await dedupe_store.insert(session, item.key.tenant, item.key.scope,
                                                      item.key.key, {"runs": ids})
                    if not first:
                        row = await dedupe_store.get(session, item.key.tenant,
                                                     item.key.scope, item.key.key)
                        item.outcome = Started(False, list(row.result.get("runs", [])))
                        continue
                    in_batch[item.key] = ids
                    item.outcome = Started(True, ids)
                fresh.append(item)
            news = [new for item in fresh for new in item.runs]
            if not news:
                return False
            await session.execute(insert(WorkflowRun.__table__), [
                {c: getattr(new.run, c) for c in _RUN_COLUMNS} for new in news])
            tasks = [{c: getattr(t, c) for c in _TASK_COLUMNS} for new in news for t in new.tasks]
            if tasks:
                await session.execute(insert(TaskRun.__table__), tasks)
            by_tenant: dict[str, list] = defaultdict(list)
            for new in news:
                by_tenant[new.run.tenant_id] += [(t, d, new.run.workflow_id, new.run.id)
                                                 for t, d in new.events]
            delivered = False
            for tenant, events in by_tenant.items():
                if events:
                    delivered |= await self._outbox.add_each(session, tenant, events)
        return delivered


def _fail(batch: list[_Start], exc: BaseException) -> None:
    for item in batch:
        if not item.done.done():
            item.done.set_exception(exc)

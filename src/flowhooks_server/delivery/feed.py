"""The live feed of delivery log entries behind the watch streams.

One reader per process follows the log table (woken by local writes, and by NOTIFY from other
processes on PostgreSQL) and offers each new entry to the matching watchers' bounded queues.
A watcher whose queue overflows is not slowed down for, nor buffered without bound: it is
marked as lagging and catches up from the database by its own cursor."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.storage import logs as log_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.logs import LogFilter
from flowhooks_server.storage.models import DeliveryLog

log = logging.getLogger("flowhooks.feed")

QUEUE_SIZE = 1024
PAGE = 500
# Concurrent writers (other processes on PostgreSQL) may commit a smaller seq after a larger
# one; re-reading this many seqs back catches those late commits.
LOOKBACK = 256
RECHECK_S = 0.5


class _Recent:
    """The last seqs seen, to drop repeats from overlapping reads."""

    def __init__(self, size: int = 4 * LOOKBACK):
        self._order: deque[int] = deque()
        self._seen: set[int] = set()
        self._size = size

    def add(self, seq: int) -> bool:
        """False if already seen."""
        if seq in self._seen:
            return False
        self._seen.add(seq)
        self._order.append(seq)
        if len(self._order) > self._size:
            self._seen.discard(self._order.popleft())
        return True


class Watcher:
    def __init__(self, where: LogFilter, cursor: int):
        self.where = where
        # The client has everything up to `floor` (the cursor it resumed from): never again.
        self.floor = cursor
        self.cursor = cursor
        self.queue: asyncio.Queue[DeliveryLog] = asyncio.Queue(QUEUE_SIZE)
        self.lagging = False
        self.wake = asyncio.Event()
        self.recent = _Recent()

    def offer(self, entry: DeliveryLog) -> None:
        if self.lagging:
            return
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            log.info("watcher fell behind; catching up from the database",
                     extra={"cursor": self.cursor})
            self.lagging = True
            self.queue = asyncio.Queue(QUEUE_SIZE)
        self.wake.set()

    def fresh(self, entry: DeliveryLog) -> bool:
        if entry.seq <= self.floor or entry.seq <= self.cursor - LOOKBACK \
                or not self.recent.add(entry.seq):
            return False
        self.cursor = max(self.cursor, entry.seq)
        return True


class LogFeed:
    def __init__(self, db: Database, wakeups: Wakeups):
        self._db = db
        self._wakeups = wakeups
        self._watchers: set[Watcher] = set()
        self._position: int | None = None
        self._recent = _Recent()
        self._task: asyncio.Task | None = None
        self._closed = False
        self._waiters: dict[str, asyncio.Future[DeliveryLog]] = {}
        # Only several writers (PostgreSQL processes) can commit seqs out of order.
        self._lookback = LOOKBACK if db.is_postgres else 0
        self._last_lookback = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name="log-feed")

    async def stop(self) -> None:
        """End every watch (their streams complete) and stop following."""
        self._closed = True
        for watcher in self._watchers:
            watcher.wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def current_cursor(self) -> int:
        async with self._db.session(readonly=True) as session:
            return await log_store.last_seq(session)

    async def watch(self, where: LogFilter, cursor: int) -> AsyncIterator[DeliveryLog]:
        """Entries after `cursor` (see `current_cursor` for "from now"): first those missed,
        from the database, then live ones."""
        watcher = Watcher(where, cursor)
        self._watchers.add(watcher)
        if self._position is None:
            # The feed was idle: follow from the newest entry. Older ones are the replay's;
            # rewinding to the watcher's cursor would re-read (and re-offer) history.
            position = await self.current_cursor()
            if self._position is None:
                self._position = position
        try:
            start = watcher.floor
            while not self._closed:
                async for entry in self._replay(watcher, start):
                    yield entry
                while not watcher.lagging and not self._closed:
                    if watcher.queue.empty():
                        watcher.wake.clear()
                        await watcher.wake.wait()
                        continue
                    entry = watcher.queue.get_nowait()
                    if watcher.fresh(entry):
                        yield entry
                # Fell behind: catch up from the database, re-reading the lookback window for
                # entries committed late (duplicates are dropped by `fresh`).
                watcher.lagging = False
                start = max(watcher.floor, watcher.cursor - LOOKBACK)
        finally:
            self._watchers.discard(watcher)

    async def first_entry(self, delivery_id: str, timeout_s: float) -> DeliveryLog | None:
        """The first log entry of a delivery, waiting up to `timeout_s` for it."""
        waiter = self._waiters.setdefault(delivery_id, asyncio.get_running_loop().create_future())
        try:
            if self._position is None:
                self._position = await self.current_cursor()
            async with self._db.session(readonly=True) as session:
                entry = await log_store.first_of_delivery(session, delivery_id)
            if entry is not None:
                return entry
            async with asyncio.timeout(timeout_s):
                return await waiter
        except TimeoutError:
            return None
        finally:
            self._waiters.pop(delivery_id, None)

    async def _replay(self, watcher: Watcher, start: int) -> AsyncIterator[DeliveryLog]:
        while True:
            async with self._db.session(readonly=True) as session:
                rows = await log_store.after(session, watcher.where, start, PAGE)
            for entry in rows:
                if watcher.fresh(entry):
                    yield entry
            if len(rows) < PAGE:
                return
            start = rows[-1].seq

    async def _follow(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RECHECK_S):
                    await self._wakeups.logs.wait()
            self._wakeups.logs.clear()
            if not (self._watchers or self._waiters) or self._position is None:
                self._position = None
                continue
            try:
                await self._read_new()
            except Exception:
                log.exception("reading new log entries failed")
                await asyncio.sleep(RECHECK_S)

    async def _read_new(self) -> None:
        # Re-reading the lookback window (for late commits) twice a second is enough.
        start = self._position
        if self._lookback and time.monotonic() - self._last_lookback >= RECHECK_S:
            start, self._last_lookback = max(start - self._lookback, 0), time.monotonic()
        while True:
            async with self._db.session(readonly=True) as session:
                rows = await log_store.after(session, LogFilter(), start, PAGE * 4)
            for entry in rows:
                if not self._recent.add(entry.seq):
                    continue
                waiter = self._waiters.pop(entry.delivery_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(entry)
                for watcher in self._watchers:
                    if watcher.where.matches(entry):
                        watcher.offer(entry)
            if rows:
                start = rows[-1].seq
                self._position = max(self._position, start)
            if len(rows) < PAGE * 4:
                return

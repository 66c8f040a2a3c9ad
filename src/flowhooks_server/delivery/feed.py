"""The live feed of delivery log entries behind the watch streams.

One reader per process follows the log (woken by local writes, and by NOTIFY from other
processes on PostgreSQL) and offers each new entry to the matching watchers' bounded queues.
A watcher whose queue overflows is not slowed down for, nor buffered without bound: it is
marked as lagging and catches up from the database by its own cursor.

Everything here reads the log in position order and only below the watermark
(`storage.logs`), where nothing new can ever appear between entries already read. So the
reader reads each entry once and never looks back, and a watcher hands out each entry exactly
once by construction: it registers with the reader, replays from the database what follows
its cursor, then takes live entries from its queue. The replay runs after registering, and the
watermark only rises, so it reaches at least as far as anything offered before the watcher
registered; the queue holds, in order, everything offered since. Handing out only entries that
lie after the last one handed out (the watcher's cursor) is all the deduplication there is.
Catching up after a lag is the same replay.

Committed entries may wait behind the watermark while a writer that began before them is
still running, and that writer's end need not announce anything (it may write no log entry).
While the reader sees such entries waiting, it reads again after a few milliseconds, backing
off to the usual recheck interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from flowhooks_server.background import Background
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.delivery_logs import LogEntry, LogFilter, Position
from flowhooks_server.storage import logs as log_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.logs import Snapshot

log = logging.getLogger("flowhooks.feed")

QUEUE_SIZE = 1024
PAGE = 500
FOLLOW_PAGE = 4 * PAGE
RECHECK_S = 0.5
HELD_BACK_FIRST_S = 0.005


class Watcher:
    def __init__(self, where: LogFilter, cursor: Position,
                 seen: Snapshot | None = None) -> None:
        self.where = where
        # The last entry handed out (or where the watch started): only later ones go out.
        self.cursor = cursor
        # A watch from now: the entries this snapshot saw are the past, wherever they lie.
        self.seen = seen
        self.queue: asyncio.Queue[LogEntry] = asyncio.Queue(QUEUE_SIZE)
        self.lagging = False
        self.wake = asyncio.Event()

    def offer(self, entry: LogEntry) -> None:
        if self.lagging:
            return
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            log.info("watcher fell behind; catching up from the database",
                     extra={"cursor": f"{self.cursor.txid}.{self.cursor.seq}"})
            self.lagging = True
            self.queue = asyncio.Queue(QUEUE_SIZE)
        self.wake.set()

    def take(self, entry: LogEntry) -> bool:
        """Whether `entry` goes out: only if it lies after the cursor, which moves past it."""
        at = entry.position
        if at <= self.cursor:
            return False
        self.cursor = at
        if self.seen is not None:
            if at.txid >= self.seen.xmax:
                self.seen = None  # every later entry is newer than the snapshot
            elif self.seen.saw(at.txid):
                return False
        return True


class LogFeed:
    def __init__(self, db: Database, wakeups: Wakeups) -> None:
        self._db = db
        self._wakeups = wakeups
        self._watchers: set[Watcher] = set()
        # Where the reader is; None while nobody listens (it then follows from "now").
        self._position: Position | None = None
        self._reader = Background("log-feed")
        self._closed = False
        self._waiters: dict[str, asyncio.Future[LogEntry]] = {}

    async def start(self) -> None:
        self._reader.start(self._follow)

    async def stop(self) -> None:
        """End every watch (their streams complete) and stop following."""
        self._closed = True
        for watcher in self._watchers:
            watcher.wake.set()
        await self._reader.stop()

    async def watch(self, where: LogFilter, cursor: Position,
                    seen: Snapshot | None = None) -> AsyncIterator[LogEntry]:
        """Entries after `cursor` (and, from now, not seen by `seen`; see `log_store.now`):
        first those missed, from the database, then live ones."""
        watcher = Watcher(where, cursor, seen)
        self._watchers.add(watcher)
        try:
            # The reader was idle: it follows from now. Older entries are the replay's;
            # rewinding to the watcher's cursor would re-read (and re-offer) history.
            await self._follow_from_now()
            while not self._closed:
                async for entry in self._replay(watcher):
                    yield entry
                while not watcher.lagging and not self._closed:
                    if watcher.queue.empty():
                        watcher.wake.clear()
                        await watcher.wake.wait()
                        continue
                    entry = watcher.queue.get_nowait()
                    if watcher.take(entry):
                        yield entry
                # Fell behind: catch up from the database, from the cursor.
                watcher.lagging = False
        finally:
            self._watchers.discard(watcher)

    async def first_entry(self, delivery_id: str, timeout_s: float) -> LogEntry | None:
        """The first log entry of a delivery, waiting up to `timeout_s` for it."""
        waiter = self._waiters.setdefault(delivery_id, asyncio.get_running_loop().create_future())
        try:
            await self._follow_from_now()
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

    async def _follow_from_now(self) -> None:
        if self._position is None:
            async with self._db.session(readonly=True) as session:
                position = (await log_store.now(session)).position
            if self._position is None:
                self._position = position

    async def _replay(self, watcher: Watcher) -> AsyncIterator[LogEntry]:
        while True:
            async with self._db.session(readonly=True) as session:
                page = await log_store.released_after(session, watcher.where, watcher.cursor,
                                                      PAGE)
            for entry in page.entries:
                if watcher.take(entry):
                    yield entry
            if len(page.entries) < PAGE:
                return

    async def _follow(self) -> None:
        held_reads = 0
        while True:
            delay = RECHECK_S
            if held_reads:
                delay = min(HELD_BACK_FIRST_S * 2 ** min(held_reads - 1, 16), RECHECK_S)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wakeups.logs.wait()
            self._wakeups.logs.clear()
            if not (self._watchers or self._waiters) or self._position is None:
                self._position = None
                held_reads = 0
                continue
            try:
                held_reads = held_reads + 1 if await self._read_new(self._position) else 0
            except Exception:
                log.exception("reading new log entries failed")
                held_reads = 0
                await asyncio.sleep(RECHECK_S)

    async def _read_new(self, position: Position) -> bool:
        """Offer what was released after `position` (where the reader is); True if more
        waits behind the watermark."""
        while True:
            async with self._db.session(readonly=True) as session:
                page = await log_store.released_after(session, LogFilter(), position,
                                                      FOLLOW_PAGE, note_held_back=True)
            for entry in page.entries:
                waiter = self._waiters.pop(entry.delivery_id, None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(entry)
                for watcher in self._watchers:
                    if watcher.where.matches(entry):
                        watcher.offer(entry)
            if page.entries:
                position = self._position = page.entries[-1].position
            if len(page.entries) < FOLLOW_PAGE:
                return page.held_back

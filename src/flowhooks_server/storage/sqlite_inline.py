"""SQLite on the event loop's own thread, behind SQLAlchemy's aiosqlite dialect.

aiosqlite runs each connection in a thread of its own and hands every call to it through a
queue and back through the event loop: a statement costs three or four such round trips
(cursor, execute, fetch, close), each a futex wake, a self-pipe write and a loop turn — about
twenty per session, which cost far more CPU than the statements themselves (a primary-key
read or an insert takes microseconds; see issue 16's profiles). This module gives the dialect
(through `create_async_engine(..., async_creator=...)`) a connection with aiosqlite's
interface whose calls run at once in the calling thread.

What would block the loop is handled here instead:
- Waiting for the write lock: the connection's busy timeout is 0, and a statement that finds
  the database locked (in WAL mode only `BEGIN IMMEDIATE` can, or a first read during WAL
  recovery) is retried after an `asyncio.sleep` that lets everything else run, up to the
  caller's `busy_timeout_s`. A statement that fails with SQLITE_BUSY has done nothing, so
  running it again is safe.
- Checkpoints: automatic checkpoints are off on these connections (one would run inside a
  COMMIT, with an fsync); `Checkpointer` runs them from a thread instead."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger("flowhooks.storage")

BUSY_RETRY_FIRST_S = 0.001
BUSY_RETRY_MAX_S = 0.005
CHECKPOINT_EVERY_S = 1.0
CHECKPOINT_WAL_BYTES = 4 * 1024 * 1024


def creator(path: str, busy_timeout_s: float) -> Callable[[], Awaitable[Connection]]:
    """An `async_creator` for SQLAlchemy: connections to the database file `path`."""
    async def connect() -> Connection:
        raw = sqlite3.connect(path, timeout=0, isolation_level=None,
                              check_same_thread=False)
        raw.execute("PRAGMA busy_timeout=0")
        raw.execute("PRAGMA wal_autocheckpoint=0")
        return Connection(raw, busy_timeout_s)
    return connect


def _locked(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY,
                                                      sqlite3.SQLITE_LOCKED) \
        or "database is locked" in str(exc)


async def _run(call: Callable[[], Any], busy_timeout_s: float) -> Any:
    """`call()`, again after a pause for as long as it finds the database locked."""
    try:
        return call()
    except sqlite3.OperationalError as exc:
        if not _locked(exc):
            raise
    deadline = time.monotonic() + busy_timeout_s
    pause = BUSY_RETRY_FIRST_S
    while True:
        await asyncio.sleep(pause)
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _locked(exc) or time.monotonic() >= deadline:
                raise
        pause = min(pause * 2, BUSY_RETRY_MAX_S)


class Cursor:
    """aiosqlite's Cursor interface, run inline."""

    def __init__(self, raw: sqlite3.Cursor, busy_timeout_s: float) -> None:
        self._raw = raw
        self._busy_timeout_s = busy_timeout_s

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._raw.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> Cursor:
        await _run(lambda: self._raw.execute(sql, () if parameters is None else parameters),
                   self._busy_timeout_s)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        rows = list(parameters)
        await _run(lambda: self._raw.executemany(sql, rows), self._busy_timeout_s)
        return self

    async def fetchall(self) -> list[Any]:
        return self._raw.fetchall()

    async def fetchone(self) -> Any:
        return self._raw.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._raw.fetchmany(self._raw.arraysize if size is None else size)

    async def close(self) -> None:
        self._raw.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._raw.description

    @property
    def rowcount(self) -> int:
        return self._raw.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._raw.lastrowid

    @property
    def arraysize(self) -> int:
        return self._raw.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._raw.arraysize = value


class _Immediate:
    """What the dialect's isolation-level setter puts calls on (aiosqlite's queue to its
    thread): here each call runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting caller
            future.set_exception(exc)


class Connection:
    """aiosqlite's Connection interface (as far as SQLAlchemy's dialect uses it), run inline."""

    def __init__(self, raw: sqlite3.Connection, busy_timeout_s: float) -> None:
        self._conn: sqlite3.Connection | None = raw
        self._busy_timeout_s = busy_timeout_s
        self._tx = _Immediate()

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("no active connection")
        return self._conn

    def cursor(self) -> Cursor:
        return Cursor(self._live().cursor(), self._busy_timeout_s)

    async def commit(self) -> None:
        self._live().commit()

    async def rollback(self) -> None:
        self._live().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._live().isolation_level = value  # type: ignore[assignment]


class Checkpointer:
    """WAL checkpoints off the event loop: every CHECKPOINT_EVERY_S, when the -wal file is
    past CHECKPOINT_WAL_BYTES and was written since the last one, a PASSIVE checkpoint (it
    never waits for readers or writers) in a worker thread, on a connection of its own."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._wal = Path(f"{path}-wal")
        self._checkpointed: float | None = None  # the -wal file's mtime then

    async def run(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            try:
                stat = self._wal.stat()
            except OSError:
                continue
            # A reset WAL keeps its size: written since the last checkpoint is what counts.
            if stat.st_size >= CHECKPOINT_WAL_BYTES and stat.st_mtime != self._checkpointed:
                self._checkpointed = stat.st_mtime
                await asyncio.to_thread(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            conn = sqlite3.connect(self._path, timeout=1, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed", extra={"error": type(exc).__name__})

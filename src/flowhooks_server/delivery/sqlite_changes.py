"""Wake-ups across processes sharing one SQLite file, at no cost while nothing happens.

Every commit in WAL mode writes to the `-wal` file beside the database. On Linux an inotify
watch on that file wakes the follower when any process writes to it (no polling at all); it
then reads `PRAGMA data_version` on its own connection, which changes whenever another
connection has committed, and tells `changed` (with that connection, for a cheap look at what
changed). Where inotify is unavailable it polls `data_version` instead: every POLL_S after a
change, backing off to IDLE_POLL_S while the file stays quiet. Either way a slow SAFETY_S
re-check covers a notification lost to a reset WAL file."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("flowhooks.wakeups")
POLL_S = 0.005
IDLE_POLL_S = 0.02
SAFETY_S = 1.0

_IN_MODIFY = 0x00000002
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


async def follow(path: Path, changed: Callable[[sqlite3.Connection], None]) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.05, check_same_thread=False)
    try:
        # Reading once opens the WAL (and so creates the -wal file the watch is put on); this
        # connection keeps it from being deleted while the server runs.
        version = _data_version(conn, None)
        watch = _WalWatch.open(Path(f"{path}-wal"))
        if watch is None:
            await _poll(conn, version, changed)
            return
        with watch:
            while True:
                await watch.wait(SAFETY_S)
                version = _check(conn, version, changed)
                # A commit's last write to the WAL comes just before its wal-index update,
                # so a look at once may be too early: look again a moment later.
                await asyncio.sleep(POLL_S)
                version = _check(conn, version, changed)
    finally:
        conn.close()


async def _poll(conn: sqlite3.Connection, version: int | None,
                changed: Callable[[sqlite3.Connection], None]) -> None:
    delay = POLL_S
    while True:
        await asyncio.sleep(delay)
        last, version = version, _check(conn, version, changed)
        delay = POLL_S if version != last else min(delay * 2, IDLE_POLL_S)


def _check(conn: sqlite3.Connection, version: int | None,
           changed: Callable[[sqlite3.Connection], None]) -> int | None:
    now = _data_version(conn, version)
    if now != version:
        changed(conn)
    return now


def _data_version(conn: sqlite3.Connection, last: int | None) -> int | None:
    try:
        return conn.execute("PRAGMA data_version").fetchone()[0]
    except sqlite3.Error as exc:
        log.debug("data_version unreadable", extra={"error": str(exc)})
        return last


class _WalWatch:
    """An inotify watch for writes to one file, read through the event loop."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._written = asyncio.Event()
        asyncio.get_running_loop().add_reader(fd, self._drain)

    @classmethod
    def open(cls, wal: Path) -> _WalWatch | None:
        """A watch on `wal`, or None where inotify is not available (not Linux, no libc
        symbol, no watches left, no such file)."""
        name = ctypes.util.find_library("c")
        try:
            libc = ctypes.CDLL(name, use_errno=True)
            init, add = libc.inotify_init1, libc.inotify_add_watch
        except (OSError, AttributeError, TypeError):
            return None
        fd = init(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            return None
        if add(fd, os.fsencode(wal), _IN_MODIFY) < 0:
            os.close(fd)
            log.debug("no inotify watch on the WAL file",
                      extra={"error": os.strerror(ctypes.get_errno())})
            return None
        return cls(fd)

    def _drain(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self._fd, 4096):
                pass
        self._written.set()

    async def wait(self, timeout_s: float) -> None:
        """Until the file is written to (since the last wait) or `timeout_s` passes."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._written.wait()
        self._written.clear()

    def __enter__(self) -> _WalWatch:
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.get_running_loop().remove_reader(self._fd)
        os.close(self._fd)

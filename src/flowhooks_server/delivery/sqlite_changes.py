"""Wake-ups across processes sharing one SQLite file: `PRAGMA data_version` changes whenever
another connection commits, and reading it costs microseconds and no lock, so a short poll
gives PostgreSQL NOTIFY's promptness without its machinery."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("flowhooks.wakeups")
POLL_S = 0.005


async def follow(path: Path, changed: Callable[[], None]) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=0.05)
    try:
        last = None
        while True:
            try:
                version = conn.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error as exc:
                log.debug("data_version unreadable", extra={"error": str(exc)})
                version = last
            if last is not None and version != last:
                changed()
            last = version
            await asyncio.sleep(POLL_S)
    finally:
        conn.close()

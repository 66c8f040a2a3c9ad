"""Prompt wake-ups: in-process events set after a local commit, and, when another process
commits, a LISTEN connection on PostgreSQL (its NOTIFY) or `delivery.sqlite_changes` on SQLite.

On SQLite every commit is seen, this process's own included (the claim's and the record's
too), so the outbox is woken only when the newest delivery is newer than the worker has seen
(`deliveries_seen`, told after each claim and hand-off): a new delivery from another
process wakes the worker, the worker's own commits do not wake it again."""

from __future__ import annotations

import asyncio
import logging
import sqlite3

import psycopg
from sqlalchemy.engine import make_url

from flowhooks_server.background import Background
from flowhooks_server.delivery import sqlite_changes
from flowhooks_server.storage.db import sqlite_file
from flowhooks_server.storage.deliveries import (
    LOGS_CHANNEL,
    ORIGIN,
    OUTBOX_CHANNEL,
    newest_seq_sqlite,
)

log = logging.getLogger("flowhooks.wakeups")
RECONNECT_S = 1.0
HANDOFF_GRACE_S = 0.005


class Wakeups:
    def __init__(self, database_url: str | None = None) -> None:
        self.outbox = asyncio.Event()
        self.logs = asyncio.Event()
        self._url = database_url
        self._follower = Background("wakeups")  # replaced by the follower `start` picks
        self._seen_seq = -1  # the newest delivery the worker has looked at (SQLite only)

    def outbox_changed(self) -> None:
        self.outbox.set()

    def logs_written(self) -> None:
        self.logs.set()

    def deliveries_seen(self, newest_seq: int) -> None:
        """The worker has looked at every delivery up to `newest_seq`."""
        self._seen_seq = max(self._seen_seq, newest_seq)

    async def start(self) -> None:
        if not self._url:
            return
        if make_url(self._url).get_backend_name() == "postgresql":
            self._follower = Background("pg-listen")
            self._follower.start(self._listen)
        elif (path := sqlite_file(self._url)) is not None:
            self._follower = Background("sqlite-follow")
            self._follower.start(lambda: sqlite_changes.follow(path, self._sqlite_changed))

    def _sqlite_changed(self, conn: sqlite3.Connection) -> None:
        self.logs.set()  # the feed looks only while somebody watches
        newest = newest_seq_sqlite(conn)
        if newest is None:
            self.outbox.set()
        elif newest > self._seen_seq:
            # Judged a moment later: a delivery this process just made and leased to its own
            # worker (delivery.handoff) is seen only once its transaction's context has
            # closed, a loop turn or two after the commit this follower noticed.
            asyncio.get_running_loop().call_later(HANDOFF_GRACE_S, self._judge, newest)

    def _judge(self, newest: int) -> None:
        if newest > self._seen_seq:
            self.outbox.set()

    async def stop(self) -> None:
        await self._follower.stop()

    async def _listen(self) -> None:
        assert self._url is not None
        url = make_url(self._url).set(drivername="postgresql")
        dsn = url.render_as_string(hide_password=False)
        channels = {OUTBOX_CHANNEL: self.outbox, LOGS_CHANNEL: self.logs}
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
                    for channel in channels:
                        await conn.execute(f"LISTEN {channel}")
                    # Anything committed while we were not listening is picked up now.
                    for event in channels.values():
                        event.set()
                    async for note in conn.notifies():
                        if note.payload != ORIGIN:  # ours were woken in-process already
                            channels[note.channel].set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - keep listening through outages
                log.warning("listen connection lost", extra={"error": type(exc).__name__})
                await asyncio.sleep(RECONNECT_S)

"""The background pruner: every few minutes, rows older than FLOWHOOKS_RETENTION go, a small
batch per transaction so it never holds the database for long."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from flowhooks_server.background import Background
from flowhooks_server.clock import utcnow
from flowhooks_server.storage import retention
from flowhooks_server.storage.db import Database

log = logging.getLogger("flowhooks.retention")

BATCH = 500
EVERY_S = 300.0


class Pruner:
    def __init__(self, db: Database, retention_s: int, every_s: float = EVERY_S):
        self._db = db
        self._keep = timedelta(seconds=retention_s)
        self._every_s = every_s
        self._loop_task = Background("retention")

    async def start(self) -> None:
        self._loop_task.start(self._loop)

    async def stop(self) -> None:
        await self._loop_task.stop()

    async def prune_once(self) -> dict[str, int]:
        before = utcnow() - self._keep
        counts = {}
        for name, step in (("logs", retention.prune_logs),
                           ("deliveries", retention.prune_deliveries),
                           ("events", retention.prune_events)):
            total = 0
            while True:
                async with self._db.session() as session, session.begin():
                    removed = await step(session, before, BATCH)
                total += removed
                if removed < BATCH:
                    break
                await asyncio.sleep(0)
            counts[name] = total
        return counts

    async def _loop(self) -> None:
        while True:
            try:
                counts = await self.prune_once()
                if any(counts.values()):
                    log.info("pruned", extra=counts)
            except Exception:
                log.exception("pruning failed")
            await asyncio.sleep(self._every_s)

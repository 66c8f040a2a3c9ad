"""Stacks of a test's own, events written straight into a stack's database through the outbox
(as the run executor does; bursts of them in few transactions), and what a receiver made of
them. Importable from any test module (unlike conftest, whose name several directories
share)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from pathlib import Path

from harness import Stack

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage.db import Database


def own_stack(database_url: str, workdir: Path, ca_file: str) -> Stack:
    """A stack that may deliver to loopback and trusts the test CA (not started)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return Stack(database_url, workdir, "fh_boot_" + secrets.token_hex(16),
                 FLOWHOOKS_ALLOW_INSECURE_TARGETS="1", SSL_CERT_FILE=ca_file)


class DbPublisher:
    """Publishes into a database through the outbox; the worker of any stack on it picks the
    deliveries up. `close()` when done."""

    def __init__(self, database_url: str):
        self.db = Database(database_url)
        self.outbox = Outbox(self.db, Wakeups())

    async def publish(self, tenant: str, count: int = 1) -> list[str]:
        return await publish_burst(self, tenant, count, chunk=1)

    async def close(self) -> None:
        await self.db.dispose()


async def publish_burst(publisher, tenant: str, count: int,
                        chunk: int | None = None, pause_s: float = 0.0) -> list[str]:
    """`count` events, `chunk` to a transaction (all in one by default)."""
    ids: list[str] = []
    chunk = chunk or count
    for start_at in range(0, count, chunk):
        async with publisher.db.session() as session, session.begin():
            for n in range(start_at, min(count, start_at + chunk)):
                published = await publisher.outbox.add(
                    session, tenant, "workflow.completed",
                    {"workflow_run_id": f"run_{n}", "workflow_id": "wf_burst",
                     "status": "succeeded", "n": n}, workflow_id="wf_burst")
                ids.append(published.event.id)
        publisher.outbox.committed()
        if pause_s:
            await asyncio.sleep(pause_s)  # pacing the load, as asked
    return ids


async def all_arrive(receiver, ids, timeout_s: float) -> float:
    """Seconds until every event of `ids` arrived at least once."""
    started = time.monotonic()
    wanted = set(ids)
    deadline = started + timeout_s
    while not wanted <= set(receiver.event_ids()):
        if time.monotonic() > deadline:
            missing = wanted - set(receiver.event_ids())
            raise AssertionError(f"{len(missing)} of {len(wanted)} events never arrived")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def overlaps(requests) -> list[str]:
    """Event ids that were in flight twice at the same time."""
    by_event = defaultdict(list)
    for r in requests:
        by_event[r.event_id].append(r)
    bad = []
    for event_id, got in by_event.items():
        got.sort(key=lambda r: r.arrived)
        for before, after in zip(got, got[1:], strict=False):
            if before.replied == 0.0 or after.arrived < before.replied:
                bad.append(event_id)
    return bad

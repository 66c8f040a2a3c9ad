"""Poison and chaos (SPEC §11): a steady `POST /api/v2/webhook` load, each run's
`workflow.started` subscribed by one webhook to a receiver in its own process, with in the
middle of it

- `kill -9` of a server process: on PostgreSQL one of FLOWHOOKS_PROCESSES=2 (the supervisor
  starts it again; Envoy sends the load to the other meanwhile); on SQLite the lone server,
  started again on the same file a second later;
- on PostgreSQL, a 10 s outage of a cluster the bench starts itself (`initdb` + `pg_ctl` on a
  port of its own, tests/pgcluster.py; never the shared server), stopped `immediate`.

Afterwards the database is asked, for every request answered 200 (acknowledged), whether its
run exists and its delivery was recorded as succeeded; what is missing once the deliveries
have had time to settle (leases of a dead process run out and are reaped) is the
acknowledged-but-lost count, which must be 0. Requests refused meanwhile (503, connection
errors) are counted too: a client retries those."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from sqlalchemy import select

from flowhooks_server.delivery.worker import LEASE_MARGIN_S, REAP_EVERY_S
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Delivery, Event, WorkflowRun
from scripts.bench.common import Stack, report, running_stack, seconds
from scripts.bench.delivery import sink
from scripts.bench.ingest import ingest_headers, subscribed_ingest

RATE = 100  # requests/s
OUTAGE_S = 10.0
SETTLE_S = 1 + LEASE_MARGIN_S + 2 * REAP_EVERY_S + 20  # a dead process's leases, reaped


@dataclass
class Load:
    acked: list[str] = field(default_factory=list)
    refused: Counter = field(default_factory=Counter)
    sent: int = 0


async def _load(url: str, headers: dict[str, str], seconds_: float,
                disturb: Callable[[], Awaitable[None]]) -> Load:
    """Paced POSTs for `seconds_`, with `disturb()` running beside them from the start."""
    load = Load()
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout) as http:
        async def one(i: int) -> None:
            try:
                async with http.post(url, json={"n": i}) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status == 200:
                        load.acked.append(body["id"])
                    else:
                        load.refused[str(resp.status)] += 1
            except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                load.refused[type(exc).__name__] += 1

        disturbing = asyncio.create_task(disturb())
        sends, started = [], time.perf_counter()
        for i in range(int(RATE * seconds_)):
            delay = started + i / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sends.append(asyncio.create_task(one(i)))
            load.sent += 1
        await asyncio.gather(*sends)
        await disturbing
    return load


async def _lost(database_url: str, acked: list[str]) -> tuple[int, int]:
    """(acknowledged runs missing, acknowledged runs whose delivery never succeeded), once
    settled or after SETTLE_S."""
    db = Database(database_url)
    try:
        deadline = time.monotonic() + SETTLE_S
        while True:
            missing, undelivered = set(), set()
            for start in range(0, len(acked), 500):
                chunk = acked[start:start + 500]
                async with db.session(readonly=True) as session:
                    present = set(await session.scalars(
                        select(WorkflowRun.id).where(WorkflowRun.id.in_(chunk))))
                    delivered = set(await session.scalars(
                        select(Event.workflow_run_id)
                        .join(Delivery, Delivery.event_id == Event.id)
                        .where(Event.workflow_run_id.in_(chunk),
                               Delivery.status == "succeeded")))
                missing |= set(chunk) - present
                undelivered |= set(chunk) - delivered
            if not undelivered or time.monotonic() > deadline:
                return len(missing), len(undelivered)
            await asyncio.sleep(0.5)
    finally:
        await db.dispose()


async def _figure(title: str, stack: Stack, disturb: Callable[[Stack], Awaitable[None]],
                  window_s: float, sink_url: str, database_url: str) -> None:
    tenant = str(uuid.uuid4())
    headers = ingest_headers(stack, tenant)
    url = await subscribed_ingest(stack, tenant, sink_url, "chaos", timeout="1s")
    load = await _load(url, headers, window_s, lambda: disturb(stack))
    missing, undelivered = await _lost(database_url, load.acked)
    lost = missing + undelivered
    report(title, f"{lost} acknowledged but lost ({missing} runs missing, {undelivered} "
           f"never delivered) of {len(load.acked)} acknowledged; {sum(load.refused.values())}"
           f" of {load.sent} refused {dict(load.refused)}", value=lost, unit="lost",
           target="0 acknowledged but lost", met=lost == 0 and len(load.acked) > 0,
           sent=load.sent, acknowledged=len(load.acked), refused=dict(load.refused),
           runs_missing=missing, never_delivered=undelivered)


async def run(backend: str) -> None:
    window = seconds(8)
    async with sink() as (sink_url, _):
        if backend == "postgres":
            with running_stack(backend, FLOWHOOKS_ALLOW_INSECURE_TARGETS="1",
                               FLOWHOOKS_PROCESSES="2") as stack:
                await _figure("chaos: kill -9 of one of two server processes mid-load", stack,
                              _kill_a_server, window, sink_url, stack.database_url)
            await _outage(sink_url, window)
        else:
            with running_stack(backend, FLOWHOOKS_ALLOW_INSECURE_TARGETS="1") as stack:
                await _figure("chaos: kill -9 of the server mid-load, started again", stack,
                              _kill_and_restart, window, sink_url, stack.database_url)


async def _kill_a_server(stack: Stack) -> None:
    await asyncio.sleep(2)
    os.kill((await asyncio.to_thread(stack.server_pids))[-1], signal.SIGKILL)


async def _kill_and_restart(stack: Stack) -> None:
    await asyncio.sleep(2)
    await asyncio.to_thread(stack.kill)
    await asyncio.sleep(1)
    await asyncio.to_thread(stack.start)


async def _outage(sink_url: str, window_s: float) -> None:
    from pgcluster import PgCluster  # tests/, on the path through scripts.bench.common

    cluster = PgCluster().init()
    try:
        await asyncio.to_thread(cluster.start)
        stack = Stack(cluster.url, cluster.root, "fh_bench_" + uuid.uuid4().hex,
                      FLOWHOOKS_ALLOW_INSECURE_TARGETS="1", FLOWHOOKS_PROCESSES="1")
        await asyncio.to_thread(stack.start)
        try:
            async def outage(_stack: Stack) -> None:
                await asyncio.sleep(2)
                await asyncio.to_thread(cluster.stop, "immediate")
                await asyncio.sleep(OUTAGE_S)
                await asyncio.to_thread(cluster.start)

            await _figure(f"chaos: {OUTAGE_S:.0f} s outage of a private PostgreSQL cluster "
                          "mid-load", stack, outage, max(window_s, OUTAGE_S + 6), sink_url,
                          cluster.url)
        finally:
            await asyncio.to_thread(stack.stop)
    finally:
        await asyncio.to_thread(cluster.destroy)

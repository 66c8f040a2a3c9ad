"""Watch streams (SPEC §11): entries reach each of 100 concurrent REST watchers (through
Envoy, newline-delimited JSON) — latency from the entry's `createdAt` to its arrival at a
watcher, against the same with a single watcher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from datetime import datetime

import aiohttp

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage.db import Database
from scripts.bench.common import Latency, report, running_stack, seconds, until
from scripts.bench.delivery import DATA, seed_webhooks, sink

RATE, SECONDS = 50, 5


async def _watch(http, url: str, headers: dict, samples: list[float], ready: asyncio.Event,
                 count: list[int]) -> None:
    async with http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=None)) as r:
        assert r.status == 200, await r.text()
        ready.set()
        async for line in r.content:
            line = line.strip().lstrip(b"[,").rstrip(b"]")
            if not line:
                continue
            entry = json.loads(line)
            made = datetime.fromisoformat(entry["createdAt"].replace("Z", "+00:00"))
            samples.append((time.time() - made.timestamp()) * 1000)
            count[0] += 1


async def _round(stack, db: Database, sink_url: str, watchers: int) -> Latency:
    tenant = str(uuid.uuid4())
    await seed_webhooks(db, tenant, [f"{sink_url}/w"])
    headers = {"Authorization": f"Bearer {stack.bootstrap_token}", "X-Org-Id": tenant}
    samples: list[float] = []
    count = [0]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:
        readies = [asyncio.Event() for _ in range(watchers)]
        tasks = [asyncio.create_task(_watch(http, f"{stack.rest}/webhooks/logs/watch", headers,
                                            samples, ready, count)) for ready in readies]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 30)
        outbox = Outbox(db, Wakeups())
        total = round(RATE * seconds(SECONDS))
        started = time.perf_counter()
        for i in range(total):
            await outbox.publish(tenant, "workflow.completed", DATA)
            delay = started + (i + 1) / RATE - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        async def everyone_got_everything() -> bool:
            return count[0] >= total * watchers

        with contextlib.suppress(TimeoutError):
            await until(everyone_got_everything, 30, 0.05)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
                await task
    if count[0] < total * watchers:
        raise RuntimeError(f"watchers got {count[0]} of {total * watchers} entries")
    return Latency(samples)


async def run(backend: str) -> None:
    async with sink() as (sink_url, _):
        with running_stack(backend, FLOWHOOKS_ALLOW_INSECURE_TARGETS="1") as stack:
            db = Database(stack.database_url)
            try:
                one = await _round(stack, db, sink_url, 1)
                report("baseline: 1 watcher", str(one), value=one.p99, unit="ms p99")
                many = await _round(stack, db, sink_url, 100)
                report("100 concurrent watchers", f"{many}  p99 x{many.p99 / one.p99:.2f}",
                       value=many.p99, unit="ms p99", baseline=one.p99, target="p99 < 100 ms",
                       met=many.p99 < 100)
            finally:
                await db.dispose()

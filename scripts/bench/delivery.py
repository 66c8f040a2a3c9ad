"""Delivery figures of SPEC §11 against a bare aiohttp client loop posting the same bodies to
the same receiver (a separate process), all in one run:
throughput, commit → first attempt latency at 500 events/s, fan-out to 1,000 webhooks, and a
100,000-delivery backlog drained with the server's peak RSS."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.payloads import EventView, render_body
from flowhooks_server.ids import new_id
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.deliveries import OUTBOX_CHANNEL, notify
from flowhooks_server.storage.migrate import upgrade
from flowhooks_server.storage.models import (
    Delivery,
    DeliveryLog,
    Event,
    Tenant,
    Webhook,
    WebhookEventType,
    utcnow,
)
from scripts.bench.common import (
    Latency,
    Stack,
    database,
    free_port,
    report,
    running_stack,
    scale_out,
    seconds,
    until,
)

THROUGHPUT_EVENTS = 20_000
BASELINE_POSTS = 20_000
BASELINE_CONCURRENCY = 128
LATENCY_RATE, LATENCY_SECONDS = 500, 6
LATENCY_IN_FLIGHT = 16  # below the producer's pool of 10 + 10
FANOUT = 1_000
BACKLOG = 100_000
DATA = {"workflow_run_id": "run_bench", "workflow_id": "wf_bench", "status": "succeeded",
        "workflow_name": "bench"}


@contextlib.asynccontextmanager
async def sink():
    port = free_port()
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "scripts.bench.sink",
                                                str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{url}/_stats"):
                        break
                await asyncio.sleep(0.05)
            yield url, http
    finally:
        proc.terminate()
        await proc.wait()


async def sink_count(http, url: str) -> int:
    async with http.get(f"{url}/_stats") as resp:
        return (await resp.json())["count"]


async def sink_arrivals(http, url: str) -> list[tuple[str, float, str]]:
    async with http.get(f"{url}/_stats?full=1") as resp:
        return (await resp.json())["arrivals"]


async def wait_count(http, url: str, target: int, timeout_s: float) -> float:
    """Seconds until the sink has `target` requests."""
    started = time.perf_counter()
    while (count := await sink_count(http, url)) < target:
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"only {count} of {target} arrived in {timeout_s}s")
        await asyncio.sleep(0.02)
    return time.perf_counter() - started


def sample_body() -> bytes:
    view = EventView(new_id("evt"), "workflow.completed", str(uuid.uuid4()), "wf_bench",
                     utcnow(), DATA)
    return render_body(view, "json")[0]


async def baseline(url: str, http) -> float:
    """Posts/s of a bare aiohttp client loop, same body, same receiver."""
    body, done = sample_body(), 0
    headers = {"Content-Type": "application/json", "webhook-id": "baseline"}
    connector = aiohttp.TCPConnector(limit=BASELINE_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as client:
        async def loop():
            nonlocal done
            while done < BASELINE_POSTS:
                done += 1
                async with client.post(f"{url}/baseline", data=body, headers=headers) as r:
                    await r.read()
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(BASELINE_CONCURRENCY)))
        return done / (time.perf_counter() - started)


async def seed_webhooks(db: Database, tenant: str, urls: list[str]) -> list[str]:
    now = utcnow()
    hooks = [{"id": new_id("wh"), "tenant_id": tenant, "name": f"bench-{i}", "url": url,
              "headers": {}, "secret": "bench-secret", "event_types": ["workflow.*"],
              "enabled": True, "suspended": False, "timeout_ms": 10_000, "format": "json",
              "ordered": False, "created_at": now, "updated_at": now}
             for i, url in enumerate(urls)]
    async with db.session() as session, session.begin():
        await session.execute(insert(Tenant).values(id=tenant, created_at=now))
        await session.execute(insert(Webhook), hooks)
        await session.execute(insert(WebhookEventType), [
            {"webhook_id": h["id"], "event_type": "workflow.*", "tenant_id": tenant}
            for h in hooks])
    return [h["id"] for h in hooks]


async def seed_backlog(db: Database, tenant: str, webhook_ids: list[str], events: int) -> None:
    """`events` events, each with a due delivery to one of the webhooks (round robin)."""
    chunk = 2_000
    for start in range(0, events, chunk):
        now = utcnow()
        rows, dels = [], []
        for i in range(start, min(start + chunk, events)):
            event_id = new_id("evt")
            rows.append({"id": event_id, "tenant_id": tenant, "type": "workflow.completed",
                         "workflow_id": "wf_bench", "data": DATA, "created_at": now})
            dels.append({"id": new_id("dlv"), "tenant_id": tenant, "event_id": event_id,
                         "webhook_id": webhook_ids[i % len(webhook_ids)], "status": "pending",
                         "ordered": False, "attempt": 0, "next_attempt_at": now,
                         "created_at": now, "updated_at": now})
        async with db.session() as session, session.begin():
            await session.execute(insert(Event), rows)
            await session.execute(insert(Delivery), dels)


async def logged(db: Database) -> int:
    async with db.session(readonly=True) as session:
        return await session.scalar(select(func.count()).select_from(DeliveryLog))


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def run(backend: str) -> None:
    async with sink() as (url, http):
        base = await baseline(url, http)
        report("baseline: bare aiohttp client loop", f"{base:8.0f} posts/s", value=base,
               unit="posts/s")
        with running_stack(backend, FLOWHOOKS_ALLOW_INSECURE_TARGETS="1") as stack:
            db = Database(stack.database_url)
            try:
                one = await _throughput(db, url, http, base)
                if backend == "postgres":
                    with _second_process(stack):
                        two = await _throughput(db, url, http, base, "two server processes, ")
                    scale_out("delivery", one, two, "deliveries/s")
                await _latency(stack, db, url, http)
                await _fanout(db, url, http)
            finally:
                await db.dispose()
        await _backlog(backend, url, http)


@contextlib.contextmanager
def _second_process(stack: Stack):
    """Another server process on the same PostgreSQL database (SPEC §8.3 scale-out)."""
    with tempfile.TemporaryDirectory() as tmp:
        second = Stack(stack.database_url, Path(tmp), stack.bootstrap_token,
                       FLOWHOOKS_ALLOW_INSECURE_TARGETS="1")
        second.start()
        try:
            yield second
        finally:
            second.stop()


async def _throughput(db: Database, url: str, http, base: float, label: str = "") -> float:
    tenant = str(uuid.uuid4())
    hooks = await seed_webhooks(db, tenant, [f"{url}/t/{i}" for i in range(10)])
    await http.post(f"{url}/_reset")
    before = await logged(db)
    started = time.perf_counter()
    await seed_backlog(db, tenant, hooks, THROUGHPUT_EVENTS)
    await wait_count(http, url, THROUGHPUT_EVENTS, 300)
    async def all_logged() -> bool:
        return await logged(db) >= before + THROUGHPUT_EVENTS

    await until(all_logged, 60, 0.01)
    rate = THROUGHPUT_EVENTS / (time.perf_counter() - started)
    report(f"throughput, {label}{THROUGHPUT_EVENTS:,} deliveries logged",
           f"{rate:8.0f} deliveries/s  = {rate / base:5.1%} of baseline", value=rate,
           unit="deliveries/s", baseline=base, baseline_unit="posts/s",
           target=">= 3,000/s and >= 30 % of baseline",
           met=rate >= 3000 and rate >= 0.3 * base)
    async with db.session() as session, session.begin():
        await session.execute(Webhook.__table__.update().where(Webhook.tenant_id == tenant)
                              .values(enabled=False))
    return rate


async def _latency(stack: Stack, db: Database, url: str, http) -> None:
    """Events committed at a steady rate by another process (as any producer sharing the
    database would: the outbox rows and, on PostgreSQL, the NOTIFY); latency is the
    receiver's arrival time minus the commit time."""
    tenant = str(uuid.uuid4())
    [hook] = await seed_webhooks(db, tenant, [f"{url}/l"])
    await http.post(f"{url}/_reset")
    committed: dict[str, float] = {}
    total = round(LATENCY_RATE * seconds(LATENCY_SECONDS))
    # Commits in flight stay within the producer's pool (10 + 10): when the database is slow
    # the producer falls behind its schedule, which the achieved rate reports, rather than
    # failing on a pool timeout.
    in_flight = asyncio.Semaphore(LATENCY_IN_FLIGHT)

    async def one() -> None:
        try:
            await _commit_one()
        finally:
            in_flight.release()

    async def _commit_one() -> None:
        now, event_id = utcnow(), new_id("evt")
        async with db.session() as session, session.begin():
            await session.execute(insert(Event).values(
                id=event_id, tenant_id=tenant, type="workflow.completed", workflow_id="wf",
                data=DATA, created_at=now))
            await session.execute(insert(Delivery).values(
                id=new_id("dlv"), tenant_id=tenant, event_id=event_id, webhook_id=hook,
                status="pending", ordered=False, attempt=0, next_attempt_at=now,
                created_at=now, updated_at=now))
            await notify(session, OUTBOX_CHANNEL)
        committed[event_id] = time.time()

    started, pending = time.perf_counter(), []
    for i in range(total):  # on schedule, several commits in flight when needed
        await in_flight.acquire()
        pending.append(asyncio.create_task(one()))
        delay = started + (i + 1) / LATENCY_RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*pending)
    achieved = total / (time.perf_counter() - started)
    await wait_count(http, url, total, 60)
    samples = [(at - committed[event_id]) * 1000
               for event_id, at, _ in await sink_arrivals(http, url) if event_id in committed]
    latency = Latency(samples)
    report(f"commit -> first attempt at {achieved:.0f} events/s", str(latency),
           value=latency.p99, unit="ms p99", target="p50 < 20 ms, p99 < 100 ms at 500/s",
           met=latency.p50 < 20 and latency.p99 < 100 and achieved >= 0.95 * LATENCY_RATE,
           p50_ms=latency.p50, p99_ms=latency.p99, events_per_s=achieved, n=len(samples))


async def _fanout(db: Database, url: str, http) -> None:
    tenant = str(uuid.uuid4())
    await seed_webhooks(db, tenant, [f"{url}/f/{i}" for i in range(FANOUT)])
    await http.post(f"{url}/_reset")
    outbox = Outbox(db, Wakeups())
    started = time.perf_counter()
    await outbox.publish(tenant, "workflow.completed", DATA)
    await wait_count(http, url, FANOUT, 60)
    elapsed_ms = (time.perf_counter() - started) * 1000
    report(f"fan-out: one event to {FANOUT:,} webhooks",
           f"{elapsed_ms:8.0f} ms until all delivered", value=elapsed_ms, unit="ms",
           target="< 2,000 ms", met=elapsed_ms < 2000)


async def _backlog(backend: str, url: str, http) -> None:
    with database(backend) as db_url:
        await upgrade(db_url)
        db = Database(db_url)
        tenant = str(uuid.uuid4())
        hooks = await seed_webhooks(db, tenant, [f"{url}/b/{i}" for i in range(100)])
        await seed_backlog(db, tenant, hooks, BACKLOG)
        await http.post(f"{url}/_reset")

        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(db_url, Path(tmp), "fh_bench_backlog",
                          FLOWHOOKS_ALLOW_INSECURE_TARGETS="1")
            stack.start()
            try:
                started = time.perf_counter()
                samples: list[tuple[int, float]] = []
                while (count := await sink_count(http, url)) < BACKLOG:
                    samples.append((count, rss_mb(stack.proc.pid)))
                    if time.perf_counter() - started > 600:
                        raise TimeoutError(f"backlog: {count} of {BACKLOG} after 600 s")
                    await asyncio.sleep(0.5)
                elapsed = time.perf_counter() - started
                samples.append((count, rss_mb(stack.proc.pid)))
            finally:
                stack.stop()
        await db.dispose()
    quarters = [next((rss for n, rss in samples if n >= BACKLOG * q / 4), samples[-1][1])
                for q in (1, 2, 3, 4)]
    peak = max(r for _, r in samples)
    flat = max(quarters) - min(quarters) <= 0.2 * peak   # "flat": within 20 % of the peak
    report(f"backlog: {BACKLOG:,} due deliveries drained",
           f"{elapsed:6.1f} s ({BACKLOG / elapsed:6.0f}/s), peak RSS "
           f"{peak:5.0f} MB; at 25/50/75/100 %: "
           + " / ".join(f"{r:.0f}" for r in quarters) + " MB", value=peak, unit="MB RSS",
           target="< 300 MB, flat during the drain", met=peak < 300 and flat,
           drain_s=elapsed, quarters_mb=quarters)

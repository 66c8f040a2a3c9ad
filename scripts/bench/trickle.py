"""Efficiency at a trickle (SPEC §11, issue 16): the CPU the server process uses — utime +
stime of all its threads, from /proc/<pid>/stat — over a fixed window, idle and under a paced
open-loop trickle of `POST /api/v2/webhook` (10 and 50 req/s), where each request's run emits
one event (`workflow.started`) that one webhook subscribes to, delivered to a local receiver
in its own process (scripts/bench/sink.py)."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Awaitable
from typing import TypeVar

import aiohttp

from scripts.bench.common import profiled, report, running_stack, seconds
from scripts.bench.delivery import sink, sink_count, wait_count
from scripts.bench.ingest import BODY, ingest_headers, subscribed_ingest
from scripts.bench.loadgen import paced

RATES = (10, 50)
TARGETS = {0: 2.0, 50: 10.0}    # % of one core
TICK = os.sysconf("SC_CLK_TCK")
T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, every thread included."""
    with open(f"/proc/{pid}/stat") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # fields 14 and 15 of proc(5)


async def cpu_percent_during(pid: int, work: Awaitable[T]) -> tuple[float, float, T]:
    """(% of one core, window in s, work's result) over the time `work` takes."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    result = await work
    cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
    return 100 * cpu / wall, wall, result


async def run(backend: str) -> None:
    window = seconds(10)
    async with sink() as (sink_url, sink_http):
        with running_stack(backend, FLOWHOOKS_ALLOW_INSECURE_TARGETS="1") as stack:
            assert stack.proc is not None
            pid = stack.proc.pid
            tenant = str(uuid.uuid4())
            headers = ingest_headers(stack, tenant)
            url = await subscribed_ingest(stack, tenant, sink_url, "trickle")
            async with aiohttp.ClientSession(headers=headers) as http:
                # Warm up the path (connections, caches), then let the server settle.
                await paced(http, url, 20, 1, body=BODY, headers={})
                await wait_count(sink_http, sink_url, 20, 30)
                await asyncio.sleep(2)

                with profiled(pid, f"trickle-{backend}-idle"):
                    idle, wall, _ = await cpu_percent_during(pid, asyncio.sleep(window))
                report("trickle: server CPU when idle", f"{idle:5.1f} % of a core over "
                       f"{wall:.1f} s", value=idle, unit="% core",
                       target=f"< {TARGETS[0]:.0f} %", met=idle < TARGETS[0],
                       window_s=round(wall, 2))
                for rate in RATES:
                    before = await sink_count(sink_http, sink_url)
                    with profiled(pid, f"trickle-{backend}-{rate}"):
                        pct, wall, done = await cpu_percent_during(
                            pid, paced(http, url, rate, window, body=BODY, headers={}))
                    expected = before + done.sent
                    try:
                        await wait_count(sink_http, sink_url, expected, 30)
                        delivered = done.sent
                    except TimeoutError:
                        delivered = await sink_count(sink_http, sink_url) - before
                    counted = done.failed == 0 and delivered == done.sent
                    target = TARGETS.get(rate)
                    per_request_ms = 10 * pct / rate   # pct % of a core over `rate` req/s
                    note = "" if counted else (f"  (does not count: {done.failed} failed, "
                                               f"{delivered}/{done.sent} delivered)")
                    report(f"trickle: server CPU at {rate} req/s",
                           f"{pct:5.1f} % of a core ({per_request_ms:5.2f} ms CPU per request,"
                           f" {done.sent} requests, {delivered} delivered, {done.late} late)"
                           + note, value=pct, unit="% core",
                           target=f"< {target:.0f} %" if target else "",
                           met=(counted and pct < target) if target else None,
                           rate=rate, sent=done.sent, ok=done.ok, failed=done.failed,
                           delivered=delivered, late=done.late, window_s=round(wall, 2),
                           cpu_ms_per_request=round(per_request_ms, 3))

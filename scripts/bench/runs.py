"""Run completion (SPEC §11): runs of a workflow with one `sleep 0.1s` task, started by a
burst of `POST /api/v2/webhook` at full load (wrk), must finish at least as fast as they are
accepted. Reports accepted/s against finished/s, the backlog of unfinished runs at the end of
the burst and 5 s later, and how long until every accepted run had finished."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from sqlalchemy import case, func, select

from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import WorkflowRun
from scripts.bench.common import report, running_stack, seconds
from scripts.bench.ingest import BODY, ingest_headers, webhook_workflow
from scripts.bench.loadgen import wrk

SLEEP_TASK = [{"name": "pause", "type": "sleep", "duration": "0.1s"}]
SETTLE_S = 5
DRAIN_TIMEOUT_S = 120


async def counts(db: Database, workflow: str) -> tuple[int, int]:
    """(runs, finished runs) of `workflow`."""
    async with db.session(readonly=True) as session:
        row = (await session.execute(select(
            func.count(), func.coalesce(func.sum(case(
                (WorkflowRun.phase == "completed", 1), else_=0)), 0))
            .where(WorkflowRun.workflow_id == workflow))).one()
    return int(row[0]), int(row[1])


async def until_finished(db: Database, workflow: str, timeout_s: float) -> float | None:
    """Seconds until every run of `workflow` has finished; None when `timeout_s` passed."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        total, finished = await counts(db, workflow)
        if finished >= total:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    return None


async def run(backend: str) -> None:
    burst_s = seconds(10)
    with running_stack(backend) as stack:
        db = Database(stack.database_url)
        try:
            tenant = str(uuid.uuid4())
            headers = ingest_headers(stack, tenant)
            warm = await webhook_workflow(stack, tenant, SLEEP_TASK)
            await wrk(f"{stack.rest}/api/v2/webhook?ref={warm}", seconds=1, headers=headers,
                      body=BODY)
            await until_finished(db, warm, 60)

            workflow = await webhook_workflow(stack, tenant, SLEEP_TASK)
            load = await wrk(f"{stack.rest}/api/v2/webhook?ref={workflow}", seconds=burst_s,
                             headers=headers, body=BODY)
            total_end, finished_end = await counts(db, workflow)
            ended = time.perf_counter()
            await asyncio.sleep(SETTLE_S)
            total_5s, finished_5s = await counts(db, workflow)
            rest = await until_finished(db, workflow, DRAIN_TIMEOUT_S)
            all_done_s = None if rest is None else time.perf_counter() - ended
            total, finished = await counts(db, workflow)
        finally:
            await db.dispose()
    accepted_rate, finished_rate = total_end / load.seconds, finished_end / load.seconds
    backlog_end, backlog_5s = total_end - finished_end, total_5s - finished_5s
    counted = load.failed == 0
    note = "" if counted else f"  (does not count: {load.failed} non-2xx/errors)"
    details: dict[str, Any] = {"burst_s": load.seconds, "runs": total, "finished": finished,
               "backlog_end": backlog_end, "backlog_5s": backlog_5s,
               "all_finished_after_burst_s": all_done_s, "wrk": load.details()}
    report(f"run completion: {load.seconds:.0f} s burst of sleep-0.1s runs",
           f"accepted {accepted_rate:6.0f}/s, finished during the burst {finished_rate:6.0f}/s"
           + note, value=finished_rate, unit="runs/s", baseline=accepted_rate,
           target="finished/s >= accepted/s (within 5 %: the last 0.1 s cannot finish)",
           met=counted and finished_rate >= 0.95 * accepted_rate, **details)
    drained = ("not all finished after " f"{DRAIN_TIMEOUT_S + SETTLE_S} s: "
               f"{total - finished} left" if all_done_s is None
               else f"all {total} finished {all_done_s:.1f} s after the burst")
    report("run completion: backlog at the end of the burst / +5 s",
           f"{backlog_end} / {backlog_5s} unfinished; {drained}", value=backlog_5s,
           unit="runs", target="0 unfinished 5 s after the burst",
           met=counted and backlog_5s == 0, **details)

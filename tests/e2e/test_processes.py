"""FLOWHOOKS_PROCESSES=2 (SPEC §11 scale-out): two server processes behind the one Envoy
share ingest and delivery; kill -9 of one in the middle of a burst loses no acknowledged
request and no delivery (its leases run out and the other reaps them), the supervisor starts
it again, and SIGTERM stops every process."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter

import aiohttp
import pytest
from bursts import own_stack
from harness import Rest
from receiver import Reply
from tenancy import make_tenant
from waiting import deliveries_settled, until

from flowhooks_server.delivery.worker import LEASE_MARGIN_S, REAP_EVERY_S
from flowhooks_server.storage.db import Database

pytestmark = pytest.mark.e2e


async def test_two_processes_share_the_work_and_survive_a_kill_9(
        fresh_database_url, tmp_path, ca_file, receiver, backend):
    if backend != "postgres":
        pytest.skip("several server processes share a database only on PostgreSQL")
    receiver.respond(default=Reply(200, delay_s=0.01))
    stack = own_stack(fresh_database_url, tmp_path, ca_file)
    stack.extra_env["FLOWHOOKS_PROCESSES"] = "2"
    await asyncio.to_thread(stack.start)
    try:
        assert stack.proc is not None
        first = stack.server_pids()
        assert len(first) == 2, f"server processes: {first}"
        async with aiohttp.ClientSession() as session:
            rest = Rest(stack.rest, session)
            tenant = await make_tenant(rest, stack.bootstrap_token)
            status, hook = await rest.call("POST", "/webhooks", token=tenant.token, json={
                "name": "burst", "url": receiver.url, "eventTypes": ["workflow.started"],
                "timeout": "1s"})
            assert status == 200, hook
            status, workflow = await rest.call("POST", "/api/v2/workflows", token=tenant.token,
                                               json={"name": "w", "triggers": {
                                                   "webhook": {"enabled": True}},
                                                   "tasks": [{"name": "wait",
                                                              "type": "eventwait",
                                                              "topic": "never"}]})
            assert status == 200, workflow

            acked: list[str] = []
            refused = Counter()

            async def send(i: int) -> None:
                try:
                    status, run = await rest.call(
                        "POST", f"/api/v2/webhook?ref={workflow['id']}", token=tenant.token,
                        json={"n": i})
                except aiohttp.ClientError as exc:
                    refused[type(exc).__name__] += 1
                    return
                if status == 200:
                    acked.append(run["id"])
                else:
                    refused[status] += 1

            async def burst() -> None:
                sends = []
                for i in range(300):
                    sends.append(asyncio.create_task(send(i)))
                    await asyncio.sleep(0.005)
                await asyncio.gather(*sends)

            sending = asyncio.create_task(burst())
            await until(lambda: len(receiver.requests) >= 60, 20, "deliveries under way")
            os.kill(first[1], signal.SIGKILL)
            killed_at = time.monotonic()
            await sending
            # Requests sent to the dead process before Envoy takes it out (its health checks,
            # ~0.5 s) are refused with a clean 503 the client may retry; none is half done.
            assert len(acked) >= 100, (len(acked), refused)
            assert set(refused) <= {503}, refused

            # Every acknowledged run was delivered: by the survivor, and the dead process's
            # leases once they run out (timeout + margin) and the reaper makes them due.
            runs = set(acked)

            def delivered() -> set[str]:
                return {r.json["data"]["workflow_run_id"] for r in receiver.requests} & runs

            limit = 1 + LEASE_MARGIN_S + 2 * REAP_EVERY_S + 10
            await until(lambda: delivered() == runs, limit - (time.monotonic() - killed_at),
                        f"every one of {len(runs)} acknowledged runs delivered")
            # ... and recorded: what the dead process sent but never recorded is sent again.
            db = Database(fresh_database_url)
            try:
                await until(deliveries_settled(db, hook["id"]),
                            limit - (time.monotonic() - killed_at), "every delivery recorded")
            finally:
                await db.dispose()
        # The supervisor started the killed process again.
        await until(lambda: len(stack.server_pids()) == 2
                    and first[1] not in stack.server_pids(), 10,
                    "the killed server process was started again")
        assert "server process exited; starting it again" in stack.logs()
        logged = stack.logs()
        assert '"server": 0' in logged and '"server": 1' in logged, "both processes served"
    finally:
        code = await asyncio.to_thread(stack.stop)
    assert code == 0
    assert stack.server_pids() == []

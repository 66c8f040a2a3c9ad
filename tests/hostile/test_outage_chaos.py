"""Chaos on a PostgreSQL cluster of the test's own (SPEC §6 atomic de-duplication, §8.15,
§8.16): load running, a receiver answering poison, the database restarted in the middle.
Afterwards every acknowledged request has exactly one run, every run's events reached the
receiver, and nothing that should be recorded once was recorded twice. And SIGTERM with the
database gone and a receiver that never answers still ends the process within grace + 5 s."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import aiohttp
import pytest
from bursts import own_stack
from harness import Rest, wait_for
from inbound_client import make_workflow
from pgcluster import PgCluster
from receiver import Receiver, Reply
from sqlalchemy import func, select
from tenancy import make_tenant

from flowhooks_server.app import SHUTDOWN_GRACE_S
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import DeliveryLog, WorkflowRun

REQUESTS = 120
CONCURRENCY = 12
RETRY_DEADLINE_S = 60.0


@pytest.fixture
def cluster(backend):
    if backend != "postgres":
        pytest.skip("a database restart is a PostgreSQL scenario")
    pg = PgCluster().init()
    pg.start()
    yield pg
    pg.destroy()


async def _subscribe(rest, tenant, url: str, name: str) -> str:
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
        "name": name, "url": url, "eventTypes": ["workflow.*"],
        "failureHandling": {"triggers": ["5xx", "timeout", "network"],
                            "retryStrategy": {"type": "linear", "interval": "0.2s",
                                              "attempts": 10}}})
    assert status == 200, body
    return body["id"]


async def _subscribed_workflow(rest, stack, *urls: str):
    """A tenant with a webhook-triggered workflow of no tasks (each run emits
    workflow.started and workflow.completed at once) and a subscription per URL."""
    tenant = await make_tenant(rest, stack.bootstrap_token)
    workflow_id = await make_workflow(rest, tenant, tasks=[], webhook={"enabled": True})
    for i, url in enumerate(urls):
        await _subscribe(rest, tenant, url, f"chaos-{i}")
    return tenant, workflow_id


async def _send_until_acknowledged(rest, tenant, workflow_id: str, key: str) -> str:
    """Retry with the same Idempotency-Key until a 200, as a well-behaved sender does."""
    deadline = time.monotonic() + RETRY_DEADLINE_S
    while True:
        try:
            status, body = await rest.call(
                "POST", f"/api/v2/webhook?ref={workflow_id}", token=tenant.token,
                headers={"Idempotency-Key": key}, data=b'{"key": "' + key.encode() + b'"}')
            if status == 200:
                return body["id"]
            assert status in (429, 500, 502, 503, 504), (status, body)
            assert status != 500, body
        except (aiohttp.ClientError, TimeoutError):
            pass
        assert time.monotonic() < deadline, f"{key} was never acknowledged"
        await asyncio.sleep(0.1)  # a sender's pause between retries


async def test_database_restart_under_load_loses_and_doubles_nothing(cluster, tmp_path,
                                                                      ca_file):
    healthy, poisoned = await Receiver().start(), await Receiver().start()
    poisoned.respond(default=Reply(200, body=b"ok\x00bad"))
    stack = own_stack(cluster.url, tmp_path / "stack", ca_file)
    await asyncio.to_thread(stack.start)
    db = Database(cluster.url)
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(stack.rest, session)
            tenant, workflow_id = await _subscribed_workflow(rest, stack, healthy.url,
                                                             poisoned.url)
            keys = [f"chaos-{uuid.uuid4().hex}" for _ in range(REQUESTS)]
            gate = asyncio.Semaphore(CONCURRENCY)

            async def one(key: str) -> str:
                async with gate:
                    return await _send_until_acknowledged(rest, tenant, workflow_id, key)

            load = [asyncio.ensure_future(one(key)) for key in keys]
            async def a_quarter_done():
                return sum(t.done() for t in load) >= REQUESTS // 4
            await wait_for(a_quarter_done, 30)
            await asyncio.to_thread(cluster.stop, "immediate")
            # The outage itself lasts 2 s (the behaviour under test): requests fail meanwhile
            # and are retried.
            await asyncio.sleep(2.0)
            await asyncio.to_thread(cluster.start)
            acknowledged = dict(zip(keys, await asyncio.gather(*load), strict=True))

            # Exactly one run per acknowledged key, and nothing else.
            assert len(set(acknowledged.values())) == REQUESTS
            async with db.session(readonly=True) as s:
                runs = set(await s.scalars(select(WorkflowRun.id)
                                           .where(WorkflowRun.workflow_id == workflow_id)))
            assert runs == set(acknowledged.values())

            # Every run's two events reached the healthy receiver (at least once).
            async def all_delivered():
                return runs <= {r.json["data"]["workflow_run_id"] for r in healthy.requests
                                if r.json["event_type"] == "workflow.completed"}
            await wait_for(all_delivered, 60, 0.2)
            # The poisoned receiver's answers were recorded too: one success per delivery.
            async with db.session(readonly=True) as s:
                doubled = (await s.execute(
                    select(DeliveryLog.delivery_id, func.count())
                    .where(DeliveryLog.status == "succeeded")
                    .group_by(DeliveryLog.delivery_id).having(func.count() > 1))).all()
                poisoned_ok = await s.scalar(
                    select(func.count()).select_from(DeliveryLog)
                    .where(DeliveryLog.status == "succeeded",
                           DeliveryLog.response_body == "ok\\u0000bad"))
            assert doubled == []
            assert poisoned_ok >= 1
    finally:
        await db.dispose()
        await asyncio.to_thread(stack.stop)
        await healthy.stop()
        await poisoned.stop()


async def test_sigterm_with_the_database_gone_and_a_silent_receiver_is_bounded(
        cluster, tmp_path, ca_file):
    silent = await Receiver().start()
    silent.respond(default=Reply(200, delay_s=120))
    stack = own_stack(cluster.url, tmp_path / "stack", ca_file)
    await asyncio.to_thread(stack.start)
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(stack.rest, session)
            tenant, workflow_id = await _subscribed_workflow(rest, stack, silent.url)
            for _ in range(3):
                status, _ = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                            token=tenant.token, data=b"{}")
                assert status == 200
            await silent.wait_for(3, timeout_s=15)  # attempts in flight, never answered
        await asyncio.to_thread(cluster.stop, "immediate")
        started = time.monotonic()
        await asyncio.to_thread(stack.stop)
        took = time.monotonic() - started
        assert stack.proc.returncode is not None
        assert took < SHUTDOWN_GRACE_S + 5, f"SIGTERM took {took:.1f} s"
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(stack.stop)
        await silent.stop()

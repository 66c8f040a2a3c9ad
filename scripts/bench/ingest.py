"""Durable ingest (SPEC §11): `POST /api/v2/webhook` with a token through Envoy (a run and its
events committed per request) against a bare grpc.aio echo behind an Envoy rendered from the
same config, both driven by wrk (scripts/bench/wrk/post.lua) with the same connections,
threads and duration, in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import uuid
from pathlib import Path

import aiohttp

from flowhooks_server.sidecar.envoy import EnvoyProcess, render_config
from scripts.bench.common import free_port, report, running_stack, scale_out, seconds
from scripts.bench.loadgen import WrkResult, wrk

BODY = b'{"ref":"main","commit":"0123456789abcdef","pusher":"ci"}'
WARMUP_S = 1
TARGET_RATE, TARGET_RATIO, TARGET_P99_MS = 2000, 0.5, 50


async def drive(url: str, headers: dict[str, str]) -> WrkResult:
    """A short warm-up, then the measured wrk run."""
    await wrk(url, seconds=WARMUP_S, headers=headers, body=BODY)
    return await wrk(url, seconds=seconds(8), headers=headers, body=BODY)


@contextlib.asynccontextmanager
async def echo_behind_envoy():
    grpc_port, http_port, admin_port = free_port(), free_port(), free_port()
    echo = await asyncio.create_subprocess_exec(sys.executable, "-m", "scripts.bench.echo_server",
                                                str(grpc_port))
    with tempfile.TemporaryDirectory() as tmp:
        envoy = EnvoyProcess(admin_port, log_path=Path(tmp) / "envoy.log")
        try:
            await envoy.start(render_config(grpc_port, http_port, admin_port))
            await envoy.wait_ready(timeout=30)
            url = f"http://127.0.0.1:{http_port}/healthz"
            async with aiohttp.ClientSession() as http:
                for _ in range(100):
                    with contextlib.suppress(aiohttp.ClientError):
                        async with http.get(url) as resp:
                            if resp.status == 200:
                                break
                    await asyncio.sleep(0.1)
            yield f"http://127.0.0.1:{http_port}"
        finally:
            await envoy.stop()
            echo.terminate()
            await echo.wait()


async def webhook_workflow(stack, tenant: str, tasks: list[dict]) -> str:
    """A workflow with the plain webhook trigger, created through the REST API."""
    headers = {"Authorization": f"Bearer {stack.bootstrap_token}", "X-Org-Id": tenant}
    async with aiohttp.ClientSession(headers=headers) as http:
        async with http.post(f"{stack.rest}/api/v2/workflows", json={
                "name": "bench", "triggers": {"webhook": {"enabled": True}},
                "tasks": tasks}) as resp:
            body = await resp.json()
            assert resp.status == 200, body
            return body["id"]


async def subscribed_ingest(stack, tenant: str, receiver_url: str, name: str,
                            **webhook: str) -> str:
    """The ingest URL of a workflow whose runs wait (an eventwait task nobody completes)
    after emitting `workflow.started`, which one webhook to `receiver_url` subscribes to."""
    workflow = await webhook_workflow(
        stack, tenant, [{"name": "wait", "type": "eventwait", "topic": "never"}])
    async with aiohttp.ClientSession(headers=ingest_headers(stack, tenant)) as http:
        async with http.post(f"{stack.rest}/webhooks", json={
                "name": name, "url": f"{receiver_url}/{name}", "secret": "bench-secret",
                "eventTypes": ["workflow.started"], **webhook}) as resp:
            assert resp.status == 200, await resp.text()
    return f"{stack.rest}/api/v2/webhook?ref={workflow}"


def ingest_headers(stack, tenant: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.bootstrap_token}", "X-Org-Id": tenant,
            "Content-Type": "application/json"}


async def run(backend: str) -> None:
    async with echo_behind_envoy() as echo_url:
        # The same request shape (token, tenant, body); the echo checks none of it.
        base = await drive(f"{echo_url}/api/v2/webhook?ref=x", {
            "Authorization": "Bearer fh_bench_echo", "X-Org-Id": str(uuid.uuid4()),
            "Content-Type": "application/json"})
    counts = base.failed == 0
    report("baseline: bare grpc.aio echo behind Envoy", base.summary(), value=base.rate,
           unit="req/s", met=None if counts else False, **base.details())
    with running_stack(backend) as stack:
        tenant = str(uuid.uuid4())
        workflow = await webhook_workflow(
            stack, tenant, [{"name": "wait", "type": "eventwait", "topic": "done"}])
        ours = await drive(f"{stack.rest}/api/v2/webhook?ref={workflow}",
                           ingest_headers(stack, tenant))
    counts = counts and ours.failed == 0
    note = "" if counts else "  (does not count: non-2xx or errors)"
    title = "durable ingest: POST /api/v2/webhook"
    report(title, ours.summary() + note, value=ours.rate, unit="req/s",
           target=f">= {TARGET_RATE:,} req/s", met=counts and ours.rate >= TARGET_RATE,
           **ours.details())
    report(f"{title}, share of baseline", f"{ours.rate / base.rate:6.1%} of {base.rate:.0f} req/s",
           value=ours.rate, unit="req/s", baseline=base.rate,
           target=f">= {TARGET_RATIO:.0%} of the echo", met=counts and
           ours.rate >= TARGET_RATIO * base.rate)
    report(f"{title}, p99 latency", f"p99 {ours.p99_ms:7.2f} ms  p50 {ours.p50_ms:7.2f} ms",
           value=ours.p99_ms, unit="ms", baseline=base.p99_ms,
           target=f"< {TARGET_P99_MS} ms", met=counts and ours.p99_ms < TARGET_P99_MS)
    if backend == "postgres":
        with running_stack(backend, FLOWHOOKS_PROCESSES="2") as stack:
            tenant = str(uuid.uuid4())
            workflow = await webhook_workflow(
                stack, tenant, [{"name": "wait", "type": "eventwait", "topic": "done"}])
            two = await drive(f"{stack.rest}/api/v2/webhook?ref={workflow}",
                              ingest_headers(stack, tenant))
        if two.failed == 0 and counts:
            scale_out("ingest (FLOWHOOKS_PROCESSES=2)", ours.rate, two.rate, "req/s")

"""Durable ingest (SPEC §11): `POST /api/v2/webhook` with a token through Envoy (a run and its
events committed per request) against a bare grpc.aio echo behind an Envoy rendered from the
same config, both driven by the same closed-loop client in the same run."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from flowhooks_server.sidecar.envoy import EnvoyProcess, render_config
from scripts.bench.common import Latency, free_port, report, running_stack

CONCURRENCY = 64
SECONDS = 8
BODY = b'{"ref":"main","commit":"0123456789abcdef","pusher":"ci"}'


async def _drive(url: str, headers: dict[str, str]) -> tuple[float, Latency]:
    samples: list[float] = []
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        async def warm():
            async with http.post(url, data=BODY) as resp:
                assert resp.status == 200, await resp.text()
        await asyncio.gather(*(warm() for _ in range(CONCURRENCY)))
        deadline = time.perf_counter() + SECONDS

        async def loop():
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with http.post(url, data=BODY) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                samples.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(CONCURRENCY)))
        return len(samples) / (time.perf_counter() - started), Latency(samples)


@contextlib.asynccontextmanager
async def _echo_behind_envoy():
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
                    async with http.get(url) as resp:
                        if resp.status == 200:
                            break
                    await asyncio.sleep(0.1)
            yield f"http://127.0.0.1:{http_port}"
        finally:
            await envoy.stop()
            echo.terminate()
            await echo.wait()


async def run(backend: str) -> None:
    async with _echo_behind_envoy() as echo_url:
        rate, latency = await _drive(f"{echo_url}/api/v2/webhook?ref=x", {})
        report("baseline: bare grpc.aio echo behind Envoy", f"{rate:7.0f} req/s  {latency}")
    with running_stack(backend) as stack:
        tenant = str(uuid.uuid4())
        headers = {"Authorization": f"Bearer {stack.bootstrap_token}", "X-Org-Id": tenant,
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async with http.post(f"{stack.rest}/api/v2/workflows", json={
                    "name": "ingest", "triggers": {"webhook": {"enabled": True}},
                    "tasks": [{"name": "wait", "type": "eventwait", "topic": "done"}]}) as resp:
                workflow = (await resp.json())["id"]
        ours, latency = await _drive(f"{stack.rest}/api/v2/webhook?ref={workflow}", headers)
        report("durable ingest: POST /api/v2/webhook",
               f"{ours:7.0f} req/s  {latency}  = {ours / rate:5.1%} of baseline")

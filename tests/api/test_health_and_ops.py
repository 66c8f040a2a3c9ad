"""Health, reflection, metrics and shutdown of a real stack (SPEC §3, §9)."""

from __future__ import annotations

import json
import secrets
import socket
import stat
import time
import urllib.error
import urllib.request

import aiohttp
from dbutil import create_pg_database, drop_pg_database
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from harness import Stack, wait_for

from flowhooks_server.api.policies import SERVICE_NAMES


async def test_healthz_is_200_while_serving(rest):
    status, _ = await rest.call("GET", "/healthz")
    assert status == 200


async def test_grpc_health_serving_overall_and_per_service(channel):
    stub = health_pb2_grpc.HealthStub(channel)
    for service in ("", *SERVICE_NAMES):
        reply = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


async def test_reflection_lists_every_service(channel):
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    async for reply in stub.ServerReflectionInfo(iter([request])):
        names = {s.name for s in reply.list_services_response.service}
        break
    assert set(SERVICE_NAMES) <= names
    assert "grpc.health.v1.Health" in names


def test_metrics_endpoint_counts_requests(stack):
    urllib.request.urlopen(f"{stack.rest}/healthz").read()
    body = urllib.request.urlopen(f"http://127.0.0.1:{stack.metrics_port}/metrics").read()
    assert b"flowhooks_requests_total" in body
    assert b"flowhooks_database_up 1.0" in body


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_database_loss_turns_health_not_serving(tmp_path):
    """PostgreSQL goes away under a running stack: gRPC health and /healthz follow it."""
    url = create_pg_database()
    stack = Stack(url, tmp_path, "fh_boot_" + secrets.token_hex(8))
    stack.start()
    try:
        drop_pg_database(url)
        async with stack.channel() as channel:
            stub = health_pb2_grpc.HealthStub(channel)

            async def not_serving():
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=""))
                return reply.status == health_pb2.HealthCheckResponse.NOT_SERVING

            await wait_for(not_serving, timeout_s=15)
            per_service = await stub.Check(
                health_pb2.HealthCheckRequest(service="flowhooks.v1.TokenService"))
            assert per_service.status == health_pb2.HealthCheckResponse.NOT_SERVING

        async with aiohttp.ClientSession() as session:
            async def healthz_down():
                async with session.get(f"{stack.rest}/healthz") as resp:
                    return resp.status == 503

            await wait_for(healthz_down, timeout_s=15)
            async with session.get(f"{stack.rest}/api/v2/tokens",
                                   headers={"Authorization": "Bearer x"}) as resp:
                assert resp.status == 503
                assert (await resp.json())["code"] == 14
    finally:
        stack.stop()


def test_sigterm_stops_server_and_envoy(tmp_path, fresh_database_url):
    stack = Stack(fresh_database_url, tmp_path, "fh_boot_" + secrets.token_hex(8))
    stack.start()
    assert _port_open(stack.http_port) and _port_open(stack.grpc_port)
    assert stack.stop() == 0
    assert not _port_open(stack.http_port)
    assert not _port_open(stack.grpc_port)
    assert not _port_open(stack.admin_port)


def _ready_token(stack: Stack, after: int = 0) -> str:
    """The token of the `export FLOWHOOKS_TOKEN=...` ready line printed after `after`."""
    deadline = time.monotonic() + 10  # /healthz may answer a moment before the print
    while True:
        for line in stack.logs()[after:].splitlines():
            if line.startswith("export FLOWHOOKS_TOKEN="):
                return line.split("=", 1)[1]
        assert time.monotonic() < deadline, "no ready line"
        time.sleep(0.05)


def _token_works(stack: Stack, token: str) -> bool:
    req = urllib.request.Request(f"{stack.rest}/api/v2/tokens",
                                 headers={"Authorization": f"Bearer {token}"})
    try:
        return urllib.request.urlopen(req).status == 200
    except urllib.error.HTTPError:
        return False


def test_dev_token_is_stable_across_restarts(tmp_path, fresh_database_url):
    stack = Stack(fresh_database_url, tmp_path, "")
    stack.start()
    try:
        out = stack.logs()
        token = _ready_token(stack)
        assert out.count(token) == 1  # the ready line only, never a log line
        assert _token_works(stack, token)
        for text in (f"http://127.0.0.1:{stack.http_port}", f"127.0.0.1:{stack.grpc_port}",
                     f"http://127.0.0.1:{stack.http_port}/console/",
                     f"http://127.0.0.1:{stack.admin_port}", "insecure targets:  refused",
                     "FLOWHOOKS_ALLOW_INSECURE_TARGETS=1"):
            assert text in out, text
        kept = tmp_path / "var" / "dev-admin-token"
        assert kept.read_text().strip() == token
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    finally:
        stack.stop()
    printed = len(stack.logs())
    stack.start()
    try:
        assert _ready_token(stack, printed) == token  # the exported $FLOWHOOKS_TOKEN works on
        assert _token_works(stack, token)
    finally:
        stack.stop()
    # A kept token that this database does not know (a new database, a revoked token) is
    # replaced, and the old rows do not pile up.
    kept.write_text("fh_not-a-token-of-this-database\n")
    printed = len(stack.logs())
    stack.start()
    try:
        fresh = _ready_token(stack, printed)
        assert fresh != token and _token_works(stack, fresh) and not _token_works(stack, token)
        assert kept.read_text().strip() == fresh
        status, tokens = _list_tokens(stack, fresh)
        assert [t["name"] for t in tokens].count("dev-admin") == 1
    finally:
        stack.stop()


def _list_tokens(stack: Stack, token: str):
    req = urllib.request.Request(f"{stack.rest}/api/v2/tokens?limit=500",
                                 headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req) as resp:
        return resp.status, json.loads(resp.read())["tokens"]


def test_bootstrap_token_works_and_is_never_printed(tmp_path, fresh_database_url):
    value = "fh_env_" + secrets.token_hex(8)
    stack = Stack(fresh_database_url, tmp_path, value)
    stack.start()
    try:
        req = urllib.request.Request(f"{stack.rest}/api/v2/tokens",
                                     headers={"Authorization": f"Bearer {value}"})
        assert urllib.request.urlopen(req).status == 200
    finally:
        stack.stop()
    assert value not in stack.logs()

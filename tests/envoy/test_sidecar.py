"""The Envoy sidecar for real: envoy/envoy.yaml.in rendered by flowhooks_server.sidecar, the real
Envoy binary, and a throwaway grpc.aio upstream with just enough of the API to observe what
Envoy does with requests, responses, errors, streams, health and body size."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import time

import aiohttp
import grpc
import pytest
import pytest_asyncio
from flowhooks.v1 import (
    delivery_logs_pb2,
    delivery_logs_pb2_grpc,
    inbound_pb2_grpc,
    tokens_pb2,
    tokens_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from google.api import annotations_pb2, httpbody_pb2
from google.protobuf import any_pb2, descriptor_pb2, empty_pb2, timestamp_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from flowhooks_server.sidecar import EnvoyError, EnvoyProcess, render_config
from flowhooks_server.sidecar.envoy import DESCRIPTOR, envoy_descriptor

MiB = 1 << 20

# RevokeToken's id picks the error to answer with.
ERRORS = {
    "invalid-argument": code_pb2.INVALID_ARGUMENT,
    "unauthenticated": code_pb2.UNAUTHENTICATED,
    "permission-denied": code_pb2.PERMISSION_DENIED,
    "not-found": code_pb2.NOT_FOUND,
    "already-exists": code_pb2.ALREADY_EXISTS,
    "aborted": code_pb2.ABORTED,
    "failed-precondition": code_pb2.FAILED_PRECONDITION,
    "resource-exhausted": code_pb2.RESOURCE_EXHAUSTED,
    "unavailable": code_pb2.UNAVAILABLE,
}
WATCH_GAP_S = 0.4
CREATED = timestamp_pb2.Timestamp(seconds=1767225600)  # 2026-01-01T00:00:00Z


def _metadata(context) -> dict[str, str]:
    return {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}


class Tokens(tokens_pb2_grpc.TokenServiceServicer):
    async def ListTokens(self, request, context):
        md = _metadata(context)
        return tokens_pb2.ListTokensResponse(
            tokens=[
                tokens_pb2.Token(
                    id=f"limit={request.limit}",
                    tenant=request.tenant,
                    name=md.get("x-org-id", ""),
                    permissions=sorted(f"{k}={v}" for k, v in md.items()),
                    created_at=CREATED,
                )
            ]
        )

    async def RevokeToken(self, request, context):
        code = ERRORS.get(request.id)
        if code is None:
            return empty_pb2.Empty()
        status = status_pb2.Status(code=code, message=f"boom: {request.id}")
        if code == code_pb2.INVALID_ARGUMENT:
            detail = any_pb2.Any()
            detail.Pack(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="name", description="must not be empty"
                        )
                    ]
                )
            )
            status.details.append(detail)
        await context.abort_with_status(rpc_status.to_status(status))

    # CreateToken is left to the base class: UNIMPLEMENTED.


class Inbound(inbound_pb2_grpc.InboundServiceServicer):
    def __init__(self):
        self.webhook_calls = 0

    async def AcceptWebhook(self, request, context):
        self.webhook_calls += 1
        md = _metadata(context)
        echo = {
            "ref": request.ref,
            "workflow": request.workflow,
            "accessToken": request.access_token,
            "contentType": request.body.content_type,
            "length": len(request.body.data),
            "sha256": hashlib.sha256(request.body.data).hexdigest(),
            "metadata": md,
        }
        return httpbody_pb2.HttpBody(
            content_type="application/json", data=json.dumps(echo).encode()
        )

    async def Callback(self, request, context):
        if request.access_token != "tok-cb" or request.ref != "run-1" or request.topic != "t":
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, repr(request))
        return empty_pb2.Empty()


class Webhooks(webhooks_pb2_grpc.WebhookServiceServicer):
    async def GetWebhook(self, request, context):
        return webhooks_pb2.Webhook(locator=request.webhook, name=f"get:{request.tenant}")

    async def ListWebhooks(self, request, context):
        if request.tenant == "big":  # a page bigger than Envoy's default 1 MiB buffers
            hooks = [webhooks_pb2.Webhook(locator=f"wh_{i}", name="x" * 4000) for i in range(800)]
        else:
            hooks = [
                webhooks_pb2.Webhook(locator=f"wh_{i}", name=f'list:{request.tenant} "[{{,')
                for i in range(request.count or 2)
            ]
        return webhooks_pb2.ListWebhooksResponse(webhooks=hooks, next_page_token="next]}")


class Logs(delivery_logs_pb2_grpc.DeliveryLogServiceServicer):
    async def ListAllLogs(self, request, context):
        return delivery_logs_pb2.ListDeliveryLogsResponse()

    async def WatchLogs(self, request, context):
        for i in range(3):
            if i:
                await asyncio.sleep(WATCH_GAP_S)  # entries that come apart: what is tested
            if (request.webhook_id, i) in (("boom", 1), ("gone", 0)):
                await context.abort(grpc.StatusCode.NOT_FOUND, "webhook went away")
            yield delivery_logs_pb2.DeliveryLogEntry(
                id=f"log_{i}",
                webhook_id=request.webhook_id,
                event_type=request.event_type,
                attempt=i + 1,
                status="succeeded",
                created_at=CREATED,
                cursor=f"c{i}",
            )


class FakeUpstream:
    """The server; `health` flips SERVING/NOT_SERVING for "" like the real one does."""

    def __init__(self):
        self.inbound = Inbound()
        self.health = health.aio.HealthServicer()
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> int:
        self.server = grpc.aio.server()
        tokens_pb2_grpc.add_TokenServiceServicer_to_server(Tokens(), self.server)
        inbound_pb2_grpc.add_InboundServiceServicer_to_server(self.inbound, self.server)
        webhooks_pb2_grpc.add_WebhookServiceServicer_to_server(Webhooks(), self.server)
        delivery_logs_pb2_grpc.add_DeliveryLogServiceServicer_to_server(Logs(), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.set_serving(True)
        await self.server.start()
        return self.port

    async def set_serving(self, serving: bool) -> None:
        status = health_pb2.HealthCheckResponse
        await self.health.set("", status.SERVING if serving else status.NOT_SERVING)

    async def stop(self) -> None:
        if self.server:
            await self.server.stop(grace=None)
            self.server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_status(http: aiohttp.ClientSession, url: str, want: int, within: float = 5.0):
    deadline = time.monotonic() + within
    while True:
        async with http.get(url) as resp:
            if resp.status == want:
                return
            got = resp.status
        if time.monotonic() > deadline:
            raise AssertionError(f"{url}: still {got}, wanted {want} after {within}s")
        await asyncio.sleep(0.05)


async def start_envoy(grpc_port: int, log_path) -> tuple[EnvoyProcess, str]:
    http_port, admin_port = free_port(), free_port()
    envoy = EnvoyProcess(admin_port, log_path=log_path)
    await envoy.start(render_config(grpc_port, http_port, admin_port))
    try:
        await envoy.wait_ready(timeout=15)
    except BaseException:
        await envoy.stop()
        raise
    return envoy, f"http://127.0.0.1:{http_port}"


@pytest_asyncio.fixture(scope="module")
async def upstream():
    up = FakeUpstream()
    await up.start()
    yield up
    await up.stop()


@pytest_asyncio.fixture(scope="module")
async def http():
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        yield session


@pytest_asyncio.fixture(scope="module")
async def base(upstream, http, tmp_path_factory):
    envoy, url = await start_envoy(upstream.port, tmp_path_factory.mktemp("envoy") / "envoy.log")
    try:
        await wait_status(http, f"{url}/healthz", 200)
        yield url
    finally:
        await envoy.stop()


# --- rendering -------------------------------------------------------------------------


def test_render_config_fills_every_placeholder():
    text = render_config(50051, 8080, 9901)
    assert "${" not in text
    assert "port_value: 8080" in text and "port_value: 9901" in text
    assert "port_value: 50051" in text


def test_envoy_descriptor_strips_response_body_and_adds_error_details():
    blob, unwrap = envoy_descriptor(DESCRIPTOR.read_bytes())
    assert unwrap == {
        "/flowhooks.v1.DeliveryLogService/ListWebhookLogs": "entries",
        "/flowhooks.v1.DeliveryLogService/ListAllLogs": "entries",
        "/flowhooks.v1.DivertedEventService/ListDivertedEvents": "divertedEvents",
        "/flowhooks.v1.EventService/ListEventTypes": "eventTypes",
        "/flowhooks.v1.SubscriptionService/ListSubscriptions": "subscriptions",
        "/flowhooks.v1.WebhookService/ListWebhooks": "webhooks",
    }
    fds = descriptor_pb2.FileDescriptorSet.FromString(blob)
    assert "google/rpc/error_details.proto" in {f.name for f in fds.file}
    for f in fds.file:
        for service in f.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                assert not rule.response_body, method.name


async def test_bad_config_fails_fast_with_the_log(tmp_path):
    envoy = EnvoyProcess(free_port(), log_path=tmp_path / "envoy.log")
    await envoy.start("static_resources: {clusters: [{name: x, type: NOPE}]}\n")
    try:
        with pytest.raises(EnvoyError, match="exited with 1"):
            await envoy.wait_ready(timeout=15)
    finally:
        assert await envoy.stop() == 1
    assert envoy.config_path is not None and not envoy.config_path.exists()


# --- transcoding ------------------------------------------------------------------------


async def test_rest_to_grpc_camel_case_and_headers_as_metadata(base, http):
    async with http.get(
        f"{base}/api/v2/tokens?tenant=t1&limit=5&notAField=1",
        headers={"X-Org-Id": "org-9", "Authorization": "Bearer abc"},
    ) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/json"
        token = (await resp.json())["tokens"][0]
    assert token["tenant"] == "t1" and token["id"] == "limit=5"
    assert token["name"] == "org-9"  # X-Org-Id arrived as metadata x-org-id
    assert "authorization=Bearer abc" in token["permissions"]
    assert token["createdAt"] == "2026-01-01T00:00:00Z"
    assert "created_at" not in token
    assert token["token"] == ""  # always_print_primitive_fields


async def test_http_body_gets_raw_bytes_and_access_token_query(base, http, upstream):
    raw = b'{"b": 2,   "a": [1]}\n'
    async with http.post(
        f"{base}/api/v2/webhook?ref=wf1&access_token=tok-1",
        data=raw,
        headers={"Content-Type": "application/json", "X-GitHub-Event": "push"},
    ) as resp:
        assert resp.status == 200
        echo = await resp.json()
    assert echo["ref"] == "wf1" and echo["accessToken"] == "tok-1"
    assert echo["contentType"] == "application/json"
    assert echo["sha256"] == hashlib.sha256(raw).hexdigest()
    assert echo["metadata"]["x-github-event"] == "push"
    assert "content-type" not in echo["metadata"]  # it went into HttpBody.content_type

    async with http.get(f"{base}/api/v2/callback?ref=run-1&topic=t&access_token=tok-cb") as resp:
        assert resp.status == 200, await resp.text()
        assert await resp.json() == {}


@pytest.mark.parametrize(
    ("case", "http_status"),
    [
        ("invalid-argument", 400),
        ("unauthenticated", 401),
        ("permission-denied", 403),
        ("not-found", 404),
        ("already-exists", 409),
        ("aborted", 409),
        ("failed-precondition", 400),
        ("resource-exhausted", 429),
        ("unavailable", 503),
    ],
)
async def test_grpc_errors_map_to_spec_status_and_json(base, http, case, http_status):
    async with http.delete(f"{base}/api/v2/tokens/{case}") as resp:
        assert resp.status == http_status
        assert resp.content_type == "application/json"
        body = await resp.json()
    assert body["code"] == ERRORS[case]
    assert body["message"] == f"boom: {case}"
    if case == "invalid-argument":
        (detail,) = body["details"]
        assert detail["@type"] == "type.googleapis.com/google.rpc.BadRequest"
        assert detail["fieldViolations"][0]["field"] == "name"
    else:
        assert body["details"] == []


async def test_unimplemented_is_501(base, http):
    async with http.post(f"{base}/api/v2/tokens", json={"name": "x"}) as resp:
        assert resp.status == 501
        assert (await resp.json())["code"] == code_pb2.UNIMPLEMENTED


async def test_envoy_own_errors_use_the_error_shape(base, http):
    async with http.post(
        f"{base}/api/v2/tokens", data=b"{not json", headers={"Content-Type": "application/json"}
    ) as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["code"] == code_pb2.INVALID_ARGUMENT and body["message"]
    async with http.get(f"{base}/no/such/path") as resp:
        assert resp.status == 404
        assert (await resp.json())["code"] == code_pb2.NOT_FOUND


async def test_literal_segment_beats_variable(base, http):
    async with http.get(f"{base}/event/t1/webhooks/list") as resp:
        assert resp.status == 200
        hooks = await resp.json()
    assert isinstance(hooks, list) and hooks[0]["name"].startswith("list:t1")
    async with http.get(f"{base}/event/t1/webhooks/wh_9") as resp:
        assert await resp.json() == {
            "locator": "wh_9",
            "name": "get:t1",
            "enabled": False,
            "suspended": False,
            "eventTypes": [],
            "format": "",
            "ordered": False,
        }


async def test_response_body_lists_are_json_arrays(base, http):
    async with http.get(f"{base}/event/t1/webhooks/list?count=3") as resp:
        assert resp.status == 200
        raw = await resp.read()
        assert int(resp.headers["Content-Length"]) == len(raw)
    hooks = json.loads(raw)
    assert [h["locator"] for h in hooks] == ["wh_0", "wh_1", "wh_2"]
    assert hooks[0]["name"] == 'list:t1 "[{,'  # JSON punctuation inside strings survives

    async with http.get(f"{base}/webhooks/logs/all") as resp:
        assert await resp.json() == []
    async with http.get(f"{base}/event/big/webhooks/list") as resp:  # ~3.2 MB
        assert resp.status == 200
        assert len(await resp.json()) == 800


# --- streaming ---------------------------------------------------------------------------


async def test_watch_streams_newline_delimited_as_entries_come(base, http):
    for path, webhook in [
        ("/webhooks/logs/watch?eventType=workflow.completed&cursor=c9", ""),
        ("/webhooks/wh_1/logs/watch", "wh_1"),
    ]:
        start = time.monotonic()
        arrivals, entries = [], []
        async with http.get(base + path) as resp:
            assert resp.status == 200
            async for line in resp.content:
                arrivals.append(time.monotonic() - start)
                entries.append(json.loads(line))
        assert [e["id"] for e in entries] == ["log_0", "log_1", "log_2"]
        assert {e["webhookId"] for e in entries} == {webhook}
        # Each line came as written, not all at the end.
        assert arrivals[0] < arrivals[-1] - 1.5 * WATCH_GAP_S


async def test_watch_error_before_first_entry_is_an_http_error(base, http):
    async with http.get(f"{base}/webhooks/gone/logs/watch") as resp:
        assert resp.status == 404
        assert await resp.json() == {"code": 5, "message": "webhook went away", "details": []}


async def test_watch_error_after_first_entry_ends_with_trailers(base):
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /webhooks/boom/logs/watch HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n"
        b"Connection: close\r\n\r\n"
    )
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")  # the status was sent with the first entry
    assert b'"id":"log_0"' in body and b"log_1" not in body
    # The error only shows as chunked trailers (clients that ignore them see a clean end).
    assert body.endswith(b"0\r\ngrpc-status: 5\r\ngrpc-message: webhook went away\r\n\r\n")


# --- limits -----------------------------------------------------------------------------


async def test_body_cap_is_1_mib(base, http, upstream):
    url = f"{base}/api/v2/webhook?ref=wf1"
    headers = {"Content-Type": "application/octet-stream"}
    async with http.post(url, data=b"x" * MiB, headers=headers) as resp:
        assert resp.status == 200
        assert (await resp.json())["length"] == MiB

    calls = upstream.inbound.webhook_calls
    async with http.post(url, data=b"x" * (MiB + 1), headers=headers) as resp:
        assert resp.status == 413
        assert (await resp.json())["code"] == code_pb2.RESOURCE_EXHAUSTED
    assert upstream.inbound.webhook_calls == calls  # never reached the server


# --- health -----------------------------------------------------------------------------


async def test_healthz_follows_upstream_health(http, tmp_path):
    up = FakeUpstream()
    port = await up.start()
    envoy, url = await start_envoy(port, tmp_path / "envoy.log")
    try:
        healthz = f"{url}/healthz"
        await wait_status(http, healthz, 200, within=2)
        await up.set_serving(False)
        await wait_status(http, healthz, 503, within=3)
        await up.set_serving(True)
        await wait_status(http, healthz, 200, within=3)
        await up.stop()
        await wait_status(http, healthz, 503, within=3)
        async with http.get(f"{url}/api/v2/tokens") as resp:
            assert resp.status == 503
            assert (await resp.json())["code"] == code_pb2.UNAVAILABLE
        await up.start(port)
        await wait_status(http, healthz, 200, within=3)
    finally:
        assert await envoy.stop() == 0
        await up.stop()
    assert envoy.returncode == 0 and not envoy.running

"""Every RPC is authorised by an explicit policy, and one without is refused (SPEC §5).

- The generated descriptors (every flowhooks.v1 *_pb2 module in generated/) are walked: each
  RPC of each service has a policy, and each policy names an RPC that exists.
- The interceptor, on a small in-process grpc.aio server with generic handlers, fails closed:
  a served method without a policy is refused with PERMISSION_DENIED (logged and counted)
  whatever its kind (unary or streaming, either side), and its behaviour never runs; so is a
  method with a policy whose requests stream. Health and reflection are the public list.
- The request checks run before any servicer: a NUL in a string field is INVALID_ARGUMENT
  naming the field.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import uuid
from collections import namedtuple

import flowhooks.v1
import grpc
import pytest
from flowhooks.v1 import workflows_pb2
from google.rpc import error_details_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from flowhooks_server import metrics
from flowhooks_server.api.interceptor import ApiInterceptor
from flowhooks_server.api.policies import POLICIES, PUBLIC_METHODS, SERVICE_NAMES
from flowhooks_server.domain.auth import Principal

TENANT = str(uuid.uuid4())
TOKEN = "fh_good"


def generated_services():
    """(service full name, method name) of every RPC in the generated flowhooks.v1 stubs."""
    for info in pkgutil.iter_modules(flowhooks.v1.__path__):
        if not info.name.endswith("_pb2"):
            continue
        module = importlib.import_module(f"flowhooks.v1.{info.name}")
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield service.full_name, method.name


RPCS = sorted(set(generated_services()))


def test_the_walk_finds_the_services():
    services = {service for service, _ in RPCS}
    assert {"flowhooks.v1.WorkflowService", "flowhooks.v1.InboundService",
            "flowhooks.v1.WebhookService"} <= services
    assert len(RPCS) >= 30


@pytest.mark.parametrize(("service", "method"), RPCS, ids=[f"{s}/{m}" for s, m in RPCS])
def test_every_rpc_has_a_policy(service, method):
    assert f"/{service}/{method}" in POLICIES


def test_every_policy_names_an_rpc_and_every_service_is_served():
    assert set(POLICIES) == {f"/{s}/{m}" for s, m in RPCS}
    assert set(SERVICE_NAMES) == {s for s, _ in RPCS}
    assert not set(POLICIES) & PUBLIC_METHODS


# -- the interceptor on a live in-process server ----------------------------------------------

ran: list[str] = []


async def authenticate(token: str):
    return Principal("tok_test", TENANT, frozenset({"*"})) if token == TOKEN else None


def _behaviours(name: str):
    async def unary(request, context):
        ran.append(name)
        return workflows_pb2.ListWorkflowsResponse(next_page_token=name)

    async def server_stream(request, context):
        ran.append(name)
        yield workflows_pb2.ListWorkflowsResponse(next_page_token=name)

    async def client_stream(requests, context):
        ran.append(name)
        return workflows_pb2.ListWorkflowsResponse(next_page_token=name)

    async def both_stream(requests, context):
        ran.append(name)
        yield workflows_pb2.ListWorkflowsResponse(next_page_token=name)

    return unary, server_stream, client_stream, both_stream


def handlers(name: str) -> dict:
    """One method handler of each kind, named `<name>Unary`, `<name>ServerStream`, ..."""
    deserialize = workflows_pb2.ListWorkflowsRequest.FromString
    serialize = workflows_pb2.ListWorkflowsResponse.SerializeToString
    unary, server_stream, client_stream, both_stream = _behaviours(name)
    return {
        f"{name}Unary": grpc.unary_unary_rpc_method_handler(unary, deserialize, serialize),
        f"{name}ServerStream": grpc.unary_stream_rpc_method_handler(
            server_stream, deserialize, serialize),
        f"{name}ClientStream": grpc.stream_unary_rpc_method_handler(
            client_stream, deserialize, serialize),
        f"{name}BothStream": grpc.stream_stream_rpc_method_handler(
            both_stream, deserialize, serialize),
    }


KINDS = ("Unary", "ServerStream", "ClientStream", "BothStream")


@pytest.fixture
async def server_channel():
    server = grpc.aio.server(interceptors=[ApiInterceptor(authenticate)])
    server.add_generic_rpc_handlers([
        # A service of our package nobody wrote a policy for, and a new method on a real one.
        grpc.method_handlers_generic_handler("flowhooks.v1.ShadowService", handlers("Shadow")),
        grpc.method_handlers_generic_handler("flowhooks.v1.WorkflowService", {
            **handlers("Backdoor"),
            # A method that has a policy but whose requests stream.
            "ListWorkflows": handlers("Streamed")["StreamedBothStream"],
            "GetWorkflow": grpc.unary_unary_rpc_method_handler(
                _behaviours("Get")[0], workflows_pb2.GetWorkflowRequest.FromString,
                workflows_pb2.ListWorkflowsResponse.SerializeToString),
        }),
    ])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    ran.clear()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(None)


async def call(channel, method: str, kind: str, request=None, token=TOKEN):
    request = request or workflows_pb2.ListWorkflowsRequest()
    metadata = [("authorization", f"Bearer {token}")] if token else []
    serialize = type(request).SerializeToString
    deserialize = workflows_pb2.ListWorkflowsResponse.FromString
    if kind == "Unary":
        return await channel.unary_unary(method, serialize, deserialize)(request,
                                                                          metadata=metadata)
    if kind == "ServerStream":
        return [r async for r in channel.unary_stream(method, serialize, deserialize)(
            request, metadata=metadata)]
    if kind == "ClientStream":
        return await channel.stream_unary(method, serialize, deserialize)(
            iter([request]), metadata=metadata)
    return [r async for r in channel.stream_stream(method, serialize, deserialize)(
        iter([request]), metadata=metadata)]


def refused_count(method: str) -> float:
    return metrics.REQUESTS.labels(method=method, code="PERMISSION_DENIED")._value.get()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["/flowhooks.v1.ShadowService/Shadow",
                                    "/flowhooks.v1.WorkflowService/Backdoor"])
async def test_a_method_without_policy_is_refused(server_channel, caplog, method, kind):
    method = method + kind
    before = refused_count(method)
    for token in (TOKEN, None):  # with a token that could do anything, and with none
        with caplog.at_level(logging.ERROR, logger="flowhooks.rpc"):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call(server_channel, method, kind, token=token)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "no authorization policy" in err.value.details()
    assert ran == []
    assert refused_count(method) == before + 2
    logged = [r for r in caplog.records if getattr(r, "rpc", None) == method]
    assert len(logged) == 2 and all(r.code == "PERMISSION_DENIED" for r in logged)


async def test_a_policy_method_whose_requests_stream_is_refused(server_channel):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(server_channel, "/flowhooks.v1.WorkflowService/ListWorkflows", "BothStream")
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ran == []


async def test_a_method_with_a_policy_is_authenticated_then_served(server_channel):
    method = "/flowhooks.v1.WorkflowService/GetWorkflow"
    request = workflows_pb2.GetWorkflowRequest(id="wf_1")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(server_channel, method, "Unary", request, token=None)
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED and ran == []
    response = await call(server_channel, method, "Unary", request)
    assert response.next_page_token == "Get" and ran == ["Get"]


async def test_a_nul_is_refused_before_the_servicer_runs(server_channel):
    request = workflows_pb2.GetWorkflowRequest(id="wf_\x00")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(server_channel, "/flowhooks.v1.WorkflowService/GetWorkflow", "Unary", request)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    [detail] = rpc_status.from_call(err.value).details
    bad = error_details_pb2.BadRequest()
    detail.Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["id"]
    assert ran == []


async def test_health_is_public(server_channel):
    stub = health_pb2_grpc.HealthStub(server_channel)
    answer = await stub.Check(health_pb2.HealthCheckRequest())
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


async def test_an_unknown_method_is_unimplemented(server_channel):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call(server_channel, "/flowhooks.v1.NoSuchService/Nothing", "Unary")
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED


# -- intercept_service called directly ---------------------------------------------------------

Details = namedtuple("Details", "method invocation_metadata")


@pytest.mark.parametrize("kind", KINDS)
async def test_intercept_service_never_returns_the_raw_handler_without_policy(kind):
    interceptor = ApiInterceptor(authenticate)
    raw = handlers("Fake")[f"Fake{kind}"]

    async def continuation(details):
        return raw

    wrapped = await interceptor.intercept_service(
        continuation, Details("/flowhooks.v1.WorkflowService/Fake", ()))
    assert wrapped is not raw
    assert (wrapped.request_streaming, wrapped.response_streaming) == (
        raw.request_streaming, raw.response_streaming)
    for public in sorted(PUBLIC_METHODS):
        assert await interceptor.intercept_service(continuation, Details(public, ())) is raw

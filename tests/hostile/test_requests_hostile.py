"""Hostile requests through the real stack (Envoy + server), on SQLite and PostgreSQL: poison
cases found once, kept as named regressions (SPEC §10). Each case checks the answer, that the
error names the field, that nothing was created or changed, and that the service still serves
another tenant afterwards.

- ReDoS: a `matches` condition runs on RE2 (linear time); what RE2 cannot run is 400.
- Reserved and malformed custom headers on both webhook surfaces (SPEC §7).
- A NUL character in any string field: 400 naming it (SPEC §4), never 500, never stored.
- Over-long headers: 400 for an Idempotency-Key over 255, 431 for a block Envoy will not take;
  never 429.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from unittest.mock import ANY

import grpc
import pytest
from flowhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenancy import field_violations

WORKFLOWS = "/api/v2/workflows"
EVIL = "^(a+)+$"  # catastrophic backtracking in Python's re: 2^n steps on "a" * n + "!"
NUL_DESCRIPTION = "must not contain a NUL character (\\u0000)"


def org(tenant) -> dict:
    return {"X-Org-Id": tenant.id}


def workflow_body(**triggers) -> dict:
    return {"name": "hostile-" + uuid.uuid4().hex[:8],
            "triggers": triggers or {"manual": {"enabled": True}},
            "tasks": [{"name": "wait", "type": "eventwait", "topic": "go"}]}


def matching(pattern: str, field: str = "$.s") -> dict:
    return {"webhook": {"enabled": True, "conditions": [
        {"field": field, "operation": "matches", "value": pattern}]}}


async def create_workflow(rest, tenant, body=None) -> dict:
    status, created = await rest.call("POST", WORKFLOWS, token=tenant.token, headers=org(tenant),
                                      json=body or workflow_body())
    assert status == 200, created
    return created


async def workflow_ids(rest, tenant) -> list[str]:
    status, body = await rest.call("GET", WORKFLOWS, token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return [w["id"] for w in body["workflows"]]


async def runs_of(rest, tenant, workflow_id) -> list[dict]:
    status, body = await rest.call("GET", f"/api/v2/workflowruns?workflow={workflow_id}",
                                   token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return body["workflowRuns"]


async def socotra_ids(rest, tenant) -> list[str]:
    status, body = await rest.call("GET", f"/event/{tenant.id}/webhooks/list", token=tenant.token)
    assert status == 200, body
    return [w["locator"] for w in body]


async def elan_ids(rest, tenant) -> list[str]:
    status, body = await rest.call("GET", "/webhooks", token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return [w["id"] for w in body]


async def assert_serves(rest, tenant) -> None:
    """The service still works for a tenant that did nothing wrong: a write and a read."""
    created = await create_workflow(rest, tenant)
    assert created["id"] in await workflow_ids(rest, tenant)


def assert_refused(status, body, field: str, code: int = 400) -> None:
    assert status == code, body
    assert field in field_violations(body), body


# -- ReDoS ------------------------------------------------------------------------------------


async def test_evil_pattern_runs_linearly_and_other_tenants_are_served(rest, tenant,
                                                                      other_tenant):
    created = await create_workflow(rest, tenant, workflow_body(**matching(EVIL)))
    workflow_id = created["id"]
    assert created["triggers"]["webhook"]["conditions"][0]["value"] == EVIL

    async def evil():
        return await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}", token=tenant.token,
                               data=json.dumps({"s": "a" * 5000 + "!"}).encode())

    async def bystander():
        # Pacing, not synchronisation: sent just after the evil request so that both are in
        # the server together; what is checked (the bystander's latency) holds either way.
        await asyncio.sleep(0.05)
        started = time.monotonic()
        status, body = await rest.call("GET", WORKFLOWS, token=other_tenant.token,
                                       headers=org(other_tenant))
        return status, time.monotonic() - started

    (status, answer), (other_status, other_s) = await asyncio.wait_for(
        asyncio.gather(evil(), bystander()), timeout=30)
    assert status == 200 and "id" not in answer and "$.s" in answer["reason"], answer
    assert other_status == 200 and other_s < 2.0, other_s
    assert await runs_of(rest, tenant, workflow_id) == []
    # and the pattern still matches what it should
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                  token=tenant.token, data=b'{"s": "aaaa"}')
    assert status == 200 and run["id"], run
    await assert_serves(rest, other_tenant)


@pytest.mark.parametrize("pattern", [r"(a)\1", "(?=a)b", "(?<!a)b", "(?>a+)b", "a++",
                                     "a{1001}", "x" * 1025],
                         ids=["backreference", "lookahead", "lookbehind", "atomic",
                              "possessive", "repeat-over-1000", "too-long"])
async def test_pattern_re2_cannot_run_is_400_at_create_and_update(rest, tenant, other_tenant,
                                                                  pattern):
    field = "triggers.webhook.conditions[0].value"
    status, body = await rest.call("POST", WORKFLOWS, token=tenant.token, headers=org(tenant),
                                   json=workflow_body(**matching(pattern)))
    assert_refused(status, body, field)
    assert await workflow_ids(rest, tenant) == []

    created = await create_workflow(rest, tenant, workflow_body(**matching("^a")))
    path = f"{WORKFLOWS}/{created['id']}"
    status, body = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                   json={"triggers": matching(pattern)})
    assert_refused(status, body, field)
    status, got = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
    assert status == 200 and got == created
    await assert_serves(rest, other_tenant)


# -- custom headers on both webhook surfaces ----------------------------------------------

RESERVED = ["Transfer-Encoding", "transfer-encoding", "Content-Encoding", "Connection",
            "Keep-Alive", "Expect", "Upgrade", "TE", "Trailer", "Proxy-Authorization",
            "proxy-connection", "Host", "Content-Length", "webhook-timestamp", "User-Agent"]
BAD_NAMES = ["X A", "X:A", "X-\u00e9", "(x)", "X/A"]
BAD_VALUES = ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\x01b", "a\x7fb"]
SOCOTRA = {"name": "ops", "enabled": True,
           "endpoint": {"url": "https://hooks.example.com/in", "headers": {"X-Team": ["ops"]}},
           "eventTypes": ["workflow.completed"]}
ELAN = {"name": "bridge", "url": "https://hooks.example.com/elan", "eventTypes": ["workflow.*"],
        "headers": {"X-Source": "flowhooks"}}


def header_cases():
    cases = [(name, "chunked") for name in RESERVED]
    cases += [(name, "v") for name in BAD_NAMES]
    cases += [("X-Fine", value) for value in BAD_VALUES]
    return cases


HEADER_CASES = header_cases()
HEADER_IDS = [f"{n!r}:{v!r}" for n, v in HEADER_CASES]


@pytest.mark.parametrize(("name", "value"), HEADER_CASES, ids=HEADER_IDS)
async def test_socotra_refuses_header_at_create_and_patch(rest, tenant, other_tenant, name,
                                                          value):
    base = f"/event/{tenant.id}/webhooks"
    body = {**SOCOTRA, "endpoint": {**SOCOTRA["endpoint"], "headers": {name: [value]}}}
    status, answer = await rest.call("POST", base, token=tenant.token, json=body)
    assert_refused(status, answer, f"endpoint.headers.{name}")
    assert await socotra_ids(rest, tenant) == []

    status, created = await rest.call("POST", base, token=tenant.token, json=SOCOTRA)
    assert status == 200, created
    url = f"{base}/{created['locator']}"
    status, answer = await rest.call("PATCH", url, token=tenant.token,
                                     json={"endpoint": {"addHeaders": {name: ["ok", value]}}})
    assert_refused(status, answer, f"endpoint.headers.{name}")
    assert (await rest.call("GET", url, token=tenant.token))[1] == created
    await assert_serves(rest, other_tenant)


@pytest.mark.parametrize(("name", "value"), HEADER_CASES, ids=HEADER_IDS)
async def test_elan_refuses_header_at_create_and_patch(rest, tenant, other_tenant, name, value):
    status, answer = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                     json={**ELAN, "headers": {name: value}})
    assert_refused(status, answer, f"headers.{name}")
    assert await elan_ids(rest, tenant) == []

    status, created = await rest.call("POST", "/webhooks", token=tenant.token,
                                      headers=org(tenant), json=ELAN)
    assert status == 200, created
    path = f"/webhooks/{created['id']}"
    status, answer = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                     json={"headers": {"X-Other": "1", name: value}})
    assert_refused(status, answer, f"headers.{name}")
    assert (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1] == created
    await assert_serves(rest, other_tenant)


async def test_ordinary_custom_headers_still_work(rest, tenant):
    headers = {"X-Team": ["ops", "dev"], "Authorization": ["Bearer abc"], "X-Tab": ["a\tb"],
               "x.dotted~name!": ["v"], "Accept": ["application/json"]}
    body = {**SOCOTRA, "endpoint": {**SOCOTRA["endpoint"], "headers": headers}}
    status, created = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                      json=body)
    assert status == 200, created
    assert created["endpoint"]["headers"] == headers


# -- NUL characters in string fields --------------------------------------------------------

NUL = "\u0000"


def workflow_with(path: str, value) -> dict:
    body = workflow_body(webhook={"enabled": True, "conditions": [
        {"field": "$.env", "operation": "equals", "value": "prod"}]})
    body["params"] = {"env": "prod"}
    node = body
    *parents, last = path.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[int(last) if last.isdigit() else last] = value
    return body


WORKFLOW_NUL_CASES = [
    (workflow_with("name", f"de{NUL}ploy"), "name"),
    (workflow_with("tasks.0.topic", f"go{NUL}"), "tasks[0].topic"),
    (workflow_with("tasks.0.name", f"{NUL}"), "tasks[0].name"),
    (workflow_with("params.env", f"p{NUL}"), "params.env"),
    (workflow_with("params", {f"a{NUL}b": 1}), 'params["a\\u0000b"]'),
    (workflow_with("triggers.webhook.conditions.0.value", f"prod{NUL}"),
     "triggers.webhook.conditions[0].value"),
    (workflow_with("triggers.webhook.conditions.0.field", f"$.env{NUL}"),
     "triggers.webhook.conditions[0].field"),
]


@pytest.mark.parametrize(("body", "field"), WORKFLOW_NUL_CASES,
                         ids=[f for _, f in WORKFLOW_NUL_CASES])
async def test_nul_in_workflow_is_400_and_stores_nothing(rest, tenant, other_tenant, body,
                                                         field):
    status, answer = await rest.call("POST", WORKFLOWS, token=tenant.token, headers=org(tenant),
                                     json=body)
    assert_refused(status, answer, field)
    assert field_violations(answer)[field] == NUL_DESCRIPTION
    assert await workflow_ids(rest, tenant) == []
    await assert_serves(rest, other_tenant)


async def test_nul_in_workflow_patch_changes_nothing(rest, tenant, other_tenant):
    created = await create_workflow(rest, tenant)
    path = f"{WORKFLOWS}/{created['id']}"
    for patch, field in [({"name": f"x{NUL}"}, "name"),
                         ({"params": {"k": [f"{NUL}"]}}, "params.k[0]"),
                         ({"tasks": [{"name": "t", "type": "eventwait", "topic": f"{NUL}"}]},
                          "tasks[0].topic")]:
        status, answer = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                         json=patch)
        assert_refused(status, answer, field)
        assert (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1] == created
    await assert_serves(rest, other_tenant)


def socotra_with(**changes) -> dict:
    body = json.loads(json.dumps(SOCOTRA))
    for path, value in changes.items():
        node = body
        *parents, last = path.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    return body


SOCOTRA_NUL_CASES = [
    (socotra_with(name=f"ops{NUL}"), "name"),
    (socotra_with(endpoint__url=f"https://hooks.example.com/{NUL}"), "endpoint.url"),
    (socotra_with(endpoint__headers={f"X-{NUL}": ["v"]}), 'endpoint.headers["X-\\u0000"]'),
    (socotra_with(endpoint__headers={"X-A": ["ok", f"v{NUL}"]}), 'endpoint.headers["X-A"][1]'),
    (socotra_with(endpoint__secret=f"s{NUL}"), "endpoint.secret"),
    (socotra_with(eventTypes=[f"workflow.completed{NUL}"]), "eventTypes[0]"),
]


@pytest.mark.parametrize(("body", "field"), SOCOTRA_NUL_CASES,
                         ids=[f for _, f in SOCOTRA_NUL_CASES])
async def test_nul_in_socotra_webhook_is_400_and_stores_nothing(rest, tenant, other_tenant,
                                                                body, field):
    status, answer = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                     json=body)
    assert_refused(status, answer, field)
    assert await socotra_ids(rest, tenant) == []
    await assert_serves(rest, other_tenant)


async def test_nul_in_socotra_patch_changes_nothing(rest, tenant, other_tenant):
    base = f"/event/{tenant.id}/webhooks"
    status, created = await rest.call("POST", base, token=tenant.token, json=SOCOTRA)
    assert status == 200, created
    url = f"{base}/{created['locator']}"
    for patch, field in [
        ({"endpoint": {"addHeaders": {"X-A": [f"v{NUL}"]}}}, 'endpoint.addHeaders["X-A"][0]'),
        ({"endpoint": {"removeHeaders": [f"X-Team{NUL}"]}}, "endpoint.removeHeaders[0]"),
        ({"addEventTypes": [f"workflow.failed{NUL}"]}, "addEventTypes[0]"),
        ({"name": f"{NUL}"}, "name"),
    ]:
        status, answer = await rest.call("PATCH", url, token=tenant.token, json=patch)
        assert_refused(status, answer, field)
        assert (await rest.call("GET", url, token=tenant.token))[1] == created
    await assert_serves(rest, other_tenant)


ELAN_NUL_CASES = [
    ({**ELAN, "name": f"b{NUL}"}, "name"),
    ({**ELAN, "url": f"https://hooks.example.com/{NUL}"}, "url"),
    ({**ELAN, "headers": {"X-A": f"a{NUL}b"}}, 'headers["X-A"]'),
    ({**ELAN, "headers": {f"a{NUL}b": "v"}}, 'headers["a\\u0000b"]'),
    ({**ELAN, "secret": f"s{NUL}"}, "secret"),
]


@pytest.mark.parametrize(("body", "field"), ELAN_NUL_CASES, ids=[f for _, f in ELAN_NUL_CASES])
async def test_nul_in_elan_subscription_is_400_and_stores_nothing(rest, tenant, other_tenant,
                                                                  body, field):
    status, answer = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                     json=body)
    assert_refused(status, answer, field)
    assert await elan_ids(rest, tenant) == []
    await assert_serves(rest, other_tenant)


async def test_nul_in_elan_patch_changes_nothing(rest, tenant, other_tenant):
    status, created = await rest.call("POST", "/webhooks", token=tenant.token,
                                      headers=org(tenant), json=ELAN)
    assert status == 200, created
    path = f"/webhooks/{created['id']}"
    for patch, field in [({"headers": {"X-A": f"{NUL}"}}, 'headers["X-A"]'),
                         ({"headers": {f"{NUL}": "v"}}, 'headers["\\u0000"]'),
                         ({"eventTypes": ["workflow.failed", f"x{NUL}"]}, "eventTypes[1]"),
                         ({"url": f"https://h.example.com/{NUL}"}, "url")]:
        status, answer = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                         json=patch)
        assert_refused(status, answer, field)
        assert (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1] == created
    await assert_serves(rest, other_tenant)


async def test_nul_over_grpc_is_invalid_argument_naming_the_field(channel, rest, tenant,
                                                                  other_tenant):
    request = webhooks_pb2.CreateWebhookRequest(
        tenant=tenant.id, name="ops", event_types=["workflow.completed"],
        endpoint=webhooks_pb2.Endpoint(url="https://hooks.example.com/in"))
    request.endpoint.headers["X-A"].extend(["ok", f"v{NUL}"])
    stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateWebhook(request, metadata=[("authorization", f"Bearer {tenant.token}")])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    bad = error_details_pb2.BadRequest()
    rpc_status.from_call(err.value).details[0].Unpack(bad)
    assert [(v.field, v.description) for v in bad.field_violations] == [
        ('endpoint.headers["X-A"][1]', NUL_DESCRIPTION)]
    assert await socotra_ids(rest, tenant) == []
    await assert_serves(rest, other_tenant)


async def test_nul_in_token_name_and_permissions(rest, stack, other_tenant):
    tenant = str(uuid.uuid4())
    for body, field in [({"name": f"t{NUL}", "permissions": ["webhooks:read"]}, "name"),
                        ({"name": "t", "permissions": [f"webhooks:read{NUL}"]}, "permissions[0]")]:
        status, answer = await rest.call("POST", "/api/v2/tokens", token=stack.bootstrap_token,
                                         json={"tenant": tenant, **body})
        assert_refused(status, answer, field)
    status, listed = await rest.call("GET", f"/api/v2/tokens?tenant={tenant}",
                                     token=stack.bootstrap_token)
    assert status == 200 and listed["tokens"] == [], listed
    await assert_serves(rest, other_tenant)


async def test_nul_in_ids_topics_and_query_parameters(rest, tenant, other_tenant):
    workflow = await create_workflow(rest, tenant, workflow_body(webhook={"enabled": True}))
    workflow_id = workflow["id"]
    for method, path, field in [
        ("GET", f"{WORKFLOWS}/{workflow_id}%00", "id"),
        ("POST", f"/api/v2/webhook?ref={workflow_id}%00", "ref"),
        ("POST", f"/api/v2/webhook?workflow={workflow_id}%00x", "workflow"),
        ("POST", "/api/v2/callback?ref=wfr_x&topic=go%00", "topic"),
        ("POST", f"/api/v2/event?ref={workflow_id}%00", "ref"),
        ("GET", f"/api/v2/workflowruns?workflow={workflow_id}%00", "workflow"),
    ]:
        status, answer = await rest.call(method, path, token=tenant.token, headers=org(tenant),
                                         data=b"{}")
        assert_refused(status, answer, field)
    assert await runs_of(rest, tenant, workflow_id) == []
    await assert_serves(rest, other_tenant)


# -- header sizes -----------------------------------------------------------------------------


async def test_idempotency_key_over_255_is_400_not_429(rest, tenant, other_tenant):
    workflow_id = (await create_workflow(rest, tenant, workflow_body(webhook={"enabled": True})))[
        "id"]
    for length in (256, 10_000, 30_000):
        status, answer = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                         token=tenant.token, data=b"{}",
                                         headers={"Idempotency-Key": "k" * length})
        assert_refused(status, answer, "Idempotency-Key")
    assert await runs_of(rest, tenant, workflow_id) == []
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                  token=tenant.token, data=b"{}",
                                  headers={"Idempotency-Key": "k" * 255})
    assert status == 200 and run["id"], run
    await assert_serves(rest, other_tenant)


async def test_header_block_over_envoys_limit_is_431_not_429(rest, tenant, other_tenant):
    workflow_id = (await create_workflow(rest, tenant, workflow_body(webhook={"enabled": True})))[
        "id"]
    for headers in ({"X-Padding": "p" * 40_000},
                    {f"X-Pad-{i}": "p" * 1000 for i in range(40)},
                    {"Idempotency-Key": "k" * 40_000}):
        status, answer = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                         token=tenant.token, data=b"{}", headers=headers)
        assert status == 431, (status, answer)
        assert answer == {"code": 3, "message": ANY, "details": []}, answer
    assert await runs_of(rest, tenant, workflow_id) == []
    # a large block under the limit is served as usual, on any route
    status, body = await rest.call("GET", WORKFLOWS, token=tenant.token,
                                   headers={**org(tenant), "X-Padding": "p" * 20_000})
    assert status == 200 and body["workflows"][0]["id"] == workflow_id, body
    await assert_serves(rest, other_tenant)


# -- a body member that would replace a path binding ------------------------------------------

async def test_body_cannot_retarget_the_patch_the_url_names(rest, tenant, other_tenant):
    """`PATCH /event/{T}/webhooks/{W1}` with `{"webhook": "W2"}` (and ELAN's `{"id": "W2"}`)
    once changed W2: the transcoder let the body overwrite the path. Now 400, both unchanged."""
    base = f"/event/{tenant.id}/webhooks"
    first, second = [(await rest.call("POST", base, token=tenant.token, json=SOCOTRA))[1]
                     for _ in range(2)]
    before = [(await rest.call("GET", f"{base}/{hook['locator']}", token=tenant.token))[1]
              for hook in (first, second)]
    for path, body in [
        (f"{base}/{first['locator']}", {"webhook": second["locator"], "name": "renamed"}),
        (f"/webhooks/{first['locator']}", {"id": second["locator"], "name": "renamed"}),
    ]:
        status, answer = await rest.call("PATCH", path, token=tenant.token, json=body,
                                         headers=org(tenant))
        assert status == 400, answer
        assert "conflicting" in answer["message"], answer
    after = [(await rest.call("GET", f"{base}/{hook['locator']}", token=tenant.token))[1]
             for hook in (first, second)]
    assert after == before
    status, same = await rest.call("PATCH", f"{base}/{first['locator']}", token=tenant.token,
                                   json={"webhook": first["locator"], "name": "renamed"})
    assert status == 200 and same["name"] == "renamed", same  # the same value is no conflict
    await assert_serves(rest, other_tenant)

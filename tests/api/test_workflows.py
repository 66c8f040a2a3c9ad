"""Workflows CRUD under /api/v2/workflows (SPEC §6, the §12 create request verbatim):
triggers and their conditions, ordered tasks, validation naming the field, tenancy,
permissions, and write-only trigger secrets."""

from __future__ import annotations

import copy
import json

import grpc
import pytest
from flowhooks.v1 import workflows_pb2, workflows_pb2_grpc
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenancy import field_violations

PATH = "/api/v2/workflows"
GH_SECRET, SLACK_SECRET = "gh-secret", "slack-secret"
VERBATIM = {"name": "deploy",  # SPEC §12, as sent by clients outside this repo
            "triggers": {
                "manual": {"enabled": True},
                "webhook": {"enabled": True},
                "event": {"enabled": True, "conditions": [
                    {"field": "$.type", "operation": "equals", "value": "com.example.deploy"}]},
                "github": {"enabled": True, "secret": GH_SECRET, "events": ["push"]},
                "slack": {"enabled": True, "secret": SLACK_SECRET}},
            "tasks": [
                {"name": "approval", "type": "eventwait", "topic": "approve", "timeout": "3600s"},
                {"name": "pause", "type": "sleep", "duration": "0.1s"}]}


def org(tenant) -> dict:
    return {"X-Org-Id": tenant.id}


def body_with(path: str, value):
    """VERBATIM with the value at a dotted path (list indexes as numbers) set or, for
    `...`, removed."""
    body = copy.deepcopy(VERBATIM)
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = body
    for key in parents:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return body


async def create(rest, tenant, body=None):
    status, created = await rest.call("POST", PATH, token=tenant.token, headers=org(tenant),
                                      json=VERBATIM if body is None else body)
    assert status == 200, created
    return created


async def list_all(rest, tenant, query: str = "") -> list[dict]:
    status, body = await rest.call("GET", PATH + query, token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return body["workflows"]


def assert_no_secrets(*texts) -> None:
    for text in texts:
        dumped = text if isinstance(text, str) else json.dumps(text)
        assert GH_SECRET not in dumped and SLACK_SECRET not in dumped


async def test_create_verbatim(rest, tenant, stack):
    created = await create(rest, tenant)
    assert created["id"].startswith("wf_")
    assert created["name"] == "deploy" and created["tenant"] == tenant.id
    assert created["createdAt"] and created["updatedAt"]
    triggers = created["triggers"]
    assert {k: t["enabled"] for k, t in triggers.items()} == dict.fromkeys(
        ("manual", "webhook", "event", "github", "slack"), True)
    assert triggers["event"]["conditions"] == [
        {"field": "$.type", "operation": "equals", "value": "com.example.deploy"}]
    assert triggers["github"]["events"] == ["push"]
    assert triggers["github"]["secretSet"] and triggers["slack"]["secretSet"]
    assert not triggers["manual"]["secretSet"]
    # Write-only: the proto field exists, so Envoy prints it, but always empty.
    assert all(not t.get("secret") for t in triggers.values())
    approval, pause = created["tasks"]
    assert (approval["name"], approval["type"], approval["topic"], approval["timeout"]) == (
        "approval", "eventwait", "approve", "3600s")
    assert (pause["name"], pause["type"]) == ("pause", "sleep")
    assert pause["duration"] in ("0.1s", "0.100s") and "timeout" not in pause
    assert_no_secrets(created, stack.logs())


async def test_tenant_defaults_to_the_tokens_own(rest, tenant):
    status, created = await rest.call("POST", PATH, token=tenant.token, json=VERBATIM)
    assert status == 200, created
    assert created["tenant"] == tenant.id
    assert [w["id"] for w in await list_all(rest, tenant)] == [created["id"]]


async def test_crud(rest, tenant, stack):
    created = await create(rest, tenant)
    path = f"{PATH}/{created['id']}"
    status, got = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
    assert status == 200 and got == created
    second = await create(rest, tenant, body_with("name", "second"))
    assert [w["id"] for w in await list_all(rest, tenant)] == [created["id"], second["id"]]
    assert [w["id"] for w in await list_all(rest, tenant, "?limit=1&offset=1")] == [
        second["id"]]
    status, renamed = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                      json={"name": "renamed"})
    assert status == 200 and renamed["name"] == "renamed"
    status, _ = await rest.call("DELETE", path, token=tenant.token, headers=org(tenant))
    assert status == 200
    status, body = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
    assert status == 404 and body["code"] == 5
    status, body = await rest.call("DELETE", path, token=tenant.token, headers=org(tenant))
    assert status == 404
    assert [w["id"] for w in await list_all(rest, tenant)] == [second["id"]]
    assert_no_secrets(stack.logs())


async def test_patch_changes_only_fields_sent(rest, tenant, stack):
    created = await create(rest, tenant)
    path = f"{PATH}/{created['id']}"
    new_tasks = [{"name": "work", "type": "external", "params": {"queue": "builds"}},
                 {"name": "nap", "type": "sleep", "duration": "2s"}]
    for patch, changed in [
        ({"name": "renamed"}, {"name"}),
        ({"params": {"env": "prod"}}, {"params"}),
        ({"tasks": new_tasks}, {"tasks"}),
        ({"triggers": {"event": {"enabled": False}}}, {"triggers"}),
        ({}, set()),
    ]:
        before = (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1]
        status, after = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                        json=patch)
        assert status == 200, after
        assert {k for k in after if after[k] != before[k]} - {"updatedAt"} == changed, patch
    assert after["name"] == "renamed" and after["params"] == {"env": "prod"}
    assert [(t["name"], t["type"]) for t in after["tasks"]] == [
        ("work", "external"), ("nap", "sleep")]
    assert after["tasks"][0]["params"] == {"queue": "builds"}
    assert after["tasks"][1]["duration"] == "2s"
    triggers = after["triggers"]
    assert triggers["event"] == {"enabled": False, "conditions": [], "secret": "",
                                 "events": [], "secretSet": False}
    # Only the trigger sent changed; the others kept everything, secrets included.
    assert {k: v for k, v in triggers.items() if k != "event"} == {
        k: v for k, v in created["triggers"].items() if k != "event"}


async def test_patch_trigger_keeps_or_replaces_its_secret(rest, tenant, stack):
    created = await create(rest, tenant)
    path = f"{PATH}/{created['id']}"
    status, after = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                    json={"triggers": {"github": {"enabled": True,
                                                                  "events": ["pull_request"]}}})
    assert status == 200, after
    assert after["triggers"]["github"]["events"] == ["pull_request"]
    assert after["triggers"]["github"]["secretSet"] is True
    rotated = "gh-rotated-secret-value"
    status, after = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                    json={"triggers": {"slack": {"enabled": False,
                                                                 "secret": rotated}}})
    assert status == 200, after
    assert after["triggers"]["slack"] == {"enabled": False, "conditions": [], "secret": "",
                                          "events": [], "secretSet": True}
    assert rotated not in json.dumps(after) and rotated not in stack.logs()
    assert_no_secrets(after, stack.logs())


INVALID = [
    (body_with("name", ""), "name", "missing-name"),
    (body_with("name", ...), "name", "no-name"),
    (body_with("name", "n" * 256), "name", "long-name"),
    (body_with("triggers.event.conditions.0.field", "$.["), "triggers.event.conditions[0].field",
     "bad-jsonpath"),
    (body_with("triggers.event.conditions.0.field", "type"),
     "triggers.event.conditions[0].field", "jsonpath-without-root"),
    (body_with("triggers.event.conditions.0.field", ""), "triggers.event.conditions[0].field",
     "empty-jsonpath"),
    (body_with("triggers.event.conditions.0.operation", "contains"),
     "triggers.event.conditions[0].operation", "unknown-operation"),
    (body_with("triggers.webhook.conditions", [
        {"field": "$.ref", "operation": "equals", "value": "main"},
        {"field": "$.ref", "operation": "matches", "value": "([a-"}]),
     "triggers.webhook.conditions[1].value", "bad-regex"),
    (body_with("triggers.webhook.conditions", [{"field": "$.ref", "operation": "in"}]),
     "triggers.webhook.conditions[0].values", "in-without-values"),
    (body_with("triggers.event.conditions.0.value", ...), "triggers.event.conditions[0].value",
     "equals-without-value"),
    (body_with("triggers.manual.secret", "manual-secret-value"), "triggers.manual.secret",
     "secret-on-manual"),
    (body_with("triggers.slack.events", ["push"]), "triggers.slack.events", "events-on-slack"),
    (body_with("tasks.1.type", "teleport"), "tasks[1].type", "unknown-task-type"),
    (body_with("tasks.1.type", ""), "tasks[1].type", "missing-task-type"),
    (body_with("tasks.1.name", "approval"), "tasks[1].name", "duplicate-task-names"),
    (body_with("tasks.0.name", ""), "tasks[0].name", "missing-task-name"),
    (body_with("tasks.0.topic", ...), "tasks[0].topic", "missing-topic"),
    (body_with("tasks.0.timeout", "-5s"), "tasks[0].timeout", "negative-timeout"),
    (body_with("tasks.1.duration", ...), "tasks[1].duration", "missing-duration"),
    (body_with("tasks.1.duration", "-1s"), "tasks[1].duration", "negative-duration"),
    (body_with("tasks.1.topic", "approve"), "tasks[1].topic", "topic-on-sleep"),
]


@pytest.mark.parametrize("body,field", [c[:2] for c in INVALID], ids=[c[2] for c in INVALID])
async def test_create_validation_names_field_and_creates_nothing(rest, tenant, stack, body,
                                                                 field):
    status, answer = await rest.call("POST", PATH, token=tenant.token, headers=org(tenant),
                                     json=body)
    assert status == 400, answer
    assert answer["code"] == 3 and field in field_violations(answer), answer
    assert await list_all(rest, tenant) == []
    assert "manual-secret-value" not in stack.logs()


async def test_every_violation_is_named_at_once(rest, tenant):
    body = body_with("tasks", [{"name": "a", "type": "eventwait"},
                               {"name": "a", "type": "sleep", "duration": "-1s"},
                               {"name": "b", "type": "nope"}])
    body["triggers"]["event"]["conditions"][0]["field"] = "$$"
    status, answer = await rest.call("POST", PATH, token=tenant.token, headers=org(tenant),
                                     json=body)
    assert status == 400
    assert set(field_violations(answer)) == {
        "tasks[0].topic", "tasks[1].name", "tasks[1].duration", "tasks[2].type",
        "triggers.event.conditions[0].field"}
    assert await list_all(rest, tenant) == []


async def test_patch_validation_changes_nothing(rest, tenant, stack):
    created = await create(rest, tenant)
    path = f"{PATH}/{created['id']}"
    sleep = {"name": "pause", "type": "sleep", "duration": "1s"}
    for patch, field in [
        ({"name": ""}, "name"),
        ({"tasks": [sleep, {"name": "pause", "type": "external"}]}, "tasks[1].name"),
        ({"tasks": [{"name": "w", "type": "eventwait"}]}, "tasks[0].topic"),
        ({"tasks": [{"name": "w", "type": "eventwait", "topic": "t", "timeout": "-1s"}]},
         "tasks[0].timeout"),
        ({"tasks": [sleep, {"name": "x", "type": "teleport"}]}, "tasks[1].type"),
        ({"tasks": [{"name": "s", "type": "sleep", "duration": "-2s"}]}, "tasks[0].duration"),
        ({"tasks": [{"type": "external"}]}, "tasks[0].name"),
        ({"tasks": ["external"]}, "tasks[0]"),
        ({"tasks": [{"name": "x", "type": "sleep", "duration": 5}]}, "tasks[0]"),
        ({"triggers": {"event": {"enabled": True, "conditions": [
            {"field": "$.a[", "operation": "equals", "value": 1}]}}},
         "triggers.event.conditions[0].field"),
        ({"triggers": {"github": {"enabled": True, "conditions": [
            {"field": "$.ref", "operation": "matches", "value": "*oops"}]}}},
         "triggers.github.conditions[0].value"),
        ({"triggers": {"webhook": {"enabled": True, "secret": "webhook-secret-value"}}},
         "triggers.webhook.secret"),
    ]:
        status, body = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                       json=patch)
        assert status == 400 and field in field_violations(body), (patch, body)
        got = (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1]
        assert got == created, patch
    assert "webhook-secret-value" not in stack.logs()


async def test_patch_of_unknown_workflow_is_404(rest, tenant):
    status, body = await rest.call("PATCH", f"{PATH}/wf_missing", token=tenant.token,
                                   headers=org(tenant), json={"name": "x"})
    assert status == 404 and body["code"] == 5


async def test_conditions_round_trip(rest, tenant):
    conditions = [
        {"field": "$.data.branch", "operation": "matches", "value": "^release/.*$"},
        {"field": "$.data.env", "operation": "in", "values": ["staging", "prod"]},
        {"field": "$.data.count", "operation": "equals", "value": 3},
    ]
    created = await create(rest, tenant, body_with("triggers.webhook.conditions", conditions))
    assert created["triggers"]["webhook"]["conditions"] == conditions


async def test_cross_tenant_every_endpoint(rest, tenant, other_tenant):
    theirs = await create(rest, other_tenant)
    path = f"{PATH}/{theirs['id']}"
    for method, p, body, headers in [
        ("GET", path, None, org(other_tenant)), ("GET", PATH, None, org(other_tenant)),
        ("POST", PATH, VERBATIM, org(other_tenant)),
        ("PATCH", path, {"name": "x"}, org(other_tenant)),
        ("DELETE", path, None, org(other_tenant)),
        ("GET", path, None, {}), ("PATCH", path, {"name": "x"}, {}), ("DELETE", path, None, {}),
    ]:
        status, answer = await rest.call(method, p, token=tenant.token, json=body,
                                         headers=headers)
        assert status in (403, 404), (method, p, headers, status)
        assert set(answer) == {"code", "message", "details"}  # an error, never their data
    assert await list_all(rest, tenant) == []
    assert (await rest.call("GET", path, token=other_tenant.token,
                            headers=org(other_tenant)))[1] == theirs


async def token_with(rest, stack, tenant, permissions) -> str:
    """Another token of the same tenant, holding only `permissions`."""
    status, body = await rest.call("POST", "/api/v2/tokens", token=stack.bootstrap_token, json={
        "tenant": tenant.id, "name": "limited", "permissions": permissions})
    assert status == 200, body
    return body["token"]


async def test_missing_permission_is_403_and_changes_nothing(rest, stack, tenant):
    created = await create(rest, tenant)
    path = f"{PATH}/{created['id']}"
    reader = await token_with(rest, stack, tenant, ["workflows:read"])
    writer = await token_with(rest, stack, tenant, ["workflows:write"])
    trigger_only = await token_with(rest, stack, tenant, ["workflows:trigger"])
    for token, method, target, body in [
        (reader, "POST", PATH, VERBATIM), (reader, "PATCH", path, {"name": "x"}),
        (reader, "DELETE", path, None), (writer, "GET", PATH, None), (writer, "GET", path, None),
        (trigger_only, "GET", path, None), (trigger_only, "POST", PATH, VERBATIM),
    ]:
        status, answer = await rest.call(method, target, token=token, json=body,
                                         headers=org(tenant))
        assert status == 403, (method, target, answer)
        assert set(answer) == {"code", "message", "details"} and answer["code"] == 7
    status, got = await rest.call("GET", path, token=reader, headers=org(tenant))
    assert status == 200 and got == created
    assert [w["id"] for w in await list_all(rest, tenant)] == [created["id"]]


async def test_crud_over_grpc(channel, tenant, stack):
    stub = workflows_pb2_grpc.WorkflowServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"), ("x-org-id", tenant.id))
    created = await stub.CreateWorkflow(workflows_pb2.CreateWorkflowRequest(
        name="g",
        triggers=workflows_pb2.Triggers(github=workflows_pb2.Trigger(
            enabled=True, secret="grpc-gh-secret", events=["push"])),
        tasks=[workflows_pb2.Task(name="wait", type="eventwait", topic="go"),
               workflows_pb2.Task(name="nap", type="sleep", duration={"seconds": 1})]),
        metadata=auth)
    assert created.id.startswith("wf_") and created.tenant == tenant.id
    assert created.triggers.github.secret == "" and created.triggers.github.secret_set
    assert not created.triggers.manual.enabled
    second = await stub.CreateWorkflow(workflows_pb2.CreateWorkflowRequest(name="h"),
                                       metadata=auth)
    first = await stub.ListWorkflows(workflows_pb2.ListWorkflowsRequest(page_size=1),
                                     metadata=auth)
    rest_page = await stub.ListWorkflows(workflows_pb2.ListWorkflowsRequest(
        page_size=1, page_token=first.next_page_token), metadata=auth)
    assert [w.id for w in first.workflows] == [created.id]
    assert [w.id for w in rest_page.workflows] == [second.id]

    tasks = struct_pb2.ListValue()
    tasks.extend([{"name": "ext", "type": "external"}])
    updated = await stub.UpdateWorkflow(workflows_pb2.UpdateWorkflowRequest(
        id=created.id, tasks=tasks), metadata=auth)
    assert [(t.name, t.type) for t in updated.tasks] == [("ext", "external")]
    assert updated.name == "g" and updated.triggers.github.secret_set

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateWorkflow(workflows_pb2.CreateWorkflowRequest(
            name="bad", tasks=[workflows_pb2.Task(name="s", type="sleep")]), metadata=auth)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    detail = error_details_pb2.BadRequest()
    rpc_status.from_call(err.value).details[0].Unpack(detail)
    assert [v.field for v in detail.field_violations] == ["tasks[0].duration"]

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SubmitWorkflow(workflows_pb2.SubmitWorkflowRequest(id=created.id),
                                  metadata=auth)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION  # manual trigger is off

    await stub.DeleteWorkflow(workflows_pb2.DeleteWorkflowRequest(id=created.id), metadata=auth)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetWorkflow(workflows_pb2.GetWorkflowRequest(id=created.id), metadata=auth)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    assert "grpc-gh-secret" not in stack.logs()

"""The Boomerang inbound route through Envoy (SPEC §6): `POST /api/v2/event` (CloudEvents
built with the SDK, in structured, batch and binary modes), `POST|GET /api/v2/callback`, and
`POST /api/v2/webhook` from plain JSON, GitHub (real HMAC) and Slack (slack_sdk's signer)
senders, with de-duplication, routing by trigger conditions, and both parameter spellings."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import urlencode

import grpc
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from flowhooks.v1 import cloudevent_pb2, inbound_pb2, inbound_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from harness import wait_for
from inbound_client import (
    GH_SECRET,
    SLACK_SECRET,
    WAIT,
    callback,
    get_run,
    github_headers,
    github_workflow,
    make_workflow,
    org,
    plain_webhook,
    runs_of,
    slack_headers,
    wait_status,
    waiting_run,
)
from slack_sdk.signature import SignatureVerifier
from tenancy import field_violations, make_tenant

# -- webhook + callback ---------------------------------------------------------------------


async def test_webhook_run_waits_and_callback_completes_it(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True})
    status, run = await plain_webhook(rest, tenant, workflow_id, {"build": 42})
    assert status == 200, run
    assert run["id"] and run["workflowRef"] == workflow_id and run["trigger"] == "webhook"
    assert run["params"]["data"] == {"build": 42}
    waiting = await wait_status(rest, tenant, run["id"], "waiting")
    assert waiting["tasks"][0]["status"] == "waiting"
    status, body = await callback(rest, tenant, f"ref={run['id']}&topic=approve",
                                  {"approvedBy": "ana"})
    assert status == 200, body
    done = await wait_status(rest, tenant, run["id"], "succeeded")
    assert done["phase"] == "completed"
    assert done["tasks"][0]["status"] == "succeeded"
    assert done["tasks"][0]["results"]["data"] == {"approvedBy": "ana"}


async def test_callback_before_the_task_is_reached_is_applied_later(rest, tenant):
    tasks = [{"name": "pause", "type": "sleep", "duration": "0.3s"}, *WAIT]
    _, run_id = await waiting_run(rest, tenant, tasks)
    status, body = await callback(rest, tenant, f"ref={run_id}&topic=approve", {"early": True})
    assert status == 200, body
    done = await wait_status(rest, tenant, run_id, "succeeded")
    assert [t["status"] for t in done["tasks"]] == ["succeeded", "succeeded"]
    assert done["tasks"][1]["results"]["data"] == {"early": True}


async def test_failed_status_fails_the_run(rest, tenant):
    _, run_id = await waiting_run(rest, tenant)
    await wait_status(rest, tenant, run_id, "waiting")
    status, body = await callback(rest, tenant, f"ref={run_id}&topic=approve&status=FAILED")
    assert status == 200, body
    done = await wait_status(rest, tenant, run_id, "failed")
    assert done["tasks"][0]["status"] == "failed"


async def test_callback_errors_name_the_field_and_change_nothing(rest, tenant):
    _, run_id = await waiting_run(rest, tenant)
    await wait_status(rest, tenant, run_id, "waiting")
    cases = [(f"ref={run_id}&topic=approve&status=done", "status"),
             (f"ref={run_id}", "topic"),
             ("topic=approve", "ref")]
    for query, field in cases:
        status, body = await callback(rest, tenant, query)
        assert status == 400 and body["code"] == 3, (query, body)
        assert field in field_violations(body), (query, body)
    status, body = await callback(rest, tenant, f"ref={run_id}&topic=approve", [1, 2])
    assert status == 400 and "body" in field_violations(body)
    status, body = await callback(rest, tenant, "ref=run_unknown&topic=approve")
    assert status == 404 and body["code"] == 5
    assert (await get_run(rest, tenant, run_id))["status"] == "waiting"


async def test_repeated_callback_is_harmless_and_finished_run_refuses(rest, tenant):
    tasks = [{"name": "a", "type": "eventwait", "topic": "first"},
             {"name": "b", "type": "eventwait", "topic": "second"}]
    _, run_id = await waiting_run(rest, tenant, tasks)
    await wait_status(rest, tenant, run_id, "waiting")
    for _ in range(2):
        status, body = await callback(rest, tenant, f"ref={run_id}&topic=first", {"n": 1})
        assert status == 200, body

    async def second_waiting():
        run = await get_run(rest, tenant, run_id)
        return run if run["tasks"][1]["status"] == "waiting" else None
    run = await wait_for(second_waiting, timeout_s=15)
    assert run["status"] == "waiting" and run["tasks"][0]["status"] == "succeeded"
    assert run["tasks"][0]["results"]["data"] == {"n": 1}
    status, body = await callback(rest, tenant, f"ref={run_id}&topic=second")
    assert status == 200, body
    done = await wait_status(rest, tenant, run_id, "succeeded")
    status, body = await callback(rest, tenant, f"ref={run_id}&topic=second&status=failed")
    assert status == 400 and body["code"] == 9, body
    assert await get_run(rest, tenant, run_id) == done


async def test_get_callback_and_old_spelling(rest, tenant):
    _, run_id = await waiting_run(rest, tenant)
    await wait_status(rest, tenant, run_id, "waiting")
    status, body = await callback(rest, tenant, f"workflowrun={run_id}&topic=approve",
                                  method="GET")
    assert status == 200, body
    await wait_status(rest, tenant, run_id, "succeeded")


# -- plain webhooks -------------------------------------------------------------------------


async def test_plain_webhook_old_spelling_query_token_and_conditions(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True, "conditions": [
        {"field": "$.env", "operation": "in", "values": ["prod", "staging"]}]})
    status, run = await rest.call(
        "POST", f"/api/v2/webhook?workflow={workflow_id}&access_token={tenant.token}",
        data=json.dumps({"env": "prod"}).encode(), headers={"Content-Type": "application/json"})
    assert status == 200, run
    assert run["workflowRef"] == workflow_id and run["params"]["data"] == {"env": "prod"}
    status, body = await plain_webhook(rest, tenant, workflow_id, {"env": "dev"})
    assert status == 200 and "id" not in body and "$.env" in body["reason"], body
    assert [r["id"] for r in await runs_of(rest, tenant, workflow_id)] == [run["id"]]


async def test_plain_webhook_idempotency_key(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True})
    key = {"Idempotency-Key": "order-" + uuid.uuid4().hex}
    status, first = await plain_webhook(rest, tenant, workflow_id, {"a": 1}, headers=key)
    assert status == 200, first
    status, again = await plain_webhook(rest, tenant, workflow_id, {"a": 1}, headers=key)
    assert status == 200 and again["id"] == first["id"]
    status, other = await plain_webhook(rest, tenant, workflow_id, {"a": 1})
    assert status == 200 and other["id"] != first["id"]
    assert len(await runs_of(rest, tenant, workflow_id)) == 2


async def test_plain_webhook_refusals_create_nothing(rest, stack, tenant, other_tenant):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True})
    disabled_id = await make_workflow(rest, tenant, webhook={"enabled": False})
    reader = await make_tenant(rest, stack.bootstrap_token, ["workflows:read"])
    status, body = await plain_webhook(rest, tenant, workflow_id, token=False)
    assert status == 401, body
    status, body = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                   token=reader.token, data=b"{}")
    assert status == 403, body
    status, body = await plain_webhook(rest, other_tenant, workflow_id)
    assert status in (403, 404), body
    status, body = await plain_webhook(rest, tenant, "wf_unknown")
    assert status == 404, body
    status, body = await rest.call("POST", "/api/v2/webhook", token=tenant.token, data=b"{}")
    assert status == 400 and "ref" in field_violations(body), body
    status, body = await plain_webhook(rest, tenant, disabled_id)
    assert status == 400, body
    status, body = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                   token=tenant.token, data=b"{not json")
    assert status == 400 and "body" in field_violations(body), body
    assert await runs_of(rest, tenant, workflow_id) == []
    assert await runs_of(rest, tenant, disabled_id) == []


async def test_callback_and_event_need_workflows_trigger(rest, stack, tenant):
    _, run_id = await waiting_run(rest, tenant)
    await wait_status(rest, tenant, run_id, "waiting")
    reader = await make_tenant(rest, stack.bootstrap_token, ["workflows:read"])
    reader.id = tenant.id
    status, body = await rest.call("POST", f"/api/v2/callback?ref={run_id}&topic=approve",
                                   token=reader.token, headers=org(tenant))
    assert status == 403, body
    message = to_structured_event(sdk_event())
    status, body = await rest.call("POST", "/api/v2/event", token=reader.token,
                                   headers=message.headers, data=message.body)
    assert status == 403, body
    assert (await get_run(rest, tenant, run_id))["status"] == "waiting"


# -- CloudEvents ----------------------------------------------------------------------------


def sdk_event(**overrides) -> CloudEvent:
    attributes = {"id": "evt-" + uuid.uuid4().hex, "source": "/deployer",
                  "type": "com.example.deploy", "subject": "svc-a"}
    attributes.update(overrides)
    return CloudEvent(attributes, {"version": "1.2.3", "env": "prod"})


async def post_event(rest, tenant, headers, body, query=""):
    return await rest.call("POST", "/api/v2/event" + query, token=tenant.token,
                           headers=dict(headers), data=body)


async def routed_workflows(rest, tenant) -> tuple[str, str]:
    deploys = await make_workflow(rest, tenant, event={"enabled": True, "conditions": [
        {"field": "$.type", "operation": "equals", "value": "com.example.deploy"},
        {"field": "$.data.env", "operation": "matches", "value": "^pro"}]})
    others = await make_workflow(rest, tenant, event={"enabled": True, "conditions": [
        {"field": "$.type", "operation": "equals", "value": "com.example.other"}]})
    return deploys, others


async def test_structured_event_routes_by_conditions(rest, tenant):
    deploys, others = await routed_workflows(rest, tenant)
    event = sdk_event()
    message = to_structured_event(event)
    status, body = await post_event(rest, tenant, message.headers, message.body)
    assert status == 200, body
    assert body["eventId"] == event.get_id()
    [run] = body["workflowRuns"]
    assert run["workflowRef"] == deploys and run["trigger"] == "event"
    assert run["params"]["data"] == {"version": "1.2.3", "env": "prod"}
    assert run["params"]["event"]["type"] == "com.example.deploy"
    assert run["params"]["event"]["source"] == "/deployer"
    assert await runs_of(rest, tenant, others) == []
    # no workflow's conditions hold: accepted, nothing started
    message = to_structured_event(sdk_event(type="com.example.unknown"))
    status, body = await post_event(rest, tenant, message.headers, message.body)
    assert status == 200 and body["workflowRuns"] == [], body
    assert len(await runs_of(rest, tenant, deploys)) == 1


async def test_duplicate_source_and_id_starts_no_second_run(rest, tenant):
    deploys, _ = await routed_workflows(rest, tenant)
    message = to_structured_event(sdk_event())
    status, first = await post_event(rest, tenant, message.headers, message.body)
    assert status == 200 and len(first["workflowRuns"]) == 1, first
    status, again = await post_event(rest, tenant, message.headers, message.body)
    assert status == 200, again
    assert [r["id"] for r in again["workflowRuns"]] == [r["id"] for r in first["workflowRuns"]]
    assert len(await runs_of(rest, tenant, deploys)) == 1


async def test_batch_event(rest, tenant):
    deploys, others = await routed_workflows(rest, tenant)
    fmt = JSONFormat()
    events = [sdk_event(), sdk_event(type="com.example.other"), sdk_event()]
    body = json.dumps([json.loads(fmt.write(e)) for e in events]).encode()
    status, answer = await post_event(
        rest, tenant, {"Content-Type": "application/cloudevents-batch+json"}, body)
    assert status == 200, answer
    assert answer["eventIds"] == [e.get_id() for e in events]
    assert answer["eventId"] == events[0].get_id()
    assert [r["workflowRef"] for r in answer["workflowRuns"]] == [deploys, others, deploys]


async def test_binary_event(rest, tenant):
    deploys, _ = await routed_workflows(rest, tenant)
    event = sdk_event(datacontenttype="application/json")
    message = to_binary_event(event)
    assert "ce-type" in {name.lower() for name in message.headers}
    status, body = await post_event(rest, tenant, message.headers, message.body)
    assert status == 200, body
    [run] = body["workflowRuns"]
    assert run["workflowRef"] == deploys
    assert run["params"]["data"] == {"version": "1.2.3", "env": "prod"}
    assert run["params"]["event"]["subject"] == "svc-a"


async def test_missing_type_is_400_naming_it_and_creates_nothing(rest, tenant):
    deploys, _ = await routed_workflows(rest, tenant)
    message = to_structured_event(sdk_event())
    document = json.loads(message.body)
    del document["type"]
    status, body = await post_event(rest, tenant, message.headers, json.dumps(document).encode())
    assert status == 400 and "type" in field_violations(body), body
    document["type"], document["specversion"] = "com.example.deploy", "0.3"
    status, body = await post_event(rest, tenant, message.headers, json.dumps(document).encode())
    assert status == 400 and "specversion" in field_violations(body), body
    assert await runs_of(rest, tenant, deploys) == []


async def test_event_with_ref_and_old_spelling(rest, tenant):
    deploys, others = await routed_workflows(rest, tenant)
    disabled = await make_workflow(rest, tenant, event={"enabled": False})
    message = to_structured_event(sdk_event())
    status, body = await post_event(rest, tenant, message.headers, message.body,
                                    f"?workflow={deploys}")
    assert status == 200 and [r["workflowRef"] for r in body["workflowRuns"]] == [deploys]
    message = to_structured_event(sdk_event())
    status, body = await post_event(rest, tenant, message.headers, message.body,
                                    f"?ref={others}")
    assert status == 200 and body["workflowRuns"] == [], body
    status, body = await post_event(rest, tenant, message.headers, message.body,
                                    f"?ref={disabled}")
    assert status == 400, body
    status, body = await post_event(rest, tenant, message.headers, message.body,
                                    "?ref=wf_unknown")
    assert status == 404, body
    assert await runs_of(rest, tenant, disabled) == []


async def test_protobuf_cloudevent_over_grpc(channel, rest, tenant):
    deploys, _ = await routed_workflows(rest, tenant)
    stub = inbound_pb2_grpc.InboundServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"),)
    event = cloudevent_pb2.CloudEvent(
        id="evt-" + uuid.uuid4().hex, source="/deployer", spec_version="1.0",
        type="com.example.deploy",
        attributes={"subject": cloudevent_pb2.CloudEventAttributeValue(ce_string="svc-b"),
                    "datacontenttype": cloudevent_pb2.CloudEventAttributeValue(
                        ce_string="application/json")},
        text_data=json.dumps({"env": "prod"}))
    answer = await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(event=event),
                                         metadata=auth)
    assert answer.event_id == event.id
    [run] = answer.workflow_runs
    assert run.workflow_ref == deploys and run.params["data"]["env"] == "prod"
    again = await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(event=event),
                                        metadata=auth)
    assert [r.id for r in again.workflow_runs] == [run.id]

    event.ClearField("type")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(event=event),
                                    metadata=auth)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    bad = error_details_pb2.BadRequest()
    status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["type"]
    assert len(await runs_of(rest, tenant, deploys)) == 1


# -- GitHub -----------------------------------------------------------------------------------


async def test_github_push_signed_creates_a_run_once(rest, tenant):
    workflow_id = await github_workflow(rest, tenant)
    body = json.dumps({"ref": "refs/heads/main", "after": "abc123"}).encode()
    headers = github_headers("push", body)
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}", data=body,
                                  headers=headers)
    assert status == 200, run
    assert run["trigger"] == "github" and run["workflowRef"] == workflow_id
    assert run["params"]["event"] == "push" and run["params"]["data"]["after"] == "abc123"
    # redelivery: same X-GitHub-Delivery
    status, again = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}", data=body,
                                    headers=headers)
    assert status == 200 and again["id"] == run["id"], again
    assert len(await runs_of(rest, tenant, workflow_id)) == 1


async def test_github_wrong_signature_is_401_and_creates_nothing(rest, tenant, stack):
    workflow_id = await github_workflow(rest, tenant)
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    for headers in (github_headers("push", body, secret="wrong-secret"),
                    {**github_headers("push", body), "X-Hub-Signature-256": ""}):
        status, answer = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                         data=body, headers=headers)
        assert status == 401, answer
    assert await runs_of(rest, tenant, workflow_id) == []
    assert GH_SECRET not in stack.logs()


async def test_github_ping_filtered_event_and_failing_condition_make_no_run(rest, tenant):
    workflow_id = await github_workflow(rest, tenant)
    for event, payload in (("ping", {"zen": "Keep it logically awesome."}),
                           ("issues", {"ref": "refs/heads/main"}),
                           ("push", {"ref": "refs/heads/feature"})):
        body = json.dumps(payload).encode()
        status, answer = await rest.call("POST", f"/api/v2/webhook?workflow={workflow_id}",
                                         data=body, headers=github_headers(event, body))
        assert status == 200 and answer["reason"] and "id" not in answer, (event, answer)
    assert await runs_of(rest, tenant, workflow_id) == []


# -- Slack --------------------------------------------------------------------------------------


async def test_slack_challenge_and_event_callback(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, slack={"enabled": True,
                                                            "secret": SLACK_SECRET})
    path = f"/api/v2/webhook?ref={workflow_id}"
    body = json.dumps({"type": "url_verification", "challenge": "chal-123",
                       "token": "legacy"}).encode()
    headers = slack_headers(body)
    assert SignatureVerifier(SLACK_SECRET).is_valid_request(body, headers)
    status, answer = await rest.call("POST", path, data=body, headers=headers)
    assert status == 200 and answer == {"challenge": "chal-123"}, answer
    assert await runs_of(rest, tenant, workflow_id) == []

    body = json.dumps({"type": "event_callback", "event_id": "Ev" + uuid.uuid4().hex,
                       "event": {"type": "app_mention", "text": "deploy"}}).encode()
    status, run = await rest.call("POST", path, data=body, headers=slack_headers(body))
    assert status == 200, run
    assert run["trigger"] == "slack" and run["workflowRef"] == workflow_id
    assert run["params"]["data"]["event"]["text"] == "deploy"
    # Slack's retry of the same event_id starts nothing new
    status, again = await rest.call("POST", path, data=body, headers=slack_headers(body))
    assert status == 200 and again["id"] == run["id"]
    assert len(await runs_of(rest, tenant, workflow_id)) == 1


async def test_slack_shortcut_form_encoded_creates_a_run(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, slack={"enabled": True,
                                                            "secret": SLACK_SECRET})
    payload = {"type": "shortcut", "callback_id": "deploy", "user": {"id": "U1"}}
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {**slack_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}", data=body,
                                  headers=headers)
    assert status == 200, run
    assert run["trigger"] == "slack" and run["params"]["data"]["callback_id"] == "deploy"


async def test_slack_stale_or_bad_signature_is_401(rest, tenant):
    workflow_id = await make_workflow(rest, tenant, slack={"enabled": True,
                                                            "secret": SLACK_SECRET})
    path = f"/api/v2/webhook?ref={workflow_id}"
    body = json.dumps({"type": "event_callback", "event": {"type": "app_mention"}}).encode()
    for headers in (slack_headers(body, int(time.time()) - 600),
                    slack_headers(body, secret="not-the-secret")):
        status, answer = await rest.call("POST", path, data=body, headers=headers)
        assert status == 401 and answer["code"] == 16, answer
    body = json.dumps({"type": "block_actions"}).encode()
    status, answer = await rest.call("POST", path, data=body, headers=slack_headers(body))
    assert status == 400 and "type" in field_violations(answer), answer
    assert await runs_of(rest, tenant, workflow_id) == []

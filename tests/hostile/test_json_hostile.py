"""Hostile JSON on every inbound path (SPEC §4 "JSON that is accepted can always be read back
and delivered"), through Envoy on both databases: lone surrogates, NaN, 1e400, deep nesting,
100,000 `[`, 5,000-digit numbers and NUL give 400 naming the field, create nothing, change
nothing, and leave the tenant's runs readable and other tenants served."""

from __future__ import annotations

import json
import uuid

import grpc
import pytest
from flowhooks.v1 import cloudevent_pb2, inbound_pb2, inbound_pb2_grpc
from inbound_client import (
    GH_SECRET,
    SLACK_SECRET,
    callback,
    get_run,
    github_headers,
    make_workflow,
    org,
    runs_of,
    slack_headers,
    waiting_run,
)
from tenancy import field_violations

# Each body is what a sender might really send, as raw bytes (json.dumps would refuse some).
POISON = {
    "lone surrogate": b'{"a": "\\ud800"}',
    "lone low surrogate": b'{"a": ["ok", "\\uDC00x"]}',
    "NaN": b'{"a": NaN}',
    "Infinity": b'{"a": -Infinity}',
    "1e400": b'{"a": 1e400}',
    "400 digits": b'{"a": ' + b"9" * 400 + b"}",
    "5,000 digits": b'{"a": ' + b"1" * 5000 + b"}",
    "150 deep": b'{"a": ' + b"[" * 150 + b"]" * 150 + b"}",
    "100,000 [": b"[" * 100_000,
    "NUL in a string": b'{"a": "x\\u0000y"}',
    "NUL in a key": b'{"a\\u0000": 1}',
    "invalid UTF-8": b'{"a": "\xff\xfe"}',
}
CASES = pytest.mark.parametrize("poison", sorted(POISON))


async def assert_still_readable(rest, tenant, workflow_id, expected: int) -> None:
    """The tenant's runs list and each run still answer 200 (a stored poison would 500)."""
    runs = await runs_of(rest, tenant, workflow_id)
    assert len(runs) == expected, runs
    for run in runs:
        await get_run(rest, tenant, run["id"])


async def assert_other_tenant_served(rest, other_tenant) -> None:
    workflow_id = await make_workflow(rest, other_tenant, webhook={"enabled": True})
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                  token=other_tenant.token, data=b'{"ok": true}')
    assert status == 200 and run["id"], run


def assert_names(answer: dict, status: int, field: str, expected_status: int = 400) -> None:
    assert status == expected_status, answer
    violations = field_violations(answer)
    assert any(name == field or name.startswith(field + ".") or name.startswith(field + "[")
               for name in violations), answer
    assert "Traceback" not in json.dumps(answer) and "<class" not in json.dumps(answer)


@CASES
async def test_plain_webhook_refuses_poison_json(rest, tenant, other_tenant, poison):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True})
    status, answer = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                     token=tenant.token, data=POISON[poison])
    assert_names(answer, status, "body")
    await assert_still_readable(rest, tenant, workflow_id, 0)
    await assert_other_tenant_served(rest, other_tenant)


@CASES
async def test_cloudevent_data_refuses_poison_json(rest, tenant, other_tenant, poison):
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    data = POISON[poison]
    structured = (b'{"specversion": "1.0", "id": "e1", "source": "/hostile", '
                  b'"type": "com.example.t", "data": ' + data + b"}")
    attempts = [
        ({"Content-Type": "application/cloudevents+json"}, structured, "body"),
        ({"Content-Type": "application/cloudevents-batch+json"}, b"[" + structured + b"]",
         "body"),
        ({"Content-Type": "application/json", "ce-specversion": "1.0", "ce-id": "e2",
          "ce-source": "/hostile", "ce-type": "com.example.t"}, data, "data"),
    ]
    for headers, body, field in attempts:
        status, answer = await rest.call("POST", f"/api/v2/event?ref={workflow_id}",
                                         token=tenant.token, headers=org(tenant) | headers,
                                         data=body)
        assert_names(answer, status, field)
    await assert_still_readable(rest, tenant, workflow_id, 0)
    await assert_other_tenant_served(rest, other_tenant)


@CASES
async def test_callback_refuses_poison_json_and_leaves_the_task_waiting(rest, tenant, poison):
    workflow_id, run_id = await waiting_run(rest, tenant)
    status, answer = await rest.call(
        "POST", f"/api/v2/callback?ref={run_id}&topic=approve", token=tenant.token,
        headers={"Content-Type": "application/json"}, data=POISON[poison])
    assert_names(answer, status, "body")
    run = await get_run(rest, tenant, run_id)
    assert run["status"] == "waiting" and run["tasks"][0]["status"] == "waiting", run
    # The run still completes normally afterwards.
    status, _ = await callback(rest, tenant, f"ref={run_id}&topic=approve", {"ok": 1})
    assert status == 200
    await assert_still_readable(rest, tenant, workflow_id, 1)


async def test_signed_github_and_slack_requests_refuse_deep_json(rest, tenant):
    body = b"[" * 100_000
    github = await make_workflow(rest, tenant, github={"enabled": True, "secret": GH_SECRET})
    status, answer = await rest.call("POST", f"/api/v2/webhook?ref={github}", data=body,
                                     headers=github_headers("push", body))
    assert_names(answer, status, "body")
    slack = await make_workflow(rest, tenant, slack={"enabled": True, "secret": SLACK_SECRET})
    status, answer = await rest.call("POST", f"/api/v2/webhook?ref={slack}", data=body,
                                     headers=slack_headers(body))
    assert_names(answer, status, "body")
    for workflow_id in (github, slack):
        await assert_still_readable(rest, tenant, workflow_id, 0)


async def test_unauthenticated_slack_with_a_400_digit_timestamp_is_401(rest, tenant):
    slack = await make_workflow(rest, tenant, slack={"enabled": True, "secret": SLACK_SECRET})
    body = b'{"type": "event_callback"}'
    for timestamp in ("9" * 400, "-1", "1_700_000_000", " 17"):
        headers = {**slack_headers(body), "X-Slack-Request-Timestamp": timestamp}
        status, answer = await rest.call("POST", f"/api/v2/webhook?ref={slack}", data=body,
                                         headers=headers)
        assert status == 401 and answer["code"] == 16, (timestamp, answer)
    await assert_still_readable(rest, tenant, slack, 0)


async def test_grpc_cloudevent_with_poison_text_data_is_invalid_argument(channel, rest, tenant):
    workflow_id = await make_workflow(rest, tenant, event={"enabled": True})
    stub = inbound_pb2_grpc.InboundServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"), ("x-org-id", tenant.id))
    for text in ("[" * 100_000, '{"a": NaN}', '{"a": "\\ud800"}'):
        event = cloudevent_pb2.CloudEvent(id=str(uuid.uuid4()), source="/hostile",
                                          spec_version="1.0", type="com.example.t",
                                          text_data=text)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.AcceptCloudEvent(inbound_pb2.AcceptCloudEventRequest(
                event=event, ref=workflow_id), metadata=auth)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, text[:20]
        assert "textData" in err.value.details()
    await assert_still_readable(rest, tenant, workflow_id, 0)


async def test_numbers_keep_their_value_in_the_answer_and_stored_params(rest, stack, tenant):
    workflow_id = await make_workflow(rest, tenant, webhook={"enabled": True})
    big = 2**64 + 1
    body = b'{"id": 1, "big": ' + str(big).encode() + b', "neg": -' + str(big).encode() + \
        b', "f": 0.5}'
    status, run = await rest.call("POST", f"/api/v2/webhook?ref={workflow_id}",
                                  token=tenant.token, data=body)
    assert status == 200, run
    # The answer shows the numbers as sent (not 1.0, not a rounded double).
    assert run["params"]["data"] == {"id": 1, "big": big, "neg": -big, "f": 0.5}
    assert isinstance(run["params"]["data"]["id"], int)
    stored = await stored_params(stack.database_url, run["id"])
    assert stored["data"] == {"id": 1, "big": big, "neg": -big, "f": 0.5}
    assert isinstance(stored["data"]["id"], int)


async def stored_params(database_url: str, run_id: str) -> dict:
    from sqlalchemy import select

    from flowhooks_server.storage.db import Database
    from flowhooks_server.storage.models import WorkflowRun

    db = Database(database_url)
    try:
        async with db.session(readonly=True) as session:
            return await session.scalar(select(WorkflowRun.params)
                                        .where(WorkflowRun.id == run_id))
    finally:
        await db.dispose()


async def test_callback_numbers_reach_the_delivered_body_unchanged(irest, itenant, receiver):
    big = str(2**70 + 3).encode()
    status, _ = await irest.call("POST", "/webhooks", token=itenant.token, headers=org(itenant),
                                 json={"name": "big", "url": receiver.url,
                                       "eventTypes": ["workflow.step.completed"]})
    assert status == 200
    _, run_id = await waiting_run(irest, itenant)
    status, _ = await irest.call(
        "POST", f"/api/v2/callback?ref={run_id}&topic=approve", token=itenant.token,
        headers={"Content-Type": "application/json"}, data=b'{"n": ' + big + b', "one": 1}')
    assert status == 200
    [delivery] = await receiver.wait_for(1, timeout_s=15)
    assert b'"n":' + big in delivery.body and b'"one":1' in delivery.body, delivery.body
    assert json.loads(delivery.body)["data"]["results"]["data"]["n"] == 2**70 + 3

"""Runs emit their lifecycle events through the outbox (SPEC §6, §8): a subscribed receiver
gets workflow.started, the step events and workflow.completed (or workflow.failed), in causal
order on an ordered webhook, each `data` valid against the catalog's JSON Schema."""

from __future__ import annotations

import jsonschema
from harness import wait_for

from flowhooks_server.domain.catalog import CATALOG

SCHEMAS = {t.name: t.data_schema for t in CATALOG}


async def _subscribe(irest, itenant, url: str) -> str:
    status, hook = await irest.call("POST", "/webhooks", token=itenant.token, json={
        "name": "runs", "url": url, "eventTypes": ["workflow.*"], "ordered": True})
    assert status == 200, hook
    return hook["id"]


async def _submit(irest, itenant, tasks: list[dict]) -> dict:
    status, workflow = await irest.call("POST", "/api/v2/workflows", token=itenant.token, json={
        "name": "deploy", "triggers": {"manual": {"enabled": True}}, "tasks": tasks})
    assert status == 200, workflow
    status, run = await irest.call("POST", f"/api/v2/workflows/{workflow['id']}/submit",
                                   token=itenant.token, json={})
    assert status == 200, run
    return run


def _checked(received) -> list[tuple[str, str | None]]:
    """(event type, task name) of each delivery, after validating its data."""
    seen = []
    for got in received:
        payload = got.json
        jsonschema.validate(payload["data"], SCHEMAS[payload["event_type"]])
        seen.append((payload["event_type"], payload["data"].get("task_name")))
    return seen


async def test_a_run_publishes_its_lifecycle_in_order(irest, itenant, receiver):
    await _subscribe(irest, itenant, receiver.url)
    run = await _submit(irest, itenant, [{"name": "a", "type": "sleep", "duration": "0.1s"},
                                         {"name": "b", "type": "sleep", "duration": "0s"}])
    received = await receiver.wait_for(6)
    assert _checked(received) == [
        ("workflow.started", None),
        ("workflow.step.started", "a"), ("workflow.step.completed", "a"),
        ("workflow.step.started", "b"), ("workflow.step.completed", "b"),
        ("workflow.completed", None)]
    assert {r.json["data"]["workflow_run_id"] for r in received} == {run["id"]}
    assert received[-1].json["data"]["status"] == "succeeded"

    async def events_stored():
        status, logs = await irest.call("GET", "/webhooks/logs/all", token=itenant.token)
        return status == 200 and len(logs) == 6
    await wait_for(events_stored)


async def test_a_failing_run_publishes_step_failed_and_workflow_failed(irest, itenant,
                                                                        receiver):
    await _subscribe(irest, itenant, receiver.url)
    await _submit(irest, itenant, [
        {"name": "wait", "type": "eventwait", "topic": "go", "timeout": "0.2s"}])
    received = await receiver.wait_for(4)
    assert _checked(received) == [
        ("workflow.started", None), ("workflow.step.started", "wait"),
        ("workflow.step.failed", "wait"), ("workflow.failed", None)]
    assert received[2].json["data"]["task_status"] == "timedout"
    assert received[3].json["data"]["status"] == "failed"

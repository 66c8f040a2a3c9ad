"""Lifecycle events carry the run's state after the move that emitted them (SPEC §6), on
both databases: the last task's `workflow.step.completed` shows the run finished, not the
`waiting` it was in before the callback; a step that leaves the run waiting says so."""

from __future__ import annotations

from inbound_client import callback, org, waiting_run


async def test_step_events_show_the_run_after_the_move(irest, itenant, receiver):
    status, _ = await irest.call("POST", "/webhooks", token=itenant.token, headers=org(itenant),
                                 json={"name": "steps", "url": receiver.url,
                                       "eventTypes": ["workflow.*"]})
    assert status == 200
    _, run_id = await waiting_run(irest, itenant)
    status, _ = await callback(irest, itenant, f"ref={run_id}&topic=approve", {"ok": True})
    assert status == 200
    received = await receiver.wait_for(4, timeout_s=15)
    by_type = {r.json["event_type"]: r.json["data"] for r in received
               if r.json["data"]["workflow_run_id"] == run_id}
    assert by_type["workflow.step.started"]["status"] == "waiting"
    assert by_type["workflow.step.completed"]["status"] == "succeeded"
    assert by_type["workflow.step.completed"]["task_status"] == "succeeded"
    assert by_type["workflow.completed"]["status"] == "succeeded"

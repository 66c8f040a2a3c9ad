"""The event catalog and stored events (SPEC §7)."""

from __future__ import annotations

from flowhooks_server.storage import events as event_store
from flowhooks_server.storage.db import Database


async def test_catalog_lists_six_types_with_schemas(rest, tenant):
    status, body = await rest.call("GET", f"/event/{tenant.id}/event-types", token=tenant.token)
    assert status == 200 and isinstance(body, list)
    assert {t["name"] for t in body} == {
        "workflow.started", "workflow.completed", "workflow.failed",
        "workflow.step.started", "workflow.step.completed", "workflow.step.failed"}
    for entry in body:
        assert entry["description"]
        assert entry["dataSchema"]["type"] == "object"
        assert "workflow_run_id" in entry["dataSchema"]["properties"]


async def test_stored_event_is_returned_to_its_tenant_only(rest, tenant, other_tenant, stack):
    db = Database(stack.database_url)
    try:
        async with db.session() as session, session.begin():
            [row] = await event_store.add_many(
                session, tenant.id,
                [("workflow.completed", {"workflow_run_id": "run_1", "status": "succeeded"})],
                workflow_id="wf_1", workflow_run_id="run_1")
    finally:
        await db.dispose()
    status, got = await rest.call("GET", f"/event/{tenant.id}/events/{row.id}",
                                  token=tenant.token)
    assert status == 200
    assert got["locator"] == row.id and got["type"] == "workflow.completed"
    assert got["data"] == {"workflow_run_id": "run_1", "status": "succeeded"}
    assert got["workflowRunId"] == "run_1" and got["timestamp"]
    status, _ = await rest.call("GET", f"/event/{other_tenant.id}/events/{row.id}",
                                token=other_tenant.token)
    assert status == 404
    status, _ = await rest.call("GET", f"/event/{tenant.id}/events/{row.id}",
                                token=other_tenant.token)
    assert status == 403
    status, body = await rest.call("GET", f"/event/{tenant.id}/events/evt_missing",
                                   token=tenant.token)
    assert status == 404 and body["code"] == 5

"""Workflow runs (SPEC §6): the manual trigger, tasks in order (sleep, eventwait timeout,
external), cancel, durable timers across a restart, and the lifecycle events a subscribed
receiver gets."""

from __future__ import annotations

import secrets

import aiohttp
import grpc
from flowhooks.v1 import runs_pb2, runs_pb2_grpc
from harness import Rest, Stack, wait_for
from tenancy import Tenant, make_tenant

MANUAL = {"manual": {"enabled": True}}


async def _workflow(rest: Rest, tenant: Tenant, tasks: list[dict], **extra) -> str:
    status, body = await rest.call("POST", "/api/v2/workflows", token=tenant.token, json={
        "name": "deploy", "triggers": MANUAL, "tasks": tasks, **extra})
    assert status == 200, body
    return body["id"]


async def _submit(rest: Rest, tenant: Tenant, workflow: str, params=None) -> dict:
    status, run = await rest.call("POST", f"/api/v2/workflows/{workflow}/submit",
                                  token=tenant.token, json={"params": params or {}})
    assert status == 200, run
    return run


async def _run(rest: Rest, tenant: Tenant, run_id: str) -> dict:
    status, run = await rest.call("GET", f"/api/v2/workflowruns/{run_id}", token=tenant.token)
    assert status == 200, run
    return run


async def _until_status(rest, tenant, run_id: str, *statuses: str, timeout_s=10.0) -> dict:
    async def done():
        run = await _run(rest, tenant, run_id)
        return run if run["status"] in statuses else None
    return await wait_for(done, timeout_s)


async def test_sleeps_then_succeeds(rest, tenant):
    workflow = await _workflow(rest, tenant, [
        {"name": "a", "type": "sleep", "duration": "0.2s"},
        {"name": "b", "type": "sleep", "duration": "0.1s"}], params={"env": "prod"})
    run = await _submit(rest, tenant, workflow, {"ticket": 7})
    assert run["workflowRef"] == workflow and run["trigger"] == "manual"
    assert run["status"] == "running" and run["phase"] == "running"
    assert run["params"] == {"env": "prod", "ticket": 7}
    assert [t["status"] for t in run["tasks"]] == ["running", "notstarted"]
    done = await _until_status(rest, tenant, run["id"], "succeeded")
    assert done["phase"] == "completed" and done["endTime"]
    assert [(t["status"], t["phase"]) for t in done["tasks"]] == [
        ("succeeded", "completed"), ("succeeded", "completed")]


async def test_eventwait_timeout_fails_the_run(rest, tenant):
    workflow = await _workflow(rest, tenant, [
        {"name": "approval", "type": "eventwait", "topic": "approve", "timeout": "0.3s"},
        {"name": "after", "type": "sleep", "duration": "0s"}])
    run = await _submit(rest, tenant, workflow)
    assert run["status"] == "waiting" and run["tasks"][0]["status"] == "waiting"
    done = await _until_status(rest, tenant, run["id"], "failed")
    assert [t["status"] for t in done["tasks"]] == ["timedout", "cancelled"]


async def test_cancel(rest, tenant):
    workflow = await _workflow(rest, tenant, [{"name": "w", "type": "eventwait", "topic": "t"}])
    run = await _submit(rest, tenant, workflow)
    status, cancelled = await rest.call("POST", f"/api/v2/workflowruns/{run['id']}/cancel",
                                        token=tenant.token, json={})
    assert status == 200 and cancelled["status"] == "cancelled"
    assert cancelled["tasks"][0]["status"] == "cancelled"
    status, body = await rest.call("POST", f"/api/v2/workflowruns/{run['id']}/cancel",
                                   token=tenant.token, json={})
    assert status == 400 and "finished" in body["message"]
    assert (await _run(rest, tenant, run["id"]))["status"] == "cancelled"


async def test_submit_refusals(rest, tenant, other_tenant):
    workflow = await _workflow(rest, tenant, [{"name": "s", "type": "sleep", "duration": "0s"}],
                               triggers={"manual": {"enabled": False}})
    status, body = await rest.call("POST", f"/api/v2/workflows/{workflow}/submit",
                                   token=tenant.token, json={})
    assert status == 400 and "manual" in body["message"]
    status, _ = await rest.call("POST", "/api/v2/workflows/wf_nope/submit", token=tenant.token,
                                json={})
    assert status == 404
    status, _ = await rest.call("POST", f"/api/v2/workflows/{workflow}/submit",
                                token=other_tenant.token, json={})
    assert status in (403, 404)
    status, runs = await rest.call("GET", f"/api/v2/workflowruns?workflow={workflow}",
                                   token=tenant.token)
    assert status == 200 and runs["workflowRuns"] == []


async def test_list_and_tenancy(rest, tenant, other_tenant):
    workflow = await _workflow(rest, tenant, [{"name": "w", "type": "eventwait", "topic": "t"}])
    first = await _submit(rest, tenant, workflow)
    second = await _submit(rest, tenant, workflow)
    status, runs = await rest.call("GET", f"/api/v2/workflowruns?workflow={workflow}",
                                   token=tenant.token)
    assert status == 200
    assert [r["id"] for r in runs["workflowRuns"]] == [second["id"], first["id"]]
    status, runs = await rest.call("GET", "/api/v2/workflowruns?status=succeeded",
                                   token=tenant.token)
    assert runs["workflowRuns"] == []
    status, body = await rest.call("GET", f"/api/v2/workflowruns/{first['id']}",
                                   token=other_tenant.token)
    assert status in (403, 404) and "tasks" not in body
    status, runs = await rest.call("GET", "/api/v2/workflowruns", token=other_tenant.token)
    assert runs["workflowRuns"] == []


async def test_external_task_offered_and_ended(rest, tenant, channel):
    workflow = await _workflow(rest, tenant, [{"name": "build", "type": "external"},
                                              {"name": "done", "type": "sleep", "duration": "0s"}])
    run = await _submit(rest, tenant, workflow)
    stub = runs_pb2_grpc.WorkflowRunServiceStub(channel)
    stream = stub.WatchExternalTasks(runs_pb2.WatchExternalTasksRequest(workflow=workflow),
                                     metadata=[("authorization", f"Bearer {tenant.token}")])
    offered = await stream.read()
    stream.cancel()
    assert offered.workflow_run_id == run["id"] and offered.name == "build"
    status, body = await rest.call("POST", f"/api/v2/taskruns/{offered.id}/end",
                                   token=tenant.token, json={"status": "nope"})
    assert status == 400 and body["details"], body
    status, task = await rest.call("POST", f"/api/v2/taskruns/{offered.id}/end",
                                   token=tenant.token,
                                   json={"status": "succeeded", "results": {"artifact": "x"}})
    assert status == 200 and task["status"] == "succeeded"
    assert task["results"] == {"artifact": "x"}
    done = await _until_status(rest, tenant, run["id"], "succeeded")
    assert done["tasks"][0]["results"] == {"artifact": "x"}
    status, _ = await rest.call("POST", f"/api/v2/taskruns/{offered.id}/end",
                                token=tenant.token, json={"status": "succeeded"})
    assert status == 400


async def test_external_task_failure_fails_the_run(rest, tenant, channel):
    workflow = await _workflow(rest, tenant, [{"name": "build", "type": "external"}])
    run = await _submit(rest, tenant, workflow)
    task_id = run["tasks"][0]["id"]
    status, _ = await rest.call("POST", f"/api/v2/taskruns/{task_id}/end", token=tenant.token,
                                json={"status": "failed"})
    assert status == 200
    done = await _run(rest, tenant, run["id"])
    assert done["status"] == "failed" and done["tasks"][0]["status"] == "failed"


async def test_unknown_task_run_is_404_over_grpc(channel, tenant):
    stub = runs_pb2_grpc.WorkflowRunServiceStub(channel)
    try:
        await stub.EndTaskRun(runs_pb2.EndTaskRunRequest(id="task_nope", status="succeeded"),
                              metadata=[("authorization", f"Bearer {tenant.token}")])
    except grpc.aio.AioRpcError as exc:
        assert exc.code() == grpc.StatusCode.NOT_FOUND
    else:
        raise AssertionError("ended an unknown task")


async def test_sleep_survives_a_restart(fresh_database_url, tmp_path):
    stack = Stack(fresh_database_url, tmp_path, "fh_boot_" + secrets.token_hex(16))
    stack.start()
    try:
        async with aiohttp.ClientSession() as session:
            rest = Rest(stack.rest, session)
            tenant = await make_tenant(rest, stack.bootstrap_token)
            workflow = await _workflow(rest, tenant, [
                {"name": "nap", "type": "sleep", "duration": "10s"}])  # outlasts a restart
            run = await _submit(rest, tenant, workflow)
        stack.stop()
        stack.start()
        async with aiohttp.ClientSession() as session:
            rest = Rest(stack.rest, session)
            assert (await _run(rest, tenant, run["id"]))["status"] == "running"
            done = await _until_status(rest, tenant, run["id"], "succeeded", timeout_s=30)
            assert done["tasks"][0]["status"] == "succeeded"
    finally:
        stack.stop()

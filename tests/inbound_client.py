"""Clients of the inbound route for tests (SPEC §6): workflows, runs, plain, GitHub- and
Slack-signed webhooks and callbacks through Envoy, importable from any test package."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from harness import wait_for
from slack_sdk.signature import SignatureVerifier

GH_SECRET, SLACK_SECRET = "gh-inbound-secret", "slack-inbound-secret"
WAIT = [{"name": "approval", "type": "eventwait", "topic": "approve"}]


def org(tenant) -> dict:
    return {"X-Org-Id": tenant.id}


async def make_workflow(rest, tenant, tasks=WAIT, **triggers) -> str:
    body = {"name": "inbound-" + uuid.uuid4().hex[:8], "triggers": triggers, "tasks": tasks}
    status, created = await rest.call("POST", "/api/v2/workflows", token=tenant.token,
                                      headers=org(tenant), json=body)
    assert status == 200, created
    return created["id"]


async def get_run(rest, tenant, run_id) -> dict:
    status, run = await rest.call("GET", f"/api/v2/workflowruns/{run_id}", token=tenant.token,
                                  headers=org(tenant))
    assert status == 200, run
    return run


async def runs_of(rest, tenant, workflow_id) -> list[dict]:
    status, body = await rest.call("GET", f"/api/v2/workflowruns?workflow={workflow_id}",
                                   token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return body["workflowRuns"]


async def wait_status(rest, tenant, run_id, wanted: str) -> dict:
    async def reached():
        run = await get_run(rest, tenant, run_id)
        return run if run["status"] == wanted else None
    return await wait_for(reached, timeout_s=15)


async def plain_webhook(rest, tenant, workflow_id, payload=None, *, query="ref",
                        headers=None, token=True):
    return await rest.call(
        "POST", f"/api/v2/webhook?{query}={workflow_id}", token=tenant.token if token else None,
        headers=headers, data=json.dumps(payload or {}).encode(),
    )


async def callback(rest, tenant, query: str, body=None, method="POST"):
    data = None if body is None else json.dumps(body).encode()
    return await rest.call(method, f"/api/v2/callback?{query}", token=tenant.token, data=data,
                           headers={"Content-Type": "application/json"} if data else None)


async def waiting_run(rest, tenant, tasks=WAIT) -> tuple[str, str]:
    workflow_id = await make_workflow(rest, tenant, tasks, webhook={"enabled": True})
    status, run = await plain_webhook(rest, tenant, workflow_id, {"n": 1})
    assert status == 200, run
    return workflow_id, run["id"]


def github_headers(event: str, body: bytes, secret=GH_SECRET, delivery=None) -> dict:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


async def github_workflow(rest, tenant) -> str:
    return await make_workflow(rest, tenant, github={
        "enabled": True, "secret": GH_SECRET, "events": ["push"], "conditions": [
            {"field": "$.ref", "operation": "equals", "value": "refs/heads/main"}]})


def slack_headers(body: bytes, timestamp: int | None = None, secret=SLACK_SECRET) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp),
                                                             body=body.decode())
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature,
            "Content-Type": "application/json"}

"""SPEC §10/§12: the REST surface fuzzed through its OpenAPI document, against a live stack.

schemathesis generates requests from generated/openapi.json for every operation and sends them
through Envoy to a real `flowhooks run` (SQLite). No answer may be a 5xx, and every answer must
agree with the document: a documented status, a documented content type, a body of the
documented schema. A failure is a bug, in the server or in the document (scripts/openapi.py).

- Bounded, so it stays well inside `make test`: MAX_EXAMPLES per operation, derandomized (the
  same requests on every run, and no example database), a per-request timeout. Server streams
  (`x-flowhooks-stream`) are left out: they answer for as long as the client waits.
- Deep enough to reach answers other than 404: the stack holds a workflow, a run waiting on
  an external task, a webhook with a delivery log and a diverted event, and about half the
  generated ids, tenants and `ref`s (chosen by a hash of the generated value, so the same
  ones on every run) are replaced by those. DELETEs keep their generated ids.
- Contained: the fuzzer makes up webhook URLs, so the stack's Python connects to loopback only
  and looks up no name (fuzz_sandbox/sitecustomize.py); its deliveries fail as `network`.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import schemathesis
from dbutil import sqlite_url
from harness import ROOT, Stack
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

OPENAPI = ROOT / "generated" / "openapi.json"
SANDBOX = Path(__file__).resolve().parent / "fuzz_sandbox"
MAX_EXAMPLES = 10
REQUEST_TIMEOUT_S = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
CONFIG = f"""
[generation]
max-examples = {MAX_EXAMPLES}
deterministic = true
database = "none"
mode = "positive"
with-security-parameters = false
[phases.examples]
enabled = false
[phases.coverage]
enabled = false
[phases.stateful]
enabled = false
"""
STREAMS = [
    op["operationId"]
    for item in json.loads(OPENAPI.read_text())["paths"].values()
    for op in item.values() if "x-flowhooks-stream" in op["responses"]["200"]
]

schema = schemathesis.openapi.from_path(
    OPENAPI, config=SchemathesisConfig.from_str(CONFIG)).exclude(operation_id=STREAMS)

pytestmark = pytest.mark.fuzz


@dataclass
class Seeds:
    tenant: str
    workflow: str
    run: str
    task_run: str
    webhook: str
    event: str


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """This module's own stack on SQLite, contained (see above). It stands in for the shared
    per-backend `stack`, so the e2e marker applies and the fuzzer runs once, and it keeps the
    fuzzer's junk away from other tests."""
    s = Stack(sqlite_url(tmp_path_factory.mktemp("fuzz-db")), tmp_path_factory.mktemp("fuzz"),
              "fh_boot_" + secrets.token_hex(16),
              PYTHONPATH=os.pathsep.join(filter(None, [str(SANDBOX),
                                                       os.environ.get("PYTHONPATH")])))
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def session(stack):
    """Sends a tenant token holding every permission (`*`)."""
    with requests.Session() as s:
        token = _ok(s.post(f"{stack.rest}/api/v2/tokens", timeout=10, json={
            "tenant": str(uuid.uuid4()), "name": "fuzz", "permissions": ["*"]},
            headers={"Authorization": f"Bearer {stack.bootstrap_token}"}))
        s.headers["Authorization"] = f"Bearer {token['token']}"
        s.tenant = token["tenant"]
        yield s


@pytest.fixture(scope="module")
def seeds(stack, session) -> Seeds:
    rest, tenant = stack.rest, session.tenant
    webhook = _ok(session.post(f"{rest}/event/{tenant}/webhooks", timeout=10, json={
        "name": "fuzz", "endpoint": {"url": "https://hooks.example.com/in"},
        "eventTypes": ["*"],
        "failureHandling": {"triggers": ["network"], "divert": True,
                            "retryStrategy": {"type": "linear", "interval": "0s",
                                              "attempts": 1}}}))["locator"]
    workflow = _ok(session.post(f"{rest}/api/v2/workflows", timeout=10, json={
        "name": "fuzz",
        "triggers": {"manual": {"enabled": True}, "webhook": {"enabled": True},
                     "event": {"enabled": True}},
        "tasks": [{"name": "ext", "type": "external"},
                  {"name": "wait", "type": "eventwait", "topic": "go", "timeout": "3600s"}]}))
    run = _ok(session.post(f"{rest}/api/v2/workflows/{workflow['id']}/submit", timeout=10,
                           json={}))
    deadline = time.monotonic() + 20
    while True:  # the run's events fail to deliver (network), are retried once and diverted
        diverted = _ok(session.get(f"{rest}/event/{tenant}/webhooks/{webhook}/diverted",
                                   timeout=10))
        if diverted:
            break
        assert time.monotonic() < deadline, "no diverted event in time"
        time.sleep(0.1)
    # The containment is in force: the delivery never looked the name up.
    assert "no name lookups in this test stack" in diverted[0]["failureMessage"], diverted
    return Seeds(tenant, workflow["id"], run["id"], run["tasks"][0]["id"], webhook,
                 diverted[0]["eventLocator"])


def _ok(answer: requests.Response):
    assert answer.status_code == 200, answer.text
    return answer.json()


def _taken(case, where: str, value) -> bool:
    """Whether to replace this generated value by a seed: half the time, the same each run."""
    return zlib.crc32(f"{case.method} {case.path} {where} {value!r}".encode()) % 2 == 0


def _seed_for(path: str, name: str, seeds: Seeds) -> str | None:
    if name == "tenant":
        return seeds.tenant
    if name in ("webhook", "webhook_id") or path.startswith("/webhooks/{id}"):
        return seeds.webhook
    if name == "event":
        return seeds.event
    for prefix, seed in (("/api/v2/workflows/", seeds.workflow),
                         ("/api/v2/workflowruns/", seeds.run),
                         ("/api/v2/taskruns/", seeds.task_run)):
        if path.startswith(prefix):
            return seed
    return None


def _seed(case, seeds: Seeds) -> None:
    for name, value in (case.path_parameters or {}).items():
        seed = _seed_for(case.path, name, seeds)
        # `/event/{tenant}/...` always: any other tenant stops at 403.
        if seed and (name == "tenant" or (case.method != "DELETE"
                                          and _taken(case, name, value))):
            case.path_parameters[name] = seed
    ref = {"/api/v2/callback": seeds.run, "/api/v2/event": seeds.workflow,
           "/api/v2/webhook": seeds.workflow}.get(case.path)
    if ref and case.query is not None and _taken(case, "ref", case.query.get("ref")):
        case.query["ref"] = ref
    if case.headers and "X-Org-Id" in case.headers and _taken(
            case, "X-Org-Id", case.headers["X-Org-Id"]):
        case.headers["X-Org-Id"] = seeds.tenant


@schema.parametrize()
def test_rest_surface_matches_its_openapi_document(case, stack, session, seeds):
    _seed(case, seeds)
    case.call_and_validate(base_url=stack.rest, session=session, checks=CHECKS,
                           timeout=REQUEST_TIMEOUT_S)

"""The inbound route's use cases (SPEC §6): CloudEvents routed to the workflows whose event
trigger admits them, callbacks resolving `eventwait` tasks, and webhooks from Slack, GitHub and
plain JSON senders turned into runs. Parsing and signature checks are the pure functions of
`domain.inbound`; this module finds the workflows, de-duplicates and starts the runs.

De-duplication: a request's key is written in the transaction that writes its runs
(`services.run_starts`), so a repeat, however it is timed, finds either both or neither.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowhooks_server.domain import conditions, json_doc
from flowhooks_server.domain import runs as run_rules
from flowhooks_server.domain.auth import Principal, resolve_tenant
from flowhooks_server.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Violations,
    found,
)
from flowhooks_server.domain.inbound import github, plain, slack
from flowhooks_server.domain.inbound._http import lower_headers
from flowhooks_server.domain.inbound.cloudevents import InboundEvent
from flowhooks_server.domain.workflows import Trigger
from flowhooks_server.services.run_starts import OnceKey
from flowhooks_server.services.runs import RunEngine, RunView
from flowhooks_server.services.workflows import WorkflowManager, spec_of
from flowhooks_server.storage import inbound as inbound_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Workflow

MAX_KEY = 512


def _key(*parts: str) -> str:
    """One key column value from several parts; hashed when it would not fit."""
    joined = "\n".join(parts)
    if len(joined) <= MAX_KEY:
        return joined
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


@dataclass
class AcceptedEvents:
    event_ids: list[str]
    runs: list[RunView] = field(default_factory=list)


@dataclass
class WebhookOutcome:
    """A run (started now or by the first delivery), or a JSON answer without one."""

    run: RunView | None = None
    answer: dict | None = None


def _event_params(event: InboundEvent) -> dict:
    data: Any = event.data
    if isinstance(data, bytes):
        data = base64.b64encode(data).decode("ascii")
    return {"event": event.to_json(), "data": data}


class Inbound:
    def __init__(self, db: Database, workflows: WorkflowManager, runs: RunEngine,
                 clock: Callable[[], float] = time.time):
        self._db = db
        self._workflows = workflows
        self._runs = runs
        self._clock = clock

    # -- POST /api/v2/event ------------------------------------------------------------------

    async def accept_events(self, tenant: str, ref: str,
                            events: list[InboundEvent]) -> AcceptedEvents:
        """Start the runs of every event (in order), each de-duplicated by source + id."""
        if ref:
            workflow = await self._workflows.get(tenant, ref)
            if not spec_of(workflow).triggers.event.enabled:
                raise FailedPrecondition(f"workflow {ref!r} has its event trigger disabled")
            candidates = [workflow]
        else:
            candidates = await self._event_workflows(tenant)
        accepted = AcceptedEvents(event_ids=[event.id for event in events])
        for event in events:
            accepted.runs.extend(await self._accept_event(tenant, candidates, event))
        return accepted

    async def _event_workflows(self, tenant: str) -> list[Workflow]:
        async with self._db.session(readonly=True) as session:
            return [row async for row in inbound_store.tenant_workflows(session, tenant)
                    if spec_of(row).triggers.event.enabled]

    async def _accept_event(self, tenant: str, candidates: list[Workflow],
                            event: InboundEvent) -> list[RunView]:
        payload = event.to_json()
        chosen = [w for w in candidates
                  if conditions.all_hold(spec_of(w).triggers.event.conditions, payload)]
        params = _event_params(event)
        news = [self._runs.prepare(tenant, workflow, "event", params) for workflow in chosen]
        started = await self._runs.start_once(
            news, OnceKey(tenant, "cloudevent", _key(*event.dedupe_key)))
        if started.first:
            return [RunView(new.run, new.tasks) for new in news]
        return await self._views(tenant, started.run_ids)

    async def _views(self, tenant: str, run_ids: list[str]) -> list[RunView]:
        views = []
        for run_id in run_ids:
            try:
                views.append(await self._runs.get(tenant, run_id))
            except NotFound:
                continue
        return views

    # -- POST|GET /api/v2/callback -----------------------------------------------------------

    async def callback(self, tenant: str, run_id: str, topic: str, status: str,
                       body: bytes) -> None:
        problems = Violations()
        if not run_id:
            problems.add("ref", "is required: the workflow run to call back")
        if not topic:
            problems.add("topic", "is required")
        if status and status.lower() not in run_rules.CALLBACK_STATUSES:
            problems.add("status", "must be succeeded or failed")
        data: Any = {}
        if body.strip():
            try:
                data = json_doc.loads(body)
            except InvalidArgument as exc:
                problems.items.extend(exc.violations)
                data = {}
            if not isinstance(data, dict):
                problems.add("body", "must be a JSON object")
        problems.raise_if_any()
        await self._runs.callback(tenant, run_id, topic, status or "succeeded", data)

    # -- POST /api/v2/webhook ----------------------------------------------------------------

    async def plain_webhook(self, principal: Principal | None, org: str | None, ref: str,
                            headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        if principal is None:
            raise Unauthenticated("a bearer token (or access_token) with workflows:trigger is "
                                  "required for a webhook that is not signed by Slack or "
                                  "GitHub")
        principal.require("workflows:trigger")
        if principal.tenant is not None or org:
            tenant: str | None = resolve_tenant(principal, org, "X-Org-Id")
        else:
            tenant = None
        workflow = await self._workflow(ref, tenant)
        trigger = spec_of(workflow).triggers.webhook
        if not trigger.enabled:
            raise FailedPrecondition(f"workflow {workflow.id!r} has its webhook trigger disabled")
        key = plain.dedupe_key(headers)
        data = plain.parse_body(body)
        return await self._start_once(workflow, trigger, "webhook", {"data": data}, data,
                                      "webhook", key)

    async def github_webhook(self, ref: str, headers: Mapping[str, str],
                             body: bytes) -> WebhookOutcome:
        workflow = await self._workflow(ref)
        trigger = spec_of(workflow).triggers.github
        github.verify_signature(trigger.secret, headers, body)
        delivery = github.parse_delivery(headers, body)
        decision = github.decide(delivery, enabled=trigger.enabled, events=trigger.events)
        if not decision.create_run:
            return WebhookOutcome(answer={"reason": decision.reason})
        params = {"event": delivery.event, "delivery": delivery.delivery_id,
                  "data": delivery.payload}
        return await self._start_once(workflow, trigger, "github", params, delivery.payload,
                                      "github", delivery.dedupe_key)

    async def slack_webhook(self, ref: str, headers: Mapping[str, str],
                            body: bytes) -> WebhookOutcome:
        workflow = await self._workflow(ref)
        trigger = spec_of(workflow).triggers.slack
        slack.verify_signature(trigger.secret, headers, body, now=self._clock())
        request = slack.parse_request(headers, body)
        if request.challenge is not None:
            return WebhookOutcome(answer={"challenge": request.challenge})
        if not request.creates_run:
            raise InvalidArgument("type", f"Slack request type {request.kind!r} is not handled:"
                                          " send url_verification, event_callback or shortcut")
        if not trigger.enabled:
            return WebhookOutcome(answer={"reason": "the workflow's Slack trigger is disabled"})
        params = {"event": request.kind, "data": request.payload}
        return await self._start_once(workflow, trigger, "slack", params, request.payload,
                                      "slack", request.dedupe_key)

    async def _workflow(self, ref: str, tenant: str | None = None) -> Workflow:
        if not ref:
            raise InvalidArgument("ref", "is required: the workflow to trigger")
        if tenant is not None:
            return await self._workflows.get_for_trigger(tenant, ref)
        async with self._db.session(readonly=True) as session:
            return found(await inbound_store.workflow_by_id(session, ref), "workflow", ref)

    async def _start_once(self, workflow: Workflow, trigger: Trigger, kind: str, params: dict,
                          payload: Any, scope: str, key: str | None) -> WebhookOutcome:
        failing = conditions.first_failing(trigger.conditions, payload)
        if failing is not None:
            return WebhookOutcome(answer={
                "reason": f"the {kind} trigger's condition on {failing.field} does not hold"})
        tenant = workflow.tenant_id
        new = self._runs.prepare(tenant, workflow, kind, params)
        once = None if key is None else OnceKey(tenant, scope, _key(workflow.id, key))
        started = await self._runs.start_once([new], once)
        views = [RunView(new.run, new.tasks)] if started.first else \
            await self._views(tenant, started.run_ids)
        if not views:
            return WebhookOutcome(answer={"reason": "the first delivery's run is gone"})
        return WebhookOutcome(run=views[0])


def request_headers(metadata: Mapping[str, str], content_type: str) -> dict[str, str]:
    """The HTTP headers of a transcoded request: Envoy passes them as gRPC metadata, but the
    content type of the body travels in the HttpBody (the metadata's is application/grpc)."""
    headers = lower_headers(metadata)
    headers["content-type"] = content_type
    return headers

"""The inbound route's use cases (SPEC §6): CloudEvents routed to the workflows whose event
trigger admits them, callbacks resolving `eventwait` tasks, and webhooks from Slack, GitHub and
plain JSON senders turned into runs.

Each request takes one straight path:

    parse and verify   `domain.inbound` (cloudevents, github, slack, plain, callback)
    decide             `domain.inbound.decisions`: start a run, or answer without one
    write              `RunEngine.start_once`: the run, its tasks, lifecycle events, their
                       deliveries and the request's de-duplication key in one transaction
                       (the group commit, `services.group_commit`)

This module finds the workflow(s) between those steps and shapes the outcome. A repeat of a
de-duplicated request writes nothing and answers with the first request's runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowhooks_server.domain.auth import Principal, resolve_tenant
from flowhooks_server.domain.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    found,
)
from flowhooks_server.domain.inbound import cloudevents, decisions, sender_of
from flowhooks_server.domain.inbound.callback import parse_callback
from flowhooks_server.domain.inbound.cloudevents import InboundEvent
from flowhooks_server.domain.run_records import RunView
from flowhooks_server.domain.workflows import Workflow
from flowhooks_server.services.group_commit import OnceKey
from flowhooks_server.services.runs import RunEngine
from flowhooks_server.services.workflows import WorkflowManager
from flowhooks_server.storage import inbound as inbound_store
from flowhooks_server.storage.db import Database


@dataclass
class AcceptedEvents:
    event_ids: list[str]
    runs: list[RunView] = field(default_factory=list)


@dataclass(frozen=True)
class WebhookOutcome:
    """A run (started now or by the first delivery), or a JSON answer without one."""

    run: RunView | None = None
    answer: dict[str, Any] | None = None


class Inbound:
    def __init__(self, db: Database, workflows: WorkflowManager, runs: RunEngine,
                 clock: Callable[[], float] = time.time):
        self._db = db
        self._workflows = workflows
        self._runs = runs
        self._clock = clock

    # -- POST /api/v2/event ------------------------------------------------------------------

    async def accept_http_events(self, tenant: str, ref: str, headers: Mapping[str, str],
                                 body: bytes) -> AcceptedEvents:
        """The CloudEvents of one HTTP request (structured, batch or binary mode)."""
        return await self._accept_events(tenant, ref, cloudevents.parse_http(headers, body))

    async def accept_cloudevent(self, tenant: str, ref: str,
                                document: Mapping[str, Any]) -> AcceptedEvents:
        """One CloudEvent in the JSON format (the protobuf format, rewritten by the API)."""
        return await self._accept_events(tenant, ref, [cloudevents.from_json(document)])

    async def _accept_events(self, tenant: str, ref: str,
                             events: list[InboundEvent]) -> AcceptedEvents:
        """Start the runs of every event (in order), each de-duplicated by source + id."""
        if ref:
            workflow = await self._workflows.get(tenant, ref)
            if not workflow.spec.triggers.event.enabled:
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
            return [workflow async for workflow in inbound_store.tenant_workflows(session, tenant)
                    if workflow.spec.triggers.event.enabled]

    async def _accept_event(self, tenant: str, candidates: list[Workflow],
                            event: InboundEvent) -> list[RunView]:
        payload = event.to_json()
        chosen = [w for w in candidates if decisions.admits_event(w.spec.triggers.event, payload)]
        params = decisions.event_run(event)
        news = [self._runs.prepare(tenant, workflow, "event", params) for workflow in chosen]
        started = await self._runs.start_once(
            news, OnceKey(tenant, "cloudevent", decisions.dedupe_column(*event.dedupe_key)))
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
        call = parse_callback(run_id, topic, status, body)
        await self._runs.callback(tenant, call.run_id, call.topic, call.status, call.data)

    # -- POST /api/v2/webhook ----------------------------------------------------------------

    async def webhook(self, principal: Principal | None, org: str | None, ref: str,
                      headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        """Verified as its sender's headers say: a Slack or GitHub signature names no tenant
        (the workflow id alone finds it); anything else needs a bearer token."""
        sender = sender_of(headers)
        if sender == "slack":
            workflow = await self._workflow(ref)
            decision = decisions.slack_webhook(workflow.spec.triggers.slack, headers, body,
                                               now=self._clock())
        elif sender == "github":
            workflow = await self._workflow(ref)
            decision = decisions.github_webhook(workflow.spec.triggers.github, headers, body)
        else:
            workflow = await self._workflow(ref, _plain_tenant(principal, org))
            decision = decisions.plain_webhook(workflow.id, workflow.spec.triggers.webhook,
                                               headers, body)
        if isinstance(decision, decisions.Answer):
            return WebhookOutcome(answer=decision.document)
        return await self._start_once(workflow, decision)

    async def _workflow(self, ref: str, tenant: str | None = None) -> Workflow:
        if not ref:
            raise InvalidArgument("ref", "is required: the workflow to trigger")
        if tenant is not None:
            return await self._workflows.get_for_trigger(tenant, ref)
        async with self._db.session(readonly=True) as session:
            return found(await inbound_store.workflow_by_id(session, ref), "workflow", ref)

    async def _start_once(self, workflow: Workflow,
                          start: decisions.StartRun) -> WebhookOutcome:
        tenant = workflow.tenant_id
        new = self._runs.prepare(tenant, workflow, start.trigger, start.params)
        once = None if start.dedupe_key is None else \
            OnceKey(tenant, start.trigger, decisions.dedupe_column(workflow.id, start.dedupe_key))
        started = await self._runs.start_once([new], once)
        views = [RunView(new.run, new.tasks)] if started.first else \
            await self._views(tenant, started.run_ids)
        if not views:
            return WebhookOutcome(answer={"reason": "the first delivery's run is gone"})
        return WebhookOutcome(run=views[0])


def _plain_tenant(principal: Principal | None, org: str | None) -> str | None:
    """The tenant a plain webhook acts on (None: the workflow's own, for a global token that
    names none); the caller must hold `workflows:trigger`."""
    if principal is None:
        raise Unauthenticated("a bearer token (or access_token) with workflows:trigger is "
                              "required for a webhook that is not signed by Slack or GitHub")
    principal.require("workflows:trigger")
    if principal.tenant is not None or org:
        return resolve_tenant(principal, org, "X-Org-Id")
    return None

"""What an inbound request asks for, decided with no I/O once its workflow's trigger is known
(SPEC §6): a run to start (`StartRun`: the run's trigger and params, and the de-duplication
key of the request), or an answer without a run (`Answer`: the 200 JSON document).

    plain_webhook    trigger enabled? → Idempotency-Key → JSON body → conditions
    github_webhook   signature → delivery → ping / enabled / events filter → conditions
    slack_webhook    signature (in its time window) → request → challenge / kind / enabled
                     → conditions
    event_run        a CloudEvent: the params of the run it starts in each workflow whose event
                     trigger admits it (`admits_event`); de-duplicated by source + id

Each step raises what its own parser raises (`InvalidArgument`, `Unauthenticated`,
`FailedPrecondition`), in this order, so the first failing check is the one reported.
`dedupe_column` turns the parts of a key into the value of the key column (`dedupe_keys.key`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowhooks_server.domain import conditions
from flowhooks_server.domain.errors import FailedPrecondition, InvalidArgument
from flowhooks_server.domain.inbound import github, plain, slack
from flowhooks_server.domain.inbound.cloudevents import InboundEvent
from flowhooks_server.domain.workflows import Trigger

MAX_KEY = 512  # the width of the key column


@dataclass(frozen=True)
class StartRun:
    """Start a run: `trigger` is the run's trigger and the key's scope, `payload` what the
    trigger's conditions were tested against, `dedupe_key` the request's key (None: none)."""

    trigger: str
    params: dict[str, Any]
    payload: Any
    dedupe_key: str | None


@dataclass(frozen=True)
class Answer:
    """Answer 200 with `document` and start nothing."""

    document: dict[str, Any]


Decision = StartRun | Answer


def dedupe_column(*parts: str) -> str:
    """One key column value from several parts; hashed when it would not fit."""
    joined = "\n".join(parts)
    if len(joined) <= MAX_KEY:
        return joined
    return "sha256:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()


def _unless_failing(trigger: Trigger, start: StartRun) -> Decision:
    failing = conditions.first_failing(trigger.conditions, start.payload)
    if failing is not None:
        return Answer({"reason": f"the {start.trigger} trigger's condition on {failing.field} "
                                 "does not hold"})
    return start


def plain_webhook(workflow_id: str, trigger: Trigger, headers: Mapping[str, str],
                  body: bytes) -> Decision:
    if not trigger.enabled:
        raise FailedPrecondition(f"workflow {workflow_id!r} has its webhook trigger disabled")
    key = plain.dedupe_key(headers)
    data = plain.parse_body(body)
    return _unless_failing(trigger, StartRun("webhook", {"data": data}, data, key))


def github_webhook(trigger: Trigger, headers: Mapping[str, str], body: bytes) -> Decision:
    github.verify_signature(trigger.secret, headers, body)
    delivery = github.parse_delivery(headers, body)
    decision = github.decide(delivery, enabled=trigger.enabled, events=trigger.events)
    if not decision.create_run:
        return Answer({"reason": decision.reason})
    params = {"event": delivery.event, "delivery": delivery.delivery_id,
              "data": delivery.payload}
    return _unless_failing(trigger, StartRun("github", params, delivery.payload,
                                             delivery.dedupe_key))


def slack_webhook(trigger: Trigger, headers: Mapping[str, str], body: bytes,
                  now: float) -> Decision:
    slack.verify_signature(trigger.secret, headers, body, now=now)
    request = slack.parse_request(headers, body)
    if request.challenge is not None:
        return Answer({"challenge": request.challenge})
    if not request.creates_run:
        raise InvalidArgument("type", f"Slack request type {request.kind!r} is not handled:"
                                      " send url_verification, event_callback or shortcut")
    if not trigger.enabled:
        return Answer({"reason": "the workflow's Slack trigger is disabled"})
    params = {"event": request.kind, "data": request.payload}
    return _unless_failing(trigger, StartRun("slack", params, request.payload,
                                             request.dedupe_key))


def admits_event(trigger: Trigger, event_json: dict[str, Any]) -> bool:
    """Whether an event trigger starts a run for an event; its conditions test the event in
    the CloudEvents JSON format (`InboundEvent.to_json`)."""
    return trigger.enabled and conditions.all_hold(trigger.conditions, event_json)


def event_run(event: InboundEvent) -> dict[str, Any]:
    """The params of a run started by `event`: the event, and its data (bytes as base64)."""
    data: Any = event.data
    if isinstance(data, bytes):
        data = base64.b64encode(data).decode("ascii")
    return {"event": event.to_json(), "data": data}

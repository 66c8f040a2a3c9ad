"""One delivery attempt as pure steps around the network (SPEC §8): `prepare` turns an event
and its delivery target into the `Request` to send; the transport sends it (see
`flowhooks_server.delivery.transport`); `classify` turns what came back into a `Verdict`.

A `Verdict` speaks the one status vocabulary of an attempt, `AttemptStatus`, which is also
what delivery logs show:

- `succeeded`: a 2xx answer;
- `retrying`: a failure the webhook's triggers match, with retries left (`next_attempt_at`);
- `failed`: a failure no trigger matches, or the last retry failed and the webhook does not
  divert;
- `diverted`: the last retry failed and the webhook diverts the event;
- `held`: not attempted, the webhook is suspended.

What happens after a final failure is decided here, once: `suspend` says to suspend the
webhook and `alert_endpoint` where to send the failure alert. Storage only writes it down.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flowhooks_server.domain.payloads import EventView, delivery_headers, render_body
from flowhooks_server.domain.retries import Result, decide
from flowhooks_server.domain.signing import SecretState
from flowhooks_server.domain.webhooks import FailureHandling

# The error of a held entry: why the delivery was not attempted (at fan-out or at claim).
HELD_REASON = "webhook is suspended"


class AttemptStatus(StrEnum):
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"
    FAILED = "failed"
    DIVERTED = "diverted"
    HELD = "held"


@dataclass(frozen=True)
class DeliveryTarget:
    """A webhook as one version of it delivers: where, what, how, and its failure policy,
    parsed once."""

    id: str
    url: str
    format: str
    headers: Mapping[str, tuple[str, ...]]
    timeout_s: float
    ordered: bool
    suspended: bool
    secrets: SecretState
    failure_handling: FailureHandling
    # Why the webhook's stored settings cannot be read, if they cannot: its deliveries then
    # fail with this reason (see `prepare`) instead of stalling the claim that found them.
    unreadable: str | None = None


class UnpreparableRequest(ValueError):
    """An attempt that cannot be made at all; the delivery fails with this reason."""


@dataclass(frozen=True)
class Request:
    """What the transport sends."""

    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    timeout_s: float


@dataclass(frozen=True)
class Body:
    content: bytes
    content_type: str


class Bodies:
    """Rendered bodies of one claimed batch: a fan-out of one event renders once per format.
    A render that raises is not kept, so each delivery of that event raises too."""

    def __init__(self) -> None:
        self._made: dict[tuple[str, str], Body] = {}

    def of(self, event: EventView, fmt: str) -> Body:
        key = (event.id, fmt)
        if key not in self._made:
            self._made[key] = Body(*render_body(event, fmt))
        return self._made[key]


def prepare(event: EventView, target: DeliveryTarget, now: datetime,
            bodies: Bodies | None = None) -> Request:
    """The request of an attempt made at `now`: the rendered body, signed with the secrets
    that sign at `now` (none if the webhook has no secret)."""
    if target.unreadable is not None:
        raise UnpreparableRequest(target.unreadable)
    body = (bodies or Bodies()).of(event, target.format)
    secrets = target.secrets.signing(now) if target.secrets.current else ()
    headers = delivery_headers(msg_id=event.id, timestamp=int(now.timestamp()),
                               body=body.content, content_type=body.content_type,
                               custom=target.headers, secrets=secrets)
    return Request(target.url, body.content, tuple(headers), target.timeout_s)


@dataclass(frozen=True)
class Verdict:
    """What one attempt's result means; see the module text."""

    status: AttemptStatus
    trigger: str | None = None
    next_attempt_at: datetime | None = None
    error: str | None = None
    suspend: bool = False
    alert_endpoint: str | None = None


def classify(result: Result, attempt: int, policy: FailureHandling, now: datetime,
             rng: random.Random | None = None) -> Verdict:
    """The verdict on attempt number `attempt` (from 1), decided at `now`: retries and their
    times as `domain.retries.decide` says; when they are exhausted, divert or fail as the
    policy says, and suspend and alert if it asks to."""
    decision = decide(result, attempt, policy, now, rng)
    error = error_text(result)
    if decision.status != "final":
        return Verdict(AttemptStatus(decision.status), decision.trigger,
                       decision.next_attempt_at, error)
    return Verdict(AttemptStatus.DIVERTED if policy.divert else AttemptStatus.FAILED,
                   decision.trigger, None, error, suspend=policy.suspend,
                   alert_endpoint=policy.alert_endpoint or None)


def error_text(result: Result) -> str | None:
    """The error an attempt's log entry carries: the transport's, or the answer's status."""
    if result.error is None and not result.ok:
        return f"receiver answered {result.status}"
    return result.error

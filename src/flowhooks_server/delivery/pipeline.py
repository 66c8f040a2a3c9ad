"""One attempt of a claimed delivery, step by step: prepare (`domain.attempts.prepare`), send
(a `Transport`), classify (`domain.attempts.classify`), then the outcome to record, log entry
included. No database and no clock of its own (`clock` is passed), so it runs in unit tests
on a fake transport.

The ends that are not an attempt are here too: a delivery held because its webhook is
suspended, and one whose attempt could not even be made."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flowhooks_server.clock import utcnow
from flowhooks_server.delivery.transport import Sent, Transport
from flowhooks_server.domain.attempts import (
    HELD_REASON,
    AttemptStatus,
    Bodies,
    Request,
    UnpreparableRequest,
    Verdict,
    classify,
    prepare,
)
from flowhooks_server.storage import deliveries as store

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Attempt:
    """Everything one attempt made, in step order."""

    request: Request
    sent: Sent
    verdict: Verdict
    outcome: store.Outcome


async def attempt(job: store.Claimed, transport: Transport, bodies: Bodies | None = None, *,
                  clock: Clock = utcnow, rng: random.Random | None = None) -> Attempt:
    """Attempt `job` once. Raises only if the request cannot be prepared (see `crashed`)."""
    if job.unreadable is not None:
        raise UnpreparableRequest(job.unreadable)
    request = prepare(job.event, job.webhook, clock(), bodies)
    sent = await transport.post(request.url, request.body, request.headers, request.timeout_s)
    decided_at = clock()
    verdict = classify(sent.result, job.attempt, job.webhook.failure_handling, decided_at, rng)
    return Attempt(request, sent, verdict, attempted(job, sent, verdict, decided_at))


def attempted(job: store.Claimed, sent: Sent, verdict: Verdict,
              decided_at: datetime) -> store.Outcome:
    """The outcome of an attempt made: its log entry and what the verdict asks of storage."""
    entry = _entry(job, verdict.status, decided_at, attempt=job.attempt,
                   response_status_code=sent.result.status, response_body=sent.response_body,
                   duration_ms=sent.duration_ms, error=verdict.error,
                   failure_trigger=verdict.trigger, next_attempt_at=verdict.next_attempt_at)
    return store.Outcome(job, verdict.status, entry, verdict.next_attempt_at,
                         suspend=verdict.suspend)


def held(job: store.Claimed, clock: Clock = utcnow) -> store.Outcome:
    """Not attempted: the webhook is suspended. The attempt the claim counted is not one."""
    entry = _entry(job, AttemptStatus.HELD, clock(), attempt=job.attempt - 1,
                   error=HELD_REASON)
    return store.Outcome(job, AttemptStatus.HELD, entry)


def crashed(job: store.Claimed, exc: Exception, clock: Clock = utcnow) -> store.Outcome:
    """A delivery whose attempt could not even be made (its body cannot be rendered, say):
    finished as failed with the reason, not attempted forever."""
    entry = _entry(job, AttemptStatus.FAILED, clock(), attempt=job.attempt,
                   error=f"the delivery could not be prepared: {type(exc).__name__}: {exc}"[:500])
    return store.Outcome(job, AttemptStatus.FAILED, entry)


def _entry(job: store.Claimed, status: AttemptStatus, now: datetime, *, attempt: int,
           response_status_code: int | None = None, response_body: str | None = None,
           duration_ms: int = 0, error: str | None = None, failure_trigger: str | None = None,
           next_attempt_at: datetime | None = None) -> store.LogRow:
    event, hook = job.event, job.webhook
    return store.log_row(
        tenant_id=event.tenant_id, webhook_id=hook.id, delivery_id=job.id, event_id=event.id,
        event_type=event.type, attempt=attempt, status=status, url=hook.url, now=now,
        response_status_code=response_status_code, response_body=response_body,
        duration_ms=duration_ms, error=error, failure_trigger=failure_trigger,
        next_attempt_at=next_attempt_at)

"""Failure handling of one attempt (SPEC §8.5–8.7): which triggers a result raises, and what
happens next — done, retry at a time, or final failure."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from flowhooks_server.domain.webhooks import FailureHandling

MAX_RETRY_AFTER_S = 3600.0
# Any interval ≥ 0 is valid, so waits are capped: `now + wait` must stay a real timestamp.
MAX_WAIT_S = 30 * 86400.0
# A retry is never scheduled sooner than this, so "now" never becomes "in the past".
MIN_WAIT_S = 0.001


@dataclass(frozen=True)
class Result:
    """What one attempt gave: an HTTP status, or an error of kind `timeout` / `network`."""

    status: int | None = None
    error_kind: str | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def triggers(self) -> tuple[str, ...]:
        """The trigger names this result raises; the first is the one reported."""
        if self.status is not None:
            return (str(self.status), f"{self.status // 100}xx")
        return (self.error_kind or "network",)


@dataclass(frozen=True)
class Decision:
    """The retry policy's answer. `final` means the retries are exhausted; what that makes
    of the delivery (diverted or failed, suspension, alert) is `domain.attempts.classify`'s
    to say, in the vocabulary of attempts."""

    status: str  # succeeded | retrying | failed | final
    trigger: str | None = None
    next_attempt_at: datetime | None = None


def matched_trigger(result: Result, policy: FailureHandling) -> str | None:
    raised = result.triggers()
    return next((t for t in raised if t in policy.triggers), None)


def reported_trigger(result: Result) -> str | None:
    return None if result.ok else result.triggers()[-1 if result.status else 0]


def decide(result: Result, attempt: int, policy: FailureHandling, now: datetime,
           rng: random.Random | None = None) -> Decision:
    """`attempt` counts from 1; `policy.retry.attempts` is the number of retries."""
    if result.ok:
        return Decision("succeeded")
    trigger = matched_trigger(result, policy)
    if trigger is None:
        return Decision("failed", reported_trigger(result))
    retry = attempt  # the k-th retry follows the k-th attempt
    if retry > policy.retry.attempts:
        return Decision("final", trigger)
    wait = backoff_s(policy, retry, rng)
    honoured = retry_after_s(result, now)
    if honoured is not None:
        wait = max(wait, honoured)
    wait = min(max(wait, MIN_WAIT_S), MAX_WAIT_S)
    return Decision("retrying", trigger, now + timedelta(seconds=wait))


def backoff_s(policy: FailureHandling, k: int, rng: random.Random | None = None) -> float:
    """Linear `interval × k`, exponential `interval × 2^(k−1)`, both ±10 % jitter."""
    interval = policy.retry.interval_s
    base = interval * k if policy.retry.type == "linear" else interval * 2 ** (k - 1)
    return base * (rng or random).uniform(0.9, 1.1)


def retry_after_s(result: Result, now: datetime) -> float | None:
    """The receiver's `Retry-After` on a 429 or 503, in seconds, capped at an hour."""
    if result.status not in (429, 503) or not result.retry_after:
        return None
    raw = result.retry_after.strip()
    if raw.isascii() and raw.isdigit():  # delay-seconds is ASCII 1*DIGIT, not any digit
        seconds = float(raw)
    else:
        try:
            when = parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)

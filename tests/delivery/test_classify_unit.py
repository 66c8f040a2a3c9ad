"""`classify` as a table (SPEC §8.5–8.7): what one attempt's result means given its attempt
number and the webhook's failure handling, in the one status vocabulary of attempts, and how
a delivery row spells each status. Pure: no database, no network, no clock (`NOW` is given)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from flowhooks_server.domain.attempts import AttemptStatus, Verdict, classify, error_text
from flowhooks_server.domain.retries import MIN_WAIT_S, Result
from flowhooks_server.domain.webhooks import FailureHandling, RetryStrategy
from flowhooks_server.storage.deliveries import row_status

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
ALERTS = "https://alerts.example.com/hook"
LINEAR = RetryStrategy(type="linear", interval_s=10.0, attempts=3)


def policy(triggers: tuple[str, ...] = ("5xx", "timeout", "network"), *, divert: bool = True,
           suspend: bool = False, alert: str = "",
           retry: RetryStrategy = LINEAR) -> FailureHandling:
    return FailureHandling(triggers=triggers, retry=retry, alert_endpoint=alert,
                           divert=divert, suspend=suspend)


def linear_wait(k: int, seed: int = 1) -> timedelta:
    """The k-th linear retry's wait: 10 s × k, ±10 % jitter from `random.Random(seed)`."""
    return timedelta(seconds=10.0 * k * random.Random(seed).uniform(0.9, 1.1))


S, R, F, D = (AttemptStatus.SUCCEEDED, AttemptStatus.RETRYING, AttemptStatus.FAILED,
              AttemptStatus.DIVERTED)
TIMEOUT = Result(error_kind="timeout", error="no response within 10s")
NETWORK = Result(error_kind="network", error="connection refused")

TABLE = [
    # (case, result, attempt, policy, expected verdict)
    ("2xx", Result(status=200), 1, policy(), Verdict(S)),
    ("204 on the last attempt", Result(status=204), 4, policy(suspend=True, alert=ALERTS),
     Verdict(S)),
    ("5xx retried", Result(status=500), 1, policy(),
     Verdict(R, "5xx", NOW + linear_wait(1), "receiver answered 500")),
    ("the second retry waits twice as long", Result(status=502), 2, policy(),
     Verdict(R, "5xx", NOW + linear_wait(2), "receiver answered 502")),
    ("an exact status trigger", Result(status=503), 1, policy(("503",)),
     Verdict(R, "503", NOW + linear_wait(1), "receiver answered 503")),
    ("a status no trigger names fails", Result(status=404), 1, policy(),
     Verdict(F, "4xx", None, "receiver answered 404")),
    ("a timeout retried", TIMEOUT, 1, policy(),
     Verdict(R, "timeout", NOW + linear_wait(1), "no response within 10s")),
    ("a timeout not in the triggers fails", TIMEOUT, 1, policy(("5xx",)),
     Verdict(F, "timeout", None, "no response within 10s")),
    ("a network error retried", NETWORK, 3, policy(),
     Verdict(R, "network", NOW + linear_wait(3), "connection refused")),
    ("the last retry failed: diverted", Result(status=500), 4, policy(),
     Verdict(D, "5xx", None, "receiver answered 500")),
    ("the last retry failed: failed when not diverting", Result(status=500), 4,
     policy(divert=False), Verdict(F, "5xx", None, "receiver answered 500")),
    ("the last retry failed: suspend and alert", NETWORK, 4,
     policy(suspend=True, alert=ALERTS),
     Verdict(D, "network", None, "connection refused", suspend=True, alert_endpoint=ALERTS)),
    ("suspend and alert without divert", Result(status=500), 4,
     policy(divert=False, suspend=True, alert=ALERTS),
     Verdict(F, "5xx", None, "receiver answered 500", suspend=True, alert_endpoint=ALERTS)),
    ("no suspension nor alert while retries are left", Result(status=500), 3,
     policy(suspend=True, alert=ALERTS),
     Verdict(R, "5xx", NOW + linear_wait(3), "receiver answered 500")),
    ("no suspension nor alert for a failure outside the triggers", Result(status=400), 4,
     policy(suspend=True, alert=ALERTS), Verdict(F, "4xx", None, "receiver answered 400")),
]


@pytest.mark.parametrize(("result", "attempt", "handling", "expected"),
                         [case[1:] for case in TABLE], ids=[case[0] for case in TABLE])
def test_classify(result: Result, attempt: int, handling: FailureHandling,
                  expected: Verdict) -> None:
    assert classify(result, attempt, handling, NOW, random.Random(1)) == expected


def test_exponential_retry_at_an_exact_time() -> None:
    handling = policy(retry=RetryStrategy(type="exponential", interval_s=30.0, attempts=8))
    verdict = classify(Result(status=500), 3, handling, NOW, random.Random(42))
    wait = 30.0 * 2 ** 2 * random.Random(42).uniform(0.9, 1.1)
    assert verdict.next_attempt_at == NOW + timedelta(seconds=wait)


def test_a_zero_interval_still_retries_in_the_future() -> None:
    handling = policy(retry=RetryStrategy(type="linear", interval_s=0.0, attempts=2))
    verdict = classify(Result(status=500), 1, handling, NOW)
    assert verdict.status is R
    assert verdict.next_attempt_at == NOW + timedelta(seconds=MIN_WAIT_S)


def test_the_default_policy_diverts_after_eight_retries() -> None:
    default = FailureHandling()
    assert classify(Result(status=500), 8, default, NOW).status is R
    assert classify(Result(status=500), 9, default, NOW) == Verdict(
        D, "5xx", None, "receiver answered 500")


def test_error_text() -> None:
    assert error_text(Result(status=200)) is None
    assert error_text(Result(status=418)) == "receiver answered 418"
    assert error_text(TIMEOUT) == "no response within 10s"


def test_one_vocabulary_spelled_as_the_logs_spell_it() -> None:
    assert [s.value for s in AttemptStatus] == [
        "succeeded", "retrying", "failed", "diverted", "held"]
    assert AttemptStatus("succeeded") == "succeeded"


@pytest.mark.parametrize(("status", "row"), [
    (AttemptStatus.SUCCEEDED, "succeeded"), (AttemptStatus.RETRYING, "pending"),
    (AttemptStatus.FAILED, "failed"), (AttemptStatus.DIVERTED, "diverted"),
    (AttemptStatus.HELD, "held")])
def test_a_delivery_row_spells_retrying_as_pending(status: AttemptStatus, row: str) -> None:
    assert row_status(status) == row

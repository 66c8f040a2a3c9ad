"""The retry policy of one attempt (SPEC §8.5–8.7, §8.12) as pure functions: which triggers a
result raises, the backoff schedules with their jitter, `Retry-After`, and the decision that
follows an attempt. Exact values: the jitter comes from a seeded `random.Random`, and each
expected value is computed here from the same seed and the SPEC's formula, never from the
implementation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from flowhooks_server.domain.retries import (
    MAX_RETRY_AFTER_S,
    MAX_WAIT_S,
    MIN_WAIT_S,
    Decision,
    Result,
    backoff_s,
    decide,
    matched_trigger,
    reported_trigger,
    retry_after_s,
)
from flowhooks_server.domain.webhooks import FailureHandling, RetryStrategy

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
SEED = 7


def policy(triggers: tuple[str, ...] = ("4xx", "5xx", "timeout", "network"), *,
           type: str = "linear", interval_s: float = 2.0, attempts: int = 3) -> FailureHandling:
    return FailureHandling(triggers=triggers,
                           retry=RetryStrategy(type=type, interval_s=interval_s,
                                               attempts=attempts))


def jitters(seed: int, count: int) -> list[float]:
    """The factors a `random.Random(seed)` gives, one `uniform(0.9, 1.1)` per wait."""
    rng = random.Random(seed)
    return [rng.uniform(0.9, 1.1) for _ in range(count)]


# -- Result: what an attempt raises ------------------------------------------------------------


@pytest.mark.parametrize(("result", "ok", "triggers", "reported"), [
    (Result(status=200), True, ("200", "2xx"), None),
    (Result(status=204), True, ("204", "2xx"), None),
    (Result(status=299), True, ("299", "2xx"), None),
    (Result(status=301), False, ("301", "3xx"), "3xx"),
    (Result(status=404), False, ("404", "4xx"), "4xx"),
    (Result(status=429), False, ("429", "4xx"), "4xx"),
    (Result(status=503), False, ("503", "5xx"), "5xx"),
    (Result(error_kind="timeout", error="timed out after 1s"), False, ("timeout",), "timeout"),
    (Result(error_kind="network", error="connection refused"), False, ("network",), "network"),
    (Result(error="no kind given"), False, ("network",), "network"),
])
def test_triggers_and_the_reported_one(result: Result, ok: bool, triggers: tuple[str, ...],
                                       reported: str | None) -> None:
    assert result.ok is ok
    assert result.triggers() == triggers
    assert reported_trigger(result) == reported


@pytest.mark.parametrize(("triggers", "result", "matched"), [
    (("5xx",), Result(status=503), "5xx"),
    (("503",), Result(status=503), "503"),
    # The exact code comes first among the raised triggers, so it is the one matched.
    (("5xx", "503"), Result(status=503), "503"),
    (("4xx",), Result(status=503), None),
    (("timeout",), Result(error_kind="timeout"), "timeout"),
    (("network",), Result(error_kind="timeout"), None),
    (("network",), Result(), "network"),
])
def test_matched_trigger(triggers: tuple[str, ...], result: Result, matched: str | None) -> None:
    assert matched_trigger(result, policy(triggers)) == matched


# -- backoff ------------------------------------------------------------------------------------


def test_linear_backoff_is_interval_times_k_with_the_seeded_jitter() -> None:
    rng = random.Random(SEED)
    got = [backoff_s(policy(type="linear", interval_s=2.0), k, rng) for k in range(1, 6)]
    expected = [2.0 * k * factor for k, factor in zip(range(1, 6), jitters(SEED, 5),
                                                      strict=True)]
    assert got == expected


def test_exponential_backoff_doubles_from_the_interval_with_the_seeded_jitter() -> None:
    rng = random.Random(SEED)
    got = [backoff_s(policy(type="exponential", interval_s=0.5), k, rng) for k in range(1, 7)]
    bases = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0]
    assert got == [base * factor for base, factor in zip(bases, jitters(SEED, 6), strict=True)]


@pytest.mark.parametrize(("type", "k", "base"), [
    ("linear", 1, 30.0), ("linear", 4, 120.0), ("exponential", 1, 30.0),
    ("exponential", 4, 240.0), ("exponential", 8, 3840.0),
])
def test_jitter_stays_within_ten_percent_over_many_seeds(type: str, k: int, base: float) -> None:
    hook = policy(type=type, interval_s=30.0)
    waits = [backoff_s(hook, k, random.Random(seed)) for seed in range(2000)]
    assert all(0.9 * base <= wait <= 1.1 * base for wait in waits)
    # The jitter is real: both halves of the band are used.
    assert min(waits) < 0.95 * base and max(waits) > 1.05 * base


def test_backoff_without_an_rng_is_still_within_the_band() -> None:
    hook = policy(type="linear", interval_s=1.0)
    assert all(2.7 <= backoff_s(hook, 3) <= 3.3 for _ in range(200))


def test_a_zero_interval_backs_off_zero() -> None:
    assert backoff_s(policy(interval_s=0.0), 5, random.Random(SEED)) == 0.0


# -- Retry-After --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds(status: int) -> None:
    assert retry_after_s(Result(status=status, retry_after="120"), NOW) == 120.0
    assert retry_after_s(Result(status=status, retry_after=" 7 "), NOW) == 7.0
    assert retry_after_s(Result(status=status, retry_after="0"), NOW) == 0.0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_as_an_http_date(status: int) -> None:
    later = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert retry_after_s(Result(status=status, retry_after=later), NOW) == 90.0


def test_retry_after_date_without_a_zone_is_taken_as_utc() -> None:
    # RFC 5322's "-0000" is "no zone information": parsed naive, read as UTC.
    assert retry_after_s(Result(status=503, retry_after="Sun, 01 Mar 2026 12:00:30 -0000"),
                         NOW) == 30.0


def test_retry_after_is_capped_at_an_hour() -> None:
    assert MAX_RETRY_AFTER_S == 3600.0
    assert retry_after_s(Result(status=429, retry_after="86400"), NOW) == 3600.0
    far = format_datetime(NOW + timedelta(days=2), usegmt=True)
    assert retry_after_s(Result(status=503, retry_after=far), NOW) == 3600.0


def test_retry_after_in_the_past_is_zero() -> None:
    past = format_datetime(NOW - timedelta(minutes=5), usegmt=True)
    assert retry_after_s(Result(status=503, retry_after=past), NOW) == 0.0


@pytest.mark.parametrize("result", [
    Result(status=500, retry_after="10"),  # only 429 and 503 are honoured
    Result(status=200, retry_after="10"),
    Result(error_kind="timeout", retry_after="10"),
    Result(status=503),
    Result(status=503, retry_after=""),
    Result(status=503, retry_after="soon"),
    Result(status=503, retry_after="-5"),
    Result(status=503, retry_after="1.5"),
])
def test_retry_after_ignored(result: Result) -> None:
    assert retry_after_s(result, NOW) is None


# -- decide -------------------------------------------------------------------------------------


def test_success_is_succeeded_whatever_the_policy() -> None:
    assert decide(Result(status=200), 1, policy(("5xx",)), NOW) == Decision("succeeded")
    assert decide(Result(status=201), 99, policy(()), NOW) == Decision("succeeded")


@pytest.mark.parametrize(("result", "triggers", "reported"), [
    (Result(status=404), ("5xx",), "4xx"),
    (Result(status=503), ("4xx", "timeout"), "5xx"),
    (Result(status=409), ("410",), "4xx"),
    (Result(error_kind="timeout"), ("network", "5xx"), "timeout"),
    (Result(error_kind="network"), ("timeout",), "network"),
])
def test_a_trigger_outside_the_policy_fails_at_once(result: Result, triggers: tuple[str, ...],
                                                     reported: str) -> None:
    assert decide(result, 1, policy(triggers), NOW, random.Random(SEED)) == Decision(
        "failed", reported)


def test_a_trigger_in_the_policy_retries_after_the_kth_backoff() -> None:
    hook = policy(("5xx",), type="linear", interval_s=2.0, attempts=3)
    factors = jitters(SEED, 3)
    rng = random.Random(SEED)
    for attempt, factor in zip((1, 2, 3), factors, strict=True):
        wait = 2.0 * attempt * factor
        assert decide(Result(status=500), attempt, hook, NOW, rng) == Decision(
            "retrying", "5xx", NOW + timedelta(seconds=wait))


def test_exponential_decisions_double() -> None:
    hook = policy(("timeout",), type="exponential", interval_s=1.0, attempts=4)
    rng = random.Random(SEED)
    got = [decide(Result(error_kind="timeout"), k, hook, NOW, rng) for k in (1, 2, 3, 4)]
    assert got == [Decision("retrying", "timeout", NOW + timedelta(seconds=base * factor))
                   for base, factor in zip((1.0, 2.0, 4.0, 8.0), jitters(SEED, 4), strict=True)]


def test_the_matched_trigger_is_the_one_of_the_policy() -> None:
    decision = decide(Result(status=409), 1, policy(("409",)), NOW, random.Random(SEED))
    assert (decision.status, decision.trigger) == ("retrying", "409")


def test_attempts_exhausted_is_final() -> None:
    hook = policy(("5xx",), attempts=3)
    # `attempts` counts retries: the 4th attempt is the last one there is.
    assert decide(Result(status=502), 4, hook, NOW, random.Random(SEED)) == Decision(
        "final", "5xx")
    assert decide(Result(status=502), 9, hook, NOW) == Decision("final", "5xx")
    assert decide(Result(error_kind="network"), 2, policy(("network",), attempts=1),
                  NOW) == Decision("final", "network")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_longer_than_the_backoff_is_honoured(status: int) -> None:
    hook = policy((str(status),), interval_s=1.0)
    in_seconds = decide(Result(status=status, retry_after="40"), 1, hook, NOW,
                        random.Random(SEED))
    assert in_seconds == Decision("retrying", str(status), NOW + timedelta(seconds=40))
    date = format_datetime(NOW + timedelta(seconds=75), usegmt=True)
    as_date = decide(Result(status=status, retry_after=date), 1, hook, NOW, random.Random(SEED))
    assert as_date == Decision("retrying", str(status), NOW + timedelta(seconds=75))


def test_retry_after_capped_at_an_hour_in_the_decision() -> None:
    hook = policy(("429",), interval_s=1.0)
    decision = decide(Result(status=429, retry_after="999999"), 1, hook, NOW, random.Random(SEED))
    assert decision.next_attempt_at == NOW + timedelta(seconds=3600)


def test_retry_after_shorter_than_the_backoff_keeps_the_backoff() -> None:
    hook = policy(("503",), interval_s=100.0)
    [factor] = jitters(SEED, 1)
    decision = decide(Result(status=503, retry_after="5"), 1, hook, NOW, random.Random(SEED))
    assert decision.next_attempt_at == NOW + timedelta(seconds=100.0 * factor)


def test_retry_after_ignored_on_a_500() -> None:
    hook = policy(("5xx",), interval_s=1.0)
    [factor] = jitters(SEED, 1)
    decision = decide(Result(status=500, retry_after="40"), 1, hook, NOW, random.Random(SEED))
    assert decision.next_attempt_at == NOW + timedelta(seconds=factor)


def test_a_wait_of_zero_is_raised_to_the_minimum() -> None:
    assert MIN_WAIT_S == 0.001
    hook = policy(("5xx",), interval_s=0.0)
    assert decide(Result(status=500), 1, hook, NOW).next_attempt_at == NOW + timedelta(
        seconds=MIN_WAIT_S)
    past = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    honoured_zero = decide(Result(status=503, retry_after=past), 1, hook, NOW)
    assert honoured_zero == Decision("retrying", "5xx", NOW + timedelta(seconds=MIN_WAIT_S))
    assert decide(Result(status=429, retry_after="0"), 1, policy(("4xx",), interval_s=0.0),
                  NOW).next_attempt_at == NOW + timedelta(seconds=MIN_WAIT_S)


def test_a_huge_wait_is_capped_to_the_maximum() -> None:
    assert MAX_WAIT_S == 30 * 86400.0
    hook = policy(("5xx",), type="exponential", interval_s=300_000_000_000.0, attempts=10)
    decision = decide(Result(status=500), 10, hook, NOW, random.Random(SEED))
    assert decision == Decision("retrying", "5xx", NOW + timedelta(seconds=MAX_WAIT_S))


@pytest.mark.parametrize("hostile", ["²", "١٢", "１２", "1e3", "12.5", "-5", "0x10"])
def test_a_retry_after_that_is_not_ascii_digits_or_a_date_is_ignored(hostile: str) -> None:
    """HTTP's delay-seconds is 1*DIGIT (ASCII): anything else a receiver sends is not a
    delay, so the plain backoff applies — never a crash, never a misread number."""
    result = Result(status=429, retry_after=hostile)
    assert retry_after_s(result, NOW) is None
    policy = FailureHandling(triggers=("429",), retry=RetryStrategy("linear", 1.0, 3))
    decision = decide(result, 1, policy, NOW, random.Random(3))
    assert decision.status == "retrying"
    expected = 1.0 * random.Random(3).uniform(0.9, 1.1)
    assert decision.next_attempt_at == NOW + timedelta(seconds=expected)


def test_a_huge_retry_after_is_capped_not_overflowed() -> None:
    assert retry_after_s(Result(status=503, retry_after="9" * 400), NOW) == MAX_RETRY_AFTER_S

"""One delivery attempt through `delivery.pipeline` on a fake transport: prepare (the body
and its signed headers), send, classify, and the outcome handed to recording with its log
entry. Pure: no database, no network, and the clock and the jitter are given."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from fake_transport import FakeTransport, answered, refused, timed_out, unreachable

from flowhooks_server.delivery import pipeline
from flowhooks_server.delivery.transport import Transport
from flowhooks_server.domain.attempts import AttemptStatus, Bodies, DeliveryTarget
from flowhooks_server.domain.payloads import EventView
from flowhooks_server.domain.retries import MAX_RETRY_AFTER_S
from flowhooks_server.domain.signing import SecretState
from flowhooks_server.domain.webhooks import FailureHandling, RetryStrategy
from flowhooks_server.storage import deliveries as store
from flowhooks_server.storage.models import Webhook

SENT_AT = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
DECIDED_AT = SENT_AT + timedelta(seconds=2)
SECRET = "s3cret-elan"
SEED = 11
ALERTS = "https://alerts.example.com/hook"
FIVE_XX = FailureHandling(triggers=("5xx", "timeout", "network"),
                          retry=RetryStrategy(type="linear", interval_s=20.0, attempts=3))


def clock() -> Callable[[], datetime]:
    """The prepare step reads the clock first, the verdict second."""
    return iter([SENT_AT, DECIDED_AT]).__next__


def job(attempt: int = 1, handling: FailureHandling = FIVE_XX, *,
        url: str = "https://receiver.example.com/in", suspended: bool = False,
        data: dict[str, object] | None = None) -> store.Claimed:
    event = EventView("evt_1", "workflow.completed", "tenant-1", "wf_1",
                      datetime(2026, 3, 1, 11, 59, tzinfo=UTC), data or {"n": 1})
    target = DeliveryTarget(id="wh_1", url=url, format="json",
                            headers={"X-Team": ("ops",)}, timeout_s=2.0, ordered=False,
                            suspended=suspended, secrets=SecretState(SECRET),
                            failure_handling=handling)
    return store.Claimed(7, "dlv_1", event, target, attempt, SENT_AT + timedelta(minutes=1))


async def attempt(claimed: store.Claimed, transport: Transport,
                  rng: random.Random | None = None) -> pipeline.Attempt:
    return await pipeline.attempt(claimed, transport, clock=clock(), rng=rng)


def retry_wait(k: int) -> timedelta:
    """The k-th retry's linear wait of FIVE_XX, jittered as `random.Random(SEED)` says."""
    return timedelta(seconds=20.0 * k * random.Random(SEED).uniform(0.9, 1.1))


async def test_a_2xx_is_signed_sent_and_succeeds() -> None:
    transport = FakeTransport(answered(200, "ok", duration_ms=12))
    done = await attempt(job(), transport)

    [posted] = transport.requests
    assert posted.url == "https://receiver.example.com/in" and posted.timeout_s == 2.0
    body = json.loads(posted.body)
    assert body["event_id"] == "evt_1" and body["data"] == {"n": 1}
    assert posted.header("Content-Type") == "application/json"
    assert posted.header("X-Team") == "ops"
    assert posted.header("webhook-id") == "evt_1"
    assert posted.header("webhook-timestamp") == str(int(SENT_AT.timestamp()))
    assert posted.header("X-Webhook-Signature") == hmac.new(
        SECRET.encode(), posted.body, hashlib.sha256).hexdigest()
    signed = f"evt_1.{int(SENT_AT.timestamp())}.".encode() + posted.body
    assert posted.header("webhook-signature") == "v1," + base64.b64encode(
        hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()

    assert done.verdict.status is AttemptStatus.SUCCEEDED
    outcome = done.outcome
    assert (outcome.status, outcome.next_attempt_at, outcome.suspend) == (
        AttemptStatus.SUCCEEDED, None, False)
    entry = outcome.log
    assert {k: entry[k] for k in (
        "tenant_id", "webhook_id", "delivery_id", "event_id", "event_type", "attempt",
        "status", "url", "response_status_code", "response_body", "duration_ms", "error",
        "failure_trigger", "created_at", "next_attempt_at")} == {
        "tenant_id": "tenant-1", "webhook_id": "wh_1", "delivery_id": "dlv_1",
        "event_id": "evt_1", "event_type": "workflow.completed", "attempt": 1,
        "status": "succeeded", "url": "https://receiver.example.com/in",
        "response_status_code": 200, "response_body": "ok", "duration_ms": 12, "error": None,
        "failure_trigger": None, "created_at": DECIDED_AT, "next_attempt_at": None}
    assert entry["id"].startswith("log")


async def test_a_500_is_retried_at_an_exact_time() -> None:
    done = await attempt(job(attempt=2), FakeTransport(answered(500, "boom")),
                         random.Random(SEED))
    due = DECIDED_AT + retry_wait(2)
    assert done.outcome.status is AttemptStatus.RETRYING
    assert done.outcome.next_attempt_at == due
    entry = done.outcome.log
    assert (entry["status"], entry["attempt"], entry["failure_trigger"], entry["error"],
            entry["response_body"], entry["next_attempt_at"]) == (
        "retrying", 2, "5xx", "receiver answered 500", "boom", due)
    assert store.row_status(done.outcome.status) == "pending"


async def test_a_failure_outside_the_triggers_fails_at_once() -> None:
    done = await attempt(job(), FakeTransport(answered(404)))
    assert done.outcome.status is AttemptStatus.FAILED
    assert (done.outcome.log["failure_trigger"], done.outcome.log["error"]) == (
        "4xx", "receiver answered 404")
    assert done.outcome.next_attempt_at is None and not done.outcome.suspend
    assert done.verdict.alert_endpoint is None


async def test_the_last_attempt_diverts_or_fails_as_the_policy_says() -> None:
    diverting = await attempt(job(attempt=4), FakeTransport(answered(503)))
    failing = await attempt(job(attempt=4, handling=replace(FIVE_XX, divert=False)),
                            FakeTransport(answered(503)))
    assert diverting.outcome.status is AttemptStatus.DIVERTED
    assert diverting.outcome.log["status"] == "diverted"
    assert failing.outcome.status is AttemptStatus.FAILED
    assert failing.outcome.log["status"] == "failed"
    for done in (diverting, failing):
        assert done.outcome.log["failure_trigger"] == "5xx"
        assert done.outcome.next_attempt_at is None
        assert not done.outcome.suspend and done.verdict.alert_endpoint is None


async def test_the_last_attempt_suspends_and_alerts_when_asked() -> None:
    handling = replace(FIVE_XX, suspend=True, alert_endpoint=ALERTS)
    final = await attempt(job(attempt=4, handling=handling), FakeTransport(answered(500)))
    assert final.outcome.status is AttemptStatus.DIVERTED and final.outcome.suspend
    assert final.verdict.alert_endpoint == ALERTS
    assert (final.verdict.trigger, final.verdict.error) == ("5xx", "receiver answered 500")
    earlier = await attempt(job(attempt=3, handling=handling), FakeTransport(answered(500)))
    assert earlier.outcome.status is AttemptStatus.RETRYING
    assert not earlier.outcome.suspend and earlier.verdict.alert_endpoint is None


async def test_retry_after_is_honoured_on_429_and_503_and_capped() -> None:
    # A Retry-After says when, not whether: a 429 outside the triggers fails all the same.
    untriggered = await attempt(job(), FakeTransport(answered(429, retry_after="120")))
    assert untriggered.outcome.status is AttemptStatus.FAILED
    assert untriggered.outcome.next_attempt_at is None
    handling = replace(FIVE_XX, triggers=("429", "5xx"))
    honoured = await attempt(job(handling=handling),
                             FakeTransport(answered(429, retry_after="120")),
                             random.Random(SEED))
    assert honoured.outcome.next_attempt_at == DECIDED_AT + timedelta(seconds=120)
    dated = format_datetime(DECIDED_AT + timedelta(seconds=300), usegmt=True)
    by_date = await attempt(job(handling=handling),
                            FakeTransport(answered(503, retry_after=dated)),
                            random.Random(SEED))
    assert by_date.outcome.next_attempt_at == DECIDED_AT + timedelta(seconds=300)
    capped = await attempt(job(handling=handling),
                           FakeTransport(answered(503, retry_after="999999")),
                           random.Random(SEED))
    assert capped.outcome.next_attempt_at == DECIDED_AT + timedelta(seconds=MAX_RETRY_AFTER_S)
    shorter = await attempt(job(handling=handling),
                            FakeTransport(answered(503, retry_after="1")), random.Random(SEED))
    assert shorter.outcome.next_attempt_at == DECIDED_AT + retry_wait(1)
    ignored = await attempt(job(handling=handling),
                            FakeTransport(answered(500, retry_after="120")),
                            random.Random(SEED))
    assert ignored.outcome.next_attempt_at == DECIDED_AT + retry_wait(1)


async def test_a_timeout_is_retried_with_its_reason() -> None:
    done = await attempt(job(), FakeTransport(timed_out), random.Random(SEED))
    entry = done.outcome.log
    assert done.outcome.status is AttemptStatus.RETRYING
    assert (entry["failure_trigger"], entry["error"], entry["response_status_code"],
            entry["response_body"], entry["duration_ms"]) == (
        "timeout", "no response within 2s", None, None, 2000)
    assert done.outcome.next_attempt_at == DECIDED_AT + retry_wait(1)


async def test_a_network_error_is_retried_with_its_reason() -> None:
    done = await attempt(job(), FakeTransport(unreachable("Connection refused")))
    assert done.outcome.status is AttemptStatus.RETRYING
    assert (done.outcome.log["failure_trigger"], done.outcome.log["error"]) == (
        "network", "Connection refused")


async def test_a_refused_target_is_a_network_failure() -> None:
    refused_once = await attempt(job(url="https://127.0.0.1/in"), FakeTransport(refused))
    assert refused_once.outcome.status is AttemptStatus.RETRYING
    assert refused_once.outcome.log["failure_trigger"] == "network"
    assert refused_once.outcome.log["error"].startswith("refused target: the URL ")
    assert refused_once.outcome.log["duration_ms"] == 0
    final = await attempt(job(attempt=4, url="http://receiver.example.com/in"),
                          FakeTransport(refused))
    assert final.outcome.status is AttemptStatus.DIVERTED
    assert final.outcome.log["error"].startswith("refused target: the URL ")


async def test_a_held_delivery_is_logged_without_counting_an_attempt() -> None:
    outcome = pipeline.held(job(attempt=3, suspended=True), clock=lambda: SENT_AT)
    assert outcome.status is AttemptStatus.HELD
    assert (outcome.log["status"], outcome.log["attempt"], outcome.log["error"],
            outcome.log["created_at"]) == ("held", 2, "webhook is suspended", SENT_AT)


async def test_an_event_that_cannot_be_rendered_is_not_sent() -> None:
    transport = FakeTransport()
    claimed = job(data={"x": float("nan")})
    try:
        await attempt(claimed, transport)
    except ValueError as exc:
        outcome = pipeline.crashed(claimed, exc, clock=lambda: SENT_AT)
    else:
        raise AssertionError("a NaN rendered")
    assert transport.requests == []
    assert outcome.status is AttemptStatus.FAILED
    assert outcome.log["error"].startswith("the delivery could not be prepared: ValueError:")


def test_a_fan_out_renders_an_event_once_per_format() -> None:
    bodies, event = Bodies(), job().event
    assert bodies.of(event, "json") is bodies.of(event, "json")
    assert bodies.of(event, "cloudevents") is not bodies.of(event, "json")


def test_an_outcome_takes_the_plain_status_strings() -> None:
    claimed = job()
    entry = store.log_row(tenant_id="t", webhook_id="wh_1", delivery_id="dlv_1",
                          event_id="evt_1", event_type="workflow.completed", attempt=1,
                          status="succeeded", url=claimed.webhook.url, now=SENT_AT)
    plain = store.Outcome(claimed, "succeeded", entry)  # type: ignore[arg-type]
    assert plain.status is AttemptStatus.SUCCEEDED


def _webhook_row(updated_at: datetime, **changes: object) -> Webhook:
    values: dict[str, object] = dict(
        id="wh_1", tenant_id="tenant-1", name="n", url="https://receiver.example.com/in",
        headers={"X-Team": ["ops"]}, secret="whsec_new", previous_secret="old",
        previous_secret_expires_at=SENT_AT + timedelta(hours=1), event_types=["*"],
        enabled=True, suspended=False, failure_handling=FIVE_XX.to_json(), timeout_ms=2500,
        format="cloudevents", ordered=True, created_at=SENT_AT, updated_at=updated_at)
    values.update(changes)
    return Webhook(**values)


def test_a_claim_carries_the_webhook_version_parsed_once() -> None:
    cache = store.TargetCache(size=2)
    target = cache.put(_webhook_row(SENT_AT))
    assert target == DeliveryTarget(
        id="wh_1", url="https://receiver.example.com/in", format="cloudevents",
        headers={"X-Team": ("ops",)}, timeout_s=2.5, ordered=True, suspended=False,
        secrets=SecretState("whsec_new", "old", SENT_AT + timedelta(hours=1)),
        failure_handling=FIVE_XX)
    assert cache.get("wh_1", SENT_AT) is target
    # Any change of the webhook (a rotation, a PATCH) moves updated_at: read and parse again.
    assert cache.get("wh_1", DECIDED_AT) is None
    newer = cache.put(_webhook_row(DECIDED_AT, secret="whsec_newer"))
    assert newer.secrets.current == "whsec_newer" and cache.get("wh_1", SENT_AT) is None
    # Bounded: the oldest webhook goes first.
    cache.put(_webhook_row(SENT_AT, id="wh_2"))
    cache.put(_webhook_row(SENT_AT, id="wh_3"))
    assert cache.get("wh_1", DECIDED_AT) is None
    assert cache.get("wh_3", SENT_AT) is not None


def test_a_cached_target_lasts_at_most_its_ttl_and_a_broken_one_is_never_cached() -> None:
    ticks = [100.0]
    cache = store.TargetCache(ttl_s=60.0, clock=lambda: ticks[0])
    cache.put(_webhook_row(SENT_AT))
    ticks[0] = 160.0
    assert cache.get("wh_1", SENT_AT) is not None
    # A writer that did not bump updated_at (a hand edit) is seen within the TTL.
    ticks[0] = 160.001
    assert cache.get("wh_1", SENT_AT) is None
    broken = _webhook_row(SENT_AT, id="wh_broken")
    broken.failure_handling = {"retry": "not an object"}
    target = cache.put(broken)
    assert target.unreadable == "the webhook's stored settings cannot be read (KeyError)"
    assert cache.get("wh_broken", SENT_AT) is None

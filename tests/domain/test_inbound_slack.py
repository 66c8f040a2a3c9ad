"""Slack requests (SPEC §6), signed and checked with slack_sdk's own `SignatureVerifier`."""

import json
from urllib.parse import urlencode

import pytest
from slack_sdk.signature import Clock, SignatureVerifier

from flowhooks_server.domain.errors import InvalidArgument, Unauthenticated
from flowhooks_server.domain.inbound import sender_of
from flowhooks_server.domain.inbound.slack import MAX_SKEW_S, parse_request, verify_signature

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000


class FixedClock(Clock):
    def __init__(self, now: float):
        self._now = now

    def now(self) -> float:
        return self._now


def slack_signed(body: bytes, *, timestamp: int = NOW, secret: str = SECRET,
                 content_type: str = "application/json") -> dict[str, str]:
    signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature,
            "Content-Type": content_type}


EVENT = json.dumps({"type": "event_callback", "event_id": "Ev123",
                    "event": {"type": "app_mention", "text": "deploy"}}).encode()


def test_good_signature_verifies():
    headers = slack_signed(EVENT)
    assert sender_of(headers) == "slack"
    verify_signature(SECRET, headers, EVENT, now=NOW + 10)
    # and slack_sdk agrees with the same clock
    assert SignatureVerifier(SECRET, FixedClock(NOW + 10)).is_valid_request(EVENT, headers)


def test_lowercase_headers_work():
    headers = {k.lower(): v for k, v in slack_signed(EVENT).items()}
    verify_signature(SECRET, headers, EVENT, now=NOW)


@pytest.mark.parametrize("skew", [MAX_SKEW_S + 1, -(MAX_SKEW_S + 1), 3600])
def test_stale_timestamp_is_unauthenticated(skew):
    headers = slack_signed(EVENT, timestamp=NOW - skew)
    # correctly signed, yet slack_sdk refuses it too
    assert not SignatureVerifier(SECRET, FixedClock(NOW)).is_valid_request(EVENT, headers)
    with pytest.raises(Unauthenticated, match="300 s"):
        verify_signature(SECRET, headers, EVENT, now=NOW)


def test_timestamp_at_the_edge_of_the_window_verifies():
    verify_signature(SECRET, slack_signed(EVENT, timestamp=NOW - MAX_SKEW_S), EVENT, now=NOW)


@pytest.mark.parametrize("signed_with, body", [
    ("another-secret", EVENT),
    (SECRET, EVENT.replace(b"deploy", b"destroy")),
])
def test_wrong_signature_is_unauthenticated(signed_with, body):
    headers = slack_signed(EVENT, secret=signed_with)
    with pytest.raises(Unauthenticated) as err:
        verify_signature(SECRET, headers, body, now=NOW)
    assert SECRET not in err.value.message
    assert headers["X-Slack-Signature"].split("=", 1)[1] not in err.value.message


def test_signature_binds_the_timestamp():
    headers = {**slack_signed(EVENT), "X-Slack-Request-Timestamp": str(NOW + 1)}
    with pytest.raises(Unauthenticated):
        verify_signature(SECRET, headers, EVENT, now=NOW)


@pytest.mark.parametrize("drop", ["X-Slack-Signature", "X-Slack-Request-Timestamp"])
def test_missing_header_is_unauthenticated(drop):
    headers = slack_signed(EVENT)
    del headers[drop]
    with pytest.raises(Unauthenticated):
        verify_signature(SECRET, headers, EVENT, now=NOW)


def test_non_numeric_timestamp_is_unauthenticated():
    headers = {**slack_signed(EVENT), "X-Slack-Request-Timestamp": "soon"}
    with pytest.raises(Unauthenticated):
        verify_signature(SECRET, headers, EVENT, now=NOW)


def test_no_secret_accepts_nothing():
    with pytest.raises(Unauthenticated):
        verify_signature(None, slack_signed(EVENT), EVENT, now=NOW)


CHALLENGE = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"


def test_url_verification_answers_its_challenge():
    body = json.dumps({"token": "t", "challenge": CHALLENGE, "type": "url_verification"}).encode()
    headers = slack_signed(body)
    verify_signature(SECRET, headers, body, now=NOW)
    request = parse_request(headers, body)
    assert request.challenge == CHALLENGE
    assert not request.creates_run


def test_url_verification_without_challenge_names_it():
    with pytest.raises(InvalidArgument) as err:
        parse_request({}, b'{"type": "url_verification"}')
    assert [field for field, _ in err.value.violations] == ["challenge"]


def test_event_callback_creates_a_run_deduplicated_by_event_id():
    request = parse_request(slack_signed(EVENT), EVENT)
    assert request.kind == "event_callback"
    assert request.creates_run and request.challenge is None
    assert request.payload["event"]["text"] == "deploy"
    assert request.dedupe_key == "slack:Ev123"


def test_form_encoded_shortcut_is_parsed_and_creates_a_run():
    shortcut = {"type": "shortcut", "callback_id": "start_flow", "trigger_id": "1.2.3",
                "user": {"id": "U1"}}
    body = urlencode({"payload": json.dumps(shortcut)}).encode()
    headers = slack_signed(body, content_type="application/x-www-form-urlencoded")
    assert SignatureVerifier(SECRET, FixedClock(NOW)).is_valid_request(body, headers)
    verify_signature(SECRET, headers, body, now=NOW)
    request = parse_request(headers, body)
    assert request.kind == "shortcut" and request.creates_run
    assert request.payload["callback_id"] == "start_flow"


@pytest.mark.parametrize("body, content_type", [
    (b'{"type": "app_rate_limited"}', "application/json"),
    (b"{}", "application/json"),
    (urlencode({"command": "/deploy", "text": "now"}).encode(),
     "application/x-www-form-urlencoded"),
])
def test_other_kinds_create_no_run(body, content_type):
    request = parse_request({"Content-Type": content_type}, body)
    assert not request.creates_run and request.challenge is None


@pytest.mark.parametrize("body", [b"{nope", b"[1, 2]"])
def test_bad_body_names_body(body):
    with pytest.raises(InvalidArgument) as err:
        parse_request({"Content-Type": "application/json"}, body)
    assert [field for field, _ in err.value.violations] == ["body"]

"""GitHub deliveries (SPEC §6): signatures computed with `hmac` as GitHub documents them."""

import hashlib
import hmac
import json
from urllib.parse import urlencode

import pytest

from flowhooks_server.domain.errors import InvalidArgument, Unauthenticated
from flowhooks_server.domain.inbound import sender_of
from flowhooks_server.domain.inbound.github import decide, parse_delivery, verify_signature

SECRET = "It's a Secret to Everybody"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "abc123"}).encode()


def github_headers(body, event="push", secret=SECRET, delivery="72d3162e-cc78-11e3-81ab"):
    # https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    digest = hmac.new(secret.encode("utf-8"), msg=body, digestmod=hashlib.sha256).hexdigest()
    return {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
            "X-Hub-Signature-256": "sha256=" + digest, "Content-Type": "application/json"}


def test_githubs_documented_example_verifies():
    headers = {"X-Hub-Signature-256":
               "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}
    verify_signature(SECRET, headers, b"Hello, World!")


def test_good_signature_verifies_and_the_delivery_parses():
    headers = github_headers(PUSH)
    assert sender_of(headers) == "github"
    verify_signature(SECRET, headers, PUSH)
    delivery = parse_delivery(headers, PUSH)
    assert delivery.event == "push"
    assert delivery.payload["ref"] == "refs/heads/main"
    assert decide(delivery, enabled=True).create_run


def test_lowercase_headers_work():
    headers = {k.lower(): v for k, v in github_headers(PUSH).items()}
    verify_signature(SECRET, headers, PUSH)
    assert parse_delivery(headers, PUSH).delivery_id == "72d3162e-cc78-11e3-81ab"


@pytest.mark.parametrize("signed_with, body", [
    ("another secret", PUSH),
    (SECRET, PUSH + b" "),
])
def test_wrong_signature_is_unauthenticated(signed_with, body):
    headers = github_headers(PUSH, secret=signed_with)
    with pytest.raises(Unauthenticated) as err:
        verify_signature(SECRET, headers, body)
    assert SECRET not in err.value.message
    assert headers["X-Hub-Signature-256"] not in err.value.message
    assert headers["X-Hub-Signature-256"].split("=", 1)[1] not in err.value.message


@pytest.mark.parametrize("value", [None, "", "sha1=abc", "sha256=", "sha256=zz"])
def test_missing_or_malformed_signature_is_unauthenticated(value):
    headers = github_headers(PUSH)
    if value is None:
        del headers["X-Hub-Signature-256"]
    else:
        headers["X-Hub-Signature-256"] = value
    with pytest.raises(Unauthenticated, match="X-Hub-Signature-256"):
        verify_signature(SECRET, headers, PUSH)


def test_no_secret_accepts_unsigned_deliveries():
    headers = github_headers(PUSH)
    del headers["X-Hub-Signature-256"]
    verify_signature(None, headers, PUSH)
    verify_signature("", headers, PUSH)


def test_ping_creates_no_run():
    body = json.dumps({"zen": "Design for failure.", "hook_id": 1}).encode()
    headers = github_headers(body, event="ping")
    verify_signature(SECRET, headers, body)
    delivery = parse_delivery(headers, body)
    assert delivery.is_ping
    decision = decide(delivery, enabled=True, events=["ping"])
    assert not decision.create_run and "ping" in decision.reason


def test_events_filter_match_creates_a_run():
    delivery = parse_delivery(github_headers(PUSH), PUSH)
    assert decide(delivery, enabled=True, events=["push", "release"]).create_run
    assert decide(delivery, enabled=True, events=["*"]).create_run


def test_events_filter_no_match_says_why():
    delivery = parse_delivery(github_headers(PUSH), PUSH)
    decision = decide(delivery, enabled=True, events=["pull_request"])
    assert not decision.create_run
    assert "push" in decision.reason and "pull_request" in decision.reason


def test_disabled_trigger_creates_no_run():
    delivery = parse_delivery(github_headers(PUSH), PUSH)
    decision = decide(delivery, enabled=False)
    assert not decision.create_run and "disabled" in decision.reason


def test_delivery_id_is_the_dedupe_key():
    first = parse_delivery(github_headers(PUSH, delivery="d-1"), PUSH)
    again = parse_delivery(github_headers(PUSH, delivery="d-1"), PUSH)
    other = parse_delivery(github_headers(PUSH, delivery="d-2"), PUSH)
    assert first.dedupe_key == again.dedupe_key != other.dedupe_key
    headers = github_headers(PUSH)
    del headers["X-GitHub-Delivery"]
    assert parse_delivery(headers, PUSH).dedupe_key is None


def test_form_encoded_delivery_parses():
    body = urlencode({"payload": PUSH.decode()}).encode()
    headers = {**github_headers(body), "Content-Type": "application/x-www-form-urlencoded"}
    verify_signature(SECRET, headers, body)
    assert parse_delivery(headers, body).payload["after"] == "abc123"


def test_bad_json_names_body():
    with pytest.raises(InvalidArgument) as err:
        parse_delivery(github_headers(b"{nope"), b"{nope")
    assert [field for field, _ in err.value.violations] == ["body"]

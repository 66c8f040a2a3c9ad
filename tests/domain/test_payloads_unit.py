"""What one delivery sends, as pure functions (SPEC §8 "Payload and headers", §7 "Signing
secrets" and reserved headers): the exact body and content type of each format for a fixed
event, and the exact header list of an attempt. Signatures are recomputed here with `hmac`
from the SPEC's formulas, and the standard one is also verified with the `standardwebhooks`
library itself."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_structured_event
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from flowhooks_server import __version__
from flowhooks_server.domain.payloads import EventView, delivery_headers, render_body

EVENT = EventView(id="evt_01", type="workflow.completed", tenant_id="tenant-a",
                  workflow_id="wf_7", created_at=datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
                  data={"workflow_run_id": "run_1", "status": "succeeded", "note": "é"})
MSG_ID = "evt_01"
TIMESTAMP = 1767323045
BODY = b'{"event_id":"evt_01","data":{"x":1}}'
# A Standard Webhooks secret (32 bytes) and an ELAN one (any other string).
WHSEC = "whsec_" + base64.b64encode(bytes(range(32))).decode()
WHSEC_KEY = bytes(range(32))
ELAN = "elan-shared-secret"
USER_AGENT = f"flowhooks/{__version__}"


def standard(key: bytes, msg_id: str = MSG_ID, timestamp: int = TIMESTAMP,
             body: bytes = BODY) -> str:
    """`v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` (SPEC §8)."""
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def legacy(secret: str, body: bytes = BODY) -> str:
    """`X-Webhook-Signature`: lowercase hex HMAC-SHA256 keyed with the secret's UTF-8 bytes."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def headers_of(custom: dict[str, list[str]] | None = None, secrets: tuple[str, ...] = (WHSEC,),
               *, msg_id: str = MSG_ID, timestamp: int = TIMESTAMP,
               body: bytes = BODY) -> list[tuple[str, str]]:
    return delivery_headers(msg_id=msg_id, timestamp=timestamp, body=body,
                            content_type="application/json", custom=custom or {},
                            secrets=secrets)


# -- bodies -------------------------------------------------------------------------------------


def test_elan_body_is_the_compact_envelope() -> None:
    body, content_type = render_body(EVENT, "elan")
    assert content_type == "application/json"
    assert body == (
        '{"event_id":"evt_01","event_type":"workflow.completed","workflow_id":"wf_7",'
        '"organization_id":"tenant-a","timestamp":"2026-01-02T03:04:05.678000Z",'
        '"data":{"workflow_run_id":"run_1","status":"succeeded","note":"é"}}').encode()


def test_elan_body_without_a_workflow_has_an_empty_workflow_id() -> None:
    event = EventView("evt_02", "token.created", "tenant-a", None,
                      datetime(2026, 1, 1, tzinfo=UTC), {})
    body, content_type = render_body(event, "elan")
    assert (body, content_type) == (
        b'{"event_id":"evt_02","event_type":"token.created","workflow_id":"",'
        b'"organization_id":"tenant-a","timestamp":"2026-01-01T00:00:00.000000Z","data":{}}',
        "application/json")


def test_cloudevents_body_is_a_structured_event() -> None:
    body, content_type = render_body(EVENT, "cloudevents")
    assert content_type == "application/cloudevents+json"
    assert body == (
        b'{"specversion": "1.0", "id": "evt_01", "type": "workflow.completed", '
        b'"source": "/flowhooks/tenant-a", "time": "2026-01-02T03:04:05.678000Z", '
        b'"datacontenttype": "application/json", "subject": "wf_7", '
        b'"data": {"workflow_run_id": "run_1", "status": "succeeded", "note": "\\u00e9"}}')
    # And the cloudevents SDK reads it back as the same event.
    event = from_structured_event(HTTPMessage({"content-type": content_type}, body))
    assert event.get_attributes() == {
        "specversion": "1.0", "id": "evt_01", "type": "workflow.completed",
        "source": "/flowhooks/tenant-a", "time": EVENT.created_at,
        "datacontenttype": "application/json", "subject": "wf_7"}
    assert event.get_data() == EVENT.data


def test_cloudevents_body_without_a_workflow_has_no_subject() -> None:
    event = EventView("evt_03", "token.created", "t", None, datetime(2026, 1, 1, tzinfo=UTC),
                      {"a": 1})
    body, _ = render_body(event, "cloudevents")
    assert json.loads(body) == {
        "specversion": "1.0", "id": "evt_03", "type": "token.created", "source": "/flowhooks/t",
        "time": "2026-01-01T00:00:00Z", "datacontenttype": "application/json", "data": {"a": 1}}


# -- headers ------------------------------------------------------------------------------------


def test_headers_of_an_attempt_exactly() -> None:
    assert headers_of({"X-Team": ["core"]}) == [
        ("X-Team", "core"),
        ("Content-Type", "application/json"),
        ("User-Agent", USER_AGENT),
        ("webhook-id", MSG_ID),
        ("webhook-timestamp", str(TIMESTAMP)),
        ("webhook-signature", standard(WHSEC_KEY)),
        ("X-Webhook-Signature", legacy(WHSEC)),
    ]


def test_content_type_is_the_one_of_the_body() -> None:
    got = delivery_headers(msg_id=MSG_ID, timestamp=TIMESTAMP, body=BODY,
                           content_type="application/cloudevents+json", custom={},
                           secrets=(WHSEC,))
    assert ("Content-Type", "application/cloudevents+json") in got
    assert [name for name, _ in got].count("Content-Type") == 1


def test_an_elan_secret_keys_both_signatures_with_its_utf8_bytes() -> None:
    got = dict(headers_of(secrets=(ELAN,)))
    assert got["webhook-signature"] == standard(ELAN.encode())
    assert got["X-Webhook-Signature"] == legacy(ELAN)


def test_a_whsec_secret_keys_the_legacy_signature_with_the_whole_string() -> None:
    got = dict(headers_of(secrets=(WHSEC,)))
    assert got["X-Webhook-Signature"] == legacy(WHSEC)
    assert got["X-Webhook-Signature"] != hmac.new(WHSEC_KEY, BODY, hashlib.sha256).hexdigest()


def test_the_standard_signature_verifies_with_the_standardwebhooks_library() -> None:
    now = int(time.time())
    got = dict(headers_of(secrets=(WHSEC,), timestamp=now))
    sent = {name: got[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert StandardWebhook(WHSEC).verify(BODY, sent) == json.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(WHSEC).verify(BODY + b" ", sent)
    other = "whsec_" + base64.b64encode(bytes(range(1, 33))).decode()
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(other).verify(BODY, sent)


def test_an_elan_secret_verifies_with_the_library_given_its_bytes() -> None:
    now = int(time.time())
    got = dict(headers_of(secrets=(ELAN,), timestamp=now))
    sent = {name: got[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert StandardWebhook(ELAN.encode()).verify(BODY, sent) == json.loads(BODY)


def test_during_a_rotation_both_signatures_are_sent_new_first() -> None:
    old = ELAN
    got = dict(headers_of(secrets=(WHSEC, old)))
    assert got["webhook-signature"] == f"{standard(WHSEC_KEY)} {standard(old.encode())}"
    # The legacy header carries the current (new) secret's signature only.
    assert got["X-Webhook-Signature"] == legacy(WHSEC)


def test_during_a_rotation_receivers_on_either_secret_verify() -> None:
    now = int(time.time())
    old = "whsec_" + base64.b64encode(bytes(range(100, 140))).decode()
    got = dict(headers_of(secrets=(WHSEC, old), timestamp=now))
    sent = {name: got[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    assert StandardWebhook(WHSEC).verify(BODY, sent) == json.loads(BODY)
    assert StandardWebhook(old).verify(BODY, sent) == json.loads(BODY)


def test_without_secrets_nothing_is_signed() -> None:
    assert headers_of(secrets=()) == [
        ("Content-Type", "application/json"), ("User-Agent", USER_AGENT),
        ("webhook-id", MSG_ID), ("webhook-timestamp", str(TIMESTAMP))]


def test_custom_headers_keep_every_value_in_order() -> None:
    got = headers_of({"X-Multi": ["a", "b"], "Authorization": ["Bearer t"]}, secrets=())
    assert got[:3] == [("X-Multi", "a"), ("X-Multi", "b"), ("Authorization", "Bearer t")]


RESERVED = ["Host", "Content-Type", "content-length", "CONTENT-TYPE", "webhook-id",
            "Webhook-Timestamp", "webhook-signature", "webhook-anything", "X-Webhook-Signature",
            "x-webhook-signature", "User-Agent", "Transfer-Encoding", "Content-Encoding",
            "Connection", "Keep-Alive", "Expect", "Upgrade", "TE", "Trailer",
            "Proxy-Authorization", "proxy-connection"]


@pytest.mark.parametrize("name", RESERVED)
def test_a_custom_header_never_overrides_a_reserved_one(name: str) -> None:
    got = headers_of({name: ["forged"], "X-Kept": ["yes"]})
    assert got == headers_of({"X-Kept": ["yes"]})
    assert all(value != "forged" for _, value in got)


@pytest.mark.parametrize(("name", "values"), [
    ("X-Split", ["a\r\nInjected: 1"]),
    ("X-Lf", ["a\nb"]),
    ("X-Nul", ["a\x00b"]),
    ("X-Bell", ["ok", "a\x07"]),  # one bad value drops the header, every value of it
    ("Bad Name", ["v"]),
    ("X-Colon:", ["v"]),
])
def test_custom_headers_that_could_not_be_sent_are_dropped(name: str,
                                                           values: list[str]) -> None:
    assert headers_of({name: values, "X-Kept": ["yes"]}) == headers_of({"X-Kept": ["yes"]})


def test_a_tab_and_non_ascii_in_a_value_are_sent() -> None:
    got = headers_of({"X-Tab": ["a\tb"], "X-Text": ["café"]}, secrets=())
    assert got[:2] == [("X-Tab", "a\tb"), ("X-Text", "café")]

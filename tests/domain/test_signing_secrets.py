"""Signing secrets without I/O (SPEC §7 "Signing secrets", §8): the two forms and their
refusals, the key of each signature checked against the `standardwebhooks` library itself,
generated secrets, and rotation states with their grace periods."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.payloads import delivery_headers
from flowhooks_server.domain.signing import (
    DEFAULT_GRACE,
    MAX_GRACE,
    SecretState,
    generate_secret,
    grace_refusal,
    hex_signature,
    secret_refusal,
    signing_key,
    standard_signature,
)
from flowhooks_server.domain.webhooks import ELAN_FIELDS, SOCOTRA_FIELDS, WebhookSpec, validate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BODY = b'{"event_id":"evt_1","data":{"x":1}}'


def whsec(n: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(n))).decode()


def headers(secrets, body=BODY, msg_id="evt_1") -> dict[str, str]:
    return dict(delivery_headers(msg_id=msg_id, timestamp=int(time.time()), body=body,
                                 content_type="application/json", custom={}, secrets=secrets))


@pytest.mark.parametrize("secret", [whsec(24), whsec(32), whsec(64), "s3cr3t", "x", "é" * 255,
                                    "whsec-not-the-prefix"])
def test_accepted_forms(secret):
    assert secret_refusal(secret) is None


REFUSED = {
    "empty": ("", "must not be empty"),
    "too long": ("s" * 256, "at most 255"),
    "10 bytes": (whsec(10), "not 10"),
    "23 bytes": (whsec(23), "not 23"),
    "65 bytes": (whsec(65), "not 65"),
    "nothing after the prefix": ("whsec_", "not 0"),
    "not base64": ("whsec_!!not*base64!!", "base64"),
    "unpadded": (whsec(32).rstrip("="), "base64"),
    "url-safe alphabet": ("whsec_" + base64.urlsafe_b64encode(b"\xfb" * 33).decode(), "base64"),
    "whitespace": ("whsec_" + base64.b64encode(bytes(24)).decode()[:8] + " "
                   + base64.b64encode(bytes(24)).decode()[8:], "base64"),
    "non-ASCII": ("whsec_ÄÄÄÄ" + base64.b64encode(bytes(30)).decode(), "base64"),
}


@pytest.mark.parametrize(("secret", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_forms(secret, why):
    assert why in secret_refusal(secret)


def test_validation_names_the_surfaces_field_and_spares_a_stored_secret():
    spec = WebhookSpec(name="n", url="https://hooks.example.com/x",
                       event_types=("workflow.completed",), secret=whsec(10))
    for names, field in ((SOCOTRA_FIELDS, "endpoint.secret"), (ELAN_FIELDS, "secret")):
        with pytest.raises(InvalidArgument) as err:
            validate(spec, names, allow_insecure=False)
        assert [f for f, _ in err.value.violations] == [field]
    # A secret stored before the rules does not block a change of another field.
    validate(spec, ELAN_FIELDS, allow_insecure=False, stored_secret=whsec(10))


def test_generated_secrets():
    first, second = generate_secret(), generate_secret()
    assert first != second and first.startswith("whsec_")
    assert secret_refusal(first) is None
    assert len(base64.b64decode(first.removeprefix("whsec_"), validate=True)) == 32
    assert StandardWebhook(first).verify(BODY, headers([first]))


def test_whsec_signs_with_its_decoded_bytes_as_the_library_expects():
    secret = whsec(32)
    assert signing_key(secret) == bytes(range(32))
    sent = headers([secret])
    assert StandardWebhook(secret).verify(BODY, sent)  # the string, as a receiver holds it
    assert StandardWebhook(bytes(range(32))).verify(BODY, sent)
    # X-Webhook-Signature is keyed with the whole string, prefix included.
    assert sent["X-Webhook-Signature"] == hmac.new(
        secret.encode(), BODY, hashlib.sha256).hexdigest()
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(secret.encode()).verify(BODY, sent)


def test_an_elan_secret_signs_with_its_utf8_bytes():
    secret = "elan-sécret"
    sent = headers([secret])
    assert signing_key(secret) == secret.encode()
    assert StandardWebhook(secret.encode()).verify(BODY, sent)
    assert StandardWebhook(base64.b64encode(secret.encode()).decode()).verify(BODY, sent)
    assert sent["X-Webhook-Signature"] == hmac.new(
        secret.encode(), BODY, hashlib.sha256).hexdigest()


def test_a_stored_whsec_string_that_does_not_decode_signs_as_before():
    legacy = "whsec_not base64"
    assert signing_key(legacy) == legacy.encode()


def test_signature_shape():
    signature = standard_signature("k", "msg_1", 1700000000, b"{}")
    expected = hmac.new(b"k", b"msg_1.1700000000.{}", hashlib.sha256).digest()
    assert signature == "v1," + base64.b64encode(expected).decode()
    assert hex_signature("k", b"{}") == hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


def test_during_a_grace_both_sign_new_first_and_the_hex_header_is_the_new_ones():
    old, new = "old-secret", whsec(32)
    sent = headers([new, old])
    first, second = sent["webhook-signature"].split(" ")
    assert first.startswith("v1,") and second.startswith("v1,")
    assert first == standard_signature(new, "evt_1", int(sent["webhook-timestamp"]), BODY)
    assert StandardWebhook(new).verify(BODY, sent)
    assert StandardWebhook(old.encode()).verify(BODY, sent)
    assert sent["X-Webhook-Signature"] == hex_signature(new, BODY)


def test_nothing_is_signed_without_secrets():
    sent = headers([])
    assert "webhook-signature" not in sent and "X-Webhook-Signature" not in sent


def test_rotation_with_a_grace():
    state = SecretState("a").rotated("b", DEFAULT_GRACE, NOW)
    assert state == SecretState("b", "a", NOW + DEFAULT_GRACE)
    assert state.signing(NOW) == ("b", "a")
    assert state.signing(NOW + DEFAULT_GRACE - timedelta(seconds=1)) == ("b", "a")
    assert state.signing(NOW + DEFAULT_GRACE) == ("b",)
    assert state.pruned(NOW + DEFAULT_GRACE) == SecretState("b")
    assert state.pruned(NOW) == state


def test_rotation_without_a_grace_retires_the_old_one_at_once():
    assert SecretState("a").rotated("b", timedelta(0), NOW) == SecretState("b")


def test_a_second_rotation_replaces_the_previous_secret():
    state = SecretState("a").rotated("b", MAX_GRACE, NOW)
    later = NOW + timedelta(hours=1)
    again = state.rotated("c", timedelta(hours=2), later)
    assert again == SecretState("c", "b", later + timedelta(hours=2))
    assert again.signing(later) == ("c", "b")


def test_rotating_to_the_current_secret_changes_nothing():
    state = SecretState("a").rotated("b", DEFAULT_GRACE, NOW)
    assert state.rotated("b", timedelta(0), NOW) == state
    assert state.rotated("b", timedelta(0), NOW + MAX_GRACE) == SecretState("b")


@pytest.mark.parametrize(("grace", "refused"), [
    (timedelta(0), None), (DEFAULT_GRACE, None), (MAX_GRACE, None),
    (timedelta(seconds=-1), "must not be negative"),
    (MAX_GRACE + timedelta(microseconds=1), "at most 604800s"),
    (timedelta(seconds=700000), "at most 604800s"),
])
def test_grace_periods(grace, refused):
    got = grace_refusal(grace)
    assert got is None if refused is None else refused in got


@given(st.binary(min_size=24, max_size=64))
def test_every_whsec_of_24_to_64_bytes_signs_with_those_bytes(key):
    secret = "whsec_" + base64.b64encode(key).decode()
    assert secret_refusal(secret) is None and signing_key(secret) == key


@given(st.text(min_size=1, max_size=255).filter(lambda s: not s.startswith("whsec_")))
def test_every_other_string_of_1_to_255_is_an_elan_secret(secret):
    assert secret_refusal(secret) is None and signing_key(secret) == secret.encode()

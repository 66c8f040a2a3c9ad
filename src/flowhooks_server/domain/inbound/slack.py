"""A Slack request (SPEC §6, `POST /api/v2/webhook` with `X-Slack-Signature`): its signature,
and what it asks for.

Slack signs `v0:{X-Slack-Request-Timestamp}:{raw body}` with the app's signing secret and sends
`v0=<hex HMAC-SHA256>`; a timestamp more than `MAX_SKEW_S` from now is refused, so a captured
request cannot be replayed later. The caller passes `now` (Unix seconds): nothing here reads a
clock. Errors never echo the secret or the signature.

Kinds: `url_verification` is answered with its `challenge`; `event_callback` and `shortcut` make
a run; anything else makes none (the servicer answers 400).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flowhooks_server.domain.errors import InvalidArgument, Unauthenticated
from flowhooks_server.domain.inbound.http import FORM, lower_headers, media_type, parse_json

SIGNATURE_HEADER = "x-slack-signature"
TIMESTAMP_HEADER = "x-slack-request-timestamp"
VERSION = "v0"
MAX_SKEW_S = 300
MAX_TIMESTAMP = 12  # digits: far beyond any clock, and never an overflow
URL_VERIFICATION = "url_verification"
RUN_KINDS = frozenset({"event_callback", "shortcut"})


def signature_of(secret: str, timestamp: str, body: bytes) -> str:
    """`v0=<hex HMAC-SHA256 of v0:{timestamp}:{body}>`, as Slack computes it."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()


def verify_signature(secret: str | None, headers: Mapping[str, str], body: bytes, *,
                     now: float) -> None:
    """Raise `Unauthenticated` unless the request is signed with `secret` within the window."""
    if not secret:
        # Slack always signs; without a secret nothing can be verified, so nothing is accepted.
        raise Unauthenticated("the workflow's Slack trigger has no signing secret")
    names = lower_headers(headers)
    timestamp = names.get(TIMESTAMP_HEADER, "").strip()
    given = names.get(SIGNATURE_HEADER, "").strip()
    if not timestamp or not given:
        raise Unauthenticated("X-Slack-Signature and X-Slack-Request-Timestamp are required")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= MAX_TIMESTAMP):
        raise Unauthenticated("X-Slack-Request-Timestamp must be Unix seconds")
    sent_at = int(timestamp)
    if abs(now - sent_at) > MAX_SKEW_S:
        raise Unauthenticated(
            f"X-Slack-Request-Timestamp is more than {MAX_SKEW_S} s from the server's clock")
    expected = signature_of(secret, timestamp, body).encode("ascii")
    if not hmac.compare_digest(expected, given.encode("utf-8", "replace")):
        raise Unauthenticated(
            "X-Slack-Signature does not match the request and the Slack trigger's secret")


@dataclass(frozen=True)
class SlackRequest:
    kind: str
    payload: dict[str, Any]

    @property
    def challenge(self) -> str | None:
        """The answer to a `url_verification`: `{"challenge": ...}`."""
        if self.kind != URL_VERIFICATION:
            return None
        return str(self.payload["challenge"])

    @property
    def creates_run(self) -> bool:
        return self.kind in RUN_KINDS

    @property
    def dedupe_key(self) -> str | None:
        """Slack retries an unacknowledged event with the same `event_id`."""
        event_id = self.payload.get("event_id")
        return f"slack:{event_id}" if self.kind == "event_callback" and event_id else None


def parse_request(headers: Mapping[str, str], body: bytes) -> SlackRequest:
    """Read a JSON request (events API) or a form-encoded one whose JSON is in `payload`
    (shortcuts and other interactivity)."""
    if media_type(headers) == FORM or body.startswith(b"payload="):
        fields = parse_qs(_text(body))
        payload = parse_json(fields["payload"][0], "payload") if "payload" in fields else {}
    else:
        payload = parse_json(body)
    if not isinstance(payload, dict):
        raise InvalidArgument("body", "must be a JSON object")
    kind = payload.get("type")
    request = SlackRequest(kind=kind if isinstance(kind, str) else "", payload=payload)
    if request.kind == URL_VERIFICATION and not isinstance(payload.get("challenge"), str):
        raise InvalidArgument("challenge", "is required in a url_verification request")
    return request


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidArgument("body", "is not valid UTF-8") from None

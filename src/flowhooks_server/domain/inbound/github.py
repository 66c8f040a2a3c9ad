"""A GitHub webhook delivery (SPEC §6, `POST /api/v2/webhook` with `X-GitHub-Event`): its
signature, what it is, and whether a workflow's GitHub trigger admits it.

The order a servicer follows: `verify_signature`, then `parse_delivery`, then `decide`, then
(when a run is to be made) the trigger's conditions against `delivery.payload`, deduplicated by
`delivery.dedupe_key`. Errors never echo the secret or the signature.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from flowhooks_server.domain.errors import InvalidArgument, Unauthenticated
from flowhooks_server.domain.inbound.http import FORM, lower_headers, media_type, parse_json

SIGNATURE_HEADER = "x-hub-signature-256"
EVENT_HEADER = "x-github-event"
DELIVERY_HEADER = "x-github-delivery"
SIGNATURE_PREFIX = "sha256="
PING = "ping"
ANY_EVENT = "*"


def signature_of(secret: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`, as GitHub computes it."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | None, headers: Mapping[str, str], body: bytes) -> None:
    """Raise `Unauthenticated` unless `X-Hub-Signature-256` signs `body` with `secret`.
    A trigger without a secret accepts unsigned deliveries, as SPEC §6 says."""
    if not secret:
        return
    given = lower_headers(headers).get(SIGNATURE_HEADER, "").strip()
    if not given:
        raise Unauthenticated(
            "X-Hub-Signature-256 is missing; this workflow's GitHub trigger requires signed "
            "deliveries")
    if not given.lower().startswith(SIGNATURE_PREFIX):
        raise Unauthenticated("X-Hub-Signature-256 must be sha256=<hex HMAC-SHA256 of the body>")
    expected = signature_of(secret, body).encode("ascii")
    if not hmac.compare_digest(expected, given.lower().encode("utf-8", "replace")):
        raise Unauthenticated(
            "X-Hub-Signature-256 does not match the request body and the GitHub trigger's "
            "secret")


@dataclass(frozen=True)
class GitHubDelivery:
    event: str
    delivery_id: str | None
    payload: Any

    @property
    def is_ping(self) -> bool:
        return self.event == PING

    @property
    def dedupe_key(self) -> str | None:
        """A redelivery repeats `X-GitHub-Delivery`; it must create no second run."""
        return f"github:{self.delivery_id}" if self.delivery_id else None


def parse_delivery(headers: Mapping[str, str], body: bytes) -> GitHubDelivery:
    """Read a delivery sent as `application/json` or as a form with a `payload` field (both are
    GitHub webhook content types)."""
    names = lower_headers(headers)
    event = names.get(EVENT_HEADER, "").strip()
    if not event:
        raise InvalidArgument("X-GitHub-Event", "is required")
    if media_type(headers) == FORM:
        try:
            fields = parse_qs(body.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidArgument("body", "is not valid UTF-8") from None
        if "payload" not in fields:
            raise InvalidArgument("payload", "is required in a form-encoded GitHub delivery")
        payload = parse_json(fields["payload"][0], "payload")
    else:
        payload = parse_json(body) if body.strip() else {}
    return GitHubDelivery(event=event, delivery_id=names.get(DELIVERY_HEADER, "").strip() or None,
                          payload=payload)


@dataclass(frozen=True)
class Decision:
    """Whether a delivery makes a run; when not, `reason` is what the 200 answer says."""

    create_run: bool
    reason: str = ""


def decide(delivery: GitHubDelivery, *, enabled: bool, events: Sequence[str] = ()) -> Decision:
    """`ping` and deliveries the trigger does not admit make no run. An empty `events` filter,
    or one holding `*`, admits every event. Conditions are the caller's next check."""
    if delivery.is_ping:
        return Decision(False, "ping received; no run is created for a ping")
    if not enabled:
        return Decision(False, "the workflow's GitHub trigger is disabled")
    if events and ANY_EVENT not in events and delivery.event not in events:
        return Decision(False, f"event {delivery.event!r} is not in the GitHub trigger's events "
                               f"filter {sorted(events)}")
    return Decision(True)

"""Signing secrets (SPEC §7 "Signing secrets", §8 "Payload and headers"): their two forms, the
key each signature is made with, generated secrets, and rotation with a grace period. Pure: no
I/O and no clock (callers pass `now`).

Forms. A secret that starts with `whsec_` is a Standard Webhooks secret: the rest must be
strict base64 (standard alphabet, padded, nothing else) of 24..64 bytes, and those bytes are
its key. Any other string of 1..255 characters is an ELAN secret, whose key is its UTF-8 bytes.
A `whsec_` string that does not decode so is refused, never taken for an ELAN secret: its
owner plainly meant a Standard Webhooks secret, and signing with other bytes than their
library derives would fail the verification of every delivery without a word.

Signatures. `webhook-signature` is `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`,
keyed as Standard Webhooks libraries key it: `standardwebhooks.Webhook("whsec_...")` verifies a
delivery as it stands, and so does `Webhook(secret.encode())` for an ELAN secret.
`X-Webhook-Signature` is the lowercase hex HMAC-SHA256 of the body keyed with the secret
string's UTF-8 bytes whatever its form (`whsec_` included), exactly as the receiver configured
it (ELAN).

Generated secrets are `whsec_` + base64 of 32 bytes from `secrets.token_bytes`.

Rotation. A webhook holds its current secret and at most one previous secret with the moment
its grace ends (`SecretState`). Rotating makes the new secret current; the old current one
keeps signing until now + grace (default 24 h, at most 7 days; 0 retires it at once). A second
rotation during a grace period replaces the previous secret: the one before stops signing at
once (deliveries carry at most two signatures). Rotating to the current secret changes nothing.
A PATCH that changes the secret is a rotation with the default grace.

During a grace period `webhook-signature` carries both signatures, space-separated, the current
(new) one first. `X-Webhook-Signature` carries only the current secret's: ELAN receivers compare
that header whole against one digest, so two digests in it would fail every receiver, old or
new; receivers that rotate without a gap verify `webhook-signature`.

Secrets stored before these rules may be `whsec_` strings that do not decode; those keep
signing with their UTF-8 bytes, as they always did, until they are rotated.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

WHSEC_PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES, GENERATED_KEY_BYTES = 24, 64, 32
MAX_SECRET = 255
DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=7)


def generate_secret() -> str:
    """A fresh `whsec_` secret of 32 random bytes."""
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(GENERATED_KEY_BYTES)).decode()


def _whsec_bytes(secret: str) -> bytes | None:
    """The decoded bytes after `whsec_` when they are strict base64, else None."""
    try:
        return base64.b64decode(secret[len(WHSEC_PREFIX):], validate=True)
    except ValueError:  # binascii.Error, or non-ASCII characters
        return None


def secret_refusal(secret: str) -> str | None:
    """Why `secret` cannot be a signing secret (None when it can); see the module text."""
    if not secret:
        return "must not be empty"
    if len(secret) > MAX_SECRET:
        return f"must be at most {MAX_SECRET} characters"
    if not secret.startswith(WHSEC_PREFIX):
        return None
    key = _whsec_bytes(secret)
    if key is None:
        return ("is a Standard Webhooks secret: whsec_ must be followed by padded standard "
                "base64")
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return (f"is a Standard Webhooks secret: its base64 must decode to {MIN_KEY_BYTES} to "
                f"{MAX_KEY_BYTES} bytes, not {len(key)}")
    return None


def grace_refusal(grace: timedelta) -> str | None:
    """Why `grace` cannot be a rotation's grace period (None when it can)."""
    if grace < timedelta(0):
        return "must not be negative"
    if grace > MAX_GRACE:
        return f"must be at most {int(MAX_GRACE.total_seconds())}s (7 days)"
    return None


def signing_key(secret: str) -> bytes:
    """The HMAC key of `webhook-signature`: a `whsec_` secret's decoded bytes, else (ELAN, or
    a `whsec_` string stored before the rules) the UTF-8 bytes of the string."""
    if secret.startswith(WHSEC_PREFIX) and secret_refusal(secret) is None:
        key = _whsec_bytes(secret)
        if key is not None:  # always, as secret_refusal decoded it
            return key
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256(signing_key(secret), "{id}.{timestamp}.{body}")>`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def hex_signature(secret: str, body: bytes) -> str:
    """`X-Webhook-Signature`: lowercase hex HMAC-SHA256 of the body, keyed with the whole
    secret string's UTF-8 bytes."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class SecretState:
    """A webhook's current secret and, during a rotation's grace, the previous one."""

    current: str
    previous: str | None = None
    previous_expires_at: datetime | None = None

    def signing(self, now: datetime) -> tuple[str, ...]:
        """The secrets that sign a delivery made at `now`: the current one first."""
        if self._previous_live(now):
            return (self.current, self.previous)  # type: ignore[return-value]
        return (self.current,)

    def rotated(self, new: str, grace: timedelta, now: datetime) -> SecretState:
        """`new` made current; the old current one signs until now + grace."""
        if new == self.current:
            return self.pruned(now)
        if grace <= timedelta(0):
            return SecretState(new)
        return SecretState(new, self.current, now + grace)

    def pruned(self, now: datetime) -> SecretState:
        """The same state without a previous secret whose grace has ended."""
        return self if self._previous_live(now) else SecretState(self.current)

    def _previous_live(self, now: datetime) -> bool:
        return bool(self.previous and self.previous_expires_at
                    and now < self.previous_expires_at)

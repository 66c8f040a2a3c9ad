"""A plain webhook (SPEC §6, `POST /api/v2/webhook` from anyone but Slack or GitHub): its JSON
body, which becomes the run's `data`, and its optional `Idempotency-Key`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.inbound.http import lower_headers, parse_json

IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


def dedupe_key(headers: Mapping[str, str]) -> str | None:
    """The de-duplication key of a plain webhook, from its `Idempotency-Key` (namespaced so it
    cannot collide with a GitHub or Slack key), or None when the sender gave none."""
    key = lower_headers(headers).get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidArgument("Idempotency-Key",
                              f"must be at most {MAX_IDEMPOTENCY_KEY} characters")
    return f"plain:{key}"


def parse_body(body: bytes) -> Any:
    """The JSON body. An empty body is `{}`: a sender that only wants a run need send nothing."""
    if not body.strip():
        return {}
    return parse_json(body)

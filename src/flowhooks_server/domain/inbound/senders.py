"""Who sent a `POST /api/v2/webhook` (SPEC §6): Slack, GitHub, or anyone else, told apart by
their headers alone, so the servicer picks the verifier before it reads the body."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from flowhooks_server.domain.inbound.http import lower_headers

Sender = Literal["slack", "github", "plain"]


def sender_of(headers: Mapping[str, str]) -> Sender:
    names = lower_headers(headers)
    # Slack is checked first, as SPEC §6 lists it: a request carrying both is Slack's to verify.
    if "x-slack-signature" in names:
        return "slack"
    if "x-github-event" in names:
        return "github"
    return "plain"

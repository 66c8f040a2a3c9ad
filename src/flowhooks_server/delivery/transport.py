"""The send step of a delivery attempt: a `Transport` posts a request and reports what came
back as a `Sent`, never raising for what the receiver or the network did. The worker depends
on this protocol only; `delivery.sender.Sender` is the real one (pooled HTTP with the SSRF
guard), and unit tests use a fake."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from flowhooks_server.domain.retries import Result


@dataclass(frozen=True)
class Sent:
    """One POST's result, the first bytes of the answer's body (decoded) and how long it
    took."""

    result: Result
    response_body: str | None
    duration_ms: int


class Transport(Protocol):
    async def post(self, url: str, body: bytes, headers: Sequence[tuple[str, str]],
                   timeout_s: float) -> Sent:
        """Post `body`; a refused target, a timeout or a network error is a `Sent` whose
        result says so."""
        ...

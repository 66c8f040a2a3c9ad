"""An in-memory `Transport` (see `flowhooks_server.delivery.transport`) for unit tests: it
answers from a script, one reply per post, and keeps every request it was given. Replies are
`Sent` values, or functions of the request for answers that depend on it (a timeout names
the request's timeout, a refusal the rule the URL breaks, as the real sender does; the real
sender's own refusals are tested against it, in tests/hostile/test_ssrf_hostile.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flowhooks_server.delivery.transport import Sent
from flowhooks_server.domain.retries import Result
from flowhooks_server.domain.targets import url_refusal


@dataclass(frozen=True)
class Posted:
    url: str
    body: bytes
    headers: tuple[tuple[str, str], ...]
    timeout_s: float

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


Reply = Sent | Callable[[Posted], Sent]


class FakeTransport:
    def __init__(self, *replies: Reply) -> None:
        self._replies = list(replies)
        self.requests: list[Posted] = []

    async def post(self, url: str, body: bytes, headers: Sequence[tuple[str, str]],
                   timeout_s: float) -> Sent:
        posted = Posted(url, body, tuple(headers), timeout_s)
        self.requests.append(posted)
        if not self._replies:
            raise AssertionError(f"unexpected request to {url}")
        reply = self._replies.pop(0)
        return reply(posted) if callable(reply) else reply


def answered(status: int, body: str = "", retry_after: str | None = None,
             duration_ms: int = 7) -> Sent:
    """The receiver answered `status` (with `Retry-After` when given)."""
    return Sent(Result(status=status, retry_after=retry_after), body, duration_ms)


def timed_out(posted: Posted) -> Sent:
    """No answer within the request's timeout."""
    return Sent(Result(error_kind="timeout", error=f"no response within {posted.timeout_s:g}s"),
                None, round(posted.timeout_s * 1000))


def unreachable(error: str) -> Sent:
    """A network error: refused, reset, no such host."""
    return Sent(Result(error_kind="network", error=error), None, 1)


def refused(posted: Posted) -> Sent:
    """The SSRF guard (SPEC §8.11) refused the URL before any connection was made."""
    reason = url_refusal(posted.url, allow_insecure=False)
    assert reason is not None, f"{posted.url} is not refused"
    return Sent(Result(error_kind="network", error=f"refused target: the URL {reason}"), None, 0)

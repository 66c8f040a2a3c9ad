"""HTTP attempts over pooled keep-alive connections, with the SSRF guard of SPEC §8.11 applied
to what is actually connected to.

A URL is read once, by domain/targets.parse_target, and aiohttp is handed that canonical URL
as already encoded, so yarl cannot read the host another way. A refused literal address (or
http://, or localhost) is a `network` failure decided before any connection, and names are
resolved by a resolver that drops refused addresses (no DNS rebinding). Either way the error
names the rule and is the same whatever the port would have answered.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Sequence

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from flowhooks_server.delivery.transport import Sent
from flowhooks_server.domain.retries import Result
from flowhooks_server.domain.targets import (
    TargetError,
    address_refusal,
    parse_target,
    target_refusal,
)

MAX_RESPONSE_BODY = 4096
MAX_ACCEPTED_URLS = 10_000  # checked URLs kept (`Sender.checked`)


class RefusedTarget(OSError):
    pass


class GuardedResolver(AbstractResolver):
    """Resolves like aiohttp's threaded resolver, minus every non-public address."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily =
                      socket.AF_INET) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        allowed = [a for a in answers if address_refusal(a["host"]) is None]
        if not allowed:
            reason = address_refusal(answers[0]["host"]) if answers else "no address"
            raise RefusedTarget(f"refused target: {host} resolves to no public address: "
                                f"{reason}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


class Sender:
    """The `Transport` of deliveries and alerts (see `delivery.transport`)."""

    def __init__(self, allow_insecure: bool, limit: int = 512, limit_per_host: int = 64):
        self._insecure = allow_insecure
        self._limits = (limit, limit_per_host)
        self._session: aiohttp.ClientSession | None = None
        # URLs already checked and accepted (the check is a pure function of the URL and
        # `allow_insecure`): a webhook's every attempt would parse its URL again otherwise.
        # Refusals are not kept. Resolved addresses are judged on every connection anyway.
        self._accepted: dict[str, yarl.URL] = {}

    async def start(self) -> None:
        limit, per_host = self._limits
        connector = aiohttp.TCPConnector(
            limit=limit, limit_per_host=per_host, ttl_dns_cache=30,
            resolver=None if self._insecure else GuardedResolver())
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",),
            cookie_jar=aiohttp.DummyCookieJar())

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def checked(self, url: str) -> yarl.URL:
        """The URL to connect to, exactly as checked; raises RefusedTarget, before any
        resolution or connection, when it may not be connected to."""
        accepted = self._accepted.get(url)
        if accepted is not None:
            return accepted
        try:
            target = parse_target(url)
        except TargetError as exc:
            raise RefusedTarget(f"refused target: the URL {exc}") from None
        if reason := target_refusal(target, self._insecure):
            raise RefusedTarget(f"refused target: the URL {reason}")
        accepted = yarl.URL(target.url, encoded=True)
        if len(self._accepted) >= MAX_ACCEPTED_URLS:  # the oldest goes first
            del self._accepted[next(iter(self._accepted))]
        self._accepted[url] = accepted
        return accepted

    async def post(self, url: str, body: bytes, headers: Sequence[tuple[str, str]],
                   timeout_s: float) -> Sent:
        started = time.perf_counter()
        try:
            checked = self.checked(url)
        except RefusedTarget as exc:
            return Sent(Result(error_kind="network", error=str(exc)), None, 0)
        assert self._session is not None, "Sender.start() first"
        try:
            async with self._session.post(checked, data=body, headers=list(headers),
                                          allow_redirects=False,
                                          timeout=aiohttp.ClientTimeout(total=timeout_s)
                                          ) as response:
                kept = await _read_prefix(response.content, MAX_RESPONSE_BODY)
                result = Result(status=response.status,
                                retry_after=response.headers.get("Retry-After"))
        except TimeoutError:
            result, kept = Result(error_kind="timeout",
                                  error=f"no response within {timeout_s:g}s"), None
        except (aiohttp.ClientError, OSError) as exc:
            result, kept = Result(error_kind="network", error=_describe(exc)), None
        elapsed = round((time.perf_counter() - started) * 1000)
        return Sent(result, kept.decode(errors="replace") if kept is not None else None,
                    elapsed)


async def _read_prefix(stream: aiohttp.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = await stream.read(limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _describe(exc: BaseException) -> str:
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, RefusedTarget):
            return str(cause)
        cause = cause.__cause__ or cause.__context__
    text = str(exc) or type(exc).__name__
    return text if len(text) < 500 else text[:500] + "..."

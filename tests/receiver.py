"""A real HTTP(S) receiver on loopback for delivery tests: it answers from a script (status,
delay, headers) and records every request it gets, with arrival and reply times."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections import deque
from dataclasses import dataclass, field

from aiohttp import web
from multidict import CIMultiDict


@dataclass(frozen=True)
class Reply:
    status: int = 200
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes = "ok"  # bytes go out as they are (invalid UTF-8, NUL...)


@dataclass
class Received:
    path: str
    headers: CIMultiDict
    body: bytes
    arrived: float
    replied: float = 0.0

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def event_id(self) -> str:
        return self.headers.get("webhook-id", "")


class Receiver:
    """Replies follow `script` in order, then `default`."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.ssl_context = ssl_context
        self.script: deque[Reply] = deque()
        self.default = Reply()
        self.requests: list[Received] = []
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def respond(self, *replies: Reply | int, default: Reply | int | None = None) -> None:
        self.script.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)
        if default is not None:
            self.default = default if isinstance(default, Reply) else Reply(default)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        got = Received(request.path, CIMultiDict(request.headers), await request.read(),
                       time.monotonic())
        self.requests.append(got)
        async with self.arrived:
            self.arrived.notify_all()
        reply = self.script.popleft() if self.script else self.default
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)  # a slow receiver: the behaviour scripted
        got.replied = time.monotonic()
        if isinstance(reply.body, bytes):
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        return web.Response(status=reply.status, text=reply.body, headers=reply.headers)

    async def wait_for(self, count: int, timeout_s: float = 10.0) -> list[Received]:
        """Until at least `count` requests arrived; then all of them."""
        async with asyncio.timeout(timeout_s), self.arrived:
            await self.arrived.wait_for(lambda: len(self.requests) >= count)
        return list(self.requests)

    def event_ids(self) -> list[str]:
        return [r.event_id for r in self.requests]

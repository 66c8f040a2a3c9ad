"""A client of the REST watch streams (SPEC §8.10): newline-delimited JSON through Envoy,
read entry by entry as it arrives."""

from __future__ import annotations

import asyncio
import json

import aiohttp


class RestWatch:
    """A watch stream read line by line as Envoy forwards it."""

    def __init__(self, rest, path: str, token: str, headers: dict[str, str] | None = None):
        self._rest = rest
        self._path = path
        self._headers = {"Authorization": f"Bearer {token}", **(headers or {})}
        self.response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> RestWatch:
        self.response = await self._rest.session.get(
            self._rest.base + self._path, headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None))
        return self

    async def __aexit__(self, *exc) -> None:
        self.response.close()

    async def next(self, timeout_s: float = 10.0) -> dict:
        async with asyncio.timeout(timeout_s):
            while True:
                line = await self.response.content.readline()
                if not line:
                    raise EOFError("the watch stream ended")
                if line.strip():
                    return json.loads(line)

    async def take(self, count: int, timeout_s: float = 10.0) -> list[dict]:
        return [await self.next(timeout_s) for _ in range(count)]


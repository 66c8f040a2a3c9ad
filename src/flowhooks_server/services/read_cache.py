"""A short-lived cache of reads on the request path, with one read per key at a time.

- A hit is a value read less than `ttl_s` ago.
- On a miss, concurrent callers with the same key share one read (under load every request
  in flight would otherwise miss together at each expiry); a read that fails fails each of
  them and caches nothing.
- `forget` takes effect at once: it drops the matching entries, and a read begun before it
  neither fills the cache nor is joined by a caller that comes after it.
- Bounded: at `max_entries` the cache starts over.

A change made by another process is therefore seen within `ttl_s`; one made in this process
through the owner's `forget`, at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ReadCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._reads: dict[K, asyncio.Future[V]] = {}
        self._generation = 0  # bumped by `forget`

    async def get(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        hit = self._entries.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        pending = self._reads.get(key)
        if pending is None:
            pending = self._reads[key] = asyncio.ensure_future(self._read(key, read))
        return await asyncio.shield(pending)

    async def _read(self, key: K, read: Callable[[], Awaitable[V]]) -> V:
        generation = self._generation
        try:
            value = await read()
        finally:
            if generation == self._generation:  # else `forget` has dropped it already
                self._reads.pop(key, None)
        if generation == self._generation:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self._ttl_s, value)
        return value

    def forget(self, matches: Callable[[K, V], bool]) -> None:
        """Drop every entry `matches`, and keep the reads under way out of the cache."""
        self._generation += 1
        self._reads.clear()
        for key, (_, value) in list(self._entries.items()):
            if matches(key, value):
                del self._entries[key]

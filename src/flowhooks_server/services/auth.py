"""Authentication: a bearer token → a Principal, through a short-lived cache so a hot path
does not hit the database on every request. Revocation in this process takes effect at once;
in another process sharing the database, within CACHE_TTL_S.

When an entry is missing or stale, concurrent requests with the same token share one lookup
(under load, every in-flight request would otherwise miss together at each expiry)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime

from flowhooks_server.domain.auth import Principal
from flowhooks_server.storage import tokens as token_store
from flowhooks_server.storage.db import Database

CACHE_TTL_S = 2.0
CACHE_MAX_ENTRIES = 10_000


class Authenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, Principal | None, datetime | None]] = {}
        self._lookups: dict[str, asyncio.Future[tuple[Principal | None, datetime | None]]] = {}
        # Bumped by `forget`: a lookup that began before a revocation fills no cache entry, and
        # no request that comes after it shares that lookup.
        self._generation = 0

    async def authenticate(self, plaintext: str) -> Principal | None:
        key = hashlib.sha256(plaintext.encode()).hexdigest()
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or hit[0] < now:
            lookup = self._lookups.get(key)
            if lookup is None:
                lookup = self._lookups[key] = asyncio.ensure_future(self._lookup(key, plaintext))
            principal, expires = await asyncio.shield(lookup)
            hit = (now, principal, expires)
        _, principal, expires = hit
        if expires is not None and _aware(expires) <= datetime.now(UTC):
            return None
        return principal

    async def _lookup(self, key: str,
                      plaintext: str) -> tuple[Principal | None, datetime | None]:
        generation = self._generation
        try:
            async with self._db.session(readonly=True) as session:
                token = await token_store.find_by_plaintext(session, plaintext)
        finally:
            if generation == self._generation:  # else `forget` has dropped it already
                self._lookups.pop(key, None)
        principal: Principal | None = None
        expires: datetime | None = None
        if token is not None and token.revoked_at is None:
            principal = Principal(token.id, token.tenant_id, frozenset(token.permissions))
            expires = token.expires_at
        if generation == self._generation:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (time.monotonic() + CACHE_TTL_S, principal, expires)
        return principal, expires

    def forget(self, token_id: str) -> None:
        """Drop a revoked token from the cache (and keep lookups under way from caching it)."""
        self._generation += 1
        self._lookups.clear()  # a request from now on reads the token afresh
        for key, (_, principal, _) in list(self._cache.items()):
            if principal is not None and principal.token_id == token_id:
                del self._cache[key]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

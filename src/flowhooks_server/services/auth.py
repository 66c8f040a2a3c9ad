"""Authentication: a bearer token → a Principal, through a short-lived cache so a hot path
does not hit the database on every request. Revocation in this process takes effect at once;
in another process sharing the database, within CACHE_TTL_S.

Concurrent requests with the same token share one lookup (`services.read_cache`)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from flowhooks_server.domain.auth import Principal
from flowhooks_server.services.read_cache import ReadCache
from flowhooks_server.storage import tokens as token_store
from flowhooks_server.storage.db import Database

CACHE_TTL_S = 2.0
CACHE_MAX_ENTRIES = 10_000


class Authenticator:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: ReadCache[str, tuple[Principal | None, datetime | None]] = ReadCache(
            CACHE_TTL_S, CACHE_MAX_ENTRIES)

    async def authenticate(self, plaintext: str) -> Principal | None:
        key = hashlib.sha256(plaintext.encode()).hexdigest()
        principal, expires = await self._cache.get(key, lambda: self._lookup(plaintext))
        if expires is not None and _aware(expires) <= datetime.now(UTC):
            return None
        return principal

    async def _lookup(self, plaintext: str) -> tuple[Principal | None, datetime | None]:
        async with self._db.session(readonly=True) as session:
            token = await token_store.find_by_plaintext(session, plaintext)
        if token is None or token.revoked_at is not None:
            return None, None
        return Principal(token.id, token.tenant_id, frozenset(token.permissions)), \
            token.expires_at

    def forget(self, token_id: str) -> None:
        """Drop a revoked token from the cache (and keep lookups under way from caching it)."""
        self._cache.forget(lambda _key, found: found[0] is not None
                           and found[0].token_id == token_id)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

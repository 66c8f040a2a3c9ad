"""The token cache of services.auth: one lookup for every concurrent request with a token,
CACHE_TTL_S before another process's revocation is seen, and at once for this process's own
(`forget`), also while a lookup is under way. A fake clock and a fake token store; no
database."""

from __future__ import annotations

import asyncio
import contextlib
import types
from datetime import UTC, datetime, timedelta

import pytest

from flowhooks_server.domain.tokens import Token
from flowhooks_server.services import auth, read_cache


class FakeDb:
    @contextlib.asynccontextmanager
    async def session(self, readonly: bool = False):
        yield None


class Store:
    """Stands for the token table: one token, looked up slowly enough to overlap."""

    def __init__(self) -> None:
        self.lookups = 0
        self.revoked_at: datetime | None = None
        self.expires_at: datetime | None = None
        self.gate: asyncio.Event | None = None

    async def find_by_plaintext(self, session, plaintext: str) -> Token | None:
        self.lookups += 1
        if self.gate is not None:
            await self.gate.wait()
        else:
            await asyncio.sleep(0)
        if plaintext != "fh_good":
            return None
        return Token(id="tok_1", tenant_id=None, name="n", permissions=("*",),
                     created_at=datetime(2026, 1, 1, tzinfo=UTC), expires_at=self.expires_at,
                     revoked_at=self.revoked_at, last_used_at=None)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(read_cache, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    return now


@pytest.fixture
def store(monkeypatch):
    fake = Store()
    monkeypatch.setattr(auth.token_store, "find_by_plaintext", fake.find_by_plaintext)
    return fake


async def test_concurrent_requests_share_one_lookup(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    principals = await asyncio.gather(*(authenticator.authenticate("fh_good")
                                         for _ in range(50)))
    assert store.lookups == 1
    assert {p.token_id for p in principals if p is not None} == {"tok_1"}
    assert all(p is not None for p in principals)
    assert await authenticator.authenticate("fh_bad") is None
    assert store.lookups == 2


async def test_another_process_revocation_is_seen_after_the_ttl(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    assert await authenticator.authenticate("fh_good") is not None
    store.revoked_at = datetime.now(UTC)  # revoked elsewhere: no `forget` here
    clock[0] += auth.CACHE_TTL_S - 0.01
    assert await authenticator.authenticate("fh_good") is not None
    assert store.lookups == 1
    clock[0] += 0.02
    assert await authenticator.authenticate("fh_good") is None
    assert store.lookups == 2


async def test_forget_takes_effect_at_once(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    assert await authenticator.authenticate("fh_good") is not None
    store.revoked_at = datetime.now(UTC)
    authenticator.forget("tok_1")
    assert await authenticator.authenticate("fh_good") is None


async def test_forget_during_a_lookup_keeps_its_answer_out_of_the_cache(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    store.gate = asyncio.Event()
    before = asyncio.create_task(authenticator.authenticate("fh_good"))
    await asyncio.sleep(0.01)  # the lookup has read the live token...
    assert store.lookups == 1
    store.revoked_at = datetime.now(UTC)  # ...and now it is revoked here
    authenticator.forget("tok_1")
    after = asyncio.create_task(authenticator.authenticate("fh_good"))
    await asyncio.sleep(0.01)
    assert store.lookups == 2  # the request after `forget` did not join the older lookup
    store.gate.set()
    await before  # begun before the revocation: it may see either answer
    assert await after is None
    assert await authenticator.authenticate("fh_good") is None


async def test_an_expired_token_stops_working_while_cached(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    store.expires_at = datetime.now(UTC) + timedelta(milliseconds=50)
    assert await authenticator.authenticate("fh_good") is not None
    await asyncio.sleep(0.06)
    assert await authenticator.authenticate("fh_good") is None
    assert store.lookups == 1


async def test_a_failed_lookup_fails_every_waiter_and_is_not_cached(clock, store) -> None:
    authenticator = auth.Authenticator(FakeDb())  # type: ignore[arg-type]
    original = store.find_by_plaintext

    async def broken(session, plaintext):
        await asyncio.sleep(0)
        raise ConnectionError("database gone")

    store.find_by_plaintext = broken  # type: ignore[method-assign]
    auth.token_store.find_by_plaintext = broken  # type: ignore[assignment]
    results = await asyncio.gather(*(authenticator.authenticate("fh_good") for _ in range(3)),
                                   return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    auth.token_store.find_by_plaintext = original  # type: ignore[assignment]
    assert await authenticator.authenticate("fh_good") is not None

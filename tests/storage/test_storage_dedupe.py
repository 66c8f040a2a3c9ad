"""Inbound de-duplication keys (services.inbound.Deduper over storage.dedupe), both databases:
concurrent requests with one key run the work once, a failed first attempt releases its key,
and a claim left pending by a dead process is taken over once stale."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from flowhooks_server.services import inbound
from flowhooks_server.services.inbound import Deduper
from flowhooks_server.storage import dedupe as store
from flowhooks_server.storage.models import utcnow


def fresh() -> tuple[str, str, str]:
    return str(uuid.uuid4()), "test", "key-" + uuid.uuid4().hex


async def test_concurrent_requests_run_the_work_once(db):
    tenant, scope, key = fresh()
    calls = []

    async def work():
        calls.append(1)
        await asyncio.sleep(0.2)
        return {"runs": ["run_1"]}

    results = await asyncio.gather(*(Deduper(db).once(tenant, scope, key, work)
                                     for _ in range(4)))
    assert len(calls) == 1
    assert all(result == {"runs": ["run_1"]} for result, _ in results)
    assert sorted(first for _, first in results) == [False, False, False, True]


async def test_failed_work_releases_the_key(db):
    tenant, scope, key = fresh()

    async def failing():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await Deduper(db).once(tenant, scope, key, failing)
    async with db.session(readonly=True) as session:
        assert await store.get(session, tenant, scope, key) is None

    async def work():
        return {"runs": ["run_2"]}

    assert await Deduper(db).once(tenant, scope, key, work) == ({"runs": ["run_2"]}, True)


async def test_stale_claim_is_taken_over_once(db, monkeypatch):
    tenant, scope, key = fresh()
    async with db.session() as session, session.begin():
        assert await store.claim(session, tenant, scope, key)
        assert not await store.claim(session, tenant, scope, key)
    monkeypatch.setattr(inbound, "DEDUPE_STALE", timedelta(0))
    async with db.session(readonly=True) as session:
        row = await store.get(session, tenant, scope, key)
    assert store.is_pending(row.result) and row.created_at <= utcnow()

    async def work():
        return {"runs": ["run_3"]}

    assert await Deduper(db).once(tenant, scope, key, work) == ({"runs": ["run_3"]}, True)
    async with db.session() as session, session.begin():
        assert not await store.take_over(session, tenant, scope, key, row.created_at)

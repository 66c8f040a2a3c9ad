"""Atomic de-duplication (services.group_commit over storage.dedupe), both databases: the key
and the runs it guards commit together or not at all; concurrent requests with one key write
one run; a batch that fails on one start's data still writes the others."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import StatementError

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.run_records import Run
from flowhooks_server.ids import new_id
from flowhooks_server.services.group_commit import GroupCommit, NewRun, OnceKey
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage import dedupe as store
from flowhooks_server.storage.models import WorkflowRun, utcnow

# How each driver refuses a value it cannot serialise.
REFUSED = (StatementError, TypeError)


def new_run(tenant: str, params: dict | None = None) -> NewRun:
    run = Run(id=new_id("run"), tenant_id=tenant, workflow_id="wf_test", trigger="webhook",
              status="running", phase="running", params=params or {}, created_at=utcnow(),
              start_time=utcnow())
    return NewRun(run, (), ())


async def runs_of(db, tenant: str) -> int:
    async with db.session(readonly=True) as session:
        return await session.scalar(select(func.count()).select_from(WorkflowRun)
                                    .where(WorkflowRun.tenant_id == tenant))


@pytest.fixture
async def starts(db):
    writer = GroupCommit(db, Outbox(db, Wakeups()))
    await writer.start()
    yield writer
    await writer.stop()


async def test_concurrent_requests_with_one_key_write_one_run(db, starts):
    tenant = str(uuid.uuid4())
    key = OnceKey(tenant, "test", "key-" + uuid.uuid4().hex)
    news = [new_run(tenant) for _ in range(6)]
    results = await asyncio.gather(*(starts.write([n], key) for n in news))
    assert sorted(r.first for r in results) == [False] * 5 + [True]
    winner = next(r for r in results if r.first)
    assert all(r.run_ids == winner.run_ids for r in results)
    assert await runs_of(db, tenant) == 1
    # A later repeat, in a batch of its own, finds the key too.
    again = await starts.write([new_run(tenant)], key)
    assert (again.first, again.run_ids) == (False, winner.run_ids)
    assert await runs_of(db, tenant) == 1


async def test_a_failed_write_leaves_neither_key_nor_run(db, starts):
    tenant = str(uuid.uuid4())
    key = OnceKey(tenant, "test", "key-" + uuid.uuid4().hex)
    bad = new_run(tenant, {"x": object()})  # not JSON at all: the insert fails on its data
    with pytest.raises(REFUSED):
        await starts.write([bad], key)
    async with db.session(readonly=True) as session:
        assert await store.get(session, tenant, key.scope, key.key) is None
    assert await runs_of(db, tenant) == 0
    retried = await starts.write([new_run(tenant)], key)
    assert retried.first and await runs_of(db, tenant) == 1


async def test_one_bad_start_does_not_fail_its_batch(db, starts):
    tenant = str(uuid.uuid4())
    bad = new_run(tenant, {"x": object()})
    good = [new_run(tenant) for _ in range(4)]
    results = await asyncio.gather(starts.write([good[0]]), starts.write([bad]),
                                   *(starts.write([n]) for n in good[1:]),
                                   return_exceptions=True)
    assert isinstance(results[1], REFUSED)
    assert [r.first for i, r in enumerate(results) if i != 1] == [True] * 4
    assert await runs_of(db, tenant) == 4

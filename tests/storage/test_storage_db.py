"""The database handle: SQLite settings, ping, sessions, and schema behaviour on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, text

from flowhooks_server.ids import new_id
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Delivery, Event, Tenant, Webhook
from flowhooks_server.storage.tenants import ensure_tenant


def test_new_id_is_prefixed_and_time_sortable():
    first = new_id("wh")
    time.sleep(0.002)  # ids made in different milliseconds: the order under test
    second = new_id("wh")
    assert first.startswith("wh_") and len(first) == 29
    assert first < second


async def test_ping(db):
    assert await db.ping() is True


async def test_ping_unreachable_never_raises():
    database = Database("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    started = time.monotonic()
    try:
        assert database.is_postgres
        assert await database.ping() is False
        assert time.monotonic() - started < 3
    finally:
        await database.dispose()


async def test_sqlite_creates_directory_and_sets_pragmas(tmp_path):
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'a' / 'b' / 'x.db'}")
    try:
        assert not database.is_postgres and database.is_sqlite
        assert (tmp_path / "a" / "b").is_dir()
        async with database.session() as session:
            pragmas = {name: (await session.execute(text(f"PRAGMA {name}"))).scalar()
                       for name in ("journal_mode", "synchronous", "foreign_keys",
                                    "busy_timeout", "wal_autocheckpoint")}
        # The lock is waited for without blocking the event loop (next test), and checkpoints
        # run from a thread: SQLite's own busy handler and autocheckpoint would block it.
        assert pragmas == {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1,
                           "busy_timeout": 0, "wal_autocheckpoint": 0}
    finally:
        await database.dispose()


async def test_a_writer_waits_for_another_connections_lock_while_the_loop_runs(tmp_path):
    path = tmp_path / "x.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    try:
        async with database.session() as session, session.begin():
            await session.execute(text("CREATE TABLE t (x INTEGER)"))
        other.execute("BEGIN IMMEDIATE")  # another process's writer holds the lock
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())

        async def write() -> None:
            async with database.session() as session, session.begin():
                await session.execute(text("INSERT INTO t VALUES (1)"))

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not writing.done(), "the write did not wait for the lock"
        assert ticks >= 10, f"the event loop was blocked while the write waited ({ticks})"
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 5)
        ticker.cancel()
        assert other.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    finally:
        other.close()
        await database.dispose()


async def test_readonly_session_reads_while_a_writer_holds_the_lock(db):
    tenant = str(uuid.uuid4())
    async with db.session() as writer, writer.begin():
        await ensure_tenant(writer, tenant)
        async with asyncio.timeout(2), db.session(readonly=True) as reader:
            assert await reader.scalar(select(Tenant.id).where(Tenant.id == tenant)) is None
    async with db.session(readonly=True) as reader:
        assert await reader.scalar(select(Tenant.id).where(Tenant.id == tenant)) == tenant


async def test_ensure_tenant_is_idempotent_and_race_free(db):
    tenant = str(uuid.uuid4())

    async def ensure():
        async with db.session() as session, session.begin():
            await ensure_tenant(session, tenant)

    await asyncio.gather(*(ensure() for _ in range(5)))
    await ensure()
    async with db.session() as session:
        row = await session.get(Tenant, tenant)
        assert row.created_at.tzinfo is not None
        assert await session.scalar(
            select(func.count()).select_from(Tenant).where(Tenant.id == tenant)) == 1


def _webhook(tenant: str) -> Webhook:
    return Webhook(id=new_id("wh"), tenant_id=tenant, name="hook", url="https://example.com/h",
                   headers={"X-A": ["1"]}, event_types=["workflow.*"], enabled=True)


async def test_delivery_seq_orders_and_cascades(db):
    tenant = str(uuid.uuid4())
    moment = datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone(timedelta(hours=2)))
    async with db.session() as session, session.begin():
        hook = _webhook(tenant)
        event = Event(id=new_id("evt"), tenant_id=tenant, type="workflow.completed",
                      data={"n": 1, "nested": {"a": [1, 2]}})
        session.add_all([hook, event])
        await session.flush()
        rows = [Delivery(id=new_id("dlv"), tenant_id=tenant, event_id=event.id,
                         webhook_id=hook.id, status="pending", next_attempt_at=moment)
                for _ in range(3)]
        session.add_all(rows)
        await session.flush()
        seqs = [row.seq for row in rows]
        assert seqs == sorted(seqs) and len(set(seqs)) == 3
    async with db.session() as session:
        stored = await session.get(Delivery, seqs[0])
        assert stored.attempt == 0 and stored.status == "pending"
        assert stored.next_attempt_at == moment and stored.next_attempt_at.tzinfo is not None
        assert (await session.get(Event, event.id)).data == {"n": 1, "nested": {"a": [1, 2]}}
        assert (await session.get(Webhook, hook.id)).headers == {"X-A": ["1"]}
    async with db.session() as session, session.begin():
        await session.execute(delete(Webhook).where(Webhook.id == hook.id))
    async with db.session() as session:
        assert await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.tenant_id == tenant)) == 0


async def test_foreign_keys_are_enforced(db):
    with pytest.raises(Exception, match="(?i)foreign key"):
        async with db.session() as session, session.begin():
            session.add(Delivery(id=new_id("dlv"), tenant_id=str(uuid.uuid4()),
                                 event_id="evt_missing", webhook_id="wh_missing",
                                 status="pending", next_attempt_at=datetime.now(UTC)))


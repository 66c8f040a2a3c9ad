"""Watch cursors against commit races (SPEC §8.10, §8.17): a watcher that resumes from the
cursor of the last entry it received gets every later entry exactly once, also when entries
are committed out of their insertion order (several writer transactions, several server
processes on one PostgreSQL database); and the cursors a client may send, well-formed or not.

Entries are written straight into the stack's database the way the worker writes them (an
INSERT that leaves the cursor columns to the database), and read only through the real API."""

from __future__ import annotations

import asyncio
import contextlib
import random
from urllib.parse import quote

import aiohttp
import grpc
import pytest
from bursts import DbPublisher, own_stack, publish_burst
from flowhooks.v1 import delivery_logs_pb2, delivery_logs_pb2_grpc
from harness import Rest, Stack, wait_for
from receiver import Reply
from sqlalchemy import func, insert, select
from tenancy import field_violations, make_tenant
from watching import RestWatch

from flowhooks_server.ids import new_id
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.deliveries import LOGS_CHANNEL, notify
from flowhooks_server.storage.models import DeliveryLog, utcnow


def position(cursor: str) -> tuple[int, ...]:
    """A cursor's order, for the test's checks only (clients treat cursors as opaque)."""
    return tuple(int(part) for part in cursor.split("."))


async def write_entry(session, tenant: str) -> tuple[str, int]:
    """One log entry in the session's transaction, as the worker writes it; (id, seq)."""
    log_id = new_id("log")
    seq = await session.scalar(insert(DeliveryLog.__table__).values(
        id=log_id, tenant_id=tenant, webhook_id="wh_race", delivery_id=new_id("dlv"),
        event_id=new_id("evt"), event_type="workflow.completed", attempt=1,
        status="succeeded", url="https://example.com/hook", duration_ms=1,
        created_at=utcnow()).returning(DeliveryLog.seq))
    await notify(session, LOGS_CHANNEL)
    return log_id, seq


async def commit_entry(db: Database, tenant: str) -> str:
    async with db.session() as session, session.begin():
        log_id, _ = await write_entry(session, tenant)
    return log_id


class GrpcWatch:
    """A WatchLogs stream of one tenant's entries."""

    def __init__(self, channel, token: str, cursor: str = ""):
        stub = delivery_logs_pb2_grpc.DeliveryLogServiceStub(channel)
        self.call = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(cursor=cursor),
                                   metadata=(("authorization", f"Bearer {token}"),))

    async def opened(self) -> None:
        """Once the stream is open, where "now" starts is fixed."""
        await asyncio.wait_for(self.call.initial_metadata(), 10)

    async def next(self, timeout_s: float = 10.0):
        entry = await asyncio.wait_for(self.call.read(), timeout_s)
        if entry is grpc.aio.EOF:
            raise EOFError("the watch stream ended")
        return entry

    def close(self) -> None:
        self.call.cancel()


@pytest.fixture
async def stack_db(stack):
    """The stack's own database, to write log entries into as its worker would."""
    database = Database(stack.database_url)
    yield database
    await database.dispose()


async def test_resume_after_an_out_of_order_commit_misses_nothing(backend, stack, channel,
                                                                  tenant, stack_db):
    """T1 inserts first (the smaller seq) and stays open; T2 inserts after it and commits.
    A client reads what it is sent for a while and disconnects, T1 commits, and the client
    resumes from the cursor of the last entry it got: it must get T1's entry, and T2's
    exactly once. (With bare seqs as cursors it got T2's entry first and resumed past T1's
    smaller seq, never to see T1's entry.)"""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: commits follow seq order")
    first = GrpcWatch(channel, tenant.token)
    await first.opened()
    seed = await commit_entry(stack_db, tenant.id)
    got = [await first.next()]
    assert got[0].id == seed

    async with stack_db.session() as t1, t1.begin():
        early, early_seq = await write_entry(t1, tenant.id)
        async with stack_db.session() as t2, t2.begin():
            late, late_seq = await write_entry(t2, tenant.id)
        assert early_seq < late_seq
        # The client keeps reading for a while (T2's entry is committed by now), then leaves.
        with contextlib.suppress(TimeoutError):
            got.append(await first.next(timeout_s=0.5))
        first.close()
    # T1 has committed.

    resumed = GrpcWatch(channel, tenant.token, cursor=got[-1].cursor)
    try:
        while len(got) < 3:
            got.append(await resumed.next(timeout_s=5.0))
        ids = [e.id for e in got]
        assert sorted(ids) == sorted([seed, early, late]), ids
        assert [position(e.cursor) for e in got] == sorted({position(e.cursor) for e in got})
        # Then only what is new: nothing repeated.
        fresh = await commit_entry(stack_db, tenant.id)
        assert (await resumed.next()).id == fresh
    finally:
        resumed.close()


async def test_a_writer_holding_its_transaction_delays_but_loses_nothing(
        backend, stack, channel, tenant, stack_db):
    """Entries committed behind an open writer are handed out once it ends, in order, to a
    watcher that stayed connected; and a watcher resuming between them repeats nothing."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: commits follow seq order")
    watch = GrpcWatch(channel, tenant.token)
    await watch.opened()
    async with stack_db.session() as held, held.begin():
        early, _ = await write_entry(held, tenant.id)
        later = [await commit_entry(stack_db, tenant.id) for _ in range(3)]
    got = [await watch.next() for _ in range(4)]
    watch.close()
    # In log order: by writing transaction, and the held one began first.
    assert [e.id for e in got] == [early, *later]
    assert [position(e.cursor) for e in got] == sorted({position(e.cursor) for e in got})
    resumed = GrpcWatch(channel, tenant.token, cursor=got[1].cursor)
    try:
        assert [(await resumed.next()).id for _ in range(2)] == [e.id for e in got[2:]]
        fresh = await commit_entry(stack_db, tenant.id)
        assert (await resumed.next()).id == fresh
    finally:
        resumed.close()


async def test_a_writer_that_rolls_back_releases_what_waited_behind_it(
        backend, stack, channel, tenant, stack_db):
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: commits follow seq order")
    watch = GrpcWatch(channel, tenant.token)
    await watch.opened()
    try:
        async with stack_db.session() as doomed:
            await doomed.begin()
            await write_entry(doomed, tenant.id)
            later = await commit_entry(stack_db, tenant.id)
            await doomed.rollback()
        assert (await watch.next()).id == later
    finally:
        watch.close()


async def test_watch_from_now_gets_what_commits_after_it_opened(backend, stack, channel,
                                                               tenant, stack_db):
    """"Now" is the moment the stream opened, also while a writer holds entries back: an
    entry committed before it (though not yet handed out to anyone) is the past, and one
    committed after it (though inserted before) is new."""
    if backend != "postgres":
        pytest.skip("SQLite has one writer at a time: commits follow seq order")
    async with stack_db.session() as held, held.begin():
        new_one, _ = await write_entry(held, tenant.id)
        past = await commit_entry(stack_db, tenant.id)
        watch = GrpcWatch(channel, tenant.token)
        await watch.opened()
    try:
        assert (await watch.next()).id == new_one
        fresh = await commit_entry(stack_db, tenant.id)
        assert (await watch.next()).id == fresh, f"{past} is from before the watch"
    finally:
        watch.close()


# --- several server processes writing, a watcher that keeps reconnecting --------------------


class Reconnecting:
    """A client that reads a few entries, disconnects, and resumes from the cursor of the last
    entry it got, alternating between the servers (gRPC to one, REST through Envoy to the
    next) so that cursors from one process are resumed on another."""

    def __init__(self, stacks: list[Stack], token: str, http: aiohttp.ClientSession):
        self.stacks = stacks
        self.token = token
        self.http = http
        self.got: list[tuple[str, str]] = []  # (id, cursor)
        self.sessions = 0

    @property
    def cursor(self) -> str:
        return self.got[-1][1] if self.got else ""

    async def session(self, count: int, timeout_s: float, opened=None) -> None:
        stack = self.stacks[self.sessions % len(self.stacks)]
        if self.sessions % 2 == 0:
            await self._grpc(stack, count, timeout_s, opened)
        else:
            await self._rest(stack, count, timeout_s, opened)
        self.sessions += 1

    async def _grpc(self, stack: Stack, count: int, timeout_s: float, opened) -> None:
        async with stack.channel() as channel:
            watch = GrpcWatch(channel, self.token, self.cursor)
            try:
                await watch.opened()
                if opened is not None:
                    opened.set()
                with contextlib.suppress(TimeoutError):
                    for _ in range(count):
                        entry = await watch.next(timeout_s)
                        self.got.append((entry.id, entry.cursor))
            finally:
                watch.close()

    async def _rest(self, stack: Stack, count: int, timeout_s: float, opened) -> None:
        path = f"/webhooks/logs/watch?cursor={quote(self.cursor)}"
        async with RestWatch(Rest(stack.rest, self.http), path, self.token) as watch:
            assert watch.response.status == 200
            if opened is not None:
                opened.set()
            with contextlib.suppress(TimeoutError):
                for _ in range(count):
                    entry = await watch.next(timeout_s)
                    self.got.append((entry["id"], entry["cursor"]))


async def _logged_ids(db: Database, tenant: str) -> list[str]:
    async with db.session(readonly=True) as session:
        return list(await session.scalars(
            select(DeliveryLog.id).where(DeliveryLog.tenant_id == tenant)))


async def _slow_writer(db: Database, tenant: str, stop: asyncio.Event,
                       rng: random.Random) -> None:
    """A writer whose commits lag its inserts (by up to 50 ms), as a busy process's would:
    the entries it writes are committed behind later ones of the servers. Disposes of `db`."""
    try:
        while not stop.is_set():
            async with db.session() as session, session.begin():
                await write_entry(session, tenant)
                # The lag between insert and commit is the behaviour under test, not a wait.
                await asyncio.sleep(rng.uniform(0.005, 0.05))
            await asyncio.sleep(rng.uniform(0, 0.01))  # pacing the load
    finally:
        await db.dispose()


async def test_reconnecting_watcher_gets_every_entry_of_two_writers_once(
        backend, fresh_database_url, tmp_path, ca_file, receiver):
    """Two server processes (one on SQLite, whose file is not shared) deliver a burst while
    two more writers commit late; a watcher disconnects every few entries and resumes from
    its last cursor. What it got, all sessions together, is every log entry in the table
    exactly once, in cursor order."""
    receiver.respond(default=Reply(200, delay_s=0.02))
    count = 300
    names = ("one", "two") if backend == "postgres" else ("one",)
    stacks = [own_stack(fresh_database_url, tmp_path / name, ca_file) for name in names]
    for other in stacks[1:]:
        other.bootstrap_token = stacks[0].bootstrap_token  # one bootstrap token per database
    publisher = DbPublisher(fresh_database_url)
    rng = random.Random(817)
    stop_writing = asyncio.Event()
    try:
        for stack in stacks:
            await asyncio.to_thread(stack.start)
        async with aiohttp.ClientSession() as http:
            rest = Rest(stacks[0].rest, http)
            tenant = await make_tenant(rest, stacks[0].bootstrap_token)
            status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
                "name": "burst", "url": receiver.url, "eventTypes": ["workflow.*"],
                "timeout": "5s"})
            assert status == 200, body
            client = Reconnecting(stacks, tenant.token, http)

            opened = asyncio.Event()
            first = asyncio.create_task(client.session(rng.randint(3, 20), 10.0, opened))
            await opened.wait()
            writers = [asyncio.create_task(_slow_writer(
                Database(fresh_database_url), tenant.id, stop_writing, random.Random(n)))
                for n in range(2)]
            ids = await publish_burst(publisher, tenant.id, count, chunk=10, pause_s=0.01)
            await first
            assert client.got, "the first session got nothing"

            async def burst_logged():
                async with publisher.db.session(readonly=True) as session:
                    return await session.scalar(select(func.count()).where(
                        DeliveryLog.tenant_id == tenant.id,
                        DeliveryLog.webhook_id != "wh_race")) >= count
            logged = asyncio.create_task(wait_for(burst_logged, 60, 0.1))
            async with asyncio.timeout(90):
                while not logged.done():
                    await client.session(rng.randint(3, 20), 2.0)
                await logged
                stop_writing.set()
                await asyncio.gather(*writers)
                table = await _logged_ids(publisher.db, tenant.id)
                # Catch up with the table (a session that gets nothing means it never will),
                # then one more: nothing more, nothing twice.
                stale = 0
                while len(client.got) < len(table) and stale < 2:
                    before = len(client.got)
                    await client.session(rng.randint(5, 30), 1.0)
                    stale = stale + 1 if len(client.got) == before else 0
                await client.session(10, 0.5)
    finally:
        stop_writing.set()
        await publisher.close()
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in stacks))

    got = [log_id for log_id, _ in client.got]
    assert len(set(receiver.event_ids()) & set(ids)) == count
    assert len(table) > count, "the other writers wrote nothing"
    assert len(got) == len(set(got)), f"{len(got) - len(set(got))} entries received twice"
    assert sorted(got) == sorted(table), (
        f"missed {len(set(table) - set(got))}, unknown {len(set(got) - set(table))}")
    cursors = [position(c) for _, c in client.got]
    assert cursors == sorted(cursors)
    assert client.sessions >= 10


# --- what a client may send as a cursor -----------------------------------------------------


@pytest.mark.parametrize("cursor", [
    "x", "-1", "+1", "1.", ".1", "1..2", "1.2.3", "1.-2", "1,2", "1 2", " 1", "0x10", "1e3",
    "\u0661", "\uff11", "1.\u0662", "99999999999999999999999", "1.99999999999999999999999",
    "99999999999999999999999.1", "9223372036854775808.1", "0" * 30 + "1", "9" * 5000,
    "1." + "9" * 5000, "1" * 4000 + "." + "2" * 4000])
async def test_malformed_cursor_is_400_naming_cursor(rest, tenant, cursor):
    status, body = await rest.call("GET", f"/webhooks/logs/watch?cursor={quote(cursor)}",
                                   token=tenant.token)
    assert status == 400 and "cursor" in field_violations(body), (cursor, body)


async def test_cursor_never_handed_out_is_refused(backend, rest, tenant, stack_db, channel):
    """A cursor past anything written would hide the entries up to it: refused, in the bare
    form and the positional one, past the newest seq or past what is committed."""
    await commit_entry(stack_db, tenant.id)
    async with stack_db.session(readonly=True) as session:
        newest = await session.scalar(select(func.max(DeliveryLog.seq)))
    future = [str(newest + 10**6), f"0.{newest + 10**6}", f"{2**62}.1", f"{2**63 - 1}.1"]
    if backend == "sqlite":
        future.append("1.1")  # one writer at a time: every position there is 0.<seq>
    for cursor in future:
        status, body = await rest.call("GET", f"/webhooks/logs/watch?cursor={cursor}",
                                       token=tenant.token)
        assert status == 400 and "cursor" in field_violations(body), (cursor, body)
    stub = delivery_logs_pb2_grpc.DeliveryLogServiceStub(channel)
    call = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(cursor=future[1]),
                          metadata=(("authorization", f"Bearer {tenant.token}"),))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await asyncio.wait_for(call.read(), 10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bare_seq_cursor_still_resumes(rest, tenant, stack_db, stack):
    """Cursors of earlier versions were the bare seq of an entry: resuming from one still
    gets exactly the entries after that entry."""
    async with RestWatch(rest, "/webhooks/logs/watch", tenant.token) as watch:
        assert watch.response.status == 200
        written = [await commit_entry(stack_db, tenant.id) for _ in range(3)]
        got = await watch.take(3)
    assert [e["id"] for e in got] == written
    bare = str(position(got[0]["cursor"])[-1])
    async with RestWatch(rest, f"/webhooks/logs/watch?cursor={bare}", tenant.token) as watch:
        assert [e["id"] for e in await watch.take(2)] == written[1:]
        fresh = await commit_entry(stack_db, tenant.id)
        assert (await watch.next())["id"] == fresh
        # Nothing more, nothing twice: entries come in commit order, so the next one is
        # the entry committed after everything else.
        marker = await commit_entry(stack_db, tenant.id)
        assert (await watch.next())["id"] == marker
    other = await make_tenant(rest, stack.bootstrap_token)
    async with RestWatch(rest, f"/webhooks/logs/watch?cursor={bare}", other.token) as watch:
        assert watch.response.status == 200
        # Another tenant's cursor shows it nothing of ours: its first entry is its own,
        # committed after all of ours.
        own = await commit_entry(stack_db, other.id)
        assert (await watch.next())["id"] == own

"""Crash safety and scale-out of the delivery worker (SPEC §8.2, §8.3, §8.12, §8.15): kill -9
in the middle of a burst loses nothing; two processes on one PostgreSQL database share a burst
with no delivery in flight twice at once; SIGTERM lets attempts finish, gives back the leases
of the rest, and a restart delivers everything."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict

import aiohttp
import pytest
from bursts import DbPublisher, all_arrive, overlaps, own_stack, publish_burst
from harness import Rest, Stack, wait_for
from receiver import Reply
from tenancy import Tenant, make_tenant
from waiting import deliveries_settled, until
from watching import RestWatch

from flowhooks_server.delivery.worker import LEASE_MARGIN_S


@contextlib.asynccontextmanager
async def stacks(*started: Stack):
    """Stop every stack at the end, whatever happened."""
    try:
        yield
    finally:
        await asyncio.gather(*(asyncio.to_thread(s.stop) for s in started))


async def start(stack: Stack) -> Stack:
    # In a thread: the receivers share this event loop and must keep answering meanwhile.
    await asyncio.to_thread(stack.start)
    return stack


async def setup_webhook(stack: Stack, url: str, **extra) -> tuple[Tenant, str]:
    async with aiohttp.ClientSession() as session:
        rest = Rest(stack.rest, session)
        tenant = await make_tenant(rest, stack.bootstrap_token)
        status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
            "name": "burst", "url": url, "eventTypes": ["workflow.*"], **extra})
        assert status == 200, body
        return tenant, body["id"]


async def succeeded_in_logs(stack: Stack, tenant: Tenant) -> dict[str, list[dict]]:
    """Every log entry of the tenant, by event id."""
    by_event: dict[str, list[dict]] = defaultdict(list)
    async with aiohttp.ClientSession() as session:
        rest = Rest(stack.rest, session)
        offset = 0
        while True:
            status, page = await rest.call("GET", f"/webhooks/logs/all?limit=500&offset={offset}",
                                           token=tenant.token)
            assert status == 200, page
            for entry in page:
                by_event[entry["eventId"]].append(entry)
            if len(page) < 500:
                return by_event
            offset += 500


async def wait_all_succeeded(stack: Stack, tenant: Tenant, ids, timeout_s: float = 15.0):
    deadline = time.monotonic() + timeout_s
    while True:
        by_event = await succeeded_in_logs(stack, tenant)
        done = {e for e, entries in by_event.items()
                if any(x["status"] == "succeeded" for x in entries)}
        if done >= set(ids):
            return by_event
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(set(ids) - done)} events never logged as succeeded")
        await asyncio.sleep(0.1)


async def _sent_and_answered(publisher: DbPublisher, hook: str, receiver) -> None:
    """Settled, before counting what was sent: every delivery of `hook` is recorded (none in
    flight or due, see tests/waiting.py), and every request that reached the receiver has
    been answered, so `overlaps` judges whole requests."""
    await until(deliveries_settled(publisher.db, hook), 60, "every delivery was recorded")
    await until(lambda: all(r.replied for r in receiver.requests), 10,
                "every request was answered")


async def test_kill_9_mid_burst_loses_nothing(fresh_database_url, tmp_path, ca_file, receiver,
                                              backend):
    receiver.respond(default=Reply(200, delay_s=0.02))
    first = own_stack(fresh_database_url, tmp_path / "first", ca_file)
    async with stacks(first):
        await start(first)
        tenant, _ = await setup_webhook(first, receiver.url, timeout="1s")
        publisher = DbPublisher(fresh_database_url)
        try:
            ids = await publish_burst(publisher, tenant.id, 200)

            async def some_answered():  # some recorded (or about to be), more in flight
                return sum(r.replied > 0 for r in receiver.requests) >= 30
            await wait_for(some_answered, 20, 0.002)
            first.kill()
            killed_at = time.monotonic()
            arrived_before = set(receiver.event_ids())
            assert len(arrived_before) < len(ids), "the burst was over before the kill"

            second = own_stack(fresh_database_url, tmp_path / "second", ca_file)
            async with stacks(second):
                await start(second)
                # SQLite: one process per database, so a restart takes every lease at once.
                # PostgreSQL: the dead process's leases run out after timeout + margin, and
                # the reaper (every 5 s) makes them due.
                limit = 20.0 if backend == "sqlite" else 1 + LEASE_MARGIN_S + 5 + 20
                await all_arrive(receiver, ids, limit - (time.monotonic() - killed_at))
                assert set(receiver.event_ids()) == set(ids)
                by_event = await wait_all_succeeded(second, tenant, ids)
                assert set(by_event) == set(ids)
                for event_id in ids:
                    assert sum(e["status"] == "succeeded" for e in by_event[event_id]) == 1
                assert "delivery attempt" in second.logs()
        finally:
            await publisher.close()


async def test_two_processes_share_a_burst(fresh_database_url, tmp_path, ca_file, receiver,
                                           backend):
    if backend != "postgres":
        pytest.skip("several processes share a database only on PostgreSQL")
    receiver.respond(default=Reply(200, delay_s=0.03))
    one = own_stack(fresh_database_url, tmp_path / "one", ca_file)
    two = own_stack(fresh_database_url, tmp_path / "two", ca_file)
    two.bootstrap_token = one.bootstrap_token  # one bootstrap token per database
    async with stacks(one, two):
        await start(one)
        await start(two)
        tenant, _ = await setup_webhook(one, receiver.url, timeout="1s")
        publisher = DbPublisher(fresh_database_url)
        marker: list[str] = []
        async with aiohttp.ClientSession() as session:
            # A watcher on each process sees every attempt, whichever process made it.
            watches = [RestWatch(Rest(s.rest, session), "/webhooks/logs/watch", tenant.token)
                       for s in (one, two)]
            try:
                async with contextlib.AsyncExitStack() as opened:
                    for watch in watches:
                        await opened.enter_async_context(watch)
                    ids = await publish_burst(publisher, tenant.id, 300, chunk=10,
                                              pause_s=0.01)
                    await all_arrive(receiver, ids, 30)
                    await wait_all_succeeded(one, tenant, ids)
                    for watch in watches:
                        seen = await watch.take(len(ids))
                        assert sorted(e["eventId"] for e in seen) == sorted(ids)
                    # Nothing more, nothing twice: entries come in commit order, so the entry
                    # after the burst on each watch is the one of an event published after it.
                    marker = await publisher.publish(tenant.id)
                    for watch in watches:
                        assert (await watch.next())["eventId"] == marker[0]
            finally:
                await publisher.close()
        assert set(receiver.event_ids()) == set(ids) | set(marker)
        assert overlaps(receiver.requests) == []
        # No lease ran out here, so nothing was sent twice at all (the marker included).
        sent = len(ids) + len(marker)
        assert len(receiver.requests) == sent, len(receiver.requests) - sent
        attempts = [s.logs().count('"delivery attempt"') for s in (one, two)]
        assert all(attempts) and sum(attempts) == sent, attempts


async def test_sigterm_finishes_in_flight_and_releases_the_rest(
        fresh_database_url, tmp_path, ca_file, receiver, backend):
    """Attempts that finish within the grace period are recorded (never sent again); those
    that do not are cancelled and their leases given back, so a restart sends them at once
    (long before a lease would run out); work published meanwhile waits for the restart."""
    slow = 3
    receiver.respond(*[Reply(200, delay_s=12.0)] * slow, default=Reply(200, delay_s=0.1))
    first = own_stack(fresh_database_url, tmp_path / "first", ca_file)
    async with stacks(first):
        await start(first)
        tenant, hook = await setup_webhook(first, receiver.url, timeout="15s")
        publisher = DbPublisher(fresh_database_url)
        try:
            ids = await publish_burst(publisher, tenant.id, 40)
            await receiver.wait_for(len(ids))
            stuck = {r.event_id for r in receiver.requests[:slow]}

            async def quick_ones_replied():
                return sum(r.replied > 0 for r in receiver.requests) >= len(ids) - slow
            await wait_for(quick_ones_replied, 10)

            async def quick_ones_recorded():
                logged = await succeeded_in_logs(first, tenant)
                return all(any(x["status"] == "succeeded" for x in logged.get(e, ()))
                           for e in set(ids) - stuck)
            await until(quick_ones_recorded, 10, "the quick attempts' outcomes were recorded")

            # An open watch stream ends with the shutdown instead of holding it up (while
            # the server waits for open calls, the worker would still be taking work).
            async with aiohttp.ClientSession() as session:
                async with RestWatch(Rest(first.rest, session), "/webhooks/logs/watch",
                                     tenant.token) as watch:
                    stopping = asyncio.create_task(asyncio.to_thread(first.stop))
                    # SIGTERM taken: the stream ends when the watch feed stops, and the worker
                    # stops claiming right after it (`App.stop`); no new work from then on.
                    with pytest.raises((EOFError, aiohttp.ClientPayloadError)):
                        await watch.next(timeout_s=5)
                    later = await publish_burst(publisher, tenant.id, 10)
                    assert not stopping.done(), "published after the stop, not meanwhile"
                    assert await stopping == 0, first.logs()
            assert not set(later) & set(receiver.event_ids()), "claimed while stopping"
            assert '"leases released"' in first.logs()

            second = own_stack(fresh_database_url, tmp_path / "second", ca_file)
            async with stacks(second):
                restarted_at = time.monotonic()
                await start(second)
                await all_arrive(receiver, ids + later, 10)
                assert time.monotonic() - restarted_at < 15 + LEASE_MARGIN_S
                by_event = await wait_all_succeeded(second, tenant, ids + later)
        finally:
            await publisher.close()
        counts = defaultdict(int)
        for event_id in receiver.event_ids():
            counts[event_id] += 1
        assert {e for e, n in counts.items() if n > 1} == stuck
        for event_id in ids + later:
            entries = by_event[event_id]
            assert [(e["status"], e["attempt"]) for e in entries] == [("succeeded", 1)], entries
            assert entries[0]["webhookId"] == hook


async def test_claims_queued_behind_a_slow_webhook_keep_their_lease(
        fresh_database_url, tmp_path, ca_file, receiver, backend):
    """SPEC §8.3, §8.12: a slow receiver never causes a second attempt while the first is
    live. One process claims a burst of 512 for one webhook; the attempts go 64 at a time,
    each 3 s (within the 3.5 s timeout), 24 s in all: longer than timeout + margin (18.5 s)
    by more than the reaper's period, so some reaper always runs while claims are held.
    Neither process may attempt a delivery the first one still holds."""
    if backend != "postgres":
        pytest.skip("several processes share a database only on PostgreSQL")
    receiver.respond(default=Reply(200, delay_s=3.0))
    one = own_stack(fresh_database_url, tmp_path / "one", ca_file)
    two = own_stack(fresh_database_url, tmp_path / "two", ca_file)
    two.bootstrap_token = one.bootstrap_token
    async with stacks(one, two):
        await start(one)
        tenant, hook = await setup_webhook(one, receiver.url, timeout="3.5s")
        publisher = DbPublisher(fresh_database_url)
        try:
            ids = await publish_burst(publisher, tenant.id, 512)
            await receiver.wait_for(32)
            await start(two)
            await all_arrive(receiver, ids, 60)
            await _sent_and_answered(publisher, hook, receiver)
        finally:
            await publisher.close()
        # Every attempt succeeds within the timeout: nothing had a reason to go twice.
        assert overlaps(receiver.requests) == []
        assert len(receiver.requests) == len(ids), len(receiver.requests) - len(ids)


async def test_a_slow_webhook_backlog_is_sent_once(fresh_database_url, tmp_path, ca_file,
                                                   receiver, backend):
    """SPEC §8.12 in one process: claims that wait for their webhook's slot past their lease
    are reaped and claimed again by the same process; the first claim must then not be
    attempted too. 640 deliveries go 64 at a time, 3 s each (timeout 3.5 s, lease 18.5 s):
    from 18.5 s to 27 s some claim is always queued past its lease, longer than the
    reaper's period."""
    if backend != "sqlite":
        pytest.skip("the same code path on both databases; one is enough for 30 s")
    receiver.respond(default=Reply(200, delay_s=3.0))
    stack = own_stack(fresh_database_url, tmp_path / "one", ca_file)
    async with stacks(stack):
        await start(stack)
        tenant, hook = await setup_webhook(stack, receiver.url, timeout="3.5s")
        publisher = DbPublisher(fresh_database_url)
        try:
            ids = await publish_burst(publisher, tenant.id, 640)
            await all_arrive(receiver, ids, 60)
            await _sent_and_answered(publisher, hook, receiver)
        finally:
            await publisher.close()
        assert overlaps(receiver.requests) == []
        assert len(receiver.requests) == len(ids), len(receiver.requests) - len(ids)

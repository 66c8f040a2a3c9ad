"""Delivery logs as users read them (SPEC §7 ELAN surface, §8.9, §8.10): the live watch stream
over REST (newline-delimited JSON through Envoy) and gRPC, resuming from a cursor without
loss or repeats, its filters and tenancy; the test endpoint; paging of the log lists."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from bursts import publish_burst
from flowhooks.v1 import delivery_logs_pb2, delivery_logs_pb2_grpc
from harness import wait_for
from tenancy import field_violations, make_tenant
from waiting import deliveries_settled, quiescent
from watching import RestWatch

ENTRY_FIELDS = {"id", "webhookId", "eventId", "eventType", "attempt", "status", "url",
                "responseStatusCode", "durationMs", "createdAt", "cursor"}


async def subscribe(rest, tenant, url: str, event_types=("workflow.*",), **extra) -> str:
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
        "name": "watched", "url": url, "eventTypes": list(event_types), **extra})
    assert status == 200, body
    return body["id"]


async def logs_of(rest, tenant, hook_id: str, query: str = "") -> list[dict]:
    status, body = await rest.call("GET", f"/webhooks/{hook_id}/logs{query}", token=tenant.token)
    assert status == 200, body
    return body


async def _all_logged(rest, tenant, count: int) -> bool:
    status, entries = await rest.call("GET", f"/webhooks/logs/all?limit=1&offset={count - 1}",
                                      token=tenant.token)
    return status == 200 and len(entries) == 1


async def until_logged(rest, tenant, hook_id: str, count: int) -> list[dict]:
    async def enough():
        entries = await logs_of(rest, tenant, hook_id, "?limit=500")
        return entries if len(entries) >= count else None
    return await wait_for(enough)


def position(cursor: str) -> tuple[int, ...]:
    """A cursor's order, for the checks here only: clients treat cursors as opaque."""
    return tuple(int(part) for part in cursor.split("."))


def cursors(entries: list[dict]) -> list[tuple[int, ...]]:
    return [position(e["cursor"]) for e in entries]


async def test_rest_watch_resumes_from_cursor(irest, itenant, receiver, publisher):
    hook = await subscribe(irest, itenant, receiver.url)
    async with RestWatch(irest, "/webhooks/logs/watch", itenant.token) as watch:
        assert watch.response.status == 200
        first = await publisher.publish(itenant.id, 3)
        seen = await watch.take(3)
    assert {e["eventId"] for e in seen} == set(first)
    for entry in seen:
        assert set(entry) >= ENTRY_FIELDS, entry
        assert entry["webhookId"] == hook and entry["status"] == "succeeded"
        assert entry["eventType"] == "workflow.completed" and entry["responseStatusCode"] == 200
    assert cursors(seen) == sorted(set(cursors(seen)))

    missed = await publisher.publish(itenant.id, 3)
    await until_logged(irest, itenant, hook, 6)
    async with RestWatch(irest, f"/webhooks/logs/watch?cursor={seen[-1]['cursor']}",
                         itenant.token) as watch:
        replayed = await watch.take(3)
        assert {e["eventId"] for e in replayed} == set(missed)
        assert cursors(replayed) == sorted(cursors(replayed))
        assert min(cursors(replayed)) > position(seen[-1]["cursor"])
        # Then the live tail, with nothing repeated in between.
        [live] = await publisher.publish(itenant.id, 1)
        tail = await watch.next()
        assert tail["eventId"] == live and position(tail["cursor"]) > max(cursors(replayed))


async def test_resume_from_a_listed_cursor_repeats_nothing(irest, itenant, receiver,
                                                           publisher):
    """A cursor from the log list (entries no watcher has seen): exactly the later ones."""
    hook = await subscribe(irest, itenant, receiver.url)
    await publisher.publish(itenant.id, 4)
    listed = await until_logged(irest, itenant, hook, 4)  # newest first
    oldest = listed[-1]
    async with RestWatch(irest, f"/webhooks/{hook}/logs/watch?cursor={oldest['cursor']}",
                         itenant.token) as watch:
        replayed = await watch.take(3)
        assert [e["id"] for e in replayed] == [e["id"] for e in reversed(listed[:3])]
        [live] = await publisher.publish(itenant.id, 1)
        assert (await watch.next())["eventId"] == live


async def test_watch_from_now_skips_the_past(irest, itenant, receiver, publisher):
    hook = await subscribe(irest, itenant, receiver.url)
    await publisher.publish(itenant.id, 2)
    await until_logged(irest, itenant, hook, 2)
    async with RestWatch(irest, f"/webhooks/{hook}/logs/watch", itenant.token) as watch:
        [live] = await publisher.publish(itenant.id, 1)
        assert (await watch.next())["eventId"] == live


async def test_watch_filters_by_webhook_and_event_type(irest, itenant, receiver, publisher,
                                                       insecure_stack):
    hook_a = await subscribe(irest, itenant, receiver.url)
    hook_b = await subscribe(irest, itenant, receiver.url + "/b")
    other = await make_tenant(irest, insecure_stack.bootstrap_token)
    other_hook = await subscribe(irest, other, receiver.url + "/other")
    admin_headers = {"X-Org-Id": itenant.id}
    async with RestWatch(irest, f"/webhooks/{hook_a}/logs/watch", itenant.token) as by_hook, \
            RestWatch(irest, "/webhooks/logs/watch?eventType=workflow.failed",
                      itenant.token) as by_type, \
            RestWatch(irest, "/webhooks/logs/watch", insecure_stack.bootstrap_token,
                      admin_headers) as as_admin, \
            RestWatch(irest, "/webhooks/logs/watch", other.token) as others:
        [completed] = await publisher.publish(itenant.id, 1, "workflow.completed")
        [failed] = await publisher.publish(itenant.id, 1, "workflow.failed")

        got = await by_hook.take(2)
        assert {(e["webhookId"], e["eventId"]) for e in got} == {(hook_a, completed),
                                                                 (hook_a, failed)}
        got = await by_type.take(2)
        assert {(e["webhookId"], e["eventId"], e["eventType"]) for e in got} == {
            (hook_a, failed, "workflow.failed"), (hook_b, failed, "workflow.failed")}
        got = await as_admin.take(4)
        assert {(e["webhookId"], e["eventId"]) for e in got} == {
            (h, ev) for h in (hook_a, hook_b) for ev in (completed, failed)}

        # The other tenant's watcher saw none of that: its first entry is its own.
        [own] = await publisher.publish(other.id, 1)
        first = await others.next()
        assert (first["webhookId"], first["eventId"]) == (other_hook, own)
        # Nothing more on any watch: entries come in commit order, so one more event on
        # each side is the next entry every watcher gets, with nothing else before it.
        [marker] = await publisher.publish(itenant.id, 1, "workflow.failed")
        [other_marker] = await publisher.publish(other.id, 1)
        assert [(e["webhookId"], e["eventId"]) for e in await by_hook.take(1)] == [
            (hook_a, marker)]
        for watch in (by_type, as_admin):
            assert {(e["webhookId"], e["eventId"]) for e in await watch.take(2)} == {
                (hook_a, marker), (hook_b, marker)}
        last = await others.next()
        assert (last["webhookId"], last["eventId"]) == (other_hook, other_marker)


async def test_watch_across_tenants_is_refused(irest, itenant, receiver, insecure_stack):
    hook = await subscribe(irest, itenant, receiver.url)
    other = await make_tenant(irest, insecure_stack.bootstrap_token)
    status, body = await irest.call("GET", f"/webhooks/{hook}/logs/watch", token=other.token)
    assert status == 404 and body["code"] == 5, body
    status, body = await irest.call("GET", "/webhooks/logs/watch", token=other.token,
                                    headers={"X-Org-Id": itenant.id})
    assert status in (403, 404), body
    status, body = await irest.call("GET", "/webhooks/wh_doesnotexist/logs/watch",
                                    token=itenant.token)
    assert status == 404, body
    status, body = await irest.call("GET", f"/webhooks/{hook}/logs", token=other.token)
    assert status == 404, body


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5.0", "%20", "99999999999999999999999",
                                    "9000000000000", "0.9000000000000"])
async def test_bad_cursor_is_400_naming_cursor(irest, itenant, cursor):
    status, body = await irest.call("GET", f"/webhooks/logs/watch?cursor={cursor}",
                                    token=itenant.token)
    assert status == 400 and "cursor" in field_violations(body), body


async def test_grpc_watch_logs(insecure_stack, irest, itenant, receiver, publisher):
    hook = await subscribe(irest, itenant, receiver.url)
    metadata = (("authorization", f"Bearer {itenant.token}"),)
    async with insecure_stack.channel() as channel:
        stub = delivery_logs_pb2_grpc.DeliveryLogServiceStub(channel)
        call = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(webhook_id=hook),
                              metadata=metadata)
        await asyncio.wait_for(call.initial_metadata(), 10)
        published = await publisher.publish(itenant.id, 2)
        got = [await asyncio.wait_for(call.read(), 10) for _ in range(2)]
        call.cancel()
        assert {e.event_id for e in got} == set(published)
        assert all(e.webhook_id == hook and e.status == "succeeded" for e in got)
        first, second = sorted(got, key=lambda e: position(e.cursor))

        resumed = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(
            webhook_id=hook, event_type="workflow.completed", cursor=first.cursor),
            metadata=metadata)
        again = await asyncio.wait_for(resumed.read(), 10)
        assert again.id == second.id
        resumed.cancel()

        bad = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(cursor="x"), metadata=metadata)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await asyncio.wait_for(bad.read(), 10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        other = await make_tenant(irest, insecure_stack.bootstrap_token)
        foreign = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(webhook_id=hook),
                                 metadata=(("authorization", f"Bearer {other.token}"),))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await asyncio.wait_for(foreign.read(), 10)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND

        unauthenticated = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest())
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await asyncio.wait_for(unauthenticated.read(), 10)
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_test_endpoint_sends_and_logs(irest, itenant, receiver):
    hook = await subscribe(irest, itenant, receiver.url, event_types=["workflow.failed"])
    status, entry = await irest.call("POST", f"/webhooks/{hook}/test", token=itenant.token,
                                     json={})
    assert status == 200, entry
    assert entry["status"] == "succeeded" and entry["eventType"] == "workflow.completed"
    assert entry["webhookId"] == hook and entry["responseStatusCode"] == 200
    assert entry["attempt"] == 1 and entry["cursor"]
    [got] = await receiver.wait_for(1)
    payload = got.json
    assert payload["data"]["test"] is True and payload["event_type"] == "workflow.completed"
    assert payload["event_id"] == entry["eventId"] == got.event_id
    assert payload["organization_id"] == itenant.id

    assert [e["id"] for e in await logs_of(irest, itenant, hook)] == [entry["id"]]
    status, all_logs = await irest.call("GET", "/webhooks/logs/all?eventType=workflow.completed",
                                        token=itenant.token)
    assert status == 200 and [e["id"] for e in all_logs] == [entry["id"]], all_logs
    status, none = await irest.call("GET", "/webhooks/logs/all?eventType=workflow.failed",
                                    token=itenant.token)
    assert status == 200 and none == []


async def test_test_endpoint_unknown_or_foreign_webhook_sends_nothing(irest, itenant, receiver,
                                                                      insecure_stack, publisher):
    hook = await subscribe(irest, itenant, receiver.url)
    other = await make_tenant(irest, insecure_stack.bootstrap_token)
    status, body = await irest.call("POST", "/webhooks/wh_unknown/test", token=itenant.token,
                                    json={})
    assert status == 404 and body["code"] == 5, body
    status, body = await irest.call("POST", f"/webhooks/{hook}/test", token=other.token,
                                    json={})
    assert status == 404, body
    # Nothing was queued for the webhook (a test send goes through its deliveries), so
    # nothing can reach the receiver.
    await quiescent(deliveries_settled(publisher.db, hook), lambda: receiver.requests, [],
                    what="the receiver got nothing")
    for tenant in (itenant, other):
        status, entries = await irest.call("GET", "/webhooks/logs/all", token=tenant.token)
        assert status == 200 and entries == []


async def test_logs_page_newest_first(irest, itenant, receiver, publisher):
    hook = await subscribe(irest, itenant, receiver.url)
    await publisher.publish(itenant.id, 5)
    everything = await until_logged(irest, itenant, hook, 5)
    assert len(everything) == 5
    assert cursors(everything) == sorted(cursors(everything), reverse=True)
    pages = [await logs_of(irest, itenant, hook, f"?limit=2&offset={offset}")
             for offset in (0, 2, 4)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [e["id"] for p in pages for e in p] == [e["id"] for e in everything]
    assert await logs_of(irest, itenant, hook, "?offset=5") == []

    status, all_page = await irest.call("GET", "/webhooks/logs/all?limit=3&offset=1",
                                        token=itenant.token)
    assert status == 200 and [e["id"] for e in all_page] == [e["id"] for e in everything[1:4]]


@pytest.mark.parametrize("path", ["/webhooks/{hook}/logs", "/webhooks/logs/all"])
async def test_logs_limit_over_500_is_400(irest, itenant, receiver, publisher, path):
    hook = await subscribe(irest, itenant, receiver.url)
    await publisher.publish(itenant.id, 1)
    await until_logged(irest, itenant, hook, 1)
    url = path.format(hook=hook)
    status, body = await irest.call("GET", f"{url}?limit=501", token=itenant.token)
    assert status == 400 and "limit" in field_violations(body), body
    status, body = await irest.call("GET", f"{url}?offset=-1", token=itenant.token)
    assert status == 400 and "offset" in field_violations(body), body
    assert len(await logs_of(irest, itenant, hook, "?limit=500")) == 1


@pytest.mark.parametrize("surface", ["grpc", "rest"])
async def test_a_slow_watcher_misses_nothing(insecure_stack, irest, itenant, receiver,
                                             publisher, surface):
    """More entries than a watcher's queue holds are written while it does not read: it
    falls behind, catches up from the database, and gets each entry once, in order."""
    hook = await subscribe(irest, itenant, receiver.url)
    count = 2500
    if surface == "grpc":
        async with insecure_stack.channel() as channel:
            stub = delivery_logs_pb2_grpc.DeliveryLogServiceStub(channel)
            call = stub.WatchLogs(delivery_logs_pb2.WatchLogsRequest(webhook_id=hook),
                                  metadata=(("authorization", f"Bearer {itenant.token}"),))
            await asyncio.wait_for(call.initial_metadata(), 10)
            ids = await publish_burst(publisher, itenant.id, count, chunk=500)
            await until_logged(irest, itenant, hook, 1)
            await wait_for(lambda: _all_logged(irest, itenant, count), 60)
            got = [await asyncio.wait_for(call.read(), 10) for _ in range(count)]
            call.cancel()
        seen = [(position(e.cursor), e.event_id) for e in got]
    else:
        async with RestWatch(irest, f"/webhooks/{hook}/logs/watch", itenant.token) as watch:
            ids = await publish_burst(publisher, itenant.id, count, chunk=500)
            await wait_for(lambda: _all_logged(irest, itenant, count), 60)
            got = await watch.take(count)
            # Nothing more, nothing twice: the entry after the burst is the next event's.
            [marker] = await publisher.publish(itenant.id, 1)
            assert (await watch.next())["eventId"] == marker
        seen = [(position(e["cursor"]), e["eventId"]) for e in got]
    assert [c for c, _ in seen] == sorted({c for c, _ in seen})
    assert sorted(e for _, e in seen) == sorted(ids)

"""Nothing a receiver sends can stop delivery (SPEC §8.16), on both databases.

End to end: a receiver answering `200 ok\\x00bad` (which once wedged every outcome on
PostgreSQL, across restarts) or bytes that are not UTF-8 gets its attempts logged, with the
body stored safely, while another tenant's deliveries go on and the test endpoint answers.
On the worker itself, with a real database: an outcome the database refuses is retried alone,
never holds up the others of its batch, and is finished as `failed` with the reason."""

from __future__ import annotations

import uuid

import pytest
from bursts import DbPublisher, all_arrive, publish_burst
from harness import wait_for
from receiver import Receiver, Reply
from sqlalchemy import select, text
from tenancy import make_tenant

from flowhooks_server.delivery.sender import Sender
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.delivery.worker import POISON_TRIES, DeliveryWorker
from flowhooks_server.ids import new_id
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage import deliveries as store
from flowhooks_server.storage.models import Delivery, DeliveryLog, Webhook, utcnow

POISON_BODIES = {"nul": b"ok\x00bad", "not utf-8": b"\xff\xfeok\xc0\xa0", "nul only": b"\x00"}


async def hook_for(rest, stack, url: str):
    tenant = await make_tenant(rest, stack.bootstrap_token)
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
        "name": "poison", "url": url, "eventTypes": ["workflow.*"]})
    assert status == 200, body
    return tenant, body["id"]


async def logs_of(rest, tenant, hook_id: str, count: int) -> list[dict]:
    async def enough():
        status, logs = await rest.call("GET", f"/webhooks/{hook_id}/logs", token=tenant.token)
        assert status == 200, logs
        return logs if len(logs) >= count else None
    return await wait_for(enough, timeout_s=15)


async def test_receiver_poison_answers_are_logged_and_block_no_one(irest, insecure_stack,
                                                                    receiver):
    healthy = await Receiver().start()
    poisoned: dict[str, Receiver] = {}
    try:
        victims = {}
        for name, body in POISON_BODIES.items():
            poisoned[name] = await Receiver().start()
            poisoned[name].respond(default=Reply(200, body=body))
            victims[name] = await hook_for(irest, insecure_stack, poisoned[name].url)
        bystander, bystander_hook = await hook_for(irest, insecure_stack, healthy.url)
        publisher = DbPublisher(insecure_stack.database_url)
        try:
            for tenant, _ in victims.values():
                await publish_burst(publisher, tenant.id, 3)
            ids = await publish_burst(publisher, bystander.id, 20)
        finally:
            await publisher.close()
        await all_arrive(healthy, ids, timeout_s=15)
        for name, (tenant, hook_id) in victims.items():
            logs = await logs_of(irest, tenant, hook_id, 3)
            assert {e["status"] for e in logs} == {"succeeded"}, logs
            stored = logs[0]["responseBody"]
            assert "\x00" not in stored and "\ud800" not in stored
            if name == "nul":
                assert stored == "ok\\u0000bad"
            if name == "not utf-8":
                assert stored.startswith("\ufffd") and "ok" in stored
            # The test endpoint (which waits for its recorded entry) still answers.
            status, entry = await irest.call("POST", f"/webhooks/{hook_id}/test",
                                             token=tenant.token)
            assert status == 200 and entry["status"] == "succeeded", entry
        await logs_of(irest, bystander, bystander_hook, 20)
        assert "recording outcomes failed" not in insecure_stack.logs()
    finally:
        await healthy.stop()
        for r in poisoned.values():
            await r.stop()


async def _claimed_batch(db, count: int) -> list[store.Claimed]:
    """`count` due deliveries of a fresh webhook, claimed by a test owner."""
    tenant, now = str(uuid.uuid4()), utcnow()
    async with db.session() as session, session.begin():
        hook = Webhook(id=new_id("wh"), tenant_id=tenant, name="poison",
                       url="https://example.com/in", headers={}, event_types=["*"],
                       enabled=True, suspended=False, timeout_ms=1000, format="json",
                       ordered=False, secret="s", created_at=now, updated_at=now)
        session.add(hook)
        await session.flush()
        await Outbox(db, Wakeups()).add_many(
            session, tenant, [("workflow.completed", {"n": n}) for n in range(count)],
            only_webhook=hook.id)
    async with db.session() as session, session.begin():
        claimed = await store.claim(session, "test-owner", 1000, 15.0)
    mine = [c for c in claimed if c.webhook.id == hook.id]
    assert len(mine) == count
    return mine


def _outcome(job: store.Claimed, **log_overrides) -> store.Outcome:
    entry = store.log_row(
        tenant_id=job.event.tenant_id, webhook_id=job.webhook.id, delivery_id=job.id,
        event_id=job.event.id, event_type=job.event.type, attempt=job.attempt,
        status="succeeded", url=job.webhook.url, now=utcnow(), response_status_code=200,
        response_body="ok", duration_ms=3)
    entry.update(log_overrides)
    return store.Outcome(job, "succeeded", entry)


async def test_a_poison_outcome_is_isolated_then_finished_as_failed(db):
    worker = DeliveryWorker(db, Sender(allow_insecure=True), Wakeups())
    worker.owner = "test-owner"
    jobs = await _claimed_batch(db, 4)
    # A value no driver can bind: every write of this outcome fails on its data.
    poison = _outcome(jobs[1], next_attempt_at="not a time")
    batch = [_outcome(jobs[0]), poison, _outcome(jobs[2]), _outcome(jobs[3])]
    left = await worker._record(batch)
    assert left == [poison]
    async with db.session(readonly=True) as session:
        states = dict((await session.execute(
            select(Delivery.id, Delivery.status)
            .where(Delivery.id.in_([j.id for j in jobs])))).all())
    assert states == {jobs[0].id: "succeeded", jobs[1].id: "inflight",
                      jobs[2].id: "succeeded", jobs[3].id: "succeeded"}
    for _ in range(POISON_TRIES - 2):
        assert await worker._record(left) == [poison]
    assert await worker._record(left) == []
    async with db.session(readonly=True) as session:
        state = await session.scalar(select(Delivery.status)
                                     .where(Delivery.id == jobs[1].id))
        entry = await session.scalar(select(DeliveryLog)
                                     .where(DeliveryLog.delivery_id == jobs[1].id))
    assert state == "failed"
    assert entry.status == "failed" and "could not be recorded" in entry.error


async def test_an_event_that_cannot_be_rendered_is_finished_as_failed(irest, insecure_stack,
                                                                       receiver, backend):
    if backend != "sqlite":
        pytest.skip("PostgreSQL's jsonb cannot even store a NaN: no such event can exist")
    tenant, hook_id = await hook_for(irest, insecure_stack, receiver.url)
    publisher = DbPublisher(insecure_stack.database_url)
    try:
        async with publisher.db.session() as session, session.begin():
            await publisher.outbox.add(session, tenant.id, "workflow.completed",
                                       {"x": float("nan")}, workflow_id="wf_bad")
        publisher.outbox.committed()
        good = await publish_burst(publisher, tenant.id, 2)
    finally:
        await publisher.close()
    await all_arrive(receiver, good, timeout_s=15)
    logs = await logs_of(irest, tenant, hook_id, 3)
    failed = [e for e in logs if e["status"] == "failed"]
    assert len(failed) == 1 and "could not be prepared" in failed[0]["error"], logs
    assert len(receiver.requests) == 2  # the unrenderable event never went out


async def test_a_webhook_whose_stored_settings_cannot_be_read_stalls_no_claim(
        irest, insecure_stack, receiver):
    """A webhook row whose failure handling no version of the code wrote (a hand edit, a
    bad migration) fails its own deliveries with the reason; the claim that picked them up
    still hands out everyone else's, and nothing is sent to the broken webhook."""
    broken_tenant, broken_hook = await hook_for(irest, insecure_stack, receiver.url)
    tenant, hook_id = await hook_for(irest, insecure_stack, receiver.url)
    publisher = DbPublisher(insecure_stack.database_url)
    try:
        async with publisher.db.session() as session, session.begin():
            await session.execute(
                Webhook.__table__.update().where(Webhook.id == broken_hook)
                .values(failure_handling={"retry": "not an object"}, updated_at=utcnow()))
        broken = await publish_burst(publisher, broken_tenant.id, 2)
        good = await publish_burst(publisher, tenant.id, 3)
    finally:
        await publisher.close()
    await all_arrive(receiver, good, timeout_s=15)
    # Read from the database: the webhook's own API cannot read that row either.
    reader = DbPublisher(insecure_stack.database_url)
    try:
        async def both_logged():
            async with reader.db.session(readonly=True) as session:
                rows = (await session.scalars(select(DeliveryLog).where(
                    DeliveryLog.webhook_id == broken_hook))).all()
            return rows if len(rows) >= 2 else None
        logs = await wait_for(both_logged, timeout_s=15)
    finally:
        await reader.close()
    assert {e.status for e in logs} == {"failed"}, logs
    assert all("could not be prepared" in e.error and "stored settings" in e.error
               for e in logs), [e.error for e in logs]
    assert {r.headers["webhook-id"] for r in receiver.requests}.isdisjoint(broken)
    assert len(await logs_of(irest, tenant, hook_id, 3)) == 3


async def _failed_logs(database_url: str, webhook_id: str, count: int) -> list:
    reader = DbPublisher(database_url)
    try:
        async def logged():
            async with reader.db.session(readonly=True) as session:
                rows = (await session.scalars(select(DeliveryLog).where(
                    DeliveryLog.webhook_id == webhook_id))).all()
            return rows if len(rows) >= count else None
        return await wait_for(logged, timeout_s=15)
    finally:
        await reader.close()


async def test_json_text_that_does_not_parse_fails_only_its_own_deliveries(
        irest, insecure_stack, receiver, backend):
    """SQLite stores JSON as text, so a hand edit can leave text that is not JSON at all in a
    webhook's settings or an event's data. Reading it fails before any mapping code runs;
    the claim must still hand out everyone else's deliveries. Repaired by hand (without
    touching updated_at), the webhook delivers again: a broken row is never cached."""
    if backend != "sqlite":
        pytest.skip("PostgreSQL's jsonb refuses text that is not JSON: no such row can exist")
    broken_tenant, broken_hook = await hook_for(irest, insecure_stack, receiver.url)
    tenant, hook_id = await hook_for(irest, insecure_stack, receiver.url)
    publisher = DbPublisher(insecure_stack.database_url)
    try:
        async with publisher.db.session() as session, session.begin():
            await session.execute(text(
                "UPDATE webhooks SET failure_handling = '{not json' WHERE id = :id"),
                {"id": broken_hook})
            bad_event = await publisher.outbox.add(session, tenant.id, "workflow.completed",
                                                   {"n": "bad"}, workflow_id="wf_bad")
            await session.execute(text("UPDATE events SET data = '[unterminated' WHERE id = :id"),
                                  {"id": bad_event.event.id})
        publisher.outbox.committed()
        broken = await publish_burst(publisher, broken_tenant.id, 2)
        good = await publish_burst(publisher, tenant.id, 3)
        await all_arrive(receiver, good, timeout_s=15)
        logs = await _failed_logs(insecure_stack.database_url, broken_hook, 2)
        assert {e.status for e in logs} == {"failed"}, logs
        assert all("could not be prepared" in e.error and "stored settings" in e.error
                   for e in logs), [e.error for e in logs]
        bad = [e for e in await _failed_logs(insecure_stack.database_url, hook_id, 4)
               if e.event_id == bad_event.event.id]
        assert len(bad) == 1 and bad[0].status == "failed", bad
        assert "stored data" in bad[0].error, bad[0].error
        sent = {r.headers["webhook-id"] for r in receiver.requests}
        assert sent.isdisjoint(broken) and bad_event.event.id not in sent
        # The repair, by hand, as an operator would do it: updated_at stays as it was.
        async with publisher.db.session() as session, session.begin():
            await session.execute(text(
                "UPDATE webhooks SET failure_handling = NULL WHERE id = :id"),
                {"id": broken_hook})
        again = await publish_burst(publisher, broken_tenant.id, 1)
        await all_arrive(receiver, again, timeout_s=15)
    finally:
        await publisher.close()

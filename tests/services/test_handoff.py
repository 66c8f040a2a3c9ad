"""The hand-off (delivery.handoff) against a real database: deliveries made in this process
are leased to its worker in the transaction that makes them, and only those it may start at
once; the rest stay pending for a claim, and nothing is handed over before the commit."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from flowhooks_server.delivery.handoff import Handoff
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.webhooks import ELAN_FIELDS, WebhookSpec
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.services.webhooks import WebhookManager
from flowhooks_server.storage.deliveries import Claimed, Lease
from flowhooks_server.storage.models import Delivery

pytestmark = pytest.mark.integration


class Taker:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.taken: list[Claimed] = []

    def lease(self) -> Lease | None:
        return Lease("test-owner", self.capacity, 15.0)

    def take(self, jobs: Sequence[Claimed]) -> None:
        self.taken += jobs


async def _hooks(db, tenant: str) -> dict[str, str]:
    manager = WebhookManager(db, allow_insecure_targets=False)
    ids = {}
    for name, changes in {"plain": {}, "ordered": {"ordered": True},
                          "slow": {"timeout_s": 20.0}}.items():
        spec = WebhookSpec(name=name, url=f"https://example.com/{name}",
                           event_types=("workflow.started",), **changes)
        ids[name] = (await manager.create(tenant, spec, ELAN_FIELDS)).id
    return ids


async def _rows(db, tenant: str) -> dict[str, Delivery]:
    async with db.session(readonly=True) as session:
        rows = (await session.scalars(select(Delivery).where(Delivery.tenant_id == tenant)))
        return {row.webhook_id: row for row in rows}


async def test_unordered_deliveries_are_leased_at_attempt_one_and_handed_over_after_commit(db):
    tenant = str(uuid.uuid4())
    hooks = await _hooks(db, tenant)
    taker, handoff = Taker(capacity=10), Handoff()
    handoff.attach(taker)
    outbox = Outbox(db, Wakeups(), handoff)
    async with db.session() as session, session.begin():
        made = await outbox.add_each(session, tenant, [
            ("workflow.started", {"b": 1, "a": {"z": 2, "y": 3}}, "wf_1", "run_1")])
        assert taker.taken == [], "handed over before the commit"
    outbox.committed([made])

    rows = await _rows(db, tenant)
    assert set(rows) == set(hooks.values())
    ordered = rows[hooks["ordered"]]
    assert (ordered.status, ordered.attempt, ordered.lease_owner) == ("pending", 0, None)
    by_hook = {job.webhook.id: job for job in taker.taken}
    assert set(by_hook) == {hooks["plain"], hooks["slow"]}
    for name in ("plain", "slow"):
        row, job = rows[hooks[name]], by_hook[hooks[name]]
        assert (row.status, row.attempt, row.lease_owner) == ("inflight", 1, "test-owner")
        assert (job.seq, job.id, job.attempt) == (row.seq, row.id, 1)
        assert job.lease_expires_at == row.lease_expires_at
        assert job.webhook.url == f"https://example.com/{name}"
        # The event as stored: what a retry would read back renders the same.
        assert job.event.data == {"b": 1, "a": {"z": 2, "y": 3}}
        assert list(job.event.data) == list(await _stored_data(db, job.event.id))
    # Each lease covers its webhook's own timeout.
    plain, slow = by_hook[hooks["plain"]], by_hook[hooks["slow"]]
    assert slow.webhook.timeout_s == 20.0 != plain.webhook.timeout_s
    assert (slow.lease_expires_at - plain.lease_expires_at).total_seconds() == \
        pytest.approx(slow.webhook.timeout_s - plain.webhook.timeout_s, abs=0.5)


async def _stored_data(db, event_id: str) -> dict:
    from flowhooks_server.storage.models import Event
    async with db.session(readonly=True) as session:
        return (await session.get(Event, event_id)).data


async def test_no_lease_beyond_the_workers_free_slots_and_a_rollback_hands_nothing(db):
    tenant = str(uuid.uuid4())
    await _hooks(db, tenant)
    taker, handoff = Taker(capacity=1), Handoff()
    handoff.attach(taker)
    outbox = Outbox(db, Wakeups(), handoff)
    async with db.session() as session, session.begin():
        made = await outbox.add_each(session, tenant, [
            ("workflow.started", {"n": 1}, "wf_1", "run_1")])
    outbox.committed([made])
    rows = await _rows(db, tenant)
    assert len(taker.taken) == 1 and made.pending
    assert sorted(row.status for row in rows.values()) == ["inflight", "pending", "pending"]

    class Rollback(Exception):
        pass

    other = str(uuid.uuid4())
    await _hooks(db, other)
    taker.taken.clear()
    with pytest.raises(Rollback):
        async with db.session() as session, session.begin():
            await outbox.add_each(session, other, [("workflow.started", {}, "wf", "run")])
            raise Rollback
    assert taker.taken == [] and await _rows(db, other) == {}


async def test_without_a_worker_everything_is_pending_for_a_claim(db):
    tenant = str(uuid.uuid4())
    await _hooks(db, tenant)
    outbox = Outbox(db, Wakeups(), Handoff())
    async with db.session() as session, session.begin():
        made = await outbox.add_each(session, tenant, [("workflow.started", {}, "wf", "run")])
    assert made.leased == [] and made.pending
    assert {row.status for row in (await _rows(db, tenant)).values()} == {"pending"}

"""The outbox (deliveries), its claims and leases, and the outcome of attempts.

Every function takes the caller's session and leaves the transaction to it. Claims use
`FOR UPDATE SKIP LOCKED` on PostgreSQL (several processes share the queue); on SQLite the
write lock taken by `BEGIN IMMEDIATE` serialises claimers.

A claim hands out plain values, no ORM rows: the event as a `domain.payloads.EventView` and
the webhook as a `domain.attempts.DeliveryTarget`, cached per webhook version (`TargetCache`).
An `Outcome` comes back in the attempt's vocabulary (`domain.attempts.AttemptStatus`) and is
written as it says; only `row_status` knows that a delivery row calls `retrying` `pending`."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    Select,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.attempts import HELD_REASON, AttemptStatus, DeliveryTarget
from flowhooks_server.domain.catalog import covering_entries
from flowhooks_server.domain.events import Event as DomainEvent
from flowhooks_server.domain.payloads import EventView
from flowhooks_server.domain.signing import SecretState
from flowhooks_server.domain.webhooks import MAX_TIMEOUT_S, FailureHandling
from flowhooks_server.ids import new_id
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.db import affected, dialect_insert
from flowhooks_server.storage.models import (
    Delivery,
    DeliveryLog,
    DivertedEvent,
    Event,
    Webhook,
    WebhookEventType,
)

UNFINISHED = ("pending", "inflight", "held")
OUTBOX_CHANNEL = "flowhooks_outbox"
LOGS_CHANNEL = "flowhooks_logs"
MAX_CACHED_TARGETS = 10_000
TARGET_TTL_S = 60.0
# A log row as inserted: the columns of `DeliveryLog` by name (see `log_row`).
LogRow = dict[str, Any]
DELIVERIES = cast(Table, Delivery.__table__)
DELIVERY_LOGS = cast(Table, DeliveryLog.__table__)


# Sent with every NOTIFY, so that a listener can tell its own process's notifications (whose
# wake-ups happened in-process already) from other processes'.
ORIGIN = secrets.token_hex(8)


async def notify(session: AsyncSession, *channels: str) -> None:
    """On PostgreSQL, wake the other processes when this transaction commits: one statement
    for every channel given."""
    if channels and session.get_bind().dialect.name == "postgresql":
        calls = ", ".join(f"pg_notify(:c{i}, :origin)" for i in range(len(channels)))
        await session.execute(text(f"SELECT {calls}"),
                              {"origin": ORIGIN} | {f"c{i}": c for i, c in enumerate(channels)})


@dataclass(frozen=True)
class Lease:
    """Deliveries that `fan_out` may lease at once to the caller's own worker: up to
    `capacity`, each until its webhook's timeout plus `margin_s` from now, held by `owner`."""

    owner: str
    capacity: int
    margin_s: float


@dataclass(frozen=True)
class FanOut:
    """What `fan_out` made: the delivery ids by event id; the deliveries leased to the
    caller's worker (to start once the transaction commits); whether any other is pending
    for whichever claimer looks first."""

    ids: dict[str, list[str]]
    leased: list[Claimed]
    pending: bool


async def fan_out(session: AsyncSession, events: Sequence[DomainEvent],
                  only_webhook: str | None = None, lease: Lease | None = None) -> FanOut:
    """For each event (of one tenant, in order), one delivery per enabled webhook subscribed
    to its type (or just `only_webhook`, subscribed or not): pending, or held with a log
    entry when the webhook is suspended.

    With a `lease`, deliveries to unordered, unsuspended webhooks are made in flight under
    it instead, up to its capacity, at their first attempt, and come back `leased`: their
    first attempt needs no claim (an ordered webhook's always wait for a claim, which
    knows what is ahead of them). Should the process die before it attempts them, the lease
    runs out and they are reaped like any other claim's."""
    tenant = events[0].tenant_id
    columns = (Webhook.id, Webhook.url, Webhook.suspended, Webhook.ordered,
               Webhook.updated_at)
    targets: dict[str, Sequence[Any]]  # rows with the `columns` by event id
    if only_webhook is not None:
        only = (await session.execute(select(*columns).where(
            Webhook.tenant_id == tenant, Webhook.id == only_webhook))).all()
        targets = {event.id: only for event in events}
    else:
        covering = {event.id: covering_entries(event.type) for event in events}
        found = (await session.execute(
            select(*columns, WebhookEventType.event_type)
            .join(WebhookEventType, WebhookEventType.webhook_id == Webhook.id)
            .where(Webhook.tenant_id == tenant, Webhook.enabled.is_(True),
                   WebhookEventType.tenant_id == tenant,
                   WebhookEventType.event_type.in_(sorted(set().union(*covering.values()))))
            .order_by(Webhook.id))).all()
        targets = {event.id: list({h.id: h for h in found
                                   if h.event_type in covering[event.id]}.values())
                   for event in events}
    now = utcnow()
    hand = _leasable(targets, lease)
    hooks = await _targets_from(session, {h.id: (h.updated_at, h.suspended)
                                          for h in hand.values()}) if hand else {}
    rows: list[dict[str, Any]] = []
    leased_rows: list[dict[str, Any]] = []
    leased_to: list[tuple[DomainEvent, DeliveryTarget]] = []
    held_logs: list[LogRow] = []
    made: dict[str, list[str]] = {}
    for event in events:  # in event order, so an ordered webhook's seqs follow it
        made[event.id] = []
        for hook in targets[event.id]:
            delivery_id = new_id("dlv")
            made[event.id].append(delivery_id)
            row = {"id": delivery_id, "tenant_id": tenant, "event_id": event.id,
                   "webhook_id": hook.id, "status": "held" if hook.suspended else "pending",
                   "ordered": hook.ordered, "attempt": 0, "next_attempt_at": now,
                   "created_at": now, "updated_at": now}
            target = hooks.get(hook.id)
            if lease is not None and target is not None and len(leased_rows) < lease.capacity:
                row |= {"status": "inflight", "attempt": 1, "lease_owner": lease.owner,
                        "lease_expires_at": now + timedelta(
                            seconds=target.timeout_s + lease.margin_s)}
                leased_rows.append(row)
                leased_to.append((event, target))
                continue
            rows.append(row)
            if hook.suspended:
                held_logs.append(log_row(
                    tenant_id=tenant, webhook_id=hook.id, delivery_id=delivery_id,
                    event_id=event.id, event_type=event.type, attempt=0,
                    status=AttemptStatus.HELD, url=hook.url, error=HELD_REASON, now=now))
    if rows:
        await session.execute(insert(DELIVERIES), rows)
    leased: list[Claimed] = []
    if leased_rows:
        seqs = (await session.execute(
            insert(DELIVERIES).returning(DELIVERIES.c.seq, sort_by_parameter_order=True),
            leased_rows)).scalars().all()
        leased = [Claimed(seq, row["id"], _view(event), target, 1, row["lease_expires_at"],
                          fresh=True)
                  for seq, row, (event, target) in zip(seqs, leased_rows, leased_to,
                                                        strict=True)]
    if held_logs:
        await session.execute(insert(DELIVERY_LOGS), held_logs)
    pending = len(held_logs) < len(rows)
    # Others' watchers and claimers; a leased delivery is news to nobody else yet.
    await notify(session, *([LOGS_CHANNEL] if held_logs else []),
                 *([OUTBOX_CHANNEL] if pending else []))
    return FanOut(made, leased, pending)


def _leasable(targets: dict[str, Sequence[Any]], lease: Lease | None) -> dict[str, Any]:
    """The webhooks whose new deliveries a lease may take: unordered and unsuspended."""
    if lease is None or lease.capacity <= 0:
        return {}
    return {h.id: h for hooks in targets.values() for h in hooks
            if not h.ordered and not h.suspended}


def _view(event: DomainEvent) -> EventView:
    return EventView(event.id, event.type, event.tenant_id, event.workflow_id,
                     event.created_at, event.data)


def storable_text(text: str | None) -> str | None:
    """Text a receiver (or its network) made, as both databases can store it (SPEC §8.16):
    PostgreSQL text cannot hold NUL, so it is escaped, and lone surrogates (from a decoder
    told to keep them) become U+FFFD."""
    if text is None:
        return None
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    return text


def log_row(*, tenant_id: str, webhook_id: str, delivery_id: str, event_id: str,
            event_type: str, attempt: int, status: str, url: str, now: datetime,
            response_status_code: int | None = None, response_body: str | None = None,
            duration_ms: int = 0, error: str | None = None, failure_trigger: str | None = None,
            next_attempt_at: datetime | None = None, log_id: str | None = None) -> LogRow:
    """A delivery log row, as inserted."""
    return {"id": log_id or new_id("log"), "tenant_id": tenant_id, "webhook_id": webhook_id,
            "delivery_id": delivery_id, "event_id": event_id, "event_type": event_type,
            "attempt": attempt, "status": str(status), "url": url,
            "response_status_code": response_status_code,
            "response_body": storable_text(response_body), "duration_ms": duration_ms,
            "error": storable_text(error), "failure_trigger": failure_trigger,
            "created_at": now, "next_attempt_at": next_attempt_at}


@dataclass(frozen=True)
class Claimed:
    """A leased delivery with what its attempt needs: the event and the webhook's target."""

    seq: int
    id: str
    event: EventView
    webhook: DeliveryTarget
    attempt: int
    lease_expires_at: datetime
    # Why the event's stored data cannot be read, if it cannot (see `_events_of`).
    unreadable: str | None = None
    # Made and leased at once by `fan_out`: not the resend of a diverted event.
    fresh: bool = False


class TargetCache:
    """Delivery targets by webhook version: a webhook's row is read and its failure policy
    parsed once per `updated_at`. Every writer of a webhook row bumps `updated_at` (a secret
    rotation and a suspension included); as a safety net for one that does not (an operator's
    hand edit), an entry also lasts at most `TARGET_TTL_S`. `suspended` is not taken from
    here: it is read with the version on every claim, since it changes under the worker.
    A target whose row cannot be read is never cached, so a repaired row delivers at once."""

    def __init__(self, size: int = MAX_CACHED_TARGETS, ttl_s: float = TARGET_TTL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._size, self._ttl_s, self._clock = size, ttl_s, clock
        self._targets: dict[str, tuple[datetime, float, DeliveryTarget]] = {}

    def get(self, webhook_id: str, version: datetime) -> DeliveryTarget | None:
        cached = self._targets.get(webhook_id)
        if cached is None or cached[0] != version or self._clock() - cached[1] > self._ttl_s:
            return None
        return cached[2]

    def put(self, row: Webhook) -> DeliveryTarget:
        target = _target_of(row)
        self._targets.pop(row.id, None)
        if target.unreadable is not None:
            return target
        if len(self._targets) >= self._size:  # the oldest entry goes first
            del self._targets[next(iter(self._targets))]
        self._targets[row.id] = (row.updated_at, self._clock(), target)
        return target


def _target_of(row: Webhook) -> DeliveryTarget:
    """The delivery target of a row, through the one row mapping (`storage.webhooks`); a row
    that mapping cannot read gives a target that fails its deliveries with the reason."""
    try:
        hook = webhook_store.to_domain(row)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return _unreadable_target(row.id, str(row.url), bool(row.ordered), bool(row.suspended),
                                  exc)
    spec = hook.spec
    return DeliveryTarget(
        id=hook.id, url=spec.url, format=spec.format, headers=spec.headers,
        timeout_s=spec.timeout_s, ordered=spec.ordered, suspended=hook.suspended,
        secrets=hook.secrets, failure_handling=spec.failure_handling)


def _unreadable_target(webhook_id: str, url: str, ordered: bool, suspended: bool,
                       exc: Exception) -> DeliveryTarget:
    return DeliveryTarget(
        id=webhook_id, url=url, format="json", headers={}, timeout_s=MAX_TIMEOUT_S,
        ordered=ordered, suspended=suspended, secrets=SecretState(""),
        failure_handling=FailureHandling(),
        unreadable=f"the webhook's stored settings cannot be read ({type(exc).__name__})")


_targets = TargetCache()
RENEW_CHUNK = 500


async def _targets_of(session: AsyncSession, webhook_ids: set[str]) -> dict[str, DeliveryTarget]:
    """The current target of each webhook, read whole only for versions not cached."""
    versions = (await session.execute(
        select(Webhook.id, Webhook.updated_at, Webhook.suspended)
        .where(Webhook.id.in_(webhook_ids)))).all()
    return await _targets_from(session, {hook_id: (version, suspended)
                                         for hook_id, version, suspended in versions})


async def _targets_from(session: AsyncSession, versions: dict[str, tuple[datetime, bool]]
                        ) -> dict[str, DeliveryTarget]:
    """The targets of webhooks whose version and suspension were just read."""
    found: dict[str, DeliveryTarget] = {}
    stale: set[str] = set()
    for hook_id, (version, suspended) in versions.items():
        cached = _targets.get(hook_id, version)
        if cached is None:
            stale.add(hook_id)
        else:
            found[hook_id] = cached if cached.suspended == suspended \
                else replace(cached, suspended=suspended)
    if stale:
        rows, unparsable = await _each_readable(
            session, stale, lambda ids: select(Webhook).where(Webhook.id.in_(ids)), scalars=True)
        for row in rows:
            found[row.id] = _targets.put(row)
        if unparsable:
            for hook_id, url, ordered, suspended in await session.execute(
                    select(Webhook.id, Webhook.url, Webhook.ordered, Webhook.suspended)
                    .where(Webhook.id.in_(unparsable))):
                found[hook_id] = _unreadable_target(hook_id, url, ordered, suspended,
                                                    unparsable[hook_id])
    return found


_EVENT_COLUMNS = (Event.id, Event.type, Event.tenant_id, Event.workflow_id, Event.created_at)


async def _events_of(session: AsyncSession, event_ids: set[str]
                     ) -> tuple[dict[str, EventView], dict[str, str]]:
    """The events to deliver, as plain values (a claim may carry hundreds), and why any of
    them cannot be read."""
    rows, unparsable = await _each_readable(
        session, event_ids, lambda ids: select(*_EVENT_COLUMNS, Event.data)
        .where(Event.id.in_(ids)))
    events = {e.id: EventView(e.id, e.type, e.tenant_id, e.workflow_id, e.created_at, e.data)
              for e in rows}
    reasons: dict[str, str] = {}
    if unparsable:
        for e in await session.execute(select(*_EVENT_COLUMNS)
                                       .where(Event.id.in_(unparsable))):
            events[e.id] = EventView(e.id, e.type, e.tenant_id, e.workflow_id, e.created_at,
                                     {})
            reasons[e.id] = (f"the event's stored data cannot be read "
                             f"({type(unparsable[e.id]).__name__})")
    return events, reasons


async def _each_readable(session: AsyncSession, ids: set[str],
                         query: Callable[[set[str]], Select[Any]], scalars: bool = False
                         ) -> tuple[list[Any], dict[str, Exception]]:
    """The rows of `query(ids)`, and the ids whose stored JSON does not even parse (text only
    SQLite can hold) with the error: read together, and one by one only when that fails, so
    one such row costs nothing to the others of its claim."""
    async def read(some: set[str]) -> list[Any]:
        result = await session.execute(query(some))
        return list(result.scalars() if scalars else result)
    try:
        return await read(ids), {}
    except ValueError:  # json.JSONDecodeError, raised while the driver's text is decoded
        pass
    rows: list[Any] = []
    unparsable: dict[str, Exception] = {}
    for one in ids:
        try:
            rows += await read({one})
        except ValueError as exc:
            unparsable[one] = exc
    return rows, unparsable


def _due() -> Select[int, str, str, str, int]:
    earlier = aliased(Delivery)
    blocked = exists().where(earlier.webhook_id == Delivery.webhook_id,
                             earlier.seq < Delivery.seq, earlier.status.in_(UNFINISHED))
    return (select(Delivery.seq, Delivery.id, Delivery.event_id, Delivery.webhook_id,
                   Delivery.attempt)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= bindparam("b_now"),
                   or_(Delivery.ordered.is_(False), not_(blocked)))
            .order_by(Delivery.next_attempt_at, Delivery.seq)
            .limit(bindparam("b_limit", type_=Integer))
            .with_for_update(skip_locked=True, of=Delivery))


# Built once: constructing this ORM statement (an aliased subquery) costs more than running it.
_DUE = _due()


async def claim(session: AsyncSession, owner: str, limit: int, margin_s: float) -> list[Claimed]:
    """Lease up to `limit` due deliveries. An ordered delivery is due only when no earlier
    delivery of its webhook is unfinished. The lease outlasts the longest timeout of the
    batch by `margin_s`."""
    now = utcnow()
    picked = (await session.execute(_DUE, {"b_now": now, "b_limit": limit})).all()
    if not picked:
        return []
    hooks = await _targets_of(session, {p.webhook_id for p in picked})
    events, unreadable = await _events_of(session, {p.event_id for p in picked})
    longest_s = max(hooks[p.webhook_id].timeout_s for p in picked)
    lease = now + timedelta(seconds=longest_s + margin_s)
    await session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.seq == bindparam("b_seq"))
        .values(status="inflight", attempt=bindparam("b_attempt"), lease_owner=owner,
                lease_expires_at=lease, updated_at=now),
        [{"b_seq": p.seq, "b_attempt": p.attempt + 1} for p in picked])
    return [Claimed(p.seq, p.id, events[p.event_id], hooks[p.webhook_id], p.attempt + 1, lease,
                    unreadable.get(p.event_id)) for p in picked]


@dataclass(frozen=True)
class Outcome:
    """What to record of one claimed delivery: its status (the attempt's, see
    `domain.attempts`), its log entry, when it is due again, and whether its webhook is to
    be suspended."""

    claimed: Claimed
    status: AttemptStatus
    log: LogRow
    next_attempt_at: datetime | None = None
    suspend: bool = False

    def __post_init__(self) -> None:
        # Plain strings of the vocabulary are accepted (and checked) too.
        if type(self.status) is not AttemptStatus:
            object.__setattr__(self, "status", AttemptStatus(self.status))


def row_status(status: AttemptStatus) -> str:
    """A delivery row's status for an attempt's: a retrying delivery is pending again; the
    other statuses are the row's too."""
    return "pending" if status is AttemptStatus.RETRYING else status.value


def wakes_claimers(outcome: Outcome) -> bool:
    """Whether recording this outcome may make a delivery due: its retry, or the next
    delivery of an ordered webhook."""
    return outcome.claimed.webhook.ordered or outcome.status is AttemptStatus.RETRYING


async def record(session: AsyncSession, owner: str, outcomes: Sequence[Outcome]) -> None:
    """Write a batch of outcomes: delivery states, log entries, diverted records,
    suspensions, and the end of resent diverted events that have now succeeded."""
    now = utcnow()
    table = DELIVERIES
    await session.execute(
        update(table)
        .where(table.c.seq == bindparam("b_seq"), table.c.lease_owner == owner)
        .values(status=bindparam("b_status"), attempt=bindparam("b_attempt"),
                next_attempt_at=bindparam("b_next"), last_error=bindparam("b_error"),
                lease_owner=None, lease_expires_at=None, updated_at=now),
        [{"b_seq": o.claimed.seq, "b_status": row_status(o.status),
          "b_attempt": o.log["attempt"], "b_next": o.next_attempt_at or now,
          "b_error": o.log["error"]} for o in outcomes])
    await session.execute(insert(DELIVERY_LOGS), [o.log for o in outcomes])
    diverted = [o for o in outcomes if o.status is AttemptStatus.DIVERTED]
    if diverted:
        await _divert(session, diverted, now)
    suspend = {o.claimed.webhook.id for o in outcomes if o.suspend}
    if suspend:
        await session.execute(
            update(Webhook).where(Webhook.id.in_(suspend), Webhook.suspended.is_(False))
            .values(suspended=True, suspended_at=now, updated_at=now)
            .execution_options(synchronize_session=False))
    # Only a resend (never `fresh`) can be the delivery of a diverted event's record.
    succeeded = [o.claimed.id for o in outcomes
                 if o.status is AttemptStatus.SUCCEEDED and not o.claimed.fresh]
    if succeeded:
        await session.execute(
            delete(DivertedEvent).where(DivertedEvent.resend_delivery_id.in_(succeeded)))
    # A resend that ended outside the triggers leaves its record resendable again.
    failed = [o.claimed.id for o in outcomes
              if o.status is AttemptStatus.FAILED and not o.claimed.fresh]
    if failed:
        await session.execute(
            update(DivertedEvent).where(DivertedEvent.resend_delivery_id.in_(failed))
            .values(resend_delivery_id=None).execution_options(synchronize_session=False))
    await notify(session, LOGS_CHANNEL,
                 *([OUTBOX_CHANNEL] if any(wakes_claimers(o) for o in outcomes) else []))


async def _divert(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    # A webhook deleted during the attempt takes its diverted events with it; inserting one
    # would break the foreign key and fail the whole batch. The key-share lock keeps the
    # webhooks found here from being deleted before the insert.
    alive = set(await session.scalars(
        select(Webhook.id).where(Webhook.id.in_({o.claimed.webhook.id for o in outcomes}))
        .with_for_update(read=True, key_share=True)))
    for o in (o for o in outcomes if o.claimed.webhook.id in alive):
        values = {"failure_message": o.log["error"] or "", "failure_timestamp": now,
                  "failure_trigger": o.log["failure_trigger"], "delivery_id": o.claimed.id,
                  "request_locator": o.log["id"], "resend_delivery_id": None}
        statement = dialect_insert(session, DivertedEvent).values(
            id=new_id("div"), tenant_id=o.claimed.event.tenant_id,
            webhook_id=o.claimed.webhook.id, event_id=o.claimed.event.id, created_at=now,
            **values)
        await session.execute(statement.on_conflict_do_update(
            index_elements=[DivertedEvent.webhook_id, DivertedEvent.event_id], set_=values))


async def renew_leases(session: AsyncSession, owner: str, seqs: set[int],
                       until: datetime) -> int:
    """The heartbeat of a live process: the leases it holds on the deliveries `seqs` (those
    it is attempting or recording) now last until `until`. A lease of its own it does not
    know of (a hand-off whose commit failed on the way back) is left to run out."""
    renewed = 0
    ordered = sorted(seqs)
    for start in range(0, len(ordered), RENEW_CHUNK):
        renewed += await affected(session,
            update(Delivery)
            .where(Delivery.seq.in_(ordered[start:start + RENEW_CHUNK]),
                   Delivery.lease_owner == owner, Delivery.status == "inflight",
                   Delivery.lease_expires_at < until)
            .values(lease_expires_at=until)
            .execution_options(synchronize_session=False))
    return renewed


async def extend_lease(session: AsyncSession, claimed: Claimed, owner: str,
                       until: datetime) -> bool:
    """Push a claim's lease further out; False if that claim is no longer held (it expired
    and the delivery was claimed again, by this process or another)."""
    result = await affected(session,
        update(Delivery)
        .where(Delivery.seq == claimed.seq, Delivery.lease_owner == owner,
               Delivery.attempt == claimed.attempt, Delivery.status == "inflight")
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False))
    return result > 0


async def release_owned(session: AsyncSession, owner: str) -> int:
    """Give back this process's leases, uncounting the attempts that did not happen."""
    result = await affected(session,
        update(Delivery)
        .where(Delivery.lease_owner == owner, Delivery.status == "inflight")
        .values(status="pending", attempt=Delivery.attempt - 1, lease_owner=None,
                lease_expires_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False))
    return result


async def reap_expired(session: AsyncSession, everything: bool = False) -> int:
    """Make deliveries whose lease ran out (their process died) due again; `everything` takes
    every lease, for a single-process database at start-up."""
    condition = Delivery.status == "inflight"
    if not everything:
        condition = and_(condition, Delivery.lease_expires_at < utcnow())
    result = await affected(session,
        update(Delivery).where(condition)
        .values(status="pending", lease_owner=None, lease_expires_at=None,
                next_attempt_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result:
        await notify(session, OUTBOX_CHANNEL)
    return result


async def release_held(session: AsyncSession, webhook_id: str) -> int:
    """Unsuspend: held deliveries become due, to go out one at a time in event order."""
    result = await affected(session,
        update(Delivery)
        .where(Delivery.webhook_id == webhook_id, Delivery.status == "held")
        .values(status="pending", ordered=True, next_attempt_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result:
        await notify(session, OUTBOX_CHANNEL)
    return result


async def release_stranded(session: AsyncSession, since: datetime | None = None) -> int:
    """Held deliveries of a webhook that is not suspended, left by a publish or an attempt
    that raced an unsuspend, become due as if released by it. `since` limits the look to
    rows written after it (strays are found soon after they are written)."""
    active = select(Webhook.id).where(Webhook.suspended.is_(False))
    condition = and_(Delivery.status == "held", Delivery.webhook_id.in_(active))
    if since is not None:
        condition = and_(condition, Delivery.updated_at >= since)
    result = await affected(session,
        update(Delivery)
        .where(condition)
        .values(status="pending", ordered=True, next_attempt_at=utcnow(), updated_at=utcnow())
        .execution_options(synchronize_session=False))
    if result:
        await notify(session, OUTBOX_CHANNEL)
    return result


async def outlook(session: AsyncSession, after: datetime) -> tuple[datetime | None, int]:
    """After a claim, in its transaction: the earliest due time later than `after` of a
    pending delivery (when the claimer looks next), and the newest delivery's seq (what the
    claimer has now seen)."""
    row = (await session.execute(select(
        _next_due(after).scalar_subquery(),
        select(func.max(Delivery.seq)).scalar_subquery()))).one()
    return row[0], row[1] or 0


def newest_seq_sqlite(conn: sqlite3.Connection) -> int | None:
    """The newest delivery's seq, read on a plain sqlite3 connection (the wake-up follower's,
    on the event loop: an O(1) lookup of the largest rowid); None if it cannot be read."""
    try:
        row = conn.execute(f"SELECT max(seq) FROM {DELIVERIES.name}").fetchone()
    except sqlite3.Error:
        return None
    return row[0] or 0


async def next_due(session: AsyncSession, after: datetime | None = None) -> datetime | None:
    """The earliest due time of a pending delivery (later than `after`, if given)."""
    return await session.scalar(_next_due(after))


def _next_due(after: datetime | None) -> Select[Any]:
    query = select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending")
    if after is not None:
        query = query.where(Delivery.next_attempt_at > after)
    return query


async def queue_stats(session: AsyncSession) -> tuple[int, datetime | None]:
    """How many deliveries are pending or held, and the due time of the oldest due one."""
    depth = await session.scalar(
        select(func.count()).select_from(Delivery).where(Delivery.status.in_(("pending",
                                                                               "held"))))
    return depth or 0, await next_due(session)


async def add_resend(session: AsyncSession, *, diverted_id: str, tenant_id: str,
                     webhook_id: str, event_id: str) -> str:
    """A fresh delivery of a diverted event, marked on its record; the record goes when the
    delivery succeeds. Returns the new delivery's id."""
    now = utcnow()
    delivery_id = new_id("dlv")
    await session.execute(insert(Delivery).values(
        id=delivery_id, tenant_id=tenant_id, event_id=event_id, webhook_id=webhook_id,
        status="pending", ordered=False, attempt=0, next_attempt_at=now, created_at=now,
        updated_at=now))
    await session.execute(
        update(DivertedEvent).where(DivertedEvent.id == diverted_id)
        .values(resend_delivery_id=delivery_id).execution_options(synchronize_session=False))
    await notify(session, OUTBOX_CHANNEL)
    return delivery_id

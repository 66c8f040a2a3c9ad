"""The delivery worker: three loops around the outbox (`storage.deliveries`).

- The claim loop leases due deliveries in batches, only as many as there are free slots, and
  sleeps until it is woken (`delivery.wakeups`) or the next retry falls due, which the claim's
  own transaction tells (`store.outlook`): one transaction per wake-up. It starts each
  delivery as a task: held if its webhook is suspended; otherwise, in its webhook's slot
  and under a lease that covers the attempt, one attempt through `delivery.pipeline`
  (prepare, send, classify, outcome), then its metrics and log line, and the failure alert
  the verdict asks for.
- The record loop writes the outcomes in batched transactions (waiting RECORD_LINGER_S
  after the first for more); an outcome the database refuses is retried alone and, after
  `POISON_TRIES`, finished as failed (SPEC §8.16).
- The reap loop renews this process's leases and makes dead processes' deliveries due again.

`stop` stops claiming, lets attempts in flight finish within a grace, records what they gave
and gives the remaining leases back, each bounded in time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from flowhooks_server import metrics
from flowhooks_server.clock import utcnow
from flowhooks_server.delivery import pipeline
from flowhooks_server.delivery.transport import Transport
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.attempts import AttemptStatus, Bodies, Verdict
from flowhooks_server.domain.webhooks import MAX_TIMEOUT_S
from flowhooks_server.ids import new_id
from flowhooks_server.storage import deliveries as store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.errors import is_outage

log = logging.getLogger("flowhooks.delivery")

LEASE_MARGIN_S = 15.0
IDLE_POLL_S = 1.0  # a safety net only: new work, retries and unblocked heads all wake it
REAP_EVERY_S = 5.0
# Renewed every REAP_EVERY_S: covers the longest attempt (30 s) with room to spare.
LEASE_RENEWAL = timedelta(seconds=MAX_TIMEOUT_S + LEASE_MARGIN_S)
STRANDED_LOOKBACK = timedelta(minutes=5)  # ≫ REAP_EVERY_S; start-up looks at everything
ALERT_TIMEOUT_S = 10.0
RECORD_RETRY_S = 0.5
RECORD_LINGER_S = 0.02
POISON_TRIES = 3  # recordings of one outcome alone before it is finished as failed
RELEASE_TIMEOUT_S = 1.5  # each of: recording the last outcomes, releasing the leases


class DeliveryWorker:
    def __init__(self, db: Database, sender: Transport, wakeups: Wakeups, *, batch: int = 256,
                 concurrency: int = 512, per_webhook: int = 64) -> None:
        self._db = db
        self._transport = sender
        self._wakeups = wakeups
        self._batch = batch
        self._concurrency = concurrency
        self._per_webhook = per_webhook
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self._inflight: set[asyncio.Task] = set()
        self._alerts: set[asyncio.Task] = set()
        self._free = concurrency  # attempt slots; a claim takes at most this many
        self._slot_freed = asyncio.Event()
        self._leased: set[int] = set()  # seqs leased here and not yet recorded
        self._webhook_slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_webhook))
        self._outcomes: list[store.Outcome] = []
        self._poison: dict[int, int] = {}  # failed recordings alone, by delivery seq
        self._have_outcomes = asyncio.Event()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def start(self, single_process: bool) -> None:
        async with self._db.session() as session, session.begin():
            await store.reap_expired(session, everything=single_process)
            await store.release_stranded(session)
        self._tasks = [asyncio.create_task(self._claim_loop(), name="delivery-claim"),
                       asyncio.create_task(self._record_loop(), name="delivery-record"),
                       asyncio.create_task(self._reap_loop(), name="delivery-reap")]

    async def stop(self, grace_s: float) -> None:
        """Stop claiming, let attempts in flight finish within `grace_s`, give back the rest."""
        self._stopping.set()
        self._wakeups.outbox_changed()
        claim, record, reap = self._tasks
        reap.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await claim
        if self._inflight or self._alerts:
            await asyncio.wait(self._inflight | self._alerts, timeout=grace_s)
        for task in self._inflight:
            task.cancel()
        await asyncio.gather(*self._inflight, return_exceptions=True)
        self._have_outcomes.set()
        # Bounded whatever the database does: what is not recorded by then is left to its
        # leases, which run out and are reaped, as after a crash (at-least-once holds).
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S):
                await record
            async with asyncio.timeout(RELEASE_TIMEOUT_S), self._db.session() as session, \
                    session.begin():
                released = await store.release_owned(session, self.owner)
        except Exception as exc:  # noqa: BLE001 - TimeoutError or a database error
            record.cancel()
            log.warning("stopped without recording every outcome or releasing leases",
                        extra={"unrecorded": len(self._outcomes), "error": type(exc).__name__})
            return
        if released:
            log.info("leases released", extra={"count": released})

    # -- claiming -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeups.outbox.clear()
            try:
                claimed, delay = await self._claim()
            except Exception:
                log.exception("claim failed")
                await self._sleep(IDLE_POLL_S)
                continue
            if claimed == self._batch:
                await asyncio.sleep(0)
                continue
            await self._sleep(delay)

    async def _claim(self) -> tuple[int, float]:
        """Lease what is due, no more than can start now, and start it. Returns how many
        were claimed and how long to sleep before looking again unless woken."""
        while self._free <= 0:
            self._slot_freed.clear()
            await self._slot_freed.wait()
        limit = min(self._free, self._batch)
        async with self._db.session() as session, session.begin():
            claimed = await store.claim(session, self.owner, limit, LEASE_MARGIN_S)
            now = utcnow()
            # A full claim means more may be due: look again at once. Otherwise, what is
            # still due is an ordered delivery behind an unfinished head, whose outcome wakes
            # us; sleep until the next retry falls due.
            full = len(claimed) == limit
            due, newest = (None, 0) if full else await store.outlook(session, after=now)
        self._wakeups.deliveries_seen(newest)
        bodies = Bodies()  # a fan-out renders once
        self._start(claimed, bodies)
        if full:
            return len(claimed), 0.0
        if due is None:
            return len(claimed), IDLE_POLL_S
        return len(claimed), min(max((due - now).total_seconds(), 0.0), IDLE_POLL_S)

    def _start(self, jobs: Sequence[store.Claimed], bodies: Bodies) -> None:
        self._free -= len(jobs)
        for job in jobs:
            self._leased.add(job.seq)
            task = asyncio.create_task(self._attempt(job, bodies))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    # -- hand-off (`delivery.handoff`) ----------------------------------------------------

    def lease(self) -> store.Lease | None:
        """A lease for deliveries made in this process, while slots are free."""
        if self._stopping.is_set() or not self._tasks or self._free <= 0:
            return None
        return store.Lease(self.owner, min(self._free, self._batch), LEASE_MARGIN_S)

    def take(self, jobs: Sequence[store.Claimed]) -> None:
        """Deliveries leased by `lease`, committed: attempted as if claimed. Once stopping,
        they are left to `stop`, which gives every lease of this worker back."""
        if self._stopping.is_set():
            return
        self._start(jobs, Bodies())
        self._wakeups.deliveries_seen(max(job.seq for job in jobs))

    async def _sleep(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wakeups.outbox.wait()

    async def _reap_loop(self) -> None:
        while True:
            await asyncio.sleep(REAP_EVERY_S)
            try:
                async with self._db.session() as session, session.begin():
                    # Our own claims first: queued behind a slow webhook they may outlive
                    # their first lease, and only a dead process's leases may run out.
                    await store.renew_leases(session, self.owner, set(self._leased),
                                             utcnow() + LEASE_RENEWAL)
                    reaped = await store.reap_expired(session)
                    released = await store.release_stranded(
                        session, since=utcnow() - STRANDED_LOOKBACK)
                if reaped or released:
                    self._wakeups.outbox_changed()
                async with self._db.session(readonly=True) as session:
                    depth, oldest = await store.queue_stats(session)
                metrics.QUEUE_DEPTH.set(depth)
                metrics.OLDEST_PENDING_AGE.set(
                    max((utcnow() - oldest).total_seconds(), 0) if oldest else 0)
            except Exception:
                log.exception("reaping leases failed")

    # -- attempting -----------------------------------------------------------------------

    async def _attempt(self, job: store.Claimed, bodies: Bodies) -> None:
        """One claimed delivery: held, or (in its webhook's slot, under a lease that covers
        it) attempted through `delivery.pipeline`; either way its outcome goes to recording."""
        try:
            if job.webhook.suspended:
                self._push(pipeline.held(job))
                return
            async with self._webhook_slots[job.webhook.id]:
                if not await self._lease_covers_attempt(job):
                    self._leased.discard(job.seq)  # another process holds it now
                    return
                try:
                    done = await pipeline.attempt(job, self._transport, bodies)
                    self._observe(job, done)
                    self._alert_if_asked(job, done.verdict)
                    outcome = done.outcome
                except Exception as exc:
                    # Unrecorded, the delivery would be reaped and attempted again forever.
                    log.exception("delivery attempt crashed", extra={"delivery": job.id})
                    outcome = pipeline.crashed(job, exc)
            self._push(outcome)
        finally:
            self._free += 1
            self._slot_freed.set()

    async def _lease_covers_attempt(self, job: store.Claimed) -> bool:
        """A delivery that waited for its webhook's slot may have little lease left: extend
        it so the attempt ends well inside it (no second concurrent attempt elsewhere)."""
        needed = timedelta(seconds=job.webhook.timeout_s + LEASE_MARGIN_S / 2)
        if job.lease_expires_at - utcnow() >= needed:
            return True
        until = utcnow() + needed + timedelta(seconds=LEASE_MARGIN_S / 2)
        async with self._db.session() as session, session.begin():
            kept = await store.extend_lease(session, job, self.owner, until)
        if not kept:
            log.warning("lease lost before the attempt", extra={"delivery": job.id})
        return kept

    @staticmethod
    def _observe(job: store.Claimed, done: pipeline.Attempt) -> None:
        """Metrics and the log line of an attempt made."""
        sent, status = done.sent, done.verdict.status.value
        metrics.DELIVERY_SECONDS.observe(sent.duration_ms / 1000)
        metrics.DELIVERIES.labels(outcome=status).inc()
        log.info("delivery attempt", extra={
            "webhook": job.webhook.id, "event": job.event.id, "delivery": job.id,
            "attempt": job.attempt, "status": status, "http_status": sent.result.status,
            "error": done.verdict.error, "duration_ms": sent.duration_ms})

    def _alert_if_asked(self, job: store.Claimed, verdict: Verdict) -> None:
        if not verdict.alert_endpoint:
            return
        # Held by reference: the event loop keeps only weak references to tasks.
        alert = asyncio.create_task(self._alert(verdict.alert_endpoint, job.webhook.id,
                                                job.event.id, verdict.trigger, verdict.error))
        self._alerts.add(alert)
        alert.add_done_callback(self._alerts.discard)

    async def _alert(self, url: str, webhook_id: str, event_id: str, trigger: str | None,
                     message: str | None) -> None:
        body = json.dumps({"webhook": webhook_id, "eventLocator": event_id,
                           "failureTrigger": trigger or "", "failureMessage": message or ""}
                          ).encode()
        sent = await self._transport.post(url, body, [("Content-Type", "application/json")],
                                       ALERT_TIMEOUT_S)
        log.info("failure alert sent", extra={"webhook": webhook_id, "event": event_id,
                                              "http_status": sent.result.status,
                                              "error": sent.result.error})

    # -- recording ------------------------------------------------------------------------

    def _push(self, outcome: store.Outcome) -> None:
        self._outcomes.append(outcome)
        self._have_outcomes.set()

    async def _record_loop(self) -> None:
        while True:
            await self._have_outcomes.wait()
            # Outcomes of attempts finishing meanwhile share the transaction: nobody waits on
            # a recording (the attempt is made), and at a trickle each would cost its own.
            if len(self._outcomes) < self._batch:
                await self._pause(RECORD_LINGER_S)
            self._have_outcomes.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                if self._stopping.is_set() and not self._inflight:
                    return
                continue
            started = time.perf_counter()
            left = await self._record(batch)
            if left:
                # Not recorded (the database is away): try again soon, after newer outcomes.
                self._outcomes = left + self._outcomes
                await self._pause(RECORD_RETRY_S)
                self._have_outcomes.set()
            self._wakeups.logs_written()
            if any(store.wakes_claimers(o) for o in batch):
                self._wakeups.outbox_changed()
            log.debug("outcomes recorded", extra={
                "count": len(batch) - len(left),
                "ms": round((time.perf_counter() - started) * 1000)})
            if self._stopping.is_set() and not self._inflight and not self._outcomes:
                return

    async def _record(self, batch: list[store.Outcome]) -> list[store.Outcome]:
        """Record a batch; what cannot be recorded now (the database is away) comes back.

        A batch that fails for another reason is recorded one outcome at a time, so one
        poison outcome (a value the database refuses) never blocks the others (SPEC §8.16).
        An outcome that fails alone `POISON_TRIES` times is finished as `failed` with the
        reason instead, so it is not attempted again and again after every restart."""
        if len(batch) == 1:
            return await self._record_alone(batch[0])
        try:
            await self._write(batch)
            return []
        except Exception as exc:  # noqa: BLE001 - sorted out below
            if is_outage(exc):
                log.warning("recording outcomes failed: the database is unavailable",
                            extra={"count": len(batch), "error": type(exc).__name__})
                return batch
            log.warning("recording a batch of outcomes failed; recording them one by one",
                        extra={"count": len(batch), "error": type(exc).__name__})
        left: list[store.Outcome] = []
        for outcome in batch:
            left += await self._record_alone(outcome)
        return left

    async def _record_alone(self, outcome: store.Outcome) -> list[store.Outcome]:
        try:
            await self._write([outcome])
            self._poison.pop(outcome.claimed.seq, None)
            return []
        except Exception as exc:  # noqa: BLE001
            if is_outage(exc):
                return [outcome]
            tries = self._poison[outcome.claimed.seq] = self._poison_tries(outcome) + 1
            log.warning("an outcome could not be recorded", extra={
                "delivery": outcome.claimed.id, "tries": tries, "error": type(exc).__name__})
            if tries < POISON_TRIES:
                return [outcome]
            reason = type(exc).__name__
        self._poison.pop(outcome.claimed.seq, None)
        finished = _unrecordable(outcome, reason)
        try:
            await self._write([finished])
            return []
        except Exception as again:  # noqa: BLE001
            # Even the bare entry is refused: leave the lease to run out, as after a crash.
            log.error("a delivery's outcome could not be recorded at all", extra={
                "delivery": outcome.claimed.id, "error": type(again).__name__})
            if not is_outage(again):
                self._leased.discard(outcome.claimed.seq)  # its lease runs out: reaped
            return [finished] if is_outage(again) else []

    def _poison_tries(self, outcome: store.Outcome) -> int:
        return self._poison.get(outcome.claimed.seq, 0)

    async def _write(self, outcomes: list[store.Outcome]) -> None:
        async with self._db.session() as session, session.begin():
            await store.record(session, self.owner, outcomes)
        self._leased.difference_update(o.claimed.seq for o in outcomes)

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short when the worker is told to stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._stopping.wait()


def _unrecordable(outcome: store.Outcome, reason: str) -> store.Outcome:
    """The bare failed entry of an outcome the database refused: no response body, no
    divert, no suspension; only the reason."""
    job, entry = outcome.claimed, outcome.log
    bare = store.log_row(
        tenant_id=entry["tenant_id"], webhook_id=entry["webhook_id"], delivery_id=job.id,
        event_id=entry["event_id"], event_type=entry["event_type"], attempt=entry["attempt"],
        status=AttemptStatus.FAILED, url=entry["url"], now=utcnow(),
        response_status_code=entry["response_status_code"], duration_ms=entry["duration_ms"],
        error=f"the outcome could not be recorded ({reason}); the delivery is "
              "finished as failed", log_id=entry["id"])
    return store.Outcome(job, AttemptStatus.FAILED, bare)

"""The delivery worker: claims due deliveries in batches, attempts them concurrently (bounded
overall and per webhook), decides what each result means, and records outcomes in batched
transactions. Final failures divert, suspend and alert as the webhook says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
from collections import defaultdict
from datetime import datetime, timedelta

from flowhooks_server import metrics
from flowhooks_server.delivery.sender import Sender
from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.domain.payloads import EventView, delivery_headers, render_body
from flowhooks_server.domain.retries import decide
from flowhooks_server.domain.webhooks import MAX_TIMEOUT_S, FailureHandling
from flowhooks_server.ids import new_id
from flowhooks_server.storage import deliveries as store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import utcnow

log = logging.getLogger("flowhooks.delivery")

ROTATION_OVERLAP = timedelta(hours=24)
LEASE_MARGIN_S = 15.0
IDLE_POLL_S = 0.25
REAP_EVERY_S = 5.0
# Renewed every REAP_EVERY_S: covers the longest attempt (30 s) with room to spare.
LEASE_RENEWAL = timedelta(seconds=MAX_TIMEOUT_S + LEASE_MARGIN_S)
STRANDED_LOOKBACK = timedelta(minutes=5)  # ≫ REAP_EVERY_S; start-up looks at everything
ALERT_TIMEOUT_S = 10.0


class DeliveryWorker:
    def __init__(self, db: Database, sender: Sender, wakeups: Wakeups, *, batch: int = 256,
                 concurrency: int = 512, per_webhook: int = 64):
        self._db = db
        self._sender = sender
        self._wakeups = wakeups
        self._batch = batch
        self._concurrency = concurrency
        self._per_webhook = per_webhook
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{new_id('w')[-8:]}"
        self._inflight: set[asyncio.Task] = set()
        self._alerts: set[asyncio.Task] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._webhook_slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(per_webhook))
        self._outcomes: list[store.Outcome] = []
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
        await record
        async with self._db.session() as session, session.begin():
            released = await store.release_owned(session, self.owner)
        if released:
            log.info("leases released", extra={"count": released})

    # -- claiming -------------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        while not self._stopping.is_set():
            self._wakeups.outbox.clear()
            try:
                claimed = await self._claim()
            except Exception:
                log.exception("claim failed")
                await self._sleep(IDLE_POLL_S)
                continue
            if len(claimed) == self._batch:
                await asyncio.sleep(0)
                continue
            await self._sleep(await self._idle_delay(bool(claimed)))

    async def _claim(self) -> list[store.Claimed]:
        async with self._db.session(readonly=True) as session:
            if not await store.anything_due(session):
                return []
        # Claim only what can start now: wait for free slots first.
        await self._slots.acquire()
        free = 1
        while free < self._batch and not self._slots.locked():
            await self._slots.acquire()
            free += 1
        try:
            async with self._db.session() as session, session.begin():
                claimed = await store.claim(session, self.owner, free, LEASE_MARGIN_S)
        except BaseException:
            for _ in range(free):
                self._slots.release()
            raise
        for _ in range(free - len(claimed)):
            self._slots.release()
        bodies: dict[tuple[str, str], tuple[bytes, str]] = {}  # a fan-out renders once
        for job in claimed:
            task = asyncio.create_task(self._attempt(job, bodies))
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
        return claimed

    async def _idle_delay(self, claimed_some: bool) -> float:
        if claimed_some:
            return 0  # more may be due now
        # Deliveries due but not claimable (ordered, behind an unfinished head) wait for that
        # head to finish, which wakes us; sleep until the next retry falls due.
        now = utcnow()
        async with self._db.session(readonly=True) as session:
            due = await store.next_due(session, after=now)
        if due is None:
            return IDLE_POLL_S
        return min((due - now).total_seconds(), IDLE_POLL_S)

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
                    await store.renew_leases(session, self.owner, utcnow() + LEASE_RENEWAL)
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

    async def _attempt(self, job: store.Claimed, bodies: dict) -> None:
        try:
            if job.webhook.suspended:
                self._push(_held(job))
                return
            async with self._webhook_slots[job.webhook.id]:
                if not await self._lease_covers_attempt(job):
                    return
                try:
                    outcome = await self._send(job, bodies)
                except Exception as exc:
                    # Unrecorded, the delivery would be reaped and attempted again forever.
                    log.exception("delivery attempt crashed", extra={"delivery": job.id})
                    outcome = _crashed(job, exc)
            self._push(outcome)
        finally:
            self._slots.release()

    async def _lease_covers_attempt(self, job: store.Claimed) -> bool:
        """A delivery that waited for its webhook's slot may have little lease left: extend
        it so the attempt ends well inside it (no second concurrent attempt elsewhere)."""
        needed = timedelta(seconds=job.webhook.timeout_ms / 1000 + LEASE_MARGIN_S / 2)
        if job.lease_expires_at - utcnow() >= needed:
            return True
        until = utcnow() + needed + timedelta(seconds=LEASE_MARGIN_S / 2)
        async with self._db.session() as session, session.begin():
            kept = await store.extend_lease(session, job, self.owner, until)
        if not kept:
            log.warning("lease lost before the attempt", extra={"delivery": job.id})
        return kept

    async def _send(self, job: store.Claimed, bodies: dict) -> store.Outcome:
        hook, event = job.webhook, job.event
        key = (event.id, hook.format)
        if key not in bodies:
            bodies[key] = render_body(_view(event), hook.format)
        body, content_type = bodies[key]
        now = utcnow()
        headers = delivery_headers(msg_id=event.id, timestamp=int(now.timestamp()), body=body,
                                   content_type=content_type, custom=hook.headers,
                                   secrets=_signing_secrets(hook, now))
        sent = await self._sender.post(hook.url, body, headers, hook.timeout_ms / 1000)
        metrics.DELIVERY_SECONDS.observe(sent.duration_ms / 1000)
        policy = FailureHandling.from_json(hook.failure_handling)
        decided_at = utcnow()
        decision = decide(sent.result, job.attempt, policy, decided_at)
        final = decision.status == "final"
        log_status = {"final": "diverted" if policy.divert else "failed"}.get(
            decision.status, decision.status)
        delivery_status = {"retrying": "pending"}.get(log_status, log_status)
        metrics.DELIVERIES.labels(outcome=log_status).inc()
        error = sent.result.error
        if error is None and not sent.result.ok:
            error = f"receiver answered {sent.result.status}"
        entry = store.log_row(
            tenant_id=event.tenant_id, webhook_id=hook.id, delivery_id=job.id,
            event_id=event.id, event_type=event.type, attempt=job.attempt, status=log_status,
            url=hook.url, now=decided_at, response_status_code=sent.result.status,
            response_body=sent.response_body, duration_ms=sent.duration_ms, error=error,
            failure_trigger=decision.trigger, next_attempt_at=decision.next_attempt_at)
        log.info("delivery attempt", extra={
            "webhook": hook.id, "event": event.id, "delivery": job.id, "attempt": job.attempt,
            "status": log_status, "http_status": sent.result.status, "error": error,
            "duration_ms": sent.duration_ms})
        if final and policy.alert_endpoint:
            # Held by reference: the event loop keeps only weak references to tasks.
            alert = asyncio.create_task(self._alert(policy.alert_endpoint, hook.id, event.id,
                                                    decision.trigger, error))
            self._alerts.add(alert)
            alert.add_done_callback(self._alerts.discard)
        return store.Outcome(job, delivery_status, entry, decision.next_attempt_at,
                             divert=final and policy.divert, suspend=final and policy.suspend)

    async def _alert(self, url: str, webhook_id: str, event_id: str, trigger: str | None,
                     message: str | None) -> None:
        body = json.dumps({"webhook": webhook_id, "eventLocator": event_id,
                           "failureTrigger": trigger or "", "failureMessage": message or ""}
                          ).encode()
        sent = await self._sender.post(url, body, [("Content-Type", "application/json")],
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
            self._have_outcomes.clear()
            batch, self._outcomes = self._outcomes, []
            if not batch:
                if self._stopping.is_set() and not self._inflight:
                    return
                continue
            started = time.perf_counter()
            while True:
                try:
                    async with self._db.session() as session, session.begin():
                        await store.record(session, self.owner, batch)
                    break
                except Exception:
                    log.exception("recording outcomes failed; retrying")
                    await asyncio.sleep(0.5)
            self._wakeups.logs_written()
            if any(o.claimed.webhook.ordered or o.status == "pending" for o in batch):
                self._wakeups.outbox_changed()
            log.debug("outcomes recorded", extra={
                "count": len(batch), "ms": round((time.perf_counter() - started) * 1000)})
            if self._stopping.is_set() and not self._inflight and not self._outcomes:
                return


def _view(event) -> EventView:
    return EventView(event.id, event.type, event.tenant_id, event.workflow_id,
                     event.created_at, event.data)


def _signing_secrets(hook, now: datetime) -> list[str]:
    secrets = [hook.secret] if hook.secret else []
    if hook.previous_secret and hook.secret_rotated_at \
            and now - hook.secret_rotated_at < ROTATION_OVERLAP:
        secrets.append(hook.previous_secret)
    return secrets


def _crashed(job: store.Claimed, exc: Exception) -> store.Outcome:
    event = job.event
    entry = store.log_row(
        tenant_id=event.tenant_id, webhook_id=job.webhook.id, delivery_id=job.id,
        event_id=event.id, event_type=event.type, attempt=job.attempt, status="failed",
        url=job.webhook.url, now=utcnow(), error=f"internal error: {type(exc).__name__}")
    return store.Outcome(job, "failed", entry)


def _held(job: store.Claimed) -> store.Outcome:
    event = job.event
    entry = store.log_row(
        tenant_id=event.tenant_id, webhook_id=job.webhook.id, delivery_id=job.id,
        event_id=event.id, event_type=event.type, attempt=job.attempt - 1, status="held",
        url=job.webhook.url, now=utcnow(), error="webhook is suspended")
    return store.Outcome(job, "held", entry)

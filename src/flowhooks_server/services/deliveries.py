"""What users see and steer of deliveries: logs (paged and watched), the test endpoint, and
diverted events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

from flowhooks_server.delivery.feed import LogFeed
from flowhooks_server.domain.delivery_logs import DivertedEvent, LogEntry, LogFilter, Position
from flowhooks_server.domain.errors import InvalidArgument, NotFound, Unavailable, found
from flowhooks_server.domain.webhooks import Webhook
from flowhooks_server.ids import new_id
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage import deliveries as delivery_store
from flowhooks_server.storage import diverted as diverted_store
from flowhooks_server.storage import logs as log_store
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.db import Database

TEST_EVENT_TYPE = "workflow.completed"
TEST_WAIT_MARGIN_S = 5.0
BAD_CURSOR = "must be the cursor of an earlier log entry"
MAX_PART = 2**63 - 1  # each part of a cursor is a 64-bit value
MAX_DIGITS = len(str(MAX_PART))  # checked before int(), which refuses huge strings itself


def format_cursor(entry: LogEntry) -> str:
    """The cursor of a log entry: its position `(txid, seq)` (see `storage.logs`) as
    `<txid>.<seq>`. Clients treat it as opaque."""
    txid, seq = entry.position
    return f"{txid}.{seq}"


def parse_cursor(raw: str) -> Position | int | None:
    """A position from `<txid>.<seq>`; a bare `<seq>` (the cursor of earlier versions) is
    returned as an int, for `DeliveryLogs.watch` to look up; None (from now) when empty."""
    if not raw:
        return None
    parts = raw.split(".")
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() and len(p) <= MAX_DIGITS
                                 and int(p) <= MAX_PART for p in parts):
        raise InvalidArgument([("cursor", BAD_CURSOR)])
    if len(parts) == 1:
        return int(raw)
    return Position(int(parts[0]), int(parts[1]))


async def _require_webhook(db: Database, tenant: str, webhook_id: str) -> Webhook:
    async with db.session(readonly=True) as session:
        return found(await webhook_store.get(session, tenant, webhook_id), "webhook",
                     webhook_id)


class DeliveryLogs:
    def __init__(self, db: Database, feed: LogFeed) -> None:
        self._db = db
        self._feed = feed

    async def of_webhook(self, tenant: str, webhook_id: str, limit: int,
                         offset: int) -> list[LogEntry]:
        await _require_webhook(self._db, tenant, webhook_id)
        async with self._db.session(readonly=True) as session:
            return await log_store.newest_first(
                session, LogFilter(tenant, webhook_id), limit, offset)

    async def all(self, tenant: str, event_type: str, limit: int,
                  offset: int) -> list[LogEntry]:
        async with self._db.session(readonly=True) as session:
            return await log_store.newest_first(
                session, LogFilter(tenant, event_type=event_type or None), limit, offset)

    async def watch(self, tenant: str, webhook_id: str, event_type: str,
                    cursor: Position | int | None) -> AsyncIterator[LogEntry]:
        """Check the request and fix where the watch starts (now, when `cursor` is None)
        before anything is streamed: an unknown webhook is an error status, not a stream
        that opens and then fails, and "now" is the moment the stream opened.

        A bare seq (an int) is the position of that entry (see `log_store.position_of_seq`).
        A cursor past anything written is refused: it was never handed out, and the entries
        up to it would never be shown."""
        if webhook_id:
            await _require_webhook(self._db, tenant, webhook_id)
        where = LogFilter(tenant, webhook_id, event_type)
        async with self._db.session(readonly=True) as session:
            now = await log_store.now(session)
            if cursor is None:
                return self._feed.watch(where, now.position, now.seen)
            if isinstance(cursor, int):
                if cursor > now.last_seq:
                    raise InvalidArgument([("cursor", BAD_CURSOR)])
                cursor = await log_store.position_of_seq(session, cursor)
        if cursor.seq > now.last_seq or cursor > now.position:
            raise InvalidArgument([("cursor", BAD_CURSOR)])
        return self._feed.watch(where, cursor)


class WebhookTester:
    """`POST /webhooks/{id}/test`: a test event through the real pipeline, answered with the
    log entry of its first attempt."""

    def __init__(self, db: Database, outbox: Outbox, feed: LogFeed) -> None:
        self._db = db
        self._outbox = outbox
        self._feed = feed

    async def test(self, tenant: str, webhook_id: str) -> LogEntry:
        hook = await _require_webhook(self._db, tenant, webhook_id)
        run_id = new_id("run")
        published = await self._outbox.publish(
            tenant, TEST_EVENT_TYPE,
            {"workflow_run_id": run_id, "workflow_id": "test", "workflow_name": "test",
             "status": "succeeded", "test": True},
            workflow_id="test", workflow_run_id=run_id, only_webhook=webhook_id)
        delivery_id = published.delivery_ids[0]
        entry = await self._feed.first_entry(
            delivery_id, hook.spec.timeout_s + TEST_WAIT_MARGIN_S)
        if entry is None:
            raise Unavailable(f"the test delivery {delivery_id} was not attempted in time")
        return entry


class DivertedEvents:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self._db = db
        self._outbox = outbox

    async def list(self, tenant: str, webhook_id: str, limit: int,
                   offset: int) -> list[DivertedEvent]:
        await _require_webhook(self._db, tenant, webhook_id)
        async with self._db.session(readonly=True) as session:
            return await diverted_store.page(session, tenant, webhook_id, limit, offset)

    async def get(self, tenant: str, webhook_id: str, event_id: str) -> DivertedEvent:
        async with self._db.session(readonly=True) as session:
            return found(await diverted_store.get(session, tenant, webhook_id, event_id),
                         "diverted event", event_id)

    async def resend(self, tenant: str, webhook_id: str,
                     event_id: str) -> DivertedEvent:
        """Resend a diverted event once: while a resend is pending, asking again changes
        nothing."""
        async with self._db.session() as session, session.begin():
            record = found(
                await diverted_store.get(session, tenant, webhook_id, event_id, True),
                "diverted event", event_id)
            if record.resend_delivery_id is None:
                record = replace(record, resend_delivery_id=await delivery_store.add_resend(
                    session, diverted_id=record.id, tenant_id=record.tenant_id,
                    webhook_id=record.webhook_id, event_id=record.event_id))
        self._outbox.committed()
        return record

    async def delete(self, tenant: str, webhook_id: str, event_id: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await diverted_store.remove(session, tenant, webhook_id, event_id):
                raise NotFound(f"diverted event {event_id!r} not found")

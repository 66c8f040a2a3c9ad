"""Delivery log entries: pages for the list endpoints, and runs in log order for watchers.

An entry's place in the log is its position `(txid, seq)`: the id of the transaction that
wrote it (a server default, `pg_current_xact_id()`), then its insertion order. A watch cursor
is a position, and a watcher resuming from one reads the entries after it. For that to miss
nothing, no entry may ever appear before a position that has been handed out.

`seq` alone cannot promise that on PostgreSQL: several writers (processes, or transactions of
one process) take seqs when they insert but commit in any order, so a smaller seq can become
visible after a larger one was read. Transaction ids are taken in the same racy way; what
makes them work is the **watermark**, the `xmin` of the reader's snapshot: every transaction
with a smaller id has finished (committed or rolled back), and every transaction still running
or yet to start has an id at least that large. Readers return only entries whose txid is below
the watermark, ordered by position. Everything below it is final, so the log read that way
only ever grows at its end, and "after the cursor" can never skip an entry.

An entry becomes readable once every transaction that took its id before the entry's own has
finished. Our writers' transactions are short (milliseconds), but the watermark is the whole
cluster's: a long writing transaction anywhere on the server (read-only ones take no id) holds
back entries written after it until it ends. The feed (`delivery.feed`) polls briefly while
entries are held back, so the delay is about as long as the writer that causes it.

On SQLite there is one writer at a time, so `seq` order is commit order: txid is 0 there, and
the position is `(0, seq)`. Entries written before positions existed have txid 0 as well,
before every later one, in `seq` order.

Readers get domain `LogEntry` values (`to_domain`); rows stay here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.domain.delivery_logs import LogEntry, LogFilter, Position
from flowhooks_server.storage.models import DeliveryLog

# The current snapshot, as text `xmin:xmax:xip,...` (PostgreSQL 13+).
_SNAPSHOT = text("SELECT pg_current_snapshot()::text")
_WATERMARK = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_PG_LAST_SEQ = text(
    "SELECT pg_sequence_last_value(pg_get_serial_sequence('delivery_logs', 'seq')::regclass)")
_SQLITE_LAST_SEQ = text("SELECT seq FROM sqlite_sequence WHERE name = 'delivery_logs'")


def to_domain(row: DeliveryLog) -> LogEntry:
    return LogEntry(
        id=row.id, position=Position(row.txid or 0, row.seq), tenant_id=row.tenant_id,
        webhook_id=row.webhook_id, delivery_id=row.delivery_id, event_id=row.event_id,
        event_type=row.event_type, attempt=row.attempt, status=row.status, url=row.url,
        response_status_code=row.response_status_code, response_body=row.response_body,
        duration_ms=row.duration_ms, error=row.error, failure_trigger=row.failure_trigger,
        created_at=row.created_at, next_attempt_at=row.next_attempt_at)


@dataclass(frozen=True)
class Snapshot:
    """Which transactions' entries a PostgreSQL snapshot sees: those of every transaction
    below `xmin`, and of those up to `xmax` that were not running then."""

    xmin: int
    xmax: int
    running: frozenset[int]

    @classmethod
    def parse(cls, raw: str) -> Snapshot:
        xmin, xmax, running = raw.split(":")
        return cls(int(xmin), int(xmax), frozenset(int(x) for x in running.split(",") if x))

    def saw(self, txid: int) -> bool:
        return txid < self.xmin or (txid < self.xmax and txid not in self.running)


@dataclass(frozen=True)
class Now:
    """Where a watch "from now" starts: after `position`, skipping the entries `seen` (a
    snapshot, on PostgreSQL) says were already visible. `last_seq` is the largest seq ever
    taken: no cursor handed out can have a larger one."""

    position: Position
    last_seq: int
    seen: Snapshot | None = None


def _selected(where: LogFilter, query: Select[DeliveryLog]
              ) -> Select[DeliveryLog]:
    """`query` narrowed to the entries `where` selects (as `LogFilter.matches` does)."""
    if where.tenant_id is not None:
        query = query.where(DeliveryLog.tenant_id == where.tenant_id)
    if where.webhook_id:
        query = query.where(DeliveryLog.webhook_id == where.webhook_id)
    if where.event_type:
        query = query.where(DeliveryLog.event_type == where.event_type)
    return query


def _postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _after(session: AsyncSession, position: Position) -> ColumnElement[bool]:
    if _postgres(session):
        return tuple_(DeliveryLog.txid, DeliveryLog.seq) > tuple_(*position)
    # Every txid is 0 on SQLite, whose planner ranges an index over this but not over a row
    # comparison.
    return and_(DeliveryLog.txid == position.txid, DeliveryLog.seq > position.seq)


async def newest_first(session: AsyncSession, where: LogFilter, limit: int,
                       offset: int) -> list[LogEntry]:
    query = _selected(where, select(DeliveryLog)).order_by(DeliveryLog.txid.desc(),
                                                           DeliveryLog.seq.desc())
    return [to_domain(row) for row in await session.scalars(query.limit(limit).offset(offset))]


@dataclass(frozen=True)
class Released:
    entries: list[LogEntry]
    # Committed entries wait behind the watermark (a writer that began before them is still
    # running): reading again soon will find more, though no write announces them.
    held_back: bool = False


async def released_after(session: AsyncSession, where: LogFilter, position: Position,
                         limit: int, note_held_back: bool = False) -> Released:
    """Up to `limit` entries after `position`, in log order, of those below the watermark
    (all of them, on SQLite): nothing can ever appear between them later."""
    query = _selected(where, select(DeliveryLog).where(_after(session, position)))
    below = await session.scalar(_WATERMARK) if _postgres(session) else None
    if below is not None:
        query = query.where(DeliveryLog.txid < below)
    rows = [to_domain(row) for row in await session.scalars(
        query.order_by(DeliveryLog.txid, DeliveryLog.seq).limit(limit))]
    held = False
    if note_held_back and below is not None and len(rows) < limit:
        # Compared with the watermark the rows were read below (a later snapshot's may be
        # larger), so that what the read left out is seen here.
        held = await session.scalar(select(DeliveryLog.seq).where(
            DeliveryLog.txid >= below).limit(1)) is not None
    return Released(rows, held)


async def now(session: AsyncSession) -> Now:
    if _postgres(session):
        seen = Snapshot.parse(await session.scalar(_SNAPSHOT))
        last_seq = await session.scalar(_PG_LAST_SEQ) or 0
        return Now(Position(seen.xmin, 0), last_seq, seen)
    last_seq = await session.scalar(_SQLITE_LAST_SEQ) or 0
    return Now(Position(0, last_seq), last_seq)


async def position_of_seq(session: AsyncSession, seq: int) -> Position:
    """The position of the entry `seq`, for the bare-seq cursors of earlier versions. Those
    entries have txid 0; an entry that is gone (pruned) is taken to be one of them, which
    resumes too early (entries repeat) rather than too late."""
    txid = await session.scalar(select(DeliveryLog.txid).where(DeliveryLog.seq == seq))
    return Position(txid or 0, seq)


async def first_of_delivery(session: AsyncSession, delivery_id: str) -> LogEntry | None:
    row = await session.scalar(select(DeliveryLog).where(
        DeliveryLog.delivery_id == delivery_id).order_by(DeliveryLog.txid, DeliveryLog.seq)
        .limit(1))
    return None if row is None else to_domain(row)

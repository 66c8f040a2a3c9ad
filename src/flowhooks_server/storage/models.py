"""Tables of the whole domain, portable between SQLite and PostgreSQL. Times are UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.functions import FunctionElement

from flowhooks_server.clock import utcnow

JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite autoincrements only an INTEGER PRIMARY KEY; PostgreSQL wants BIGINT identity.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value if dialect.name != "sqlite" or value is None else value.replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


def _id() -> Mapped[str]:
    return mapped_column(String(40), primary_key=True)


def _tenant() -> Mapped[str]:
    return mapped_column(String(36), nullable=False)


def _created() -> Mapped[datetime]:
    return mapped_column(UTCDateTime, nullable=False, default=utcnow)


class Tenant(Base):
    __tablename__ = "tenants"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = _created()


class Token(Base):
    __tablename__ = "tokens"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str | None] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    permissions: Mapped[list] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (Index("ix_tokens_tenant", "tenant_id", "id"),)


class Workflow(Base):
    __tablename__ = "workflows"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _tenant()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    triggers: Mapped[dict] = mapped_column(JSONType, nullable=False)
    tasks: Mapped[list] = mapped_column(JSONType, nullable=False)
    params: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_workflows_tenant", "tenant_id", "id"),)


class WorkflowRun(Base):
    __tablename__ = "workflow_runs"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _tenant()
    workflow_id: Mapped[str] = mapped_column(String(40), nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    params: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    wake_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_runs_tenant_workflow", "tenant_id", "workflow_id", "id"),
        Index("ix_runs_tenant_status", "tenant_id", "status"),
        Index("ix_runs_wake", "wake_at"),
    )


class TaskRun(Base):
    __tablename__ = "task_runs"
    id: Mapped[str] = _id()
    run_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False)
    position: Mapped[int] = mapped_column(Integer, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    phase: Mapped[str] = mapped_column(String(16), nullable=False)
    params: Mapped[dict] = mapped_column(JSONType, nullable=False)
    results: Mapped[dict] = mapped_column(JSONType, nullable=False)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_task_runs_run", "run_id", "position"),
        Index("ix_task_runs_due", "status", "due_at"),
    )


class PendingCallback(Base):
    """A callback for an `eventwait` task not reached yet (the lookback)."""

    __tablename__ = "pending_callbacks"
    id: Mapped[str] = _id()
    run_id: Mapped[str] = mapped_column(
        ForeignKey("workflow_runs.id", ondelete="CASCADE"), nullable=False)
    topic: Mapped[str] = mapped_column(String(255), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    data: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("uq_pending_callbacks_run_topic", "run_id", "topic", unique=True),)


class Event(Base):
    __tablename__ = "events"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _tenant()
    type: Mapped[str] = mapped_column(String(64), nullable=False)
    source: Mapped[str | None] = mapped_column(String(512))
    workflow_id: Mapped[str | None] = mapped_column(String(40))
    workflow_run_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_events_tenant_created", "tenant_id", "created_at"),)


class DedupeKey(Base):
    """Inbound idempotency: CloudEvent source+id, X-GitHub-Delivery, Idempotency-Key."""

    __tablename__ = "dedupe_keys"
    tenant_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    result: Mapped[dict] = mapped_column(JSONType, nullable=False)
    created_at: Mapped[datetime] = _created()
    __table_args__ = (Index("ix_dedupe_created", "created_at"),)


class Webhook(Base):
    __tablename__ = "webhooks"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _tenant()
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    headers: Mapped[dict] = mapped_column(JSONType, nullable=False)
    # Signing secrets (domain.signing): the current one, always set since migration 0003 (the
    # column stays nullable: a NOT NULL on SQLite means rebuilding the table), and during a
    # rotation's grace the previous one with the end of that grace.
    secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret: Mapped[str | None] = mapped_column(String(255))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    event_types: Mapped[list] = mapped_column(JSONType, nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    suspended: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    suspended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_handling: Mapped[dict | None] = mapped_column(JSONType)
    timeout_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=10_000)
    format: Mapped[str] = mapped_column(String(16), nullable=False, default="json")
    ordered: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    __table_args__ = (
        Index("ix_webhooks_tenant", "tenant_id", "id"),
        Index("ix_webhooks_tenant_name", "tenant_id", "name"),
        Index("ix_webhooks_tenant_state", "tenant_id", "enabled", "suspended"),
    )


class WebhookEventType(Base):
    """A webhook's event types and patterns, one row each: the index that fan-out and the
    `eventTypes` list filter query, portably on both databases."""

    __tablename__ = "webhook_event_types"
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = _tenant()
    __table_args__ = (Index("ix_webhook_event_types_lookup", "tenant_id", "event_type"),)


_PENDING = text("status = 'pending'")
_INFLIGHT = text("status = 'inflight'")


class Delivery(Base):
    """The outbox: one row per (event, matching webhook), written with the event.
    `seq` (the integer primary key, assigned by the database, never reused) orders an ordered
    webhook's deliveries; `id` is the public string id."""

    __tablename__ = "deliveries"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    tenant_id: Mapped[str] = _tenant()
    event_id: Mapped[str] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), nullable=False)
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    # Goes out only after every earlier unfinished delivery of its webhook: set for ordered
    # webhooks, and on held deliveries released by unsuspend.
    ordered: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created()
    updated_at: Mapped[datetime] = _created()
    __table_args__ = (
        Index("ix_deliveries_due", "next_attempt_at", postgresql_where=_PENDING,
              sqlite_where=_PENDING),
        Index("ix_deliveries_lease", "lease_expires_at", postgresql_where=_INFLIGHT,
              sqlite_where=_INFLIGHT),
        Index("ix_deliveries_webhook", "webhook_id", "status", "seq"),
        Index("ix_deliveries_event", "event_id"),
        Index("ix_deliveries_finished", "status", "updated_at"),
        {"sqlite_autoincrement": True},
    )


class WriterTxid(FunctionElement):
    """The server default of `delivery_logs.txid`: on PostgreSQL the id of the transaction
    that writes the row (`xid8`, epoch-extended: it never wraps), so readers can order entries
    by the transaction that wrote them (see `storage.logs`); 0 elsewhere."""

    type = BigInteger()
    name = "writer_txid"
    inherit_cache = True


@compiles(WriterTxid)
def _writer_txid(element, compiler, **kw) -> str:
    return "0"


@compiles(WriterTxid, "postgresql")
def _writer_txid_postgres(element, compiler, **kw) -> str:
    return "pg_current_xact_id()::text::bigint"


class DeliveryLog(Base):
    """One row per attempt or state change. Its position in the log is `(txid, seq)`: the
    writing transaction (filled in by the database, never by an INSERT) and then the insertion
    order; the watch cursor is that position (see `storage.logs`). `seq` is never reused."""

    __tablename__ = "delivery_logs"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    txid: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=WriterTxid())
    id: Mapped[str] = mapped_column(String(40), nullable=False, unique=True)
    tenant_id: Mapped[str] = _tenant()
    webhook_id: Mapped[str] = mapped_column(String(40), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(40), nullable=False)
    event_id: Mapped[str] = mapped_column(String(40), nullable=False)
    event_type: Mapped[str] = mapped_column(String(64), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    url: Mapped[str] = mapped_column(String(2048), nullable=False)
    response_status_code: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    failure_trigger: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = _created()
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    __table_args__ = (
        Index("ix_logs_position", "txid", "seq"),
        Index("ix_logs_tenant_webhook_position", "tenant_id", "webhook_id", "txid", "seq"),
        Index("ix_logs_tenant_type_position", "tenant_id", "event_type", "txid", "seq"),
        Index("ix_logs_created", "created_at"),
        {"sqlite_autoincrement": True},
    )


class DivertedEvent(Base):
    """A delivery whose retries ran out; `request_locator` is the log id of its last attempt."""

    __tablename__ = "diverted_events"
    id: Mapped[str] = _id()
    tenant_id: Mapped[str] = _tenant()
    webhook_id: Mapped[str] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False)
    event_id: Mapped[str] = mapped_column(String(40), nullable=False)
    delivery_id: Mapped[str] = mapped_column(String(40), nullable=False)
    request_locator: Mapped[str] = mapped_column(String(40), nullable=False)
    failure_message: Mapped[str] = mapped_column(Text, nullable=False)
    failure_timestamp: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    failure_trigger: Mapped[str | None] = mapped_column(String(16))
    resend_delivery_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = _created()
    __table_args__ = (
        Index("uq_diverted_webhook_event", "webhook_id", "event_id", unique=True),
        Index("ix_diverted_tenant", "tenant_id", "webhook_id", "id"),
    )

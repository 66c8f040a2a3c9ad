"""Delivery log entries and diverted events, as the services, the live feed and the API see
them.

A log entry records one attempt or state change of a delivery. Its place in the log is its
`Position`, `(txid, seq)`: the transaction that wrote it, then its insertion order (why that
order is the one watchers can trust is `storage.logs`'s). A watch cursor is a position.

A diverted event is a delivery whose retries ran out, kept until it is resent or deleted;
`request_locator` is the log id of its last attempt, and `resend_delivery_id` the delivery a
resend made (None until one is asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple


class Position(NamedTuple):
    """Where an entry is in the log; positions compare in log order."""

    txid: int
    seq: int


@dataclass(frozen=True)
class LogEntry:
    id: str
    position: Position
    tenant_id: str
    webhook_id: str
    delivery_id: str
    event_id: str
    event_type: str
    attempt: int
    status: str
    url: str
    response_status_code: int | None
    response_body: str | None
    duration_ms: int
    error: str | None
    failure_trigger: str | None
    created_at: datetime
    next_attempt_at: datetime | None


@dataclass(frozen=True)
class LogFilter:
    """Which entries a reader wants: None selects every value of a field, and so does ""
    for the webhook and the event type (a tenant is never "")."""

    tenant_id: str | None = None
    webhook_id: str | None = None
    event_type: str | None = None

    def matches(self, entry: LogEntry) -> bool:
        return ((self.tenant_id is None or entry.tenant_id == self.tenant_id)
                and (not self.webhook_id or entry.webhook_id == self.webhook_id)
                and (not self.event_type or entry.event_type == self.event_type))


@dataclass(frozen=True)
class DivertedEvent:
    id: str
    tenant_id: str
    webhook_id: str
    event_id: str
    # The type of the event (read with it), shown with the record.
    event_type: str
    delivery_id: str
    request_locator: str
    failure_message: str
    failure_timestamp: datetime
    failure_trigger: str | None
    resend_delivery_id: str | None
    created_at: datetime

    @property
    def resend_pending(self) -> bool:
        return self.resend_delivery_id is not None

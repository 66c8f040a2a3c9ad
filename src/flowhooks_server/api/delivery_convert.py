"""Delivery log entries and diverted events as protobuf messages."""

from __future__ import annotations

from flowhooks.v1 import delivery_logs_pb2, diverted_events_pb2

from flowhooks_server.api.convert import timestamp
from flowhooks_server.domain.delivery_logs import DivertedEvent, LogEntry
from flowhooks_server.services.deliveries import format_cursor


def log_entry_out(entry: LogEntry) -> delivery_logs_pb2.DeliveryLogEntry:
    return delivery_logs_pb2.DeliveryLogEntry(
        id=entry.id, webhook_id=entry.webhook_id, event_id=entry.event_id,
        event_type=entry.event_type, attempt=entry.attempt, status=entry.status, url=entry.url,
        response_status_code=entry.response_status_code or 0,
        response_body=entry.response_body or "", duration_ms=entry.duration_ms,
        error=entry.error or "", failure_trigger=entry.failure_trigger or "",
        created_at=timestamp(entry.created_at), next_attempt_at=timestamp(entry.next_attempt_at),
        cursor=format_cursor(entry))


def diverted_out(record: DivertedEvent) -> diverted_events_pb2.DivertedEvent:
    return diverted_events_pb2.DivertedEvent(
        event_locator=record.event_id, request_locator=record.request_locator,
        failure_message=record.failure_message,
        failure_timestamp=timestamp(record.failure_timestamp),
        failure_trigger=record.failure_trigger or "", webhook_locator=record.webhook_id,
        event_type=record.event_type, resend_pending=record.resend_pending)

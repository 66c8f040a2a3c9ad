"""Delivery log entries and diverted events as protobuf messages."""

from __future__ import annotations

from flowhooks.v1 import delivery_logs_pb2, diverted_events_pb2

from flowhooks_server.api.convert import timestamp
from flowhooks_server.services.deliveries import format_cursor
from flowhooks_server.storage.models import DeliveryLog, DivertedEvent


def log_entry_out(row: DeliveryLog) -> delivery_logs_pb2.DeliveryLogEntry:
    return delivery_logs_pb2.DeliveryLogEntry(
        id=row.id, webhook_id=row.webhook_id, event_id=row.event_id, event_type=row.event_type,
        attempt=row.attempt, status=row.status, url=row.url,
        response_status_code=row.response_status_code or 0,
        response_body=row.response_body or "", duration_ms=row.duration_ms,
        error=row.error or "", failure_trigger=row.failure_trigger or "",
        created_at=timestamp(row.created_at), next_attempt_at=timestamp(row.next_attempt_at),
        cursor=format_cursor(row))


def diverted_out(row: DivertedEvent, event_type: str) -> diverted_events_pb2.DivertedEvent:
    return diverted_events_pb2.DivertedEvent(
        event_locator=row.event_id, request_locator=row.request_locator,
        failure_message=row.failure_message, failure_timestamp=timestamp(row.failure_timestamp),
        failure_trigger=row.failure_trigger or "", webhook_locator=row.webhook_id,
        event_type=event_type, resend_pending=row.resend_delivery_id is not None)

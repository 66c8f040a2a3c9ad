"""Small proto <-> Python conversions shared by the servicers."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from flowhooks_server.domain.errors import InvalidArgument

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return ts


def optional_datetime(message, field: str) -> datetime | None:
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


def page(limit: int, offset: int, limit_field: str = "limit") -> tuple[int, int]:
    """(limit, offset) from a request, defaulting and bounding them (SPEC §4)."""
    if limit < 0 or limit > MAX_LIMIT:
        raise InvalidArgument(limit_field, f"must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise InvalidArgument("offset", "must not be negative")
    return limit or DEFAULT_LIMIT, offset

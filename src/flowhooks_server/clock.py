"""The one wall clock: timezone-aware UTC. Every layer reads time through here, so tests and
storage agree on what "now" is and no module needs the ORM to ask."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)

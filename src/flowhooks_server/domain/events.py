"""A stored event: what happened (`type`, `data`), to which tenant, from which workflow run,
when. Events are written once (with their deliveries, `services.outbox`) and never change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Event:
    id: str
    tenant_id: str
    type: str
    data: dict[str, Any]
    workflow_id: str | None
    workflow_run_id: str | None
    created_at: datetime
    # Where an event that came from outside was sent from; None for our own.
    source: str | None = None

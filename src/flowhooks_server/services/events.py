"""Reading stored events."""

from __future__ import annotations

from flowhooks_server.domain.errors import NotFound
from flowhooks_server.storage import events as event_store
from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Event


class EventReader:
    def __init__(self, db: Database):
        self._db = db

    async def get(self, tenant: str, event_id: str) -> Event:
        async with self._db.session(readonly=True) as session:
            row = await event_store.get(session, tenant, event_id)
        if row is None:
            raise NotFound(f"event {event_id!r} not found")
        return row

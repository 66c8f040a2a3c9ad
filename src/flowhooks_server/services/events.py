"""Reading stored events."""

from __future__ import annotations

from flowhooks_server.domain.errors import found
from flowhooks_server.domain.events import Event
from flowhooks_server.storage import events as event_store
from flowhooks_server.storage.db import Database


class EventReader:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, tenant: str, event_id: str) -> Event:
        async with self._db.session(readonly=True) as session:
            return found(await event_store.get(session, tenant, event_id), "event", event_id)

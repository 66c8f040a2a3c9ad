"""EventService servicer: stored events and the event catalog."""

from __future__ import annotations

from typing import Any

from flowhooks.v1 import events_pb2, events_pb2_grpc
from google.protobuf import json_format, struct_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import timestamp
from flowhooks_server.domain.catalog import CATALOG
from flowhooks_server.services.events import EventReader


def _struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(data, message)
    return message


_CATALOG = events_pb2.ListEventTypesResponse(
    event_types=[
        events_pb2.EventType(name=t.name, description=t.description,
                             data_schema=_struct(t.data_schema))
        for t in CATALOG
    ]
)


class EventServicer(events_pb2_grpc.EventServiceServicer):
    def __init__(self, events: EventReader) -> None:
        self._events = events

    async def GetEvent(self, request, context):
        event = await self._events.get(current().require_tenant(), request.event)
        return events_pb2.Event(
            locator=event.id,
            type=event.type,
            timestamp=timestamp(event.created_at),
            data=_struct(event.data),
            tenant=event.tenant_id,
            workflow_id=event.workflow_id or "",
            workflow_run_id=event.workflow_run_id or "",
        )

    async def ListEventTypes(self, request, context):
        return _CATALOG

"""DivertedEventService servicer (Socotra surface, tenant in the path)."""

from __future__ import annotations

from flowhooks.v1 import diverted_events_pb2, diverted_events_pb2_grpc
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.delivery_convert import diverted_out
from flowhooks_server.services.deliveries import DivertedEvents


class DivertedEventServicer(diverted_events_pb2_grpc.DivertedEventServiceServicer):
    def __init__(self, diverted: DivertedEvents) -> None:
        self._diverted = diverted

    async def ListDivertedEvents(self, request, context):
        limit, offset = page(request.count, request.offset, "count")
        records = await self._diverted.list(current().require_tenant(), request.webhook, limit,
                                            offset)
        return diverted_events_pb2.ListDivertedEventsResponse(
            diverted_events=[diverted_out(record) for record in records])

    async def GetDivertedEvent(self, request, context):
        return diverted_out(await self._diverted.get(
            current().require_tenant(), request.webhook, request.event))

    async def ResendDivertedEvent(self, request, context):
        return diverted_out(await self._diverted.resend(
            current().require_tenant(), request.webhook, request.event))

    async def DeleteDivertedEvent(self, request, context):
        await self._diverted.delete(current().require_tenant(), request.webhook, request.event)
        return empty_pb2.Empty()

"""DeliveryLogService servicer: paged logs and the live watch stream (ELAN surface)."""

from __future__ import annotations

from flowhooks.v1 import delivery_logs_pb2, delivery_logs_pb2_grpc

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.delivery_convert import log_entry_out
from flowhooks_server.services.deliveries import DeliveryLogs, parse_cursor


class DeliveryLogServicer(delivery_logs_pb2_grpc.DeliveryLogServiceServicer):
    def __init__(self, logs: DeliveryLogs) -> None:
        self._logs = logs

    async def ListWebhookLogs(self, request, context):
        limit, offset = page(request.limit, request.offset)
        entries = await self._logs.of_webhook(current().require_tenant(), request.webhook_id,
                                              limit, offset)
        return delivery_logs_pb2.ListDeliveryLogsResponse(
            entries=[log_entry_out(e) for e in entries])

    async def ListAllLogs(self, request, context):
        limit, offset = page(request.limit, request.offset)
        entries = await self._logs.all(current().require_tenant(), request.event_type, limit,
                                       offset)
        return delivery_logs_pb2.ListDeliveryLogsResponse(
            entries=[log_entry_out(e) for e in entries])

    async def WatchLogs(self, request, context):
        tenant = current().require_tenant()
        cursor = parse_cursor(request.cursor)
        entries = await self._logs.watch(tenant, request.webhook_id, request.event_type, cursor)
        # Headers go out now, so an HTTP client sees the stream open before the first entry.
        await context.send_initial_metadata(())
        async for entry in entries:
            yield log_entry_out(entry)

"""WebhookService servicer: the Socotra-style surface, tenant in the path."""

from __future__ import annotations

import base64
from typing import Any

from flowhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.webhook_convert import (
    delivery_option_changes,
    delivery_options_in,
    multi_headers_in,
    rotation_in,
    webhook_out,
)
from flowhooks_server.domain.errors import InvalidArgument
from flowhooks_server.domain.webhooks import (
    DEFAULT_FAILURE_HANDLING,
    SOCOTRA_FIELDS,
    WebhookFilter,
    WebhookSpec,
    apply_add_remove,
    apply_header_changes,
)
from flowhooks_server.services.webhooks import WebhookManager


def _optional(message: Any, field: str) -> Any:
    return getattr(message, field) if message.HasField(field) else None


def encode_page_token(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode()


def decode_page_token(token: str) -> str | None:
    if not token:
        return None
    try:
        return base64.urlsafe_b64decode(token.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument("page_token", "is not a token this server issued") from None


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, webhooks: WebhookManager) -> None:
        self._webhooks = webhooks

    async def CreateWebhook(self, request, context):
        endpoint = request.endpoint
        spec = WebhookSpec(
            name=request.name,
            url=endpoint.url,
            event_types=tuple(request.event_types),
            headers=multi_headers_in(endpoint.headers, "endpoint.headers"),
            secret=endpoint.secret or None,
            enabled=request.enabled if request.HasField("enabled") else True,
            **delivery_options_in(request),
        )
        created = await self._webhooks.create(current().require_tenant(), spec, SOCOTRA_FIELDS)
        return webhook_out(created)

    async def GetWebhook(self, request, context):
        return webhook_out(await self._webhooks.get(current().require_tenant(), request.webhook))

    async def ListWebhooks(self, request, context):
        limit, offset = page(request.page_size or request.count, request.offset, "count")
        event_types = tuple(t.strip() for entry in request.event_types
                            for t in entry.split(",") if t.strip())
        where = WebhookFilter(
            name=_optional(request, "name"),
            enabled=_optional(request, "enabled"),
            suspended=_optional(request, "suspended"),
            active=_optional(request, "active"),
            event_types=event_types,
            after_id=decode_page_token(request.page_token),
        )
        hooks = await self._webhooks.list(current().require_tenant(), where, limit, offset)
        next_token = encode_page_token(hooks[-1].id) if len(hooks) == limit else ""
        return webhooks_pb2.ListWebhooksResponse(
            webhooks=[webhook_out(h) for h in hooks], next_page_token=next_token)

    async def UpdateWebhook(self, request, context):
        endpoint = request.endpoint
        add_headers = multi_headers_in(endpoint.add_headers, "endpoint.addHeaders")

        def edit(spec: WebhookSpec) -> WebhookSpec:
            changes: dict[str, Any] = {
                "event_types": apply_add_remove(
                    spec.event_types, request.remove_event_types, request.add_event_types),
                "headers": apply_header_changes(
                    spec.headers, endpoint.remove_headers, add_headers),
            }
            if request.HasField("name"):
                changes["name"] = request.name
            if request.HasField("enabled"):
                changes["enabled"] = request.enabled
            if endpoint.HasField("url"):
                changes["url"] = endpoint.url
            if endpoint.HasField("secret"):
                changes["secret"] = endpoint.secret  # "" is refused: every webhook has one
            if request.remove_failure_handling:
                changes["failure_handling"] = DEFAULT_FAILURE_HANDLING
            changes.update(delivery_option_changes(request))
            return spec.with_changes(**changes)

        changed = await self._webhooks.change(
            current().require_tenant(), request.webhook, SOCOTRA_FIELDS, edit)
        return webhook_out(changed)

    async def UnsuspendWebhook(self, request, context):
        await self._webhooks.unsuspend(current().require_tenant(), request.webhook)
        return empty_pb2.Empty()

    async def DeleteWebhook(self, request, context):
        await self._webhooks.delete(current().require_tenant(), request.webhook)
        return empty_pb2.Empty()

    async def GetWebhookSecret(self, request, context):
        key = await self._webhooks.secret(current().require_tenant(), request.webhook)
        return webhooks_pb2.WebhookSecret(key=key)

    async def RotateWebhookSecret(self, request, context):
        key = await self._webhooks.rotate_secret(
            current().require_tenant(), request.webhook, **rotation_in(request))
        return webhooks_pb2.WebhookSecret(key=key)

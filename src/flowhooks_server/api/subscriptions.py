"""SubscriptionService servicer: the ELAN-style surface, organization from X-Org-Id or token."""

from __future__ import annotations

from typing import Any

from flowhooks.v1 import subscriptions_pb2, subscriptions_pb2_grpc, webhooks_pb2
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import page
from flowhooks_server.api.delivery_convert import log_entry_out
from flowhooks_server.api.webhook_convert import (
    delivery_option_changes,
    delivery_options_in,
    rotation_in,
    strings,
    struct_headers_in,
    subscription_out,
)
from flowhooks_server.api.webhooks import decode_page_token, encode_page_token
from flowhooks_server.domain.webhooks import (
    ELAN_FIELDS,
    WebhookFilter,
    WebhookSpec,
)
from flowhooks_server.services.deliveries import WebhookTester
from flowhooks_server.services.webhooks import WebhookManager


class SubscriptionServicer(subscriptions_pb2_grpc.SubscriptionServiceServicer):
    def __init__(self, webhooks: WebhookManager, tester: WebhookTester) -> None:
        self._webhooks = webhooks
        self._tester = tester

    async def CreateSubscription(self, request, context):
        spec = WebhookSpec(
            name=request.name,
            url=request.url,
            event_types=tuple(request.event_types),
            headers={name: (value,) for name, value in request.headers.items()},
            secret=request.secret or None,
            enabled=request.active if request.HasField("active") else True,
            **delivery_options_in(request),
        )
        return subscription_out(
            await self._webhooks.create(current().require_tenant(), spec, ELAN_FIELDS))

    async def ListSubscriptions(self, request, context):
        limit, offset = page(request.page_size or request.limit, request.offset)
        where = WebhookFilter(after_id=decode_page_token(request.page_token))
        hooks = await self._webhooks.list(current().require_tenant(), where, limit, offset)
        return subscriptions_pb2.ListSubscriptionsResponse(
            subscriptions=[subscription_out(h) for h in hooks],
            next_page_token=encode_page_token(hooks[-1].id) if len(hooks) == limit else "",
        )

    async def GetSubscription(self, request, context):
        return subscription_out(await self._webhooks.get(current().require_tenant(), request.id))

    async def UpdateSubscription(self, request, context):
        """Only fields present in the request change (proto field presence)."""
        changes: dict[str, Any] = {}
        if request.HasField("name"):
            changes["name"] = request.name
        if request.HasField("url"):
            changes["url"] = request.url
        if request.HasField("event_types"):
            changes["event_types"] = strings(request.event_types.values, "eventTypes")
        if request.HasField("secret"):
            changes["secret"] = request.secret  # "" is refused: every webhook has one
        if request.HasField("headers"):
            changes["headers"] = struct_headers_in(request.headers, "headers")
        if request.HasField("active"):
            changes["enabled"] = request.active
        changes.update(delivery_option_changes(request))
        # ELAN has no unsuspend: turning a subscription active again is how its users do it.
        unsuspend = request.HasField("active") and request.active
        changed = await self._webhooks.change(
            current().require_tenant(), request.id, ELAN_FIELDS,
            lambda spec: spec.with_changes(**changes), unsuspend=unsuspend)
        return subscription_out(changed)

    async def DeleteSubscription(self, request, context):
        await self._webhooks.delete(current().require_tenant(), request.id)
        return empty_pb2.Empty()

    async def TestSubscription(self, request, context):
        return log_entry_out(await self._tester.test(current().require_tenant(), request.id))

    async def GetSubscriptionSecret(self, request, context):
        key = await self._webhooks.secret(current().require_tenant(), request.id)
        return webhooks_pb2.WebhookSecret(key=key)

    async def RotateSubscriptionSecret(self, request, context):
        key = await self._webhooks.rotate_secret(
            current().require_tenant(), request.id, **rotation_in(request))
        return webhooks_pb2.WebhookSecret(key=key)

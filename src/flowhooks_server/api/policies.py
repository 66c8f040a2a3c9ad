"""Which permission each RPC needs, and where its tenant comes from (SPEC §5).

tenant:
  "path"  the request's `tenant` field (`/event/{tenant}/...`);
  "org"   `X-Org-Id`, else the token's own tenant;
  "self"  the servicer decides (tokens; signed inbound webhooks).
token:
  "required"  no token → 401;
  "optional"  the servicer authenticates another way (GitHub and Slack signatures).
A token may also come as the `access_token` request field where `query_token` is set.

Fail closed (SPEC §5): the interceptor refuses any served method that has no policy here and
is not in `PUBLIC_METHODS`, the explicit list of methods that need no token (gRPC health, which
Envoy's health checks call, and server reflection). tests/api/test_policies.py walks the
generated descriptors to prove every flowhooks RPC has a policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Policy:
    permissions: tuple[str, ...]
    tenant: Literal["path", "org", "self"]
    token: Literal["required", "optional"] = "required"
    query_token: bool = False


def _p(*permissions: str, tenant="org", token="required", query_token=False) -> Policy:
    return Policy(tuple(permissions), tenant, token, query_token)


_TABLE: dict[str, dict[str, Policy]] = {
    "TokenService": {
        "CreateToken": _p("tokens:write", tenant="self"),
        "ListTokens": _p("tokens:write", tenant="self"),
        "RevokeToken": _p("tokens:write", tenant="self"),
    },
    "WorkflowService": {
        "CreateWorkflow": _p("workflows:write"),
        "ListWorkflows": _p("workflows:read"),
        "GetWorkflow": _p("workflows:read"),
        "UpdateWorkflow": _p("workflows:write"),
        "DeleteWorkflow": _p("workflows:write"),
        "SubmitWorkflow": _p("workflows:trigger"),
    },
    "WorkflowRunService": {
        "GetWorkflowRun": _p("workflows:read"),
        "ListWorkflowRuns": _p("workflows:read"),
        "CancelWorkflowRun": _p("workflows:trigger"),
        "EndTaskRun": _p("workflows:trigger"),
        "WatchExternalTasks": _p("workflows:trigger"),
    },
    "InboundService": {
        "AcceptEvent": _p("workflows:trigger", query_token=True),
        "AcceptCloudEvent": _p("workflows:trigger"),
        "Callback": _p("workflows:trigger", query_token=True),
        "AcceptWebhook": _p(tenant="self", token="optional", query_token=True),
    },
    "WebhookService": {
        "GetWebhook": _p("webhooks:read", tenant="path"),
        "ListWebhooks": _p("webhooks:read", "webhooks:list", tenant="path"),
        "CreateWebhook": _p("webhooks:write", tenant="path"),
        "UpdateWebhook": _p("webhooks:write", tenant="path"),
        "UnsuspendWebhook": _p("webhooks:write", tenant="path"),
        "DeleteWebhook": _p("webhooks:write", tenant="path"),
        # Reading the secret is a write permission (SPEC §7): with it one can sign as us.
        "GetWebhookSecret": _p("webhooks:write", tenant="path"),
        "RotateWebhookSecret": _p("webhooks:write", tenant="path"),
    },
    "SubscriptionService": {
        "CreateSubscription": _p("webhooks:write"),
        "ListSubscriptions": _p("webhooks:read", "webhooks:list"),
        "GetSubscription": _p("webhooks:read"),
        "UpdateSubscription": _p("webhooks:write"),
        "DeleteSubscription": _p("webhooks:write"),
        "TestSubscription": _p("webhooks:write"),
        # Reading the secret is a write permission (SPEC §7): with it one can sign as us.
        "GetSubscriptionSecret": _p("webhooks:write"),
        "RotateSubscriptionSecret": _p("webhooks:write"),
    },
    "DeliveryLogService": {
        "ListWebhookLogs": _p("webhooks:read"),
        "ListAllLogs": _p("webhooks:read"),
        "WatchLogs": _p("webhooks:read"),
    },
    "DivertedEventService": {
        "ListDivertedEvents": _p("diverted-events:read", "diverted-events:list", tenant="path"),
        "GetDivertedEvent": _p("diverted-events:read", tenant="path"),
        "ResendDivertedEvent": _p("diverted-events:resend", tenant="path"),
        "DeleteDivertedEvent": _p("diverted-events:delete", tenant="path"),
    },
    "EventService": {
        "GetEvent": _p("webhooks:read", tenant="path"),
        "ListEventTypes": _p("webhooks:read", tenant="path"),
    },
}

POLICIES: dict[str, Policy] = {
    f"/flowhooks.v1.{service}/{method}": policy
    for service, methods in _TABLE.items()
    for method, policy in methods.items()
}
SERVICE_NAMES: tuple[str, ...] = tuple(f"flowhooks.v1.{service}" for service in _TABLE)

# Served without a token, unwrapped: neither reads nor changes any tenant's data.
PUBLIC_METHODS: frozenset[str] = frozenset({
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
})

"""Test tenants (a fresh tenant id with a token holding every tenant permission) and error
helpers, importable from any test package."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

TENANT_PERMISSIONS = [
    "webhooks:read", "webhooks:list", "webhooks:write", "diverted-events:read",
    "diverted-events:list", "diverted-events:resend", "diverted-events:delete",
    "workflows:read", "workflows:write", "workflows:trigger", "tokens:write",
]


@dataclass
class Tenant:
    id: str
    token: str


async def make_tenant(rest, admin: str, permissions=TENANT_PERMISSIONS) -> Tenant:
    tenant = str(uuid.uuid4())
    status, body = await rest.call("POST", "/api/v2/tokens", token=admin, json={
        "tenant": tenant, "name": "test", "permissions": permissions})
    assert status == 200, body
    return Tenant(tenant, body["token"])


def field_violations(body: dict) -> dict[str, str]:
    return {
        v["field"]: v["description"]
        for d in body.get("details", []) if d["@type"].endswith("google.rpc.BadRequest")
        for v in d["fieldViolations"]
    }

"""Tenancy and permissions (SPEC §5): who the caller is, and on which tenant it may act."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from flowhooks_server.domain.errors import InvalidArgument, PermissionDenied

PERMISSIONS = frozenset(
    {
        "webhooks:read",
        "webhooks:list",
        "webhooks:write",
        "diverted-events:read",
        "diverted-events:list",
        "diverted-events:resend",
        "diverted-events:delete",
        "workflows:read",
        "workflows:write",
        "workflows:trigger",
        "tokens:write",
    }
)
GROUPS = frozenset(p.split(":")[0] for p in PERMISSIONS)


def is_known_permission(permission: str) -> bool:
    if permission == "*" or permission in PERMISSIONS:
        return True
    group, _, action = permission.partition(":")
    return action == "*" and group in GROUPS


def grants(held: frozenset[str] | set[str], wanted: str) -> bool:
    """Whether permissions `held` include `wanted`, counting `*` and `group:*`."""
    group = wanted.split(":")[0]
    return "*" in held or wanted in held or f"{group}:*" in held


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a token's id, tenant (None when global) and permissions."""

    token_id: str
    tenant: str | None
    permissions: frozenset[str]

    @property
    def is_global(self) -> bool:
        return self.tenant is None

    def require(self, *wanted: str) -> None:
        missing = [p for p in wanted if not grants(self.permissions, p)]
        if missing:
            raise PermissionDenied(f"the token lacks permission {', '.join(missing)}")

    def can_grant(self, permissions: list[str]) -> bool:
        """Whether the caller holds all of `permissions`, so granting them escalates nothing."""
        return all(grants(self.permissions, p) if p != "*" else "*" in self.permissions
                   for p in permissions)


def parse_tenant(value: str, field: str) -> str:
    """A tenant id in canonical form; tenants are UUIDs."""
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise InvalidArgument(field, "must be a tenant UUID") from None


def resolve_tenant(principal: Principal, requested: str | None, field: str) -> str:
    """The tenant a request acts on: the one it names, else the token's own.

    A tenant token may act only on its own tenant; a global token on any tenant it names.
    """
    if requested:
        tenant = parse_tenant(requested, field)
        if principal.tenant is not None and principal.tenant != tenant:
            raise PermissionDenied("the token does not belong to this tenant")
        return tenant
    if principal.tenant is None:
        raise InvalidArgument(field, "is required with a global token")
    return principal.tenant

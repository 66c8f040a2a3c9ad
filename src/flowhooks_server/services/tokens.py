"""Token use cases: create (never escalating the caller's rights), list, revoke, bootstrap."""

from __future__ import annotations

from datetime import UTC, datetime

from flowhooks_server.domain.auth import Principal, is_known_permission, parse_tenant
from flowhooks_server.domain.errors import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from flowhooks_server.domain.tokens import Token, is_usable
from flowhooks_server.storage import tenants as tenant_store
from flowhooks_server.storage import tokens as token_store
from flowhooks_server.storage.db import Database

MAX_NAME = 255
DEV_ADMIN_NAME = "dev-admin"


class TokenManager:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(
        self,
        caller: Principal,
        tenant: str,
        name: str,
        permissions: list[str],
        expires_at: datetime | None,
    ) -> tuple[Token, str]:
        """A new token and its plaintext (which is kept nowhere)."""
        problems = Violations()
        if not name.strip():
            problems.add("name", "is required")
        elif len(name) > MAX_NAME:
            problems.add("name", f"must be at most {MAX_NAME} characters")
        if not permissions:
            problems.add("permissions", "must name at least one permission")
        for i, permission in enumerate(permissions):
            if not is_known_permission(permission):
                problems.add(f"permissions[{i}]", f"unknown permission {permission!r}")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            problems.add("expiresAt", "must be in the future")
        if tenant:
            try:
                tenant = parse_tenant(tenant, "tenant")
            except InvalidArgument as exc:  # collected with the rest
                problems.add("tenant", exc.violations[0][1])
        problems.raise_if_any()
        if caller.tenant is not None and tenant != caller.tenant:
            raise PermissionDenied("a tenant token can only create tokens for its own tenant")
        if not caller.can_grant(permissions):
            raise PermissionDenied("cannot grant permissions the calling token does not hold")
        async with self._db.session() as session, session.begin():
            if tenant:
                await tenant_store.ensure_tenant(session, tenant)
            return await token_store.create(session, tenant or None, name, permissions, expires_at)

    async def list(self, caller: Principal, tenant: str, limit: int,
                   offset: int) -> list[Token]:
        if caller.tenant is not None:
            if tenant and parse_tenant(tenant, "tenant") != caller.tenant:
                raise PermissionDenied("the token does not belong to this tenant")
            tenant = caller.tenant
        elif tenant:
            tenant = parse_tenant(tenant, "tenant")
        async with self._db.session(readonly=True) as session:
            return await token_store.list_tokens(session, tenant or None, limit, offset)

    async def revoke(self, caller: Principal, token_id: str) -> None:
        async with self._db.session() as session, session.begin():
            if not await token_store.revoke(session, token_id, caller.tenant):
                raise NotFound(f"token {token_id!r} not found")

    async def ensure_bootstrap(self, plaintext: str) -> None:
        async with self._db.session() as session, session.begin():
            await token_store.ensure_bootstrap(session, plaintext)

    async def dev_admin_token(self, kept: str | None) -> tuple[str, bool]:
        """The development admin token of `make run` (SPEC §3): `kept` (the one saved by an
        earlier start) while it is still this database's live dev token, else a new one,
        replacing every earlier dev token (so they do not pile up). `(token, made_now)`."""
        async with self._db.session() as session, session.begin():
            if kept:
                token = await token_store.find_by_plaintext(session, kept)
                if token is not None and token.name == DEV_ADMIN_NAME \
                        and token.tenant_id is None and is_usable(token):
                    return kept, False
            await token_store.delete_by_name(session, DEV_ADMIN_NAME)
            _, plaintext = await token_store.create(session, None, DEV_ADMIN_NAME, ["*"], None)
        return plaintext, True

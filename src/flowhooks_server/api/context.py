"""The per-request context the interceptor resolves and servicers read."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field

from flowhooks_server.domain.auth import Principal


@dataclass
class RequestContext:
    method: str
    principal: Principal | None
    tenant: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    def require_tenant(self) -> str:
        assert self.tenant is not None, f"{self.method} resolves no tenant"
        return self.tenant


_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar("flowhooks_request")


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext) -> contextvars.Token:
    return _current.set(ctx)

"""An API token as stored (SPEC §5): who may use it (`tenant_id`, None for a global token), what
it grants, and its lifetime. The plaintext is never part of it: only its hash is kept, and the
plaintext leaves the server once, when the token is made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flowhooks_server.clock import utcnow


@dataclass(frozen=True)
class Token:
    id: str
    tenant_id: str | None
    name: str
    permissions: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


def is_usable(token: Token, now: datetime | None = None) -> bool:
    """Neither revoked nor expired (at `now`, by default the current time)."""
    now = now or utcnow()
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)

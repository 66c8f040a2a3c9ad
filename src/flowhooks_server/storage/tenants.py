"""Tenant rows: created on first use."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.storage.db import dialect_insert
from flowhooks_server.storage.models import Tenant


async def ensure_tenant(session: AsyncSession, tenant_id: str) -> None:
    """Insert the tenant unless it exists; safe against a concurrent insert of the same id."""
    await session.execute(
        dialect_insert(session, Tenant).values(id=tenant_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[Tenant.id]))

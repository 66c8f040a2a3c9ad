"""Tenant rows: created on first use."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.models import Tenant


async def ensure_tenant(session: AsyncSession, tenant_id: str) -> None:
    if await session.scalar(select(Tenant.id).where(Tenant.id == tenant_id)) is None:
        session.add(Tenant(id=tenant_id))
        await session.flush()

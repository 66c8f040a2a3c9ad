"""Inbound idempotency keys (`dedupe_keys`): CloudEvent source+id, X-GitHub-Delivery, Slack
event_id and Idempotency-Key. A key is written in the transaction that writes the runs it
guards, with their ids as its result (`services.group_commit`); a repeat reads that result."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.storage.db import dialect_insert
from flowhooks_server.storage.models import DedupeKey


async def insert(session: AsyncSession, tenant_id: str, scope: str, key: str,
                 result: dict) -> bool:
    """Write the key with its result; False when it is there already (its first request
    committed it; on PostgreSQL this waits for a concurrent first request to finish)."""
    statement = dialect_insert(session, DedupeKey).values(
        tenant_id=tenant_id, scope=scope, key=key, result=result, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["tenant_id", "scope", "key"]
                             ).returning(DedupeKey.key)
    return (await session.execute(statement)).first() is not None


async def get(session: AsyncSession, tenant_id: str, scope: str, key: str) -> DedupeKey | None:
    return await session.scalar(select(DedupeKey).where(
        DedupeKey.tenant_id == tenant_id, DedupeKey.scope == scope, DedupeKey.key == key))


async def claim(session: AsyncSession, tenant_id: str, scope: str, key: str,
                run_ids: list[str]) -> list[str] | None:
    """Take the key for `run_ids`: None when this request is the first, else the run ids its
    first request wrote."""
    if await insert(session, tenant_id, scope, key, {"runs": run_ids}):
        return None
    row = await get(session, tenant_id, scope, key)
    return list(row.result.get("runs", [])) if row is not None else []

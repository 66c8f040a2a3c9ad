"""Inbound idempotency keys (`dedupe_keys`): CloudEvent source+id, X-GitHub-Delivery, Slack
event_id and Idempotency-Key. A key is claimed before the runs it guards are started (its
result then says `pending`), and its result is written once they are; a repeat reads that
result instead of starting runs again."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.storage.db import dialect_insert
from flowhooks_server.storage.models import DedupeKey, utcnow

PENDING = {"pending": True}


def is_pending(result: dict | None) -> bool:
    return bool(result) and result.get("pending") is True


async def claim(session: AsyncSession, tenant_id: str, scope: str, key: str) -> bool:
    """Insert the key as pending; False when it is there already (on-conflict-do-nothing)."""
    statement = dialect_insert(session, DedupeKey).values(
        tenant_id=tenant_id, scope=scope, key=key, result=PENDING, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=["tenant_id", "scope", "key"]
                             ).returning(DedupeKey.key)
    return (await session.execute(statement)).first() is not None


async def get(session: AsyncSession, tenant_id: str, scope: str, key: str) -> DedupeKey | None:
    return await session.scalar(select(DedupeKey).where(
        DedupeKey.tenant_id == tenant_id, DedupeKey.scope == scope, DedupeKey.key == key))


async def take_over(session: AsyncSession, tenant_id: str, scope: str, key: str,
                    claimed_at: datetime) -> bool:
    """Re-claim a key left pending since `claimed_at` (its claimer died); True if we won."""
    result = await session.execute(
        update(DedupeKey)
        .where(DedupeKey.tenant_id == tenant_id, DedupeKey.scope == scope,
               DedupeKey.key == key, DedupeKey.created_at == claimed_at)
        .values(created_at=utcnow())
        .returning(DedupeKey.key))
    return result.first() is not None


async def record(session: AsyncSession, tenant_id: str, scope: str, key: str,
                 result: dict) -> None:
    await session.execute(
        update(DedupeKey)
        .where(DedupeKey.tenant_id == tenant_id, DedupeKey.scope == scope, DedupeKey.key == key)
        .values(result=result))


async def release(session: AsyncSession, tenant_id: str, scope: str, key: str) -> None:
    """Forget a claim whose work failed, so a retry runs it."""
    await session.execute(delete(DedupeKey).where(
        DedupeKey.tenant_id == tenant_id, DedupeKey.scope == scope, DedupeKey.key == key))

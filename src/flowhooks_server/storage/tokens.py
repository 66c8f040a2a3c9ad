"""Token rows. Only the SHA-256 of a token is stored; the plaintext leaves once, on creation."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.ids import new_id
from flowhooks_server.storage.models import Token, utcnow

BOOTSTRAP_NAME = "bootstrap"


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create(session: AsyncSession, tenant_id: str | None, name: str,
                 permissions: list[str], expires_at: datetime | None) -> tuple[Token, str]:
    plaintext = "fh_" + secrets.token_urlsafe(32)
    row = Token(id=new_id("tok"), tenant_id=tenant_id, name=name,
                token_hash=token_hash(plaintext), permissions=permissions,
                expires_at=expires_at, created_at=utcnow())
    session.add(row)
    await session.flush()
    return row, plaintext


async def ensure_bootstrap(session: AsyncSession, plaintext: str) -> None:
    """A global `*` token with exactly this value; earlier bootstrap tokens stop working."""
    digest = token_hash(plaintext)
    await session.execute(
        update(Token)
        .where(Token.name == BOOTSTRAP_NAME, Token.tenant_id.is_(None),
               Token.token_hash != digest, Token.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    row = await session.scalar(select(Token).where(Token.token_hash == digest))
    if row is None:
        session.add(Token(id=new_id("tok"), tenant_id=None, name=BOOTSTRAP_NAME,
                          token_hash=digest, permissions=["*"], created_at=utcnow()))
    else:
        row.tenant_id, row.permissions, row.revoked_at, row.expires_at = None, ["*"], None, None
    await session.flush()


async def find_by_plaintext(session: AsyncSession, plaintext: str) -> Token | None:
    return await session.scalar(select(Token).where(Token.token_hash == token_hash(plaintext)))


async def list_tokens(session: AsyncSession, tenant_id: str | None, limit: int,
                      offset: int) -> list[Token]:
    query = select(Token).order_by(Token.id.desc()).limit(limit).offset(offset)
    if tenant_id is not None:
        query = query.where(Token.tenant_id == tenant_id)
    return list(await session.scalars(query))


async def revoke(session: AsyncSession, token_id: str, tenant_id: str | None) -> bool:
    """Revoke a token; a tenant caller (tenant_id set) reaches only its own tenant's."""
    query = update(Token).where(Token.id == token_id)
    if tenant_id is not None:
        query = query.where(Token.tenant_id == tenant_id)
    result = await session.execute(
        query.values(revoked_at=utcnow()).execution_options(synchronize_session=False))
    return result.rowcount > 0


async def revoke_by_name(session: AsyncSession, name: str) -> None:
    await session.execute(
        update(Token).where(Token.name == name, Token.tenant_id.is_(None),
                            Token.revoked_at.is_(None)).values(revoked_at=utcnow()))

"""Token rows, read as domain `Token` values. Only the SHA-256 hex of a token is stored; the
plaintext leaves once, on creation.

Functions take the caller's AsyncSession and only flush; the caller owns the transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from flowhooks_server.clock import utcnow
from flowhooks_server.domain.tokens import Token
from flowhooks_server.ids import new_id
from flowhooks_server.storage.db import dialect_insert
from flowhooks_server.storage.models import Token as TokenRow

BOOTSTRAP_NAME = "bootstrap"
PREFIX = "fh_"


def token_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def to_domain(row: TokenRow) -> Token:
    return Token(id=row.id, tenant_id=row.tenant_id, name=row.name,
                 permissions=tuple(row.permissions), created_at=row.created_at,
                 expires_at=row.expires_at, revoked_at=row.revoked_at,
                 last_used_at=row.last_used_at)


def _token(row: TokenRow | None) -> Token | None:
    return None if row is None else to_domain(row)


async def create(session: AsyncSession, tenant_id: str | None, name: str,
                 permissions: list[str], expires_at: datetime | None) -> tuple[Token, str]:
    """A new token; returns it and the plaintext, which is not kept anywhere."""
    plaintext = PREFIX + secrets.token_urlsafe(32)
    row = TokenRow(id=new_id("tok"), tenant_id=tenant_id, name=name,
                   token_hash=token_hash(plaintext), permissions=list(permissions),
                   expires_at=expires_at, created_at=utcnow())
    session.add(row)
    await session.flush()
    return to_domain(row), plaintext


async def ensure_bootstrap(session: AsyncSession, plaintext: str) -> Token:
    """A global `*` token named `bootstrap` with exactly this value; idempotent, and safe when
    several processes start at once. Earlier bootstrap tokens with other values are revoked."""
    digest, now = token_hash(plaintext), utcnow()
    await session.execute(
        update(TokenRow)
        .where(TokenRow.name == BOOTSTRAP_NAME, TokenRow.tenant_id.is_(None),
               TokenRow.token_hash != digest, TokenRow.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False))
    await session.execute(
        dialect_insert(session, TokenRow)
        .values(id=new_id("tok"), tenant_id=None, name=BOOTSTRAP_NAME, token_hash=digest,
                permissions=["*"], created_at=now)
        .on_conflict_do_nothing(index_elements=[TokenRow.token_hash]))
    await session.execute(
        update(TokenRow)
        .where(TokenRow.token_hash == digest)
        .values(tenant_id=None, name=BOOTSTRAP_NAME, permissions=["*"], expires_at=None,
                revoked_at=None)
        .execution_options(synchronize_session=False))
    row = await session.scalar(select(TokenRow).where(TokenRow.token_hash == digest)
                               .execution_options(populate_existing=True))
    if row is None:
        raise LookupError("the bootstrap token was not written")
    return to_domain(row)


async def get(session: AsyncSession, token_id: str, tenant_id: str | None = None) -> Token | None:
    """A token by id; with `tenant_id`, only if it belongs to that tenant."""
    return _token(await _row(session, token_id, tenant_id))


async def _row(session: AsyncSession, token_id: str,
               tenant_id: str | None = None) -> TokenRow | None:
    query = select(TokenRow).where(TokenRow.id == token_id)
    if tenant_id is not None:
        query = query.where(TokenRow.tenant_id == tenant_id)
    return await session.scalar(query)


async def find_by_plaintext(session: AsyncSession, plaintext: str) -> Token | None:
    """The token whose hash matches, revoked or expired ones included (see
    `domain.tokens.is_usable`)."""
    return _token(await session.scalar(
        select(TokenRow).where(TokenRow.token_hash == token_hash(plaintext))))


async def list_tokens(session: AsyncSession, tenant_id: str | None = None, limit: int = 50,
                      offset: int = 0) -> list[Token]:
    """Newest first; with `tenant_id`, that tenant's tokens only, else every token."""
    query = select(TokenRow).order_by(TokenRow.id.desc()).limit(limit).offset(offset)
    if tenant_id is not None:
        query = query.where(TokenRow.tenant_id == tenant_id)
    return [to_domain(row) for row in await session.scalars(query)]


async def revoke(session: AsyncSession, token_id: str, tenant_id: str | None = None) -> bool:
    """Revoke a token; a tenant caller (`tenant_id` set) reaches only its own tenant's.
    False if there is no such token; revoking again keeps the first revocation time."""
    row = await _row(session, token_id, tenant_id)
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        await session.flush()
    return True


async def revoke_by_name(session: AsyncSession, name: str) -> None:
    """Revoke every live global token with this name."""
    await session.execute(
        update(TokenRow).where(TokenRow.name == name, TokenRow.tenant_id.is_(None),
                               TokenRow.revoked_at.is_(None)).values(revoked_at=utcnow())
        .execution_options(synchronize_session=False))


async def mark_used(session: AsyncSession, token_id: str,
                    granularity: timedelta = timedelta(minutes=1)) -> None:
    """Record use of a token, writing at most once per `granularity`."""
    now = utcnow()
    await session.execute(
        update(TokenRow)
        .where(TokenRow.id == token_id,
               TokenRow.last_used_at.is_(None) | (TokenRow.last_used_at < now - granularity))
        .values(last_used_at=now)
        .execution_options(synchronize_session=False))


async def delete_by_name(session: AsyncSession, name: str) -> None:
    """Delete every global token with this name, live or revoked."""
    await session.execute(
        delete(TokenRow).where(TokenRow.name == name, TokenRow.tenant_id.is_(None)))

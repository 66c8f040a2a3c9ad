"""Token repository: hashing, lookup, listing, revocation, expiry and the bootstrap token."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import timedelta

from sqlalchemy import select, text

from flowhooks_server.domain.tokens import is_usable
from flowhooks_server.storage import tokens
from flowhooks_server.storage.models import Token, utcnow


async def _create(db, tenant, name="t", permissions=("webhooks:read",), expires_at=None):
    async with db.session() as session, session.begin():
        return await tokens.create(session, tenant, name, list(permissions), expires_at)


async def test_only_the_hash_is_stored(db):
    tenant = str(uuid.uuid4())
    row, plaintext = await _create(db, tenant)
    assert plaintext.startswith("fh_") and len(plaintext) > 40
    async with db.session() as session:
        raw = (await session.execute(text("SELECT * FROM tokens WHERE id = :id"),
                                     {"id": row.id})).mappings().one()
    assert raw["token_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert all(plaintext not in str(value) for value in raw.values())
    assert plaintext[3:] not in str(dict(raw))


async def test_find_by_plaintext(db):
    tenant = str(uuid.uuid4())
    row, plaintext = await _create(db, tenant, permissions=["webhooks:read", "tokens:write"])
    async with db.session(readonly=True) as session:
        found = await tokens.find_by_plaintext(session, plaintext)
        assert await tokens.find_by_plaintext(session, plaintext + "x") is None
        assert await tokens.find_by_plaintext(session, "") is None
    assert found.id == row.id and found.tenant_id == tenant
    assert found.permissions == ("webhooks:read", "tokens:write")
    assert found.created_at.tzinfo is not None and is_usable(found)


async def test_revoke(db):
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    row, plaintext = await _create(db, tenant)
    async with db.session() as session, session.begin():
        assert await tokens.revoke(session, row.id, other) is False
        assert await tokens.revoke(session, "tok_unknown") is False
        assert (await tokens.get(session, row.id)).revoked_at is None
        assert await tokens.revoke(session, row.id, tenant) is True
    async with db.session() as session:
        first = (await tokens.find_by_plaintext(session, plaintext)).revoked_at
    assert first is not None
    async with db.session() as session, session.begin():
        assert await tokens.revoke(session, row.id) is True
    async with db.session() as session:
        again = await tokens.find_by_plaintext(session, plaintext)
    assert again.revoked_at == first and not is_usable(again)


async def test_expiry(db):
    tenant = str(uuid.uuid4())
    _, expired = await _create(db, tenant, expires_at=utcnow() - timedelta(seconds=1))
    _, live = await _create(db, tenant, expires_at=utcnow() + timedelta(hours=1))
    async with db.session() as session:
        expired_row = await tokens.find_by_plaintext(session, expired)
        live_row = await tokens.find_by_plaintext(session, live)
    assert expired_row.expires_at.tzinfo is not None
    assert not is_usable(expired_row)
    assert is_usable(live_row)
    assert not is_usable(live_row, now=utcnow() + timedelta(hours=2))


async def test_get_and_list(db):
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    made = [(await _create(db, tenant, name=f"n{i}"))[0] for i in range(3)]
    foreign, _ = await _create(db, other)
    global_row, _ = await _create(db, None, name="global")
    async with db.session() as session:
        assert (await tokens.get(session, made[0].id)).name == "n0"
        assert await tokens.get(session, made[0].id, other) is None
        assert (await tokens.get(session, global_row.id)).tenant_id is None
        listed = await tokens.list_tokens(session, tenant, limit=10, offset=0)
        assert [r.id for r in listed] == [r.id for r in reversed(made)]
        page = await tokens.list_tokens(session, tenant, limit=1, offset=1)
        assert [r.id for r in page] == [made[1].id]
        everything = {r.id for r in await tokens.list_tokens(session, None, limit=500)}
    assert {foreign.id, global_row.id, *(r.id for r in made)} <= everything


async def test_mark_used_writes_at_most_once_per_granularity(db):
    row, _ = await _create(db, str(uuid.uuid4()))
    async with db.session() as session, session.begin():
        await tokens.mark_used(session, row.id)
    async with db.session() as session:
        first = (await tokens.get(session, row.id)).last_used_at
    async with db.session() as session, session.begin():
        await tokens.mark_used(session, row.id)
    async with db.session() as session:
        assert (await tokens.get(session, row.id)).last_used_at == first
    async with db.session() as session, session.begin():
        await tokens.mark_used(session, row.id, granularity=timedelta(0))
    async with db.session() as session:
        assert (await tokens.get(session, row.id)).last_used_at > first


async def _bootstrap(db, plaintext):
    async with db.session() as session, session.begin():
        return await tokens.ensure_bootstrap(session, plaintext)


async def _bootstrap_rows(db):
    async with db.session() as session:
        return list(await session.scalars(
            select(Token).where(Token.name == tokens.BOOTSTRAP_NAME).order_by(Token.id)))


async def test_bootstrap_is_idempotent(db):
    value = "boot-" + uuid.uuid4().hex
    first = await _bootstrap(db, value)
    second = await _bootstrap(db, value)
    await asyncio.gather(*(_bootstrap(db, value) for _ in range(4)))
    assert first.id == second.id
    live = [r for r in await _bootstrap_rows(db) if r.revoked_at is None]
    assert [r.id for r in live] == [first.id]
    row = live[0]
    assert row.tenant_id is None and row.permissions == ["*"] and row.expires_at is None
    assert row.token_hash == tokens.token_hash(value) != value
    async with db.session() as session:
        assert (await tokens.find_by_plaintext(session, value)).id == first.id


async def test_bootstrap_rotation_revokes_the_old_value_and_can_revive_it(db):
    old, new = "boot-" + uuid.uuid4().hex, "boot-" + uuid.uuid4().hex
    old_row = await _bootstrap(db, old)
    new_row = await _bootstrap(db, new)
    async with db.session() as session:
        assert not is_usable(await tokens.find_by_plaintext(session, old))
        assert is_usable(await tokens.find_by_plaintext(session, new))
    revived = await _bootstrap(db, old)
    assert revived.id == old_row.id and revived.revoked_at is None
    async with db.session() as session:
        assert not is_usable(await tokens.get(session, new_row.id))

"""Migrations: idempotent, and they build exactly what the models describe."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from flowhooks_server.storage.migrate import alembic_config, upgrade, upgrade_sync
from flowhooks_server.storage.models import Base


async def _inspect(url: str, fn):
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _head(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def _state(conn):
    version = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                            Base.metadata)
    return version, diff, set(inspect(conn).get_table_names())


def _partial_indexes(conn):
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'deliveries'"))
    else:
        rows = conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries'"))
    return {name: sql for name, sql in rows if sql and "WHERE" in sql.upper()}


def test_upgrade_twice_matches_models(fresh_database_url):
    upgrade_sync(fresh_database_url)
    upgrade_sync(fresh_database_url)
    version, diff, tables = asyncio.run(_inspect(fresh_database_url, _state))
    assert version == [_head(fresh_database_url)]
    assert diff == []
    assert set(Base.metadata.tables) <= tables
    partial = asyncio.run(_inspect(fresh_database_url, _partial_indexes))
    assert set(partial) == {"ix_deliveries_due", "ix_deliveries_lease"}
    assert "pending" in partial["ix_deliveries_due"]
    assert "inflight" in partial["ix_deliveries_lease"]


async def test_async_upgrade_from_a_running_loop(fresh_database_url):
    await upgrade(fresh_database_url)
    await upgrade(fresh_database_url)
    version, diff, _ = await _inspect(fresh_database_url, _state)
    assert version == [_head(fresh_database_url)] and diff == []

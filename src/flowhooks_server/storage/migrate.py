"""Apply Alembic migrations programmatically; no alembic.ini is needed at run time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

from flowhooks_server.storage.db import ensure_sqlite_dir

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade_sync(database_url: str) -> None:
    """Migrate to the newest revision; idempotent. Must not run inside an event loop (the
    Alembic environment drives the async engine with `asyncio.run`)."""
    ensure_sqlite_dir(database_url)
    command.upgrade(alembic_config(database_url), "head")


async def upgrade(database_url: str) -> None:
    """`upgrade_sync` from a running loop: it runs in a worker thread with its own loop."""
    await asyncio.to_thread(upgrade_sync, database_url)

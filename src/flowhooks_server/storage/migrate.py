"""Apply Alembic migrations programmatically; no alembic.ini is needed at run time."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade_sync(database_url: str) -> None:
    """Migrate to the newest revision; idempotent. Call before the event loop starts."""
    from flowhooks_server.storage.db import Database

    Database(database_url)  # creates the SQLite directory if needed
    command.upgrade(alembic_config(database_url), "head")

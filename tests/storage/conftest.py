"""Storage fixtures: one migrated database of their own per backend (SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest
from dbutil import create_pg_database, drop_pg_database, sqlite_url

from flowhooks_server.storage.db import Database
from flowhooks_server.storage.migrate import upgrade_sync


@pytest.fixture(scope="session")
def storage_url(backend, tmp_path_factory):
    if backend == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("storage"))
    else:
        url = create_pg_database()
    upgrade_sync(url)
    yield url
    if backend == "postgres":
        drop_pg_database(url)


@pytest.fixture(scope="session")
async def db(storage_url):
    database = Database(storage_url)
    yield database
    await database.dispose()

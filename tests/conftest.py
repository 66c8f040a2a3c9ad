"""Shared fixtures: a real flowhooks stack (server + Envoy) per database, SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbutil import create_pg_database, drop_pg_database, sqlite_url  # noqa: E402
from delivery_fixtures import (  # noqa: E402, F401 - fixtures shared by every folder
    Publisher,
    ca_file,
    insecure_database_url,
    insecure_stack,
    irest,
    itenant,
    publisher,
    receiver,
    test_ca,
    tls_receiver,
)
from harness import Rest, Stack  # noqa: E402
from tenancy import Tenant, make_tenant  # noqa: E402

from flowhooks_server.storage.db import Database  # noqa: E402
from flowhooks_server.storage.migrate import upgrade_sync  # noqa: E402

BACKENDS = ("sqlite", "postgres")


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(backend, tmp_path_factory):
    if backend == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("sqlite"))
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture
def fresh_database_url(backend, tmp_path):
    """A database of its own, for a test that starts its own stack."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path)
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="session")
def stack(database_url, tmp_path_factory):
    s = Stack(database_url, tmp_path_factory.mktemp("stack"), "fh_boot_" + secrets.token_hex(16))
    s.start()
    yield s
    s.stop()


@pytest.fixture
async def rest(stack):
    async with aiohttp.ClientSession() as session:
        yield Rest(stack.rest, session)


@pytest.fixture
async def channel(stack):
    async with stack.channel() as ch:
        yield ch


@pytest.fixture
async def tenant(rest, stack) -> Tenant:
    return await make_tenant(rest, stack.bootstrap_token)


@pytest.fixture
async def other_tenant(rest, stack) -> Tenant:
    return await make_tenant(rest, stack.bootstrap_token)


@pytest.fixture(scope="session")
def storage_url(backend, tmp_path_factory):
    """A migrated database of its own per backend, for tests that use storage directly."""
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


# SPEC §10 test layers, selectable with `-m unit`, `-m integration` or `-m e2e`: a test is
# end to end when it drives a real stack (server + Envoy), integration when it uses a real
# database without one, and a unit test otherwise.
E2E_FIXTURES = frozenset({"stack", "rest", "channel", "insecure_stack", "irest", "itenant",
                          "tenant", "other_tenant", "fresh_database_url", "publisher",
                          "walkthrough_stack"})
INTEGRATION_FIXTURES = frozenset({"db", "storage_url", "database_url", "receiver",
                                  "tls_receiver"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & E2E_FIXTURES:
            item.add_marker(pytest.mark.e2e)
        elif used & INTEGRATION_FIXTURES:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)

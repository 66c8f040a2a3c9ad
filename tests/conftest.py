"""Shared fixtures: a real flowhooks stack (server + Envoy) per database, SQLite and PostgreSQL."""

from __future__ import annotations

import inspect
import secrets
import sys
import types
from pathlib import Path

import aiohttp
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dbutil import create_pg_database, drop_pg_database, sqlite_url
from delivery_fixtures import (  # noqa: F401 - fixtures shared by every folder
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
from harness import Rest, Stack
from tenancy import Tenant, make_tenant

from flowhooks_server.storage.db import Database
from flowhooks_server.storage.migrate import upgrade_sync

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


# SPEC §10 test layers, selectable with `-m unit`, `-m integration` or `-m e2e`. A test is
# end to end when it drives a real stack (server + Envoy), integration when it uses a real
# database, a server, a subprocess or the network without one, and a unit test only when it
# uses none of these. What a test uses is read from the fixtures it requests (transitively)
# and from the names referenced by its code, its fixtures' code and the helpers of tests/ they
# call, so a test that starts a stack or a receiver inline is filed as surely as one that asks
# for a fixture. A layer marker written on a test wins over the rule.
LAYERS = ("unit", "integration", "e2e")
TESTS = Path(__file__).resolve().parent
E2E_FIXTURES = frozenset({"stack", "rest", "channel", "insecure_stack", "irest", "itenant",
                          "tenant", "other_tenant", "publisher", "walkthrough_stack"})
# `fresh_database_url` is only a database: a test that starts a stack on it names `Stack`.
INTEGRATION_FIXTURES = frozenset({"db", "storage_url", "database_url", "fresh_database_url",
                                  "receiver", "tls_receiver", "insecure_database_url"})
# Names whose use means a stack of flowhooks (server + Envoy) is started.
E2E_NAMES = frozenset({"Stack", "own_stack", "insecure"})
# Names whose use means a database, a server, a subprocess or a connection.
INTEGRATION_NAMES = frozenset({
    "Database", "create_pg_database", "sqlite_url", "upgrade_sync", "PgCluster",  # databases
    "Receiver", "Listener", "FakeUpstream", "add_insecure_port",  # servers on loopback
    "EnvoyProcess", "start_envoy", "subprocess", "create_subprocess_exec",  # subprocesses
    "_plugin_or_skip",  # runs the protoc-gen-openapiv2 plugin
    "Sender", "ClientSession", "create_connection", "open_connection", "urlopen",  # network
})


def _code_names(code: types.CodeType) -> set[str]:
    """Every global and attribute name `code` and the functions nested in it refer to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _function_names(fn: object, seen: set[object] | None = None) -> set[str]:
    """The names `fn` refers to, and those of the helpers of tests/ it calls, transitively."""
    fn = inspect.unwrap(getattr(getattr(fn, "hypothesis", None), "inner_test", fn))
    code = getattr(fn, "__code__", None)
    if code is None:
        return set()
    seen = set() if seen is None else seen
    seen.add(fn)
    names = _code_names(code)
    for name in list(names):
        helper = getattr(fn, "__globals__", {}).get(name)
        if (inspect.isfunction(helper) and helper not in seen
                and Path(helper.__code__.co_filename).is_relative_to(TESTS)):
            names |= _function_names(helper, seen)
    return names


def _referenced_names(item: pytest.Item) -> set[str]:
    """The names used by the test's code and by the code of every fixture it uses."""
    names = _function_names(getattr(item, "function", None))
    fixtureinfo = getattr(item, "_fixtureinfo", None)
    for defs in getattr(fixtureinfo, "name2fixturedefs", {}).values():
        for fixturedef in defs:
            names |= _function_names(fixturedef.func)
    return names


def layer_of(item: pytest.Item) -> str:
    """The test layer of `item` (see above)."""
    written = [m.name for m in item.iter_markers() if m.name in LAYERS]
    if written:
        return written[0]
    used = set(getattr(item, "fixturenames", ()))
    names = _referenced_names(item)
    if used & E2E_FIXTURES or names & E2E_NAMES:
        return "e2e"
    if used & INTEGRATION_FIXTURES or names & INTEGRATION_NAMES:
        return "integration"
    return "unit"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        layer = layer_of(item)
        if item.get_closest_marker(layer) is None:
            item.add_marker(getattr(pytest.mark, layer))
        # Property-based tests are `fuzz` too (pyproject's marker), whatever their layer.
        if hasattr(getattr(item, "function", None), "hypothesis") and \
                item.get_closest_marker("fuzz") is None:
            item.add_marker(pytest.mark.fuzz)

"""Delivery fixtures, registered by the root conftest for every folder: a stack that may
deliver to loopback (FLOWHOOKS_ALLOW_INSECURE_TARGETS=1)
and trusts a test CA, real receivers on loopback (plain and TLS), and event publishing."""

from __future__ import annotations

import secrets

import pytest
import trustme
from dbutil import create_pg_database, drop_pg_database, sqlite_url
from harness import Stack
from receiver import Receiver
from tenancy import Tenant, make_tenant

from flowhooks_server.delivery.wakeups import Wakeups
from flowhooks_server.services.outbox import Outbox
from flowhooks_server.storage.db import Database


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(test_ca, tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="session")
def insecure_database_url(backend, tmp_path_factory):
    if backend == "sqlite":
        yield sqlite_url(tmp_path_factory.mktemp("insecure-db"))
        return
    url = create_pg_database()
    yield url
    drop_pg_database(url)


def insecure(database_url: str, workdir, ca_file: str) -> Stack:
    """A stack that may deliver to loopback and trusts the test CA."""
    return Stack(database_url, workdir, "fh_boot_" + secrets.token_hex(16),
                 FLOWHOOKS_ALLOW_INSECURE_TARGETS="1", SSL_CERT_FILE=ca_file)


@pytest.fixture(scope="session")
def insecure_stack(insecure_database_url, tmp_path_factory, ca_file):
    s = insecure(insecure_database_url, tmp_path_factory.mktemp("insecure"), ca_file)
    s.start()
    yield s
    s.stop()


class Publisher:
    """Publishes events straight into a stack's database through the outbox, as the run
    executor does; the server's worker picks them up."""

    def __init__(self, database_url: str):
        self.db = Database(database_url)
        self.outbox = Outbox(self.db, Wakeups())

    async def publish(self, tenant: str, count: int = 1, event_type: str = "workflow.completed",
                      **data) -> list[str]:
        ids = []
        for i in range(count):
            published = await self.outbox.publish(tenant, event_type, {
                "workflow_run_id": f"run_{i}", "workflow_id": "wf_test", "status": "succeeded",
                "n": i, **data}, workflow_id="wf_test")
            ids.append(published.event.id)
        return ids


@pytest.fixture(scope="session")
async def publisher(insecure_stack):
    p = Publisher(insecure_stack.database_url)
    yield p
    await p.db.dispose()


@pytest.fixture
async def irest(insecure_stack):
    import aiohttp
    from harness import Rest

    async with aiohttp.ClientSession() as session:
        yield Rest(insecure_stack.rest, session)


@pytest.fixture
async def itenant(irest, insecure_stack) -> Tenant:
    return await make_tenant(irest, insecure_stack.bootstrap_token)


@pytest.fixture
async def receiver():
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def tls_receiver(test_ca):
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    r = await Receiver(context).start()
    yield r
    await r.stop()

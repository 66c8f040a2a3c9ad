"""The SSRF guard (SPEC §8.11) with insecure targets off, as in production: creation refuses
literal non-public targets and http://; and the worker checks again at delivery time, on the
address it actually connects to, so a stored row whose name now resolves to loopback (DNS
rebinding) is refused too: a `network` failure whose error says why, then diverted."""

from __future__ import annotations

import pytest
from bursts import DbPublisher
from harness import wait_for
from tenancy import field_violations, make_tenant

from flowhooks_server.domain.webhooks import FailureHandling, RetryStrategy, Webhook, WebhookSpec
from flowhooks_server.ids import new_id
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.models import utcnow

# One quick retry on network failures, then divert.
FAST = FailureHandling(triggers=("network",), retry=RetryStrategy("linear", 0.05, 1),
                       divert=True, suspend=False)

# (url template, what the refusal names). {tls}/{plain} are loopback receivers' ports.
LOOPBACK_RULE = "127.0.0.1 is in 127.0.0.0/8 (loopback)"
TARGETS = {
    "loopback": ("https://127.0.0.1:{tls}/hook", "loopback"),
    "private": ("https://10.1.2.3/hook", "private"),
    "metadata": ("https://169.254.169.254/latest/meta-data/", "link-local"),
    "ipv6-loopback": ("https://[::1]:{tls}/hook", "loopback"),
    "localhost": ("https://localhost:{tls}/hook", "loopback"),
    "mapped-loopback": ("https://[::ffff:127.0.0.1]:{tls}/hook", "loopback"),
    # Legacy numeric forms that getaddrinfo maps onto 127.0.0.1.
    "short-loopback": ("https://127.1:{tls}/hook", LOOPBACK_RULE),
    "decimal-loopback": ("https://2130706433:{tls}/hook", LOOPBACK_RULE),
    "http": ("http://127.0.0.1:{plain}/hook", "https"),
}
REFUSED_AT_CREATION = ("loopback", "private", "metadata", "ipv6-loopback", "localhost", "http",
                       "mapped-loopback", "short-loopback", "decimal-loopback")


@pytest.fixture(scope="module")
async def stack_publisher(stack):
    p = DbPublisher(stack.database_url)
    yield p
    await p.close()


@pytest.fixture
async def tenant(rest, stack):
    return await make_tenant(rest, stack.bootstrap_token)


def target(name: str, tls_receiver, receiver) -> str:
    return TARGETS[name][0].format(tls=tls_receiver.port, plain=receiver.port)


async def insert_webhook(database, tenant_id: str, url: str) -> str:
    """A stored webhook row, as if its URL had passed creation (a name that resolved to a
    public address then)."""
    now = utcnow()
    hook = Webhook(id=new_id("wh"), tenant_id=tenant_id, spec=WebhookSpec(
        name="rebound", url=url, event_types=("workflow.*",), headers={}, secret=None,
        enabled=True, failure_handling=FAST, timeout_s=1.0, format="json", ordered=False),
        suspended=False, created_at=now, updated_at=now)
    async with database.session() as session, session.begin():
        await webhook_store.add(session, hook)
    return hook.id


@pytest.mark.parametrize("name", REFUSED_AT_CREATION)
async def test_creation_refuses_non_public_targets(rest, tenant, tls_receiver, receiver, name):
    url = target(name, tls_receiver, receiver)
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, json={
        "name": "x", "url": url, "eventTypes": ["workflow.*"]})
    assert status == 400 and "url" in field_violations(body), body
    status, body = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json={"name": "x", "endpoint": {"url": url},
                                         "eventTypes": ["workflow.completed"]})
    assert status == 400 and "endpoint.url" in field_violations(body), body
    status, hooks = await rest.call("GET", "/webhooks", token=tenant.token)
    assert status == 200 and hooks == []


@pytest.mark.parametrize("name", sorted(TARGETS))
async def test_delivery_time_check_refuses_and_diverts(rest, tenant, tls_receiver, receiver,
                                                       stack_publisher, name):
    url = target(name, tls_receiver, receiver)
    hook = await insert_webhook(stack_publisher.db, tenant.id, url)
    [event_id] = await stack_publisher.publish(tenant.id)

    async def diverted():
        status, body = await rest.call(
            "GET", f"/event/{tenant.id}/webhooks/{hook}/diverted", token=tenant.token)
        assert status == 200, body
        return body
    [record] = await wait_for(diverted)
    assert record["eventLocator"] == event_id and record["failureTrigger"] == "network"
    assert "refused target" in record["failureMessage"], record

    status, entries = await rest.call("GET", f"/webhooks/{hook}/logs", token=tenant.token)
    assert status == 200
    assert [e["status"] for e in entries] == ["diverted", "retrying"], entries
    why = TARGETS[name][1]
    for entry in entries:
        assert entry["failureTrigger"] == "network" and entry["eventId"] == event_id
        assert "refused target" in entry["error"] and why in entry["error"], entry
        assert entry.get("responseStatusCode", 0) == 0
    assert tls_receiver.requests == [] and receiver.requests == []

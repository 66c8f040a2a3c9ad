"""Named regressions for the SSRF guard (SPEC §8.11), insecure targets off, through the real
stack: spellings of loopback and other refused addresses that were once accepted because
the check read the host one way (urllib) and aiohttp/yarl connected to another
(`https://１２７.０.０.１/` reached a loopback listener), plus their kin.

- Every create and update surface refuses each of them with 400 naming the field, and
  nothing is created or changed: POST /event/{tenant}/webhooks and POST /webhooks, both
  PATCHes, and `failureHandling.alertEndpoint`.
- A stored row with such a URL (as if it had got past creation) is a `network` failure
  naming the rule (then diverted), and a real loopback listener sees no connection at all.
- The refusal is decided before any connection, so its text is the same whether the port is
  open, closed or speaks TLS: the guard is no port scanner.
"""

from __future__ import annotations

import asyncio

import pytest
from bursts import DbPublisher
from harness import free_port, wait_for
from tenancy import field_violations

from flowhooks_server.delivery.sender import Sender
from flowhooks_server.domain.webhooks import FailureHandling, RetryStrategy, Webhook, WebhookSpec
from flowhooks_server.ids import new_id
from flowhooks_server.storage import webhooks as webhook_store
from flowhooks_server.storage.models import utcnow

LOOPBACK = "127.0.0.0/8 (loopback)"
# (case, URL template, what the refusal must name); {port} is a live loopback listener's.
REFUSED = [
    ("fullwidth-digits", "https://１２７.０.０.１:{port}/hook", LOOPBACK),
    ("ideographic-full-stop", "https://127。0。0。1:{port}/hook", LOOPBACK),
    ("fullwidth-full-stop", "https://１２７．０．０．１:{port}/hook", LOOPBACK),
    ("circled-digits", "https://①②⑦.0.0.1:{port}/hook", LOOPBACK),
    ("percent-encoded", "https://%31%32%37.0.0.1:{port}/hook", LOOPBACK),
    ("hex-short", "https://0x7f.1:{port}/hook", LOOPBACK),
    ("octal", "https://0177.0.0.01:{port}/hook", LOOPBACK),
    ("trailing-dot", "https://127.0.0.1.:{port}/hook", LOOPBACK),
    ("circled-ten", "https://⑩.0.0.1:{port}/hook", "10.0.0.0/8 (private)"),
    ("6to4", "https://[2002:7f00:1::]:{port}/hook", "2002::/16 (6to4) and embeds 127.0.0.1"),
    ("site-local", "https://[fec0::1]:{port}/hook", "fec0::/10 (site-local)"),
    ("ipv4-mapped", "https://[::ffff:127.0.0.1]:{port}/hook", "embeds 127.0.0.1"),
    ("nat64", "https://[64:ff9b::7f00:1]:{port}/hook", "64:ff9b::/96 (NAT64) and embeds"),
    ("zoned-link-local", "https://[fe80::1%25eth0]:{port}/hook", "fe80::/10 (link-local)"),
    ("unspecified", "https://0:{port}/hook", "0.0.0.0/8"),
    ("localhost-dot", "https://localhost.:{port}/hook", "localhost"),
]
# Hosts that are neither a DNS name nor an IP literal, and URLs read differently by parsers.
MALFORMED = [
    ("underscore", "https://a_b.example.com/hook", "invalid host"),
    ("space", "https://a b.example.com/hook", "space"),
    ("bad-escape", "https://%zz.example.com/hook", "%-escape"),
    ("numeric-tail", "https://127.0.0.1．1/hook", "not an IPv4 address"),
    ("credentials", "https://hooks.example.com@１２７.０.０.１:{port}/", "credentials"),
    ("backslash", "https://hooks.example.com\\@127.0.0.1:{port}/", "credentials"),
    ("bracketed-ipv4", "https://[127.0.0.1]:{port}/hook", "valid URL"),
]
CASES = {case: (url, why) for case, url, why in REFUSED + MALFORMED}
GOOD = "https://hooks.example.com/in"
FAST = FailureHandling(triggers=("network",), retry=RetryStrategy("linear", 0.05, 1),
                       divert=True, suspend=False)


class Listener:
    """A plain TCP listener on loopback that counts the connections it accepts."""

    def __init__(self) -> None:
        self.accepted = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> Listener:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader, writer) -> None:
        self.accepted += 1
        writer.close()

    async def stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()


@pytest.fixture
async def listener():
    server = await Listener().start()
    yield server
    await server.stop()


@pytest.fixture(scope="module")
async def db_publisher(stack):
    publisher = DbPublisher(stack.database_url)
    yield publisher
    await publisher.close()


def org(tenant) -> dict[str, str]:
    return {"X-Org-Id": tenant.id}


async def socotra_list(rest, tenant) -> list[dict]:
    status, body = await rest.call("GET", f"/event/{tenant.id}/webhooks/list", token=tenant.token)
    assert status == 200, body
    return body


async def elan_list(rest, tenant) -> list[dict]:
    status, body = await rest.call("GET", "/webhooks", token=tenant.token, headers=org(tenant))
    assert status == 200, body
    return body


def refused_with(status: int, body, field: str, why: str) -> bool:
    return status == 400 and why in field_violations(body).get(field, "")


@pytest.mark.parametrize("case", sorted(CASES))
async def test_creation_surfaces_refuse_and_create_nothing(rest, tenant, listener, case):
    url, why = CASES[case]
    url = url.format(port=listener.port)
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={"name": "x", "url": url, "eventTypes": ["workflow.*"]})
    assert refused_with(status, body, "url", why), body
    status, body = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json={"name": "x", "endpoint": {"url": url},
                                         "eventTypes": ["workflow.completed"]})
    assert refused_with(status, body, "endpoint.url", why), body
    alert = {"triggers": ["5xx"], "alertEndpoint": url}
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={"name": "x", "url": GOOD, "eventTypes": ["workflow.*"],
                                         "failureHandling": alert})
    assert refused_with(status, body, "failureHandling.alertEndpoint", why), body
    status, body = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json={"name": "x", "endpoint": {"url": GOOD},
                                         "eventTypes": ["workflow.completed"],
                                         "failureHandling": alert})
    assert refused_with(status, body, "failureHandling.alertEndpoint", why), body
    assert await elan_list(rest, tenant) == [] and await socotra_list(rest, tenant) == []
    assert listener.accepted == 0


@pytest.mark.parametrize("case", sorted(CASES))
async def test_updates_refuse_and_change_nothing(rest, tenant, listener, case):
    url, why = CASES[case]
    url = url.format(port=listener.port)
    status, elan = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={"name": "e", "url": GOOD, "eventTypes": ["workflow.*"]})
    assert status == 200, elan
    status, socotra = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                      json={"name": "s", "endpoint": {"url": GOOD},
                                            "eventTypes": ["workflow.completed"]})
    assert status == 200, socotra
    elan_path = f"/webhooks/{elan['id']}"
    socotra_path = f"/event/{tenant.id}/webhooks/{socotra['locator']}"
    alert = {"failureHandling": {"triggers": ["5xx"], "alertEndpoint": url}}
    for path, headers, patch, field in [
        (elan_path, org(tenant), {"url": url}, "url"),
        (elan_path, org(tenant), alert, "failureHandling.alertEndpoint"),
        (socotra_path, None, {"endpoint": {"url": url}}, "endpoint.url"),
        (socotra_path, None, alert, "failureHandling.alertEndpoint"),
    ]:
        status, body = await rest.call("PATCH", path, token=tenant.token, headers=headers,
                                       json=patch)
        assert refused_with(status, body, field, why), (path, patch, body)
    status, got = await rest.call("GET", elan_path, token=tenant.token, headers=org(tenant))
    assert status == 200 and got == elan
    status, got = await rest.call("GET", socotra_path, token=tenant.token)
    assert status == 200 and got == socotra
    assert got["endpoint"]["url"] == GOOD and got["failureHandling"]["alertEndpoint"] == ""
    assert listener.accepted == 0


async def insert_webhook(database, tenant_id: str, url: str) -> str:
    """A stored row, as if `url` had passed creation."""
    now = utcnow()
    hook = Webhook(id=new_id("wh"), tenant_id=tenant_id, spec=WebhookSpec(
        name="stored", url=url, event_types=("workflow.*",), headers={}, secret=None,
        enabled=True, failure_handling=FAST, timeout_s=1.0, format="json", ordered=False),
        suspended=False, created_at=now, updated_at=now)
    async with database.session() as session, session.begin():
        await webhook_store.add(session, hook)
    return hook.id


async def final_failure(rest, tenant, hook: str) -> dict:
    """The diverted record of the webhook's one delivery, once its retry has run out."""
    async def diverted():
        status, body = await rest.call(
            "GET", f"/event/{tenant.id}/webhooks/{hook}/diverted", token=tenant.token)
        assert status == 200, body
        return body
    [record] = await wait_for(diverted)
    return record


async def test_worker_never_connects_to_a_refused_spelling(rest, tenant, listener,
                                                           db_publisher):
    hooks = {case: await insert_webhook(db_publisher.db, tenant.id,
                                        url.format(port=listener.port))
             for case, url, _ in REFUSED}
    [event_id] = await db_publisher.publish(tenant.id)
    wrong = {}
    for case, hook in hooks.items():
        record = await final_failure(rest, tenant, hook)
        why = CASES[case][1]
        if not (record["eventLocator"] == event_id and record["failureTrigger"] == "network"
                and record["failureMessage"].startswith("refused target: ")
                and why in record["failureMessage"]):
            wrong[case] = record
    assert wrong == {}
    assert listener.accepted == 0


async def test_refusal_text_is_the_same_for_open_closed_and_tls_ports(rest, tenant, listener,
                                                                       tls_receiver,
                                                                       db_publisher):
    closed = free_port()
    hooks = [await insert_webhook(db_publisher.db, tenant.id, f"https://１２７.０.０.１:{port}/h")
             for port in (listener.port, closed, tls_receiver.port)]
    await db_publisher.publish(tenant.id)
    errors = {(await final_failure(rest, tenant, hook))["failureMessage"] for hook in hooks}
    assert len(errors) == 1, errors
    [error] = errors
    assert LOOPBACK in error and str(listener.port) not in error and str(closed) not in error
    assert listener.accepted == 0 and tls_receiver.requests == []


# -- the sender alone, no stack ---------------------------------------------------------------

@pytest.fixture
async def guarded_sender():
    sender = Sender(allow_insecure=False)
    await sender.start()
    yield sender
    await sender.close()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_sender_refuses_before_connecting(guarded_sender, listener, case):
    url, why = CASES[case]
    sent = await guarded_sender.post(url.format(port=listener.port), b"{}", [], 2.0)
    assert sent.result.error_kind == "network" and why in sent.result.error, sent
    assert sent.result.error.startswith("refused target: ")
    assert listener.accepted == 0


async def test_sender_error_for_a_name_resolving_to_loopback_ignores_the_port(
        guarded_sender, listener, monkeypatch):
    """DNS rebinding: a public-looking name that now resolves to loopback."""
    import aiohttp

    async def to_loopback(self, host, port=0, family=0):
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": 2,
                 "proto": 6, "flags": 0}]
    monkeypatch.setattr(aiohttp.ThreadedResolver, "resolve", to_loopback)
    errors = set()
    for port in (listener.port, free_port()):
        sent = await guarded_sender.post(f"https://rebound.example.com:{port}/", b"{}", [], 2.0)
        assert sent.result.error_kind == "network", sent
        errors.add(sent.result.error)
    assert errors == {"refused target: rebound.example.com resolves to no public address: "
                      "127.0.0.1 is in 127.0.0.0/8 (loopback)"}
    assert listener.accepted == 0


async def test_insecure_sender_connects_to_the_canonical_url(receiver):
    """With insecure targets on, loopback is allowed, but what is connected to is still the
    one reading of the URL: the Host header is the canonical host."""
    sender = Sender(allow_insecure=True)
    await sender.start()
    try:
        sent = await sender.post(f"http://１２７。０.０.１:{receiver.port}/h%41?q=ü", b"{}", [],
                                 2.0)
    finally:
        await sender.close()
    assert sent.result.status == 200, sent
    [request] = receiver.requests
    assert request.headers["Host"] == f"127.0.0.1:{receiver.port}"
    assert request.path == "/hA"

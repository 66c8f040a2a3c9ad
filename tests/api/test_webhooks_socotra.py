"""The Socotra-style surface (/event/{tenant}/webhooks...), SPEC §7, seed 003."""

from __future__ import annotations

import grpc
import pytest
from flowhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from sqlalchemy import update
from tenancy import field_violations

from flowhooks_server.storage.db import Database
from flowhooks_server.storage.models import Webhook

SECRET = "s3cr3t-value-never-shown"
VERBATIM = {  # SPEC §12, verbatim
    "name": "ops", "enabled": True,
    "endpoint": {"url": "https://hooks.example.com/in", "headers": {"X-Team": ["ops"]},
                 "secret": SECRET},
    "eventTypes": ["workflow.completed", "workflow.failed"],
    "failureHandling": {"triggers": ["5xx", "timeout"],
                        "retryStrategy": {"type": "exponential", "interval": "0.2s",
                                          "attempts": 3},
                        "divert": True, "suspend": False},
}


def base(tenant) -> str:
    return f"/event/{tenant.id}/webhooks"


async def create(rest, tenant, **overrides):
    body = {**VERBATIM, **overrides}
    status, created = await rest.call("POST", base(tenant), token=tenant.token, json=body)
    assert status == 200, created
    return created


async def list_ids(rest, tenant, query: str = "") -> list[str]:
    status, body = await rest.call("GET", f"{base(tenant)}/list{query}", token=tenant.token)
    assert status == 200, body
    assert isinstance(body, list)
    return [w["locator"] for w in body]


async def test_create_verbatim_and_get(rest, tenant):
    created = await create(rest, tenant)
    assert created["locator"].startswith("wh_")
    assert created["name"] == "ops" and created["enabled"] is True
    assert created["endpoint"] == {"url": "https://hooks.example.com/in",
                                   "headers": {"X-Team": ["ops"]}}
    assert created["eventTypes"] == ["workflow.completed", "workflow.failed"]
    assert created["failureHandling"] == {
        "triggers": ["5xx", "timeout"],
        "retryStrategy": {"type": "exponential", "interval": "0.200s", "attempts": 3},
        "alertEndpoint": "", "divert": True, "suspend": False}
    assert created["suspended"] is False and created["createdAt"] and created["updatedAt"]
    assert created["timeout"] == "10s" and created["format"] == "json"
    status, got = await rest.call("GET", f"{base(tenant)}/{created['locator']}",
                                  token=tenant.token)
    assert status == 200 and got == created


async def test_default_failure_handling_when_omitted(rest, tenant):
    body = {k: v for k, v in VERBATIM.items() if k != "failureHandling"}
    status, created = await rest.call("POST", base(tenant), token=tenant.token, json=body)
    assert status == 200
    assert created["failureHandling"] == {
        "triggers": ["4xx", "5xx", "timeout", "network"],
        "retryStrategy": {"type": "exponential", "interval": "30s", "attempts": 8},
        "alertEndpoint": "", "divert": True, "suspend": False}


async def test_failure_handling_parts_left_out_take_defaults(rest, tenant):
    body = {**VERBATIM, "failureHandling": {"triggers": ["5xx"]}}
    status, created = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                      json=body)
    assert status == 200, created
    handling = created["failureHandling"]
    assert handling["triggers"] == ["5xx"]
    assert handling["divert"] is True and handling["suspend"] is False
    assert handling["retryStrategy"] == {"type": "exponential", "interval": "30s", "attempts": 8}
    body["failureHandling"] = {"triggers": ["5xx"], "divert": False}
    status, created = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                      json=body)
    assert status == 200 and created["failureHandling"]["divert"] is False


async def test_secret_is_write_only(rest, tenant, stack):
    created = await create(rest, tenant)
    status, got = await rest.call("GET", f"{base(tenant)}/{created['locator']}",
                                  token=tenant.token)
    listed = await rest.call("GET", f"{base(tenant)}/list", token=tenant.token)
    patched = await rest.call("PATCH", f"{base(tenant)}/{created['locator']}", token=tenant.token,
                              json={"endpoint": {"secret": "rotated-" + SECRET}})
    for response in (created, got, listed[1], patched[1]):
        assert SECRET not in str(response) and "secret" not in str(response).lower()
    assert SECRET not in stack.logs()


async def test_patch_add_remove_semantics(rest, tenant):
    wh = await create(rest, tenant)
    url = f"{base(tenant)}/{wh['locator']}"
    status, patched = await rest.call("PATCH", url, token=tenant.token, json={
        "removeEventTypes": ["workflow.failed", "workflow.completed"],
        "addEventTypes": ["workflow.completed", "workflow.step.*"],
        "endpoint": {"removeHeaders": ["X-Team"], "addHeaders": {"X-Team": ["dev", "ops"],
                                                                 "X-New": ["1"]}},
    })
    assert status == 200, patched
    assert patched["eventTypes"] == ["workflow.completed", "workflow.step.*"]
    assert patched["endpoint"]["headers"] == {"X-Team": ["dev", "ops"], "X-New": ["1"]}
    assert patched["name"] == "ops" and patched["failureHandling"] == wh["failureHandling"]

    status, patched = await rest.call("PATCH", url, token=tenant.token, json={
        "name": "renamed", "enabled": False, "removeFailureHandling": True,
        "endpoint": {"url": "https://other.example.com/x", "removeHeaders": ["x-new"]}})
    assert status == 200
    assert patched["name"] == "renamed" and patched["enabled"] is False
    assert patched["endpoint"] == {"url": "https://other.example.com/x",
                                   "headers": {"X-Team": ["dev", "ops"]}}
    assert patched["failureHandling"]["retryStrategy"]["attempts"] == 8
    assert patched["updatedAt"] >= wh["updatedAt"]


async def _set_suspended(database_url: str, webhook_id: str) -> None:
    db = Database(database_url)
    try:
        async with db.session() as session, session.begin():
            await session.execute(update(Webhook).where(Webhook.id == webhook_id)
                                  .values(suspended=True))
    finally:
        await db.dispose()


async def test_list_filters_alone_and_combined(rest, tenant, stack):
    a = (await create(rest, tenant, name="a", eventTypes=["workflow.completed"]))["locator"]
    b = (await create(rest, tenant, name="b", enabled=False,
                      eventTypes=["workflow.step.*"]))["locator"]
    c = (await create(rest, tenant, name="c", eventTypes=["*"]))["locator"]
    d = (await create(rest, tenant, name="a", eventTypes=["workflow.failed"]))["locator"]
    await _set_suspended(stack.database_url, c)

    assert await list_ids(rest, tenant) == [a, b, c, d]
    assert await list_ids(rest, tenant, "?name=a") == [a, d]
    assert await list_ids(rest, tenant, "?enabled=false") == [b]
    assert await list_ids(rest, tenant, "?enabled=true") == [a, c, d]
    assert await list_ids(rest, tenant, "?suspended=true") == [c]
    assert await list_ids(rest, tenant, "?active=true") == [a, d]
    assert await list_ids(rest, tenant, "?active=false") == [b, c]
    assert await list_ids(rest, tenant, "?eventTypes=workflow.completed") == [a, c]
    assert await list_ids(rest, tenant, "?eventTypes=workflow.step.failed") == [b, c]
    assert await list_ids(rest, tenant,
                          "?eventTypes=workflow.completed&eventTypes=workflow.failed") == [a, c, d]
    assert await list_ids(rest, tenant, "?eventTypes=workflow.completed,workflow.failed") == [
        a, c, d]
    assert await list_ids(rest, tenant, "?name=a&eventTypes=workflow.failed") == [d]
    assert await list_ids(rest, tenant, "?active=true&eventTypes=workflow.completed") == [a]
    assert await list_ids(rest, tenant, "?offset=1&count=2") == [b, c]
    assert await list_ids(rest, tenant, "?enabled=true&offset=1&count=1") == [c]


async def test_unsuspend(rest, tenant, stack):
    wh = await create(rest, tenant)
    url = f"{base(tenant)}/{wh['locator']}"
    status, _ = await rest.call("PATCH", f"{url}/unsuspend", token=tenant.token)
    assert status == 200
    assert (await rest.call("GET", url, token=tenant.token))[1] == wh  # harmless

    await _set_suspended(stack.database_url, wh["locator"])
    assert (await rest.call("GET", url, token=tenant.token))[1]["suspended"] is True
    status, _ = await rest.call("PATCH", f"{url}/unsuspend", token=tenant.token)
    assert status == 200
    got = (await rest.call("GET", url, token=tenant.token))[1]
    assert got["suspended"] is False and "suspendedAt" not in got


async def test_delete_then_get_is_404(rest, tenant):
    wh = await create(rest, tenant)
    url = f"{base(tenant)}/{wh['locator']}"
    assert (await rest.call("DELETE", url, token=tenant.token))[0] == 200
    status, body = await rest.call("GET", url, token=tenant.token)
    assert status == 404 and body["code"] == 5
    assert (await rest.call("DELETE", url, token=tenant.token))[0] == 404
    assert await list_ids(rest, tenant) == []


INVALID = [
    ({"name": ""}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"endpoint": {"url": "not a url"}}, "endpoint.url"),
    ({"endpoint": {"url": "http://hooks.example.com/in"}}, "endpoint.url"),
    ({"endpoint": {"url": "https://hooks.example.com/" + "p" * 2048}}, "endpoint.url"),
    ({"endpoint": {"url": "https://127.0.0.1/in"}}, "endpoint.url"),
    ({"endpoint": {"url": "https://10.0.0.8/in"}}, "endpoint.url"),
    ({"endpoint": {"url": "https://[::1]/in"}}, "endpoint.url"),
    ({"eventTypes": []}, "eventTypes"),
    ({"eventTypes": ["workflow.exploded"]}, "eventTypes[0]"),
    ({"endpoint": {"url": "https://h.example.com", "secret": "s" * 256}}, "endpoint.secret"),
    ({"endpoint": {"url": "https://h.example.com",
                   "headers": {f"X-{i}": ["v"] for i in range(51)}}}, "endpoint.headers"),
    ({"endpoint": {"url": "https://h.example.com", "headers": {"User-Agent": ["x"]}}},
     "endpoint.headers.User-Agent"),
    ({"endpoint": {"url": "https://h.example.com", "headers": {"webhook-id": ["x"]}}},
     "endpoint.headers.webhook-id"),
    ({"endpoint": {"url": "https://h.example.com", "headers": {"X-Webhook-Signature": ["x"]}}},
     "endpoint.headers.X-Webhook-Signature"),
    ({"failureHandling": {"retryStrategy": {"type": "linear", "attempts": 0}}},
     "failureHandling.retryStrategy.attempts"),
    ({"failureHandling": {"retryStrategy": {"type": "linear", "attempts": 11}}},
     "failureHandling.retryStrategy.attempts"),
    ({"failureHandling": {"retryStrategy": {"type": "linear", "attempts": 2,
                                            "interval": "-1s"}}},
     "failureHandling.retryStrategy.interval"),
    ({"failureHandling": {"triggers": ["teapot"]}}, "failureHandling.triggers[0]"),
    ({"timeout": "31s"}, "timeout"),
    ({"timeout": "0.5s"}, "timeout"),
    ({"format": "xml"}, "format"),
]


@pytest.mark.parametrize("overrides,field", INVALID, ids=[f for _, f in INVALID])
async def test_create_validation_names_field_and_creates_nothing(rest, tenant, overrides,
                                                                 field):
    status, body = await rest.call("POST", base(tenant), token=tenant.token,
                                   json={**VERBATIM, **overrides})
    assert status == 400, body
    assert body["code"] == 3 and field in field_violations(body), body
    assert await list_ids(rest, tenant) == []


async def test_bad_duration_is_400(rest, tenant):
    status, body = await rest.call("POST", base(tenant), token=tenant.token,
                                   json={**VERBATIM, "timeout": "soon"})
    assert status == 400 and "timeout" in body["message"].lower()
    assert await list_ids(rest, tenant) == []


async def test_patch_validation_changes_nothing(rest, tenant):
    wh = await create(rest, tenant)
    url = f"{base(tenant)}/{wh['locator']}"
    for patch, field in [
        ({"name": "", "addEventTypes": ["workflow.started"]}, "name"),
        ({"endpoint": {"url": "http://plain.example.com"}}, "endpoint.url"),
        ({"removeEventTypes": ["workflow.completed", "workflow.failed"]}, "eventTypes"),
        ({"endpoint": {"addHeaders": {"Host": ["x"]}}}, "endpoint.headers.Host"),
        ({"failureHandling": {"retryStrategy": {"type": "linear", "attempts": 12}}},
         "failureHandling.retryStrategy.attempts"),
    ]:
        status, body = await rest.call("PATCH", url, token=tenant.token, json=patch)
        assert status == 400 and field in field_violations(body), (patch, body)
        assert (await rest.call("GET", url, token=tenant.token))[1] == wh


async def test_cross_tenant_every_endpoint(rest, tenant, other_tenant, stack):
    theirs = await create(rest, other_tenant)
    their_base = base(other_tenant)
    url = f"{their_base}/{theirs['locator']}"
    calls = [
        ("GET", url, None), ("GET", f"{their_base}/list", None), ("POST", their_base, VERBATIM),
        ("PATCH", url, {"name": "pwned"}), ("PATCH", f"{url}/unsuspend", None),
        ("DELETE", url, None),
        # my tenant in the path, their webhook id: not found, never data
        ("GET", f"{base(tenant)}/{theirs['locator']}", None),
        ("PATCH", f"{base(tenant)}/{theirs['locator']}", {"name": "pwned"}),
        ("DELETE", f"{base(tenant)}/{theirs['locator']}", None),
    ]
    for method, path, body in calls:
        status, answer = await rest.call(method, path, token=tenant.token, json=body)
        assert status in (403, 404), (method, path, status)
        assert set(answer) == {"code", "message", "details"}  # an error, never their data
    assert (await rest.call("GET", url, token=other_tenant.token))[1] == theirs
    assert await list_ids(rest, other_tenant) == [theirs["locator"]]
    # a global token acts on any tenant
    status, got = await rest.call("GET", url, token=stack.bootstrap_token)
    assert status == 200 and got == theirs


async def test_permissions_are_enforced(rest, stack, tenant):
    from tenancy import make_tenant
    reader = await make_tenant(rest, stack.bootstrap_token, ["webhooks:read"])
    status, _ = await rest.call("GET", f"/event/{reader.id}/webhooks/list", token=reader.token)
    assert status == 403  # list needs webhooks:list too
    status, _ = await rest.call("POST", f"/event/{reader.id}/webhooks", token=reader.token,
                                json=VERBATIM)
    assert status == 403
    assert await list_ids(rest, type(reader)(reader.id, stack.bootstrap_token)) == []


async def test_crud_over_grpc(channel, tenant):
    stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"),)
    created = await stub.CreateWebhook(webhooks_pb2.CreateWebhookRequest(
        tenant=tenant.id, name="g", endpoint=webhooks_pb2.Endpoint(
            url="https://hooks.example.com/g", secret="x"),
        event_types=["workflow.*"]), metadata=auth)
    assert created.locator and not created.endpoint.secret
    updated = await stub.UpdateWebhook(webhooks_pb2.UpdateWebhookRequest(
        tenant=tenant.id, webhook=created.locator, add_event_types=["workflow.failed"]),
        metadata=auth)
    assert list(updated.event_types) == ["workflow.*", "workflow.failed"]
    first = await stub.ListWebhooks(webhooks_pb2.ListWebhooksRequest(
        tenant=tenant.id, page_size=1), metadata=auth)
    assert [w.locator for w in first.webhooks] == [created.locator] and first.next_page_token
    rest_page = await stub.ListWebhooks(webhooks_pb2.ListWebhooksRequest(
        tenant=tenant.id, page_size=1, page_token=first.next_page_token), metadata=auth)
    assert list(rest_page.webhooks) == []
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateWebhook(webhooks_pb2.CreateWebhookRequest(
            tenant=tenant.id, name="", endpoint=webhooks_pb2.Endpoint(url="ftp://x"),
            event_types=[]), metadata=auth)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "endpoint.url" in err.value.details() and "name" in err.value.details()
    await stub.DeleteWebhook(webhooks_pb2.DeleteWebhookRequest(
        tenant=tenant.id, webhook=created.locator), metadata=auth)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetWebhook(webhooks_pb2.GetWebhookRequest(
            tenant=tenant.id, webhook=created.locator), metadata=auth)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND

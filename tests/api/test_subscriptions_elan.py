"""The ELAN-style surface (/webhooks...), SPEC §7, seed 004."""

from __future__ import annotations

import grpc
import pytest
from flowhooks.v1 import subscriptions_pb2, subscriptions_pb2_grpc
from google.protobuf import struct_pb2
from tenancy import field_violations

SECRET = "elan-secret-never-shown"
VERBATIM = {"name": "bridge", "url": "https://hooks.example.com/elan",  # SPEC §12
            "eventTypes": ["workflow.*"], "secret": SECRET,
            "headers": {"X-Source": "flowhooks"}}


def org(tenant) -> dict:
    return {"X-Org-Id": tenant.id}


async def create(rest, tenant, **overrides):
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={**VERBATIM, **overrides})
    assert status == 200, body
    return body


async def list_all(rest, tenant, query: str = "", headers=None):
    status, body = await rest.call("GET", f"/webhooks{query}", token=tenant.token,
                                   headers=org(tenant) if headers is None else headers)
    assert status == 200, body
    return body


async def test_create_verbatim_shape(rest, tenant):
    created = await create(rest, tenant)
    assert set(created) >= {"id", "name", "url", "eventTypes", "headers", "active",
                            "createdAt", "updatedAt"}
    assert created["id"].startswith("wh_") and created["active"] is True
    assert created["headers"] == {"X-Source": "flowhooks"}
    assert created["eventTypes"] == ["workflow.*"]
    assert "secret" not in created and SECRET not in str(created)


async def test_organization_defaults_to_the_tokens_tenant(rest, tenant):
    status, created = await rest.call("POST", "/webhooks", token=tenant.token, json=VERBATIM)
    assert status == 200
    assert [s["id"] for s in await list_all(rest, tenant, headers={})] == [created["id"]]


async def test_crud(rest, tenant, stack):
    created = await create(rest, tenant)
    path = f"/webhooks/{created['id']}"
    status, got = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
    assert status == 200 and got == created
    assert [s["id"] for s in await list_all(rest, tenant)] == [created["id"]]
    status, _ = await rest.call("DELETE", path, token=tenant.token, headers=org(tenant))
    assert status == 200
    status, body = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
    assert status == 404 and body["code"] == 5
    assert await list_all(rest, tenant) == []
    assert SECRET not in stack.logs()


async def test_patch_changes_only_fields_sent(rest, tenant):
    created = await create(rest, tenant, failureHandling={"triggers": ["5xx"],
                           "retryStrategy": {"type": "linear", "interval": "1s", "attempts": 2}})
    path = f"/webhooks/{created['id']}"
    for patch, expect in [
        ({"name": "renamed"}, {"name": "renamed"}),
        ({"active": False}, {"active": False}),
        ({"url": "https://new.example.com/x"}, {"url": "https://new.example.com/x"}),
        ({"eventTypes": ["workflow.failed"]}, {"eventTypes": ["workflow.failed"]}),
        ({"headers": {}}, {"headers": {}}),
        ({"secret": "rotated"}, {}),
    ]:
        before = (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1]
        status, after = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                        json=patch)
        assert status == 200, after
        changed = {k for k in after if after[k] != before.get(k)} - {"updatedAt"}
        assert changed == set(expect), (patch, changed)
        assert all(after[k] == v for k, v in expect.items())
        assert after["failureHandling"] == created["failureHandling"]
        assert "secret" not in after


INVALID = [
    ({"name": ""}, "name"),
    ({"name": "n" * 256}, "name"),
    ({"url": ""}, "url"),
    ({"url": "http://hooks.example.com"}, "url"),
    ({"url": "https://" + "h" * 2050 + ".com"}, "url"),
    ({"url": "https://169.254.169.254/latest/meta-data"}, "url"),
    ({"eventTypes": []}, "eventTypes"),
    ({"eventTypes": ["workflow.completed", "invoice.paid"]}, "eventTypes[1]"),
    ({"secret": "s" * 256}, "secret"),
    ({"headers": {f"X-{i}": "v" for i in range(51)}}, "headers"),
    ({"headers": {"Content-Type": "text/plain"}}, "headers.Content-Type"),
    ({"headers": {"Host": "evil"}}, "headers.Host"),
]


@pytest.mark.parametrize("overrides,field", INVALID, ids=[f for _, f in INVALID])
async def test_create_validation_names_field_and_creates_nothing(rest, tenant, overrides,
                                                                 field):
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={**VERBATIM, **overrides})
    assert status == 400, body
    assert field in field_violations(body), body
    assert await list_all(rest, tenant) == []


async def test_patch_validation_changes_nothing(rest, tenant):
    created = await create(rest, tenant)
    path = f"/webhooks/{created['id']}"
    for patch, field in [({"url": "http://x.example.com"}, "url"),
                         ({"eventTypes": []}, "eventTypes"),
                         ({"eventTypes": [7]}, "eventTypes[0]"),
                         ({"headers": {"User-Agent": "x"}}, "headers.User-Agent"),
                         ({"name": "x" * 300}, "name")]:
        status, body = await rest.call("PATCH", path, token=tenant.token, headers=org(tenant),
                                       json=patch)
        assert status == 400 and field in field_violations(body), (patch, body)
        got = (await rest.call("GET", path, token=tenant.token, headers=org(tenant)))[1]
        assert got == created


async def test_cross_tenant_every_endpoint(rest, tenant, other_tenant):
    theirs = await create(rest, other_tenant)
    path = f"/webhooks/{theirs['id']}"
    for method, p, body, headers in [
        ("GET", path, None, org(other_tenant)), ("GET", "/webhooks", None, org(other_tenant)),
        ("POST", "/webhooks", VERBATIM, org(other_tenant)),
        ("PATCH", path, {"name": "x"}, org(other_tenant)),
        ("DELETE", path, None, org(other_tenant)),
        ("GET", path, None, {}), ("PATCH", path, {"name": "x"}, {}), ("DELETE", path, None, {}),
    ]:
        status, answer = await rest.call(method, p, token=tenant.token, json=body,
                                         headers=headers)
        assert status in (403, 404), (method, p, headers, status)
        assert set(answer) == {"code", "message", "details"}  # an error, never their data
    assert (await rest.call("GET", path, token=other_tenant.token,
                            headers=org(other_tenant)))[1] == theirs


async def test_crud_over_grpc_with_field_presence(channel, tenant):
    stub = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"), ("x-org-id", tenant.id))
    created = await stub.CreateSubscription(subscriptions_pb2.CreateSubscriptionRequest(
        name="g", url="https://hooks.example.com/g", event_types=["workflow.completed"],
        headers={"X-A": "1"}), metadata=auth)
    event_types = struct_pb2.ListValue()
    event_types.extend(["workflow.failed"])
    updated = await stub.UpdateSubscription(subscriptions_pb2.UpdateSubscriptionRequest(
        id=created.id, event_types=event_types), metadata=auth)
    assert list(updated.event_types) == ["workflow.failed"]
    assert updated.name == "g" and dict(updated.headers) == {"X-A": "1"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.UpdateSubscription(subscriptions_pb2.UpdateSubscriptionRequest(
            id=created.id, url="http://insecure.example.com"), metadata=auth)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    got = await stub.GetSubscription(subscriptions_pb2.GetSubscriptionRequest(id=created.id),
                                     metadata=auth)
    assert got.url == "https://hooks.example.com/g"


async def test_same_webhook_on_both_surfaces(rest, tenant):
    created = await create(rest, tenant)
    status, socotra = await rest.call("GET", f"/event/{tenant.id}/webhooks/{created['id']}",
                                      token=tenant.token)
    assert status == 200
    assert socotra["endpoint"] == {"url": created["url"], "headers": {"X-Source": ["flowhooks"]}}
    assert socotra["enabled"] is True and socotra["eventTypes"] == created["eventTypes"]

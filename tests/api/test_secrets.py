"""Reading and rotating signing secrets (SPEC §7 "Signing secrets") on both surfaces, through
Envoy and over gRPC, on both databases: generated secrets, the forms refused with the field
named and nothing changed, one webhook behind both surfaces, tenancy and permissions, and the
secret in no other answer and no log line. What deliveries carry is tests/delivery's."""

from __future__ import annotations

import base64

import grpc
import pytest
from flowhooks.v1 import (
    subscriptions_pb2,
    subscriptions_pb2_grpc,
    webhooks_pb2,
    webhooks_pb2_grpc,
)
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from tenancy import field_violations

WHSEC = "whsec_" + base64.b64encode(b"k" * 32).decode()
ELAN_SECRET = "elan-plain-secret-value"
URL = "https://hooks.example.com/in"


def whsec_of(n: int) -> str:
    return "whsec_" + base64.b64encode(b"x" * n).decode()


BAD_SECRETS = {
    "10 bytes": whsec_of(10),
    "65 bytes": whsec_of(65),
    "not base64": "whsec_this is not base64!",
    "unpadded": whsec_of(32).rstrip("="),
}


def org(tenant) -> dict:
    return {"X-Org-Id": tenant.id}


async def create_elan(rest, tenant, **extra) -> str:
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={"name": "n", "url": URL, "eventTypes": ["workflow.*"],
                                         **extra})
    assert status == 200, body
    return body["id"]


async def create_socotra(rest, tenant, **endpoint) -> str:
    status, body = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json={"name": "n", "endpoint": {"url": URL, **endpoint},
                                         "eventTypes": ["workflow.*"]})
    assert status == 200, body
    return body["locator"]


def elan_path(hook: str) -> str:
    return f"/webhooks/{hook}/secret"


def socotra_path(tenant, hook: str) -> str:
    return f"/event/{tenant.id}/webhooks/{hook}/secret"


SURFACES = ("elan", "socotra")


def secret_path(surface: str, tenant, hook: str) -> str:
    return elan_path(hook) if surface == "elan" else socotra_path(tenant, hook)


async def read(rest, tenant, hook: str, surface: str = "elan") -> str:
    status, body = await rest.call("GET", secret_path(surface, tenant, hook), token=tenant.token,
                                   headers=org(tenant))
    assert status == 200, body
    assert set(body) == {"key"}
    return body["key"]


async def rotate(rest, tenant, hook: str, surface: str = "elan", **body):
    return await rest.call("POST", secret_path(surface, tenant, hook) + "/rotate",
                           token=tenant.token, headers=org(tenant), json=body)


def generated(key: str) -> bool:
    return key.startswith("whsec_") and len(
        base64.b64decode(key.removeprefix("whsec_"), validate=True)) == 32


@pytest.mark.parametrize("surface", SURFACES)
async def test_created_without_a_secret_gets_a_generated_one(rest, tenant, surface):
    hook = await (create_elan(rest, tenant) if surface == "elan"
                  else create_socotra(rest, tenant))
    key = await read(rest, tenant, hook, surface)
    assert generated(key)
    assert await read(rest, tenant, hook, surface) == key  # stored, not made on each read
    other = await (create_elan(rest, tenant) if surface == "elan"
                   else create_socotra(rest, tenant))
    assert await read(rest, tenant, other, surface) != key


async def test_both_surfaces_address_the_same_webhook(rest, tenant):
    on_elan = await create_elan(rest, tenant, secret=ELAN_SECRET)
    assert await read(rest, tenant, on_elan, "socotra") == ELAN_SECRET
    on_socotra = await create_socotra(rest, tenant, secret=WHSEC)
    assert await read(rest, tenant, on_socotra, "elan") == WHSEC
    # Rotated on one surface, read on the other.
    status, body = await rotate(rest, tenant, on_elan, "socotra")
    assert status == 200 and generated(body["key"]), body
    assert await read(rest, tenant, on_elan, "elan") == body["key"]
    status, body = await rotate(rest, tenant, on_socotra, "elan", key="new-plain")
    assert status == 200 and body == {"key": "new-plain"}
    assert await read(rest, tenant, on_socotra, "socotra") == "new-plain"


@pytest.mark.parametrize("surface", SURFACES)
async def test_rotate_takes_the_key_or_generates_one(rest, tenant, surface):
    hook = await create_elan(rest, tenant, secret=ELAN_SECRET)
    status, body = await rotate(rest, tenant, hook, surface)
    assert status == 200, body
    assert set(body) == {"key"} and generated(body["key"])
    assert await read(rest, tenant, hook, surface) == body["key"]
    status, body = await rotate(rest, tenant, hook, surface, key=WHSEC, gracePeriod="0s")
    assert status == 200 and body == {"key": WHSEC}
    assert await read(rest, tenant, hook, surface) == WHSEC
    status, body = await rotate(rest, tenant, hook, surface, key=ELAN_SECRET,
                                gracePeriod="604800s")
    assert status == 200 and body == {"key": ELAN_SECRET}
    # No body at all: a generated secret, the default grace.
    status, body = await rest.call("POST", secret_path(surface, tenant, hook) + "/rotate",
                                   token=tenant.token, headers=org(tenant))
    assert status == 200 and generated(body["key"]), body
    assert await read(rest, tenant, hook, surface) == body["key"]


@pytest.mark.parametrize("surface", SURFACES)
async def test_rotate_refusals_name_the_field_and_change_nothing(rest, tenant, surface):
    hook = await create_elan(rest, tenant, secret=ELAN_SECRET)
    cases = [({"key": bad}, "key") for bad in BAD_SECRETS.values()] + [
        ({"key": ""}, "key"),
        ({"key": "s" * 256}, "key"),
        ({"gracePeriod": "700000s"}, "gracePeriod"),
        ({"gracePeriod": "604801s"}, "gracePeriod"),
        ({"gracePeriod": "-1s"}, "gracePeriod"),
        ({"key": WHSEC, "gracePeriod": "-1s"}, "gracePeriod"),
    ]
    for body, field in cases:
        status, answer = await rotate(rest, tenant, hook, surface, **body)
        assert status == 400, (body, answer)
        assert set(field_violations(answer)) == {field}, (body, answer)
        assert await read(rest, tenant, hook, surface) == ELAN_SECRET
    # Both at once: both named.
    status, answer = await rotate(rest, tenant, hook, surface, key=whsec_of(10),
                                  gracePeriod="-5s")
    assert status == 400 and set(field_violations(answer)) == {"key", "gracePeriod"}
    assert await read(rest, tenant, hook, surface) == ELAN_SECRET


@pytest.mark.parametrize("bad", BAD_SECRETS.values(), ids=BAD_SECRETS.keys())
async def test_create_with_a_bad_whsec_is_refused_and_creates_nothing(rest, tenant, bad):
    status, body = await rest.call("POST", "/webhooks", token=tenant.token, headers=org(tenant),
                                   json={"name": "n", "url": URL, "eventTypes": ["workflow.*"],
                                         "secret": bad})
    assert status == 400 and "secret" in field_violations(body), body
    status, body = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json={"name": "n", "endpoint": {"url": URL, "secret": bad},
                                         "eventTypes": ["workflow.*"]})
    assert status == 400 and "endpoint.secret" in field_violations(body), body
    for path in ("/webhooks", f"/event/{tenant.id}/webhooks/list"):
        status, listed = await rest.call("GET", path, token=tenant.token, headers=org(tenant))
        assert status == 200 and listed == []


async def test_patch_with_a_bad_or_empty_secret_changes_nothing(rest, tenant):
    hook = await create_elan(rest, tenant, secret=ELAN_SECRET)
    for bad in (*BAD_SECRETS.values(), ""):
        status, body = await rest.call("PATCH", f"/webhooks/{hook}", token=tenant.token,
                                       headers=org(tenant), json={"secret": bad})
        assert status == 400 and set(field_violations(body)) == {"secret"}, (bad, body)
        status, body = await rest.call("PATCH", f"/event/{tenant.id}/webhooks/{hook}",
                                       token=tenant.token, json={"endpoint": {"secret": bad}})
        assert status == 400 and set(field_violations(body)) == {"endpoint.secret"}, body
    assert await read(rest, tenant, hook) == ELAN_SECRET
    status, _ = await rest.call("PATCH", f"/webhooks/{hook}", token=tenant.token,
                                headers=org(tenant), json={"secret": WHSEC})
    assert status == 200 and await read(rest, tenant, hook) == WHSEC


async def test_other_tenants_webhooks_are_not_found_or_forbidden(rest, tenant, other_tenant):
    theirs = await create_elan(rest, other_tenant, secret=ELAN_SECRET)
    calls = [
        ("GET", elan_path(theirs), None, org(tenant), 404),
        ("POST", elan_path(theirs) + "/rotate", {}, org(tenant), 404),
        ("GET", elan_path(theirs), None, {}, 404),
        ("GET", socotra_path(tenant, theirs), None, {}, 404),
        ("POST", socotra_path(tenant, theirs) + "/rotate", {"key": WHSEC}, {}, 404),
        # their tenant in the path or the header: the tenant is not the caller's
        ("GET", socotra_path(other_tenant, theirs), None, {}, 403),
        ("POST", socotra_path(other_tenant, theirs) + "/rotate", {}, {}, 403),
        ("GET", elan_path(theirs), None, org(other_tenant), 403),
        ("POST", elan_path(theirs) + "/rotate", {}, org(other_tenant), 403),
    ]
    for method, path, body, headers, expected in calls:
        status, answer = await rest.call(method, path, token=tenant.token, json=body,
                                         headers=headers)
        assert status == expected, (method, path, headers, status, answer)
        assert ELAN_SECRET not in str(answer) and "key" not in answer
    assert await read(rest, other_tenant, theirs) == ELAN_SECRET


async def test_reading_and_rotating_need_webhooks_write(rest, stack, tenant):
    hook = await create_elan(rest, tenant, secret=ELAN_SECRET)
    status, body = await rest.call("POST", "/api/v2/tokens", token=stack.bootstrap_token, json={
        "tenant": tenant.id, "name": "reader",
        "permissions": ["webhooks:read", "webhooks:list"]})
    assert status == 200, body
    reader = body["token"]
    status, _ = await rest.call("GET", f"/webhooks/{hook}", token=reader)
    assert status == 200  # it may read the webhook, not its secret
    for method, path in (("GET", elan_path(hook)), ("POST", elan_path(hook) + "/rotate"),
                         ("GET", socotra_path(tenant, hook)),
                         ("POST", socotra_path(tenant, hook) + "/rotate")):
        status, answer = await rest.call(method, path, token=reader,
                                         json={} if method == "POST" else None)
        assert status == 403, (method, path, answer)
        assert ELAN_SECRET not in str(answer)
        status, _ = await rest.call(method, path, headers=org(tenant),
                                    json={} if method == "POST" else None)
        assert status == 401, (method, path)
    assert await read(rest, tenant, hook) == ELAN_SECRET


async def test_the_secret_is_in_no_other_answer_nor_log(rest, stack, tenant):
    hook = await create_elan(rest, tenant, secret=ELAN_SECRET)
    locator = await create_socotra(rest, tenant, secret=WHSEC)
    status, rotated = await rotate(rest, tenant, locator, "socotra")
    assert status == 200
    secrets = (ELAN_SECRET, WHSEC, rotated["key"], WHSEC.removeprefix("whsec_"),
               rotated["key"].removeprefix("whsec_"))
    answers = [
        await rest.call("GET", f"/webhooks/{hook}", token=tenant.token),
        await rest.call("GET", "/webhooks", token=tenant.token),
        await rest.call("PATCH", f"/webhooks/{hook}", token=tenant.token,
                        json={"name": "renamed"}),
        await rest.call("GET", f"/event/{tenant.id}/webhooks/{locator}", token=tenant.token),
        await rest.call("GET", f"/event/{tenant.id}/webhooks/list", token=tenant.token),
        await rest.call("PATCH", f"/event/{tenant.id}/webhooks/{locator}", token=tenant.token,
                        json={"name": "renamed"}),
    ]
    for status, answer in answers:
        assert status == 200, answer
        assert not any(s in str(answer) for s in secrets), answer
        assert "secret" not in str(answer).lower()
    logs = stack.logs()
    assert not any(s in logs for s in secrets)


async def test_over_grpc(channel, tenant):
    webhooks = webhooks_pb2_grpc.WebhookServiceStub(channel)
    subscriptions = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    auth = (("authorization", f"Bearer {tenant.token}"), ("x-org-id", tenant.id))
    created = await subscriptions.CreateSubscription(subscriptions_pb2.CreateSubscriptionRequest(
        name="g", url=URL, event_types=["workflow.*"]), metadata=auth)
    got = await webhooks.GetWebhookSecret(webhooks_pb2.GetWebhookSecretRequest(
        tenant=tenant.id, webhook=created.id), metadata=auth)
    assert generated(got.key)
    assert (await subscriptions.GetSubscriptionSecret(
        subscriptions_pb2.GetSubscriptionSecretRequest(id=created.id), metadata=auth)) == got
    rotated = await webhooks.RotateWebhookSecret(webhooks_pb2.RotateWebhookSecretRequest(
        tenant=tenant.id, webhook=created.id, key=WHSEC,
        grace_period=duration_pb2.Duration(seconds=60)), metadata=auth)
    assert rotated.key == WHSEC
    rotated = await subscriptions.RotateSubscriptionSecret(
        subscriptions_pb2.RotateSubscriptionSecretRequest(id=created.id), metadata=auth)
    assert generated(rotated.key) and rotated.key not in (WHSEC, got.key)
    for call in (
        webhooks.RotateWebhookSecret(webhooks_pb2.RotateWebhookSecretRequest(
            tenant=tenant.id, webhook=created.id, key=whsec_of(10)), metadata=auth),
        subscriptions.RotateSubscriptionSecret(subscriptions_pb2.RotateSubscriptionSecretRequest(
            id=created.id, key="whsec_%%%"), metadata=auth),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert _violations(err.value) == {"key"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await subscriptions.RotateSubscriptionSecret(
            subscriptions_pb2.RotateSubscriptionSecretRequest(
                id=created.id, grace_period=duration_pb2.Duration(seconds=700_000)),
            metadata=auth)
    assert _violations(err.value) == {"gracePeriod"}
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await webhooks.GetWebhookSecret(webhooks_pb2.GetWebhookSecretRequest(
            tenant=tenant.id, webhook="wh_missing"), metadata=auth)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    still = await subscriptions.GetSubscriptionSecret(
        subscriptions_pb2.GetSubscriptionSecretRequest(id=created.id), metadata=auth)
    assert still.key == rotated.key


def _violations(err: grpc.aio.AioRpcError) -> set[str]:
    status = rpc_status.from_call(err)
    fields = set()
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            fields |= {v.field for v in bad.field_violations}
    return fields

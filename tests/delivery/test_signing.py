"""What a receiver gets: the envelope, the headers of SPEC §8 and signatures a standard
verifier accepts, over TLS; and the attempt in the delivery logs. Signing secrets (SPEC §7):
each form keyed as its receivers expect, generated secrets, rotations with and without a grace
period on both surfaces and over gRPC, and webhooks stored without a secret by earlier
versions, which sign once migrated."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
import sqlalchemy as sa
from alembic import command
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from delivery_fixtures import Publisher, insecure
from flowhooks.v1 import webhooks_pb2, webhooks_pb2_grpc
from google.protobuf import duration_pb2
from harness import Rest, wait_for
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook as StandardWebhook
from standardwebhooks.webhooks import WebhookVerificationError
from tenancy import field_violations

from flowhooks_server.storage.migrate import alembic_config
from flowhooks_server.storage.models import JSONType, UTCDateTime, Webhook


def hex_of(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def new_whsec() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_by(secret: str | bytes, got) -> str:
    """The `v1,` signature `secret` makes of a received delivery, per the library."""
    moment = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), tz=UTC)
    return StandardWebhook(secret).sign(got.headers["webhook-id"], moment, got.body.decode())


async def _webhook(rest, tenant, url: str, secret: str = "s3cr3t", **extra) -> str:
    body = {"name": "ops", "enabled": True,
            "endpoint": {"url": url, "headers": {"X-Team": ["ops", "sre"]}, "secret": secret},
            "eventTypes": ["workflow.completed"], **extra}
    status, hook = await rest.call("POST", f"/event/{tenant.id}/webhooks", token=tenant.token,
                                   json=body)
    assert status == 200, hook
    return hook["locator"]


async def test_signed_delivery_over_tls_verifies(irest, itenant, tls_receiver, publisher,
                                                 insecure_stack):
    hook_id = await _webhook(irest, itenant, tls_receiver.url)
    [event_id] = await publisher.publish(itenant.id, run="r1")
    [got] = await tls_receiver.wait_for(1)

    # Standard Webhooks, with the key being the secret's UTF-8 bytes (SPEC §8).
    assert StandardWebhook(b"s3cr3t").verify(got.body, got.headers)["event_id"] == event_id
    assert got.headers["X-Webhook-Signature"] == hex_of("s3cr3t", got.body)
    assert got.headers["webhook-id"] == event_id
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["User-Agent"].startswith("flowhooks/")
    assert got.headers.getall("X-Team") == ["ops", "sre"]
    payload = got.json
    assert payload["event_type"] == "workflow.completed"
    assert payload["organization_id"] == itenant.id
    assert payload["workflow_id"] == "wf_test"
    assert payload["data"]["run"] == "r1" and payload["timestamp"].endswith("Z")

    async def recorded():
        status, logs = await irest.call("GET", f"/webhooks/{hook_id}/logs", token=itenant.token)
        assert status == 200
        return logs

    await wait_for(recorded)  # the outcome is written just after the receiver answers
    logs = await recorded()
    assert len(logs) == 1
    entry = logs[0]
    assert entry["status"] == "succeeded" and entry["responseStatusCode"] == 200
    assert entry["eventId"] == event_id and entry["attempt"] == 1
    assert entry["url"] == tls_receiver.url and entry["responseBody"] == "ok"
    assert "s3cr3t" not in insecure_stack.logs()


async def test_tampered_body_fails_verification(irest, itenant, receiver, publisher):
    await _webhook(irest, itenant, receiver.url)
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    tampered = got.body.replace(b"succeeded", b"failed")
    try:
        StandardWebhook(b"s3cr3t").verify(tampered, got.headers)
    except Exception as exc:  # noqa: BLE001
        assert "signature" in str(exc).lower()
    else:
        raise AssertionError("a tampered body verified")


async def test_without_a_secret_a_generated_one_signs(irest, itenant, receiver, publisher):
    status, hook = await irest.call("POST", "/webhooks", token=itenant.token, json={
        "name": "plain", "url": receiver.url, "eventTypes": ["workflow.*"]})
    assert status == 200, hook
    status, secret = await irest.call("GET", f"/webhooks/{hook['id']}/secret",
                                      token=itenant.token)
    assert status == 200 and secret["key"].startswith("whsec_"), secret
    [event_id] = await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert StandardWebhook(secret["key"]).verify(got.body, got.headers)["event_id"] == event_id
    assert got.headers["X-Webhook-Signature"] == hex_of(secret["key"], got.body)
    assert got.headers["webhook-id"] and got.headers["webhook-timestamp"].isdigit()


async def test_cloudevents_format(irest, itenant, receiver, publisher):
    await _webhook(irest, itenant, receiver.url, format="cloudevents")
    [event_id] = await publisher.publish(itenant.id, run="ce")
    [got] = await receiver.wait_for(1)
    event = from_http_event(HTTPMessage(got.headers, got.body))
    assert event.get_id() == event_id and event.get_type() == "workflow.completed"
    assert event.get_data()["run"] == "ce"
    assert StandardWebhook(b"s3cr3t").verify(got.body, got.headers)


async def test_a_patched_secret_is_a_rotation_with_the_default_grace(irest, itenant, receiver,
                                                                    publisher):
    hook_id = await _webhook(irest, itenant, receiver.url)
    status, _ = await irest.call("PATCH", f"/webhooks/{hook_id}", token=itenant.token,
                                 json={"secret": "n3w-s3cr3t"})
    assert status == 200
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["webhook-signature"].split(" ") == [signed_by(b"n3w-s3cr3t", got),
                                                           signed_by(b"s3cr3t", got)]
    StandardWebhook(b"n3w-s3cr3t").verify(got.body, got.headers)
    StandardWebhook(b"s3cr3t").verify(got.body, got.headers)
    assert got.headers["X-Webhook-Signature"] == hex_of("n3w-s3cr3t", got.body)


async def test_reserved_headers_cannot_be_set(irest, itenant, receiver):
    status, body = await irest.call("POST", f"/event/{itenant.id}/webhooks", token=itenant.token,
                                    json={"name": "x", "endpoint": {
                                        "url": receiver.url,
                                        "headers": {"webhook-id": ["forged"]}},
                                        "eventTypes": ["workflow.completed"]})
    assert status == 400 and any("headers" in f for f in field_violations(body)), body
    status, hooks = await irest.call("GET", f"/event/{itenant.id}/webhooks/list",
                                     token=itenant.token)
    assert hooks == []


async def test_a_whsec_secret_verifies_given_as_a_string(irest, itenant, receiver, publisher):
    secret = new_whsec()
    await _webhook(irest, itenant, receiver.url, secret=secret)
    [event_id] = await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert StandardWebhook(secret).verify(got.body, got.headers)["event_id"] == event_id
    with pytest.raises(WebhookVerificationError):  # keyed with the decoded bytes, not UTF-8
        StandardWebhook(secret.encode()).verify(got.body, got.headers)
    # X-Webhook-Signature: the whole string as configured, prefix included.
    assert got.headers["X-Webhook-Signature"] == hex_of(secret, got.body)


async def test_a_plain_elan_secret_signs_with_its_utf8_bytes(irest, itenant, receiver, publisher):
    secret = "elan-plain-" + secrets.token_hex(8)
    status, hook = await irest.call("POST", "/webhooks", token=itenant.token, json={
        "name": "elan", "url": receiver.url, "eventTypes": ["workflow.completed"],
        "secret": secret})
    assert status == 200, hook
    [event_id] = await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["X-Webhook-Signature"] == hex_of(secret, got.body)
    as_base64 = base64.b64encode(secret.encode()).decode()
    assert StandardWebhook(as_base64).verify(got.body, got.headers)["event_id"] == event_id
    assert StandardWebhook(secret.encode()).verify(got.body, got.headers)


async def _rotate(rest, tenant, path: str, **body) -> str:
    status, answer = await rest.call("POST", f"{path}/secret/rotate", token=tenant.token,
                                     json=body)
    assert status == 200, answer
    return answer["key"]


@pytest.mark.parametrize("surface", ["elan", "socotra"])
async def test_a_rotation_with_a_grace_signs_with_both_new_first(irest, itenant, receiver,
                                                                 publisher, surface):
    old = new_whsec()
    hook = await _webhook(irest, itenant, receiver.url, secret=old)
    path = f"/webhooks/{hook}" if surface == "elan" else f"/event/{itenant.id}/webhooks/{hook}"
    new = await _rotate(irest, itenant, path, gracePeriod="3600s")
    assert new.startswith("whsec_") and new != old
    status, read = await irest.call("GET", f"{path}/secret", token=itenant.token)
    assert status == 200 and read == {"key": new}
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["webhook-signature"].split(" ") == [signed_by(new, got),
                                                           signed_by(old, got)]
    assert StandardWebhook(new).verify(got.body, got.headers)
    assert StandardWebhook(old).verify(got.body, got.headers)
    assert got.headers["X-Webhook-Signature"] == hex_of(new, got.body)


async def test_a_rotation_without_a_grace_signs_with_the_new_only(irest, itenant, receiver,
                                                                  publisher):
    old = new_whsec()
    hook = await _webhook(irest, itenant, receiver.url, secret=old)
    new = await _rotate(irest, itenant, f"/webhooks/{hook}", key="n3w-plain", gracePeriod="0s")
    assert new == "n3w-plain"
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["webhook-signature"] == signed_by(b"n3w-plain", got)
    with pytest.raises(WebhookVerificationError):
        StandardWebhook(old).verify(got.body, got.headers)
    assert got.headers["X-Webhook-Signature"] == hex_of("n3w-plain", got.body)


async def test_a_refused_rotation_keeps_signing_as_before(irest, itenant, receiver, publisher):
    old = new_whsec()
    hook = await _webhook(irest, itenant, receiver.url, secret=old)
    bad = "whsec_" + base64.b64encode(b"short").decode()
    status, body = await irest.call("POST", f"/webhooks/{hook}/secret/rotate",
                                    token=itenant.token, json={"key": bad})
    assert status == 400 and set(field_violations(body)) == {"key"}, body
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["webhook-signature"] == signed_by(old, got)


async def test_a_rotation_over_grpc(insecure_stack, irest, itenant, receiver, publisher):
    old = new_whsec()
    hook = await _webhook(irest, itenant, receiver.url, secret=old)
    async with insecure_stack.channel() as channel:
        stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
        rotated = await stub.RotateWebhookSecret(webhooks_pb2.RotateWebhookSecretRequest(
            tenant=itenant.id, webhook=hook, grace_period=duration_pb2.Duration(seconds=60)),
            metadata=(("authorization", f"Bearer {itenant.token}"),))
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert got.headers["webhook-signature"].split(" ") == [signed_by(rotated.key, got),
                                                           signed_by(old, got)]


# -- webhooks stored by earlier versions ---------------------------------------------------

_V2 = sa.MetaData()
_V2_TENANTS = sa.Table("tenants", _V2, sa.Column("id", sa.String), sa.Column(
    "created_at", UTCDateTime))
_V2_WEBHOOKS = sa.Table(  # as revision 0002 left the table
    "webhooks", _V2, *(sa.Column(n, sa.String) for n in (
        "id", "tenant_id", "name", "url", "secret", "previous_secret", "format")),
    *(sa.Column(n, JSONType) for n in ("headers", "event_types")),
    *(sa.Column(n, sa.Boolean) for n in ("enabled", "suspended", "ordered")),
    sa.Column("timeout_ms", sa.Integer),
    *(sa.Column(n, UTCDateTime) for n in ("secret_rotated_at", "created_at", "updated_at")))
_V2_INDEX = sa.Table("webhook_event_types", _V2, *(sa.Column(n, sa.String) for n in (
    "webhook_id", "event_type", "tenant_id")))


async def _store_as_version_2(url: str, tenant: str, receiver_url: str,
                              now: datetime) -> dict[str, str]:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "0002")
    ids = {name: f"wh_old_{name}_{uuid.uuid4().hex[:8]}"
           for name in ("unsigned", "rotating", "rotated")}

    def row(name: str, **secret) -> dict:
        return {"id": ids[name], "tenant_id": tenant, "name": name, "url": receiver_url,
                "format": "json", "headers": {}, "event_types": ["workflow.completed"],
                "enabled": name == "unsigned", "suspended": False, "ordered": False,
                "timeout_ms": 10_000, "created_at": now, "updated_at": now,
                "secret": None, "previous_secret": None, "secret_rotated_at": None, **secret}

    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(_V2_TENANTS.insert(), [{"id": tenant, "created_at": now}])
            await conn.execute(_V2_WEBHOOKS.insert(), [
                row("unsigned"),
                row("rotating", secret="cur", previous_secret="prev",
                    secret_rotated_at=now - timedelta(hours=1)),
                row("rotated", secret="cur", previous_secret="gone",
                    secret_rotated_at=now - timedelta(hours=25)),
            ])
            await conn.execute(_V2_INDEX.insert(), [{
                "webhook_id": ids["unsigned"], "event_type": "workflow.completed",
                "tenant_id": tenant}])
    finally:
        await engine.dispose()
    return ids


async def test_webhooks_stored_without_a_secret_sign_once_migrated(fresh_database_url, tmp_path,
                                                                   ca_file, receiver):
    tenant, now = str(uuid.uuid4()), datetime.now(UTC).replace(microsecond=0)
    ids = await _store_as_version_2(fresh_database_url, tenant, receiver.url, now)
    stack = insecure(fresh_database_url, tmp_path, ca_file)
    await asyncio.to_thread(stack.start)  # migrates to the newest revision
    publisher = Publisher(fresh_database_url)
    try:
        async with aiohttp.ClientSession() as http:
            rest = Rest(stack.rest, http)
            status, body = await rest.call("POST", "/api/v2/tokens", token=stack.bootstrap_token,
                                           json={"tenant": tenant, "name": "t",
                                                 "permissions": ["webhooks:write"]})
            assert status == 200, body
            status, secret = await rest.call("GET", f"/webhooks/{ids['unsigned']}/secret",
                                             token=body["token"])
        assert status == 200 and secret["key"].startswith("whsec_"), secret
        assert len(base64.b64decode(secret["key"][6:], validate=True)) == 32
        [event_id] = await publisher.publish(tenant)
        [got] = await receiver.wait_for(1)
        assert StandardWebhook(secret["key"]).verify(got.body, got.headers)["event_id"] \
            == event_id
        async with publisher.db.session(readonly=True) as session:
            rows = {r.id: r for r in await session.scalars(
                sa.select(Webhook).where(Webhook.tenant_id == tenant))}
        # A rotation under way keeps its end (the old fixed 24 h); one that was over is gone.
        rotating, rotated = rows[ids["rotating"]], rows[ids["rotated"]]
        assert rotating.previous_secret == "prev"
        assert rotating.previous_secret_expires_at == now + timedelta(hours=23)
        assert rotated.previous_secret is None and rotated.previous_secret_expires_at is None
        assert rotated.secret == "cur"
    finally:
        await publisher.db.dispose()
        await asyncio.to_thread(stack.stop)

"""What a receiver gets: the envelope, the headers of SPEC §8 and signatures a standard
verifier accepts, over TLS; and the attempt in the delivery logs."""

from __future__ import annotations

import hashlib
import hmac

from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from harness import wait_for
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tenancy import field_violations


async def _webhook(rest, tenant, url: str, **extra) -> str:
    body = {"name": "ops", "enabled": True,
            "endpoint": {"url": url, "headers": {"X-Team": ["ops", "sre"]}, "secret": "s3cr3t"},
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
    assert got.headers["X-Webhook-Signature"] == hmac.new(
        b"s3cr3t", got.body, hashlib.sha256).hexdigest()
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


async def test_without_secret_nothing_is_signed(irest, itenant, receiver, publisher):
    status, hook = await irest.call("POST", "/webhooks", token=itenant.token, json={
        "name": "plain", "url": receiver.url, "eventTypes": ["workflow.*"]})
    assert status == 200, hook
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert "webhook-signature" not in got.headers and "X-Webhook-Signature" not in got.headers
    assert got.headers["webhook-id"] and got.headers["webhook-timestamp"].isdigit()


async def test_cloudevents_format(irest, itenant, receiver, publisher):
    await _webhook(irest, itenant, receiver.url, format="cloudevents")
    [event_id] = await publisher.publish(itenant.id, run="ce")
    [got] = await receiver.wait_for(1)
    event = from_http_event(HTTPMessage(got.headers, got.body))
    assert event.get_id() == event_id and event.get_type() == "workflow.completed"
    assert event.get_data()["run"] == "ce"
    assert StandardWebhook(b"s3cr3t").verify(got.body, got.headers)


async def test_rotated_secret_signs_with_both(irest, itenant, receiver, publisher):
    hook_id = await _webhook(irest, itenant, receiver.url)
    status, _ = await irest.call("PATCH", f"/webhooks/{hook_id}", token=itenant.token,
                                 json={"secret": "n3w-s3cr3t"})
    assert status == 200
    await publisher.publish(itenant.id)
    [got] = await receiver.wait_for(1)
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    StandardWebhook(b"n3w-s3cr3t").verify(got.body, got.headers)
    StandardWebhook(b"s3cr3t").verify(got.body, got.headers)
    assert got.headers["X-Webhook-Signature"] == hmac.new(
        b"n3w-s3cr3t", got.body, hashlib.sha256).hexdigest()


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

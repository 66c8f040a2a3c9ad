"""No secret or token in any log line (SPEC §7, §9), on both databases: after provoking the
errors that once logged SQL parameters, signature failures, hostile requests and reads and
rotations of signing secrets (refused ones too), neither the database errors nor the server's
log hold a webhook secret, a trigger secret or a token."""

from __future__ import annotations

import base64
import logging
import secrets

import pytest
from inbound_client import github_headers, make_workflow, slack_headers
from sqlalchemy.exc import IntegrityError

from flowhooks_server import logs
from flowhooks_server.ids import new_id
from flowhooks_server.storage.models import Webhook, utcnow


async def test_database_errors_never_carry_bound_parameters(db, caplog):
    logs.quiet_parameter_loggers()  # as the server's start-up does
    secret = "whsec_" + secrets.token_hex(16)
    now = utcnow()

    def row(hook_id: str) -> Webhook:
        return Webhook(id=hook_id, tenant_id="t" * 36, name="leak", url="https://e.com/",
                       headers={}, event_types=["*"], enabled=True, secret=secret,
                       created_at=now, updated_at=now)

    hook_id = new_id("wh")
    async with db.session() as session, session.begin():
        session.add(row(hook_id))
    caplog.set_level(logging.DEBUG)  # the most a deployment can ask for
    with pytest.raises(IntegrityError) as err:
        async with db.session() as session, session.begin():
            session.add(row(hook_id))  # the same primary key again
    logging.getLogger("flowhooks.test").exception("provoked", exc_info=err.value)
    assert secret not in str(err.value) and secret not in repr(err.value)
    assert secret not in caplog.text
    assert "parameters hidden" in str(err.value)


async def test_server_log_holds_no_secret_after_hostile_traffic(rest, stack, tenant):
    webhook_secret = "elan-" + secrets.token_hex(12)
    gh_secret, slack_secret = "gh-" + secrets.token_hex(12), "sl-" + secrets.token_hex(12)
    status, hook = await rest.call("POST", "/webhooks", token=tenant.token, json={
        "name": "secretive", "url": "https://hooks.example.com/in", "secret": webhook_secret,
        "eventTypes": ["workflow.*"], "headers": {"X-Api-Key": webhook_secret}})
    assert status == 200, hook
    github = await make_workflow(rest, tenant, github={"enabled": True, "secret": gh_secret})
    slack = await make_workflow(rest, tenant, slack={"enabled": True, "secret": slack_secret})
    body = b'{"a": NaN}'
    for path, headers in ((f"/api/v2/webhook?ref={github}", github_headers("push", body)),
                          (f"/api/v2/webhook?ref={github}",
                           github_headers("push", body, secret="wrong")),
                          (f"/api/v2/webhook?ref={slack}", slack_headers(body)),
                          (f"/api/v2/webhook?ref={slack}",
                           slack_headers(body, secret="wrong"))):
        status, _ = await rest.call("POST", path, data=body, headers=headers)
        assert status in (400, 401)
    # A token in the query string and a revoked one.
    status, _ = await rest.call("POST", f"/api/v2/webhook?ref={github}&access_token="
                                f"{tenant.token}", data=b"[" * 10_000)
    assert status == 400
    # Duplicate creations and updates that fail validation, with secrets in them.
    for _ in range(2):
        status, _ = await rest.call("PATCH", f"/webhooks/{hook['id']}", token=tenant.token,
                                    json={"secret": webhook_secret, "url": "ftp://x"})
        assert status == 400
    # Reading and rotating the signing secret (SPEC §7), refused rotations and PATCHes too.
    rotated_secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    refused_secret = "whsec_" + secrets.token_hex(12) + "!"
    secret_path = f"/webhooks/{hook['id']}/secret"
    status, read = await rest.call("GET", secret_path, token=tenant.token)
    assert status == 200 and read == {"key": webhook_secret}
    for body, expected in (({"key": refused_secret}, 400),
                           ({"key": rotated_secret, "gracePeriod": "-1s"}, 400),
                           ({"key": rotated_secret, "gracePeriod": "60s"}, 200)):
        status, _ = await rest.call("POST", f"{secret_path}/rotate", token=tenant.token,
                                    json=body)
        assert status == expected
    status, generated = await rest.call(
        "POST", f"/event/{tenant.id}/webhooks/{hook['id']}/secret/rotate", token=tenant.token,
        json={})
    assert status == 200
    status, _ = await rest.call("PATCH", f"/webhooks/{hook['id']}", token=tenant.token,
                                json={"secret": refused_secret})
    assert status == 400
    logs = stack.logs()
    for secret in (webhook_secret, gh_secret, slack_secret, tenant.token,
                   stack.bootstrap_token, rotated_secret, refused_secret, generated["key"],
                   rotated_secret.removeprefix("whsec_"), generated["key"].removeprefix("whsec_")):
        assert secret not in logs

"""Tokens API and the auth rules of SPEC §5, through Envoy and over gRPC, on both databases."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from flowhooks.v1 import tokens_pb2, tokens_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from waiting import until

ALL_TENANT_PERMISSIONS = ["webhooks:read", "webhooks:list", "webhooks:write", "tokens:write"]


def new_tenant() -> str:
    return str(uuid.uuid4())


async def create_token(rest, admin, tenant, permissions, **extra):
    status, body = await rest.call(
        "POST", "/api/v2/tokens", token=admin,
        json={"tenant": tenant, "name": "t", "permissions": permissions, **extra},
    )
    assert status == 200, body
    return body


async def token_ids(rest, admin, tenant) -> set[str]:
    status, body = await rest.call("GET", f"/api/v2/tokens?tenant={tenant}&limit=500", token=admin)
    assert status == 200, body
    return {t["id"] for t in body["tokens"]}


def violations(details: list[dict]) -> dict[str, str]:
    return {
        v["field"]: v["description"]
        for d in details if d["@type"].endswith("google.rpc.BadRequest")
        for v in d["fieldViolations"]
    }


async def test_create_list_revoke_through_envoy(rest, stack):
    tenant = new_tenant()
    created = await create_token(rest, stack.bootstrap_token, tenant, ["webhooks:read"])
    assert created["token"].startswith("fh_") and created["id"].startswith("tok_")
    assert created["tenant"] == tenant and created["permissions"] == ["webhooks:read"]

    status, listed = await rest.call("GET", f"/api/v2/tokens?tenant={tenant}",
                                     token=stack.bootstrap_token)
    assert status == 200
    [entry] = listed["tokens"]
    assert entry["id"] == created["id"] and entry["token"] == ""

    # the new token authenticates (a tenant-scoped RPC answers something other than 401)
    status, _ = await rest.call("GET", f"/event/{tenant}/webhooks/list", token=created["token"])
    assert status != 401

    status, _ = await rest.call("DELETE", f"/api/v2/tokens/{created['id']}",
                                token=stack.bootstrap_token)
    assert status == 200
    status, body = await rest.call("GET", f"/event/{tenant}/webhooks/list",
                                   token=created["token"])
    assert status == 401 and body["code"] == 16
    status, listed = await rest.call("GET", f"/api/v2/tokens?tenant={tenant}",
                                     token=stack.bootstrap_token)
    assert listed["tokens"][0]["revokedAt"]


async def test_create_list_revoke_over_grpc(channel, stack):
    stub = tokens_pb2_grpc.TokenServiceStub(channel)
    auth = (("authorization", f"Bearer {stack.bootstrap_token}"),)
    tenant = new_tenant()
    created = await stub.CreateToken(
        tokens_pb2.CreateTokenRequest(tenant=tenant, name="grpc", permissions=["tokens:write"]),
        metadata=auth,
    )
    assert created.token and created.id
    listed = await stub.ListTokens(tokens_pb2.ListTokensRequest(tenant=tenant), metadata=auth)
    assert [t.id for t in listed.tokens] == [created.id]
    assert all(not t.token for t in listed.tokens)
    await stub.RevokeToken(tokens_pb2.RevokeTokenRequest(id=created.id), metadata=auth)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListTokens(tokens_pb2.ListTokensRequest(),
                              metadata=(("authorization", f"Bearer {created.token}"),))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("header", [None, "Bearer fh_unknown", "Basic abc"])
async def test_missing_or_unknown_token_is_401(rest, header):
    headers = {"Authorization": header} if header else {}
    status, body = await rest.call("GET", "/api/v2/tokens", headers=headers)
    assert status == 401
    assert body["code"] == 16 and "token" in body["message"]


async def test_missing_token_over_grpc_is_unauthenticated(channel):
    stub = tokens_pb2_grpc.TokenServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListTokens(tokens_pb2.ListTokensRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_expired_token_is_401(rest, stack):
    tenant = new_tenant()
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    created = await create_token(rest, stack.bootstrap_token, tenant, ["tokens:write"],
                                 expiresAt=soon)
    status, _ = await rest.call("GET", "/api/v2/tokens", token=created["token"])
    assert status == 200
    expiry = datetime.fromisoformat(soon.replace("Z", "+00:00"))
    await until(lambda: datetime.now(UTC) > expiry, 5, "the token's expiry has passed")
    status, body = await rest.call("GET", "/api/v2/tokens", token=created["token"])
    assert status == 401 and body["code"] == 16


async def test_missing_permission_is_403_and_creates_nothing(rest, stack):
    tenant = new_tenant()
    reader = await create_token(rest, stack.bootstrap_token, tenant, ["webhooks:read"])
    before = await token_ids(rest, stack.bootstrap_token, tenant)
    status, body = await rest.call(
        "POST", "/api/v2/tokens", token=reader["token"],
        json={"tenant": tenant, "name": "x", "permissions": ["webhooks:read"]},
    )
    assert status == 403 and body["code"] == 7 and "tokens:write" in body["message"]
    assert await token_ids(rest, stack.bootstrap_token, tenant) == before


async def test_token_cannot_grant_more_than_it_holds(rest, stack):
    tenant = new_tenant()
    manager = await create_token(rest, stack.bootstrap_token, tenant,
                                 ["tokens:write", "webhooks:read"])
    before = await token_ids(rest, stack.bootstrap_token, tenant)
    for permissions in (["webhooks:write"], ["*"]):
        status, body = await rest.call(
            "POST", "/api/v2/tokens", token=manager["token"],
            json={"tenant": tenant, "name": "x", "permissions": permissions},
        )
        assert status == 403, body
    ok = await create_token(rest, manager["token"], tenant, ["webhooks:read"])
    assert await token_ids(rest, stack.bootstrap_token, tenant) == before | {ok["id"]}


async def test_tenant_token_on_another_tenant_gets_no_data(rest, stack):
    mine, theirs = new_tenant(), new_tenant()
    token = (await create_token(rest, stack.bootstrap_token, mine, ALL_TENANT_PERMISSIONS))["token"]
    their_token = await create_token(rest, stack.bootstrap_token, theirs, ["webhooks:read"])

    status, body = await rest.call("GET", f"/event/{theirs}/webhooks/list", token=token)
    assert status == 403 and body["code"] == 7
    status, body = await rest.call("GET", "/webhooks", token=token, headers={"X-Org-Id": theirs})
    assert status == 403 and body["code"] == 7
    status, body = await rest.call("GET", f"/api/v2/tokens?tenant={theirs}", token=token)
    assert status == 403 and "tokens" not in body
    status, body = await rest.call("DELETE", f"/api/v2/tokens/{their_token['id']}", token=token)
    assert status == 404
    before = await token_ids(rest, stack.bootstrap_token, theirs)
    status, _ = await rest.call(
        "POST", "/api/v2/tokens", token=token,
        json={"tenant": theirs, "name": "x", "permissions": ["webhooks:read"]},
    )
    assert status == 403
    after = await token_ids(rest, stack.bootstrap_token, theirs)
    assert after == before and their_token["id"] in after

    # its own listing shows only its own tenant's tokens
    status, body = await rest.call("GET", "/api/v2/tokens", token=token)
    assert status == 200 and {t["tenant"] for t in body["tokens"]} == {mine}


async def test_tenant_in_path_over_grpc(channel, rest, stack):
    mine, theirs = new_tenant(), new_tenant()
    token = (await create_token(rest, stack.bootstrap_token, mine, ALL_TENANT_PERMISSIONS))["token"]
    stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ListWebhooks(webhooks_pb2.ListWebhooksRequest(tenant=theirs),
                                metadata=(("authorization", f"Bearer {token}"),))
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_validation_names_every_field_and_creates_nothing(rest, stack):
    tenant = new_tenant()
    before = await token_ids(rest, stack.bootstrap_token, tenant)
    status, body = await rest.call(
        "POST", "/api/v2/tokens", token=stack.bootstrap_token,
        json={"tenant": tenant, "name": "", "permissions": ["webhooks:fly"]},
    )
    assert status == 400 and body["code"] == 3
    fields = violations(body["details"])
    assert set(fields) == {"name", "permissions[0]"}, fields
    assert "webhooks:fly" in fields["permissions[0]"]
    status, body = await rest.call(
        "POST", "/api/v2/tokens", token=stack.bootstrap_token,
        json={"tenant": "not-a-uuid", "name": "n", "permissions": ["webhooks:read"]},
    )
    assert status == 400 and set(violations(body["details"])) == {"tenant"}
    assert await token_ids(rest, stack.bootstrap_token, tenant) == before


async def test_validation_over_grpc_carries_bad_request(channel, stack):
    stub = tokens_pb2_grpc.TokenServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateToken(
            tokens_pb2.CreateTokenRequest(tenant=new_tenant(), name="x"),
            metadata=(("authorization", f"Bearer {stack.bootstrap_token}"),),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    status = rpc_status.from_call(err.value)
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert [v.field for v in bad.field_violations] == ["permissions"]


async def test_global_token_needs_an_org_for_tenant_apis(rest, stack):
    status, body = await rest.call("GET", "/webhooks", token=stack.bootstrap_token)
    assert status == 400 and set(violations(body["details"])) == {"X-Org-Id"}


async def test_body_over_one_mib_is_413_and_stores_nothing(rest, stack):
    tenant = new_tenant()
    before = await token_ids(rest, stack.bootstrap_token, tenant)
    big = json.dumps({"tenant": tenant, "name": "x" * (1024 * 1024),
                      "permissions": ["webhooks:read"]})
    status, body = await rest.call("POST", "/api/v2/tokens", token=stack.bootstrap_token,
                                   data=big, headers={"Content-Type": "application/json"})
    assert status == 413 and body["code"] == 8
    assert await token_ids(rest, stack.bootstrap_token, tenant) == before


async def test_message_over_limit_over_grpc_is_resource_exhausted(channel, stack, rest):
    tenant = new_tenant()
    stub = tokens_pb2_grpc.TokenServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CreateToken(
            tokens_pb2.CreateTokenRequest(tenant=tenant, name="x" * (1100 * 1024),
                                          permissions=["webhooks:read"]),
            metadata=(("authorization", f"Bearer {stack.bootstrap_token}"),),
        )
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert await token_ids(rest, stack.bootstrap_token, tenant) == set()


async def test_tokens_never_appear_in_logs(rest, stack):
    tenant = new_tenant()
    created = await create_token(rest, stack.bootstrap_token, tenant, ["tokens:write"])
    listed = '"rpc": "/flowhooks.v1.TokenService/ListTokens"'
    before = stack.logs().count(listed)
    await rest.call("GET", f"/api/v2/tokens?access_token={created['token']}")
    await rest.call("GET", "/api/v2/tokens", token=created["token"])
    await rest.call("GET", "/api/v2/tokens", token=created["token"] + "x")
    # The three requests are logged once their lines are in the file.
    await until(lambda: stack.logs().count(listed) >= before + 3, 5,
                "the three ListTokens requests were logged")
    logs = stack.logs()
    assert '"rpc": "/flowhooks.v1.TokenService/ListTokens"' in logs
    assert created["token"] not in logs
    assert stack.bootstrap_token not in logs

"""TokenService servicer."""

from __future__ import annotations

from flowhooks.v1 import tokens_pb2, tokens_pb2_grpc
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import optional_datetime, page, timestamp
from flowhooks_server.domain.auth import Principal
from flowhooks_server.domain.tokens import Token
from flowhooks_server.services.auth import Authenticator
from flowhooks_server.services.tokens import TokenManager


def _token(token: Token, plaintext: str = "") -> tokens_pb2.Token:
    return tokens_pb2.Token(
        id=token.id,
        tenant=token.tenant_id or "",
        name=token.name,
        permissions=list(token.permissions),
        token=plaintext,
        created_at=timestamp(token.created_at),
        expires_at=timestamp(token.expires_at),
        revoked_at=timestamp(token.revoked_at),
    )


def _caller() -> Principal:
    principal = current().principal
    # Every method of this service needs a token (api.policies); the interceptor checked it.
    assert principal is not None, f"{current().method} has no principal"
    return principal


class TokenServicer(tokens_pb2_grpc.TokenServiceServicer):
    def __init__(self, tokens: TokenManager, authenticator: Authenticator) -> None:
        self._tokens = tokens
        self._authenticator = authenticator

    async def CreateToken(self, request, context):
        token, plaintext = await self._tokens.create(
            _caller(),
            request.tenant,
            request.name,
            list(request.permissions),
            optional_datetime(request, "expires_at"),
        )
        return _token(token, plaintext)

    async def ListTokens(self, request, context):
        limit, offset = page(request.limit, request.offset)
        tokens = await self._tokens.list(_caller(), request.tenant, limit, offset)
        return tokens_pb2.ListTokensResponse(tokens=[_token(t) for t in tokens])

    async def RevokeToken(self, request, context):
        await self._tokens.revoke(_caller(), request.id)
        self._authenticator.forget(request.id)
        return empty_pb2.Empty()

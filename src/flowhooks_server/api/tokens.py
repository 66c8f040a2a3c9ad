"""TokenService servicer."""

from __future__ import annotations

from flowhooks.v1 import tokens_pb2, tokens_pb2_grpc
from google.protobuf import empty_pb2

from flowhooks_server.api.context import current
from flowhooks_server.api.convert import optional_datetime, page, timestamp
from flowhooks_server.services.auth import Authenticator
from flowhooks_server.services.tokens import TokenManager


def _token(row, plaintext: str = "") -> tokens_pb2.Token:
    return tokens_pb2.Token(
        id=row.id,
        tenant=row.tenant_id or "",
        name=row.name,
        permissions=row.permissions,
        token=plaintext,
        created_at=timestamp(row.created_at),
        expires_at=timestamp(row.expires_at),
        revoked_at=timestamp(row.revoked_at),
    )


class TokenServicer(tokens_pb2_grpc.TokenServiceServicer):
    def __init__(self, tokens: TokenManager, authenticator: Authenticator):
        self._tokens = tokens
        self._authenticator = authenticator

    async def CreateToken(self, request, context):
        row, plaintext = await self._tokens.create(
            current().principal,
            request.tenant,
            request.name,
            list(request.permissions),
            optional_datetime(request, "expires_at"),
        )
        return _token(row, plaintext)

    async def ListTokens(self, request, context):
        limit, offset = page(request.limit, request.offset)
        rows = await self._tokens.list(current().principal, request.tenant, limit, offset)
        return tokens_pb2.ListTokensResponse(tokens=[_token(row) for row in rows])

    async def RevokeToken(self, request, context):
        await self._tokens.revoke(current().principal, request.id)
        self._authenticator.forget(request.id)
        return empty_pb2.Empty()

"""The one server interceptor: check the request, authenticate, authorize, resolve the
tenant, map errors to statuses, and write one structured log line and the metrics of every RPC.

It wraps the handler rather than the call so it can read request fields (`tenant` from the
path, `access_token` from the query) before the servicer runs. Before anything else it runs
the checks every request gets (api/request_checks.py: no NUL in any string field).

Authorization fails closed (SPEC §5). A method the server serves is let through unwrapped only
when it is on the public allow-list (`PUBLIC_METHODS`: health checks and server reflection);
otherwise it needs a policy in `POLICIES`, and one without is refused with PERMISSION_DENIED,
logged and counted, whatever its servicer would have done. So is any method whose requests
stream (stream-unary, stream-stream): no flowhooks RPC has one, and the wrappers below check
and authorize single requests only. A method the server does not serve at all gets gRPC's own
UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc

from flowhooks_server import metrics
from flowhooks_server.api import context as request_context
from flowhooks_server.api.errors import internal_status, to_status, unimplemented_status
from flowhooks_server.api.policies import POLICIES, PUBLIC_METHODS, Policy
from flowhooks_server.api.request_checks import check_request
from flowhooks_server.domain.auth import Principal, resolve_tenant
from flowhooks_server.domain.errors import FlowhooksError, Unauthenticated
from flowhooks_server.storage.errors import translate_storage_error

log = logging.getLogger("flowhooks.rpc")

Authenticate = Callable[[str], Awaitable[Principal | None]]


def bearer_token(metadata: dict[str, str]) -> str:
    scheme, _, value = metadata.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class ApiInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, authenticate: Authenticate):
        self._authenticate = authenticate

    async def intercept_service(self, continuation, details):
        handler = await continuation(details)
        if handler is None:
            return None  # not served here: gRPC answers UNIMPLEMENTED
        method = details.method
        if method in PUBLIC_METHODS:
            return handler
        policy = POLICIES.get(method)
        if policy is None:
            return self._refusal(method, handler, "has no authorization policy")
        if handler.request_streaming:
            return self._refusal(method, handler, "streams requests, which flowhooks refuses")
        metadata = {k: v for k, v in details.invocation_metadata if isinstance(v, str)}
        if handler.unary_unary:
            behaviour = self._wrap_unary(method, policy, metadata, handler.unary_unary)
            return grpc.unary_unary_rpc_method_handler(
                behaviour, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream:
            behaviour = self._wrap_stream(method, policy, metadata, handler.unary_stream)
            return grpc.unary_stream_rpc_method_handler(
                behaviour, handler.request_deserializer, handler.response_serializer
            )
        return self._refusal(method, handler, "has no behaviour the interceptor can wrap")

    def _refusal(self, method: str, handler, why: str):
        """A handler of the same kind as `handler` that refuses every call, fail closed."""
        message = f"{method} is refused: it {why}"

        async def refuse(request_or_iterator, context: grpc.aio.ServicerContext):
            self._record(method, None, "PERMISSION_DENIED", time.perf_counter(), error=message,
                         level=logging.ERROR)
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, message)

        make = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(bool(handler.request_streaming), bool(handler.response_streaming))]
        return make(refuse, handler.request_deserializer, handler.response_serializer)

    async def _resolve(self, method: str, policy: Policy, metadata: dict[str, str], request):
        token = bearer_token(metadata)
        if not token and policy.query_token:
            token = getattr(request, "access_token", "")
        principal = await self._authenticate(token) if token else None
        if principal is None and (token or policy.token == "required"):
            raise Unauthenticated(
                "invalid, expired or revoked token" if token else "a bearer token is required"
            )
        tenant = None
        if principal is not None:
            principal.require(*policy.permissions)
            if policy.tenant == "path":
                tenant = resolve_tenant(principal, request.tenant, "tenant")
            elif policy.tenant == "org":
                tenant = resolve_tenant(principal, metadata.get("x-org-id"), "X-Org-Id")
        return request_context.RequestContext(method, principal, tenant, metadata)

    def _wrap_unary(self, method, policy, metadata, inner):
        async def behaviour(request, context: grpc.aio.ServicerContext):
            started = time.perf_counter()
            ctx = None
            try:
                check_request(request)
                ctx = await self._resolve(method, policy, metadata, request)
                request_context.bind(ctx)
                response = await inner(request, context)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a status
                await self._abort(context, method, ctx, exc, started)
            self._record(method, ctx, "OK", started)
            return response

        return behaviour

    def _wrap_stream(self, method, policy, metadata, inner):
        async def behaviour(request, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            started = time.perf_counter()
            ctx = None
            try:
                check_request(request)
                ctx = await self._resolve(method, policy, metadata, request)
                request_context.bind(ctx)
                async for item in inner(request, context):
                    yield item
            except Exception as exc:  # noqa: BLE001
                await self._abort(context, method, ctx, exc, started)
            self._record(method, ctx, "OK", started)

        return behaviour

    async def _abort(self, context, method, ctx, exc: Exception, started: float):
        if isinstance(exc, grpc.aio.AbortError):
            raise exc
        exc = translate_storage_error(exc) or exc
        if isinstance(exc, FlowhooksError):
            status = to_status(exc)
        elif isinstance(exc, NotImplementedError):
            status = unimplemented_status(method)
        else:
            log.exception("unhandled error in %s", method)
            status = internal_status()
        self._record(method, ctx, status.code.name, started, error=getattr(exc, "message", None))
        await context.abort(status.code, status.details, status.trailing_metadata)

    @staticmethod
    def _record(method, ctx, code: str, started: float, error: str | None = None,
                level: int = logging.INFO) -> None:
        elapsed = time.perf_counter() - started
        metrics.REQUESTS.labels(method=method, code=code).inc()
        metrics.REQUEST_SECONDS.labels(method=method).observe(elapsed)
        principal = ctx.principal if ctx else None
        log.log(
            level,
            "rpc",
            extra={
                "rpc": method,
                "code": code,
                "duration_ms": round(elapsed * 1000, 2),
                "tenant": ctx.tenant if ctx else None,
                "token_id": principal.token_id if principal else None,
                "error": error,
            },
        )

"""The ingest baseline: a bare grpc.aio server answering InboundService.AcceptWebhook with a
fixed body (no auth, no database), plus the health service Envoy checks; run as its own
process behind an Envoy rendered from flowhooks' own config."""

from __future__ import annotations

import asyncio
import sys

import grpc
from flowhooks.v1 import inbound_pb2_grpc
from google.api import httpbody_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

ANSWER = httpbody_pb2.HttpBody(content_type="application/json",
                               data=b'{"id":"run_echo","status":"running"}')


class Echo(inbound_pb2_grpc.InboundServiceServicer):
    async def AcceptWebhook(self, request, context):
        return ANSWER


async def main(port: int) -> None:
    server = grpc.aio.server()
    inbound_pb2_grpc.add_InboundServiceServicer_to_server(Echo(), server)
    checks = health.aio.HealthServicer()
    await checks.set("", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(checks, server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

"""grpc.health.v1 that follows the database: SERVING while it answers, NOT_SERVING when not,
for the overall service "" and for each of ours."""

from __future__ import annotations

import asyncio
import logging

from grpc_health.v1 import health, health_pb2

from flowhooks_server import metrics
from flowhooks_server.background import Background

log = logging.getLogger("flowhooks.health")
CHECK_INTERVAL_S = 1.0


class DatabaseHealth:
    def __init__(self, ping, service_names: tuple[str, ...]):
        self._ping = ping
        self._names = ("", *service_names)
        self.servicer = health.aio.HealthServicer()
        self._serving: bool | None = None
        self._monitor = Background("health-monitor")

    async def check_once(self) -> bool:
        up = await self._ping()
        if up != self._serving:
            status = health_pb2.HealthCheckResponse.SERVING if up else (
                health_pb2.HealthCheckResponse.NOT_SERVING
            )
            for name in self._names:
                await self.servicer.set(name, status)
            if self._serving is not None:
                log.warning("database %s", "reachable again" if up else "unreachable")
            self._serving = up
            metrics.DATABASE_UP.set(1 if up else 0)
        return up

    def start(self) -> None:
        self._monitor.start(self._loop)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(CHECK_INTERVAL_S)
            try:
                await self.check_once()
            except Exception:  # the monitor must outlive any one failure
                log.exception("health check failed")

    async def stop(self) -> None:
        await self._monitor.stop()
        await self.servicer.enter_graceful_shutdown()

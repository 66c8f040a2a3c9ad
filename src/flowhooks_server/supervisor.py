"""`flowhooks run` with FLOWHOOKS_PROCESSES=N > 1: N server processes behind one Envoy.

This process serves nothing itself. It starts Envoy with one upstream endpoint per server
(Envoy balances requests across the healthy ones and health-checks each over grpc.health.v1,
so a process whose database is away, or that died, stops getting traffic), then the servers:
`flowhooks serve` each, the first on FLOWHOOKS_GRPC_PORT and FLOWHOOKS_METRICS_PORT, the
others on free ports. Each runs its own delivery worker; leases and SKIP LOCKED (PostgreSQL)
or the write lock (SQLite) share the work, and a server that dies leaves leases that run out
and are reaped by the others. A server that exits unexpectedly is started again after
RESTART_DELAY_S. SIGTERM or SIGINT stops every server (each finishes within its grace, SPEC
§8.15), then Envoy."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from flowhooks_server.config import Settings

log = logging.getLogger("flowhooks.supervisor")
RESTART_DELAY_S = 1.0
READY_TIMEOUT_S = 60.0


@dataclass
class _Server:
    index: int
    grpc_port: int
    metrics_port: int
    proc: asyncio.subprocess.Process | None = None

    def env(self) -> dict[str, str]:
        return dict(os.environ, FLOWHOOKS_GRPC_PORT=str(self.grpc_port),
                    FLOWHOOKS_METRICS_PORT=str(self.metrics_port),
                    FLOWHOOKS_PROCESS_INDEX=str(self.index))


def _free_port(bind: str) -> int:
    with socket.socket() as probe:
        probe.bind((bind, 0))
        return probe.getsockname()[1]


def plan(settings: Settings) -> list[_Server]:
    """The servers to run: the first on the configured ports, the others on free ones."""
    servers = [_Server(0, settings.grpc_port, settings.metrics_port)]
    servers += [_Server(i, _free_port(settings.bind), _free_port(settings.bind))
                for i in range(1, settings.processes)]
    return servers


async def supervise(settings: Settings, stop: asyncio.Event,
                    announce: Callable[[str | None], None],
                    dev_token: Callable[[], Awaitable[str | None]]) -> int:
    from flowhooks_server.sidecar.envoy import EnvoyProcess, die_with_parent, render_config

    servers = plan(settings)
    envoy = EnvoyProcess(settings.envoy_admin_port)
    await envoy.start(render_config([s.grpc_port for s in servers], settings.http_port,
                                    settings.envoy_admin_port))
    stopping = False

    async def spawn(server: _Server) -> None:
        server.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "flowhooks_server", "serve", env=server.env(),
            stdin=asyncio.subprocess.DEVNULL, preexec_fn=die_with_parent)
        log.info("server process started", extra={"index": server.index,
                                                  "pid": server.proc.pid,
                                                  "grpc_port": server.grpc_port})

    async def keep(server: _Server) -> None:
        """Run `server`, starting it again whenever it exits before the stop."""
        while True:
            await spawn(server)
            assert server.proc is not None
            code = await server.proc.wait()
            if stopping:
                return
            log.error("server process exited; starting it again", extra={
                "index": server.index, "returncode": code})
            await asyncio.sleep(RESTART_DELAY_S)
            if stopping:  # the stop came while we waited
                return

    keepers = [asyncio.create_task(keep(server)) for server in servers]
    try:
        await envoy.wait_ready(timeout=READY_TIMEOUT_S)
        announce(await dev_token())
        stopped = asyncio.ensure_future(stop.wait())
        envoy_exit = asyncio.ensure_future(envoy.wait())
        done, _ = await asyncio.wait([stopped, envoy_exit],
                                     return_when=asyncio.FIRST_COMPLETED)
        if stopped not in done:
            log.error("envoy exited unexpectedly", extra={"returncode": envoy.returncode})
            return 1
        return 0
    finally:
        stopping = True
        log.info("shutting down", extra={"processes": len(servers)})
        for server in servers:
            if server.proc is not None and server.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    server.proc.send_signal(signal.SIGTERM)
        # Each server bounds its own stop (SPEC §8.15); they stop side by side.
        await asyncio.gather(*keepers, return_exceptions=True)
        await envoy.stop(timeout=1.0)


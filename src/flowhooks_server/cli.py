"""The `flowhooks` command: `migrate`, `serve` (gRPC server and worker), and `run`
(migrate, then the server and Envoy together in the foreground — what `make run` calls)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from flowhooks_server import devtoken, logs, metrics
from flowhooks_server.config import ConfigError, Settings

if TYPE_CHECKING:
    from flowhooks_server.services.tokens import TokenManager

log = logging.getLogger("flowhooks")
STOP_SLACK_S = 4.0  # beyond the grace period, for Envoy and the last writes


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(settings: Settings, with_envoy: bool) -> int:
    from flowhooks_server.app import App

    stop = _stop_event()
    metrics.serve(settings.metrics_port, settings.bind)
    app = App(settings)
    envoy = None
    if with_envoy:
        from flowhooks_server.sidecar.envoy import EnvoyProcess, render_config

        # Spawned before gRPC starts its threads: forking a process that runs gRPC is unsafe.
        envoy = EnvoyProcess(settings.envoy_admin_port)
        await envoy.start(
            render_config(settings.grpc_port, settings.http_port, settings.envoy_admin_port)
        )
    try:
        await app.start()
        if envoy is not None:
            await envoy.wait_ready(timeout=30)
            _announce(settings, await _dev_token(settings, app.tokens))
        waiter: asyncio.Future[object] = asyncio.ensure_future(stop.wait())
        watched = [waiter]
        if envoy is not None:
            watched.append(asyncio.ensure_future(envoy.wait()))
        done, _ = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        if waiter not in done and envoy is not None:
            log.error("envoy exited unexpectedly", extra={"returncode": envoy.returncode})
            return 1
        return 0
    finally:
        log.info("shutting down")
        await _stop_within(app, envoy)


async def _dev_token(settings: Settings, tokens: TokenManager) -> str | None:
    """The development admin token (SPEC §3), kept in var/ across restarts; None when
    FLOWHOOKS_BOOTSTRAP_TOKEN provides the admin token."""
    if settings.bootstrap_token:
        return None
    token, made = await tokens.dev_admin_token(devtoken.read())
    if made:
        devtoken.write(token)
    return token


async def _stop_within(app, envoy) -> None:
    """SPEC §8.15: the process exits within grace + 5 s whatever the database or the
    receivers do. A stop that overruns is cut short: unfinished deliveries keep their leases,
    which run out and are reaped (at-least-once), so nothing is lost by leaving."""
    from flowhooks_server.app import SHUTDOWN_GRACE_S

    try:
        async with asyncio.timeout(SHUTDOWN_GRACE_S + STOP_SLACK_S):
            await app.stop()
    except TimeoutError:
        log.error("shutdown overran its bound; exiting without finishing it")
        if envoy is not None:
            await envoy.stop(timeout=1.0)
        logging.shutdown()
        os._exit(1)
    if envoy is not None:
        await envoy.stop(timeout=1.0)


def _announce(settings: Settings, dev_token: str | None) -> None:
    """The start-up summary (SPEC §3): where everything listens, the delivery-target mode,
    and a ready line to paste. A token from the environment is never printed."""
    rest = f"http://127.0.0.1:{settings.http_port}"
    insecure = ("ALLOWED: http:// and private/loopback targets "
                "(FLOWHOOKS_ALLOW_INSECURE_TARGETS=1, development only)"
                if settings.allow_insecure_targets else
                "refused: https:// to public addresses only "
                "(FLOWHOOKS_ALLOW_INSECURE_TARGETS=1 allows local receivers)")
    lines = [
        "flowhooks is serving",
        f"  REST (Envoy):      {rest}",
        f"  console:           {rest}/console/",
        f"  OpenAPI:           {rest}/openapi.json",
        f"  gRPC:              {settings.bind}:{settings.grpc_port}"
        + (f" (and {settings.processes - 1} more server processes)"
           if settings.processes > 1 else ""),
        f"  Envoy admin:       http://127.0.0.1:{settings.envoy_admin_port}",
        f"  metrics:           http://127.0.0.1:{settings.metrics_port}/metrics",
        f"  database:          {settings.redacted_database_url()}",
        f"  insecure targets:  {insecure}",
    ]
    if dev_token:
        lines += [f"  admin token:       dev token, kept in {devtoken.DEV_TOKEN_FILE} (mode 0600)",
                  f"export FLOWHOOKS_TOKEN={dev_token}"]
    else:
        lines.append("  admin token:       FLOWHOOKS_BOOTSTRAP_TOKEN (not shown)")
    lines.append("Ctrl-C stops.")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="flowhooks", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("serve", help="run the gRPC server (no Envoy)")
    sub.add_parser("run", help="migrate, then run the gRPC server and Envoy")
    args = parser.parse_args(argv)
    logs.configure()
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"flowhooks: {exc}", file=sys.stderr)
        return 2
    from flowhooks_server.storage.migrate import upgrade_sync

    if args.command in ("migrate", "run"):
        upgrade_sync(settings.database_url)
        log.info("database migrated", extra={"database": settings.redacted_database_url()})
        if args.command == "migrate":
            return 0
    if args.command == "run" and settings.processes > 1:
        return asyncio.run(_supervise(settings))
    return asyncio.run(_serve(settings, with_envoy=args.command == "run"))


async def _supervise(settings: Settings) -> int:
    """`run` with several server processes (flowhooks_server.supervisor)."""
    from flowhooks_server import supervisor

    async def dev_token() -> str | None:
        from flowhooks_server.services.tokens import TokenManager
        from flowhooks_server.storage.db import Database

        db = Database(settings.database_url)
        try:
            return await _dev_token(settings, TokenManager(db))
        finally:
            await db.dispose()

    return await supervisor.supervise(settings, _stop_event(),
                                      lambda token: _announce(settings, token), dev_token)

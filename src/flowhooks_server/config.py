"""Settings: the environment of SPEC §3, read once and validated at start-up."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/flowhooks.db"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(ValueError):
    """An environment variable has a value we cannot use; the message names it."""


def _port(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"{name} must be a TCP port (1-65535), got {raw!r}")
    return int(raw)


def _duration_s(env: dict[str, str], name: str, default: str) -> int:
    raw = env.get(name, default)
    match = _DURATION.match(raw)
    if not match:
        raise ConfigError(f"{name} must look like 30d, 12h, 90m or 3600s, got {raw!r}")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


MAX_PROCESSES = 64


def _processes(env: dict[str, str], database_url: str) -> int:
    """FLOWHOOKS_PROCESSES; by default 1 on SQLite (one writer at a time gains nothing from
    more) and the number of cores on PostgreSQL."""
    raw = env.get("FLOWHOOKS_PROCESSES", "")
    if not raw:
        return 1 if database_url.startswith("sqlite") else max(1, os.cpu_count() or 1)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PROCESSES:
        raise ConfigError(f"FLOWHOOKS_PROCESSES must be a whole number from 1 to "
                          f"{MAX_PROCESSES}, got {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    database_url: str
    bind: str
    grpc_port: int
    http_port: int
    envoy_admin_port: int
    metrics_port: int
    bootstrap_token: str | None
    allow_insecure_targets: bool
    retention_s: int
    # Server processes behind the one Envoy (`flowhooks run`; see supervisor.py).
    processes: int = 1

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        insecure = env.get("FLOWHOOKS_ALLOW_INSECURE_TARGETS", "0")
        if insecure not in ("0", "1"):
            raise ConfigError(f"FLOWHOOKS_ALLOW_INSECURE_TARGETS must be 0 or 1, got {insecure!r}")
        database_url = env.get("FLOWHOOKS_DATABASE_URL") or DEFAULT_DATABASE_URL
        return cls(
            database_url=database_url,
            bind=env.get("FLOWHOOKS_BIND", "127.0.0.1"),
            grpc_port=_port(env, "FLOWHOOKS_GRPC_PORT", 50051),
            http_port=_port(env, "FLOWHOOKS_HTTP_PORT", 8080),
            envoy_admin_port=_port(env, "FLOWHOOKS_ENVOY_ADMIN_PORT", 9901),
            metrics_port=_port(env, "FLOWHOOKS_METRICS_PORT", 9464),
            bootstrap_token=env.get("FLOWHOOKS_BOOTSTRAP_TOKEN") or None,
            allow_insecure_targets=insecure == "1",
            retention_s=_duration_s(env, "FLOWHOOKS_RETENTION", "30d"),
            processes=_processes(env, database_url),
        )

    def redacted_database_url(self) -> str:
        """The database URL with any password masked, fit for logs."""
        return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", self.database_url)

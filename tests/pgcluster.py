"""A private PostgreSQL cluster for outage tests: `initdb` into a temporary folder, served by
`pg_ctl` on a port of its own, so a test can stop and restart its database without touching
the shared server on 5432. Run as the `postgres` user (initdb refuses root)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from harness import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError(f"{name} not found (install postgresql)")
    return found[-1]


class PgCluster:
    def __init__(self) -> None:
        # Not under pytest's tmp_path: its folders are root's alone, and postgres runs it.
        self.root = Path(tempfile.mkdtemp(prefix="flowhooks-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [*argv]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=60)

    def init(self) -> PgCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(_bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> None:
        options = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
                   f"{self.root} -c fsync=off -c max_connections=100")
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                  str(self.root / "log"), "-w", "-t", "30", "start")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` drops every connection at once, like a crashed or restarted server."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

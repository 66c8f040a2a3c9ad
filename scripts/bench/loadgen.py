"""Load generators for the HTTP benchmarks (SPEC §11 "How to measure"): `wrk` with the Lua
script in `scripts/bench/wrk/post.lua` for closed-loop full load, and a small paced asyncio
client for open-loop trickles (plain wrk has no fixed rate; at tens of requests per second an
asyncio client is far from being the bottleneck)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

LUA = Path(__file__).resolve().parent / "wrk" / "post.lua"
ENSURE = Path(__file__).resolve().parent / "ensure_wrk.sh"
# One setting for every wrk run (baselines and figures alike), overridable for experiments.
CONNECTIONS = int(os.environ.get("FLOWHOOKS_BENCH_CONNECTIONS", "64"))
THREADS = int(os.environ.get("FLOWHOOKS_BENCH_THREADS", "1"))
TIMEOUT_S = 10


def wrk_path() -> str | None:
    return shutil.which("wrk")


def wrk_version() -> str:
    path = wrk_path()
    if not path:
        return "missing"
    out = subprocess.run([path, "-v"], capture_output=True, text=True).stdout
    return out.splitlines()[0].split(" [")[0] if out else "unknown"


def wrk_missing_message() -> str:
    return ("wrk is not installed: the ingest and run-completion benchmarks drive HTTP load "
            f"with it (SPEC §11). Install it with `sudo apt-get install -y wrk`, or run `bash "
            f"{ENSURE.relative_to(ENSURE.parents[2])}` (what `make bench` does).")


@dataclass
class WrkResult:
    requests: int
    seconds: float
    ok: int
    non2xx: int
    first_non2xx_status: int
    errors: dict[str, int]    # socket errors, timeouts, and wrk's own status (>= 400) count
    latency_us: dict[str, float]

    @property
    def rate(self) -> float:
        """Answered requests per second (every answer, whatever its status)."""
        return self.requests / self.seconds

    @property
    def ok_rate(self) -> float:
        return self.ok / self.seconds

    @property
    def failed(self) -> int:
        """Requests that do not count: non-2xx answers, connect/read/write errors, timeouts."""
        e = self.errors
        return self.non2xx + e["connect"] + e["read"] + e["write"] + e["timeout"]

    @property
    def p50_ms(self) -> float:
        return self.latency_us["p50"] / 1000

    @property
    def p99_ms(self) -> float:
        return self.latency_us["p99"] / 1000

    def summary(self) -> str:
        return (f"{self.rate:7.0f} req/s  p50 {self.p50_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms"
                f"  (n={self.requests}, non-2xx/errors {self.failed})")

    def details(self) -> dict:
        return {"requests": self.requests, "seconds": round(self.seconds, 3), "ok": self.ok,
                "non2xx": self.non2xx, "first_non2xx_status": self.first_non2xx_status,
                "errors": self.errors, "latency_ms": {k: v / 1000 for k, v in
                                                      self.latency_us.items()},
                "connections": CONNECTIONS, "threads": THREADS}


async def wrk(url: str, *, seconds: float, headers: dict[str, str] | None = None,
              body: bytes | None = None, method: str = "POST",
              connections: int = CONNECTIONS, threads: int = THREADS) -> WrkResult:
    """Closed-loop load on `url` for `seconds` (whole seconds, at least 1)."""
    path = wrk_path()
    if not path:
        raise RuntimeError(wrk_missing_message())
    with tempfile.NamedTemporaryFile(prefix="flowhooks-wrk-", suffix=".body") as file:
        file.write(body or b"")
        file.flush()
        env = dict(os.environ, WRK_METHOD=method, WRK_BODY=file.name if body else "",
                   WRK_HEADERS="\n".join(f"{k}: {v}" for k, v in (headers or {}).items()))
        proc = await asyncio.create_subprocess_exec(
            path, f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            f"--timeout={TIMEOUT_S}s", "--latency", "-s", str(LUA), url, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
    text = out.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {text}{err.decode()}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    return WrkResult(data["requests"], data["duration_us"] / 1e6, data["ok"], data["non2xx"],
                     data["first_non2xx_status"], data["errors"],
                     {k: float(v) for k, v in data["latency_us"].items()})


@dataclass
class Paced:
    sent: int
    ok: int
    failed: int
    seconds: float
    late: int       # requests sent more than 50 ms behind their schedule

    @property
    def rate(self) -> float:
        return self.sent / self.seconds


async def paced(http: aiohttp.ClientSession, url: str, rate: float, seconds: float, *,
                body: bytes, headers: dict[str, str]) -> Paced:
    """Open loop: one POST every 1/rate s on schedule (several in flight when answers are
    slow), for `seconds`; waits for the last answers."""
    counts = {"ok": 0, "failed": 0}

    async def one() -> None:
        try:
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
                counts["ok" if 200 <= resp.status < 300 else "failed"] += 1
        except aiohttp.ClientError:
            counts["failed"] += 1

    total, late, tasks = max(1, round(rate * seconds)), 0, set()
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.05:
            late += 1
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
    # The rate is over the schedule's length, whatever the last answer's latency.
    return Paced(total, counts["ok"], counts["failed"], total / rate, late)

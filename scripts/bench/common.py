"""What every benchmark shares: a real stack on a throw-away database, latency statistics,
and a uniform report line."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from dbutil import create_pg_database, drop_pg_database, sqlite_url  # noqa: E402
from harness import Stack, free_port  # noqa: E402, F401 - re-exported

BACKENDS = ("sqlite", "postgres")


@contextlib.contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="flowhooks-bench-") as tmp:
            yield sqlite_url(Path(tmp))
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@contextlib.contextmanager
def running_stack(backend: str, **env: str) -> Iterator[Stack]:
    with database(backend) as url, tempfile.TemporaryDirectory(prefix="flowhooks-stack-") as tmp:
        stack = Stack(url, Path(tmp), "fh_bench_" + secrets.token_hex(16), **env)
        stack.start()
        try:
            yield stack
        finally:
            stack.stop()


@dataclass
class Latency:
    samples_ms: list[float]

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        return self.pct(99)

    def __str__(self) -> str:
        return f"p50 {self.p50:7.2f} ms  p99 {self.p99:7.2f} ms  (n={len(self.samples_ms)})"


async def timed(call: Callable[[], Awaitable[object]], repeat: int, warmup: int = 5) -> Latency:
    """Sequential latency of `call`, after a warm-up."""
    for _ in range(warmup):
        await call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    return Latency(samples)


def report(title: str, line: str) -> None:
    print(f"  {title:<48} {line}", flush=True)


async def until(predicate: Callable[[], Awaitable[bool]], timeout_s: float,
                interval_s: float = 0.02) -> None:
    """Poll `predicate` until it holds; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"not done within {timeout_s}s")

"""What every benchmark shares: a real stack on a throw-away database, latency statistics,
and a uniform report line that also records the figure (`Figure`) for the report files
`make bench` writes at the end (`var/bench/report.json` and `report.md`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
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


def seconds(default: float) -> float:
    """A benchmark's duration: `default`, or FLOWHOOKS_BENCH_SECONDS when set (short runs while
    iterating; the report records it)."""
    override = os.environ.get("FLOWHOOKS_BENCH_SECONDS")
    return float(override) if override else default


@dataclass
class Figure:
    """One figure `make bench` prints, as the report files carry it."""

    benchmark: str
    backend: str
    figure: str
    line: str                       # what was printed beside the title
    value: float | None = None
    unit: str = ""
    baseline: float | None = None   # the bare baseline measured in the same run, if any
    ratio: float | None = None      # value / baseline
    target: str = ""                # the SPEC §11 target this figure answers, if any
    met: bool | None = None         # None: no target, or the figure does not count
    details: dict = field(default_factory=dict)


@dataclass
class Failure:
    benchmark: str
    backend: str
    error: str


@dataclass
class Collector:
    """Every figure and failure of one `make bench`, in order; __main__ sets `benchmark` and
    `backend` before each benchmark runs."""

    benchmark: str = ""
    backend: str = ""
    figures: list[Figure] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"figures": [asdict(f) for f in self.figures],
                "failures": [asdict(f) for f in self.failures]}


COLLECTED = Collector()


def report(title: str, line: str, *, value: float | None = None, unit: str = "",
           baseline: float | None = None, ratio: float | None = None, target: str = "",
           met: bool | None = None, **details: object) -> Figure:
    """Print one figure beside its target (if any) and record it for the report files."""
    verdict = "" if met is None else ("  [met]" if met else "  [NOT met]")
    aim = f"  (target {target})" if target else ""
    print(f"  {title:<48} {line}{aim}{verdict}", flush=True)
    if ratio is None and value is not None and baseline:
        ratio = value / baseline
    figure = Figure(COLLECTED.benchmark, COLLECTED.backend, title, line, value, unit, baseline,
                    ratio, target, met, dict(details))
    COLLECTED.figures.append(figure)
    return figure


def record_failure(benchmark: str, backend: str, error: BaseException) -> None:
    text = f"{type(error).__name__}: {error}"
    print(f"  FAILED: {text}", flush=True)
    COLLECTED.failures.append(Failure(benchmark, backend, text[:4000]))


async def until(predicate: Callable[[], Awaitable[bool]], timeout_s: float,
                interval_s: float = 0.02) -> None:
    """Poll `predicate` until it holds; TimeoutError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(interval_s)
    raise TimeoutError(f"not done within {timeout_s}s")


@contextlib.contextmanager
def profiled(pid: int, name: str) -> Iterator[None]:
    """With FLOWHOOKS_BENCH_PROFILE=<dir>, sample process `pid` with py-spy (on-CPU samples
    only, every thread; FLOWHOOKS_BENCH_PROFILE_ARGS adds options) while the block runs,
    into <dir>/<name>.txt as collapsed stacks (one line per stack, its sample count last):
    the profiles the closing notes of issues 12 and 16 quote. Without it, nothing."""
    out_dir = os.environ.get("FLOWHOOKS_BENCH_PROFILE")
    if not out_dir:
        yield
        return
    import subprocess
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    extra = os.environ.get("FLOWHOOKS_BENCH_PROFILE_ARGS", "").split()  # e.g. --native
    spy = subprocess.Popen(
        [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(pid), "--format",
         "raw", "--threads", "--rate", "250", *extra,
         "-o", str(Path(out_dir) / f"{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)   # py-spy attaches before the window starts
    try:
        yield
    finally:
        spy.send_signal(2)   # SIGINT: py-spy writes its file and exits
        spy.wait(30)


def scale_out(what: str, one: float, two: float, unit: str) -> None:
    """SPEC §11 scale-out: N = 2 >= 1.6 x N = 1 where the machine has the cores for it; on
    fewer than 4 cores the bench, the receiver, Envoy and both servers share them, so the
    figure is reported only."""
    enough = (os.cpu_count() or 1) >= 4
    report(f"scale-out: {what}, 2 processes vs 1", f"x{two / one:4.2f} ({two:.0f} vs "
           f"{one:.0f} {unit})", value=two, unit=unit, baseline=one,
           target=">= 1.6 x one process" + ("" if enough else
                                              f" (reported only: {os.cpu_count()} cores)"),
           met=two >= 1.6 * one if enough else None)

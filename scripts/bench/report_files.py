"""The report files of `make bench` (SPEC §11 "How to measure"): every figure printed, with
the machine, the commit, the date and the wrk version, as `var/bench/report.json` and a
markdown table `var/bench/report.md` a release can publish."""

from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
from pathlib import Path

from scripts.bench.common import ROOT, Collector, Figure
from scripts.bench.loadgen import CONNECTIONS, THREADS, wrk_version

OUT = ROOT / "var" / "bench"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def context(started: datetime.datetime, argv: list[str]) -> dict:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = bool(_git("status", "--porcelain", "--untracked-files=no"))
    return {
        "date": started.isoformat(timespec="seconds"),
        "finished": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit, "dirty": dirty,
        "machine": {"cores": os.cpu_count(), "cpu": _cpu_model(), "ram_gb": _ram_gb(),
                    "kernel": platform.release(), "python": platform.python_version()},
        "wrk": {"version": wrk_version(), "connections": CONNECTIONS, "threads": THREADS},
        "command": " ".join(["python -m scripts.bench", *argv[1:]]),
        "bench_seconds": os.environ.get("FLOWHOOKS_BENCH_SECONDS") or None,
    }


def _num(value: float | None, unit: str = "") -> str:
    if value is None:
        return ""
    text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{text} {unit}".strip()


def _row(f: Figure) -> str:
    met = "" if f.met is None else ("yes" if f.met else "**no**")
    ratio = f"{f.ratio:.1%}" if f.ratio is not None else ""
    value = _num(f.value, f.unit) or f.line.strip()
    cells = [f"{f.benchmark}: {f.figure}", value,
             _num(f.baseline, f.details.get("baseline_unit", f.unit)), ratio,
             f.target, met, f.backend]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def markdown(ctx: dict, collected: Collector) -> str:
    m = ctx["machine"]
    lines = [
        "# flowhooks benchmark report (SPEC §11)", "",
        f"- date: {ctx['date']} (finished {ctx['finished']})",
        f"- commit: `{ctx['commit']}`{' (dirty working tree)' if ctx['dirty'] else ''}",
        f"- machine: {m['cores']} cores, {m['cpu']}, {m['ram_gb']} GB RAM, "
        f"Linux {m['kernel']}, Python {m['python']}",
        f"- load generator: {ctx['wrk']['version']}, {ctx['wrk']['connections']} connections, "
        f"{ctx['wrk']['threads']} thread(s)",
        f"- command: `{ctx['command']}`"
        + (f", FLOWHOOKS_BENCH_SECONDS={ctx['bench_seconds']} (shortened run)"
           if ctx["bench_seconds"] else ""),
        "- figures are noisy on a shared 2-core machine: ratios against a baseline taken in "
        "the same run are the steadier ones.", "",
        "| figure | value | baseline | ratio | SPEC §11 target | met | backend |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_row(f) for f in collected.figures]
    if collected.failures:
        lines += ["", "## Failures", ""]
        lines += [f"- {f.benchmark} on {f.backend}: `{f.error.splitlines()[0][:300]}`"
                  for f in collected.failures]
    return "\n".join(lines) + "\n"


def write(collected: Collector, started: datetime.datetime, argv: list[str],
          out: Path = OUT) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    ctx = context(started, argv)
    json_path, md_path = out / "report.json", out / "report.md"
    json_path.write_text(json.dumps({**ctx, **collected.as_json()}, indent=2) + "\n")
    md_path.write_text(markdown(ctx, collected))
    return json_path, md_path

"""`make bench`: the SPEC §11 figures, each against a bare baseline measured in the same run,
printed and written to var/bench/report.json and var/bench/report.md.

    python -m scripts.bench [name ...] [--backend sqlite|postgres]

FLOWHOOKS_BENCH_SECONDS shortens the timed windows (for trying things out; the report says so).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import sys
import traceback

from scripts.bench import (
    chaos,
    delivery,
    ingest,
    listing,
    report_files,
    runs,
    trickle,
    watchers,
)
from scripts.bench.common import BACKENDS, COLLECTED, record_failure
from scripts.bench.loadgen import wrk_missing_message, wrk_path

BENCHMARKS = {"listing": listing.run, "delivery": delivery.run, "ingest": ingest.run,
              "watchers": watchers.run, "runs": runs.run, "trickle": trickle.run,
              "chaos": chaos.run}
NEEDS_WRK = {"ingest", "runs"}


def main() -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)}; all if none")
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    names = args.names or list(BENCHMARKS)
    if NEEDS_WRK & set(names) and not wrk_path():
        print(wrk_missing_message(), file=sys.stderr)
        return 2
    started = datetime.datetime.now(datetime.UTC)
    try:
        for backend in args.backend or BACKENDS:
            for name in names:
                print(f"== {name} on {backend}", flush=True)
                COLLECTED.benchmark, COLLECTED.backend = name, backend
                try:
                    asyncio.run(BENCHMARKS[name](backend))
                except Exception as exc:  # noqa: BLE001 - recorded; the others still run
                    traceback.print_exc()
                    record_failure(name, backend, exc)
    finally:
        json_path, md_path = report_files.write(COLLECTED, started, sys.argv)
        print(f"report: {json_path} and {md_path}", flush=True)
    return 1 if COLLECTED.failures else 0


if __name__ == "__main__":
    sys.exit(main())

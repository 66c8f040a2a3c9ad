"""`make bench`: the SPEC §11 figures, each against a bare baseline measured in the same run.

    python -m scripts.bench [name ...] [--backend sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio

from scripts.bench import delivery, ingest, listing, watchers
from scripts.bench.common import BACKENDS

BENCHMARKS = {"listing": listing.run, "delivery": delivery.run, "ingest": ingest.run,
              "watchers": watchers.run}


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHMARKS)}; all if none")
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for backend in args.backend or BACKENDS:
        for name in args.names or BENCHMARKS:
            print(f"== {name} on {backend}", flush=True)
            asyncio.run(BENCHMARKS[name](backend))


if __name__ == "__main__":
    main()

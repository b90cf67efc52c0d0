"""Run the benchmarks and rewrite docs/benchmarks.md: ``python -m bench [NAME ...] [--runs N]``.

Each benchmark module has ``NAME`` and ``run(runs: int) -> list[Row]``; it measures guildwatch
and its floor in the same run so that the ratio, not a noisy absolute time, is the result.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from bench._report import REPORT_FILE, save

BENCHMARKS = (
    "startup",
    "throughput",
    "latency",
    "idle",
    "burst",
    "memory",
    "shared_stream",
    "reconnect",
    "server_fanout",
    "redis_fanout",
    "metrics",
    "many_screen",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--runs", type=int, default=5, help="repetitions per figure")
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    saved = 0
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; choose from {BENCHMARKS}")
    for name in names:
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"bench.{name}":
                print(f"{name}: not written yet, skipped", file=sys.stderr)
                continue
            raise
        print(f"== {name}", flush=True)
        rows = module.run(args.runs)
        for row in rows:
            floor = row.floor.render(row.unit) if row.floor else "-"
            print(f"  {row.metric}: {row.guildwatch.render(row.unit)} | floor {floor}")
        save(module.NAME, rows, f"python -m bench {name} --runs {args.runs}")
        saved += 1
    if saved:
        print(f"wrote {REPORT_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

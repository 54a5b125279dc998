"""Throughput and peak memory of ``podself inject`` against ``podself lint`` on the same stream.

Rows (measured in this one run, best of N, each command in its own process so that its peak
resident memory is its own):

1. the Deployments of ``bench_lint.py`` (most of them gain env vars, a mount and a volume):
   ``podself lint`` [baseline], then ``podself inject`` printing the result; documents per
   second, inject's throughput as a share of lint's, and peak RSS;
2. a stream of empty documents (bare ``---`` lines), which must cost next to nothing.

The target is inject at 25 % or more of lint's throughput, with memory that does not grow
with the number of documents beyond the input and the output themselves.

Usage: python benchmarks/bench_inject.py [--docs N] [--empty N] [--runs N] [--markdown]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_lint import stream


def measure(argv: list[str], runs: int) -> tuple[float, int]:
    """(best wall time in seconds, peak RSS in KiB of that command) over ``runs`` runs."""
    best, peak = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        with open(os.devnull, "wb") as sink:
            proc = subprocess.Popen(argv, stdout=sink, stderr=sink)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        if proc.returncode not in (0, 1):  # lint exits 1 on findings
            raise SystemExit(f"{' '.join(argv)} failed with exit status {proc.returncode}")
        best = min(best, seconds)
        peak = max(peak, usage.ru_maxrss)
    return best, peak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=5_000, help="Deployments in the stream")
    parser.add_argument("--empty", type=int, default=1_000_000, help="empty documents")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (best of)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()

    rows: list[tuple[str, int, float, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        workloads = Path(tmp) / "deployments.yaml"
        workloads.write_text(stream(args.docs))
        empty = Path(tmp) / "empty.yaml"
        empty.write_text("---\n" * args.empty)
        for name, path, count in (
            (f"{args.docs:,} Deployments", workloads, args.docs),
            (f"{args.empty:,} empty documents", empty, args.empty),
        ):
            size = path.stat().st_size
            limits = ["--max-bytes", str(size + 1), "--max-documents", str(count + 1)]
            base = [sys.executable, "-m", "podself"]
            lint = measure([*base, "lint", *limits, str(path)], args.runs)
            inject = measure([*base, "inject", *limits, str(path)], args.runs)
            rows.append((f"{name}: podself lint [baseline]", count, *lint, 1.0))
            rows.append((f"{name}: podself inject", count, *inject, lint[0] / inject[0]))

    title = f"wall time of the whole command (start-up included), best of {args.runs}"
    if args.markdown:
        print(f"**{title}**\n")
        print("| what | seconds | documents/s | share of lint's | peak RSS |")
        print("|---|---:|---:|---:|---:|")
        for what, count, seconds, peak, share in rows:
            print(
                f"| {what} | {seconds:.2f} | {count / seconds:,.0f} | {share:.0%} "
                f"| {peak / 1024:,.0f} MiB |"
            )
    else:
        print(title)
        print(f"{'what':<52} {'seconds':>8} {'docs/s':>10} {'share':>6} {'peak RSS':>10}")
        for what, count, seconds, peak, share in rows:
            print(
                f"{what:<52} {seconds:>8.2f} {count / seconds:>10,.0f} {share:>6.0%} "
                f"{peak / 1024:>6,.0f} MiB"
            )
    share = rows[1][4]
    print(
        f"\ntarget: inject >= 25 % of lint's throughput on the same Deployments: {share:.0%} "
        f"({'met' if share >= 0.25 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Throughput and peak memory of ``podself inject`` against ``podself lint`` on the same stream.

Rows (measured in this one run, best of N rounds with lint and inject taking turns to go
first, each command in its own process so that its peak resident memory is its own):

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

from _common import child_env, conditions, headline, rotation
from bench_lint import stream


def run_once(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """(wall time in seconds, peak RSS in KiB) of one run of ``argv``."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=sink, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):  # lint exits 1 on findings
        raise SystemExit(f"{' '.join(argv)} failed with exit status {proc.returncode}")
    return seconds, usage.ru_maxrss


def measure(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, int]]:
    """Per command: (best wall time in seconds, peak RSS in KiB) over ``runs`` rotating
    rounds, bytecode cached."""
    env = child_env()
    for argv in commands.values():  # write bytecode once
        run_once(argv, env)
    best = {name: (float("inf"), 0) for name in commands}
    for round_ in range(runs):
        for name in rotation(list(commands), round_):
            seconds, peak = run_once(commands[name], env)
            best[name] = (min(best[name][0], seconds), max(best[name][1], peak))
    return best


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
            both = measure(
                {
                    "lint": [*base, "lint", *limits, str(path)],
                    "inject": [*base, "inject", *limits, str(path)],
                },
                args.runs,
            )
            lint, inject = both["lint"], both["inject"]
            rows.append((f"{name}: podself lint [baseline]", count, *lint, 1.0))
            rows.append((f"{name}: podself inject", count, *inject, lint[0] / inject[0]))

    title = "wall time of the whole command (start-up included); " + conditions(
        f"best of {args.runs} rotating rounds", "bytecode cached"
    )
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
    (_, docs, lint_s, _, _), (_, _, inject_s, inject_peak, _) = rows[:2]
    headline(
        "`podself inject` throughput (whole command)",
        f"{docs / inject_s:,.0f} docs/s, peak {inject_peak / 1024:.0f} MiB",
        f"`podself lint` on the same stream: {docs / lint_s:,.0f} docs/s",
        f"{share:.0%} of lint's",
        conditions(f"{docs:,} Deployments, best of {args.runs} rotating rounds"),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

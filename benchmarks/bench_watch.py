"""Watch latency, idle cost and storm behaviour: inotify against polling, in one run.

For each mode a :class:`podself.Watcher` watches a ``..data`` volume written with
:func:`podself.atomic.write` (``debounce_ms=0``):

1. latency from just before the ``..data`` rename (taken in the writer's ``set_perms`` hook,
   step 7, right before steps 8-9) to the ChangeSet reaching the callback, over N updates
   spaced at random so polling phases are uniform; p50/p90/p99/max;
2. idle cost over a few seconds without changes: the watcher thread's CPU time (from
   ``/proc/self/task/<tid>/schedstat``, else ``getrusage``) and its wake-ups;
3. start-up: ``Watcher.start()`` (watch established plus the initial snapshot);
4. a storm of back-to-back swaps: change sets seen, whether the final state was reported,
   time from the last rename to that report, and whether any change set was torn.

Polling is the baseline (ratio 1.00); the inotify column's ratio is inotify / polling.

Usage: python benchmarks/bench_watch.py [--samples N] [--poll-ms MS] [--idle S] [--storm N]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from podself import atomic
from podself.downward import format_map
from podself.watcher import ChangeSet, Watcher

WAIT = 30.0


@dataclass
class Result:
    """Everything measured for one mode."""

    mode: str
    latencies_ms: list[float] = field(default_factory=list)
    idle_cpu_pct: float = 0.0
    idle_wakeups_per_s: float = 0.0
    startup_ms: float = 0.0
    storm_seen: int = 0
    storm_final: bool = False
    storm_final_ms: float = 0.0
    storm_torn: int = 0


class Probe:
    """Callback recording when each sequence number arrived."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.arrived: dict[int, int] = {}
        self.changes: list[ChangeSet] = []
        self.tid = 0

    def __call__(self, change: ChangeSet) -> None:
        now = time.perf_counter_ns()
        self.tid = threading.get_native_id()
        seq = int(change.files.get("seq", b"-1"))
        with self.cond:
            self.arrived.setdefault(seq, now)
            self.changes.append(change)
            self.cond.notify_all()

    def wait_seq(self, seq: int) -> int:
        with self.cond:
            if not self.cond.wait_for(lambda: seq in self.arrived, WAIT):
                raise SystemExit(f"sequence {seq} never reported")
            return self.arrived[seq]


class Stamp:
    """``set_perms`` hook: records the time just before ``..data_tmp`` and the rename."""

    def __init__(self) -> None:
        self.last = 0

    def __call__(self, _ts_dir_name: str) -> None:
        self.last = time.perf_counter_ns()


def payload(seq: int) -> dict[str, str]:
    return {
        "labels": format_map({"app": "bench", "seq": str(seq)}),
        "annotations": format_map({"seq": str(seq)}),
        "seq": str(seq),
    }


def thread_cpu_ns(tid: int) -> int | None:
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as handle:
            return int(handle.read().split()[0])
    except OSError:
        return None


def thread_switches(tid: int) -> int | None:
    try:
        with open(f"/proc/self/task/{tid}/status") as handle:
            for line in handle:
                if line.startswith("voluntary_ctxt_switches:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def process_cpu_ns() -> int:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def run_mode(mode: str, args: argparse.Namespace, root: Path) -> Result:
    result = Result(mode)
    target = root / mode
    target.mkdir()
    seq = 0
    atomic.write(target, payload(seq))
    options: dict[str, object] = {"debounce_ms": 0, "force_polling": mode == "polling"}
    if mode == "polling":
        options["poll_ms"] = args.poll_ms
    probe = Probe()

    began = time.perf_counter_ns()
    watcher = Watcher(target, probe, **options).start()  # type: ignore[arg-type]
    result.startup_ms = (time.perf_counter_ns() - began) / 1e6
    assert watcher.mode == mode, watcher.mode

    # 1. latency
    stamp = Stamp()
    spacing = args.poll_ms / 1000 if mode == "polling" else 0.01
    for _ in range(args.samples):
        seq += 1
        atomic.write(target, payload(seq), set_perms=stamp)
        arrived = probe.wait_seq(seq)
        result.latencies_ms.append((arrived - stamp.last) / 1e6)
        time.sleep(random.uniform(0, spacing))

    # 2. idle
    time.sleep(0.2)
    tid = probe.tid
    cpu0, sw0, proc0 = thread_cpu_ns(tid), thread_switches(tid), process_cpu_ns()
    time.sleep(args.idle)
    cpu1, sw1, proc1 = thread_cpu_ns(tid), thread_switches(tid), process_cpu_ns()
    if cpu0 is not None and cpu1 is not None:
        result.idle_cpu_pct = 100 * (cpu1 - cpu0) / (args.idle * 1e9)
    else:  # the main thread only sleeps, so the process is a fair upper bound
        result.idle_cpu_pct = 100 * (proc1 - proc0) / (args.idle * 1e9)
    if sw0 is not None and sw1 is not None:
        result.idle_wakeups_per_s = (sw1 - sw0) / args.idle

    # 3. storm
    with probe.cond:
        probe.changes.clear()
    for _ in range(args.storm):
        seq += 1
        atomic.write(target, payload(seq), set_perms=stamp)
    final = probe.wait_seq(seq)
    result.storm_final = True
    result.storm_final_ms = (final - stamp.last) / 1e6
    with probe.cond:
        result.storm_seen = len(probe.changes)
        for change in probe.changes:
            values = {change.files["seq"], change.files["annotations"].split(b'"')[1]}
            result.storm_torn += len(values) != 1
    watcher.stop(timeout=WAIT)
    return result


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def ratio(value: float, base: float) -> str:
    if base == 0:
        return "n/a"
    return f"{value / base:.3g}×"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100, help="updates timed per mode")
    parser.add_argument("--poll-ms", type=int, default=100, help="polling interval (baseline)")
    parser.add_argument("--idle", type=float, default=5.0, help="idle seconds measured")
    parser.add_argument("--storm", type=int, default=500, help="back-to-back swaps")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("inotify is Linux only: nothing to compare here")
        return 0

    with tempfile.TemporaryDirectory(prefix="podself-bench-watch-") as tmp:
        results = {m: run_mode(m, args, Path(tmp)) for m in ("inotify", "polling")}
    ino, poll = results["inotify"], results["polling"]

    rows: list[tuple[str, float, float, str]] = []
    for label, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0)):
        a, b = quantile(ino.latencies_ms, q), quantile(poll.latencies_ms, q)
        rows.append((f"latency {label} (ms)", a, b, ratio(a, b)))
    rows += [
        ("idle CPU (% of a core)", ino.idle_cpu_pct, poll.idle_cpu_pct, ""),
        ("idle wake-ups per s", ino.idle_wakeups_per_s, poll.idle_wakeups_per_s, ""),
        ("start-up (ms)", ino.startup_ms, poll.startup_ms, ""),
        (f"storm: change sets for {args.storm}", ino.storm_seen, poll.storm_seen, ""),
        ("storm: last rename to final (ms)", ino.storm_final_ms, poll.storm_final_ms, ""),
        ("storm: torn change sets", ino.storm_torn, poll.storm_torn, ""),
    ]
    rows = [(n, a, b, r or ratio(a, b)) for n, a, b, r in rows]

    print(
        f"podself.watcher, debounce_ms=0, {args.samples} timed updates per mode; "
        f"polling every {args.poll_ms} ms is the baseline; inotify keeps its 1000 ms "
        f"safety-net check; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'inotify':>12}  {'polling':>12}  {'inotify/polling':>15}")
    for name, a, b, r in rows:
        print(f"{name:{width}}  {a:>12.4g}  {b:>12.4g}  {r:>15}")
    print(
        f"(mean latency: inotify {statistics.fmean(ino.latencies_ms):.3f} ms, "
        f"polling {statistics.fmean(poll.latencies_ms):.3f} ms; final state reported: "
        f"inotify {ino.storm_final}, polling {poll.storm_final})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Live reload: podself's watcher against the seed's 5-second ``md5sum`` loop, side by side.

One ``..data`` volume (written with :func:`podself.atomic.write`, the kubelet's steps) is
observed at once by:

- ``inotify``: a :class:`podself.Watcher` (``debounce_ms=0``);
- ``polling``: a :class:`podself.Watcher` with ``force_polling=True`` at ``--poll-ms``
  (default 1000, the fallback's default);
- ``sidecar``: ``podself watch DIR --debounce-ms 0`` as a separate process (inotify);
- ``seed loop``: the seed's exercise-3 script verbatim under ``sh -c`` (``md5sum`` of the
  labels file every 5 s, ``LABELS_FILE`` pointed at the same volume).

Latency runs from just before the ``..data`` rename (the writer's ``set_perms`` hook, step 7)
to delivery: the callback for the watchers, the printed line for the two processes. Updates
are spaced at random so each polling phase is uniform; the seed loop is timed on the first
``--seed-samples`` updates only (each may take 5 s). Idle CPU is measured over ``--idle``
seconds with no update, concurrently for all four: watcher threads via
``/proc/self/task/<tid>/schedstat``, the sidecar via every task of its process, the seed loop
as a separate run of the script whose whole life (``wait4`` rusage, children included) is
the idle window. The seed loop is the baseline (ratio 1).

Usage: python benchmarks/bench_reload.py [--samples N] [--seed-samples N] [--poll-ms MS]
       [--idle S]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

from _common import child_env, conditions, headline
from bench_watch import Probe, Stamp, quantile, thread_cpu_ns

from podself import atomic
from podself.downward import format_map
from podself.watcher import Watcher

WAIT = 30.0
SEED_PERIOD_S = 5.0

# The seed's exercise 3 container script, verbatim.
SEED_SCRIPT = """\
LABELS_FILE="/etc/podinfo/labels"
LAST_MD5=""

while true; do
  CURRENT_MD5=$(md5sum $LABELS_FILE | cut -d' ' -f1)

  if [ "$CURRENT_MD5" != "$LAST_MD5" ]; then
    echo "[$(date)] LABELS CHANGED!"
    cat $LABELS_FILE
    LAST_MD5=$CURRENT_MD5
  fi

  sleep 5
done
"""


def seed_script(labels_file: Path) -> str:
    """The seed's script with only ``LABELS_FILE`` pointed at our volume."""
    return SEED_SCRIPT.replace('"/etc/podinfo/labels"', shlex.quote(str(labels_file)), 1)


class Lines:
    """Reads a process's output in a thread, stamping each matching line on arrival."""

    def __init__(self, stream: IO[str], pattern: str) -> None:
        self.pattern = re.compile(pattern)
        self.cond = threading.Condition()
        self.hits: list[tuple[int, re.Match[str]]] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            now = time.perf_counter_ns()
            match = self.pattern.search(line)
            if match is not None:
                with self.cond:
                    self.hits.append((now, match))
                    self.cond.notify_all()

    def wait(self, count: int, what: str) -> tuple[int, re.Match[str]]:
        """The ``count``-th hit (1-based), waiting for it."""
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.hits) >= count, WAIT + SEED_PERIOD_S):
                raise SystemExit(f"{what}: no line #{count}")
            return self.hits[count - 1]

    def wait_seq(self, seq: int, what: str) -> int:
        """When a hit whose first group is ``seq`` arrived."""
        with self.cond:
            ok = self.cond.wait_for(lambda: any(int(m.group(1)) == seq for _, m in self.hits), WAIT)
            if not ok:
                raise SystemExit(f"{what}: sequence {seq} never reported")
            return next(t for t, m in self.hits if int(m.group(1)) == seq)


def payload(seq: int) -> dict[str, str]:
    """The volume's files for update ``seq``: the ``labels`` the seed loop hashes, and ``seq``."""
    return {"labels": format_map({"app": "bench", "seq": str(seq)}), "seq": str(seq)}


SEED_LOOPS: list[subprocess.Popen[str]] = []  # stopped at exit, whatever happens


def start_seed_loop(labels_file: Path) -> subprocess.Popen[str]:
    """The seed's loop in its own session, so it and its ``sleep`` can be stopped together."""
    proc = subprocess.Popen(
        ["sh", "-c", seed_script(labels_file)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    SEED_LOOPS.append(proc)
    return proc


def stop_group(proc: subprocess.Popen[str]) -> int:
    """SIGTERM the process group; return the leader's CPU in ns (children it reaped incl.)."""
    os.killpg(proc.pid, signal.SIGTERM)
    _, _, usage = os.wait4(proc.pid, 0)
    proc.returncode = -signal.SIGTERM
    if proc.stdout is not None:
        proc.stdout.close()
    return int((usage.ru_utime + usage.ru_stime) * 1e9)


def process_cpu_ns(pid: int) -> int:
    """CPU time of every task (thread) of ``pid``, from schedstat (ns)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[0])
        except OSError:
            continue
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="updates timed (watchers)")
    parser.add_argument("--seed-samples", type=int, default=4, help="updates timed (seed loop)")
    parser.add_argument("--poll-ms", type=int, default=1000, help="polling interval")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("inotify and /proc are Linux only: nothing to compare here")
        return 0
    args.seed_samples = min(args.seed_samples, args.samples)
    began = time.monotonic()

    with tempfile.TemporaryDirectory(prefix="podself-bench-reload-") as tmp:
        target = Path(tmp) / "podinfo"
        target.mkdir()
        labels_file = target / "labels"
        seq = 0
        atomic.write(target, payload(seq))

        probes = {"inotify": Probe(), "polling": Probe()}
        watchers = [
            Watcher(target, probes["inotify"], debounce_ms=0, force_polling=False).start(),
            Watcher(
                target, probes["polling"], debounce_ms=0, poll_ms=args.poll_ms, force_polling=True
            ).start(),
        ]
        sidecar = subprocess.Popen(
            [sys.executable, "-m", "podself", "watch", str(target), "--debounce-ms", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(PYTHONUNBUFFERED="1"),
        )
        assert sidecar.stdout is not None
        assert sidecar.stderr is not None
        if "watching" not in sidecar.stderr.readline():
            raise SystemExit("podself watch did not start")
        sidecar_lines = Lines(sidecar.stdout, r"~seq \d+→(\d+)")

        # Warm-up: one update so that every watcher thread is known.
        stamp = Stamp()
        seq += 1
        atomic.write(target, payload(seq), set_perms=stamp)
        for probe in probes.values():
            probe.wait_seq(seq)
        sidecar_lines.wait_seq(seq, "sidecar")
        time.sleep(0.2)

        # Idle: nothing changes for args.idle seconds; all four measured at once.
        tids = {mode: probe.tid for mode, probe in probes.items()}
        cpu0 = {mode: thread_cpu_ns(tid) or 0 for mode, tid in tids.items()}
        side0 = process_cpu_ns(sidecar.pid)
        idle_seed = start_seed_loop(labels_file)
        t0 = time.perf_counter_ns()
        time.sleep(args.idle)
        seed_idle_ns = stop_group(idle_seed)
        elapsed = time.perf_counter_ns() - t0
        idle_ns = {mode: (thread_cpu_ns(tid) or 0) - cpu0[mode] for mode, tid in tids.items()}
        idle_ns["sidecar"] = process_cpu_ns(sidecar.pid) - side0
        idle_ns["seed"] = seed_idle_ns
        window_s = elapsed / 1e9

        # Latency.
        latencies: dict[str, list[float]] = {m: [] for m in ("inotify", "polling", "sidecar")}
        latencies["seed"] = []
        seed = start_seed_loop(labels_file)
        assert seed.stdout is not None
        seed_lines = Lines(seed.stdout, r"LABELS CHANGED!")
        seed_lines.wait(1, "seed loop start")  # its first pass always reports
        for sample in range(args.samples):
            timing_seed = sample < args.seed_samples
            spacing = SEED_PERIOD_S if timing_seed else args.poll_ms / 1000
            time.sleep(random.uniform(0, spacing))
            seq += 1
            atomic.write(target, payload(seq), set_perms=stamp)
            renamed = stamp.last
            for mode, probe in probes.items():
                latencies[mode].append((probe.wait_seq(seq) - renamed) / 1e6)
            latencies["sidecar"].append((sidecar_lines.wait_seq(seq, "sidecar") - renamed) / 1e6)
            if timing_seed:
                arrived, _ = seed_lines.wait(sample + 2, "seed loop")
                latencies["seed"].append((arrived - renamed) / 1e6)
            if sample + 1 == args.seed_samples:
                stop_group(seed)
        if seed.returncode is None:
            stop_group(seed)
        for watcher in watchers:
            watcher.stop(timeout=WAIT)
        sidecar.terminate()
        sidecar_code = sidecar.wait(WAIT)
        sidecar.stdout.close()
        sidecar.stderr.close()

    modes = ("inotify", "polling", "sidecar", "seed")
    heads = {
        "inotify": "inotify",
        "polling": f"polling {args.poll_ms}ms",
        "sidecar": "podself watch",
        "seed": "seed md5sum 5s",
    }
    rows: list[tuple[str, dict[str, float]]] = []
    for label, q in (("p50", 0.5), ("p99", 0.99), ("max", 1.0)):
        rows.append((f"latency {label} (ms)", {m: quantile(latencies[m], q) for m in modes}))
    rows.append(("idle CPU (ms per 10 s)", {m: idle_ns[m] / 1e6 * 10 / window_s for m in modes}))
    rows.append(("idle CPU (% of a core)", {m: 100 * idle_ns[m] / 1e9 / window_s for m in modes}))

    where = conditions(
        f"debounce 0, polling every {args.poll_ms} ms",
        f"{args.samples} timed updates ({args.seed_samples} for the seed loop)",
        f"idle over {window_s:.1f} s",
    )
    print(
        "Live reload; latency = ..data rename -> delivery; the p99 of the seed loop's few "
        f"samples is their max; baseline: the seed's md5sum loop = 1.00; {where}"
    )
    width = max(len(name) for name, _ in rows)
    ratio_heads = [f"{m}/seed" for m in modes[:-1]]
    print(
        f"{'':{width}}  "
        + "  ".join(f"{heads[m]:>15}" for m in modes)
        + "  "
        + "  ".join(f"{h:>13}" for h in ratio_heads)
    )
    for name, values in rows:
        base = values["seed"]
        cells = "  ".join(f"{values[m]:>15.4g}" for m in modes)
        ratios = "  ".join(
            f"{(values[m] / base if base else float('nan')):>12.3g}×" for m in modes[:-1]
        )
        print(f"{name:{width}}  {cells}  {ratios}")
    p50 = {m: quantile(latencies[m], 0.5) for m in modes}
    headline(
        "label change seen by the app, p50 (Watcher, inotify)",
        f"{p50['inotify']:.2f} ms",
        f"the seed's 5 s `md5sum` loop: {p50['seed'] / 1000:.2f} s; polling every "
        f"{args.poll_ms} ms: {p50['polling']:.0f} ms",
        f"{p50['seed'] / p50['inotify']:,.0f}× sooner",
        where,
    )
    print(
        f"(sidecar exit status on SIGTERM: {sidecar_code}; whole run "
        f"{time.monotonic() - began:.0f} s)"
    )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    finally:
        for loop in SEED_LOOPS:
            if loop.returncode is None:
                stop_group(loop)

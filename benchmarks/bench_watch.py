"""Watch latency and idle cost: podself's defaults against a raw inotify floor and the peers.

Every watcher watches its own ``..data`` volume written with :func:`podself.atomic.write`;
they all run at once and each round updates them in a rotating order:

1. latency from just before the ``..data`` rename (the writer's ``set_perms`` hook, right
   before the swap) to the change reaching the callback; p50/p90/p99 over N rounds. The floor
   is a bare inotify loop (``poll(2)`` on the directory, re-reading one file on the ``..data``
   event); podself runs with its defaults (``debounce_ms=None``: a swap is reported at once),
   with ``debounce_ms=50, poll_ms=1000`` (the previous defaults) and polling every 100 ms;
   watchdog and watchfiles join when installed;
2. idle cost over a quiet window: voluntary wake-ups per minute of the threads each watcher
   started (``/proc/self/task/<tid>/status``) and their CPU time;
3. a storm of back-to-back swaps (podself rows): change sets, final state reported, torn sets.

Usage: python benchmarks/bench_watch.py [--samples N] [--idle S] [--storm N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from _common import conditions, headline

from podself import atomic
from podself.downward import format_map
from podself.watcher import ChangeSet, Watcher

WAIT = 30.0


class Probe:
    """Records when each sequence number arrived (a callback for every watcher)."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.arrived: dict[int, int] = {}
        self.changes: list[ChangeSet] = []
        self.tid = 0  # the native id of the thread that reported last

    def seen(self, seq: int, change: ChangeSet | None = None) -> None:
        now = time.perf_counter_ns()
        self.tid = threading.get_native_id()
        with self.cond:
            self.arrived.setdefault(seq, now)
            if change is not None:
                self.changes.append(change)
            self.cond.notify_all()

    def __call__(self, change: ChangeSet) -> None:
        self.seen(int(change.files.get("seq", b"-1")), change)

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


def thread_cpu_ns(tid: int) -> int | None:
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as handle:
            return int(handle.read().split()[0])
    except OSError:
        return None


def payload(seq: int) -> dict[str, str]:
    return {"annotations": format_map({"seq": str(seq)}), "seq": str(seq)}


def read_seq(path: Path) -> int:
    try:
        return int((path / "seq").read_text())
    except (OSError, ValueError):
        return -1


def tasks() -> set[int]:
    return {int(t) for t in os.listdir("/proc/self/task")}


def task_stats(tids: set[int]) -> tuple[int, int]:
    """(voluntary context switches, CPU ns) summed over ``tids``."""
    switches = cpu = 0
    for tid in tids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/self/task/{tid}/status") as handle:
                for line in handle:
                    if line.startswith("voluntary_ctxt_switches:"):
                        switches += int(line.split()[1])
            with open(f"/proc/self/task/{tid}/schedstat") as handle:
                cpu += int(handle.read().split()[0])
    return switches, cpu


# -- watchers: each starts on a directory and returns a stop function -----------------------


def raw_inotify(path: Path, probe: Probe) -> Callable[[], None]:
    """The floor: block in poll(2) on an inotify descriptor, read the file on ``..data``."""
    from podself import _inotify as ino

    notifier = ino.Inotify()
    notifier.add_watch(str(path), ino.IN_MOVED_TO | ino.IN_CREATE)
    stop_r, stop_w = os.pipe()

    def run() -> None:
        poller = select.poll()
        poller.register(notifier.fileno(), select.POLLIN)
        poller.register(stop_r, select.POLLIN)
        while True:
            ready = [fd for fd, _ in poller.poll()]
            if stop_r in ready:
                return
            if any(e.name == atomic.DATA_DIR_NAME for e in notifier.read()):
                probe.seen(read_seq(path))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        os.write(stop_w, b"x")
        thread.join(WAIT)
        notifier.close()
        os.close(stop_r)
        os.close(stop_w)

    return stop


def podself_watcher(**options: object) -> Callable[[Path, Probe], Callable[[], None]]:
    def start(path: Path, probe: Probe) -> Callable[[], None]:
        watcher = Watcher(path, probe, **options).start()  # type: ignore[arg-type]
        return lambda: watcher.stop(timeout=WAIT)

    return start


def watchdog_watcher(path: Path, probe: Probe) -> Callable[[], None]:
    # Optional peers (the bench extra): typed when installed, Any when not.
    from watchdog.events import FileSystemEventHandler  # type: ignore[import-not-found,unused-ignore]
    from watchdog.observers import Observer  # type: ignore[import-not-found,unused-ignore]

    class Handler(FileSystemEventHandler):  # type: ignore[misc,unused-ignore]
        def on_any_event(self, event: object) -> None:
            if str(getattr(event, "dest_path", "") or "").endswith(atomic.DATA_DIR_NAME):
                probe.seen(read_seq(path))

    observer = Observer()
    observer.schedule(Handler(), str(path))
    observer.start()

    def stop() -> None:
        observer.stop()
        observer.join(WAIT)

    return stop


def watchfiles_watcher(path: Path, probe: Probe) -> Callable[[], None]:
    import watchfiles  # type: ignore[import-not-found,unused-ignore]

    stop_event = threading.Event()

    def run() -> None:
        for _ in watchfiles.watch(path, stop_event=stop_event, debounce=0):
            probe.seen(read_seq(path))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        stop_event.set()
        thread.join(WAIT)

    return stop


def watchers() -> dict[str, Callable[[Path, Probe], Callable[[], None]]]:
    found: dict[str, Callable[[Path, Probe], Callable[[], None]]] = {
        "raw inotify (floor)": raw_inotify,
        "podself default": podself_watcher(),
        "podself 50 ms / 1 s (old)": podself_watcher(debounce_ms=50, poll_ms=1000),
        "podself polling 100 ms": podself_watcher(force_polling=True, poll_ms=100),
    }
    for name, start in (("watchdog", watchdog_watcher), ("watchfiles", watchfiles_watcher)):
        try:
            __import__(name)
        except ImportError:
            continue
        found[name] = start
    return found


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60, help="timed updates per watcher")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured")
    parser.add_argument("--storm", type=int, default=300, help="back-to-back swaps")
    args = parser.parse_args(argv)
    if not sys.platform.startswith("linux"):
        print("inotify is Linux only: nothing to compare here")
        return 0

    starts = watchers()
    names = list(starts)
    latencies: dict[str, list[float]] = {n: [] for n in names}
    probes = {n: Probe() for n in names}
    with tempfile.TemporaryDirectory(prefix="podself-bench-watch-") as tmp:
        dirs = {n: Path(tmp) / str(i) for i, n in enumerate(names)}
        stops: dict[str, Callable[[], None]] = {}
        threads: dict[str, set[int]] = {}
        for name in names:
            dirs[name].mkdir()
            atomic.write(dirs[name], payload(0))
            before = tasks()
            stops[name] = starts[name](dirs[name], probes[name])
            threads[name] = tasks() - before
        time.sleep(0.2)

        stamp = Stamp()
        for seq in range(1, args.samples + 1):
            order = names[seq % len(names) :] + names[: seq % len(names)]
            for name in order:
                atomic.write(dirs[name], payload(seq), set_perms=stamp)
                arrived = probes[name].wait_seq(seq)
                latencies[name].append((arrived - stamp.last) / 1e6)
            time.sleep(0.005)

        time.sleep(0.5)  # the debounced rows settle
        idle = {name: task_stats(threads[name]) for name in names}
        time.sleep(args.idle)
        for name in names:
            switches, cpu = task_stats(threads[name])
            idle[name] = (switches - idle[name][0], cpu - idle[name][1])

        storms: dict[str, tuple[int, bool, int]] = {}
        for name in names:
            if not name.startswith("podself"):
                continue
            probe = probes[name]
            with probe.cond:
                probe.changes.clear()
            last = args.samples + args.storm
            for seq in range(args.samples + 1, last + 1):
                atomic.write(dirs[name], payload(seq))
            probe.wait_seq(last)
            with probe.cond:
                torn_count = sum(
                    c.files["seq"] != c.files["annotations"].split(b'"')[1] for c in probe.changes
                )
                storms[name] = (len(probe.changes), True, torn_count)
        for stop in stops.values():
            stop()

    floor = statistics.median(latencies[names[0]])
    where = conditions(
        f"..data volume updates, {args.samples} rotating rounds",
        f"idle over {args.idle:g} s",
        "podself default: debounce_ms=None (a ..data swap at once), safety net once a minute",
        "watchdog Observer defaults; watchfiles debounce=0, step 50 ms (its default)",
    )
    print(f"{where}; ratio = p50 / raw inotify p50")
    header = (
        f"{'watcher':<24}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'ratio':>8}"
        f"{'idle wake/min':>15}{'idle CPU ms':>13}{'storm sets':>12}{'torn':>6}"
    )
    print(header)
    for name in names:
        values = latencies[name]
        p50 = statistics.median(values)
        wakes = idle[name][0] * 60 / args.idle
        storm = storms.get(name)
        sets, torn = (str(storm[0]), str(storm[2])) if storm else ("-", "-")
        print(
            f"{name:<24}{p50:>9.3f}{quantile(values, 0.9):>9.3f}{quantile(values, 0.99):>9.3f}"
            f"{p50 / floor:>7.1f}x{wakes:>15.1f}{idle[name][1] / 1e6:>13.2f}{sets:>12}{torn:>6}"
        )
    default = latencies["podself default"]
    peers = [n for n in ("watchdog", "watchfiles") if n in starts]
    headline(
        "label change seen by `watch()`, p50 (default settings, `..data` volume)",
        f"{statistics.median(default):.2f} ms",
        "; ".join(
            [f"raw inotify loop (floor): {floor:.2f} ms"]
            + [f"{n}: {statistics.median(latencies[n]):.2f} ms" for n in peers]
        ),
        f"{statistics.median(default) / floor:.1f}× the floor",
        where,
    )
    wakes = {n: idle[n][0] * 60 / args.idle for n in names}
    headline(
        "idle wake-ups per minute of the watcher's threads",
        f"{wakes['podself default']:.0f}",
        "; ".join(f"{n}: {wakes[n]:.0f}" for n in ("podself polling 100 ms", *peers)),
        "—",
        conditions(f"idle over {args.idle:g} s", "inotify available"),
    )
    missing = [n for n in ("watchdog", "watchfiles") if n not in starts]
    if missing:
        print(f"(not installed, so not compared: {', '.join(missing)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

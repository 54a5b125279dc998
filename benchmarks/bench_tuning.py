"""What resource-aware tuning costs and what it buys, measured side by side in one run.

(a) Start-up: ``podself exec -- true`` against ``true`` run directly (and ``python -c pass``
    for scale), median of N rotating rounds inside a fake pod with limits. The difference
    is what ``podself exec`` adds before the wrapped command starts (target < 50 ms).

(c) Per call: ``podself.cpu_count()`` (cached per process until ``podself.refresh()`` or a
    resize) against ``os.process_cpu_count()`` (``os.cpu_count()`` before Python 3.13), the
    uncached computation, ``len(os.sched_getaffinity(0))`` and psutil/loky where installed.

(b) The "why": a CPU-bound ``ProcessPoolExecutor`` (a pure-Python loop per task) sized by
    ``os.cpu_count()`` against one sized by ``podself.cpu_count()``, both under a CPU quota
    imposed on this machine. As root on cgroup v1 the runs go into a child of the ``cpu``
    controller with ``cpu.cfs_quota_us`` set (a real quota, the kernel throttles); on cgroup
    v2 into a child with ``cpu.max``; otherwise they fall back to ``taskset -c 0`` (affinity,
    one CPU). The load generator sizes its pool inside the quota, then leaves it to the pool's
    worker processes. Each configuration reports saturated throughput and, at 60 % of the quota's
    capacity in an open loop, the p50/p99 latency of a task from its arrival to its result.
    Runs alternate between the two sizings; medians over the rounds are printed.

(d) Correctness: what each peer answers for "how many CPUs may I use" inside a real cgroup
    CPU quota (``--quota``, created as for (b); skipped, saying why, without one), next to
    the quota itself: once as a process in a child cgroup (the host's view) and once as in a
    container, in its own cgroup namespace with the ``cpu`` hierarchy mounted anew (so the
    quota is at the mount's root, where loky looks).

(e) The servers: gunicorn with ``2 x CPUs + 1`` workers (its documented rule, with the CPUs
    the node shows) against gunicorn configured with ``from podself.integrations.gunicorn
    import *``, each in a fresh cgroup with a CPU quota and a memory limit (as root only; the
    groups nest under this process's own). Each worker's app holds ``--app-mb`` of memory, as
    a loaded Python app does. A closed loop of clients reports throughput, p50/p99 latency,
    failed requests, worker restarts, OOM kills, the cgroup's peak memory and throttled
    periods.

(f) Celery prefork with ``--concurrency`` = the node's CPUs (its default) against
    ``podself.integrations.celery.install(app)``, under the same limits, each child loading
    ``--app-mb`` in ``worker_process_init``: children alive, children lost to SIGKILL, OOM
    kills and peak memory once the worker is ready.

``--node-cpus N`` sizes the ``os.cpu_count()`` pool, gunicorn's rule and Celery's default
concurrency as a pod on an N-CPU node would see them (this machine's own count otherwise),
since the harm grows with the node/quota ratio.

Usage: python benchmarks/bench_tuning.py [--runs N] [--rounds R] [--quota CPUS] [--load F]
       [--task-ms MS] [--node-cpus N] [--calls N] [--memory-mb MB] [--app-mb MB]
       [--request-ms MS] [--clients N] [--seconds S] [--gunicorn-rounds R] [--skip-startup]
       [--skip-pool] [--skip-cpu-count] [--skip-correctness] [--skip-gunicorn]
       [--skip-celery]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from _common import child_env, conditions, headline, interleave, rotation, time_call, time_process

from podself.testing import FakePod

HERE = Path(__file__).resolve()
SEED = 20  # arrivals are a Poisson process with a fixed seed, the same for both sizings


# -- (a) start-up -----------------------------------------------------------------------------


def _podself_command() -> list[str]:
    script = Path(sys.executable).with_name("podself")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "podself"]


def bench_startup(runs: int) -> dict[str, float]:
    """Median wall time (ms) of each command over ``runs`` rotating rounds."""
    with tempfile.TemporaryDirectory() as tmp:
        fake = FakePod(tmp, limits={"cpu": "2", "memory": "2Gi"})
        env = child_env(
            {
                **fake.environ,
                "PODSELF_ROOT": str(fake.root),
                "PODSELF_PROC_ROOT": str(fake.proc_root),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            }
        )
        true = shutil.which("true") or "/bin/true"
        commands = {
            "true": [true],
            "python -c pass": [sys.executable, "-c", "pass"],
            "podself exec -- true": [*_podself_command(), "exec", "--", true],
        }
        for argv in commands.values():  # warm the page cache and write bytecode once
            time_process(argv, env)
        times = interleave(
            {name: partial(time_process, argv, env) for name, argv in commands.items()},
            runs,
        )
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def print_startup(result: dict[str, float], runs: int) -> None:
    base = result["true"]
    print(f"(a) podself exec start-up, median of {runs} rotating rounds (fake pod 2 CPU / 2Gi)")
    print(f"    {'command':<24}{'median ms':>11}{'vs true':>10}")
    for name, value in result.items():
        print(f"    {name:<24}{value:>11.1f}{value / base:>9.1f}x")
    overhead = result["podself exec -- true"] - base
    python = result["podself exec -- true"] - result["python -c pass"]
    verdict = "within" if overhead < 50 else "ABOVE"
    print(
        f"    overhead of podself exec: {overhead:.1f} ms ({verdict} the 50 ms target); "
        f"{python:.1f} ms above a bare interpreter start"
    )
    headline(
        "`podself exec` start-up overhead",
        f"{overhead:.1f} ms",
        f"`true` run directly: {base:.1f} ms",
        f"+{overhead:.1f} ms",
        conditions(f"median of {runs} rotating rounds", "bytecode cached"),
    )


# -- (c) per-call cost of cpu_count() ---------------------------------------------------------


def _cpu_count_rows() -> dict[str, Callable[[], object]]:
    """The calls a user would make to size a pool, each a zero-argument callable."""
    import podself
    import podself.tuning

    podself.cpu_count()  # the first call reads the pod; what follows is the steady state
    info = podself.current()
    rows: dict[str, Callable[[], object]] = {
        "os.process_cpu_count()" if hasattr(os, "process_cpu_count") else "os.cpu_count()": (
            getattr(os, "process_cpu_count", os.cpu_count)
        ),
        "podself.cpu_count()": podself.cpu_count,
        # What every call cost before the answer was cached: policy from env, host, arithmetic.
        "uncached (tuning.cpu_count)": lambda: podself.tuning.cpu_count(info),
    }
    if hasattr(os, "sched_getaffinity"):
        rows["len(os.sched_getaffinity(0))"] = lambda: len(os.sched_getaffinity(0))
    with contextlib.suppress(ImportError):
        import psutil  # type: ignore[import-untyped,unused-ignore]

        process = psutil.Process()
        rows["len(psutil.Process().cpu_affinity())"] = lambda: len(process.cpu_affinity())
    with contextlib.suppress(ImportError):
        import loky  # type: ignore[import-untyped,unused-ignore]

        rows["loky.cpu_count()"] = loky.cpu_count
    return rows


def bench_cpu_count(rounds: int, calls: int) -> dict[str, float]:
    """Median µs per call of each row; rows alternate and rotate order every round."""
    rows = _cpu_count_rows()
    times = interleave(
        {name: partial(time_call, call, calls) for name, call in rows.items()}, rounds
    )
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def print_cpu_count(result: dict[str, float], rounds: int, calls: int) -> None:
    base_name = next(iter(result))
    base = result[base_name]
    print(
        f"(c) cost of one call, median of {rounds} rotating rounds of {calls} calls "
        f"(ratio against {base_name})"
    )
    print(f"    {'call':<40}{'µs/call':>10}{'ratio':>9}")
    for name, value in result.items():
        print(f"    {name:<40}{value:>10.3f}{value / base:>8.2f}x")
    ours = result["podself.cpu_count()"]
    headline(
        "`podself.cpu_count()`, one call",
        f"{ours:.3f} µs",
        f"`{base_name}`: {base:.3f} µs",
        f"{ours / base:.3g}×",
        conditions(f"median of {rounds} rotating rounds of {calls:,} calls"),
    )


# -- (b) CPU-bound pool under a quota ---------------------------------------------------------


def work(n: int) -> int:
    """A pure-Python CPU-bound task (holds the GIL, so only processes parallelise it)."""
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def calibrate(target_ms: float) -> int:
    """Loop count whose run takes about ``target_ms`` of CPU here."""
    n = 10_000
    while True:
        start = time.process_time()
        work(n)
        spent = (time.process_time() - start) * 1e3
        if spent > 20:
            return max(1, int(n * target_ms / spent))
        n *= 2


def _own_cgroup(controller: str) -> str:
    """This process's cgroup v1 path for ``controller`` ("/" when unknown): new groups nest
    under it, so the machine's own accounting and limits still cover them."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controller in controllers.split(","):
                return path
    except (OSError, ValueError):
        pass
    return "/"


class Quota:
    """A CPU quota (and optionally a memory limit) for child processes: a real cgroup if
    possible, else CPU affinity (and no memory limit)."""

    def __init__(self, cpus: float, memory_mb: int | None = None) -> None:
        self.cpus = cpus
        self.memory_mb = memory_mb
        self.path: Path | None = None
        self.root: Path | None = None
        self.mount: Path | None = None  # where the cpu hierarchy is mounted
        self.memory: Path | None = None  # the v1 memory group, when separate
        self.kind = "affinity"
        self.detail = "taskset -c 0 (one CPU)"
        self._setup()

    def _setup(self) -> None:
        period = 100_000
        quota = int(self.cpus * period)
        name = f"podself-bench-{os.getpid()}-{time.monotonic_ns()}"
        v1 = Path("/sys/fs/cgroup/cpu")
        v2 = Path("/sys/fs/cgroup")
        limit = self.memory_mb << 20 if self.memory_mb else None
        try:
            if (v1 / "cpu.cfs_quota_us").is_file():
                parent = v1 / _own_cgroup("cpu").lstrip("/")
                path = parent / name
                path.mkdir()
                self.path, self.root, self.mount = path, parent, v1
                (path / "cpu.cfs_period_us").write_text(f"{period}\n")
                (path / "cpu.cfs_quota_us").write_text(f"{quota}\n")
                self.kind = "cgroup v1"
                self.detail = f"{path}: cpu.cfs_quota_us={quota} cpu.cfs_period_us={period}"
                if limit is not None:
                    memory = Path("/sys/fs/cgroup/memory") / _own_cgroup("memory").lstrip("/")
                    self.memory = memory / name
                    self.memory.mkdir()
                    (self.memory / "memory.limit_in_bytes").write_text(f"{limit}\n")
                    with contextlib.suppress(OSError):  # no swap accounting: nothing to cap
                        (self.memory / "memory.memsw.limit_in_bytes").write_text(f"{limit}\n")
                    self.detail += f"; {self.memory}: memory.limit_in_bytes={limit}"
            elif (v2 / "cgroup.controllers").is_file() and "cpu" in (
                v2 / "cgroup.subtree_control"
            ).read_text():
                path = v2 / name
                path.mkdir()
                self.path, self.root, self.mount = path, v2, v2
                (path / "cpu.max").write_text(f"{quota} {period}\n")
                self.kind = "cgroup v2"
                self.detail = f"{path}: cpu.max={quota} {period}"
                if limit is not None:
                    (path / "memory.max").write_text(f"{limit}\n")
                    (path / "memory.swap.max").write_text("0\n")
                    self.detail += f" memory.max={limit}"
        except OSError as exc:
            self.cleanup()
            self.kind = "affinity"
            self.detail = f"taskset -c 0 (one CPU; no cgroup: {exc.strerror or exc})"

    def argv(self, argv: list[str]) -> list[str]:
        if self.path is None:
            return ["taskset", "-c", "0", *argv]
        return argv

    def enter(self) -> None:
        """Run in the child before exec: join the cgroup."""
        for group in (self.path, self.memory):
            if group is not None:
                (group / "cgroup.procs").write_text(f"{os.getpid()}\n")

    def throttled(self) -> tuple[int, float] | None:
        """(periods throttled, ms throttled) so far, from the cgroup's cpu.stat."""
        if self.path is None:
            return None
        stat = dict(
            line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line
        )
        if "throttled_time" in stat:  # v1: nanoseconds
            return int(stat["nr_throttled"]), int(stat["throttled_time"]) / 1e6
        return int(stat["nr_throttled"]), int(stat.get("throttled_usec", 0)) / 1e3

    def memory_stats(self) -> tuple[float, int] | None:
        """(peak MB, OOM kills) of the memory group so far."""
        group = self.memory or self.path
        if group is None or self.memory_mb is None:
            return None
        if self.memory is not None:  # v1
            peak = int((group / "memory.max_usage_in_bytes").read_text())
            events = (group / "memory.oom_control").read_text()
        else:
            peak_file = group / "memory.peak"  # Linux 5.19+
            peak = int(peak_file.read_text()) if peak_file.is_file() else 0
            events = (group / "memory.events").read_text()
        kills = dict(line.split() for line in events.splitlines() if line).get("oom_kill", "0")
        return peak / (1 << 20), int(kills)

    def cleanup(self) -> None:
        for attr in ("path", "memory"):
            group = getattr(self, attr)
            if group is None:
                continue
            for _ in range(50):  # the last pool processes may still be exiting
                try:
                    group.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
            setattr(self, attr, None)


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class _Latency:
    """Done-callback recording the time from a task's arrival to its result."""

    def __init__(self, arrival: float, into: list[float]) -> None:
        self.arrival = arrival
        self.into = into

    def __call__(self, _future: Future[int]) -> None:
        self.into.append(time.perf_counter() - self.arrival)


def pool_child(
    sizing: str, tasks: int, loops: int, rate: float, *, leave: str | None, node_cpus: int | None
) -> dict[str, float]:
    """Inside the quota: size a pool, then measure throughput and open-loop latency."""
    if sizing == "os":
        size = node_cpus or os.cpu_count() or 1
    else:
        import podself

        size = podself.cpu_count()
    with ProcessPoolExecutor(max_workers=size) as pool:
        list(pool.map(work, [1000] * size * 2))  # start every worker process first
        rss_mb = sum(_rss_kib(pid) for pid in pool._processes) / 1024
        if leave:  # the load generator leaves the quota to the pool's worker processes
            Path(leave, "cgroup.procs").write_text(f"{os.getpid()}\n")
        start = time.perf_counter()
        list(pool.map(work, [loops] * tasks))
        throughput = tasks / (time.perf_counter() - start)

        latencies: list[float] = []
        pending: list[Future[int]] = []
        arrivals = random.Random(SEED)
        arrival = time.perf_counter() + 0.05
        for _ in range(tasks):
            arrival += arrivals.expovariate(rate)
            delay = arrival - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            future = pool.submit(work, loops)
            future.add_done_callback(_Latency(arrival, latencies))
            pending.append(future)
        for future in pending:
            future.result()
        while len(latencies) < tasks:  # callbacks run on the pool's manager thread
            time.sleep(0.001)
    ordered = sorted(latencies)
    return {
        "workers": size,
        "rss_mb": rss_mb,
        "throughput": throughput,
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
    }


def bench_pool(
    rounds: int,
    tasks: int,
    quota_cpus: float,
    *,
    task_ms: float,
    load: float,
    node_cpus: int | None = None,
) -> tuple[Quota, dict[str, dict[str, float]]]:
    loops = calibrate(task_ms)
    quota = Quota(quota_cpus)
    capacity = (quota.cpus if quota.path is not None else 1.0) * 1000 / task_ms
    rate = load * capacity
    results: dict[str, list[dict[str, float]]] = {"os": [], "podself": []}
    env = child_env({k: v for k, v in os.environ.items() if not k.startswith("PODSELF_")})
    try:
        for round_ in range(rounds):
            for sizing in rotation(("os", "podself"), round_):
                argv = quota.argv(
                    [
                        sys.executable,
                        str(HERE),
                        "--pool-child",
                        sizing,
                        "--tasks",
                        str(tasks),
                        "--loops",
                        str(loops),
                        "--rate",
                        str(rate),
                        *(["--leave", str(quota.root)] if quota.root else []),
                        *(["--node-cpus", str(node_cpus)] if node_cpus else []),
                    ]
                )
                before = quota.throttled()
                done = subprocess.run(
                    argv,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                    preexec_fn=quota.enter,  # joins the cgroup between fork and exec
                )
                row = json.loads(done.stdout)
                after = quota.throttled()
                if before is not None and after is not None:
                    row["throttled"] = after[0] - before[0]
                    row["throttled_ms"] = after[1] - before[1]
                results[sizing].append(row)
    finally:
        quota.cleanup()
    medians = {
        sizing: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for sizing, runs in results.items()
    }
    return quota, medians


def print_pool(quota: Quota, result: dict[str, dict[str, float]], setup: str) -> None:
    print()
    print(
        f"(b) CPU-bound ProcessPoolExecutor under a CPU quota ({quota.kind}; {quota.detail}); "
        f"this machine: os.cpu_count()={os.cpu_count()}"
    )
    print(f"    {setup}")
    columns = [
        ("workers", "workers", ".0f"),
        ("rss_mb", "pool MB", ".1f"),
        ("throughput", "tasks/s", ".1f"),
        ("p50_ms", "p50 ms", ".1f"),
        ("p99_ms", "p99 ms", ".1f"),
        ("throttled", "throttled", ".0f"),
        ("throttled_ms", "thr. ms", ".0f"),
    ]
    columns = [c for c in columns if c[0] in result["os"]]
    print(f"    {'pool sized by':<22}" + "".join(f"{title:>11}" for _, title, _ in columns))
    names = {"os": "os.cpu_count()", "podself": "podself.cpu_count()"}
    for sizing, row in result.items():
        cells = "".join(f"{row[key]:>11{fmt}}" for key, _, fmt in columns)
        print(f"    {names[sizing]:<22}{cells}")
    ratios = ""
    for key, _, _ in columns:
        base = result["os"][key]
        ratios += f"{result['podself'][key] / base:>10.2f}x" if base else f"{'-':>11}"
    print(f"    {'ratio podself / os':<22}{ratios}")
    if "throttled" in result["os"]:
        print(
            "    throttled = CFS periods in which the cgroup hit its quota (cpu.stat nr_throttled);"
            " thr. ms = time spent throttled"
        )


# -- (d) what each peer answers under a quota -------------------------------------------------

# Run inside the quota; prints {call: answer} (an answer is a number or the error's text).
PEERS = """
import json, os
def answer(call):
    try:
        return call()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
calls = {"os.cpu_count()": os.cpu_count}
if hasattr(os, "process_cpu_count"):
    calls["os.process_cpu_count()"] = os.process_cpu_count
calls["len(os.sched_getaffinity(0))"] = lambda: len(os.sched_getaffinity(0))
try:
    import psutil
    calls["len(psutil.Process().cpu_affinity())"] = lambda: len(psutil.Process().cpu_affinity())
except ImportError:
    pass
try:
    import loky
    calls["loky.cpu_count()"] = loky.cpu_count
except ImportError:
    pass
import podself
calls["podself.cpu_count()"] = podself.cpu_count
print(json.dumps({name: answer(call) for name, call in calls.items()}))
"""


def _answers(quota: Quota, container: bool, env: dict[str, str]) -> dict[str, object] | str:
    """Each peer's answer inside ``quota``, or why it could not be asked."""
    argv = [sys.executable, "-c", PEERS]
    if container:
        assert quota.mount is not None
        fstype = "-t cgroup -o cpu" if quota.kind == "cgroup v1" else "-t cgroup2"
        remount = f'umount {quota.mount} && mount {fstype} cgroup {quota.mount} && exec "$@"'
        argv = ["unshare", "--cgroup", "--mount", "--propagation", "private"]
        argv += ["sh", "-c", remount, "sh", sys.executable, "-c", PEERS]
    try:
        done = subprocess.run(
            argv,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=quota.enter,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not run: {exc}"
    if done.returncode != 0:
        return f"exit status {done.returncode}: {done.stderr.strip()[-200:]}"
    answers: dict[str, object] = json.loads(done.stdout)
    return answers


def correctness(quota_cpus: float) -> None:
    """Print what each peer answers inside a real CPU quota, beside the quota."""
    print()
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        print("(d) CPU count under a quota: skipped (needs root on Linux to create a cgroup)")
        return
    quota = Quota(quota_cpus)
    try:
        if quota.path is None:
            print(f"(d) CPU count under a quota: skipped (no cgroup: {quota.detail})")
            return
        env = child_env({k: v for k, v in os.environ.items() if not k.startswith("PODSELF_")})
        views = {
            "child cgroup": _answers(quota, False, env),
            "as in a container": _answers(quota, True, env),
        }
    finally:
        quota.cleanup()
    truth = max(1, math.ceil(quota_cpus))
    print(
        f"(d) CPU count inside a {quota_cpus:g}-CPU quota ({quota.kind}; {quota.detail}); "
        f"truth: {truth}; this machine has {os.cpu_count()} CPUs"
    )
    names: list[str] = []
    for answers in views.values():
        if isinstance(answers, dict):
            names += [name for name in answers if name not in names]
    print(f"    {'call':<40}" + "".join(f"{view:>20}" for view in views))
    for name in names:
        cells = ""
        for answers in views.values():
            value = answers.get(name, "-") if isinstance(answers, dict) else "-"
            mark = "" if value == truth else " (wrong)" if isinstance(value, int) else ""
            cells += f"{str(value) + mark:>20}"
        print(f"    {name:<40}{cells}")
    for view, answers in views.items():
        if isinstance(answers, str):
            print(f"    {view}: {answers}")
    container = views["as in a container"]
    if isinstance(container, dict):
        peers = ", ".join(
            f"{name} {value}" for name, value in container.items() if name != "podself.cpu_count()"
        )
        wrong = sum(
            value != truth for name, value in container.items() if name != "podself.cpu_count()"
        )
        headline(
            f"CPU count inside a {quota_cpus:g}-CPU cgroup quota (truth: {truth})",
            str(container.get("podself.cpu_count()")),
            peers,
            f"{wrong} of {len(container) - 1} peers wrong",
            conditions(f"{quota.kind} cpu quota, container view (own cgroup namespace)"),
        )


# -- (e) gunicorn under a CPU quota and a memory limit -----------------------------------------

# A WSGI app whose workers each hold what a loaded Python app holds (the gunicorn and Celery
# OOM reports: 100-170 MiB) and spend a few ms of CPU per request.
GUNICORN_APP = """
import os

HELD = b"\\x01" * (int(os.environ["BENCH_APP_MB"]) << 20)  # written, so resident
LOOPS = int(os.environ["BENCH_LOOPS"])


def app(environ, start_response):
    total = 0
    for i in range(LOOPS):
        total += i * i % 7
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
"""


def _children(pid: int) -> list[int]:
    """Live (not zombie) children of ``pid``: a gunicorn arbiter's workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            if int(stat[1]) == pid and stat[0] != "Z":
                found.append(int(entry.name))
    return found


def _get(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status == 200
    except (OSError, http.client.HTTPException):  # refused, reset, cut off mid-response
        return False
    finally:
        conn.close()


def _load(port: int, clients: int, seconds: float) -> tuple[list[float], int]:
    """``clients`` threads in a closed loop for ``seconds``: latencies of the successful
    requests and the number of failed ones (refused, reset, 5xx: a worker killed mid-request)."""
    import threading

    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    end = time.perf_counter() + seconds

    def client() -> None:
        while (start := time.perf_counter()) < end:
            ok = _get(port)
            spent = time.perf_counter() - start
            with lock:
                if ok:
                    latencies.append(spent)
                else:
                    errors[0] += 1
            if not ok:
                time.sleep(0.01)  # a refused connection returns at once: do not spin

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors[0]


def gunicorn_run(
    sizing: str,
    *,
    quota_cpus: float,
    memory_mb: int,
    app_mb: int,
    loops: int,
    node_cpus: int,
    clients: int,
    seconds: float,
) -> dict[str, float]:
    """One gunicorn in a fresh cgroup: boot, warm up, then ``seconds`` of load."""
    quota = Quota(quota_cpus, memory_mb)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.py").write_text(GUNICORN_APP)
        conf = Path(tmp, "gunicorn.conf.py")
        if sizing == "podself":
            conf.write_text("from podself.integrations.gunicorn import *\n")
            workers_args: list[str] = []
        else:  # gunicorn's documented rule, with the CPUs the node shows
            conf.write_text("")
            workers_args = ["--workers", str(2 * node_cpus + 1)]
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PODSELF_")
            and k not in ("WEB_CONCURRENCY", "PYTHONDONTWRITEBYTECODE")
        }
        env.update(BENCH_APP_MB=str(app_mb), BENCH_LOOPS=str(loops))
        log_path = Path(tmp, "gunicorn.log")
        argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), "--chdir", tmp]
        argv += ["--bind", "127.0.0.1:0", *workers_args, "app:app"]
        with log_path.open("w") as log:
            # No other thread runs yet: joining the cgroup between fork and exec is safe.
            proc = subprocess.Popen(
                quota.argv(argv),
                env=env,
                stderr=log,
                preexec_fn=quota.enter,  # noqa: PLW1509
            )
        try:
            deadline = time.monotonic() + 60
            port = 0
            while not port:
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_text())
                if found:
                    port = int(found[1])
                elif time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("gunicorn did not start:\n" + log_path.read_text())
                else:
                    time.sleep(0.05)
            while not _get(port):
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn never answered:\n" + log_path.read_text())
            _load(port, clients, 2.0)  # every worker booted and warm
            workers = 2 * node_cpus + 1 if workers_args else len(_children(proc.pid))
            before = quota.throttled()
            booted = log_path.read_text().count("Booting worker")
            latencies, errors = _load(port, clients, seconds)
            after = quota.throttled()
            restarts = log_path.read_text().count("Booting worker") - booted
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        memory = quota.memory_stats()
        quota.cleanup()
    ordered = sorted(latencies) or [float("nan")]
    row: dict[str, float] = {
        "workers": workers,
        "throughput": len(latencies) / seconds,
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
        "errors": errors,
        "restarts": restarts,
    }
    if before is not None and after is not None:
        row["throttled"] = after[0] - before[0]
    if memory is not None:
        row["peak_mb"], row["oom_kills"] = memory
    return row


# A Celery app whose prefork children each load what a task needs (a model, a cache): memory
# allocated in the child, so not shared with the parent copy-on-write.
CELERY_APP = """
import os

from celery import Celery
from celery.signals import worker_process_init

app = Celery("tasks", broker="memory://")
if os.environ.get("BENCH_PODSELF"):
    import podself.integrations.celery

    podself.integrations.celery.install(app)
HELD = []


@worker_process_init.connect
def load(**_):
    HELD.append(b"\\x01" * (int(os.environ["BENCH_APP_MB"]) << 20))
"""


def celery_run(
    sizing: str, *, quota_cpus: float, memory_mb: int, app_mb: int, node_cpus: int, seconds: float
) -> dict[str, float]:
    """One Celery prefork worker in a fresh cgroup, watched for ``seconds`` once ready."""
    quota = Quota(quota_cpus, memory_mb)
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tasks.py").write_text(CELERY_APP)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PODSELF_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        env["BENCH_APP_MB"] = str(app_mb)
        argv = [sys.executable, "-m", "celery", "-A", "tasks", "worker", "-l", "INFO"]
        if sizing == "podself":
            env["BENCH_PODSELF"] = "1"
        else:  # Celery's default: one child per CPU the node shows
            argv += ["--concurrency", str(node_cpus)]
        log_path = Path(tmp, "celery.log")
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                quota.argv(argv),
                cwd=tmp,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=quota.enter,  # noqa: PLW1509
            )
        try:
            deadline = time.monotonic() + 60
            while " ready." not in log_path.read_text():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("celery did not start:\n" + log_path.read_text())
                time.sleep(0.05)
            time.sleep(seconds)
            children = len(_children(proc.pid))
            text = log_path.read_text()
        finally:
            os.killpg(proc.pid, 9)  # its warm shutdown polls for seconds; nothing to keep
            proc.wait()
        memory = quota.memory_stats()
        quota.cleanup()
    found = re.search(r"concurrency: (\d+)", text)
    row: dict[str, float] = {
        "workers": int(found[1]) if found else float("nan"),
        "alive": children,
        "lost": text.count("exited with 'signal 9 (SIGKILL)'"),
    }
    if memory is not None:
        row["peak_mb"], row["oom_kills"] = memory
    return row


def bench_celery(rounds: int, **options: Any) -> dict[str, dict[str, float]]:
    """Median of each Celery column over ``rounds``, the sizings alternating."""
    names = ["os", "podself"]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(rounds):
        for sizing in names[r % 2 :] + names[: r % 2]:
            results[sizing].append(celery_run(sizing, **options))
    return {
        sizing: {key: statistics.median(row[key] for row in runs) for key in runs[0]}
        for sizing, runs in results.items()
    }


def print_celery(result: dict[str, dict[str, float]], setup: str, rule: str) -> None:
    print()
    print("(f) Celery prefork under the same limits, sized by the node's CPUs or by podself")
    print(f"    {setup}")
    columns = [
        ("workers", "children", ".0f"),
        ("alive", "alive", ".0f"),
        ("lost", "lost", ".0f"),
        ("oom_kills", "OOM kills", ".0f"),
        ("peak_mb", "peak MB", ".0f"),
    ]
    columns = [c for c in columns if c[0] in result["os"]]
    print(f"    {'concurrency from':<26}" + "".join(f"{title:>10}" for _, title, _ in columns))
    names = {"os": rule, "podself": "podself install(app)"}
    for sizing, row in result.items():
        cells = "".join(f"{row[key]:>10{fmt}}" for key, _, fmt in columns)
        print(f"    {names[sizing]:<26}{cells}")
    print(
        "    children = the worker's concurrency; alive = pool processes at the end; lost = "
        "children the pool reports killed by SIGKILL (the OOM killer); OOM kills and peak MB "
        "= the memory cgroup's"
    )


def bench_gunicorn(rounds: int, **options: Any) -> dict[str, dict[str, float]]:
    """Median of each gunicorn column over ``rounds``; the two sizings alternate and swap
    order every round."""
    names = ["os", "podself"]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for r in range(rounds):
        for sizing in names[r % 2 :] + names[: r % 2]:
            results[sizing].append(gunicorn_run(sizing, **options))
    return {
        sizing: {key: statistics.median(row[key] for row in runs) for key in runs[0]}
        for sizing, runs in results.items()
    }


def print_gunicorn(result: dict[str, dict[str, float]], setup: str, rule: str) -> None:
    print()
    print(
        "(e) gunicorn under a CPU quota and a memory limit, sized by the node's CPUs or by podself"
    )
    print(f"    {setup}")
    columns = [
        ("workers", "workers", ".0f"),
        ("throughput", "req/s", ".1f"),
        ("p50_ms", "p50 ms", ".1f"),
        ("p99_ms", "p99 ms", ".1f"),
        ("errors", "errors", ".0f"),
        ("restarts", "restarts", ".0f"),
        ("oom_kills", "OOM kills", ".0f"),
        ("peak_mb", "peak MB", ".0f"),
        ("throttled", "throttled", ".0f"),
    ]
    columns = [c for c in columns if c[0] in result["os"]]
    print(f"    {'workers from':<26}" + "".join(f"{title:>10}" for _, title, _ in columns))
    names = {"os": rule, "podself": "podself plan (star import)"}
    for sizing, row in result.items():
        cells = "".join(f"{row[key]:>10{fmt}}" for key, _, fmt in columns)
        print(f"    {names[sizing]:<26}{cells}")
    ratios = ""
    for key, _, _ in columns:
        base = result["os"][key]
        ratios += f"{result['podself'][key] / base:>9.2f}x" if base else f"{'-':>10}"
    print(f"    {'ratio podself / os':<26}{ratios}")
    print(
        "    errors = requests refused or cut off (a worker killed mid-request); restarts = "
        "workers gunicorn booted again during the load; OOM kills and peak MB = the memory "
        "cgroup's over the whole run; throttled = CFS periods at the quota during the load"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="start-up runs per command")
    parser.add_argument("--rounds", type=int, default=5, help="pool rounds per sizing")
    parser.add_argument("--tasks", type=int, default=200, help="tasks per pool measurement")
    parser.add_argument("--quota", type=float, default=1.0, help="CPU quota in CPUs")
    parser.add_argument("--task-ms", type=float, default=20.0, help="CPU time of one task")
    parser.add_argument(
        "--load", type=float, default=0.6, help="arrival rate as a share of the quota's capacity"
    )
    parser.add_argument(
        "--node-cpus",
        type=int,
        help="size the os.cpu_count() pool as on a node with this many CPUs (what a pod on a "
        "big node sees) instead of this machine's count",
    )
    parser.add_argument(
        "--memory-mb", type=int, default=512, help="memory limit of each gunicorn run, in MiB"
    )
    parser.add_argument(
        "--app-mb", type=int, default=120, help="memory each gunicorn worker's app holds, in MiB"
    )
    parser.add_argument("--request-ms", type=float, default=5.0, help="CPU time of one request")
    parser.add_argument("--clients", type=int, default=8, help="concurrent gunicorn clients")
    parser.add_argument("--seconds", type=float, default=8.0, help="load per gunicorn run")
    parser.add_argument("--gunicorn-rounds", type=int, default=3, help="gunicorn rounds per sizing")
    parser.add_argument("--skip-gunicorn", action="store_true")
    parser.add_argument("--skip-celery", action="store_true")
    parser.add_argument("--skip-startup", action="store_true")
    parser.add_argument("--skip-pool", action="store_true")
    parser.add_argument("--skip-cpu-count", action="store_true")
    parser.add_argument("--skip-correctness", action="store_true")
    parser.add_argument("--calls", type=int, default=20_000, help="cpu_count() calls per round")
    parser.add_argument("--pool-child", choices=("os", "podself"), help=argparse.SUPPRESS)
    parser.add_argument("--loops", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--leave", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pool_child:
        row = pool_child(
            args.pool_child,
            args.tasks,
            args.loops,
            args.rate,
            leave=args.leave,
            node_cpus=args.node_cpus,
        )
        print(json.dumps(row))
        return 0
    print(f"host: {conditions()}")
    if not args.skip_startup:
        print_startup(bench_startup(args.runs), args.runs)
    if not args.skip_cpu_count:
        print_cpu_count(bench_cpu_count(args.rounds, args.calls), args.rounds, args.calls)
    if not args.skip_correctness:
        correctness(args.quota)
    if not args.skip_pool:
        load_before = os.getloadavg()[0]
        quota, result = bench_pool(
            args.rounds,
            args.tasks,
            args.quota,
            task_ms=args.task_ms,
            load=args.load,
            node_cpus=args.node_cpus,
        )
        setup = (
            f"{args.tasks} tasks of ~{args.task_ms:g} ms CPU; latency = Poisson arrival to result "
            f"at {args.load:.0%} of the quota's capacity; median of {args.rounds} rotating "
            "rounds"
        )
        if args.node_cpus:
            setup += f"; the os.cpu_count() pool is sized as on a {args.node_cpus}-CPU node"
        setup += (
            f"\n    machine load average before/after: {load_before:.2f} / "
            f"{os.getloadavg()[0]:.2f} (other processes compete for the same CPUs)"
        )
        print_pool(quota, result, setup)
    if not args.skip_gunicorn:
        node = args.node_cpus or os.cpu_count() or 1
        if os.geteuid() != 0:
            print("\n(e) gunicorn under a memory limit: skipped (creating a cgroup needs root)")
            return 0
        load_before = os.getloadavg()[0]
        gunicorn = bench_gunicorn(
            args.gunicorn_rounds,
            quota_cpus=args.quota,
            memory_mb=args.memory_mb,
            app_mb=args.app_mb,
            loops=calibrate(args.request_ms),
            node_cpus=node,
            clients=args.clients,
            seconds=args.seconds,
        )
        setup = (
            f"limits: {args.quota:g} CPU, {args.memory_mb} MiB; each worker's app holds "
            f"{args.app_mb} MiB and a request costs ~{args.request_ms:g} ms CPU; {args.clients} "
            f"clients in a closed loop for {args.seconds:g} s after a warm-up; median of "
            f"{args.gunicorn_rounds} alternating rounds, a fresh cgroup per run"
            f"\n    machine load average before/after: {load_before:.2f} / "
            f"{os.getloadavg()[0]:.2f}"
        )
        print_gunicorn(gunicorn, setup, f"2 x {node} CPUs + 1 (docs)")
    if not args.skip_celery and os.geteuid() == 0:
        node = args.node_cpus or os.cpu_count() or 1
        celery = bench_celery(
            args.gunicorn_rounds,
            quota_cpus=args.quota,
            memory_mb=args.memory_mb,
            app_mb=args.app_mb,
            node_cpus=node,
            seconds=args.seconds,
        )
        setup = (
            f"limits: {args.quota:g} CPU, {args.memory_mb} MiB; each prefork child loads "
            f"{args.app_mb} MiB (worker_process_init); watched for {args.seconds:g} s once "
            f"ready; median of {args.gunicorn_rounds} alternating rounds"
        )
        print_celery(celery, setup, f"{node} CPUs (Celery default)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How fast ``podself run`` starts a container and projects a label change, beside baselines.

Rows (each measured in this one invocation, median of N rounds; in each round every row of a
table runs once, in an order rotated from round to round; bytecode cached):

1. start-up: from spawning a command to the first instruction of the container (a
   ``date +%s%N`` it runs), for a bare ``sh -c`` and for ``podself run`` (CLI, with and
   without a mount namespace) and the in-process emulator (no interpreter start-up);
2. CPU of one pod start: user + system CPU of ``podself run -f pod.yaml --timeout 0`` (a pod
   whose container is ``true``) against ``python -c pass``, bytecode cached, the two
   alternating in each round;
3. label propagation with ``--sync-delay 0``: from ``podself label`` (CLI) or a direct
   ``pod.json`` edit to the new labels file in the pod's Downward API volume, beside a
   bare ``sh -c true`` and one direct ``atomic.write`` of the same payload.

Usage: python benchmarks/bench_emulator.py [--runs N] [--markdown]
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from _common import child_env, conditions, headline, interleave

from podself import atomic
from podself.emulator.kubelet import Kubelet, RunOptions
from podself.emulator.mounts import namespace_support
from podself.emulator.state import PodState

STAMP = "date +%s%N"


def pod_manifest(name: str, command: str, *, podinfo: bool = False) -> dict[str, Any]:
    """A one-container pod (JSON is valid YAML)."""
    container: dict[str, Any] = {
        "name": "app",
        "image": "busybox",
        "command": ["sh", "-c", command],
    }
    spec: dict[str, Any] = {"containers": [container], "automountServiceAccountToken": False}
    if podinfo:
        container["volumeMounts"] = [{"name": "podinfo", "mountPath": "/etc/podinfo"}]
        spec["volumes"] = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
                },
            }
        ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"round": "0"}},
        "spec": spec,
    }


def first_stamp(output: str) -> int:
    """The nanosecond timestamp printed by the container (prefix allowed)."""
    for token in output.split():
        if token.isdigit() and len(token) >= 18:
            return int(token)
    msg = f"no timestamp in {output!r}"
    raise RuntimeError(msg)


def median_ms(samples: list[float]) -> float:
    """Median in milliseconds."""
    return statistics.median(samples) * 1000


def time_start(argv: list[str]) -> float:
    """Seconds from spawning ``argv`` to the timestamp its container prints."""
    start = time.time_ns()
    out = subprocess.run(argv, capture_output=True, text=True, check=False, env=child_env())
    return (first_stamp(out.stdout) - start) / 1e9


def time_in_process(manifest: str, state: str, no_namespace: bool) -> float:
    """Seconds from ``Kubelet(...).run()`` to the container's first instruction."""
    out = io.BytesIO()
    options = RunOptions(
        files=[manifest], state_dir=state, prefix="always", no_namespace=no_namespace
    )
    start = time.time_ns()
    Kubelet(options, out=out, err=io.StringIO()).run()
    return (first_stamp(out.getvalue().decode()) - start) / 1e9


def time_simple(action: Callable[[], object]) -> float:
    """Seconds of one call of ``action``."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: bench-cpu
spec:
  automountServiceAccountToken: false
  containers:
  - name: app
    image: busybox
    command: ["true"]
"""


def start_cpu(tmp: Path, runs: int) -> dict[str, list[float]]:
    """CPU seconds (user + system, the process and its children) of ``python -c pass`` and of
    ``podself run`` starting a pod that runs ``true``; bytecode caching on, as after install."""
    manifest = tmp / "cpu.yaml"
    manifest.write_text(POD_YAML)
    env = child_env(PYTHONPYCACHEPREFIX=str(tmp / "pycache"))
    cases = {
        "bare": [sys.executable, "-c", "pass"],
        "run": [
            *(sys.executable, "-m", "podself", "run", "-f", str(manifest), "--timeout", "0"),
            *("--state-dir", str(tmp / "state-cpu")),
        ],
    }
    for argv in cases.values():  # cache bytecode
        subprocess.run(argv, env=env, capture_output=True, check=True)

    def cpu(argv: list[str]) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)  # microseconds, not ticks
        subprocess.run(argv, env=env, capture_output=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    return interleave({name: partial(cpu, argv) for name, argv in cases.items()}, runs)


def wait_for(path: Path, text: str, limit: float = 10.0) -> None:
    """Spin until ``path`` holds ``text``."""
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        try:
            if path.read_text() == text:
                return
        except OSError:
            pass
        time.sleep(0.0002)
    msg = f"{path} never became {text!r}"
    raise RuntimeError(msg)


def propagation(tmp: Path, runs: int) -> dict[str, list[float]]:
    """Label-change propagation through a running ``podself run --sync-delay 0``."""
    state_dir = tmp / "state-live"
    manifest = tmp / "live.json"
    manifest.write_text(json.dumps(pod_manifest("bench-live", "sleep 3600", podinfo=True)))
    env = child_env()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podself",
            "run",
            "-f",
            str(manifest),
            "--sync-delay",
            "0",
            "--grace",
            "1",
            "--no-namespace",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    state = PodState(str(state_dir), "default", "bench-live")
    labels = Path(state.volumes_dir) / "podinfo" / "labels"
    counter = iter(range(1, 10**9))
    target = tmp / "atomic"
    target.mkdir()

    def cli() -> float:
        value = str(next(counter))
        start = time.perf_counter()
        subprocess.run(
            [
                *(sys.executable, "-m", "podself", "label", "bench-live", f"round={value}"),
                *("--overwrite", "--state-dir", str(state_dir)),
            ],
            capture_output=True,
            check=True,
            env=env,
        )
        wait_for(labels, f'round="{value}"')
        return time.perf_counter() - start

    def direct() -> float:
        value = f"d{next(counter)}"

        def edit(pod: dict[str, Any]) -> None:
            pod["metadata"]["labels"]["round"] = value

        start = time.perf_counter()
        state.update_pod(edit)
        wait_for(labels, f'round="{value}"')
        return time.perf_counter() - start

    try:
        wait_for(labels, 'round="0"')
        return interleave(
            {
                "spawn": lambda: time_simple(
                    lambda: subprocess.run(["sh", "-c", "true"], check=True)
                ),
                "atomic": lambda: time_simple(
                    lambda: atomic.write(target, {"labels": f'round="{next(counter)}"'})
                ),
                "direct": direct,
                "cli": cli,
            },
            runs,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def main() -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args()
    runs = max(3, args.runs)
    tmp = Path(tempfile.mkdtemp(prefix="podself-bench-"))
    try:
        manifest = tmp / "pod.json"
        manifest.write_text(json.dumps(pod_manifest("bench-start", STAMP, podinfo=True)))
        state = str(tmp / "state")
        podself = [
            sys.executable,
            "-m",
            "podself",
            "run",
            "-f",
            str(manifest),
            "--state-dir",
            state,
        ]
        reason = namespace_support()
        python = [sys.executable, "-c", "pass"]
        starts: dict[str, Callable[[], float]] = {
            "bare sh -c (baseline)": lambda: time_start(["sh", "-c", STAMP]),
            "python -c pass (interpreter alone)": lambda: time_simple(
                lambda: subprocess.run(python, check=True, env=child_env())
            ),
        }
        if reason is None:
            starts["podself run (CLI, mount namespace)"] = lambda: time_start(podself)
        starts["podself run --no-namespace (CLI)"] = lambda: time_start(
            [*podself, "--no-namespace"]
        )
        if reason is None:
            starts["emulator in-process (mount namespace)"] = lambda: time_in_process(
                str(manifest), state, False
            )
        starts["emulator in-process (--no-namespace)"] = lambda: time_in_process(
            str(manifest), state, True
        )
        for start in starts.values():  # write bytecode, warm the page cache
            start()
        rows = [(name, median_ms(values)) for name, values in interleave(starts, runs).items()]
        bare = rows[0][1]
        cpu = start_cpu(tmp, runs)
        cpu_rows = [
            ("python -c pass (floor)", median_ms(cpu["bare"])),
            ("podself run -f pod.yaml --timeout 0 (true)", median_ms(cpu["run"])),
        ]
        prop = propagation(tmp, runs)
        spawn = median_ms(prop["spawn"])
        prop_rows = [
            ("bare sh -c true (baseline)", spawn),
            ("atomic.write of the labels file", median_ms(prop["atomic"])),
            ("pod.json edit -> volume (sync delay 0)", median_ms(prop["direct"])),
            ("podself label CLI -> volume (sync delay 0)", median_ms(prop["cli"])),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table("Start-up: spawn -> first container instruction", rows, bare, args.markdown)
    if reason is not None:
        print(f"(mount namespace rows skipped: {reason})")
    print()
    print_table("CPU of one pod start (user + system)", cpu_rows, cpu_rows[0][1], args.markdown)
    ratio = cpu_rows[1][1] / cpu_rows[0][1]
    print(f"target: one pod start <= 10x python -c pass: {ratio:.1f}x")
    print()
    print_table("Label change -> Downward API volume", prop_rows, spawn, args.markdown)
    where = conditions(f"median of {runs} rotating rounds", "bytecode cached")
    print(f"\n{where}")
    headline(
        "CPU of one emulated pod start (`podself run`, container `true`)",
        f"{cpu_rows[1][1]:.0f} ms",
        f"`python -c pass`: {cpu_rows[0][1]:.0f} ms",
        f"{ratio:.1f}×",
        f"user + system CPU; {where}",
    )
    return 0


def print_table(title: str, rows: list[tuple[str, float]], base: float, markdown: bool) -> None:
    """Print ``rows`` with their ratio to ``base``."""
    if markdown:
        print(f"**{title}**\n\n| case | median ms | vs baseline |\n|---|---:|---:|")
        for name, value in rows:
            print(f"| {name} | {value:.2f} | {value / base:.1f}x |")
        return
    print(title)
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value:8.2f} ms  {value / base:6.1f}x")


if __name__ == "__main__":
    sys.exit(main())

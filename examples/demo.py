"""``make demo``: the seed article's five exercises, then the self-aware app as a pod, all on the
local pod emulator (``podself run``): no cluster, no image, about half a minute.

Exit status 0 when every step did what it should; 1 with a message saying which step failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DemoError", "main"]

ROOT = Path(__file__).resolve().parents[1]
SEED_SCRIPT = ROOT / "examples" / "seed" / "demo.sh"
APP_DIR = ROOT / "examples" / "app"
DEPLOYMENT = APP_DIR / "k8s" / "deployment.yaml"
STATEFULSET = APP_DIR / "k8s" / "statefulset.yaml"
SYNC_DELAY = "0.5"  # seconds before a label change reaches the volume (a kubelet: up to ~90)
WAIT = 20.0  # seconds any one step may take before the demo gives up


class DemoError(Exception):
    """A step that did not do what it should; the message says which and why."""


# -- output -------------------------------------------------------------------------------------


def heading(text: str) -> None:
    """A part of the demo."""
    bar = "=" * 78
    print(f"\n{bar}\n  {text}\n{bar}", flush=True)


def step(text: str) -> None:
    """One step inside a part."""
    print(f"\n--- {text}", flush=True)


def show(argv: Sequence[str]) -> None:
    """The command about to run, as a user would type it."""
    words = ["podself", *argv[3:]] if argv[1:3] == ["-m", "podself"] else list(argv)
    print("$ " + " ".join(words), flush=True)


def row(name: str, value: object) -> None:
    """One line of a summary table."""
    print(f"  {name:<13} {value}", flush=True)


# -- processes ----------------------------------------------------------------------------------


def podself(*args: str) -> list[str]:
    """The command line of the podself CLI with this interpreter."""
    return [sys.executable, "-m", "podself", *args]


def run(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    """Run a command to completion, show it and its output; fail the demo if it fails."""
    show(argv)
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=WAIT, check=False
    )
    output = (result.stdout + result.stderr).rstrip("\n")
    if output:
        print(output, flush=True)
    if result.returncode != 0:
        msg = f"{' '.join(argv[2:4])}… exited with status {result.returncode}"
        raise DemoError(msg)
    return result.stdout


class Pod:
    """``podself run`` in the background, its output shown (indented) and kept for matching."""

    def __init__(self, argv: list[str], *, env: dict[str, str], cwd: Path) -> None:
        show(argv)
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, name="pod-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            print("  │ " + line.rstrip("\n"), flush=True)
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for_line(self, what: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first JSON log line ``match`` accepts (seen before or within ``WAIT``)."""
        deadline = time.monotonic() + WAIT
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    record = _json_line(line)
                    if record is not None and match(record):
                        return record
                seen = len(self.lines)
                if self.proc.poll() is not None and not self._reader.is_alive():
                    msg = f"the pod exited (status {self.proc.returncode}) before {what}"
                    raise DemoError(msg)
                left = deadline - time.monotonic()
                if left <= 0:
                    msg = f"no log line showing {what} within {WAIT:.0f} s"
                    raise DemoError(msg)
                self._changed.wait(min(left, 0.2))

    def stop(self) -> int:
        """SIGTERM, as kubelet and Ctrl-C send it; the exit status of ``podself run``."""
        if self.proc.poll() is None:
            print(f"$ kill -TERM {self.proc.pid}    # podself run", flush=True)
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            msg = f"podself run did not stop within {WAIT:.0f} s of SIGTERM"
            raise DemoError(msg) from None
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """Stop it whatever state it is in (on the way out of a failed demo)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _json_line(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def free_port() -> int:
    """A TCP port nobody listens on now (the app binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str, pod: Pod | None = None) -> dict[str, Any]:
    """GET a JSON document from the app; retried until it answers (start-up) or ``WAIT``."""
    url = f"http://127.0.0.1:{port}{path}"
    deadline = time.monotonic() + WAIT
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except (urllib.error.URLError, ConnectionError) as exc:
            if pod is not None and pod.proc.poll() is not None:
                msg = f"the pod exited (status {pod.proc.returncode}) before {url} answered"
                raise DemoError(msg) from None
            if time.monotonic() > deadline:
                msg = f"{url} did not answer within {WAIT:.0f} s: {exc}"
                raise DemoError(msg) from None
            time.sleep(0.1)


def container_env(workdir: Path, port: int) -> dict[str, str]:
    """The environment ``podself run --host-env`` hands the container: ``python`` and
    ``podself`` on PATH are this interpreter, ``APP_PORT`` is the port picked for the demo."""
    bin_dir = workdir / "bin"
    bin_dir.mkdir(exist_ok=True)
    # Scripts, not symlinks: a venv's interpreter finds its packages only through its own path.
    for name, args in (("python", ""), ("podself", " -m podself")):
        launcher = bin_dir / name
        launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n', encoding="utf-8")
        launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        "HOME": os.environ.get("HOME", "/"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "APP_PORT": str(port),
    }


# -- the parts ----------------------------------------------------------------------------------


def seed_exercises() -> None:
    """Part 1: the emulator's own script runs the article's manifests verbatim."""
    heading("Part 1 of 3 · The seed article's five exercises (examples/seed/demo.sh)")
    if not SEED_SCRIPT.is_file():
        msg = f"{SEED_SCRIPT.relative_to(ROOT)} is missing"
        raise DemoError(msg)
    sh = shutil.which("sh")
    if sh is None:
        msg = "no sh on PATH: the seed's busybox commands need a POSIX shell"
        raise DemoError(msg)
    show(["sh", str(SEED_SCRIPT.relative_to(ROOT))])
    # Its own session, so whatever it leaves running can be found and stopped afterwards.
    script = subprocess.Popen(
        [sh, str(SEED_SCRIPT)],
        cwd=ROOT,
        env={**os.environ, "PYTHON": sys.executable},
        start_new_session=True,
    )
    try:
        code = script.wait(timeout=120)
    except subprocess.TimeoutExpired:
        code = None
    leftovers = stop_group(script.pid)
    if code is None:
        msg = "examples/seed/demo.sh did not finish within 120 s"
        raise DemoError(msg)
    if leftovers:
        print(
            "\n(note: examples/seed/demo.sh left processes running; the demo stopped them)",
            flush=True,
        )
    if code != 0:
        msg = f"examples/seed/demo.sh exited with status {code}"
        raise DemoError(msg)


def stop_group(pgid: int) -> bool:
    """SIGTERM what is left of process group ``pgid`` (SIGKILL after ``WAIT``); True if any."""

    def alive() -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    if not alive():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + WAIT
    while alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive():
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
    return True


def app_as_deployment(state: Path) -> None:
    """Part 2: the app's Deployment under ``podself run``: /info, two label flips, SIGTERM."""
    heading("Part 2 of 3 · The self-aware app as a pod (examples/app/k8s/deployment.yaml)")
    step("Every example manifest passes podself lint (errors, warnings and info)")
    run(podself("lint", "--fail-on", "info", "examples/app/k8s/"))

    port = free_port()
    step(f"Run the Deployment's pod on this machine; the app listens on port {port}")
    print(
        "  (the container's command is podself exec -- python -m app --threads {threads};\n"
        f"   APP_PORT={port} comes from the environment, --sync-delay {SYNC_DELAY} s stands "
        "in for the kubelet's sync)",
        flush=True,
    )
    env = container_env(state, port)
    print("$ cd examples/app", flush=True)
    pod = Pod(
        podself(
            "run",
            "-f",
            str(DEPLOYMENT.relative_to(APP_DIR)),
            "--host-env",
            "--sync-delay",
            SYNC_DELAY,
            "--grace",
            "5",
            "--state-dir",
            str(state / "pods"),
        ),
        env=env,
        cwd=APP_DIR,
    )
    try:
        pod.wait_for_line("the app listening", lambda r: "listening on port" in r["message"])
        info = get(port, "/info", pod)
        step(f"GET http://127.0.0.1:{port}/info — who am I, what may I use, and why")
        describe(info)
        name = str(info["pod"]["name"])

        step("Flip the feature flag on the running pod (kubectl label → podself label)")
        print("  feature-x before:", get(port, "/")["message"], flush=True)
        label = ("label", "pod", name)
        where = ("--state-dir", str(state / "pods"))
        run(podself(*label, "feature-x=enabled", "--overwrite", *where))
        pod.wait_for_line(
            "feature-x enabled", lambda r: r["message"].startswith("feature-x: disabled →")
        )
        answer = get(port, "/")
        print("  feature-x after: ", answer["message"], flush=True)
        if answer.get("feature-x") is not True:
            msg = f"GET / still answers {answer} after feature-x=enabled"
            raise DemoError(msg)

        step("Turn on debug logging the same way: request lines appear")
        run(podself(*label, "log-level=debug", "--overwrite", *where))
        pod.wait_for_line("the new log level", lambda r: "→ DEBUG" in r["message"])
        get(port, "/healthz")
        pod.wait_for_line(
            "a DEBUG request line",
            lambda r: r.get("level") == "DEBUG" and "/healthz" in r["message"],
        )

        resize_live(pod, port, name, where)

        step("Stop the pod: SIGTERM to podself run, which stops its container cleanly")
        code = pod.stop()
        pod.wait_for_line("the app stopping", lambda r: r["message"] == "stopped")
        if code != 0:
            msg = f"podself run exited with status {code} after SIGTERM"
            raise DemoError(msg)
        print(f"  podself run exited with status {code}", flush=True)
    finally:
        pod.kill()


def resize_live(pod: Pod, port: int, name: str, where: Sequence[str]) -> None:
    """In-place resize (GA in Kubernetes 1.35): new limits reach the running app through its
    cgroup and the podinfo volume; the process stays the same, its env keeps the old limits."""
    step("Resize the running pod in place (kubectl patch --subresource resize → podself resize)")
    before = get(port, "/info", pod)
    run(podself("resize", "pod", name, "--cpu", "2", "--memory", "1Gi", *where))
    record = pod.wait_for_line(
        "the app's new plan", lambda r: r["message"].startswith("resized in place:")
    )
    after = get(port, "/info", pod)
    resources = after["resources"]
    cpu, memory = resources["cpu_limit"], resources["memory_limit"] // 2**20
    row("cpu limit", f"{cpu}m  (from {_source(after, 'resources.cpu_limit')})")
    row("memory limit", f"{memory}Mi  (from {_source(after, 'resources.memory_limit')})")
    for key in ("workers", "threads", "cache_mb"):
        row(key, f"{before['plan'][key]} → {record['plan'][key]}")
    row("pid", f"{before['server']['pid']} → {after['server']['pid']}  (no restart)")
    if after["server"]["pid"] != before["server"]["pid"] or resources["cpu_limit"] != 2000:
        msg = f"expected the same process with a 2000m cpu limit after the resize, got {after}"
        raise DemoError(msg)


def _source(info: dict[str, Any], key: str) -> str:
    """Where ``/info`` says the value ``key`` came from."""
    entry = info["sources"].get(key)
    return f"{entry['kind']}: {entry['origin']}" if entry else "unknown"


def describe(info: dict[str, Any]) -> None:
    """The interesting parts of ``/info``."""
    pod = info["pod"]
    plan = info["plan"]
    workload = info["workload"]
    resources = info["resources"]

    def source(key: str) -> str:
        return _source(info, key)

    row("pod", f"{pod['name']}  (from {source('name')})")
    row("namespace", f"{pod['namespace']}  (from {source('namespace')})")
    row("node, IP", f"{pod['node_name']}, {pod['pod_ip']}")
    row("workload", f"{workload['kind']} {workload['name']}  (from {source('workload')})")
    cpu, memory = resources["cpu_limit"], resources["memory_limit"]
    row("cpu limit", f"{cpu}m  (from {source('resources.cpu_limit')})")
    row("memory limit", f"{memory // 2**20}Mi  (from {source('resources.memory_limit')})")
    row("labels", f"{pod['labels']}  (from {source('labels')})")
    row("threads", f"{info['server']['threads']}  ({info['server']['threads_from']})")
    for name in ("workers", "cache_mb", "connections"):
        row(name, plan["reasons"][name])
    for key, flag in info["flags"].items():
        row(key, f"{flag['value']}  ({flag['origin']})")
    if info["warnings"]:
        row("warnings", "; ".join(info["warnings"]))


def app_as_statefulset(state: Path) -> None:
    """Part 3: the StatefulSet variant knows its ordinal and its peers' DNS names."""
    heading("Part 3 of 3 · StatefulSet variant: ordinal and peers (k8s/statefulset.yaml)")
    port = free_port()
    env = container_env(state, port)
    print("$ cd examples/app", flush=True)
    pod = Pod(
        podself(
            "run",
            "-f",
            str(STATEFULSET.relative_to(APP_DIR)),
            "--kind",
            "StatefulSet",
            "--host-env",
            "--grace",
            "5",
            "--state-dir",
            str(state / "pods"),
        ),
        env=env,
        cwd=APP_DIR,
    )
    try:
        pod.wait_for_line("the app listening", lambda r: "listening on port" in r["message"])
        workload = get(port, "/info", pod)["workload"]
        step(f"GET http://127.0.0.1:{port}/info — workload")
        row("kind, name", f"{workload['kind']} {workload['name']}")
        row("ordinal", workload["ordinal"])
        row("dns name", workload["dns_name"])
        for number, peer in enumerate(workload["peers"]):
            row("peers" if number == 0 else "", peer)
        if workload["ordinal"] != 0 or len(workload["peers"]) != 3:
            msg = f"expected ordinal 0 and 3 peers, got {workload}"
            raise DemoError(msg)
        code = pod.stop()
        if code != 0:
            msg = f"podself run exited with status {code} after SIGTERM"
            raise DemoError(msg)
    finally:
        pod.kill()


def main() -> int:
    """Run the three parts; 0 on success, 1 with the failed step's message."""
    started = time.monotonic()
    try:
        seed_exercises()
        with tempfile.TemporaryDirectory(prefix="podself-demo-") as tmp:
            app_as_deployment(Path(tmp))
            app_as_statefulset(Path(tmp))
    except DemoError as exc:
        print(f"\nmake demo FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"\nmake demo FAILED: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("\nmake demo interrupted", file=sys.stderr, flush=True)
        return 130
    heading(f"Done in {time.monotonic() - started:.1f} s. Next: docs/guide.md, README.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

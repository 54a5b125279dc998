"""Start-up and read costs of podself, side by side with their baselines, in one run.

Rows (each measured in this same invocation, interleaved, median of N):

1. interpreter start (``python -c pass``) vs start + ``import podself`` + ``current()``
   inside a fake pod: the difference is what podself adds to a process's start;
2. the seed's "BAD" approach: ``from kubernetes import client`` + ``read_namespaced_pod``
   against a small local fake API server (skipped with a note when the ``kubernetes``
   package is not installed: ``pip install kubernetes``);
3. in-process: cached ``current()`` and a fresh ``read()`` per call, against
   ``os.environ.get`` of ten names (the plain approach) as the baseline.

Usage: python benchmarks/bench_startup.py [--runs N] [--markdown]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import podself
from podself.testing import FakePod

POD_JSON = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "bench-pod",
        "namespace": "default",
        "uid": "0b7a2c4e-1111-2222-3333-444455556666",
        "labels": {"app": "bench"},
    },
    "spec": {
        "nodeName": "node-1",
        "serviceAccountName": "default",
        "containers": [{"name": "app", "image": "python:3.11"}],
    },
    "status": {"podIP": "10.244.0.7", "hostIP": "192.168.49.2", "phase": "Running"},
}

KUBERNETES_CLIENT = """
import sys
from kubernetes import client
cfg = client.Configuration()
cfg.host = sys.argv[1]
api = client.CoreV1Api(client.ApiClient(cfg))
pod = api.read_namespaced_pod("bench-pod", "default")
assert pod.metadata.name == "bench-pod"
"""


class _FakeApiServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/namespaces/default/pods/bench-pod"):
            body = json.dumps(POD_JSON).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args: object) -> None:
        pass


def _time_process(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="process runs per row (default 21)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podself-bench-") as root:
        pod = FakePod(root, labels={"app": "bench", "version": "1.0"})
        env = {
            "PATH": os.environ.get("PATH", ""),
            **pod.environ,
            "PODSELF_ROOT": root,
            "PODSELF_PROC_ROOT": str(pod.proc_root),
        }
        python = sys.executable
        commands = {
            "pass": [python, "-c", "pass"],
            "podself": [python, "-c", "import podself; podself.current()"],
        }
        server = None
        if importlib.util.find_spec("kubernetes") is not None:
            server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApiServer)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}"
            commands["kubernetes"] = [python, "-c", KUBERNETES_CLIENT, url]
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # warm-up: page cache, .pyc files
            _time_process(argv, env)
        for _ in range(args.runs):
            for name, argv in commands.items():
                samples[name].append(_time_process(argv, env))
        if server is not None:
            server.shutdown()

        read_args = pod.read_args()
        os.environ.update(pod.environ)
        podself.refresh()
        number, cached_total = timeit.Timer(podself.current).autorange()
        cached_us = min(timeit.repeat(podself.current, number=number, repeat=5)) / number * 1e6
        fresh = timeit.Timer(lambda: podself.read(**read_args))  # type: ignore[arg-type]
        n, _ = fresh.autorange()
        fresh_us = min(fresh.repeat(number=n, repeat=5)) / n * 1e6
        names = list(pod.environ)[:10]
        plain = timeit.Timer(lambda: [os.environ.get(k) for k in names])
        n, _ = plain.autorange()
        plain_us = min(plain.repeat(number=n, repeat=5)) / n * 1e6
        del cached_total

    base = _median_ms(samples["pass"])
    ours = _median_ms(samples["podself"])
    rows = [
        ("python -c pass (baseline)", f"{base:.1f} ms", "1.00x", ""),
        (
            "python + import podself + current()",
            f"{ours:.1f} ms",
            f"{ours / base:.2f}x",
            f"adds {ours - base:.1f} ms (target < 10 ms)",
        ),
    ]
    if "kubernetes" in samples:
        kube = _median_ms(samples["kubernetes"])
        rows.append(
            (
                "python + kubernetes client + read_namespaced_pod",
                f"{kube:.1f} ms",
                f"{kube / base:.2f}x",
                f"adds {kube - base:.1f} ms; podself adds "
                f"{(kube - base) / max(ours - base, 0.01):.0f}x less "
                f"({kube / ours:.1f}x faster end to end)",
            )
        )
    else:
        rows.append(
            (
                "python + kubernetes client + read_namespaced_pod",
                "skipped",
                "",
                "pip install kubernetes to include the seed's BAD approach",
            )
        )
    rows += [
        ("os.environ.get x10 (baseline)", f"{plain_us:.2f} us", "1.00x", ""),
        (
            "podself.current() cached",
            f"{cached_us:.3f} us",
            f"{cached_us / plain_us:.2f}x",
            "target < 1 us",
        ),
        (
            "podself.read() fresh (env + podinfo + cgroups)",
            f"{fresh_us:.1f} us",
            f"{fresh_us / plain_us:.1f}x",
            "target < 200 us",
        ),
    ]
    print(
        f"podself {podself.__version__}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"{args.runs} process runs per row (median)"
    )
    if args.markdown:
        print("\n| measurement | value | ratio to baseline | note |\n|---|---:|---:|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        width = max(len(r[0]) for r in rows)
        for name, value, ratio, note in rows:
            print(f"{name.ljust(width)}  {value:>12}  {ratio:>7}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

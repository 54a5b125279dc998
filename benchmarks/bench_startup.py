"""Start-up and read costs of podself, side by side with their baselines, in one run.

Rows (each measured in this same invocation, median of N rounds; in each round every row runs
once, in an order rotated from round to round):

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
import sys
import tempfile
import threading
import timeit
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _common import child_env, conditions, headline, interleave, time_call, time_process

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


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21, help="process runs per row (default 21)")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="podself-bench-") as root:
        pod = FakePod(root, labels={"app": "bench", "version": "1.0"})
        env = child_env(
            {
                "PATH": os.environ.get("PATH", ""),
                **pod.environ,
                "PODSELF_ROOT": root,
                "PODSELF_PROC_ROOT": str(pod.proc_root),
            }
        )
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
        for argv in commands.values():  # warm-up: page cache, .pyc files
            time_process(argv, env)
        samples = interleave(
            {name: partial(time_process, argv, env) for name, argv in commands.items()},
            args.runs,
        )
        if server is not None:
            server.shutdown()

        read_args = pod.read_args()
        os.environ.update(pod.environ)
        podself.refresh()
        names = list(pod.environ)[:10]
        calls = {
            "plain": lambda: [os.environ.get(k) for k in names],
            "cached": podself.current,
            "fresh": lambda: podself.read(**read_args),  # type: ignore[arg-type]
        }
        # As many calls per sample as fill about 0.2 s, then the rows in rotating rounds.
        numbers = {name: timeit.Timer(call).autorange()[0] for name, call in calls.items()}
        per_call = interleave(
            {name: partial(time_call, call, numbers[name]) for name, call in calls.items()},
            args.runs,
        )
        plain_us, cached_us, fresh_us = (statistics.median(per_call[n]) * 1e6 for n in calls)

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
    where = conditions(
        f"median of {args.runs} rotating rounds", "bytecode cached", "fake pod on this host"
    )
    print(f"podself {podself.__version__}; {where}")
    if args.markdown:
        print("\n| measurement | value | ratio to baseline | note |\n|---|---:|---:|---|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        width = max(len(r[0]) for r in rows)
        for name, value, ratio, note in rows:
            print(f"{name.ljust(width)}  {value:>12}  {ratio:>7}  {note}")
    if "kubernetes" in samples:
        kube = _median_ms(samples["kubernetes"])
        headline(
            "added to interpreter start: `import` + first read",
            f"{ours - base:.1f} ms",
            f"kubernetes client + `read_namespaced_pod` (local fake API server): "
            f"{kube - base:,.0f} ms",
            f"{(kube - base) / max(ours - base, 0.01):.0f}× less",
            where,
        )
    headline(
        "`podself.current()` (cached) / fresh `read()`",
        f"{cached_us:.3f} µs / {fresh_us:.0f} µs",
        f"`os.environ.get` ×10: {plain_us:.2f} µs",
        f"{cached_us / plain_us:.2g}× / {fresh_us / plain_us:.0f}×",
        where,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

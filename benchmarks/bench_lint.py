"""Throughput and start-up of ``podself lint``, side by side with their baselines.

Rows (measured in this one run, best of N):

1. a generated stream of realistic Deployments (env ``fieldRef``/``resourceFieldRef``, a
   ``downwardAPI`` volume, resources, probes) parsed with PyYAML's ``CSafeLoader``
   (``yaml.load_all``: the baseline every YAML tool pays), then podself's loader alone (data
   plus positions), then parse + lint (every rule, findings placed at line:column); documents
   per second on one core and the ratio to the baseline;
2. the same stream as JSON, parse + lint;
3. start-up: wall time of ``podself lint small.yaml`` against ``python -c pass`` (bytecode
   cached, as after ``pip install``), median of N interleaved runs;
4. memory: peak RSS of ``podself lint`` on files of 10,000 and 100,000 of those Deployments
   (``--rss-docs``), against ``python -c pass``; flat means the larger file costs no more.

Usage: python benchmarks/bench_lint.py [--docs N] [--runs N] [--rss-docs N,M] [--markdown]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from podself.manifest.lint import LintResult, lint_documents
from podself.manifest.load import Limits, scan_documents

SMALL = """\
apiVersion: v1
kind: Pod
metadata:
  name: small
spec:
  containers:
  - name: app
    image: app:1
    env:
    - name: K8S_POD_NAME
      valueFrom:
        fieldRef:
          fieldPath: metadata.name
"""


def deployment(index: int, rng: random.Random) -> str:
    """One Deployment as kubectl-style YAML, varied by ``index``."""
    cpu = rng.choice(["250m", "500m", "1", "2"])
    memory = rng.choice(["256Mi", "512Mi", "1Gi", "2Gi"])
    # One workload in twenty forgets its cpu limit, as real repositories do (resource-not-set).
    cpu_limit = "" if index % 20 == 0 else f"\n            cpu: {cpu}"
    extra_env = "".join(
        f"""        - name: APP_SETTING_{n}
          value: "value-{index}-{n}"
"""
        for n in range(rng.randint(0, 4))
    )
    return f"""---
# service {index}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app-{index}
  namespace: team-{index % 7}
  labels:
    app.kubernetes.io/name: app-{index}
    app.kubernetes.io/part-of: shop
spec:
  replicas: {rng.randint(1, 5)}
  selector:
    matchLabels:
      app.kubernetes.io/name: app-{index}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: app-{index}
        app.kubernetes.io/version: "1.{index % 10}.0"
      annotations:
        prometheus.io/scrape: "true"
        prometheus.io/port: "8080"
    spec:
      serviceAccountName: app-{index}
      containers:
      - name: app
        image: registry.example.com/shop/app-{index}:1.{index % 10}.0
        ports:
        - name: http
          containerPort: 8080
        env:
        - name: K8S_POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: K8S_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: K8S_POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        - name: K8S_NODE_NAME
          valueFrom:
            fieldRef:
              fieldPath: spec.nodeName
        - name: K8S_APP_VERSION
          valueFrom:
            fieldRef:
              fieldPath: metadata.labels['app.kubernetes.io/version']
        - name: RESOURCE_CPU_LIMIT_MILLICORES
          valueFrom:
            resourceFieldRef:
              resource: limits.cpu
              divisor: 1m
        - name: RESOURCE_MEMORY_LIMIT_MB
          valueFrom:
            resourceFieldRef:
              resource: limits.memory
              divisor: 1Mi
        - name: APP_URL
          value: "http://$(K8S_POD_IP):8080"
{extra_env}        resources:
          requests:
            cpu: {cpu}
            memory: {memory}
          limits:{cpu_limit}
            memory: {memory}
        readinessProbe:
          httpGet:
            path: /healthz
            port: http
        volumeMounts:
        - name: podinfo
          mountPath: /etc/podinfo
          readOnly: true
      volumes:
      - name: podinfo
        downwardAPI:
          items:
          - path: labels
            fieldRef:
              fieldPath: metadata.labels
          - path: annotations
            fieldRef:
              fieldPath: metadata.annotations
          - path: cpu_limit
            resourceFieldRef:
              containerName: app
              resource: limits.cpu
              divisor: 1m
"""


def stream(count: int) -> str:
    rng = random.Random(7)
    return "".join(deployment(i, rng) for i in range(count))


def best_of(runs: int, func: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def parse_baseline(text: str) -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for _ in yaml.load_all(text, Loader=loader):
        pass


def our_loader(text: str, limits: Limits) -> None:
    for _ in scan_documents(text, "bench.yaml", limits=limits):
        pass


def parse_and_lint(text: str, source: str, limits: Limits) -> LintResult:
    result = LintResult(files=1)
    result.findings.extend(
        lint_documents(scan_documents(text, source, limits=limits), result=result)
    )
    return result


def startup(runs: int) -> tuple[float, float]:
    """Median wall time of ``python -c pass`` and ``podself lint small.yaml`` (seconds)."""
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.yaml"
        small.write_text(SMALL)
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        bare = [sys.executable, "-c", "pass"]
        lint = [sys.executable, "-m", "podself", "lint", str(small)]
        subprocess.run(lint, env=env, check=True, capture_output=True)  # cache bytecode
        times: dict[str, list[float]] = {"bare": [], "lint": []}
        for _ in range(runs):
            for name, argv in (("bare", bare), ("lint", lint)):
                start = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                times[name].append(time.perf_counter() - start)
    return statistics.median(times["bare"]), statistics.median(times["lint"])


# The child reports its own high-water mark: ru_maxrss would also count the memory of the
# forked parent before exec.
_HWM = """
import re, runpy, sys
try:
    if sys.argv[1:]:
        sys.argv = sys.argv[1:]
        runpy.run_module("podself", run_name="__main__", alter_sys=True)
finally:
    with open("/proc/self/status") as status:
        hwm = re.search(r"VmHWM:\\s+(\\d+) kB", status.read())
    print("VmHWM", hwm.group(1) if hwm else 0, file=sys.stderr)
"""


def peak_rss(args: list[str], env: dict[str, str]) -> int:
    """Peak resident memory (bytes) of ``python -m podself ARGS``, or of the bare interpreter
    when ``args`` is empty (Linux only: 0 elsewhere)."""
    done = subprocess.run(
        [sys.executable, "-c", _HWM, *args], env=env, capture_output=True, text=True, check=False
    )
    last = done.stderr.strip().splitlines()[-1:]
    return int(last[0].split()[1]) * 1024 if last and last[0].startswith("VmHWM") else 0


def memory(sizes: list[int]) -> tuple[int, list[tuple[int, int, int]]]:
    """Peak RSS of ``python -c pass`` and, per size, (documents, file bytes, lint's peak RSS)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        small = Path(tmp) / "small.yaml"
        small.write_text(SMALL)
        peak_rss(["podself", "lint", str(small)], env)  # cache bytecode: compiling costs memory
        floor = peak_rss([], env)
        for count in sizes:
            path = Path(tmp) / f"d{count}.yaml"
            rng = random.Random(7)
            with path.open("w") as out:  # written a document at a time: never held whole
                for i in range(count):
                    out.write(deployment(i, rng))
            size = path.stat().st_size
            argv = ["podself", "lint", "--fail-on", "never", f"--max-bytes={size}"]
            argv += [f"--max-documents={count}", str(path)]
            rows.append((count, size, peak_rss(argv, env)))
            path.unlink()
    return floor, rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000, help="workloads in the stream")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (best / median)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument(
        "--rss-docs",
        default="10000,100000",
        help="document counts whose peak RSS is measured (comma-separated; empty: skip)",
    )
    args = parser.parse_args()

    text = stream(args.docs)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    as_json = "\n".join(json.dumps(doc) for doc in yaml.load_all(text, Loader=loader))
    limits = Limits(max_bytes=max(len(text), len(as_json)) * 4)
    check = parse_and_lint(text, "bench.yaml", limits)
    assert check.workloads == args.docs, check.workloads

    base = best_of(args.runs, lambda: parse_baseline(text))
    ours = best_of(args.runs, lambda: our_loader(text, limits))
    linted = best_of(args.runs, lambda: parse_and_lint(text, "bench.yaml", limits))
    json_linted = best_of(args.runs, lambda: parse_and_lint(as_json, "bench.json", limits))
    bare, lint_start = startup(max(5, args.runs * 3))

    n = args.docs
    size = len(text.encode()) / 1e6
    rows = [
        ("YAML parse only: yaml.load_all(CSafeLoader) [baseline]", base),
        ("podself loader (data + positions)", ours),
        ("podself lint: parse + lint, YAML", linted),
        ("podself lint: parse + lint, JSON", json_linted),
    ]
    title = (
        f"{n} Deployments, {size:.1f} MB of YAML, {len(check.findings)} findings "
        f"({', '.join(sorted({f.rule for f in check.findings})) or 'none'}); best of {args.runs}"
    )
    if args.markdown:
        print(f"**{title}**\n")
        print("| what | seconds | documents/s | speed vs baseline |")
        print("|---|---:|---:|---:|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.3f} | {n / seconds:,.0f} | {base / seconds:.2f}x |")
        print()
        print("| start-up | median wall time |")
        print("|---|---:|")
        print(f"| `python -c pass` [baseline] | {bare * 1000:.1f} ms |")
        print(f"| `podself lint small.yaml` | {lint_start * 1000:.1f} ms |")
        print(f"| difference | {(lint_start - bare) * 1000:.1f} ms |")
    else:
        print(title)
        print(f"{'what':<58} {'seconds':>8} {'docs/s':>9} {'speed':>8}")
        for name, seconds in rows:
            print(f"{name:<58} {seconds:>8.3f} {n / seconds:>9,.0f} {base / seconds:>7.2f}x")
        print()
        print(f"{'start-up (median of interleaved runs)':<58} {'ms':>8}")
        print(f"{'python -c pass [baseline]':<58} {bare * 1000:>8.1f}")
        print(f"{'podself lint small.yaml':<58} {lint_start * 1000:>8.1f}")
        print(f"{'difference':<58} {(lint_start - bare) * 1000:>8.1f}")
    sizes = [int(part) for part in args.rss_docs.split(",") if part.strip()]
    if sizes:
        floor, measured = memory(sizes)
        print()
        if args.markdown:
            print("| peak RSS | file | MiB | vs `python -c pass` |")
            print("|---|---:|---:|---:|")
            print(f"| `python -c pass` [floor] | | {floor / 2**20:.1f} | 1.00x |")
            for count, size, rss in measured:
                print(
                    f"| `podself lint`, {count:,} Deployments | {size / 1e6:.0f} MB "
                    f"| {rss / 2**20:.1f} | {rss / floor:.2f}x |"
                )
        else:
            print(f"{'peak RSS':<58} {'MiB':>8} {'vs floor':>9}")
            print(f"{'python -c pass [floor]':<58} {floor / 2**20:>8.1f} {1:>8.2f}x")
            for count, size, rss in measured:
                name = f"podself lint, {count:,} Deployments ({size / 1e6:.0f} MB)"
                print(f"{name:<58} {rss / 2**20:>8.1f} {rss / floor:>8.2f}x")
        growth = measured[-1][2] / max(1, measured[0][2])
        verdict = "met" if growth <= 1.2 else "NOT met"
        print(
            f"\ntarget: peak RSS flat (within 20 %) from {measured[0][0]:,} to "
            f"{measured[-1][0]:,} documents: {growth:.2f}x ({verdict})"
        )
    target = n / linted
    print(
        f"\ntarget >= 2,000 workload documents/s on one core: {target:,.0f}/s "
        f"({'met' if target >= 2000 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

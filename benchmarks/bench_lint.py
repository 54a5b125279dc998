"""Throughput, start-up and memory of ``podself lint``, beside PyYAML's parser and checkov.

Rows (measured in this one run, best of N rounds; in each round every row runs once, in an
order rotated from round to round):

1. a generated stream of realistic Deployments (env ``fieldRef``/``resourceFieldRef``, a
   ``downwardAPI`` volume, resources, probes) parsed with PyYAML's ``CSafeLoader``
   (``yaml.load_all``: the baseline every YAML tool pays), then podself's loader alone (data
   plus positions), then parse + lint (every rule, findings placed at line:column); documents
   per second on one core and the ratio to the baseline;
2. the same stream as JSON, parse + lint;
3. start-up: wall time of ``podself lint small.yaml`` against ``python -c pass`` (bytecode
   cached, as after ``pip install``), median of N rotating rounds;
4. memory: peak RSS of ``podself lint`` on files of 10,000 and 100,000 of those Deployments
   (``--rss-docs``), against ``python -c pass``; flat means the larger file costs no more;
5. checkov (the ``bench`` extra, or ``--checkov PATH``), the linter users reach for, as a peer:
   its install size with its dependencies against podself's with PyYAML and ruamel.yaml, its
   start-up on the same small manifest, and ``checkov --framework kubernetes`` against
   ``podself lint`` on the same ``--checkov-docs`` Deployments. The caveat: checkov runs its
   security-posture policies (privileges, probes, image tags...), podself the Downward API's
   rules and their run-time surprises; they check different things, and the figures compare
   what each costs to run on a manifest, not what it finds.

Usage: python benchmarks/bench_lint.py [--docs N] [--runs N] [--rss-docs N,M] [--checkov PATH]
       [--checkov-docs N] [--markdown]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml
from _common import child_env, conditions, headline, interleave

import podself
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


def timed(func: Callable[[], object]) -> Callable[[], float]:
    """``func`` as a measurement: seconds of one call, after a garbage collection."""

    def measure() -> float:
        gc.collect()
        start = time.perf_counter()
        func()
        return time.perf_counter() - start

    return measure


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


def checkov_argv(checkov: str, path: Path) -> list[str]:
    """checkov on one file, Kubernetes policies only, offline, findings as JSON."""
    return [
        *(checkov, "-f", str(path), "--framework", "kubernetes", "--quiet", "--compact"),
        *("-o", "json"),
        "--skip-download",  # no network here: its policy metadata download would only retry
    ]


def startup(runs: int, checkov: str | None) -> dict[str, float]:
    """Median wall time (seconds) of ``python -c pass``, ``podself lint small.yaml`` and, when
    given, ``checkov`` on the same file."""
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "small.yaml"
        small.write_text(SMALL)
        env = child_env(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        commands = {
            "bare": [sys.executable, "-c", "pass"],
            "lint": [sys.executable, "-m", "podself", "lint", str(small)],
        }
        if checkov:
            commands["checkov"] = checkov_argv(checkov, small)
        for argv in commands.values():  # cache bytecode
            subprocess.run(argv, env=env, check=False, capture_output=True)
        times = interleave(
            {name: partial(_run, argv, env) for name, argv in commands.items()}, runs
        )
    return {name: statistics.median(values) for name, values in times.items()}


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of ``argv``, which may exit 1 (findings)."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, check=False, capture_output=True)
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed with exit status {done.returncode}")
    return time.perf_counter() - start


# What a distribution and everything it requires (extras left out) take on disk.
_INSTALL_SIZE = """
import importlib.metadata as md, json, os, re, sys
seen, total, todo = set(), 0, list(sys.argv[1:])
while todo:
    name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
    if name in seen:
        continue
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        continue
    seen.add(name)
    for file in dist.files or []:
        try:
            total += os.path.getsize(file.locate())
        except OSError:
            pass
    for requirement in dist.requires or []:
        if "extra ==" not in requirement:
            todo.append(re.match(r"[A-Za-z0-9_.-]+", requirement).group(0))
print(json.dumps([len(seen), total]))
"""


def install_size(python: str, names: list[str]) -> tuple[int, int]:
    """(distributions, bytes on disk) of ``names`` and what they require, in ``python``'s
    environment."""
    done = subprocess.run(
        [python, "-c", _INSTALL_SIZE, *names], capture_output=True, text=True, check=True
    )
    count, size = json.loads(done.stdout)
    return int(count), int(size)


def find_checkov(given: str | None) -> str | None:
    """The checkov command: ``--checkov``, else the one beside this interpreter, else PATH."""
    if given:
        return given
    beside = Path(sys.executable).with_name("checkov")
    return str(beside) if beside.is_file() else shutil.which("checkov")


def checkov_python(checkov: str) -> str:
    """The interpreter of checkov's environment, from its script's ``#!`` line."""
    with open(checkov, "rb") as script:
        first = script.readline().decode(errors="replace")
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


def versus_checkov(checkov: str, docs: int, runs: int) -> dict[str, float]:
    """Best wall time (seconds) of ``podself lint`` and checkov on the same Deployments, in
    rotating rounds, and each one's finding count."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deployments.yaml"
        path.write_text(stream(docs))
        env = child_env(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        lint = [sys.executable, "-m", "podself", "lint", "--format", "json", str(path)]
        commands = {"lint": lint, "checkov": checkov_argv(checkov, path)}
        times = interleave(
            {name: partial(_run, argv, env) for name, argv in commands.items()}, runs
        )
        found = {}
        for name, argv in commands.items():
            out = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
            found[f"{name} findings"] = float(_count_findings(name, out.stdout))
    return {**{name: min(values) for name, values in times.items()}, **found}


def _count_findings(name: str, output: str) -> int:
    try:
        data = json.loads(output)
    except ValueError:
        return -1
    if name == "checkov":  # one report per check type, or just the one
        reports = data if isinstance(data, list) else [data]
        return sum(len(r.get("results", {}).get("failed_checks", [])) for r in reports)
    return len(data.get("findings", [])) if isinstance(data, dict) else -1


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
        env = child_env(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
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


def print_checkov(
    checkov: str, args: argparse.Namespace, lint_start: float, start: float, start_runs: int
) -> None:
    """checkov beside podself: install size, start-up, and both on the same Deployments."""
    ours_count, ours_size = install_size(sys.executable, ["podself", "PyYAML", "ruamel.yaml"])
    listed = importlib.metadata.distribution("podself").files or []
    if not any(str(f).endswith("podself/__init__.py") for f in listed):
        # An editable install lists none of the package's files: count its source tree.
        package = Path(podself.__file__).parent
        ours_size += sum(
            p.stat().st_size
            for p in package.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        )
    their_count, their_size = install_size(checkov_python(checkov), ["checkov"])
    versus = versus_checkov(checkov, args.checkov_docs, args.runs)
    docs = args.checkov_docs
    print()
    print(
        "checkov --framework kubernetes beside podself lint (caveat: checkov checks security "
        "posture, podself the Downward API rules: different checks, compared on cost only)"
    )
    rows: list[tuple[str, str, str, float | None]] = [
        (
            "installed size with dependencies (MB)",
            f"{ours_size / 1e6:.1f} ({ours_count} dists)",
            f"{their_size / 1e6:.1f} ({their_count} dists)",
            their_size / ours_size,
        ),
        (
            f"start-up on small.yaml, median of {start_runs} (ms)",
            f"{lint_start * 1000:.0f}",
            f"{start * 1000:.0f}",
            start / lint_start,
        ),
        (
            f"{docs:,} Deployments, best of {args.runs} (s)",
            f"{versus['lint']:.2f}",
            f"{versus['checkov']:.2f}",
            versus["checkov"] / versus["lint"],
        ),
        (
            f"findings on the {docs:,} Deployments",
            f"{versus['lint findings']:.0f}",
            f"{versus['checkov findings']:.0f}",
            None,
        ),
    ]
    if args.markdown:
        print("\n| | podself lint | checkov | checkov / podself |\n|---|---:|---:|---:|")
    else:
        print(f"{'':<46}{'podself lint':>20}{'checkov':>20}{'checkov/podself':>17}")
    for name, ours, theirs, ratio in rows:
        cell = "-" if ratio is None else f"{ratio:.1f}x"
        if args.markdown:
            print(f"| {name} | {ours} | {theirs} | {cell} |")
        else:
            print(f"{name:<46}{ours:>20}{theirs:>20}{cell:>17}")
    where = conditions(
        f"{docs:,} Deployments, best of {args.runs} rotating rounds, whole processes",
        "checkov --skip-download (offline); it checks security posture, not the Downward API",
    )
    headline(
        "lint a manifest, against checkov `--framework kubernetes`",
        f"{versus['lint']:.2f} s; start-up {lint_start * 1000:.0f} ms; "
        f"{ours_size / 1e6:.0f} MB installed",
        f"checkov: {versus['checkov']:.2f} s; start-up {start * 1000:,.0f} ms; "
        f"{their_size / 1e6:.0f} MB installed",
        f"{versus['checkov'] / versus['lint']:.0f}× faster",
        where,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000, help="workloads in the stream")
    parser.add_argument("--runs", type=int, default=3, help="repetitions (best / median)")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--checkov", metavar="PATH", help="the checkov command (default: found)")
    parser.add_argument(
        "--checkov-docs",
        type=int,
        default=500,
        help="Deployments both podself lint and checkov check (default 500; 0: skip checkov)",
    )
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

    measured = interleave(
        {
            "base": timed(lambda: parse_baseline(text)),
            "ours": timed(lambda: our_loader(text, limits)),
            "linted": timed(lambda: parse_and_lint(text, "bench.yaml", limits)),
            "json": timed(lambda: parse_and_lint(as_json, "bench.json", limits)),
        },
        args.runs,
    )
    base, ours, linted, json_linted = (min(measured[k]) for k in ("base", "ours", "linted", "json"))
    checkov = find_checkov(args.checkov) if args.checkov_docs > 0 else None
    start_runs = max(5, args.runs * 3)
    starts = startup(start_runs, checkov)
    bare, lint_start = starts["bare"], starts["lint"]

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
        f"({', '.join(sorted({f.rule for f in check.findings})) or 'none'}); "
        + conditions(f"best of {args.runs} rotating rounds, one core")
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
        print(f"{f'start-up (median of {start_runs} rotating rounds)':<58} {'ms':>8}")
        print(f"{'python -c pass [baseline]':<58} {bare * 1000:>8.1f}")
        print(f"{'podself lint small.yaml':<58} {lint_start * 1000:>8.1f}")
        print(f"{'difference':<58} {(lint_start - bare) * 1000:>8.1f}")
    sizes = [int(part) for part in args.rss_docs.split(",") if part.strip()]
    if sizes:
        floor, measured_rss = memory(sizes)
        print()
        if args.markdown:
            print("| peak RSS | file | MiB | vs `python -c pass` |")
            print("|---|---:|---:|---:|")
            print(f"| `python -c pass` [floor] | | {floor / 2**20:.1f} | 1.00x |")
            for count, size, rss in measured_rss:
                print(
                    f"| `podself lint`, {count:,} Deployments | {size / 1e6:.0f} MB "
                    f"| {rss / 2**20:.1f} | {rss / floor:.2f}x |"
                )
        else:
            print(f"{'peak RSS':<58} {'MiB':>8} {'vs floor':>9}")
            print(f"{'python -c pass [floor]':<58} {floor / 2**20:>8.1f} {1:>8.2f}x")
            for count, size, rss in measured_rss:
                name = f"podself lint, {count:,} Deployments ({size / 1e6:.0f} MB)"
                print(f"{name:<58} {rss / 2**20:>8.1f} {rss / floor:>8.2f}x")
        growth = measured_rss[-1][2] / max(1, measured_rss[0][2])
        verdict = "met" if growth <= 1.2 else "NOT met"
        print(
            f"\ntarget: peak RSS flat (within 20 %) from {measured_rss[0][0]:,} to "
            f"{measured_rss[-1][0]:,} documents: {growth:.2f}x ({verdict})"
        )
    where = conditions(f"best of {args.runs} rotating rounds, one core, in process")
    headline(
        "`podself lint` throughput (parse + every rule)",
        f"{n / linted:,.0f} docs/s",
        f"PyYAML's C loader, parsing alone: {n / base:,.0f} docs/s",
        f"{base / linted:.2f}× the parser's speed",
        f"{n:,} Deployments, {len(text.encode()) / 1e6:.0f} MB; {where}",
    )
    if sizes:
        headline(
            "`podself lint` peak RSS, "
            f"{measured_rss[0][0]:,} → {measured_rss[-1][0]:,} Deployments",
            f"{measured_rss[0][2] / 2**20:.0f} → {measured_rss[-1][2] / 2**20:.0f} MiB",
            f"`python -c pass`: {floor / 2**20:.0f} MiB",
            f"{growth:.2f}× growth",
            conditions("VmHWM of the process, bytecode cached"),
        )
    if checkov is None:
        if args.checkov_docs > 0:
            print("\ncheckov: not installed, rows skipped (the bench extra installs it)")
    else:
        print_checkov(checkov, args, lint_start, starts["checkov"], start_runs)
    target = n / linted
    print(
        f"\ntarget >= 2,000 workload documents/s on one core: {target:,.0f}/s "
        f"({'met' if target >= 2000 else 'NOT met'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

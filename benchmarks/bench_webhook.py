"""``podself webhook serve`` on loopback against a do-nothing stdlib HTTPS server, side by side.

Both servers run as child processes, on TLS with keep-alive, and are sent the same
AdmissionReview (a Deployment's pod with two containers, limits and requests, as the API
server sends it at creation):

- ``stdlib HTTPS (baseline)``: ``http.server.ThreadingHTTPServer`` with its socket wrapped
  by ``ssl``; it reads the body and answers a fixed ``allowed: true``, with no decision and
  no patch: the floor for a Python webhook;
- ``podself webhook``: the real answer, a JSON Patch of what ``podself inject`` adds.

Load comes from a client process per measurement with one thread and one kept-alive
connection per concurrent client (1, 10 and 50), each sending the next review when the
answer to the last one is in. Rows rotate within each of ``--rounds`` rounds; reviews per
second are summed over rounds and latency quantiles taken over every request. Beside them,
the p99 as a share of the API server's default webhook timeout (10 s), past which the pod
is created without the injection (``failurePolicy: Ignore``).

Then each server gets ``--rss-requests`` more reviews (10 concurrent clients) and its
resident memory is read from ``/proc`` before and after.

Usage: python benchmarks/bench_webhook.py [--seconds S] [--rounds N] [--rss-requests N]
       [--concurrency N,N,...] [--markdown]
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from _common import child_env, conditions, headline, rotation

API_SERVER_TIMEOUT_S = 10.0  # admissionregistration.k8s.io/v1 timeoutSeconds default
NAMES = ["podself-webhook", "podself-webhook.bench", "podself-webhook.bench.svc"]

BASELINE = textwrap.dedent(
    """\
    import socket, ssl, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    ANSWER = (b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",'
              b'"response":{"uid":"","allowed":true}}')

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self):
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            super().setup()

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(ANSWER)))
            self.end_headers()
            self.wfile.write(ANSWER)

        def log_message(self, *args):
            pass

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    ThreadingHTTPServer.request_queue_size = 128  # as podself's: no SYN dropped at 50 clients
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()
    """
)


def review(uid: int) -> bytes:
    """An AdmissionReview for a Deployment's new pod (two containers, limits, requests)."""

    def container(name: str) -> dict[str, Any]:
        return {
            "name": name,
            "image": f"registry.example/{name}:1.4.2",
            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
            "env": [{"name": "LOG_LEVEL", "value": "info"}],
            "resources": {
                "limits": {"cpu": "500m", "memory": "256Mi"},
                "requests": {"cpu": "250m", "memory": "128Mi"},
            },
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent",
        }

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "generateName": "web-7d4b9c-",
            "namespace": "shop",
            "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d4b9c",
                    "uid": "6f1f1d6e-2a11-4c1e-9b1a-2f3c5d2e0d7e",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "containers": [container("app"), container("metrics")],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "schedulerName": "default-scheduler",
        },
        "status": {},
    }
    kind = {"group": "", "version": "v1", "kind": "Pod"}
    resource = {"group": "", "version": "v1", "resource": "pods"}
    request = {
        "uid": f"00000000-0000-0000-0000-{uid:012d}",
        "kind": kind,
        "resource": resource,
        "requestKind": kind,
        "requestResource": resource,
        "namespace": "shop",
        "operation": "CREATE",
        "userInfo": {
            "username": "system:serviceaccount:kube-system:replicaset-controller",
            "groups": ["system:serviceaccounts", "system:authenticated"],
        },
        "object": pod,
        "oldObject": None,
        "dryRun": False,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
    }
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request}
    return json.dumps(body).encode()


# -- the load: a client process with one thread and one connection per concurrent client ----


def client(port: int, ca_file: str, concurrency: int, seconds: float, count: int) -> None:
    """Send reviews for ``seconds`` (or ``count`` in all); print the latencies as JSON."""
    import http.client

    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False  # the certificate names the Service; the CA is checked
    body = review(1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency
    sent = [0]
    lock = threading.Lock()
    start = time.perf_counter()
    stop_at = start + seconds if seconds else float("inf")

    def run(index: int) -> None:
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
        mine = latencies[index]
        while True:
            with lock:
                if sent[0] >= count or time.perf_counter() >= stop_at:
                    break
                sent[0] += 1
            began = time.perf_counter()
            try:
                connection.request("POST", "/mutate", body, {"Content-Type": "application/json"})
                answer = connection.getresponse()
                data = answer.read()
                ok = answer.status == 200 and b'"allowed":true' in data
            except (OSError, http.client.HTTPException):
                ok = False
                connection.close()
            if ok:
                mine.append(time.perf_counter() - began)
            else:
                errors[index] += 1
        connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    flat = [value for values in latencies for value in values]
    json.dump({"elapsed": elapsed, "latencies": flat, "errors": sum(errors)}, sys.stdout)


def load(
    port: int, ca_file: str, concurrency: int, seconds: float, count: int, *, env: dict[str, str]
) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--client", str(port), ca_file, str(concurrency)]
    argv += [str(seconds), str(count)]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- the servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server on port {port} never listened")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def table(rows: list[list[str]], markdown: bool) -> None:
    """Rows (the first is the header) as a Markdown table, or as aligned plain text."""
    if markdown:
        print("| " + " | ".join(rows[0]) + " |")
        print("|---|" + "---:|" * (len(rows[0]) - 1))
        for row in rows[1:]:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        print("  ".join(cells))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if args_list[:1] == ["--client"]:
        port, ca_file, concurrency, seconds, count = args_list[1:6]
        client(int(port), ca_file, int(concurrency), float(seconds), int(count))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per row and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (rows rotate in each)")
    parser.add_argument("--concurrency", default="1,10,50", help="concurrent clients per level")
    parser.add_argument(
        "--rss-requests", type=int, default=100_000, help="reviews sent before reading RSS"
    )
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    args = parser.parse_args(args_list)
    levels = [int(n) for n in args.concurrency.split(",")]
    if not sys.platform.startswith("linux"):
        print("RSS is read from /proc: Linux only")
        return 0

    from podself.webhook.certs import issue, write_set

    with tempfile.TemporaryDirectory() as tmp:
        certs = Path(tmp) / "certs"
        write_set(certs, issue(NAMES))
        env = child_env(PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        ports = {"stdlib HTTPS (baseline)": free_port(), "podself webhook": free_port()}
        commands = {
            "stdlib HTTPS (baseline)": [
                sys.executable,
                "-c",
                BASELINE,
                str(ports["stdlib HTTPS (baseline)"]),
                str(certs / "tls.crt"),
                str(certs / "tls.key"),
            ],
            "podself webhook": [
                sys.executable,
                "-m",
                "podself",
                "webhook",
                "serve",
                "--cert-dir",
                str(certs),
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["podself webhook"]),
                "--max-connections",
                str(max(levels) + 8),
                "--shutdown-delay",
                "0",
            ],
        }
        procs = {
            name: subprocess.Popen(
                argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            for name, argv in commands.items()
        }
        try:
            for name, proc in procs.items():
                wait_listening(ports[name], proc)
            ca_file = str(certs / "ca.crt")
            for name in procs:  # warm up: imports, first handshakes
                load(ports[name], ca_file, 2, 0, 200, env=env)
            names = list(procs)
            measured: dict[tuple[str, int], dict[str, Any]] = {}
            for round_number in range(args.rounds):
                for level in levels:
                    for name in rotation(names, round_number):
                        got = load(ports[name], ca_file, level, args.seconds, 10**9, env=env)
                        total = measured.setdefault(
                            (name, level), {"n": 0, "t": 0.0, "lat": [], "err": 0}
                        )
                        total["n"] += len(got["latencies"])
                        total["t"] += got["elapsed"]
                        total["lat"] += got["latencies"]
                        total["err"] += got["errors"]
            started = {name: rss_kib(proc.pid) for name, proc in procs.items()}
            # Read half way too: memory that still grows in the second half is a leak.
            half, after = {}, {}
            for name, proc in procs.items():
                load(ports[name], ca_file, 10, 0, args.rss_requests // 2, env=env)
                half[name] = rss_kib(proc.pid)
                load(
                    ports[name], ca_file, 10, 0, args.rss_requests - args.rss_requests // 2, env=env
                )
                after[name] = rss_kib(proc.pid)
        finally:
            for proc in procs.values():
                proc.terminate()
            for proc in procs.values():
                proc.wait(30)

    where = conditions(
        f"loopback, TLS, keep-alive; {args.rounds} rotating rounds of {args.seconds:g} s per row"
    )
    print(f"podself webhook vs a do-nothing stdlib HTTPS server; {where}\n")
    rows = [["server", "clients", "reviews/s", "vs baseline", "p50 ms", "p99 ms"]]
    rows[0] += ["p99 / 10 s timeout", "errors"]
    for level in levels:
        base = measured[(names[0], level)]
        base_rate = base["n"] / base["t"]
        for name in names:
            row = measured[(name, level)]
            rate = row["n"] / row["t"]
            p50, p99 = quantile(row["lat"], 0.5), quantile(row["lat"], 0.99)
            rows.append(
                [
                    name,
                    str(level),
                    f"{rate:,.0f}",
                    f"{rate / base_rate:.2f}x",
                    f"{p50 * 1e3:.2f}",
                    f"{p99 * 1e3:.2f}",
                    f"{p99 / API_SERVER_TIMEOUT_S:.2%}",
                    str(row["err"]),
                ]
            )
    table(rows, args.markdown)
    print(
        f"\nResident memory (VmRSS, MiB) after the rows above, then after "
        f"{args.rss_requests:,} more reviews (10 clients), read half way too:\n"
    )
    memory = [["server", "before", f"after {args.rss_requests // 2:,}"]]
    memory[0].append(f"after {args.rss_requests:,}")
    memory += [
        [name, *(f"{kib[name] / 1024:.1f}" for kib in (started, half, after))] for name in names
    ]
    table(memory, args.markdown)
    top = max(levels)
    ours, base = measured[(names[1], top)], measured[(names[0], top)]
    rate, base_rate = ours["n"] / ours["t"], base["n"] / base["t"]
    p99 = quantile(ours["lat"], 0.99)
    headline(
        f"`podself webhook` AdmissionReviews at {top} concurrent clients",
        f"{rate:,.0f}/s, p99 {p99 * 1e3:.0f} ms ({p99 / API_SERVER_TIMEOUT_S:.1%} of the "
        "API server's 10 s timeout)",
        f"do-nothing stdlib HTTPS server: {base_rate:,.0f}/s",
        f"{rate / base_rate:.2f}x",
        where,
    )
    headline(
        "`podself webhook` resident memory",
        f"{after[names[1]] / 1024:.1f} MiB after {args.rss_requests:,} more reviews "
        f"({half[names[1]] / 1024:.1f} MiB half way)",
        f"do-nothing stdlib HTTPS server: {after[names[0]] / 1024:.1f} MiB",
        f"{after[names[1]] / after[names[0]]:.2f}x",
        where,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

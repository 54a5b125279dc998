"""The self-aware web service: ``GET /info``, ``GET /healthz`` and ``GET /`` on the standard
library's HTTP server, with request threads sized by ``podself.tuning`` and a feature flag and
log level that follow the pod's labels and annotations live.

Run it as the container's entrypoint through ``podself exec`` so ``{threads}`` is filled in::

    podself exec -- python -m app --threads {threads}
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import podself
import podself.logs
from podself.flags import Flags, apply_log_level
from podself.tuning import plan

__all__ = [
    "DEFAULT_PORT",
    "FEATURE_FLAG",
    "LOG_LEVEL_KEY",
    "App",
    "PooledHTTPServer",
    "build_parser",
    "info_document",
    "main",
    "make_server",
]

DEFAULT_PORT = 8080
FEATURE_FLAG = "feature-x"  # kubectl label pod NAME feature-x=enabled --overwrite
LOG_LEVEL_KEY = "log-level"  # kubectl label pod NAME log-level=debug --overwrite

log = logging.getLogger("app")


class PooledHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` whose requests run on a fixed pool of ``threads`` threads.

    The stock server starts one thread per connection, without bound; a pool sized from the
    pod's CPU limit keeps a burst from oversubscribing the CPUs the kernel will throttle to.
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: Callable[..., BaseHTTPRequestHandler],
        *,
        threads: int,
    ) -> None:
        if threads < 1:
            msg = f"threads {threads}: must be at least 1"
            raise ValueError(msg)
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Queue the connection on the pool instead of starting a thread for it."""
        self.pool.submit(self.process_request_thread, request, client_address)

    def server_close(self) -> None:
        """Close the socket, then let queued and running requests finish."""
        super().server_close()
        self.pool.shutdown(wait=True)


class App:
    """The service's state: the flags it follows and how its threads were sized."""

    def __init__(self, *, flags: Flags, threads: int, threads_from: str, port: int) -> None:
        self.flags = flags
        self.threads = threads
        self.threads_from = threads_from
        self.port = port
        self.started = time.time()

    def feature_x(self) -> bool:
        """The live value of the feature flag (``feature-x=enabled`` in labels/annotations)."""
        return self.flags.bool(FEATURE_FLAG)

    def log_level(self) -> str:
        """The root logger's level, which ``apply_log_level`` keeps in step with the pod."""
        return logging.getLevelName(logging.getLogger().level)


def _replicas(info: podself.PodInfo, problems: list[str]) -> int | None:
    """``APP_REPLICAS`` (kept equal to the StatefulSet's ``spec.replicas``), or ``None``."""
    text = info.app.get("replicas")
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 1:
        problems.append(f'APP_REPLICAS "{text}": must be a whole number >= 1; peers not listed')
        return None
    return value


def info_document(app: App) -> dict[str, Any]:
    """What ``GET /info`` answers: who am I, what may I use, how I sized myself, and where
    every value came from (``main`` re-reads the pod when its podinfo volume changes)."""
    info = podself.current()
    sizing = plan(info, log_warnings=False)
    problems: list[str] = []
    replicas = _replicas(info, problems)
    workload = info.workload
    return {
        "pod": {
            "name": info.name,
            "namespace": info.namespace,
            "uid": info.uid,
            "node_name": info.node_name,
            "pod_ip": info.pod_ip,
            "pod_ips": list(info.pod_ips),
            "host_ip": info.host_ip,
            "service_account": info.service_account,
            "container": info.container,
            "in_kubernetes": info.in_kubernetes,
            "labels": dict(info.labels),
            "annotations": dict(info.annotations),
        },
        "workload": {
            **workload.to_dict(),
            "dns_name": info.dns_name(),
            "replicas": replicas,
            "peers": info.peer_dns_names(replicas) if replicas else [],
        },
        "resources": info.resources.to_dict(),
        "plan": sizing.to_dict(),
        "server": {
            "port": app.port,
            "threads": app.threads,
            "threads_from": app.threads_from,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - app.started, 3),
        },
        "flags": {
            FEATURE_FLAG: {"value": app.feature_x(), "origin": app.flags.origin(FEATURE_FLAG)},
            LOG_LEVEL_KEY: {"value": app.log_level(), "origin": app.flags.origin(LOG_LEVEL_KEY)},
        },
        "app": dict(info.app),
        "sources": {k: {"kind": v.kind, "origin": v.origin} for k, v in info.sources.items()},
        "warnings": [*info.warnings, *sizing.warnings, *problems],
    }


def _handler_class(app: App) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "podself-demo/0.1"
        timeout = 10  # a silent client does not hold a pool thread for ever

        def do_GET(self) -> None:
            started = time.perf_counter()
            path = self.path.split("?", 1)[0]
            status: HTTPStatus
            body: dict[str, Any]
            if path == "/healthz":
                status, body = HTTPStatus.OK, {"status": "ok"}
            elif path == "/info":
                status, body = HTTPStatus.OK, info_document(app)
            elif path == "/":
                status, body = HTTPStatus.OK, self._hello()
            else:
                status, body = HTTPStatus.NOT_FOUND, {"error": f"no route {path}"}
            data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            log.debug(
                "%s %s %d",
                self.command,
                path,
                status,
                extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
            )

        def _hello(self) -> dict[str, Any]:
            info = podself.current()
            if app.feature_x():
                # The new code path, switched on by a label on the running pod.
                return {"message": f"hello from {info.name} (new API)", FEATURE_FLAG: True}
            return {"message": f"hello from {info.name}", FEATURE_FLAG: False}

        def log_message(self, format: str, *args: Any) -> None:
            # Requests are logged by do_GET as JSON; keep the stdlib's stderr lines for errors.
            return

        def log_error(self, format: str, *args: Any) -> None:
            log.warning(format, *args)

    return Handler


def make_server(app: App, host: str = "") -> PooledHTTPServer:
    """The HTTP server for ``app``, bound to ``host:app.port`` (``app.port`` 0 picks one)."""
    server = PooledHTTPServer((host, app.port), _handler_class(app), threads=app.threads)
    app.port = server.server_address[1]
    return server


def _threads(text: str) -> int:
    if "{" in text:
        msg = (
            f'"{text}" is a podself exec placeholder: start the app as '
            "podself exec -- python -m app --threads {threads}"
        )
        raise argparse.ArgumentTypeError(msg)
    try:
        value = int(text)
    except ValueError:
        msg = f'"{text}": must be a whole number >= 1'
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f'"{text}": must be a whole number >= 1'
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``python -m app``."""
    parser = argparse.ArgumentParser(
        prog="python -m app",
        description="A self-aware web service: GET /info, /healthz and / on one port.",
    )
    parser.add_argument(
        "--threads",
        type=_threads,
        help="request threads (default: podself.tuning.plan().threads for this pod)",
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"port (default: $APP_PORT, else {DEFAULT_PORT}; 0 picks a free one)",
    )
    parser.add_argument("--host", default="", help="address to bind (default: every address)")
    return parser


def _port(args: argparse.Namespace, info: podself.PodInfo) -> int:
    if args.port is not None:
        return int(args.port)
    text = info.app.get("port", str(DEFAULT_PORT))
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        msg = f'APP_PORT "{text}": must be a port number 0-65535'
        raise ValueError(msg)
    return port


def main(argv: Sequence[str] | None = None) -> int:
    """Run the service until SIGTERM or SIGINT; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Live levels come from the Flags below, so configure() does not follow them itself.
    setup = podself.logs.configure(live=False)
    info = podself.current()
    try:
        port = _port(args, info)
    except ValueError as exc:
        setup.close()
        parser.error(str(exc))
    sizing = plan(info)
    if args.threads is None:
        threads, threads_from = sizing.threads, f"podself.tuning plan: {sizing.reasons['threads']}"
    elif args.threads == sizing.threads:
        threads, threads_from = args.threads, f"--threads, as planned: {sizing.reasons['threads']}"
    else:
        threads = args.threads
        threads_from = f"--threads (the plan says {sizing.reasons['threads']})"

    flags = Flags(source="both")  # labels and annotations; an annotation wins
    apply_log_level(flags)

    def feature_changed(old: bool, new: bool) -> None:
        log.info(
            "%s: %s → %s (%s)",
            FEATURE_FLAG,
            "enabled" if old else "disabled",
            "enabled" if new else "disabled",
            flags.origin(FEATURE_FLAG),
            extra={"flag": FEATURE_FLAG, "old": old, "new": new},
        )

    flags.on_change(FEATURE_FLAG, feature_changed, kind=bool, default=False)
    flags.start()
    # Re-read the pod (labels, resized limits) once per committed volume update, not per
    # request: a warning about the pod is then logged once, not on every GET /info.
    refresher = None
    if os.path.isdir(flags.path):
        refresher = podself.Watcher(flags.path, lambda _change: podself.refresh()).start()

    app = App(flags=flags, threads=threads, threads_from=threads_from, port=port)
    try:
        server = make_server(app, args.host)
    except OSError as exc:
        log.error("cannot listen on port %d: %s", port, exc.strerror or exc)
        if refresher is not None:
            refresher.stop()
        flags.stop()
        setup.close()
        return 1

    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    accept = threading.Thread(target=server.serve_forever, name="http-accept", daemon=True)
    accept.start()
    log.info(
        "listening on port %d with %d request threads (%s)",
        app.port,
        threads,
        threads_from,
        extra={
            "port": app.port,
            "threads": threads,
            FEATURE_FLAG: app.feature_x(),
            "log_level": app.log_level(),
        },
    )
    stop.wait()
    log.info("stopping on %s", received[0] if received else "request")
    server.shutdown()
    server.server_close()
    if refresher is not None:
        refresher.stop()
    flags.stop()
    log.info("stopped")
    setup.close()
    return 0

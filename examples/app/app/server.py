"""The self-aware web service: ``GET /podinfo`` (also as ``/info``), ``GET /healthz`` and
``GET /`` on the standard library's WSGI server, with request threads sized by
``podself.tuning`` and a feature flag and log level that follow the pod's labels and
annotations live. ``/podinfo`` and ``/healthz`` come from ``podself.integrations.web``; the app
adds its own sections (server, flags, StatefulSet peers) to the document.

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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import podself
import podself.logs
from podself.flags import Flags, apply_log_level
from podself.integrations.web import PodInfoWSGI
from podself.tuning import Plan, PlanWatcher, plan

__all__ = [
    "DEFAULT_PORT",
    "FEATURE_FLAG",
    "LOG_LEVEL_KEY",
    "App",
    "PooledHTTPServer",
    "add_app_sections",
    "build_parser",
    "main",
    "make_server",
    "make_wsgi_app",
]

DEFAULT_PORT = 8080
FEATURE_FLAG = "feature-x"  # kubectl label pod NAME feature-x=enabled --overwrite
LOG_LEVEL_KEY = "log-level"  # kubectl label pod NAME log-level=debug --overwrite

log = logging.getLogger("app")


class PooledHTTPServer(WSGIServer):
    """The standard library's WSGI server, its requests run on a fixed pool of ``threads``.

    The stock servers run requests one at a time or start one thread per connection, without
    bound; a pool sized from the pod's CPU limit keeps a burst from oversubscribing the CPUs
    the kernel will throttle to.
    """

    def __init__(
        self,
        address: tuple[str, int],
        handler: Callable[..., WSGIRequestHandler],
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
        """Queue the connection on the pool instead of serving it in the accept thread."""
        self.pool.submit(self._serve, request, client_address)

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)

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


def add_app_sections(app: App, document: dict[str, Any]) -> None:
    """What this app adds to the ``/podinfo`` document (``podself.integrations.web``'s): its
    StatefulSet peers, how its server was sized and its live flags. ``main`` re-reads the pod
    when its podinfo volume changes, so the document follows label changes."""
    info = podself.current()
    problems: list[str] = []
    replicas = _replicas(info, problems)
    document["workload"]["replicas"] = replicas
    document["workload"]["peers"] = info.peer_dns_names(replicas) if replicas else []
    document["server"] = {
        "port": app.port,
        "threads": app.threads,
        "threads_from": app.threads_from,
        "pid": os.getpid(),
        "uptime_s": round(time.time() - app.started, 3),
    }
    document["flags"] = {
        FEATURE_FLAG: {"value": app.feature_x(), "origin": app.flags.origin(FEATURE_FLAG)},
        LOG_LEVEL_KEY: {"value": app.log_level(), "origin": app.flags.origin(LOG_LEVEL_KEY)},
    }
    document["warnings"].extend(problems)


def _json(status: str, body: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    data = (json.dumps(body, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    start_response(
        status,
        [("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]


def make_wsgi_app(app: App) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """The service as a WSGI app: ``/podinfo`` (and ``/info``) and ``/healthz`` from
    ``PodInfoWSGI``, ``/`` here; every request logged at DEBUG with its duration."""

    def routes(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path != "/":
            return _json("404 Not Found", {"error": f"no route {path}"}, start_response)
        info = podself.current()
        if app.feature_x():
            # The new code path, switched on by a label on the running pod.
            body = {"message": f"hello from {info.name} (new API)", FEATURE_FLAG: True}
        else:
            body = {"message": f"hello from {info.name}", FEATURE_FLAG: False}
        return _json("200 OK", body, start_response)

    served = PodInfoWSGI(
        routes,
        path=("/podinfo", "/info"),
        extra=lambda document: add_app_sections(app, document),
    )

    def logged(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses: list[str] = []

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            statuses.append(status.split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        body = served(environ, start)
        log.debug(
            "%s %s %s",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            statuses[0] if statuses else "-",
            extra={"duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )
        return body

    return logged


class _Handler(WSGIRequestHandler):
    timeout = 10  # a silent client does not hold a pool thread for ever

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are logged by the WSGI app as JSON; the stdlib's stderr lines go.
        return

    def log_error(self, format: str, *args: Any) -> None:
        log.warning(format, *args)


def make_server(app: App, host: str = "") -> PooledHTTPServer:
    """The HTTP server for ``app``, bound to ``host:app.port`` (``app.port`` 0 picks one)."""
    server = PooledHTTPServer((host, app.port), _Handler, threads=app.threads)
    server.set_app(make_wsgi_app(app))
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
        description="A self-aware web service: GET /podinfo, /healthz and / on one port.",
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

    def plan_changed(new: Plan, old: Plan) -> None:
        # An in-place resize: the cgroup and the podinfo volume changed under the running
        # process (env keeps its start values). A pool sized at start keeps its size.
        before, after = old.numbers(), new.numbers()
        shown = ("cpu_millicores", "memory_mb", "workers", "threads", "cache_mb", "connections")
        log.info(
            "resized in place: %s",
            ", ".join(f"{k} {before[k]} → {after[k]}" for k in shown if before[k] != after[k]),
            extra={"plan": after, "cpu_from": new.cpu_from, "memory_from": new.memory_from},
        )

    # Re-read the pod (labels, resized limits) once per committed volume update, not per
    # request: a warning about the pod is then logged once, not on every GET /info.
    plans = PlanWatcher(plan_changed)  # checked on each volume update, not on its timer
    refresher = None
    if os.path.isdir(flags.path):
        refresher = podself.Watcher(flags.path, lambda _change: plans.check()).start()

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

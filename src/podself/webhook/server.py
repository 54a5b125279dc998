"""The webhook's HTTPS server: standard library ``http.server`` and ``ssl`` only.

- ``POST /mutate``: pods whose namespace opted in (the MutatingWebhookConfiguration's
  namespaceSelector); ``POST /mutate/annotated``: every other pod, injected only when
  annotated ``podself.dev/inject: "true"``. See :mod:`podself.webhook.admission`.
- ``GET /healthz`` (the process answers), ``GET /readyz`` (a certificate is loaded and the
  server is not draining), ``GET /metrics`` (Prometheus text format).

Every bound hostile input controls is here: the body size (413 before reading it), the time a
connection may take for its TLS handshake, for each request (from its first line to the
answer) and idle between requests, and how many connections are served at once (at the limit
the connection idle the longest makes room; with none idle, the new one is closed rather than
queued, and the API server applies ``failurePolicy: Ignore``).

The certificate and key are read from a directory (a mounted ``kubernetes.io/tls`` Secret:
``tls.crt``, ``tls.key``) as one consistent snapshot, and read again when the kubelet swaps
its ``..data`` (:class:`podself.watcher.Watcher`): new connections get the new certificate,
with no restart. A pair that does not load keeps the previous one in use.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from podself import atomic
from podself.errors import WebhookError
from podself.integrations.prometheus import CONTENT_TYPE, Family, render
from podself.manifest.inject import InjectOptions
from podself.webhook.admission import review
from podself.webhook.certs import CERT_FILE, KEY_FILE

__all__ = [
    "CertificateStore",
    "Metrics",
    "ServerConfig",
    "WebhookServer",
]

_MAX_PEM_BYTES: Final = 1 << 20
# Latency buckets (seconds), below the API server's 1-30 s webhook timeouts.
_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ERROR_KINDS: Final = (
    "handshake",
    "connection",
    "connection_limit",
    "too_large",
    "bad_length",
    "short_body",
    "no_certificate",
    "internal",
)
_MUTATE_PATHS: Final = {"/mutate": False, "/mutate/annotated": True}

_log = logging.getLogger("podself.webhook")


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """How the server listens and what it bounds (sizes in bytes, times in seconds)."""

    host: str = ""
    port: int = 8443
    options: InjectOptions = field(default_factory=InjectOptions)
    max_body: int = 4 << 20
    max_connections: int = 64
    handshake_timeout: float = 5.0
    request_timeout: float = 10.0
    idle_timeout: float = 30.0


class Metrics:
    """Counters and the latency histogram, rendered in the Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # every series from the start: rate() and alerts need a 0 before the first event
        self.requests = dict.fromkeys(("patched", "unchanged", "skipped", "error", "invalid"), 0)
        self.patch_ops = 0
        self.errors = dict.fromkeys(_ERROR_KINDS, 0)
        self.reloads: dict[str, int] = {"success": 0, "failure": 0}
        self.buckets = [0] * len(_BUCKETS)
        self.count = 0
        self.total = 0.0
        self.in_flight = 0

    def request(self, outcome: str, ops: int, seconds: float) -> None:
        with self._lock:
            self.requests[outcome] = self.requests.get(outcome, 0) + 1
            self.patch_ops += ops
            self.count += 1
            self.total += seconds
            for index, bound in enumerate(_BUCKETS):
                if seconds <= bound:
                    self.buckets[index] += 1

    def error(self, kind: str) -> None:
        with self._lock:
            self.errors[kind] = self.errors.get(kind, 0) + 1

    def reload(self, ok: bool) -> None:
        with self._lock:
            self.reloads["success" if ok else "failure"] += 1

    def busy(self, delta: int) -> None:
        with self._lock:
            self.in_flight += delta

    def exposition(self, ready: bool) -> str:
        with self._lock:
            families = [
                Family(
                    "podself_webhook_requests_total",
                    "AdmissionReviews answered, by outcome (patched, unchanged, skipped, "
                    "error: allowed unchanged after a failure, invalid: HTTP 400).",
                    [({"outcome": k}, v) for k, v in sorted(self.requests.items())],
                    "counter",
                ),
                Family(
                    "podself_webhook_patch_operations_total",
                    "JSON Patch operations returned.",
                    [({}, self.patch_ops)],
                    "counter",
                ),
                Family(
                    "podself_webhook_errors_total",
                    "Connections or requests that failed before an answer, by kind.",
                    [({"kind": k}, v) for k, v in sorted(self.errors.items())],
                    "counter",
                ),
                Family(
                    "podself_webhook_certificate_reloads_total",
                    "Certificate reloads after the Secret changed, by result.",
                    [({"result": k}, v) for k, v in sorted(self.reloads.items())],
                    "counter",
                ),
                Family(
                    "podself_webhook_in_flight",
                    "Requests being answered.",
                    [({}, self.in_flight)],
                    "gauge",
                ),
                Family(
                    "podself_webhook_ready",
                    "Whether /readyz answers 200.",
                    [({}, int(ready))],
                    "gauge",
                ),
            ]
            name = "podself_webhook_request_duration_seconds"
            lines = [
                f"# HELP {name} Time from a request's first line to its answer.",
                f"# TYPE {name} histogram",
            ]
            lines += [
                f'{name}_bucket{{le="{b}"}} {n}'
                for b, n in zip(_BUCKETS, self.buckets, strict=True)
            ]
            lines += [
                f'{name}_bucket{{le="+Inf"}} {self.count}',
                f"{name}_sum {self.total!r}",
                f"{name}_count {self.count}",
            ]
        return render(families) + "\n".join(lines) + "\n"


@contextlib.contextmanager
def _pem_files(*contents: bytes) -> Iterator[list[str]]:
    """Paths from which ``load_cert_chain`` (which reads files only) reads ``contents``: memory
    files on Linux (the key never reaches a disk, and the root filesystem may be read-only),
    else a private temporary directory; both gone on exit."""
    memfd = getattr(os, "memfd_create", None)
    if memfd is not None and os.path.isdir("/proc/self/fd"):
        fds = [memfd("podself-tls", getattr(os, "MFD_CLOEXEC", 0)) for _ in contents]
        try:
            for fd, data in zip(fds, contents, strict=True):
                os.write(fd, data)
            yield [f"/proc/self/fd/{fd}" for fd in fds]
        finally:
            for fd in fds:
                os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="podself-tls-") as private:
        paths = []
        for index, data in enumerate(contents):
            path = os.path.join(private, str(index))
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            paths.append(path)
        yield paths


class CertificateStore:
    """The serving :class:`ssl.SSLContext`, made from ``directory``'s current pair."""

    def __init__(self, directory: str | os.PathLike[str], metrics: Metrics | None = None) -> None:
        self.directory = os.fspath(directory)
        self.metrics = metrics
        self._context: ssl.SSLContext | None = None
        self._version: object = None
        self._watcher: Any = None

    @property
    def context(self) -> ssl.SSLContext | None:
        """The context new connections use (``None`` before the first pair loads)."""
        return self._context

    def load(self) -> None:
        """Read both files from one version of the directory and make a new context; raises
        :class:`WebhookError` (the current context stays in use)."""
        try:
            snapshot = atomic.read_snapshot(
                self.directory, [CERT_FILE, KEY_FILE], max_bytes=_MAX_PEM_BYTES
            )
        except OSError as exc:
            msg = f'certificate directory "{self.directory}": cannot read: {exc.strerror or exc}'
            raise WebhookError(msg) from None
        if snapshot.missing:
            msg = (
                f'certificate directory "{self.directory}": {", ".join(snapshot.missing)} missing '
                f"or unreadable (a kubernetes.io/tls Secret has {CERT_FILE} and {KEY_FILE})"
            )
            raise WebhookError(msg)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])  # no HTTP/2 here: clients fall back at once
        try:
            with _pem_files(snapshot.files[CERT_FILE], snapshot.files[KEY_FILE]) as (cert, key):
                context.load_cert_chain(cert, key)
        except (ssl.SSLError, ValueError) as exc:
            msg = (
                f'certificate directory "{self.directory}": {CERT_FILE} and {KEY_FILE} do not '
                f"load as a PEM certificate chain and its key: {exc}"
            )
            raise WebhookError(msg) from None
        self._context = context
        self._version = snapshot.version

    def _changed(self, _change: object) -> None:
        try:
            self.load()
        except WebhookError as exc:
            _log.error("%s; still serving the previous certificate", exc)
            if self.metrics:
                self.metrics.reload(ok=False)
            return
        _log.info('certificate reloaded from "%s" (%s)', self.directory, self._version)
        if self.metrics:
            self.metrics.reload(ok=True)

    def watch(self) -> None:
        """Reload on every committed change of the directory, from a daemon thread."""
        from podself.watcher import Watcher

        self._watcher = Watcher(self.directory, self._changed).start()

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None


class _Deadlines:
    """Closes connections that pass their deadline: one thread for all of them, so a client
    that sends a byte every few seconds cannot hold a connection for longer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deadlines: dict[socket.socket, float] = {}
        self._busy: set[socket.socket] = set()
        self._draining = False
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="podself-webhook-deadlines", daemon=True
        )
        self._thread.start()

    def arm(self, sock: socket.socket, seconds: float, busy: bool) -> None:
        with self._lock:
            self._deadlines[sock] = time.monotonic() + seconds
            (self._busy.add if busy else self._busy.discard)(sock)
            if self._draining and not busy:
                self._deadlines[sock] = 0.0

    def disarm(self, sock: socket.socket) -> None:
        with self._lock:
            self._deadlines.pop(sock, None)
            self._busy.discard(sock)

    def evict_idle(self) -> bool:
        """Close the connection that has waited longest for its next request, if any."""
        with self._lock:
            idle = [(d, s) for s, d in self._deadlines.items() if s not in self._busy]
            if not idle:
                return False
            _, sock = min(idle, key=lambda pair: pair[0])
            del self._deadlines[sock]
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)
        return True

    def drain(self) -> None:
        """From now on, idle connections are closed rather than kept for the next request."""
        with self._lock:
            self._draining = True
            for sock in self._deadlines:
                if sock not in self._busy:
                    self._deadlines[sock] = 0.0

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            now = time.monotonic()
            with self._lock:
                late = [s for s, d in self._deadlines.items() if d <= now]
                for sock in late:
                    del self._deadlines[sock]
            for sock in late:
                # the plain socket's shutdown: the handler's blocked read ends at once
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the API server reuses its connections
    server: WebhookServer

    def version_string(self) -> str:
        return "podself-webhook"

    def setup(self) -> None:
        super().setup()
        self._started = time.monotonic()

    def handle_one_request(self) -> None:
        config = self.server.config
        self.server.deadlines.arm(self.connection, config.idle_timeout, busy=False)
        super().handle_one_request()

    def parse_request(self) -> bool:
        # The first line is in: the rest of this request has request_timeout in all.
        self._started = time.monotonic()
        self.server.deadlines.arm(self.connection, self.server.config.request_timeout, busy=True)
        return super().parse_request()

    def _send(self, status: int, body: bytes, ctype: str = "text/plain; charset=utf-8") -> None:
        if self.server.draining:
            self.close_connection = True  # the client opens its next one elsewhere
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _discard(self, length: int) -> None:
        """Read what the client is still sending before closing: closed unread, the socket
        would reset, and the client could lose the answer already sent."""
        with contextlib.suppress(OSError):
            while length > 0:
                chunk = self.rfile.read1(min(length, 65536))
                if not chunk:
                    break
                length -= len(chunk)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        server = self.server
        if path == "/healthz":
            self._send(200, b"ok\n")
        elif path == "/readyz":
            ready = server.ready
            self._send(200 if ready else 503, b"ok\n" if ready else b"not ready\n")
        elif path == "/metrics":
            self._send(200, server.metrics.exposition(server.ready).encode(), CONTENT_TYPE)
        else:
            self._send(404, b"not found\n")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        length_text = self.headers.get("Content-Length")
        config = self.server.config
        if self.headers.get("Transfer-Encoding") or length_text is None:
            self.close_connection = True
            self._send(411, b"Content-Length required\n")
            return
        try:
            length = int(length_text)
        except ValueError:
            length = -1
        if length < 0 or length > config.max_body:
            self.close_connection = True
            self.server.metrics.error("too_large" if length > 0 else "bad_length")
            self._send(
                413, f"body over {config.max_body} bytes, or a bad Content-Length\n".encode()
            )
            self._discard(min(length, config.max_body))
            return
        require_annotation = _MUTATE_PATHS.get(self.path.split("?", 1)[0])
        if require_annotation is None:
            self._discard(length)
            self._send(404, b"not found; AdmissionReviews go to /mutate\n")
            return
        metrics = self.server.metrics
        metrics.busy(1)
        try:
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True
                metrics.error("short_body")
                return
            answer = review(body, config.options, require_annotation=require_annotation)
            if answer.status == 200:
                self._send(200, answer.body, "application/json")
            else:
                self._send(answer.status, answer.body)
            metrics.request(answer.outcome, answer.operations, time.monotonic() - self._started)
        finally:
            metrics.busy(-1)

    def log_message(self, format: str, *args: Any) -> None:
        return  # one log line per pod would flood; the metrics count them

    def log_error(self, format: str, *args: Any) -> None:
        _log.debug(format, *args)


class WebhookServer(ThreadingHTTPServer):
    """The HTTPS server; :meth:`start` serves from a thread, :meth:`drain` stops it."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self, config: ServerConfig, certificates: CertificateStore, metrics: Metrics
    ) -> None:
        self.config = config
        self.certificates = certificates
        self.metrics = metrics
        self.draining = False
        self._slots = threading.BoundedSemaphore(config.max_connections)
        self._active = 0
        self._idle = threading.Condition()
        self._thread: threading.Thread | None = None
        host = config.host
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, config.port), _Handler)
        self.deadlines = _Deadlines()  # once listening: a failed bind leaves no thread behind

    @property
    def ready(self) -> bool:
        return self.certificates.context is not None and not self.draining

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        # At the limit, a kept-alive connection that waits for its next request makes room:
        # the API server keeps idle connections, and they must not shut new ones out.
        if not self._slots.acquire(blocking=False) and not (
            self.deadlines.evict_idle() and self._slots.acquire(timeout=1.0)
        ):
            self.metrics.error("connection_limit")
            self.shutdown_request(request)
            return
        with self._idle:
            self._active += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        self._slots.release()
        with self._idle:
            self._active -= 1
            self._idle.notify_all()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the connection's own thread, bounded in time.
        context = self.certificates.context
        if context is None:
            self.metrics.error("no_certificate")
            return
        # Answers go out at once: with Nagle's algorithm, the body waits for the client's
        # delayed ACK of the headers (40 ms on Linux). Go's HTTP clients and servers do the same.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        request.settimeout(self.config.handshake_timeout)
        self.deadlines.arm(request, self.config.handshake_timeout, busy=True)
        try:
            tls = context.wrap_socket(request, server_side=True)
        except (OSError, ValueError):
            self.metrics.error("handshake")
            return
        finally:
            self.deadlines.disarm(request)
        tls.settimeout(self.config.request_timeout)
        try:
            _Handler(tls, client_address, self)
        finally:
            self.deadlines.disarm(tls)
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up, times out or is cut at its deadline is not our error.
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            self.metrics.error("connection")
            return
        self.metrics.error("internal")
        _log.exception("connection from %s: unexpected error", client_address)

    def start(self) -> WebhookServer:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="podself-webhook",
            daemon=True,
        )
        self._thread.start()
        return self

    def drain(
        self,
        delay: float = 0.0,
        timeout: float = 10.0,
        wait: Callable[[float], object] = time.sleep,
    ) -> bool:
        """Stop: /readyz fails at once; after ``delay`` (for the endpoints to drop this pod)
        stop accepting, close idle connections and wait up to ``timeout`` for the requests in
        flight. Returns whether every connection ended in time."""
        self.draining = True
        if delay > 0:
            wait(delay)
        self.shutdown()
        self.server_close()
        self.deadlines.drain()
        end = time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            done = not self._active
        self.deadlines.stop()
        self.certificates.close()
        return done

"""Prometheus metrics for this pod, standard library only: an info metric with the pod's
identity, its limits and requests, and the sizing plan.

::

    podself_pod_info{namespace="shop",pod="web-0",node="node-3",container="app",…} 1
    podself_cpu_limit_cores 0.5
    podself_memory_limit_bytes 268435456
    podself_plan_workers 1

- :func:`exposition` returns the text exposition format (0.0.4), what a scrape reads;
- :func:`start_http_server` serves it on ``/metrics`` from a daemon thread
  (:class:`MetricsHandler` is the ``http.server`` handler);
- :class:`PodCollector` adds the same metrics to a ``prometheus_client`` registry, for apps
  that already expose one (``prometheus_client`` is imported by its ``collect()`` only);
- :func:`reload_families` are the ``podself watch`` sidecar's reload metrics
  (``podself watch --metrics-addr``).

Values are read at each scrape from ``podself.current()`` (or the ``info`` given) and
:func:`podself.tuning.plan`; unknown values are left out, never written as 0.
"""

from __future__ import annotations

import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from podself.logs.fields import Selector, workload_names
from podself.pod import PodInfo

if TYPE_CHECKING:
    from podself.reloader import ReloadMetrics

__all__ = [
    "CONTENT_TYPE",
    "Family",
    "MetricsHandler",
    "PodCollector",
    "exposition",
    "families",
    "reload_families",
    "render",
    "start_http_server",
]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MILLICORES_PER_CORE = 1000
_LABEL_NAME_BAD = re.compile(r"[^a-zA-Z0-9_]")
_MAX_CONNECTIONS = 16  # scrapes served at once; more are closed at once, not queued


class Family:
    """One metric family: name, help, type and its samples (labels, value)."""

    __slots__ = ("help", "name", "samples", "type")

    def __init__(
        self, name: str, help: str, samples: list[tuple[dict[str, str], float]], type: str
    ) -> None:
        self.name = name
        self.help = help
        self.type = type
        self.samples = samples


def _label_name(key: str) -> str:
    """A pod label key as a Prometheus label name, as kube-state-metrics writes them:
    ``label_`` + the key with every character outside ``[a-zA-Z0-9_]`` replaced by ``_``."""
    return "label_" + _LABEL_NAME_BAD.sub("_", key)


def _identity(info: PodInfo, labels: Selector) -> dict[str, str]:
    values = {
        "namespace": info.namespace,
        "pod": info.name,
        "uid": info.uid,
        "node": info.node_name,
        "container": info.container,
        "pod_ip": info.pod_ip,
        "host_ip": info.host_ip,
        "service_account": info.service_account,
        "workload_kind": info.workload.kind,
        "workload_name": info.workload.name,
    }
    replicaset = workload_names(info).get("replicaset")
    if replicaset:
        values["replicaset"] = replicaset
    out = {name: value for name, value in values.items() if value}
    for key, value in labels.select(info.labels).items():
        out.setdefault(_label_name(key), value)  # two keys may sanitize alike: the first wins
    return out


def families(
    info: PodInfo | None = None,
    *,
    labels: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    plan: bool = True,
) -> list[Family]:
    """The metric families for ``info`` (default ``podself.current()``).

    ``labels`` (``True`` or globs; ``deny`` globs; secret-like keys never) adds pod labels to
    ``podself_pod_info`` as ``label_<key>``. ``plan=False`` leaves out ``podself_plan_*``.
    """
    if info is None:
        import podself

        info = podself.current()
    out = [
        Family(
            "podself_pod_info",
            "The pod this process runs in (always 1; its identity is in the labels).",
            [(_identity(info, Selector.of(labels, deny)), 1)],
            "gauge",
        )
    ]
    res = info.resources
    for name, what, value, divisor in (
        ("podself_cpu_limit_cores", "CPU limit", res.cpu_limit, _MILLICORES_PER_CORE),
        ("podself_cpu_request_cores", "CPU request", res.cpu_request, _MILLICORES_PER_CORE),
        ("podself_memory_limit_bytes", "Memory limit", res.memory_limit, 1),
        ("podself_memory_request_bytes", "Memory request", res.memory_request, 1),
    ):
        if value is not None:
            unit = "cores" if divisor != 1 else "bytes"
            number = value / divisor if divisor != 1 else value
            out.append(
                Family(name, f"{what} of the container, in {unit}.", [({}, number)], "gauge")
            )
    if plan:
        from podself.tuning import plan as make_plan

        sizing = make_plan(info, log_warnings=False)
        for field, help_text in (
            ("workers", "Worker processes podself.tuning plans for this pod."),
            ("threads", "Threads per worker podself.tuning plans for this pod."),
        ):
            out.append(
                Family(f"podself_plan_{field}", help_text, [({}, getattr(sizing, field))], "gauge")
            )
    return out


def reload_families(metrics: ReloadMetrics) -> list[Family]:
    """The reload metrics of a :class:`~podself.reloader.Reloader` (``podself watch``).

    A round (every action run once for one change, with its retries) is a success when every
    action succeeded. Timestamps and the last duration are left out until the first round.
    """
    values = metrics.snapshot()
    out = [
        Family(
            "podself_reloads_total",
            "Rounds of reload actions, by result (success: every action succeeded).",
            [
                ({"result": "success"}, values["success"] or 0),
                ({"result": "failure"}, values["failure"] or 0),
            ],
            "counter",
        ),
        Family(
            "podself_watched_directories",
            "Directories podself watch is watching.",
            [({}, values["watched"] or 0)],
            "gauge",
        ),
    ]
    for name, key, help_text in (
        (
            "podself_last_reload_successful",
            "last_ok",
            "Whether every action of the last round succeeded (1) or not (0).",
        ),
        (
            "podself_last_reload_timestamp_seconds",
            "last",
            "When the last round of reload actions ended, in seconds since the Unix epoch.",
        ),
        (
            "podself_last_reload_success_timestamp_seconds",
            "last_success",
            "When the last successful round ended, in seconds since the Unix epoch.",
        ),
        (
            "podself_last_reload_duration_seconds",
            "duration",
            "How long the actions of the last round took, retries included.",
        ),
    ):
        value = values[key]
        if value is not None:
            out.append(Family(name, help_text, [({}, value)], "gauge"))
    return out


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


def render(found: Iterable[Family]) -> str:
    """Families in the text exposition format 0.0.4 (one ``# HELP``/``# TYPE`` each)."""
    lines: list[str] = []
    for family in found:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.type}")
        for labels, value in family.samples:
            if labels:
                body = ",".join(f'{k}="{_escape_value(v)}"' for k, v in labels.items())
                lines.append(f"{family.name}{{{body}}} {_number(value)}")
            else:
                lines.append(f"{family.name} {_number(value)}")
    return "\n".join(lines) + "\n" if lines else ""


def exposition(
    info: PodInfo | None = None,
    *,
    labels: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    plan: bool = True,
) -> str:
    """The text a Prometheus scrape reads (``Content-Type``: :data:`CONTENT_TYPE`)."""
    return render(families(info, labels=labels, deny=deny, plan=plan))


class MetricsHandler(BaseHTTPRequestHandler):
    """``GET /metrics``: :func:`exposition` of ``podself.current()``; 404 elsewhere.

    Subclass and set ``exposition`` to change what is served (e.g. with pod labels).
    """

    exposition: Callable[[], str] = staticmethod(exposition)
    timeout = 10  # a silent client does not hold a thread for ever

    def do_GET(self) -> None:
        """Serve the metrics."""
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        """Headers only."""
        self._answer(send_body=False)

    def _answer(self, send_body: bool) -> None:
        if self.path.split("?", 1)[0] == "/metrics":
            status, body, ctype = HTTPStatus.OK, type(self).exposition(), CONTENT_TYPE
        else:
            status, body, ctype = HTTPStatus.NOT_FOUND, "not found\n", "text/plain; charset=utf-8"
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if send_body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""
        return


class _BoundedServer(ThreadingHTTPServer):
    """A thread per connection, at most ``_MAX_CONNECTIONS`` at once: a flood of idle
    connections costs closed sockets, not threads (each one is held ``handler.timeout`` at
    most)."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        self._slots = threading.BoundedSemaphore(_MAX_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A scraper that hangs up or times out is not an error of ours: no traceback on stderr.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _BoundedServer6(_BoundedServer):
    address_family = socket.AF_INET6


def start_http_server(
    port: int, host: str = "", handler: type[MetricsHandler] = MetricsHandler
) -> ThreadingHTTPServer:
    """Serve ``/metrics`` on ``host:port`` from a daemon thread; ``port`` 0 picks a free one
    (``server.server_address[1]``); an IPv6 ``host`` (``::``) listens on IPv6. At most 16
    connections are served at once, each for 10 s at most. ``server.shutdown()`` stops it."""
    kind = _BoundedServer6 if ":" in host else _BoundedServer
    server = kind((host, port), handler)
    thread = threading.Thread(target=server.serve_forever, name="podself-metrics", daemon=True)
    thread.start()
    return server


class PodCollector:
    """A ``prometheus_client`` collector with the same metrics as :func:`exposition`::

        from prometheus_client import REGISTRY
        REGISTRY.register(PodCollector())

    ``podself_pod_info`` is an info metric there (``info`` type in OpenMetrics).
    """

    def __init__(
        self,
        info: PodInfo | None = None,
        *,
        labels: bool | Iterable[str] | str | None = None,
        deny: Iterable[str] | str = (),
        plan: bool = True,
    ) -> None:
        self.info = info
        self._options: dict[str, Any] = {
            "labels": labels if isinstance(labels, bool | str | None) else tuple(labels),
            "deny": deny if isinstance(deny, str) else tuple(deny),
            "plan": plan,
        }

    def collect(self) -> Iterator[Any]:
        """The metric families, read now."""
        from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily

        for family in families(self.info, **self._options):
            if family.name == "podself_pod_info":
                [(labels, _)] = family.samples
                yield InfoMetricFamily("podself_pod", family.help, value=labels)
                continue
            gauge = GaugeMetricFamily(family.name, family.help)
            for labels, value in family.samples:
                gauge.add_metric(list(labels.values()), value)
            yield gauge

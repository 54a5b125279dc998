"""``/podinfo`` and ``/healthz`` for any WSGI or ASGI app, standard library only.

::

    # Flask (or any WSGI app)
    app.wsgi_app = PodInfoWSGI(app.wsgi_app, header="X-Pod-Name")

    # FastAPI / Starlette (or any ASGI app)
    app.add_middleware(PodInfoASGI, header="X-Pod-Name")

    # nothing else: a WSGI / ASGI app of its own (404 for every other path)
    application = PodInfoWSGI()

``GET /podinfo`` answers :func:`podinfo_document` as JSON: who this pod is, its limits, the
sizing plan with its reasons, where each value came from, and every warning met reading them.
``GET /healthz`` answers ``{"status": "ok"}``; with ``metrics_path="/metrics"`` that path
answers :func:`podself.integrations.prometheus.exposition`. Every other request goes to the
wrapped app;
with ``header`` each response (the app's too) carries the pod's name in that header.

The document is read at each request from ``podself.current()``: refresh it when the pod's
volume changes (``podself.Watcher(..., lambda _: podself.refresh())``). It names internal IPs,
labels and annotations (secret-like keys never): serve it where only the cluster can reach it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from http import HTTPStatus
from typing import Any

from podself.logs.fields import Selector
from podself.logs.otel import service_instance_id
from podself.pod import PodInfo

__all__ = ["PodInfoASGI", "PodInfoWSGI", "podinfo_document"]

Document = dict[str, Any]
Extra = Callable[[Document], object]
Source = PodInfo | Callable[[], PodInfo] | None
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_ALL = Selector.of(True)  # every key but the secret-like ones
_JSON = "application/json; charset=utf-8"
_ALLOW = "GET, HEAD"


def podinfo_document(info: PodInfo | None = None) -> Document:
    """What ``GET /podinfo`` answers for ``info`` (default ``podself.current()``).

    ``pod`` (identity, labels and annotations without secret-like keys), ``workload`` (with
    its stable DNS name), ``resources`` (this container's own), ``containers`` (the limits the
    podinfo volume gives for each container, ``PodInfo.containers``), ``plan``
    (:func:`podself.tuning.plan` with its reasons), ``process`` (pid and this process's
    ``service.instance.id``), ``app`` (``APP_*`` settings), ``sources`` (where each value came
    from) and ``warnings``.
    """
    from podself.tuning import plan

    if info is None:
        import podself

        info = podself.current()
    sizing = plan(info, log_warnings=False)
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
            "labels": _ALL.select(info.labels),
            "annotations": _ALL.select(info.annotations),
        },
        "workload": {**info.workload.to_dict(), "dns_name": info.dns_name()},
        "resources": info.resources.to_dict(),
        "containers": {name: r.to_dict() for name, r in info.containers.items()},
        "plan": sizing.to_dict(),
        "process": {"pid": os.getpid(), "service.instance.id": service_instance_id(info)},
        "app": dict(info.app),
        "sources": {k: {"kind": v.kind, "origin": v.origin} for k, v in info.sources.items()},
        "warnings": [*info.warnings, *sizing.warnings],
    }


def _header_value(name: str | None) -> str | None:
    # A header value must be visible ASCII; a pod name always is, but env can say anything.
    if name and name.isascii() and name.isprintable():
        return name
    return None


class _Routes:
    """What both middlewares share: the paths, the document and the header."""

    def __init__(
        self,
        path: str | Iterable[str],
        *,
        health_path: str | None,
        header: str | None,
        extra: Extra | None,
        info: Source,
        metrics_path: str | None,
    ) -> None:
        self.paths = frozenset((path,) if isinstance(path, str) else path)
        self.health_path = health_path
        self.metrics_path = metrics_path
        if header is not None and not (header.isascii() and header.replace("-", "").isalnum()):
            msg = f"header {header!r}: must be a header name (letters, digits and '-')"
            raise ValueError(msg)
        self.header = header
        self.extra = extra
        self.info = info

    def pod_info(self) -> PodInfo:
        if self.info is None:
            import podself

            return podself.current()
        return self.info() if callable(self.info) else self.info

    def headers(self) -> list[tuple[str, str]]:
        if self.header is None:
            return []
        value = _header_value(self.pod_info().name)
        return [(self.header, value)] if value else []

    def answer(self, method: str, path: str) -> tuple[HTTPStatus, bytes, list[tuple[str, str]]]:
        """Status, JSON body and headers for a request to one of our paths."""
        extra_headers = [("Content-Type", _JSON), ("Cache-Control", "no-store")]
        if method not in ("GET", "HEAD"):
            body: object = {"error": f"method {method} not allowed on {path}; use GET"}
            return HTTPStatus.METHOD_NOT_ALLOWED, _json(body), [*extra_headers, ("Allow", _ALLOW)]
        if path == self.health_path:
            return HTTPStatus.OK, _json({"status": "ok"}), extra_headers
        if path == self.metrics_path:
            from podself.integrations.prometheus import CONTENT_TYPE, exposition

            text = exposition(self.pod_info()).encode("utf-8")
            return HTTPStatus.OK, text, [("Content-Type", CONTENT_TYPE), extra_headers[1]]
        document = podinfo_document(self.pod_info())
        if self.extra is not None:
            self.extra(document)
        return HTTPStatus.OK, _json(document), extra_headers

    def ours(self, path: str) -> bool:
        return path in self.paths or path in (self.health_path, self.metrics_path)


def _json(body: object) -> bytes:
    return (json.dumps(body, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def _not_found(path: str) -> bytes:
    return _json({"error": f"no route {path}"})


class _Middleware:
    """What both middlewares hold: the wrapped app and the routes they answer themselves."""

    app: Any

    def __init__(
        self,
        app: Any = None,
        *,
        path: str | Iterable[str] = "/podinfo",
        health_path: str | None = "/healthz",
        header: str | None = None,
        extra: Extra | None = None,
        info: Source = None,
        metrics_path: str | None = None,
    ) -> None:
        self.app = app
        self._routes = _Routes(
            path,
            health_path=health_path,
            header=header,
            extra=extra,
            info=info,
            metrics_path=metrics_path,
        )


class PodInfoWSGI(_Middleware):
    """WSGI middleware (or, without ``app``, a WSGI app) serving ``/podinfo`` and ``/healthz``.

    Args:
        app: the WSGI app for every other path (``None``: a JSON 404).
        path: the podinfo path, or several (``("/podinfo", "/info")``).
        health_path: the health path (``None``: none, requests go to ``app``).
        header: a response header carrying the pod's name on every response, e.g.
            ``"X-Pod-Name"`` (``None``: none).
        extra: called with each podinfo document before it is sent, to add to it.
        info: the ``PodInfo``, or a callable giving it (default ``podself.current()``).
        metrics_path: serve the Prometheus exposition there too (``None``: not served).
    """

    app: WSGIApp | None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Answer our paths; pass the rest to ``app`` with the pod header added."""
        routes = self._routes
        path = environ.get("PATH_INFO") or "/"
        method = environ.get("REQUEST_METHOD", "GET")
        if routes.ours(path) or self.app is None:
            if routes.ours(path):
                status, body, headers = routes.answer(method, path)
            else:
                status, body = HTTPStatus.NOT_FOUND, _not_found(path)
                headers = [("Content-Type", _JSON)]
            headers = [*headers, ("Content-Length", str(len(body))), *routes.headers()]
            start_response(f"{status.value} {status.phrase}", headers)
            return [b""] if method == "HEAD" else [body]
        extra = routes.headers()
        if not extra:
            return self.app(environ, start_response)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, *extra], exc_info)

        return self.app(environ, start)


class PodInfoASGI(_Middleware):
    """ASGI middleware (or, without ``app``, an ASGI app) serving ``/podinfo`` and
    ``/healthz``; the arguments are :class:`PodInfoWSGI`'s. ``app.add_middleware(PodInfoASGI,
    header="X-Pod-Name")`` works in Starlette and FastAPI. Lifespan and websocket events go to
    ``app`` untouched (without ``app``, lifespan is acknowledged)."""

    app: ASGIApp | None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer our paths; pass the rest to ``app`` with the pod header added."""
        routes = self._routes
        kind = scope.get("type")
        if kind == "http":
            path = scope.get("path") or "/"
            if routes.ours(path) or self.app is None:
                if routes.ours(path):
                    status, body, headers = routes.answer(scope.get("method", "GET"), path)
                else:
                    status, body = HTTPStatus.NOT_FOUND, _not_found(path)
                    headers = [("Content-Type", _JSON)]
                headers = [*headers, ("Content-Length", str(len(body))), *routes.headers()]
                await send(
                    {
                        "type": "http.response.start",
                        "status": status.value,
                        "headers": [(k.lower().encode(), v.encode()) for k, v in headers],
                    }
                )
                head = scope.get("method") == "HEAD"
                await send({"type": "http.response.body", "body": b"" if head else body})
                return
            extra = [(k.lower().encode(), v.encode()) for k, v in routes.headers()]
            if extra:
                inner = send

                async def send_with_header(message: Message) -> None:
                    if message.get("type") == "http.response.start":
                        message = {**message, "headers": [*message.get("headers", ()), *extra]}
                    await inner(message)

                send = send_with_header
        if self.app is not None:
            await self.app(scope, receive, send)
        elif kind == "lifespan":
            await _lifespan(receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    """The lifespan protocol for an app with nothing to start or stop."""
    while True:
        message = await receive()
        if message.get("type") == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message.get("type") == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return

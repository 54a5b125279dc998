"""Tests for podself.integrations.web: ``/podinfo`` and ``/healthz`` as WSGI and ASGI
middleware, in process and under the real servers (gunicorn, uvicorn), alone and mounted on a
Flask and a FastAPI app."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest

from podself.integrations.web import PodInfoASGI, PodInfoWSGI, podinfo_document
from podself.logs.otel import service_instance_id
from podself.pod import PodInfo, Resources, Workload
from podself.testing import FakePod

WAIT = 30.0  # a deadline for slow machines, not a measurement
POD = "web-5d8c7f6b9-xk2jp"


def seed_info(**changes: Any) -> PodInfo:
    """A Deployment replica with limits, a label and a secret-looking annotation."""
    values: dict[str, Any] = {
        "name": POD,
        "namespace": "shop",
        "node_name": "node-3",
        "container": "web",
        "labels": {"app": "web", "pod-template-hash": "5d8c7f6b9"},
        "annotations": {"team": "pay", "api-token": "s3cret"},
        "workload": Workload(kind="Deployment", name="web"),
        "resources": Resources(cpu_limit=500, memory_limit=256 << 20),
    }
    values.update(changes)
    return PodInfo(**values)


def hello_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The wrapped app: says hello on every path."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello " + environ["PATH_INFO"].encode()]


def call_wsgi(app: Any, path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    """One request through a WSGI app: status line, headers, body."""
    environ: dict[str, Any] = {"PATH_INFO": path, "REQUEST_METHOD": method}
    setup_testing_defaults(environ)
    environ["wsgi.input"] = io.BytesIO()
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return lambda data: None

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def call_asgi(app: Any, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """One request through an ASGI app: status, headers, body."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


async def hello_asgi(scope: Any, receive: Any, send: Any) -> None:
    """The wrapped ASGI app: says hello on every path."""
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", b"1")]})
    await send({"type": "http.response.body", "body": b"hello"})


class TestDocument:
    def test_identity_limits_plan_sources(self) -> None:
        """The document has identity, workload, limits, plan with reasons, the process's
        instance ID, sources and warnings; secret-like annotations are left out."""
        info = seed_info()
        doc = podinfo_document(info)
        assert doc["pod"]["name"] == POD
        assert doc["pod"]["labels"] == {"app": "web", "pod-template-hash": "5d8c7f6b9"}
        assert doc["pod"]["annotations"] == {"team": "pay"}
        assert doc["workload"]["kind"] == "Deployment"
        assert doc["resources"]["cpu_limit"] == 500
        assert doc["plan"]["reasons"]["workers"].startswith("workers=")
        assert doc["process"] == {
            "pid": os.getpid(),
            "service.instance.id": service_instance_id(info),
        }
        assert set(doc) == {
            *("pod", "workload", "resources", "containers", "plan", "process", "app"),
            *("sources", "warnings"),
        }
        assert doc["containers"] == {}
        json.dumps(doc)

    def test_other_containers_limits(self) -> None:
        """The limits the podinfo volume gives for other containers (containers/<name>/)."""
        info = PodInfo(name=POD, containers={"main": Resources(cpu_limit=1000)})
        assert podinfo_document(info)["containers"]["main"]["cpu_limit"] == 1000


class TestWsgi:
    def test_podinfo_and_healthz(self) -> None:
        """/podinfo and /healthz are answered as JSON; the rest goes to the app."""
        app = PodInfoWSGI(hello_wsgi, info=seed_info())
        status, headers, body = call_wsgi(app, "/podinfo")
        assert status == "200 OK"
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        assert int(headers["Content-Length"]) == len(body)
        assert json.loads(body)["pod"]["name"] == POD
        assert call_wsgi(app, "/healthz")[2] == b'{\n  "status": "ok"\n}\n'
        assert call_wsgi(app, "/other")[2] == b"hello /other"

    def test_header_on_every_response(self) -> None:
        """header= adds the pod's name to our answers and to the app's."""
        app = PodInfoWSGI(hello_wsgi, header="X-Pod-Name", info=seed_info())
        assert call_wsgi(app, "/other")[1]["X-Pod-Name"] == POD
        assert call_wsgi(app, "/healthz")[1]["X-Pod-Name"] == POD

    def test_no_header_for_an_unknown_or_odd_name(self) -> None:
        """Without a name, or with one that is no header value, no header is sent."""
        for name in (None, "web\r\nSet-Cookie: x=1"):
            app = PodInfoWSGI(hello_wsgi, header="X-Pod-Name", info=seed_info(name=name))
            assert "X-Pod-Name" not in call_wsgi(app, "/other")[1]

    def test_bad_header_name(self) -> None:
        """A header name with anything but letters, digits and '-' is refused."""
        with pytest.raises(ValueError, match="must be a header name"):
            PodInfoWSGI(header="X Pod: 1")

    def test_metrics_path(self) -> None:
        """metrics_path serves the Prometheus exposition; without it the path is the app's."""
        app = PodInfoWSGI(hello_wsgi, info=seed_info(), metrics_path="/metrics")
        _, headers, body = call_wsgi(app, "/metrics")
        assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert b"podself_cpu_limit_cores 0.5\n" in body
        assert call_wsgi(PodInfoWSGI(hello_wsgi), "/metrics")[2] == b"hello /metrics"

    def test_alone_and_methods(self) -> None:
        """Without an app other paths are a JSON 404; POST is 405 with Allow; HEAD has no
        body; several paths and an extra hook work."""
        seen: list[str] = []
        app = PodInfoWSGI(
            path=("/podinfo", "/info"), extra=lambda doc: seen.append(doc["pod"]["name"])
        )
        status, _, body = call_wsgi(app, "/nope")
        assert (status, json.loads(body)) == ("404 Not Found", {"error": "no route /nope"})
        status, headers, _ = call_wsgi(app, "/podinfo", "POST")
        assert (status, headers["Allow"]) == ("405 Method Not Allowed", "GET, HEAD")
        assert call_wsgi(app, "/healthz", "HEAD")[2] == b""
        assert json.loads(call_wsgi(app, "/info")[2])["pod"]
        assert len(seen) == 1


class TestAsgi:
    def test_podinfo_healthz_and_header(self) -> None:
        """The ASGI middleware answers our paths and adds the header to the app's answers."""
        app = PodInfoASGI(hello_asgi, header="X-Pod-Name", info=seed_info())
        status, headers, body = call_asgi(app, "/podinfo")
        assert status == 200
        assert json.loads(body)["pod"]["name"] == POD
        assert headers["x-pod-name"] == POD
        assert call_asgi(app, "/healthz")[2] == b'{\n  "status": "ok"\n}\n'
        status, headers, body = call_asgi(app, "/other")
        assert (status, body, headers["x-app"], headers["x-pod-name"]) == (200, b"hello", "1", POD)

    def test_alone(self) -> None:
        """Without an app: 404 for other paths, 405 for POST, lifespan acknowledged."""
        app = PodInfoASGI(info=seed_info())
        assert call_asgi(app, "/nope")[0] == 404
        assert call_asgi(app, "/podinfo", "POST")[0] == 405
        events = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
        sent: list[str] = []

        async def receive() -> dict[str, Any]:
            return next(events)

        async def send(message: MutableMapping[str, Any]) -> None:
            sent.append(message["type"])

        asyncio.run(app({"type": "lifespan"}, receive, send))
        assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


# -- under the real servers ---------------------------------------------------------------------

APPS = {
    "plain_wsgi.py": """
        from podself.integrations.web import PodInfoWSGI

        def hello(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello from wsgi"]

        app = PodInfoWSGI(hello, header="X-Pod-Name", metrics_path="/metrics")
    """,
    "flask_app.py": """
        from flask import Flask
        from podself.integrations.web import PodInfoWSGI

        app = Flask(__name__)

        @app.get("/hello")
        def hello():
            return "hello from flask"

        app.wsgi_app = PodInfoWSGI(app.wsgi_app, header="X-Pod-Name")
    """,
    "plain_asgi.py": """
        from podself.integrations.web import PodInfoASGI

        async def hello(scope, receive, send):
            if scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"hello from asgi"})

        app = PodInfoASGI(hello, header="X-Pod-Name", metrics_path="/metrics")
    """,
    "fastapi_app.py": """
        from fastapi import FastAPI
        from fastapi.responses import PlainTextResponse
        from podself.integrations.web import PodInfoASGI

        app = FastAPI()

        @app.get("/hello", response_class=PlainTextResponse)
        def hello():
            return "hello from fastapi"

        app.add_middleware(PodInfoASGI, header="X-Pod-Name")
    """,
}


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    """A pod of a Deployment with the app modules in its working directory."""
    for name, text in APPS.items():
        (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return FakePod(
        tmp_path / "pod",
        name=POD,
        labels={"app": "web", "pod-template-hash": "5d8c7f6b9"},
        limits={"cpu": "500m", "memory": "256Mi"},
    )


def fetch(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET over real HTTP: status, headers (names in lower case), body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=WAIT) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@pytest.fixture
def serve(pod: FakePod) -> Iterator[Any]:
    """Start a server command in the pod; yields a function returning its port."""
    procs: list[subprocess.Popen[str]] = []

    def start(argv: list[str], ready: str) -> int:
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            **pod.environ,
            "K8S_CONTAINER_NAME": "web",
            "PODSELF_ROOT": str(pod.root),
            "PODSELF_PROC_ROOT": str(pod.proc_root),
        }
        proc = subprocess.Popen(
            argv,
            cwd=pod.root.parent,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stderr is not None
        seen = []
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen.append(line)
            found = re.search(ready, line)
            if found:
                return int(found[1])
        pytest.fail("server did not start:\n" + "".join(seen))

    try:
        yield start
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


GUNICORN = [sys.executable, "-m", "gunicorn", "--bind", "127.0.0.1:0", "--workers", "1"]
GUNICORN_READY = r"Listening at: http://127\.0\.0\.1:(\d+)"
UVICORN = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", "0"]
UVICORN_READY = r"running on http://127\.0\.0\.1:(\d+)"


@pytest.mark.parametrize(
    ("server", "module", "hello"),
    [
        ("gunicorn", "plain_wsgi", b"hello from wsgi"),
        ("gunicorn", "flask_app", b"hello from flask"),
        ("uvicorn", "plain_asgi", b"hello from asgi"),
        ("uvicorn", "fastapi_app", b"hello from fastapi"),
    ],
)
def test_under_a_real_server(serve: Any, server: str, module: str, hello: bytes) -> None:
    """Over real HTTP: /podinfo names the pod, its limits and the serving worker's own
    instance ID; /healthz is ok; the app's own route answers with the pod header."""
    argv, ready = (GUNICORN, GUNICORN_READY) if server == "gunicorn" else (UVICORN, UVICORN_READY)
    port = serve([*argv, f"{module}:app"], ready)
    status, headers, body = fetch(port, "/podinfo")
    assert status == 200, body
    doc = json.loads(body)
    assert headers["x-pod-name"] == POD
    assert (doc["pod"]["name"], doc["pod"]["container"]) == (POD, "web")
    assert doc["workload"] == {**doc["workload"], "kind": "Deployment", "name": "web"}
    assert doc["resources"]["memory_limit"] == 256 << 20
    assert doc["plan"]["cpus"] == 1
    info = PodInfo(name=POD, namespace="default", container="web")
    assert doc["process"]["service.instance.id"] == service_instance_id(info, doc["process"]["pid"])
    assert fetch(port, "/healthz")[:1] == (200,)
    status, headers, body = fetch(port, "/hello")
    assert (status, body, headers["x-pod-name"]) == (200, hello, POD)
    if module.startswith("plain"):  # the metrics path, read by the Prometheus client's parser
        status, headers, body = fetch(port, "/metrics")
        assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        parser = pytest.importorskip("prometheus_client.parser")
        samples = {
            s.name: s
            for f in parser.text_string_to_metric_families(body.decode())
            for s in f.samples
        }
        assert samples["podself_pod_info"].labels["pod"] == POD
        assert samples["podself_memory_limit_bytes"].value == 256 << 20


def test_imports_load_only_the_standard_library() -> None:
    """import podself, the logs, the web middleware and the Prometheus exposition load no
    third-party module, and none of them loads the OpenTelemetry detector module."""
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import podself, podself.logs, podself.integrations.web, podself.integrations.prometheus\n"
        "podself.integrations.web.podinfo_document()\n"
        "podself.integrations.prometheus.exposition()\n"
        "tops = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(tops - set(sys.stdlib_module_names) - {'podself', '__main__'}))\n"
        "print('podself.integrations.otel' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.split("\n")[:2] == ["[]", "False"]

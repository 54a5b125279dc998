"""Tests for podself.integrations.prometheus: the stdlib exposition, read back by the real
``prometheus_client`` parser, its HTTP handler, and the ``prometheus_client`` collector."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from podself.integrations.prometheus import (
    CONTENT_TYPE,
    MetricsHandler,
    PodCollector,
    exposition,
    reload_families,
    render,
    start_http_server,
)
from podself.pod import PodInfo, Resources, Workload
from podself.reloader import ReloadMetrics
from podself.testing import FakePod
from podself.tuning import plan

prometheus_client = pytest.importorskip("prometheus_client")
text_string_to_metric_families = pytest.importorskip(
    "prometheus_client.parser"
).text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def seed_info(**changes: object) -> PodInfo:
    """A Deployment replica with 500m / 256Mi limits."""
    values: dict[str, object] = {
        "name": "api-server-5d8c7f6b9-xk2jp",
        "namespace": "production",
        "node_name": "node-3",
        "container": "api",
        "labels": {"app": "api", "pod-template-hash": "5d8c7f6b9", "team.io/owner": "pay"},
        "workload": Workload(kind="Deployment", name="api-server"),
        "resources": Resources(cpu_limit=500, memory_limit=256 << 20, cpu_request=250),
    }
    values.update(changes)
    return PodInfo(**values)  # type: ignore[arg-type]


def parsed(text: str) -> Samples:
    """Every sample, as the Prometheus client's parser reads the text."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class TestExposition:
    def test_info_limits_and_plan(self) -> None:
        """The info metric names the pod; limits are in cores and bytes; the plan's numbers
        are there; unknown values (memory request) are left out."""
        info = seed_info()
        samples = parsed(exposition(info))
        sizing = plan(info, log_warnings=False)
        identity = (
            ("container", "api"),
            ("namespace", "production"),
            ("node", "node-3"),
            ("pod", "api-server-5d8c7f6b9-xk2jp"),
            ("replicaset", "api-server-5d8c7f6b9"),
            ("workload_kind", "Deployment"),
            ("workload_name", "api-server"),
        )
        assert samples == {
            ("podself_pod_info", identity): 1.0,
            ("podself_cpu_limit_cores", ()): 0.5,
            ("podself_cpu_request_cores", ()): 0.25,
            ("podself_memory_limit_bytes", ()): float(256 << 20),
            ("podself_plan_workers", ()): float(sizing.workers),
            ("podself_plan_threads", ()): float(sizing.threads),
        }

    def test_help_and_type(self) -> None:
        """Each family has its HELP and is a gauge."""
        families = list(text_string_to_metric_families(exposition(seed_info())))
        assert {f.type for f in families} == {"gauge"}
        assert all(f.documentation for f in families)

    def test_labels_opt_in_and_escaped(self) -> None:
        """Pod labels are opt-in, named label_<key> as kube-state-metrics does; quotes,
        backslashes and newlines in values survive the parser; secrets never appear."""
        info = seed_info(labels={"app": 'a"b\\c\nd', "team.io/owner": "pay", "api-token": "s3cret"})
        samples = parsed(exposition(info, labels=True, plan=False))
        [(_, labels)] = [key for key in samples if key[0] == "podself_pod_info"]
        found = dict(labels)
        assert found["label_app"] == 'a"b\\c\nd'
        assert found["label_team_io_owner"] == "pay"
        assert "s3cret" not in found.values()
        assert "label_app" not in dict(next(iter(parsed(exposition(info, plan=False))))[1])

    def test_outside_a_pod(self, tmp_path: Path) -> None:
        """Outside a pod the info metric has no labels and no limit is invented."""
        none = tmp_path / "none"
        info = FakePod(tmp_path, cgroup=None).read(
            environ={}, podinfo_dirs=[none], serviceaccount_dir=none, hosts_file=none
        )
        samples = parsed(exposition(info, plan=False))
        assert samples == {("podself_pod_info", ()): 1.0}


class TestCollector:
    def test_same_samples_as_the_exposition(self) -> None:
        """A prometheus_client registry with PodCollector serves the same samples."""
        info = seed_info()
        registry = prometheus_client.CollectorRegistry()
        registry.register(PodCollector(info, labels=["app"]))
        text = prometheus_client.generate_latest(registry).decode("utf-8")
        assert parsed(text) == parsed(exposition(info, labels=["app"]))

    def test_openmetrics_info_type(self) -> None:
        """In OpenMetrics the identity is an info metric."""
        from prometheus_client.openmetrics.exposition import generate_latest

        registry = prometheus_client.CollectorRegistry()
        registry.register(PodCollector(seed_info(), plan=False))
        text = generate_latest(registry).decode("utf-8")  # type: ignore[no-untyped-call]
        assert "# TYPE podself_pod info\n" in text


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """start_http_server on a free loopback port; shut down afterwards."""
    srv = start_http_server(0, "127.0.0.1")
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


class TestHttp:
    def test_metrics(self, server: int) -> None:
        """GET /metrics answers the exposition with the 0.0.4 content type."""
        with urllib.request.urlopen(f"http://127.0.0.1:{server}/metrics", timeout=10) as resp:
            assert resp.headers["Content-Type"] == CONTENT_TYPE
            text = resp.read().decode("utf-8")
        assert any(name == "podself_pod_info" for name, _ in parsed(text))

    def test_other_paths_are_404(self, server: int) -> None:
        """Anything but /metrics is a 404."""
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://127.0.0.1:{server}/", timeout=10)
        caught.value.close()
        assert caught.value.code == 404

    def test_idle_connections_are_bounded(self) -> None:
        """Connections beyond 16 held open are closed at once, not given a thread each; a
        scrape works again once they go."""
        srv = start_http_server(0, "127.0.0.1")
        address = ("127.0.0.1", srv.server_address[1])
        held = [socket.create_connection(address, timeout=10) for _ in range(16)]
        try:
            with socket.create_connection(address, timeout=10) as extra:
                assert extra.recv(1) == b""  # closed by the server, nothing sent
        finally:
            for sock in held:
                sock.close()
        try:
            deadline = time.monotonic() + 10
            while True:  # the held connections' threads end as they see the close
                try:
                    with urllib.request.urlopen(
                        f"http://{address[0]}:{address[1]}/metrics", timeout=10
                    ) as r:
                        assert r.status == 200
                    break
                except (urllib.error.URLError, ConnectionError):
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
        finally:
            srv.shutdown()
            srv.server_close()

    def test_client_gone_is_not_a_traceback(self, capfd: pytest.CaptureFixture[str]) -> None:
        """A connection error while answering (the scraper hung up) prints nothing."""

        class Gone(MetricsHandler):
            @staticmethod
            def exposition() -> str:
                raise ConnectionResetError(104, "Connection reset by peer")

        srv = start_http_server(0, "127.0.0.1", Gone)
        try:
            with pytest.raises((urllib.error.URLError, ConnectionError)):
                urllib.request.urlopen(
                    f"http://127.0.0.1:{srv.server_address[1]}/metrics", timeout=10
                )
        finally:
            srv.shutdown()
            srv.server_close()
        assert capfd.readouterr().err == ""


class TestReloadFamilies:
    def test_before_and_after_rounds(self) -> None:
        """Counters are there from the start at 0; the last-reload gauges appear with the
        first round; the success timestamp keeps the last success."""
        metrics = ReloadMetrics()
        metrics.watching(2)
        before = parsed(render(reload_families(metrics)))
        assert before == {
            ("podself_reloads_total", (("result", "success"),)): 0,
            ("podself_reloads_total", (("result", "failure"),)): 0,
            ("podself_watched_directories", ()): 2,
        }
        metrics.record(True, 0.25)
        success_at = parsed(render(reload_families(metrics)))[
            ("podself_last_reload_success_timestamp_seconds", ())
        ]
        metrics.record(False, 1.5)
        after = parsed(render(reload_families(metrics)))
        assert after[("podself_reloads_total", (("result", "success"),))] == 1
        assert after[("podself_reloads_total", (("result", "failure"),))] == 1
        assert after[("podself_last_reload_successful", ())] == 0
        assert after[("podself_last_reload_duration_seconds", ())] == 1.5
        assert after[("podself_last_reload_success_timestamp_seconds", ())] == success_at
        assert after[("podself_last_reload_timestamp_seconds", ())] >= success_at

    def test_counter_type(self) -> None:
        """podself_reloads_total is a counter to the parser (its family is podself_reloads)."""
        families = {
            f.name: f.type
            for f in text_string_to_metric_families(render(reload_families(ReloadMetrics())))
        }
        assert families["podself_reloads"] == "counter"


def test_import_loads_no_client() -> None:
    """The stdlib exposition imports neither prometheus_client nor anything third-party."""
    code = (
        "import sys, podself.integrations.prometheus as p\n"
        "p.exposition(plan=False)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'prometheus_client'))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"

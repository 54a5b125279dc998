"""Tests for podself.integrations.otel: the SDK's ``podself`` resource detector, run by the real
``opentelemetry-instrument`` launcher, and one ``service.instance.id`` per (forked) process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
import uuid
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from podself.logs.otel import (
    INSTANCE_ID_NAMESPACE,
    otel_attributes,
    read_container_id,
    service_instance_id,
)
from podself.pod import PodInfo
from podself.testing import FakePod

pytest.importorskip("opentelemetry.sdk.resources")
from podself.integrations.otel import PodResourceDetector  # needs the SDK

BIN = Path(sys.executable).parent
CONTAINER_ID = "0123456789abcdef" * 4  # what FakePod's cgroup paths name
WAIT = 60.0  # a deadline for slow machines, not a measurement


@pytest.fixture
def pod(tmp_path: Path) -> FakePod:
    """A Deployment replica in a zone, with a cgroup v2 tree naming its container."""
    return FakePod(
        tmp_path,
        name="web-5d8c7f6b9-xk2jp",
        labels={
            "app": "web",
            "pod-template-hash": "5d8c7f6b9",
            "topology.kubernetes.io/zone": "europe-west1-b",
            "topology.kubernetes.io/region": "europe-west1",
        },
    )


def pod_env(pod: FakePod, **extra: str) -> dict[str, str]:
    """The environment of a process in ``pod``, with the detector switched on."""
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
        **pod.environ,
        "K8S_CONTAINER_NAME": "web",
        "PODSELF_ROOT": str(pod.root),
        "PODSELF_PROC_ROOT": str(pod.proc_root),
        "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "podself",
        **extra,
    }


def pod_info(pod: FakePod) -> PodInfo:
    """What the processes in ``pod`` read."""
    return pod.read(environ={**pod.environ, "K8S_CONTAINER_NAME": "web"})


class TestEntryPoint:
    def test_registered_for_the_sdk(self) -> None:
        """The SDK finds the detector under the name podself in its entry-point group."""
        [found] = entry_points(group="opentelemetry_resource_detector", name="podself")
        assert found.load() is PodResourceDetector

    def test_detect_in_a_pod(self, pod: FakePod, monkeypatch: pytest.MonkeyPatch) -> None:
        """detect() gives the pod's attributes, the container ID from the cgroup paths and
        cloud zone and region from the topology labels; it is process dependent."""
        import podself

        for key, value in pod_env(pod).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(podself, "_current", None)
        attributes = dict(PodResourceDetector().detect().attributes)
        assert attributes["k8s.pod.name"] == "web-5d8c7f6b9-xk2jp"
        assert attributes["k8s.deployment.name"] == "web"
        assert attributes["container.id"] == CONTAINER_ID
        assert attributes["cloud.availability_zone"] == "europe-west1-b"
        assert attributes["cloud.region"] == "europe-west1"
        assert attributes["service.instance.id"] == service_instance_id(pod_info(pod))
        assert PodResourceDetector().is_process_dependent()

    def test_labels_from_env(self, pod: FakePod, monkeypatch: pytest.MonkeyPatch) -> None:
        """PODSELF_OTEL_LABELS adds the matching labels as k8s.pod.label.<key>."""
        import podself

        for key, value in pod_env(pod, PODSELF_OTEL_LABELS="app, topology.*").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(podself, "_current", None)
        attributes = dict(PodResourceDetector().detect().attributes)
        assert attributes["k8s.pod.label.app"] == "web"
        assert attributes["k8s.pod.label.topology.kubernetes.io/zone"] == "europe-west1-b"
        assert "k8s.pod.label.pod-template-hash" not in attributes

    def test_outside_a_pod(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Outside a pod the detector adds nothing and does not fail."""
        import podself

        monkeypatch.setattr(podself, "_current", PodInfo())
        monkeypatch.setenv("PODSELF_PROC_ROOT", str(tmp_path / "none"))
        assert dict(PodResourceDetector().detect().attributes) == {}


class TestOpentelemetryInstrument:
    def test_zero_code_spans_carry_the_pod(self, pod: FakePod) -> None:
        """opentelemetry-instrument with OTEL_EXPERIMENTAL_RESOURCE_DETECTORS=podself: the
        span printed by the console exporter carries the pod's resource attributes."""
        code = (
            "from opentelemetry import trace\n"
            "with trace.get_tracer('demo').start_as_current_span('hello'):\n"
            "    pass\n"
        )
        env = pod_env(
            pod,
            OTEL_TRACES_EXPORTER="console",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        proc = subprocess.Popen(
            [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", code],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = proc.communicate(timeout=WAIT)
        assert proc.returncode == 0, err
        span = json.loads(out)
        attributes = span["resource"]["attributes"]
        assert span["name"] == "hello"
        assert {k: v for k, v in attributes.items() if k.startswith("k8s.")} == {
            "k8s.pod.name": "web-5d8c7f6b9-xk2jp",
            "k8s.namespace.name": "default",
            "k8s.node.name": "minikube",
            "k8s.pod.uid": pod.uid,
            "k8s.pod.ip": "10.244.0.7",
            "k8s.container.name": "web",
            "k8s.deployment.name": "web",
            "k8s.replicaset.name": "web-5d8c7f6b9",
        }
        assert attributes["container.id"] == CONTAINER_ID
        assert attributes["cloud.availability_zone"] == "europe-west1-b"
        assert attributes["cloud.region"] == "europe-west1"
        assert attributes["service.name"] == "web"
        # The launcher execs the program: the process that exported is proc.pid.
        assert attributes["service.instance.id"] == service_instance_id(pod_info(pod), proc.pid)

    def test_explicit_env_wins(self, pod: FakePod) -> None:
        """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES still win over detected values."""
        code = (
            "from opentelemetry import trace\n"
            "print(dict(trace.get_tracer_provider().resource.attributes)['service.name'],\n"
            "      dict(trace.get_tracer_provider().resource.attributes)['k8s.node.name'])\n"
        )
        env = pod_env(
            pod,
            OTEL_TRACES_EXPORTER="none",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
            OTEL_SERVICE_NAME="checkout",
            OTEL_RESOURCE_ATTRIBUTES="k8s.node.name=override",
        )
        result = subprocess.run(
            [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )
        assert result.stdout.split() == ["checkout", "override"]


FORK_PROGRAM = """
import json, os, sys
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

provider = TracerProvider(resource=Resource.create())
def report():
    ids = dict(provider.resource.attributes)
    print(json.dumps([os.getpid(), ids.get("service.instance.id")]), flush=True)

children = []
for _ in range(2):
    pid = os.fork()
    if pid == 0:  # a pre-forked worker, as gunicorn makes them
        report()
        os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
report()
"""


WORKER_APP = """
import json, os
from opentelemetry import trace

def app(environ, start_response):
    resource = trace.get_tracer_provider().resource
    body = json.dumps([os.getpid(), resource.attributes.get("service.instance.id")]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


class TestPerProcess:
    def test_gunicorn_workers_under_the_launcher(self, pod: FakePod, tmp_path: Path) -> None:
        """opentelemetry-instrument gunicorn --workers 2: the SDK is set up in the master
        before the workers fork, yet each worker's resource carries its own pid's ID."""
        (tmp_path / "worker_app.py").write_text(WORKER_APP, encoding="utf-8")
        env = pod_env(
            pod,
            OTEL_TRACES_EXPORTER="none",
            OTEL_METRICS_EXPORTER="none",
            OTEL_LOGS_EXPORTER="none",
        )
        argv = [str(BIN / "opentelemetry-instrument"), sys.executable, "-m", "gunicorn"]
        argv += ["--bind", "127.0.0.1:0", "--workers", "2", "worker_app:app"]
        proc = subprocess.Popen(
            argv,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        try:
            port = None
            while port is None:
                line = proc.stderr.readline()
                assert line, "gunicorn exited before listening"
                found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
                port = int(found[1]) if found else None
            seen: dict[int, str] = {}
            for _ in range(20):  # a bounded number of requests; the kernel picks the worker
                url = f"http://127.0.0.1:{port}/"
                with urllib.request.urlopen(url, timeout=WAIT) as resp:
                    pid, instance = json.load(resp)
                seen[pid] = instance
                if len(seen) == 2:
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=WAIT)
            proc.stderr.close()
        info = pod_info(pod)
        assert proc.pid not in seen  # the launcher execs gunicorn: this is the master
        for pid, instance in seen.items():
            assert instance == service_instance_id(info, pid)

    def test_forked_workers_get_their_own_id(self, pod: FakePod) -> None:
        """A provider made before fork() gives each worker its own service.instance.id, the
        name-based one of its own pid (the installed SDK re-runs process-dependent
        detectors after a fork); the parent keeps its own."""
        result = subprocess.run(
            [sys.executable, "-c", FORK_PROGRAM],
            env=pod_env(pod),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=True,
        )
        seen = [json.loads(line) for line in result.stdout.splitlines()]
        assert len(seen) == 3
        info = pod_info(pod)
        for pid, instance in seen:
            assert instance == service_instance_id(info, pid)
        assert len({instance for _, instance in seen}) == 3

    def test_name_based_uuid(self) -> None:
        """The ID is uuid5 in the conventions' namespace over <ns>.<pod>.<container>.<pid>."""
        info = PodInfo(name="web-0", namespace="shop", container="app")
        assert service_instance_id(info, 42) == str(
            uuid.uuid5(uuid.UUID("4d63009a-8d0f-11ee-aad7-4c796ed8e320"), "shop.web-0.app.42")
        )
        assert INSTANCE_ID_NAMESPACE.version == 1
        assert service_instance_id(info, 43) != service_instance_id(info, 42)
        assert service_instance_id(info) == service_instance_id(info, os.getpid())
        assert service_instance_id(PodInfo(name="web-0", namespace="shop")) is None

    def test_instance_id_modes(self) -> None:
        """instance_id="container" is the shared <ns>.<pod>.<container>; None leaves it out."""
        info = PodInfo(name="web-0", namespace="shop", container="app")
        assert otel_attributes(info, instance_id="container")["service.instance.id"] == (
            "shop.web-0.app"
        )
        assert "service.instance.id" not in otel_attributes(info, instance_id=None)
        assert otel_attributes(info)["service.instance.id"] == service_instance_id(info)
        with pytest.raises(ValueError, match='instance_id "pid": must be "process"'):
            otel_attributes(info, instance_id="pid")  # type: ignore[arg-type]


class TestContainerId:
    def test_read_from_the_cgroup_path(self, pod: FakePod) -> None:
        """read_container_id() finds the ID in /proc/self/cgroup under PODSELF_PROC_ROOT."""
        env = {"PODSELF_ROOT": str(pod.root), "PODSELF_PROC_ROOT": str(pod.proc_root)}
        assert read_container_id(env) == CONTAINER_ID

    def test_v1_cgroup_path(self, tmp_path: Path) -> None:
        """The cgroupfs driver's v1 path names the container too."""
        pod = FakePod(tmp_path, cgroup="v1")
        env = {"PODSELF_ROOT": str(pod.root), "PODSELF_PROC_ROOT": str(pod.proc_root)}
        assert read_container_id(env) == CONTAINER_ID

    def test_none_without_cgroups(self, tmp_path: Path) -> None:
        """No /proc at all (macOS, a bare process): None, quietly."""
        env: dict[str, Any] = {"PODSELF_PROC_ROOT": str(tmp_path / "none")}
        assert read_container_id(env) is None

"""Tests for podself.logs.otel: resource attributes, OTEL_RESOURCE_ATTRIBUTES and
``podself info --otel``."""

from __future__ import annotations

import sys
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

import podself
from podself.cli import main
from podself.logs import (
    encode_resource_attributes,
    otel_attributes,
    otel_resource,
    otel_resource_attributes,
)
from podself.logs.otel import service_instance_id
from podself.pod import PodInfo, Workload


def seed_info(**changes: Any) -> PodInfo:
    """A Deployment replica with every identity value known."""
    values: dict[str, Any] = {
        "name": "api-server-5d8c7f6b9-xk2jp",
        "namespace": "production",
        "node_name": "node-3",
        "uid": "6f1c2d3e-0000-4000-8000-000000000001",
        "pod_ip": "10.244.0.7",
        "container": "api",
        "labels": {
            "app.kubernetes.io/name": "checkout",
            "app.kubernetes.io/instance": "checkout-prod",
            "app.kubernetes.io/version": "1.4.2",
            "pod-template-hash": "5d8c7f6b9",
        },
        "workload": Workload(kind="Deployment", name="api-server"),
    }
    values.update(changes)
    return PodInfo(**values)


class TestAttributes:
    def test_semantic_convention_keys(self) -> None:
        """Every known value appears under its semantic-convention key."""
        assert otel_attributes(seed_info()) == {
            "k8s.pod.name": "api-server-5d8c7f6b9-xk2jp",
            "k8s.namespace.name": "production",
            "k8s.node.name": "node-3",
            "k8s.pod.uid": "6f1c2d3e-0000-4000-8000-000000000001",
            "k8s.pod.ip": "10.244.0.7",
            "k8s.container.name": "api",
            "k8s.deployment.name": "api-server",
            "k8s.replicaset.name": "api-server-5d8c7f6b9",
            "service.name": "api-server",
            "service.namespace": "production",
            # one per process (gunicorn/uvicorn workers must not share it)
            "service.instance.id": service_instance_id(seed_info()),
        }

    def test_topology_labels(self) -> None:
        """The KEP-4742 topology labels give cloud.availability_zone and cloud.region; a
        container ID given is container.id."""
        labels = {"topology.kubernetes.io/zone": "us-east1-c", "topology.kubernetes.io/region": ""}
        attributes = otel_attributes(seed_info(labels=labels), container_id="ab" * 32)
        assert attributes["cloud.availability_zone"] == "us-east1-c"
        assert "cloud.region" not in attributes
        assert attributes["container.id"] == "ab" * 32

    def test_instance_id_needs_all_three(self) -> None:
        """service.instance.id needs namespace, pod and container: left out without one."""
        assert "service.instance.id" not in otel_attributes(seed_info(container=None))

    def test_well_known_labels_are_opt_in(self) -> None:
        """With well_known_labels, app.kubernetes.io/instance then /name name the service."""
        attributes = otel_attributes(seed_info(), well_known_labels=True)
        assert attributes["service.name"] == "checkout-prod"
        assert attributes["service.version"] == "1.4.2"
        labels = {"app.kubernetes.io/name": "checkout"}
        assert otel_attributes(seed_info(labels=labels), well_known_labels=True)[
            "service.name"
        ] == ("checkout")

    @pytest.mark.parametrize(
        ("workload", "name", "expected"),
        [
            (Workload(kind="StatefulSet", name="db"), "db-0", "db"),
            (Workload(kind="DaemonSet", name="agent"), "agent-x7k2p", "agent"),
            (Workload(kind="Job", name="migrate"), "migrate-abcde", "migrate"),
            (Workload(kind="Pod", name="solo"), "solo", "solo"),
            (Workload(), "solo", "solo"),
        ],
    )
    def test_service_name_order(self, workload: Workload, name: str, expected: str) -> None:
        """service.name goes from the owning workload down to the pod name."""
        info = seed_info(name=name, labels={}, workload=workload)
        assert otel_attributes(info)["service.name"] == expected

    def test_service_name_falls_back_to_container(self) -> None:
        """With only a container name known, it names the service."""
        info = PodInfo(container="sidecar")
        assert otel_attributes(info)["service.name"] == "sidecar"

    def test_annotations_override(self) -> None:
        """resource.opentelemetry.io/<attr> annotations set or override any attribute."""
        info = seed_info(
            annotations={
                "resource.opentelemetry.io/service.name": "payments",
                "resource.opentelemetry.io/service.namespace": "shop",
                "resource.opentelemetry.io/service.instance.id": "i-1",
                "resource.opentelemetry.io/deployment.environment.name": "prod",
                "resource.opentelemetry.io/db.password": "hunter2",
                "resource.opentelemetry.io/": "empty",
            }
        )
        attributes = otel_attributes(info, well_known_labels=True)
        assert attributes["service.name"] == "payments"
        assert attributes["service.namespace"] == "shop"
        assert attributes["service.instance.id"] == "i-1"
        assert attributes["deployment.environment.name"] == "prod"
        assert "hunter2" not in attributes.values()
        assert "" not in attributes

    def test_labels_and_annotations_opt_in(self) -> None:
        """Labels/annotations become k8s.pod.label.*/annotation.*, secrets never."""
        info = seed_info(
            annotations={
                "team": "payments",
                "api-token": "t",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            }
        )
        attributes = otel_attributes(info, labels=["app.kubernetes.io/*"], annotations=True)
        assert attributes["k8s.pod.label.app.kubernetes.io/name"] == "checkout"
        assert "k8s.pod.label.pod-template-hash" not in attributes
        assert attributes["k8s.pod.annotation.team"] == "payments"
        assert not any("token" in k or "last-applied" in k for k in attributes)

    def test_outside_a_pod(self, tmp_path: Path) -> None:
        """Outside a pod nothing is invented: no attributes at all."""
        none = tmp_path / "none"
        info = podself.read(
            environ={},
            podinfo_dirs=[none],
            cgroup_root=none,
            proc_root=none,
            serviceaccount_dir=none,
            hosts_file=none,
        )
        assert otel_attributes(info) == {}
        assert otel_resource_attributes(info) == ""


class TestEncoding:
    def test_plain_values(self) -> None:
        """Ordinary names are written as key=value pairs joined by commas."""
        assert encode_resource_attributes({"k8s.pod.name": "web-0", "a": "b/c:d"}) == (
            "k8s.pod.name=web-0,a=b/c:d"
        )

    def test_reserved_and_non_ascii(self) -> None:
        """Comma, equals, percent, space, quote, backslash and non-ASCII are %-encoded."""
        value = 'a,b=c%d e"f\\g;h 결제'
        encoded = encode_resource_attributes({"k": value})
        assert encoded == "k=a%2Cb%3Dc%25d%20e%22f%5Cg%3Bh%20%EA%B2%B0%EC%A0%9C"
        assert urllib.parse.unquote(encoded[2:]) == value

    def test_round_trip_through_podself_read(self) -> None:
        """podself.read() decodes what otel_resource_attributes() encodes."""
        info = seed_info(name="web,0=1", namespace="한국")
        text = otel_resource_attributes(info)
        back = podself.read(
            environ={"OTEL_RESOURCE_ATTRIBUTES": text},
            podinfo_dirs=[],
            proc_root="/nonexistent",
            serviceaccount_dir="/nonexistent",
            hosts_file="/nonexistent",
        )
        assert back.name == "web,0=1"
        assert back.namespace == "한국"

    def test_keep_existing(self) -> None:
        """keep_existing keeps entries already set, which win over detected ones."""
        environ = {"OTEL_RESOURCE_ATTRIBUTES": "service.name=cart, deployment.environment=prod"}
        text = otel_resource_attributes(seed_info(), keep_existing=True, environ=environ)
        items = text.split(",")
        assert items[-2:] == ["service.name=cart", "deployment.environment=prod"]
        assert sum(item.startswith("service.name=") for item in items) == 1
        assert "k8s.pod.name=api-server-5d8c7f6b9-xk2jp" in items
        assert otel_resource_attributes(seed_info(), keep_existing=True, environ={}) == (
            otel_resource_attributes(seed_info())
        )


class TestResource:
    def test_sdk_resource(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """With the SDK, otel_resource() is a Resource with the attributes and SDK defaults."""
        resources = pytest.importorskip("opentelemetry.sdk.resources")
        monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        resource = otel_resource(seed_info())
        assert isinstance(resource, resources.Resource)
        attributes = dict(resource.attributes)
        assert attributes["k8s.pod.name"] == "api-server-5d8c7f6b9-xk2jp"
        assert attributes["service.name"] == "api-server"
        assert attributes["service.instance.id"] == service_instance_id(seed_info())
        assert attributes["telemetry.sdk.language"] == "python"

    def test_explicit_env_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over detected values."""
        pytest.importorskip("opentelemetry.sdk.resources")
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "k8s.node.name=override")
        attributes = dict(otel_resource(seed_info()).attributes)  # type: ignore[union-attr]
        assert attributes["service.name"] == "from-env"
        assert attributes["k8s.node.name"] == "override"

    def test_sdk_decodes_our_encoding(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The SDK's own env detector reads back exactly what we encode."""
        resources = pytest.importorskip("opentelemetry.sdk.resources")
        info = seed_info(name="a,b=c%d", namespace="결제 팀")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", otel_resource_attributes(info))
        detected = dict(resources.OTELResourceDetector().detect().attributes)
        assert detected == otel_attributes(info, instance_id=None)

    def test_without_sdk_returns_dict(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the SDK the attributes dict is returned."""
        monkeypatch.setitem(sys.modules, "opentelemetry.sdk.resources", None)
        assert otel_resource(seed_info()) == otel_attributes(seed_info())

    def test_tracer_provider_accepts_it(self) -> None:
        """The Resource plugs into a TracerProvider as is."""
        trace = pytest.importorskip("opentelemetry.sdk.trace")
        provider = trace.TracerProvider(resource=otel_resource(seed_info()))
        assert provider.resource.attributes["k8s.namespace.name"] == "production"


class TestCli:
    def test_info_otel(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """podself info --otel prints the OTEL_RESOURCE_ATTRIBUTES value for this process."""
        monkeypatch.setenv("PODSELF_PODINFO_DIR", str(tmp_path))
        monkeypatch.setenv("K8S_POD_NAME", "web-0")
        monkeypatch.setenv("K8S_NAMESPACE", "shop")
        monkeypatch.setenv("K8S_CONTAINER_NAME", "app")
        monkeypatch.setenv("K8S_NODE_NAME", "node-1")
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod")
        assert main(["info", "--otel"]) == 0
        out = capsys.readouterr().out
        assert out.count("\n") == 1
        items = out.strip().split(",")
        assert "k8s.pod.name=web-0" in items
        assert "k8s.namespace.name=shop" in items
        # Every process started with the variable inherits it: no per-process ID in it.
        assert not any(item.startswith("service.instance.id=") for item in items)
        assert items[-1] == "deployment.environment=prod"

"""Tests for podself.manifest.workloads: where each kind keeps its pod template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podself.manifest.load import load_file
from podself.manifest.workloads import POD_TEMPLATE_PATHS, iter_workloads, pod_template

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"

SPEC = {"containers": [{"name": "c", "image": "i"}]}
META = {"labels": {"app": "x"}}

# kind -> (apiVersion, the object with SPEC/META at its template, expected spec path)
CASES: dict[str, tuple[str, dict[str, Any], str]] = {
    "Pod": ("v1", {"metadata": META, "spec": SPEC}, "spec"),
    "PodTemplate": ("v1", {"template": {"metadata": META, "spec": SPEC}}, "template.spec"),
    "Deployment": (
        "apps/v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "StatefulSet": (
        "apps/v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "DaemonSet": (
        "apps/v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "ReplicaSet": (
        "apps/v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "ReplicationController": (
        "v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "Job": (
        "batch/v1",
        {"spec": {"template": {"metadata": META, "spec": SPEC}}},
        "spec.template.spec",
    ),
    "CronJob": (
        "batch/v1",
        {"spec": {"jobTemplate": {"spec": {"template": {"metadata": META, "spec": SPEC}}}}},
        "spec.jobTemplate.spec.template.spec",
    ),
}


def _object(kind: str) -> dict[str, Any]:
    api_version, body, _ = CASES[kind]
    obj = {"apiVersion": api_version, "kind": kind, **body}
    obj["metadata"] = {"name": "n", **obj.get("metadata", {})}
    return obj


class TestPodTemplate:
    def test_every_kind_is_covered(self) -> None:
        """The cases cover every kind the module knows."""
        assert set(CASES) == set(POD_TEMPLATE_PATHS)

    @pytest.mark.parametrize("kind", sorted(CASES))
    def test_kind(self, kind: str) -> None:
        """Each kind yields its template's spec, metadata and the API server's path prefix."""
        found = pod_template(_object(kind))
        assert found is not None
        spec, metadata, path = found
        assert spec == SPEC
        assert path == CASES[kind][2]
        assert metadata["labels"] == META["labels"]

    def test_non_workloads(self) -> None:
        """ConfigMaps, Services, strings and kind-less maps are not workloads."""
        assert pod_template({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}) is None
        assert pod_template({"kind": "Service", "spec": {}}) is None
        assert pod_template("Pod") is None
        assert pod_template({"spec": SPEC}) is None
        assert pod_template({"kind": 3, "spec": SPEC}) is None

    def test_custom_resource_with_same_kind(self) -> None:
        """A Job of another API group is a custom resource, not a batch Job."""
        obj = _object("Job") | {"apiVersion": "batch.volcano.sh/v1alpha1"}
        assert pod_template(obj) is None

    def test_old_api_groups(self) -> None:
        """Retired versions of the same groups still count (extensions/v1beta1)."""
        obj = _object("Deployment") | {"apiVersion": "extensions/v1beta1"}
        assert pod_template(obj) is not None

    def test_missing_apiversion_judged_by_kind(self) -> None:
        """A fragment without apiVersion is judged by its kind."""
        obj = _object("Pod")
        del obj["apiVersion"]
        assert pod_template(obj) is not None

    def test_malformed_templates(self) -> None:
        """Missing or non-map templates and specs give None; missing metadata gives {}."""
        assert pod_template({"kind": "Deployment", "spec": {}}) is None
        assert pod_template({"kind": "Deployment", "spec": {"template": []}}) is None
        assert pod_template({"kind": "Deployment", "spec": "x"}) is None
        assert pod_template({"kind": "Pod", "spec": None}) is None
        found = pod_template({"kind": "Deployment", "spec": {"template": {"spec": SPEC}}})
        assert found == (SPEC, {}, "spec.template.spec")


class TestIterWorkloads:
    def test_single_object(self) -> None:
        """A workload document yields one Workload with paths and a reference."""
        obj = _object("Deployment") | {"metadata": {"name": "web", "namespace": "shop"}}
        (workload,) = iter_workloads(obj)
        assert workload.kind == "Deployment"
        assert workload.ref == "Deployment/shop/web"
        assert workload.spec_path == "spec.template.spec"
        assert workload.metadata_path == "spec.template.metadata"
        assert workload.object_path == ""
        assert workload.document_path("spec.template") == "spec.template"
        assert workload.object_metadata == {"name": "web", "namespace": "shop"}

    def test_pod_metadata_path(self) -> None:
        """A Pod's template metadata is its own metadata."""
        (workload,) = iter_workloads(_object("Pod"))
        assert (workload.spec_path, workload.metadata_path) == ("spec", "metadata")
        assert workload.ref == "Pod/n"

    def test_names(self) -> None:
        """generateName and missing names give readable references."""
        obj = _object("Pod") | {"metadata": {"generateName": "job-"}}
        assert next(iter_workloads(obj)).ref == "Pod/job-*"
        obj = _object("Pod") | {"metadata": None}
        assert next(iter_workloads(obj)).ref == "Pod/(unnamed)"

    def test_list(self) -> None:
        """List items are opened one level deep, with their item path."""
        data = {
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}},
                _object("Pod"),
                "junk",
                _object("CronJob"),
            ],
        }
        found = list(iter_workloads(data))
        assert [(w.kind, w.object_path) for w in found] == [
            ("Pod", "items[1]"),
            ("CronJob", "items[3]"),
        ]
        assert found[1].document_path("spec.schedule") == "items[3].spec.schedule"
        assert found[1].document_path("") == "items[3]"

    def test_typed_lists(self) -> None:
        """DeploymentList and similar kinds are lists too."""
        data = {"kind": "DeploymentList", "items": [_object("Deployment")]}
        assert [w.object_path for w in iter_workloads(data)] == ["items[0]"]

    def test_non_workload_documents(self) -> None:
        """Scalars, lists and other kinds yield nothing."""
        assert list(iter_workloads(None)) == []
        assert list(iter_workloads([_object("Pod")])) == []
        assert list(iter_workloads({"kind": "List", "items": "x"})) == []

    def test_fixture_stream(self) -> None:
        """Every kind in the all-kinds fixture is found; other documents are skipped."""
        docs = load_file(FIXTURES / "all-kinds.yaml")
        found = [w for doc in docs for w in iter_workloads(doc.data)]
        assert [w.ref for w in found] == [
            "Pod/pod",
            "PodTemplate/template",
            "Deployment/deployment",
            "StatefulSet/statefulset",
            "DaemonSet/daemonset",
            "ReplicaSet/replicaset",
            "ReplicationController/rc",
            "Job/job",
            "CronJob/ops/cronjob",
        ]

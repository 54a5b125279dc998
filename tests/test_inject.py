"""Tests for podself.manifest.inject and ``podself inject``: adding the Downward API stanzas."""

from __future__ import annotations

import difflib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podself.cli import main
from podself.errors import ManifestError
from podself.manifest.inject import (
    DEFAULT_FIELDS,
    FIELDS,
    InjectOptions,
    InjectResult,
    check_writable,
    emit_helm,
    emit_kustomize,
    inject_file,
    inject_text,
    parse_fields,
    write_in_place,
)
from podself.manifest.lint import lint_text
from podself.manifest.load import load_documents
from podself.manifest.workloads import iter_workloads, pod_template
from podself.names import env_table, file_table

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inject"
KINDS = (
    "Pod",
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
    "CronJob",
    "PodTemplate",
)
API_VERSIONS = {
    "Pod": "v1",
    "PodTemplate": "v1",
    "ReplicationController": "v1",
    "Job": "batch/v1",
    "CronJob": "batch/v1",
}
LIMITS = {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "250m"}}


def workload(kind: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    """A workload of ``kind`` whose pod spec holds ``containers`` (and ``spec`` extras)."""
    pod_spec = {"containers": containers, **spec}
    template = {"metadata": {"labels": {"app": "demo"}}, "spec": pod_spec}
    body: dict[str, Any] = {
        "apiVersion": API_VERSIONS.get(kind, "apps/v1"),
        "kind": kind,
        "metadata": {"name": "demo"},
    }
    if kind == "Pod":
        body["spec"] = pod_spec
    elif kind == "PodTemplate":
        body["template"] = template
    elif kind == "CronJob":
        body["spec"] = {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}}
    else:
        body["spec"] = {"template": template}
    return body


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    """A container with limits and requests set, so every resource field applies."""
    return {"name": name, "image": "app:1", "resources": json.loads(json.dumps(LIMITS)), **extra}


def dump(*objects: Any) -> str:
    """kubectl-style YAML for ``objects``, one document each."""
    return yaml.safe_dump_all(objects, sort_keys=False)


def spec_of(text: str | bytes, index: int = 0) -> dict[str, Any]:
    """The pod spec of the ``index``-th document of ``text``."""
    found = pod_template(list(yaml.safe_load_all(text))[index])
    assert found is not None
    return dict(found[0])


def env_of(spec: dict[str, Any], name: str = "app") -> dict[str, Any]:
    """Env var name -> definition for one container of ``spec``."""
    for section in ("containers", "initContainers"):
        for item in spec.get(section) or []:
            if item["name"] == name:
                return {var["name"]: var for var in item.get("env") or []}
    raise AssertionError(name)


def changed_ops(result: InjectResult) -> set[str]:
    """The kinds of line edits between input and output ('insert' only, ideally)."""
    before = result.original.decode("utf-8-sig").splitlines()
    after = result.text.splitlines()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    return {op for op, *_ in matcher.get_opcodes() if op != "equal"}


class TestFields:
    def test_groups_expand_in_canonical_order(self) -> None:
        """Groups and names mix; the result follows the catalogue's order without repeats."""
        assert parse_fields("default") == DEFAULT_FIELDS
        assert parse_fields("container,identity") == (
            "name",
            "namespace",
            "pod_ip",
            "node_name",
            "uid",
            "service_account",
            "host_ip",
            "container",
        )
        assert parse_fields(["pod-ip", "labels", "pod_ip"]) == ("pod_ip", "labels")
        assert parse_fields("all") == tuple(FIELDS)

    def test_unknown_field_is_refused(self) -> None:
        """An unknown name raises ValueError listing the known ones."""
        with pytest.raises(ValueError, match=r"field 'podname': unknown; known: default"):
            parse_fields("name,podname")
        with pytest.raises(ValueError, match="no field selected"):
            parse_fields(" , ")

    def test_default_names_are_the_convention(self) -> None:
        """The default prefix gives the K8S_ names the issue and the seed use."""
        names = InjectOptions().env_names()
        assert [names[k] for k in DEFAULT_FIELDS if FIELDS[k].kind == "identity"] == [
            "K8S_POD_NAME",
            "K8S_NAMESPACE",
            "K8S_POD_IP",
            "K8S_NODE_NAME",
            "K8S_POD_UID",
            "K8S_SERVICE_ACCOUNT",
            "K8S_HOST_IP",
        ]
        assert InjectOptions().unrecognised_names() == []

    @pytest.mark.parametrize("prefix", ["K8S_", "", "MY_", "POD_", "KUBERNETES_"])
    def test_every_injected_name_is_recognised(self, prefix: str) -> None:
        """Names podself.read() knows are chosen for the prefix when one exists."""
        table = env_table()
        options = InjectOptions(prefix=prefix, fields=parse_fields("all"))
        for key, name in options.env_names().items():
            if name not in options.unrecognised_names():
                assert table[name][0] == key
        if prefix == "MY_":
            assert options.env_names()["namespace"] == "MY_POD_NAMESPACE"
            assert options.env_names()["service_account"] == "MY_POD_SERVICE_ACCOUNT"

    def test_unrecognised_prefix_is_reported(self) -> None:
        """A prefix with no recognised spelling is listed so the CLI can warn."""
        options = InjectOptions(prefix="ACME_")
        assert "ACME_POD_NAME" in options.unrecognised_names()

    def test_resource_names_match_their_divisors(self) -> None:
        """Env and file names state the unit their divisor produces, as podself reads them."""
        env, files = env_table(), file_table()
        for f in FIELDS.values():
            if f.kind != "resource":
                continue
            attr = f.key
            assert env[f.env_name][0] == attr
            assert env[f.env_name][2] == f.divisor
            assert files[f.file_name] == (attr, f.divisor)

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"prefix": "1X_"}, "prefix '1X_'"),
            ({"prefix": "A-B"}, "prefix 'A-B'"),
            ({"mount_path": "podinfo"}, "must be an absolute path"),
            ({"mount_path": "/etc/../podinfo"}, "without '..'"),
            ({"env": False, "volume": False}, "nothing to add"),
            ({"fields": ("bogus",)}, "fields bogus: unknown"),
        ],
    )
    def test_bad_options(self, kwargs: dict[str, Any], message: str) -> None:
        """Options that would produce an invalid or empty edit are refused."""
        with pytest.raises(ValueError, match=re.escape(message)):
            InjectOptions(**kwargs)


class TestWhatIsAdded:
    @pytest.mark.parametrize("kind", KINDS)
    def test_every_workload_kind(self, kind: str) -> None:
        """Each kind's pod template gets the env vars, the mount and the podinfo volume."""
        result = inject_text(dump(workload(kind, [container()])))
        spec = spec_of(result.output)
        env = env_of(spec)
        assert list(env)[:7] == [
            "K8S_POD_NAME",
            "K8S_NAMESPACE",
            "K8S_POD_IP",
            "K8S_NODE_NAME",
            "K8S_POD_UID",
            "K8S_SERVICE_ACCOUNT",
            "K8S_HOST_IP",
        ]
        assert env["K8S_POD_IP"]["valueFrom"] == {"fieldRef": {"fieldPath": "status.podIP"}}
        assert env["RESOURCE_CPU_LIMIT_MILLICORES"]["valueFrom"] == {
            "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
        }
        assert env["RESOURCE_MEMORY_REQUEST_MB"]["valueFrom"] == {
            "resourceFieldRef": {"resource": "requests.memory", "divisor": "1Mi"}
        }
        assert spec["containers"][0]["volumeMounts"] == [
            {"name": "podinfo", "mountPath": "/etc/podinfo", "readOnly": True}
        ]
        (volume,) = spec["volumes"]
        items = {item["path"]: item for item in volume["downwardAPI"]["items"]}
        assert list(items) == [
            "labels",
            "annotations",
            "containers/app/cpu_limit",
            "containers/app/cpu_request",
            "containers/app/mem_limit",
            "containers/app/mem_request",
        ]
        assert items["labels"]["fieldRef"] == {"fieldPath": "metadata.labels"}
        assert env["K8S_CONTAINER_NAME"] == {"name": "K8S_CONTAINER_NAME", "value": "app"}
        assert items["containers/app/mem_limit"]["resourceFieldRef"] == {
            "containerName": "app",
            "resource": "limits.memory",
            "divisor": "1Mi",
        }

    def test_non_workloads_pass_through(self) -> None:
        """ConfigMaps, Services and custom resources named like workloads are untouched."""
        custom = workload("Deployment", [container()])
        custom["apiVersion"] = "example.com/v1"
        text = dump({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, custom)
        result = inject_text(text)
        assert not result.changed
        assert result.output == text.encode()

    def test_unset_resources_are_left_out_and_reported(self) -> None:
        """A container without limits gets no resource fields (they would lie) and a note."""
        text = dump(workload("Deployment", [{"name": "app", "image": "x"}]))
        result = inject_text(text, "d.yaml")
        spec = spec_of(result.output)
        assert not [n for n in env_of(spec) if n.startswith("RESOURCE_")]
        paths = [i["path"] for i in spec["volumes"][0]["downwardAPI"]["items"]]
        assert paths == ["labels", "annotations"]
        (note,) = result.notes
        assert str(note).startswith('d.yaml:12: container "app": limits.cpu, requests.cpu')
        assert "--all-resources" in note.message

    def test_requests_default_from_limits(self) -> None:
        """A limit alone makes both the limit and the request fields meaningful."""
        only_limit = {"name": "app", "image": "x", "resources": {"limits": {"memory": "1Gi"}}}
        result = inject_text(dump(workload("Pod", [only_limit])))
        env = env_of(spec_of(result.output))
        assert "RESOURCE_MEMORY_LIMIT_MB" in env
        assert "RESOURCE_MEMORY_REQUEST_MB" in env
        assert "RESOURCE_CPU_LIMIT_MILLICORES" not in env

    def test_pod_level_limits_count(self) -> None:
        """Pod-level resources bound the container, so its limit fields are added."""
        bare = {"name": "app", "image": "x"}
        pod = workload("Pod", [bare], resources={"limits": {"cpu": "1", "memory": "1Gi"}})
        env = env_of(spec_of(inject_text(dump(pod)).output))
        assert "RESOURCE_CPU_LIMIT_MILLICORES" in env
        assert "RESOURCE_CPU_REQUEST_MILLICORES" not in env

    def test_all_resources(self) -> None:
        """--all-resources adds every selected resource field, set or not."""
        options = InjectOptions(all_resources=True)
        result = inject_text(dump(workload("Pod", [{"name": "a", "image": "x"}])), options=options)
        assert result.notes == ()
        assert "RESOURCE_MEMORY_REQUEST_MB" in env_of(spec_of(result.output), "a")

    def test_init_containers_and_filter(self) -> None:
        """Init containers count; --containers picks by name across both lists."""
        obj = workload("Pod", [container("app"), container("side")])
        pod_spec = obj["spec"]
        pod_spec["initContainers"] = [container("setup")]
        spec = spec_of(inject_text(dump(obj)).output)
        assert "K8S_POD_NAME" in env_of(spec, "setup")
        options = InjectOptions(containers=frozenset({"setup", "side"}))
        result = inject_text(dump(obj), options=options)
        spec = spec_of(result.output)
        assert "env" not in spec["containers"][0]
        assert "K8S_POD_NAME" in env_of(spec, "side")
        assert "K8S_POD_NAME" in env_of(spec, "setup")
        considered = {n for plan in result.plans for n in plan.considered}
        assert considered == {"setup", "side"}

    def test_one_volume_with_a_directory_per_container(self) -> None:
        """Each container's resource files sit under containers/<name>/ of the one volume,
        and each container gets its name, so none reads another's as its own."""
        sidecar = {"name": "side", "image": "side:1"}  # no resources: no files of its own
        obj = workload("Pod", [container("app"), container("b"), sidecar])
        obj["spec"]["initContainers"] = [{"name": "init", "image": "init:1"}]
        result = inject_text(dump(obj))
        spec = spec_of(result.output)
        (volume,) = spec["volumes"]
        owners = {
            i["path"]: i["resourceFieldRef"]["containerName"]
            for i in volume["downwardAPI"]["items"]
            if "resourceFieldRef" in i
        }
        assert owners == {
            f"containers/{name}/{file}": name
            for name in ("app", "b")
            for file in ("cpu_limit", "cpu_request", "mem_limit", "mem_request")
        }
        for name in ("app", "b", "side", "init"):
            assert env_of(spec, name)["K8S_CONTAINER_NAME"]["value"] == name
        mounts = [c["volumeMounts"] for c in spec["containers"] + spec["initContainers"]]
        assert all(
            m == [{"name": "podinfo", "mountPath": "/etc/podinfo", "readOnly": True}]
            for m in mounts
        )
        assert inject_text(result.text).changed is False
        # A later run for one more container adds its files in a volume of its own: an
        # existing volume is never edited.
        obj = yaml.safe_load(result.text)
        obj["spec"]["containers"].append(container("c"))
        again = spec_of(inject_text(dump(obj)).output)
        assert [v["name"] for v in again["volumes"]] == ["podinfo", "podinfo-c"]
        paths = [i["path"] for i in again["volumes"][1]["downwardAPI"]["items"]]
        assert paths[:3] == ["labels", "annotations", "containers/c/cpu_limit"]

    def test_shared_volume_without_resource_files(self) -> None:
        """Without resource files every container mounts the one podinfo volume."""
        options = InjectOptions(fields=parse_fields("identity,metadata"))
        obj = workload("Pod", [container("app"), container("b")])
        spec = spec_of(inject_text(dump(obj), options=options).output)
        assert [v["name"] for v in spec["volumes"]] == ["podinfo"]
        assert {c["volumeMounts"][0]["name"] for c in spec["containers"]} == {"podinfo"}

    def test_resource_files_at_the_volume_root_are_reported(self) -> None:
        """Older output (one container's files at the volume's root) is left as it is, with
        the fix in a note; no further container is given that volume."""
        root_items = [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {
                "path": "cpu_limit",
                "resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"},
            },
        ]
        mount = {"name": "podinfo", "mountPath": "/etc/podinfo"}
        obj = workload(
            "Pod",
            [{**container("app"), "volumeMounts": [mount]}, {"name": "side", "image": "s:1"}],
        )
        obj["spec"]["volumes"] = [{"name": "podinfo", "downwardAPI": {"items": root_items}}]
        result = inject_text(dump(obj), options=InjectOptions(fields=parse_fields("default")))
        notes = [n.message for n in result.notes]
        assert any(
            m.startswith('container "app": mountPath /etc/podinfo already used by volume')
            and 'it holds cpu_limit of container "app" at its root, which every container '
            "mounting it reads as its own: move them under containers/app/"
            in m
            for m in notes
        )
        assert (
            'volume "podinfo" holds cpu_limit of container "app" at its root, which container '
            '"side" reads as its own: move them under containers/app/ (or remove the volume and '
            'its mounts and run podself inject again); container "side" gets another volume'
        ) in notes
        spec = spec_of(result.output)
        assert spec["containers"][1]["volumeMounts"][0]["name"] == "podinfo-side"
        assert spec["volumes"][0]["downwardAPI"]["items"] == root_items
        assert inject_text(result.text).changed is False

    def test_invalid_container_name_gets_no_resource_paths(self) -> None:
        """A name the API server refuses never becomes a path segment."""
        result = inject_text(dump(workload("Pod", [container("../x")])))
        spec = spec_of(result.output)
        assert [i["path"] for i in spec["volumes"][0]["downwardAPI"]["items"]] == [
            "labels",
            "annotations",
        ]
        assert any("not a valid container name" in n.message for n in result.notes)

    def test_no_env_says_the_name_is_missing(self) -> None:
        """--no-env: the files are added, and a note says podself cannot tell its own."""
        result = inject_text(dump(workload("Pod", [container()])), options=InjectOptions(env=False))
        assert any(
            n.message.startswith('container "app": no env var gives podself its name (--no-env)')
            for n in result.notes
        )
        named = workload(
            "Pod", [{**container(), "env": [{"name": "MY_CONTAINER_NAME", "value": "app"}]}]
        )
        result = inject_text(dump(named), options=InjectOptions(env=False))
        assert not any("no env var gives podself its name" in n.message for n in result.notes)

    def test_containers_filter_keeps_one_volume(self) -> None:
        """--containers: only the named containers get files, env and the mount."""
        obj = workload("Pod", [container("app"), container("b")])
        options = InjectOptions(containers=frozenset({"b"}))
        spec = spec_of(inject_text(dump(obj), options=options).output)
        (volume,) = spec["volumes"]
        assert {i["path"].split("/")[1] for i in volume["downwardAPI"]["items"][2:]} == {"b"}
        assert "env" not in spec["containers"][0]
        assert env_of(spec, "b")["K8S_CONTAINER_NAME"]["value"] == "b"

    def test_long_container_name_gives_a_dns_label(self) -> None:
        """The per-container volume name stays a DNS label of at most 63 characters."""
        long = "c" * 63
        obj = workload("Pod", [container(long)])
        obj["spec"]["volumes"] = [{"name": "podinfo", "emptyDir": {}}]
        spec = spec_of(inject_text(dump(obj)).output)
        name = spec["volumes"][1]["name"]
        assert len(name) <= 63
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name)

    def test_switches(self) -> None:
        """--no-env adds only the volume, --no-volume only the env vars."""
        text = dump(workload("Pod", [container()]))
        spec = spec_of(inject_text(text, options=InjectOptions(env=False)).output)
        assert "env" not in spec["containers"][0]
        assert spec["volumes"]
        spec = spec_of(inject_text(text, options=InjectOptions(volume=False)).output)
        assert "volumes" not in spec
        assert "volumeMounts" not in spec["containers"][0]
        assert "K8S_POD_NAME" in env_of(spec)

    def test_fields_and_container_name(self) -> None:
        """--fields picks what is added; container is the container's own name as a value."""
        options = InjectOptions(fields=parse_fields("name,container,memory_limit"))
        spec = spec_of(inject_text(dump(workload("Pod", [container()])), options=options).output)
        assert list(env_of(spec)) == [
            "K8S_POD_NAME",
            "K8S_CONTAINER_NAME",
            "RESOURCE_MEMORY_LIMIT_MB",
        ]
        assert env_of(spec)["K8S_CONTAINER_NAME"] == {"name": "K8S_CONTAINER_NAME", "value": "app"}
        assert [i["path"] for i in spec["volumes"][0]["downwardAPI"]["items"]] == [
            "containers/app/mem_limit"
        ]

    def test_custom_mount_path_tells_podself(self) -> None:
        """Another mount path also sets PODSELF_PODINFO_DIR so podself.read() finds it."""
        options = InjectOptions(mount_path="/var/run/podinfo/", volume=True)
        spec = spec_of(inject_text(dump(workload("Pod", [container()])), options=options).output)
        assert spec["containers"][0]["volumeMounts"][0]["mountPath"] == "/var/run/podinfo"
        assert env_of(spec)["PODSELF_PODINFO_DIR"]["value"] == "/var/run/podinfo"

    def test_otel(self) -> None:
        """--otel adds the Operator's variables and composes OTEL_RESOURCE_ATTRIBUTES after them."""
        options = InjectOptions(otel=True)
        obj = workload("StatefulSet", [container()])
        obj["metadata"]["name"] = "db"
        env = env_of(spec_of(inject_text(dump(obj), options=options).output))
        names = list(env)
        assert names[-5:] == [
            "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
            "OTEL_RESOURCE_ATTRIBUTES_POD_UID",
            "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME",
            "OTEL_RESOURCE_ATTRIBUTES_NAMESPACE",
            "OTEL_RESOURCE_ATTRIBUTES",
        ]
        assert env["OTEL_RESOURCE_ATTRIBUTES_NODE_NAME"]["valueFrom"]["fieldRef"] == {
            "fieldPath": "spec.nodeName"
        }
        value = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        assert value.split(",") == [
            "k8s.container.name=app",
            "k8s.namespace.name=$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)",
            "k8s.node.name=$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)",
            "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)",
            "k8s.pod.uid=$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)",
            "k8s.statefulset.name=db",
        ]  # no service.instance.id: it would win over the per-process detector in every worker

    def test_datadog(self) -> None:
        """--datadog adds DD_ENV/DD_SERVICE from the template's tags.datadoghq.com labels
        (not DD_VERSION, whose label is missing, with a note), DD_AGENT_HOST and DD_ENTITY_ID,
        as fieldRefs; a second run changes nothing."""
        obj = workload("Deployment", [container()])
        obj["spec"]["template"]["metadata"]["labels"].update(
            {"tags.datadoghq.com/env": "prod", "tags.datadoghq.com/service": "api"}
        )
        options = InjectOptions(datadog=True, env=False, volume=False)
        result = inject_text(dump(obj), options=options)
        env = env_of(spec_of(result.output))
        assert {name: var["valueFrom"]["fieldRef"]["fieldPath"] for name, var in env.items()} == {
            "DD_ENV": "metadata.labels['tags.datadoghq.com/env']",
            "DD_SERVICE": "metadata.labels['tags.datadoghq.com/service']",
            "DD_AGENT_HOST": "status.hostIP",
            "DD_ENTITY_ID": "metadata.uid",
        }
        assert [n.message for n in result.notes] == [
            "no tags.datadoghq.com/version label on the pod template: DD_VERSION not added "
            "(a fieldRef to a missing label reads as empty)"
        ]
        again = inject_text(result.output, options=options)
        assert again.output is again.original

    def test_datadog_never_overrides(self) -> None:
        """A DD_ variable the user set stays as it is (reported); the others are added."""
        user = {"name": "DD_AGENT_HOST", "value": "datadog-agent.monitoring"}
        obj = workload("Deployment", [container(env=[user])])
        result = inject_text(dump(obj), options=InjectOptions(datadog=True))
        env = env_of(spec_of(result.output))
        assert env["DD_AGENT_HOST"] == user
        assert "DD_ENTITY_ID" in env
        assert "K8S_HOST_IP" in env  # its own variable, not a twin of DD_AGENT_HOST
        assert not {"DD_ENV", "DD_SERVICE", "DD_VERSION"} & set(env)
        assert "env DD_AGENT_HOST already set, left as is" in str(result.notes)

    @pytest.mark.parametrize(
        ("kind", "key"),
        [
            ("Deployment", "k8s.deployment.name=demo"),
            ("DaemonSet", "k8s.daemonset.name=demo"),
            ("ReplicaSet", "k8s.replicaset.name=demo"),
            ("Job", "k8s.job.name=demo"),
            ("CronJob", "k8s.cronjob.name=demo"),
            ("Pod", None),
            ("ReplicationController", None),
        ],
    )
    def test_otel_workload_key(self, kind: str, key: str | None) -> None:
        """The workload's own k8s.<kind>.name key is added where the conventions define one."""
        options = InjectOptions(otel=True, env=False, volume=False)
        env = env_of(
            spec_of(inject_text(dump(workload(kind, [container()])), options=options).output)
        )
        value = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        workload_keys = [
            p for p in value.split(",") if re.match(r"k8s\.(?!pod|node|namespace|container)", p)
        ]
        assert workload_keys == ([key] if key else [])


class TestRoundTrip:
    def test_golden_comments_and_quoting(self) -> None:
        """Comments, flow style, quotes, block scalars and markers survive byte for byte."""
        result = inject_file(FIXTURES / "comments.yaml")
        expected = (FIXTURES / "comments.expected.yaml").read_bytes()
        assert result.output == expected
        assert changed_ops(result) == {"insert"}

    @pytest.mark.parametrize("name", ["all-kinds.yaml", "list.yaml", "comments.yaml"])
    def test_only_lines_are_added(self, name: str) -> None:
        """Injecting into the fixtures only inserts lines; nothing existing is rewritten."""
        result = inject_file(FIXTURES / name)
        assert result.changed
        assert changed_ops(result) == {"insert"}

    @pytest.mark.parametrize(
        "name", ["all-kinds.yaml", "list.yaml", "comments.yaml", "deployment.json"]
    )
    def test_nothing_to_add_is_byte_identical(self, name: str) -> None:
        """Already-injected input comes back byte for byte, with the same notes."""
        first = inject_file(FIXTURES / name)
        second = inject_text(first.output, name)
        assert second.output == first.output
        assert not second.changed
        assert [n.message for n in second.notes] == [n.message for n in first.notes]

    def test_list_objects(self) -> None:
        """Workloads inside a List are edited; its other items are not."""
        result = inject_file(FIXTURES / "list.yaml")
        data = yaml.safe_load(result.output)
        kinds = [(w.kind, w.object_path) for w in iter_workloads(data)]
        assert kinds == [("Deployment", "items[0]"), ("Job", "items[2]")]
        for found in iter_workloads(data):
            assert "K8S_POD_NAME" in env_of(dict(found.spec), found.spec["containers"][0]["name"])
        assert data["items"][1] == yaml.safe_load((FIXTURES / "list.yaml").read_text())["items"][1]

    def test_every_kind_in_one_stream(self) -> None:
        """A multi-document stream edits each workload and keeps the rest byte for byte."""
        text = (FIXTURES / "all-kinds.yaml").read_text()
        result = inject_text(text)
        before = text.split("\n---\n")
        after = result.text.split("\n---\n")
        assert len(before) == len(after) == 11
        for old, new in zip(before[:9], after[:9], strict=True):
            assert old != new
        assert before[9:] == after[9:]

    def test_indentation_styles_are_kept(self) -> None:
        """kubectl-style and indented sequences are each detected and continued."""
        kubectl = dump(workload("Pod", [container()]))
        result = inject_text(kubectl)
        assert "\n  - name: app\n" in result.text
        assert "\n  - name: K8S_POD_NAME\n" not in result.text
        assert "\n    - name: K8S_POD_NAME\n" in result.text
        assert changed_ops(result) == {"insert"}
        indented = textwrap.dedent(
            """\
            kind: Pod
            metadata:
                name: p
            spec:
                containers:
                    -   name: app
                        image: x
            """
        )
        result = inject_text(indented)
        assert changed_ops(result) == {"insert"}
        assert "\n                -   name: K8S_POD_NAME\n" in result.text

    def test_flow_style_container(self) -> None:
        """A container written in flow style takes the additions in flow style, still valid."""
        text = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: x}]\n"
        result = inject_text(text)
        spec = spec_of(result.output)
        assert "K8S_POD_NAME" in env_of(spec)
        assert result.text.startswith("kind: Pod\nmetadata: {name: p}\nspec:\n")

    def test_empty_flow_lists_grow_as_blocks(self) -> None:
        """`env: []` and `volumes: []` become block lists rather than one long flow line."""
        text = (
            "kind: Pod\nmetadata: {name: p}\nspec:\n"
            "  containers:\n  - name: app\n    env: []\n  volumes: []\n"
        )
        out = inject_text(text, options=InjectOptions(fields=parse_fields("name,labels"))).text
        assert "    env:\n    - name: K8S_POD_NAME\n" in out
        assert "  volumes:\n  - name: podinfo\n" in out

    def test_comment_after_last_key_stays_below_additions(self) -> None:
        """A comment that followed a container's last key still precedes what came next."""
        text = textwrap.dedent(
            """\
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
              - name: app
                image: x  # pinned
                # next: the sidecar
              - name: side
                image: y
              # pod settings
              restartPolicy: Always
            """
        )
        out = inject_text(text, options=InjectOptions(volume=False)).text
        lines = out.splitlines()
        assert "    image: x  # pinned" in lines
        comment = lines.index("    # next: the sidecar")
        assert lines[comment + 1] == "- name: side".rjust(len("  - name: side"))
        assert lines[comment - 1].strip().startswith("fieldPath:")
        settings_comment = lines.index("  # pod settings")
        assert lines[settings_comment + 1] == "  restartPolicy: Always"

    def test_crlf_bom_and_missing_final_newline(self) -> None:
        """CRLF line ends, a UTF-8 BOM and a missing final newline are kept."""
        text = dump(workload("Pod", [container()])).replace("\n", "\r\n").rstrip("\r\n")
        data = b"\xef\xbb\xbf" + text.encode()
        result = inject_text(data)
        assert result.output.startswith(b"\xef\xbb\xbf")
        assert b"\r\n" in result.output
        assert b"\n" not in result.output.replace(b"\r\n", b"")
        assert not result.output.endswith(b"\n")
        assert "K8S_POD_NAME" in env_of(spec_of(result.output.decode("utf-8-sig")))

    def test_crlf_with_comments_keeps_one_carriage_return(self) -> None:
        """Comments in a CRLF file end in a single CRLF after the edit, like every other line."""
        text = (
            "apiVersion: v1\r\nkind: Pod  # a pod\r\nmetadata:\r\n  name: p\r\n"
            "# the spec\r\nspec:\r\n  containers:\r\n  - name: app  # main\r\n    image: x\r\n"
        )
        result = inject_text(text)
        assert result.changed
        assert b"\r\r" not in result.output
        assert b"\n" not in result.output.replace(b"\r\n", b"")
        assert b"kind: Pod  # a pod\r\n" in result.output
        assert inject_text(result.output).output == result.output

    def test_crlf_json(self) -> None:
        """An edited JSON document with CRLF line ends keeps them on every line."""
        pod = json.dumps(workload("Pod", [container()]), indent=2).replace("\n", "\r\n")
        result = inject_text(pod + "\r\n", "pod.json")
        assert result.changed
        assert b"\n" not in result.output.replace(b"\r\n", b"")
        assert "K8S_POD_NAME" in env_of(json.loads(result.output)["spec"])
        assert inject_text(result.output, "pod.json").output == result.output

    def test_document_markers_and_directives(self) -> None:
        """Explicit ends (...), directives and empty documents are kept."""
        pod = dump(workload("Pod", [container()]))
        text = f"%YAML 1.2\n---\n{pod}...\n---\n# only a comment\n...\n"
        result = inject_text(text)
        assert result.text.startswith("%YAML 1.2\n---\n")
        assert result.text.endswith("...\n---\n# only a comment\n...\n")
        assert "K8S_POD_NAME" in env_of(spec_of(result.output))

    def test_anchors_and_merge_keys(self) -> None:
        """Anchors and merge keys survive and the merged container is edited once."""
        text = textwrap.dedent(
            """\
            kind: Pod
            metadata: {name: p}
            spec:
              containers:
              - &base
                name: app
                image: x
                resources: {limits: {cpu: 100m, memory: 64Mi}}
              - <<: *base
                name: copy
            """
        )
        result = inject_text(text)
        assert "&base" in result.text
        assert "<<: *base" in result.text
        spec = spec_of(result.output)
        assert "K8S_POD_NAME" in env_of(spec, "copy")
        second = inject_text(result.output)
        assert not second.changed

    def test_json(self) -> None:
        """JSON stays JSON, indented as it was."""
        result = inject_file(FIXTURES / "deployment.json")
        data = json.loads(result.output)
        assert "K8S_POD_NAME" in env_of(data["spec"]["template"]["spec"])
        assert result.text.startswith('{\n  "apiVersion": "apps/v1",\n')
        compact = json.dumps(workload("Pod", [container()]), separators=(",", ":"))
        result = inject_text(compact, "pod.json")
        assert "\n" not in result.text
        assert "K8S_POD_NAME" in env_of(json.loads(result.output)["spec"])


class TestDecimalSizes:
    def test_memory_not_a_whole_mib_is_exposed_in_bytes(self) -> None:
        """1G is 953.67 MiB: inject uses the _BYTES names with divisor 1, so nothing rounds."""
        resources = {"limits": {"cpu": "500m", "memory": "1G"}, "requests": {"memory": "512Mi"}}
        pod = workload("Pod", [{"name": "app", "image": "app:1", "resources": resources}])
        result = inject_text(dump(pod))
        spec = spec_of(result.output)
        env = env_of(spec)
        assert env["RESOURCE_MEMORY_LIMIT_BYTES"]["valueFrom"]["resourceFieldRef"] == {
            "resource": "limits.memory",
            "divisor": "1",
        }
        assert "RESOURCE_MEMORY_LIMIT_MB" not in env
        assert "RESOURCE_MEMORY_REQUEST_MB" in env  # 512Mi divides exactly
        items = {item["path"]: item for item in spec["volumes"][0]["downwardAPI"]["items"]}
        assert items["containers/app/mem_limit_bytes"]["resourceFieldRef"]["divisor"] == "1"
        assert "containers/app/mem_request" in items
        assert env_table()["RESOURCE_MEMORY_LIMIT_BYTES"][0] == "memory_limit"
        assert file_table()["mem_limit_bytes"] == ("memory_limit", "1")
        assert inject_text(result.text).changed is False
        from podself.manifest.lint import lint_text

        assert lint_text(result.output, "decimal.yaml") == []


class TestYaml11:
    @pytest.mark.parametrize("name", ["yes", "on", "off", "n", "123", "1e3", "0o17", "null"])
    def test_ambiguous_new_strings_are_quoted(self, name: str) -> None:
        """Container names YAML 1.1 or 1.2 would read as booleans or numbers are quoted."""
        from ruamel.yaml import YAML

        text = textwrap.dedent(
            f"""\
            kind: Pod
            metadata:
              name: p
            spec:
              containers:
              - name: "{name}"
                image: x
                resources: {{limits: {{cpu: "1", memory: 1Mi}}}}
            """
        )
        options = InjectOptions(fields=parse_fields("default,container"))
        result = inject_text(text, options=options)
        yaml12 = YAML(typ="safe").load(result.output)
        for data in (yaml.safe_load(result.output), yaml12):  # YAML 1.1 (kubectl) and 1.2
            spec = data["spec"]
            items = spec["volumes"][0]["downwardAPI"]["items"]
            owners = {
                i["resourceFieldRef"]["containerName"] for i in items if "resourceFieldRef" in i
            }
            assert owners == {name}
            assert env_of(spec, name)["K8S_CONTAINER_NAME"]["value"] == name

    def test_existing_plain_values_are_not_requoted(self) -> None:
        """Values the author left plain (value: yes) stay exactly as written."""
        text = (FIXTURES / "comments.yaml").read_text()
        result = inject_text(text)
        assert "  enabled: yes\n" in result.text
        assert "  ratio: 0.50\n" in result.text


class TestConflicts:
    def test_reports_and_leaves_user_definitions(self) -> None:
        """Same-named env vars, taken mount paths and volume names are reported, not replaced."""
        result = inject_file(FIXTURES / "conflicts.yaml")
        source = str(FIXTURES / "conflicts.yaml")
        assert [str(n) for n in result.notes] == [
            f'{source}:12: container "app": env K8S_POD_NAME already set, left as is',
            f'{source}:19: container "app": env RESOURCE_MEMORY_LIMIT_MB already set, left as is; '
            "RESOURCE_MEMORY_LIMIT_MB promises MiB (divisor 1Mi), but the divisor is 1Gi: the "
            'value is in GiB (set divisor: "1Mi")',
            f'{source}:29: container "app": mountPath /etc/podinfo already used by volume '
            '"settings" (a configMap volume), left as is',
            f'{source}:41: volume "podinfo" is already a configMap volume, left as is; '
            'container "helper" gets another name',
        ]
        spec = spec_of(result.output)
        env = env_of(spec)
        assert env["K8S_POD_NAME"] == {"name": "K8S_POD_NAME", "value": "fixed-name"}
        divisor = env["RESOURCE_MEMORY_LIMIT_MB"]["valueFrom"]["resourceFieldRef"]["divisor"]
        assert divisor == "1Gi"
        assert spec["containers"][0]["volumeMounts"] == [
            {"name": "settings", "mountPath": "/etc/podinfo"}
        ]
        assert spec["volumes"][1] == {"name": "podinfo", "configMap": {"name": "something-else"}}
        assert spec["volumes"][2]["name"] == "podinfo-helper"
        assert spec["containers"][1]["volumeMounts"][0]["name"] == "podinfo-helper"
        assert changed_ops(result) == {"insert"}

    def test_aliases_podself_reads_are_not_duplicated(self) -> None:
        """POD_NAME=metadata.name or MEMORY_LIMIT_MB (1Mi) already feed podself: no K8S_ twin."""
        env = [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {
                "name": "MEMORY_LIMIT_MB",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}},
            },
        ]
        result = inject_text(dump(workload("Pod", [container(env=env)])))
        names = list(env_of(spec_of(result.output)))
        assert "K8S_POD_NAME" not in names
        assert "RESOURCE_MEMORY_LIMIT_MB" not in names
        assert "K8S_NAMESPACE" in names
        assert [n.message for n in result.notes] == [
            'container "app": env POD_NAME already gives what K8S_POD_NAME would '
            "(podself reads it), not added",
            'container "app": env MEMORY_LIMIT_MB already gives what RESOURCE_MEMORY_LIMIT_MB '
            "would (podself reads it), not added",
        ]
        assert inject_text(result.text).changed is False

    def test_alias_with_another_meaning_is_not_trusted(self) -> None:
        """An alias holding another field, or a divisor its name contradicts, gets the real var."""
        env = [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {
                "name": "MEMORY_LIMIT_MB",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Gi"}},
            },
        ]
        result = inject_text(dump(workload("Pod", [container(env=env)])))
        names = list(env_of(spec_of(result.output)))
        assert "K8S_POD_NAME" in names
        assert "RESOURCE_MEMORY_LIMIT_MB" in names

    def test_otel_names_stay_for_their_references(self) -> None:
        """--otel keeps its own variables even when K8S_ twins exist: the $(VAR)s need them."""
        env = [{"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        options = InjectOptions(otel=True)
        result = inject_text(dump(workload("Pod", [container(env=env)])), options=options)
        names = list(env_of(spec_of(result.output)))
        assert "OTEL_RESOURCE_ATTRIBUTES_POD_NAME" in names

    def test_equivalent_definitions_are_silent(self) -> None:
        """An existing var equal up to defaults (apiVersion v1, quoted divisor) is no conflict."""
        env = [
            {
                "name": "K8S_POD_NAME",
                "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}},
            },
            {
                "name": "RESOURCE_CPU_LIMIT_MILLICORES",
                "valueFrom": {
                    "resourceFieldRef": {
                        "containerName": "app",
                        "resource": "limits.cpu",
                        "divisor": "0.001",
                    }
                },
            },
        ]
        result = inject_text(dump(workload("Pod", [container(env=env)])))
        assert result.notes == ()
        names = list(env_of(spec_of(result.output)))
        assert names.count("K8S_POD_NAME") == 1
        assert names.count("RESOURCE_CPU_LIMIT_MILLICORES") == 1

    def test_malformed_lists_are_left_alone(self) -> None:
        """env or volumes that are not lists are reported and not touched."""
        obj = workload("Pod", [container(env="oops")], volumes={"not": "a list"})
        result = inject_text(dump(obj), "p.yaml")
        messages = [n.message for n in result.notes]
        assert 'container "app": env is not a list, left as is' in messages
        assert "volumes is not a list, left as is; no volume added" in messages
        spec = spec_of(result.output)
        assert spec["containers"][0]["env"] == "oops"
        assert spec["volumes"] == {"not": "a list"}

    def test_unnamed_container_is_skipped(self) -> None:
        """A container without a name cannot be addressed and is skipped with a note."""
        result = inject_text(dump(workload("Pod", [{"image": "x"}])), "p.yaml")
        assert not result.changed
        assert [str(n) for n in result.notes] == ["p.yaml:7: containers[0] has no name; skipped"]

    def test_own_downward_volume_at_the_mount_path(self) -> None:
        """A downwardAPI volume at the mount path counts when it holds our files (and more)."""
        labels = {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
        annotations = {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}}
        extra = {"path": "pod-name", "fieldRef": {"fieldPath": "metadata.name"}}
        mount = [{"name": "meta", "mountPath": "/etc/podinfo/"}]
        bare = {"name": "app", "image": "x", "volumeMounts": mount}
        volume: dict[str, Any] = {
            "name": "meta",
            "downwardAPI": {"items": [labels, annotations, extra]},
        }
        result = inject_text(dump(workload("Pod", [bare], volumes=[volume])), "p.yaml")
        assert [n.message for n in result.notes if "mountPath" in n.message] == []
        assert [v["name"] for v in spec_of(result.output)["volumes"]] == ["meta"]
        volume["downwardAPI"] = {"items": [labels, extra]}
        result = inject_text(dump(workload("Pod", [bare], volumes=[volume])), "p.yaml")
        assert 'already used by volume "meta" (a downwardAPI volume without annotations)' in (
            result.notes[-1].message
        )

    def test_volume_mounted_elsewhere(self) -> None:
        """Our own volume already mounted at another path is respected."""
        first = inject_text(dump(workload("Pod", [container()])))
        data = yaml.safe_load(first.output)
        data["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] = "/podinfo"
        result = inject_text(dump(data), "p.yaml")
        assert not result.changed
        assert [n.message for n in result.notes] == [
            'container "app": volume "podinfo" already mounted at /podinfo, left as is'
        ]


# --- idempotence, as a property ----------------------------------------------------------------

NAMES = st.sampled_from(["app", "web", "yes", "on", "log-shipper", "x1", "123"])
USER_ENV: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"name": "APP_MODE", "value": "prod"},
        {"name": "K8S_POD_NAME", "value": "fixed"},
        {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {
            "name": "RESOURCE_CPU_LIMIT_MILLICORES",
            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}},
        },
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": "service.name=x"},
    ]
)
MOUNTS: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"name": "podinfo", "mountPath": "/etc/podinfo"},
        {"name": "data", "mountPath": "/data"},
        {"name": "podinfo", "mountPath": "/elsewhere"},
    ]
)
VOLUMES: st.SearchStrategy[dict[str, Any]] = st.sampled_from(
    [
        {"name": "podinfo", "configMap": {"name": "x"}},
        {"name": "data", "emptyDir": {}},
        {
            "name": "podinfo",
            "downwardAPI": {
                "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
            },
        },
    ]
)


@st.composite
def manifests(draw: st.DrawFn) -> tuple[str, str]:
    """(source name, text) of a random stream of workloads in a random YAML or JSON style."""
    objects = []
    for _ in range(draw(st.integers(1, 2))):
        containers = []
        for name in draw(st.lists(NAMES, min_size=1, max_size=3, unique=True)):
            item: dict[str, Any] = {"name": name, "image": "img:1"}
            limits = draw(
                st.dictionaries(st.sampled_from(["cpu", "memory"]), st.just("1"), max_size=2)
            )
            requests = draw(
                st.dictionaries(st.sampled_from(["cpu", "memory"]), st.just("1"), max_size=2)
            )
            if limits or requests:
                item["resources"] = {"limits": limits, "requests": requests}
            env = draw(st.lists(USER_ENV, max_size=3, unique_by=lambda v: str(v["name"])))
            if env:
                item["env"] = env
            mounts = draw(st.lists(MOUNTS, max_size=2, unique_by=lambda m: str(m["mountPath"])))
            if mounts:
                item["volumeMounts"] = mounts
            containers.append(item)
        volumes = draw(st.lists(VOLUMES, max_size=2, unique_by=lambda v: str(v["name"])))
        extra = {"volumes": volumes} if volumes else {}
        objects.append(workload(draw(st.sampled_from(KINDS)), containers, **extra))
        if draw(st.booleans()):
            objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
    objects = json.loads(json.dumps(objects))  # no shared nodes: they would become anchors
    style = draw(st.sampled_from(["kubectl", "indented", "flow", "json"]))
    if style == "json":
        return "m.json", "\n".join(json.dumps(o, indent=2) for o in objects) + "\n"
    if style == "flow":
        return "m.yaml", yaml.safe_dump_all(objects, default_flow_style=True, explicit_start=True)
    if style == "kubectl":
        text = yaml.safe_dump_all(objects, sort_keys=False)
    else:
        from ruamel.yaml import YAML

        ruamel = YAML()
        ruamel.indent(mapping=2, sequence=4, offset=2)
        stream = io.StringIO()
        ruamel.dump_all(objects, stream)
        text = stream.getvalue()
    # Comment lines (and blank lines) anywhere, indented like the line they precede.
    lines = text.splitlines(keepends=True)
    for at in sorted(draw(st.sets(st.integers(0, len(lines)), max_size=4)), reverse=True):
        following = lines[at] if at < len(lines) else ""
        indent = len(following) - len(following.lstrip(" "))
        if following.startswith("---"):
            indent = 0
        lines.insert(at, " " * indent + draw(st.sampled_from(["# note\n", "\n"])))
    return "m.yaml", "".join(lines)


OPTIONS = st.builds(
    InjectOptions,
    env=st.booleans(),
    volume=st.just(True),
    fields=st.lists(st.sampled_from([*FIELDS, "default"]), min_size=1).map(parse_fields),
    containers=st.one_of(st.none(), st.sets(NAMES, min_size=1).map(frozenset)),
    otel=st.booleans(),
    all_resources=st.booleans(),
    mount_path=st.sampled_from(["/etc/podinfo", "/podinfo"]),
)


class TestNotes:
    def test_volume_kinds_take_their_article(self) -> None:
        """'an emptyDir volume', 'a configMap volume'."""
        text = (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
            "  - name: app\n    image: i\n    volumeMounts:\n"
            "    - {name: podinfo, mountPath: /etc/podinfo}\n"
            "  volumes:\n  - name: podinfo\n    emptyDir: {}\n"
        )
        notes = " ".join(str(n) for n in inject_text(text, "p.yaml").notes)
        assert "(an emptyDir volume), left as is" in notes
        elsewhere = text.replace("mountPath: /etc/podinfo", "mountPath: /data")
        notes = " ".join(str(n) for n in inject_text(elsewhere, "p.yaml").notes)
        assert 'volume "podinfo" is already an emptyDir volume, left as is' in notes


class TestSameAdviceAsLint:
    def test_a_kept_variable_carries_lints_advice(self) -> None:
        """An env entry inject leaves as it is gets the advice lint gives about it."""
        text = (
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
            "  - name: app\n    image: i\n    resources: {limits: {cpu: 500m}}\n    env:\n"
            "    - name: RESOURCE_CPU_LIMIT_MILLICORES\n      valueFrom:\n"
            "        resourceFieldRef: {resource: limits.cpu, divisor: '1'}\n"
        )
        lint_says = [f for f in lint_text(text, "p.yaml") if f.rule == "env-name-mismatch"]
        assert len(lint_says) == 1
        notes = [str(n) for n in inject_text(text, "p.yaml").notes if "already set" in str(n)]
        assert len(notes) == 1
        assert lint_says[0].message in notes[0]
        assert lint_says[0].hint in notes[0]


class TestIdempotence:
    def test_whitespace_line_after_a_round_tripped_addition_stays(self) -> None:
        """A whitespace-only line the round trip drops where it adds env entries comes back
        after them (found by the property test below)."""
        text = (
            "# note\napiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\nspec:\n"
            "  containers:\n  - name: app\n    image: img:1\n    env:\n"
            "    - name: RESOURCE_CPU_LIMIT_MILLICORES\n      valueFrom:\n"
            "        resourceFieldRef:\n          resource: limits.cpu\n          divisor: '1'\n"
            "  \n  volumes:\n  - name: podinfo\n    configMap:\n      name: x\n"
        )
        options = InjectOptions(env=False, volume=True, fields=("name",), otel=True)
        first = inject_text(text, "m.yaml", options=options)
        assert changed_ops(first) <= {"insert"}
        assert inject_text(first.output, "m.yaml", options=options).output == first.output

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(manifests(), OPTIONS)
    def test_second_run_changes_nothing(
        self, manifest: tuple[str, str], options: InjectOptions
    ) -> None:
        """inject(inject(x)) is inject(x), byte for byte, and user env entries keep their place."""
        source, text = manifest
        first = inject_text(text, source, options=options)
        second = inject_text(first.output, source, options=options)
        assert second.output == first.output
        assert not second.changed
        if "{" not in text:  # block style: existing lines are never rewritten
            assert changed_ops(first) <= {"insert"}
        before = [pod_template(d.data) for d in load_documents(text, source)]
        after = [pod_template(d.data) for d in load_documents(first.output, source)]
        for old, new in zip(before, after, strict=True):
            if old is None:
                assert new is None
                continue
            assert new is not None
            for section in ("containers", "initContainers"):
                for a, b in zip(old[0].get(section) or [], new[0].get(section) or [], strict=True):
                    assert (b.get("env") or [])[: len(a.get("env") or [])] == (a.get("env") or [])
                    assert {k: v for k, v in b.items() if k not in ("env", "volumeMounts")} == {
                        k: v for k, v in a.items() if k not in ("env", "volumeMounts")
                    }


class TestSplicing:
    """Additions are written into the text; the ruamel.yaml round trip is the reference."""

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(manifests(), OPTIONS)
    def test_same_as_the_round_trip(
        self, manifest: tuple[str, str], options: InjectOptions
    ) -> None:
        """Splicing gives the round trip's bytes and notes, or leaves the piece to it."""
        source, text = manifest
        spliced = inject_text(text, source, options=options)
        with mock.patch("podself.manifest.inject.text.splice", return_value=None):
            reference = inject_text(text, source, options=options)
        assert spliced.output == reference.output
        assert spliced.notes == reference.notes

    def test_plain_workloads_skip_the_round_trip(self) -> None:
        """A kubectl- or editor-style workload, LF or CRLF, is edited without a ruamel.yaml
        round trip (it cost ~17 ms a document, most of inject's time)."""
        kubectl = yaml.safe_dump(workload("Deployment", [container(resources=LIMITS)]))
        editor = textwrap.dedent("""\
            # web front end
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: web  # public
            spec:
              template:
                spec:
                  containers:
                    - name: web
                      image: web:1
                      env:
                        # settings
                        - name: APP_MODE
                          value: "yes"
                      resources:
                        limits: {cpu: 500m, memory: 256Mi}
                        requests:
                          cpu: 250m

                  # the pod's volumes
                  volumes:
                    - name: cache
                      emptyDir: {}
            """)
        for text in (kubectl, editor, editor.replace("\n", "\r\n")):
            with mock.patch("podself.manifest.inject.text.splice", return_value=None):
                reference = inject_text(text, "w.yaml")
            with mock.patch("podself.manifest.inject.text.new_yaml", side_effect=AssertionError):
                result = inject_text(text, "w.yaml")
            assert "K8S_POD_NAME" in result.text
            assert result.output == reference.output

    def test_round_trip_stays_linear_on_repeated_lines(self) -> None:
        """Putting blank lines back after the round trip compared every pair of equal lines:
        20,000 identical list items took 40 s for 160 KB. Repeated lines are numbered now, so
        the matcher only ever compares distinct lines."""
        text = (
            textwrap.dedent("""\
            apiVersion: v1
            kind: Pod
            metadata:
              name: p
              labels: &labels {app: p}
            spec:
              containers:
              - name: app
                image: app:1
                args:
            """)
            + "    - x\n" * 20_000
            + "\n    resources: {limits: {cpu: 1, memory: 1Gi}}\n"
        )
        seen: list[Sequence[Any]] = []
        real = difflib.SequenceMatcher

        def spy(isjunk: Any, a: Sequence[Any], b: Sequence[Any], autojunk: bool) -> Any:
            seen.extend((a, b))
            return real(isjunk, a, b, autojunk)

        with mock.patch("difflib.SequenceMatcher", side_effect=spy):
            result = inject_text(text, "p.yaml")  # the anchor takes it through the round trip
        assert seen
        assert all(len(set(lines)) == len(lines) for lines in seen)
        assert result.text.count("    - x\n") == 20_000
        assert "\n\n    resources:" in result.text  # the blank line is kept
        assert "K8S_POD_NAME" in result.text

    def test_empty_documents_cost_little_memory(self) -> None:
        """A stream of empty documents is copied through without holding them all (20,000
        took 14 MB when every document was kept)."""
        text = "---\n" * 20_000
        tracemalloc.start()
        try:
            result = inject_text(text, "e.yaml")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.output == text.encode()
        assert peak < 8_000_000


# --- errors and files --------------------------------------------------------------------------


class TestErrors:
    def test_invalid_yaml_names_file_and_line(self) -> None:
        """Invalid YAML raises ManifestError with file:line:column."""
        with pytest.raises(
            ManifestError, match=r"invalid\.yaml:11:1: invalid YAML: did not find expected ','"
        ):
            inject_file(FIXTURES / "invalid.yaml")

    def test_duplicate_keys_are_refused(self) -> None:
        """A duplicate key in a document to edit (a round trip cannot keep it) is an error."""
        text = "kind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: a}]\nkind: Pod\n"
        with pytest.raises(ManifestError, match=r"d\.yaml:5:\d+: invalid YAML"):
            inject_text(text, "d.yaml")

    def test_not_utf8_and_too_large(self) -> None:
        """Input that is not UTF-8 or over the size limit is refused."""
        from podself.manifest.load import Limits

        with pytest.raises(ManifestError, match="not UTF-8"):
            inject_text(b"kind: Pod\nx: \xff\n", "b.yaml")
        with pytest.raises(ManifestError, match="larger than the limit"):
            inject_text("kind: Pod\n" * 10, "big.yaml", limits=Limits(max_bytes=20))

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing file is a ManifestError naming it."""
        with pytest.raises(ManifestError, match=r"cannot read .*missing\.yaml"):
            inject_file(tmp_path / "missing.yaml")

    def test_write_in_place_keeps_mode(self, tmp_path: Path) -> None:
        """The file is replaced whole and keeps its permission bits."""
        path = tmp_path / "d.yaml"
        path.write_text("old\n")
        path.chmod(0o640)
        write_in_place(path, b"new\n")
        assert path.read_bytes() == b"new\n"
        assert stat.S_IMODE(path.stat().st_mode) == 0o640
        assert sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml"]

    def test_write_in_place_follows_symlinks(self, tmp_path: Path) -> None:
        """A symlinked manifest stays a symlink; its target gets the content."""
        real = tmp_path / "real.yaml"
        real.write_text("old\n")
        link = tmp_path / "link.yaml"
        link.symlink_to(real)
        write_in_place(link, b"new\n")
        assert link.is_symlink()
        assert real.read_bytes() == b"new\n"

    def test_read_only_file_is_refused(self, tmp_path: Path) -> None:
        """A read-only file is not replaced, even where the directory would allow it."""
        path = tmp_path / "d.yaml"
        path.write_text("old\n")
        path.chmod(0o444)
        with pytest.raises(
            ManifestError, match=r"d\.yaml: the file is read-only \(mode -r--r--r--\)"
        ):
            write_in_place(path, b"new\n")
        assert path.read_bytes() == b"old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml"]
        with pytest.raises(ManifestError, match="not a regular file"):
            check_writable(tmp_path)

    def test_failed_write_leaves_no_temp_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failure mid-write leaves the original as it was and no temporary file behind."""
        path = tmp_path / "d.yaml"
        path.write_text("old\n")

        def fail(*_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "fsync", fail)
        with pytest.raises(ManifestError, match="No space left on device"):
            write_in_place(path, b"new\n")
        assert path.read_bytes() == b"old\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["d.yaml"]


def run_cli(
    args: list[str], capfd: pytest.CaptureFixture[str], stdin: str | None = None
) -> tuple[int, str, str]:
    """Run ``podself ARGS`` in-process; returns (exit code, stdout, stderr)."""
    if stdin is not None:
        old = sys.stdin
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
        try:
            code = main(args)
        finally:
            sys.stdin = old
    else:
        code = main(args)
    out, err = capfd.readouterr()
    return code, out, err


@pytest.fixture
def manifests_dir(tmp_path: Path) -> Path:
    """A copy of the fixtures to edit."""
    target = tmp_path / "m"
    shutil.copytree(FIXTURES, target)
    return target


class TestHostileInput:
    def test_lone_surrogate_json(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A lone surrogate escape (valid JSON) reads as U+FFFD, as kubectl reads it; the
        document is edited and printed as UTF-8 instead of crashing."""
        path = tmp_path / "s.json"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}
        pod["spec"] = {"containers": [{"name": "a", "image": "IMAGE"}]}
        path.write_text(json.dumps(pod).replace("IMAGE", "x\\udcffy"))
        code, out, err = run_cli(["inject", str(path)], capfd)
        assert code == 0, err
        assert json.loads(out)["spec"]["containers"][0]["image"] == "x\ufffdy"
        assert "K8S_POD_NAME" in out

    def test_invalid_utf8_names_file_and_position(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A byte that is not UTF-8 is an error at file:line:column, not a traceback."""
        path = tmp_path / "bad.json"
        path.write_bytes(b'{"kind": "Pod",\n "x": "\xff"}')
        code, out, err = run_cli(["inject", str(path)], capfd)
        assert (code, out) == (2, "")
        assert f"{path}:2:8: input is not UTF-8" in err
        assert "Traceback" not in err

    def test_notes_cannot_drive_the_terminal(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A container name with escape sequences is shown escaped in notes."""
        path = tmp_path / "esc.yaml"
        path.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
            '  - name: "a\\e]0;pwned\\a"\n    image: x\n'
        )
        code, _, err = run_cli(["inject", str(path)], capfd)
        assert code == 0
        assert "\x1b" not in err
        assert 'container "a\\x1b]0;pwned\\x07"' in err

    def test_document_limit(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """--max-documents bounds a stream of (even empty) documents, like lint's."""
        path = tmp_path / "empty.yaml"
        path.write_text("---\n" * 20)
        code, _, err = run_cli(["inject", "--max-documents", "10", str(path)], capfd)
        assert code == 2
        assert "more than 10 documents" in err
        code, out, _ = run_cli(["inject", str(path)], capfd)
        assert (code, out) == (0, "---\n" * 20)
        code, _, err = run_cli(["inject", "--max-documents", "0", str(path)], capfd)
        assert code == 2
        assert "--max-documents 0: must be a positive number" in err

    def test_fifo_in_folder_is_skipped(self, tmp_path: Path) -> None:
        """A FIFO named *.yaml in a folder does not hang inject (run under a timeout)."""
        (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
        os.mkfifo(tmp_path / "fifo.yaml")
        proc = subprocess.run(
            [sys.executable, "-m", "podself", "inject", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"


class TestCli:
    def test_prints_to_stdout_and_notes_to_stderr(
        self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Without --in-place the result goes to stdout; notes go to stderr with file:line."""
        path = manifests_dir / "conflicts.yaml"
        before = path.read_bytes()
        code, out, err = run_cli(["inject", str(path)], capfd)
        assert code == 0
        assert "K8S_POD_IP" in out
        assert f'{path}:12: container "app": env K8S_POD_NAME already set, left as is' in err
        assert path.read_bytes() == before

    def test_in_place(self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """--in-place rewrites changed files, keeps the mode and leaves unchanged ones alone."""
        path = manifests_dir / "comments.yaml"
        path.chmod(0o600)
        untouched = manifests_dir / "plain.yaml"
        untouched.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n")
        mtime = untouched.stat().st_mtime_ns
        code, out, err = run_cli(["inject", "-i", str(path), str(untouched)], capfd)
        assert code == 0
        assert out == ""
        assert f"updated {path}" in err
        assert path.read_bytes() == (FIXTURES / "comments.expected.yaml").read_bytes()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert untouched.stat().st_mtime_ns == mtime
        code, _, err = run_cli(["inject", "-i", str(path)], capfd)
        assert code == 0
        assert "updated" not in err

    def test_diff_changes_nothing(
        self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """--diff prints a unified diff of added lines only and writes nothing."""
        path = manifests_dir / "list.yaml"
        before = path.read_bytes()
        code, out, _ = run_cli(["inject", "--diff", str(path)], capfd)
        assert code == 0
        assert out.startswith(f"--- a/{str(path).lstrip('/')}\n+++ b/")
        body = [line for line in out.splitlines()[2:] if not line.startswith("@@")]
        assert {line[:1] for line in body} <= {"+", " "}
        assert path.read_bytes() == before

    def test_stdin(self, capfd: pytest.CaptureFixture[str]) -> None:
        """- reads stdin and writes the result to stdout."""
        text = dump(workload("Pod", [container()]))
        code, out, _ = run_cli(["inject", "--no-volume", "-"], capfd, stdin=text)
        assert code == 0
        assert "K8S_POD_NAME" in env_of(spec_of(out))
        code, _, err = run_cli(["inject", "-i", "-"], capfd, stdin=text)
        assert code == 2
        assert "--in-place cannot rewrite stdin" in err

    def test_folder_and_several_files(
        self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Several inputs are printed as one stream, documents kept apart."""
        a = manifests_dir / "one.yaml"
        b = manifests_dir / "two.yaml"
        a.write_text(dump(workload("Pod", [container()])).rstrip("\n"))
        b.write_text(dump(workload("Job", [container()])))
        code, out, _ = run_cli(["inject", str(a), str(b)], capfd)
        assert code == 0
        assert [d["kind"] for d in yaml.safe_load_all(out)] == ["Pod", "Job"]

    def test_invalid_input_writes_nothing(
        self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """One invalid file stops the run with exit 2 before any file is written."""
        good = manifests_dir / "comments.yaml"
        before = good.read_bytes()
        bad = manifests_dir / "invalid.yaml"
        code, out, err = run_cli(["inject", "-i", str(good), str(bad)], capfd)
        assert code == 2
        assert out == ""
        assert f"{bad}:11:1: invalid YAML" in err
        assert "nothing written" in err
        assert good.read_bytes() == before

    def test_read_only_file_writes_nothing(
        self, manifests_dir: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A read-only file among the inputs: exit 2, no file changed, no temp file left."""
        good = manifests_dir / "comments.yaml"
        locked = manifests_dir / "list.yaml"
        locked.chmod(0o444)
        before = {p: p.read_bytes() for p in (good, locked)}
        names = sorted(p.name for p in manifests_dir.iterdir())
        code, _, err = run_cli(["inject", "-i", str(good), str(locked)], capfd)
        assert code == 2
        assert f"cannot write {locked}: the file is read-only" in err
        assert {p: p.read_bytes() for p in (good, locked)} == before
        assert sorted(p.name for p in manifests_dir.iterdir()) == names

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["inject"], "no input"),
            (["inject", "--diff", "-i", "x.yaml"], "--diff previews"),
            (["inject", "--fields", "nope", "x.yaml"], "field 'nope': unknown"),
            (["inject", "--no-env", "--no-volume", "x.yaml"], "nothing to add"),
            (["inject", "--prefix", "9", "x.yaml"], "prefix '9'"),
            (["inject", "--max-bytes", "0", "x.yaml"], "--max-bytes 0"),
            (["inject", "--emit", "helm", "x.yaml"], "--emit helm takes no PATH"),
            (["inject", "--emit", "kustomize"], "must name the containers"),
            (["inject", "--emit", "kustomize", "--diff", "--containers", "a"], "--emit prints"),
            (["inject", "/nonexistent/podself.yaml"], "cannot read /nonexistent/podself.yaml"),
        ],
    )
    def test_usage_errors(
        self, args: list[str], message: str, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Bad combinations and unreadable inputs exit 2 with the reason."""
        code, out, err = run_cli(args, capfd)
        assert code == 2
        assert out == ""
        assert message in err

    def test_warnings_for_unknown_container_and_prefix(
        self, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A --containers name matching nothing and an unrecognised prefix are warned about."""
        text = dump(workload("Pod", [container()]))
        code, _, err = run_cli(
            ["inject", "--containers", "app,ap", "--prefix", "ACME_", "-"], capfd, stdin=text
        )
        assert code == 0
        assert '--containers: no container named "ap"' in err
        assert "ACME_POD_NAME is not a name podself.read() recognises" in err


class TestLintClean:
    @pytest.mark.parametrize(
        "name", ["all-kinds.yaml", "list.yaml", "comments.yaml", "deployment.json"]
    )
    @pytest.mark.parametrize(
        "options",
        [InjectOptions(), InjectOptions(otel=True), InjectOptions(datadog=True)],
        ids=["default", "otel", "datadog"],
    )
    def test_injected_fixtures_have_no_findings(self, name: str, options: InjectOptions) -> None:
        """podself lint finds nothing at all (not even info) in what inject wrote."""
        lint = pytest.importorskip("podself.manifest.lint", reason="podself lint not available")
        result = inject_file(FIXTURES / name, options=options)
        assert lint.lint_text(result.output, name) == []

    def test_cli_lint_exits_zero(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """`podself lint` on the injected file exits 0."""
        pytest.importorskip("podself.cli.lint", reason="podself lint not available")
        path = tmp_path / "out.yaml"
        path.write_bytes(inject_file(FIXTURES / "all-kinds.yaml").output)
        code, _, _ = run_cli(["lint", "--fail-on", "info", str(path)], capfd)
        assert code == 0


class TestUnderTheEmulator:
    def test_datadog_values(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """Under `podself run`, --datadog's variables hold the labels' values, the node's IP
        and the pod's UID."""
        pytest.importorskip("podself.emulator.kubelet", reason="podself run not available")
        show = (
            "import json, os; "
            "print(json.dumps({k: v for k, v in os.environ.items() if k[:3] in ('DD_', 'K8S')}))"
        )
        obj = workload("Deployment", [container(command=[sys.executable, "-c", show])])
        obj["spec"]["template"]["metadata"]["labels"].update(
            {"tags.datadoghq.com/env": "prod", "tags.datadoghq.com/version": "1.4.2"}
        )
        path = tmp_path / "app.yaml"
        options = InjectOptions(datadog=True, fields=("uid", "host_ip"), volume=False)
        path.write_bytes(inject_text(dump(obj), options=options).output)
        code, out, err = run_cli(["run", "-f", str(path), "--timeout", "60"], capfd)
        assert code == 0, err
        env = json.loads(out[out.index("{") :])
        assert env["DD_ENV"] == "prod"
        assert env["DD_VERSION"] == "1.4.2"
        assert "DD_SERVICE" not in env
        assert env["DD_AGENT_HOST"] == env["K8S_HOST_IP"] != ""
        assert env["DD_ENTITY_ID"] == env["K8S_POD_UID"] != ""

    def test_injected_app_knows_itself(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Run under `podself run`, `podself info --json` reports every injected value."""
        pytest.importorskip("podself.emulator.kubelet", reason="podself run not available")
        obj = workload(
            "Deployment",
            [
                container(
                    command=[sys.executable, "-m", "podself", "info", "--json"],
                    resources={
                        "limits": {"cpu": "500m", "memory": "256Mi"},
                        "requests": {"cpu": "250m", "memory": "128Mi"},
                    },
                )
            ],
            serviceAccountName="web-sa",
        )
        obj["metadata"]["namespace"] = "shop"
        template = obj["spec"]["template"]
        template["metadata"] = {"labels": {"app": "web"}, "annotations": {"team": "payments"}}
        path = tmp_path / "app.yaml"
        path.write_bytes(inject_text(dump(obj)).output)
        code, out, err = run_cli(["run", "-f", str(path), "--timeout", "60"], capfd)
        assert code == 0, err
        info = json.loads(out[out.index("{") :])
        assert info["name"].startswith("demo-")
        assert info["namespace"] == "shop"
        assert re.fullmatch(r"[0-9a-f-]{36}", info["uid"])
        assert info["pod_ip"]
        assert info["host_ip"]
        assert info["node_name"]
        assert info["service_account"] == "web-sa"
        assert info["labels"]["app"] == "web"
        assert info["annotations"] == {"team": "payments"}
        assert info["resources"]["cpu_limit"] == 500
        assert info["resources"]["cpu_request"] == 250
        assert info["resources"]["memory_limit"] == 256 << 20
        assert info["resources"]["memory_request"] == 128 << 20
        sources = info["sources"]
        assert sources["name"] == {"kind": "env", "origin": "K8S_POD_NAME"}
        assert sources["labels"]["kind"] == "downward"
        assert info["warnings"] == []


class TestKustomize:
    def test_patch_per_workload(self) -> None:
        """From manifests, each workload gets a targeted patch naming exactly its containers."""
        result = inject_file(FIXTURES / "conflicts.yaml")
        component = yaml.safe_load(emit_kustomize(plans=result.plans))
        assert component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
        assert component["kind"] == "Component"
        (patch,) = component["patches"]
        assert patch["target"] == {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "name": "legacy",
        }
        body = yaml.safe_load(patch["patch"])
        spec = body["spec"]["template"]["spec"]
        assert [c["name"] for c in spec["containers"]] == ["app", "helper"]
        names = [v["name"] for v in spec["containers"][0]["env"]]
        assert "K8S_POD_NAME" not in names  # the user's own stays; a merge would break it
        assert "volumeMounts" not in spec["containers"][0]
        assert [v["name"] for v in spec["volumes"]] == ["podinfo-helper"]

    def test_every_kind_has_its_shape(self) -> None:
        """CronJob, PodTemplate and Pod patches follow each kind's own path to the pod spec."""
        result = inject_file(FIXTURES / "all-kinds.yaml")
        component = yaml.safe_load(emit_kustomize(plans=result.plans))
        shapes = {}
        for patch in component["patches"]:
            body = yaml.safe_load(patch["patch"])
            found = pod_template(body)
            assert found is not None, patch["target"]
            shapes[patch["target"]["kind"]] = found[2]
        assert shapes["CronJob"] == "spec.jobTemplate.spec.template.spec"
        assert shapes["PodTemplate"] == "template.spec"
        assert shapes["Pod"] == "spec"
        assert len(shapes) == 9

    def test_generic_component(self) -> None:
        """Without manifests, --containers names the containers and kinds are matched by regex."""
        with pytest.raises(ValueError, match="must name the containers"):
            emit_kustomize()
        text = emit_kustomize(InjectOptions(containers=frozenset({"app"}), otel=True))
        assert "every workload these patches target must have containers named app" in text
        component = yaml.safe_load(text)
        targets = [p["target"]["kind"] for p in component["patches"]]
        assert targets == [
            "Deployment|StatefulSet|DaemonSet|ReplicaSet|ReplicationController|Job",
            "CronJob",
            "Pod",
        ]
        body = yaml.safe_load(component["patches"][0]["patch"])
        env = {v["name"]: v for v in body["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert "RESOURCE_CPU_LIMIT_MILLICORES" in env
        assert "k8s.deployment.name" not in env["OTEL_RESOURCE_ATTRIBUTES"]["value"]

    def test_cli_emit(self, capfd: pytest.CaptureFixture[str]) -> None:
        """`podself inject --emit kustomize FILE` prints the component and the notes."""
        path = FIXTURES / "conflicts.yaml"
        code, out, err = run_cli(["inject", "--emit", "kustomize", str(path)], capfd)
        assert code == 0
        assert yaml.safe_load(out)["kind"] == "Component"
        assert "env K8S_POD_NAME already set, left as is" in err
        code, out, _ = run_cli(["inject", "--emit", "helm", "--otel"], capfd)
        assert code == 0
        assert '{{- define "podself.otelResourceAttributes" -}}' in out
        code, out, _ = run_cli(["inject", "--emit", "helm", "--datadog", "--no-env"], capfd)
        assert code == 0
        assert "fieldPath: metadata.labels['tags.datadoghq.com/env']" in out

    @pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (kustomize) not installed")
    def test_kubectl_kustomize_matches_inject(self, tmp_path: Path) -> None:
        """`kubectl kustomize` with the component renders what inject writes, and it lints clean."""
        source = FIXTURES / "all-kinds.yaml"
        (tmp_path / "base").mkdir()
        shutil.copy(source, tmp_path / "base" / "all.yaml")
        (tmp_path / "base" / "kustomization.yaml").write_text("resources:\n- all.yaml\n")
        (tmp_path / "comp").mkdir()
        options = InjectOptions(otel=True)
        result = inject_file(source, options=options)
        (tmp_path / "comp" / "kustomization.yaml").write_text(
            emit_kustomize(options, plans=result.plans)
        )
        (tmp_path / "overlay").mkdir()
        (tmp_path / "overlay" / "kustomization.yaml").write_text(
            "resources:\n- ../base\ncomponents:\n- ../comp\n"
        )
        rendered = subprocess.run(
            ["kubectl", "kustomize", str(tmp_path / "overlay")],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

        def canonical(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: canonical(v) for k, v in value.items()}
            if isinstance(value, list):
                return sorted(
                    (canonical(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True)
                )
            return value

        def by_name(text: str) -> dict[tuple[str, str, str], Any]:
            return {
                (d["apiVersion"], d["kind"], d["metadata"]["name"]): canonical(d)
                for d in yaml.safe_load_all(text)
            }

        assert by_name(rendered) == by_name(result.text)
        lint = pytest.importorskip("podself.manifest.lint", reason="podself lint not available")
        assert lint.lint_text(rendered, "rendered.yaml") == []


def render_helm(template: str, values: dict[str, str]) -> dict[str, str]:
    """A tiny renderer for the snippet's own constructs: name -> rendered body per define."""
    bodies = dict(
        re.findall(r'\{\{- define "([\w.]+)" -\}\}\n(.*?)\{\{- end \}\}\n', template, re.S)
    )
    out = {}
    for name, body in bodies.items():
        text = body.replace('{{ default "podinfo" .volume }}', values.get("volume", "podinfo"))
        text = re.sub(
            r'\{\{ required "[^"]*(?:\\"[^"]*)*" \.container \| quote \}\}',
            json.dumps(values["container"]),
            text,
        )
        text = re.sub(  # inside an item path
            r'\{\{ required "[^"]*(?:\\"[^"]*)*" \.container \}\}', values["container"], text
        )
        out[name] = text
    return out


class TestHelm:
    def test_defines_and_usage(self) -> None:
        """The snippet defines the three templates and explains how to include them."""
        text = emit_helm()
        for name in ("podself.env", "podself.volumeMounts", "podself.volumes"):
            assert f'{{{{- define "{name}" -}}}}' in text
            assert f'include "{name}"' in text
        assert text.count("{{- define") == text.count("{{- end }}")
        assert text.startswith("{{/*")

    def test_renders_what_inject_adds(self) -> None:
        """Rendered with a container name, the templates equal what inject adds to it."""
        options = InjectOptions(fields=parse_fields("default,container"))
        bodies = render_helm(emit_helm(options), {"container": "app"})
        injected = spec_of(
            inject_text(dump(workload("Pod", [container()])), options=options).output
        )
        assert yaml.safe_load(bodies["podself.env"]) == injected["containers"][0]["env"]
        assert (
            yaml.safe_load(bodies["podself.volumeMounts"])
            == injected["containers"][0]["volumeMounts"]
        )
        assert yaml.safe_load(bodies["podself.volumes"]) == injected["volumes"]

    def test_otel_template(self) -> None:
        """With --otel the attributes come from a helper template fed the same dict."""
        text = emit_helm(InjectOptions(otel=True))
        assert 'value: {{ include "podself.otelResourceAttributes" . | quote }}' in text
        assert '{{- define "podself.otelResourceAttributes" -}}' in text
        assert "k8s.pod.uid=$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)" in text

    def test_datadog(self) -> None:
        """--datadog in a chart: the three tag variables (the chart sets the labels) and the
        agent's, as inject adds them to a template with the labels."""
        options = InjectOptions(datadog=True, env=False, volume=False)
        bodies = render_helm(emit_helm(options), {"container": "app"})
        obj = workload("Pod", [container()])
        obj["metadata"]["labels"] = {
            f"tags.datadoghq.com/{t}": "x" for t in ("env", "service", "version")
        }
        injected = spec_of(inject_text(dump(obj), options=options).output)
        assert yaml.safe_load(bodies["podself.env"]) == injected["containers"][0]["env"]
        assert len(injected["containers"][0]["env"]) == 5

    def test_custom_mount_path(self) -> None:
        """The mount path option flows into the mount and PODSELF_PODINFO_DIR."""
        bodies = render_helm(emit_helm(InjectOptions(mount_path="/pi")), {"container": "c"})
        assert yaml.safe_load(bodies["podself.volumeMounts"])[0]["mountPath"] == "/pi"
        env = {v["name"]: v for v in yaml.safe_load(bodies["podself.env"])}
        assert env["PODSELF_PODINFO_DIR"]["value"] == "/pi"

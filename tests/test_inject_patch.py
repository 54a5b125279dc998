"""Tests for podself.manifest.inject.patch: the JSON Patch that adds what inject adds."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonpatch
import pytest

from podself.manifest.inject import InjectOptions, inject_text, json_patch
from podself.manifest.inject.patch import pointer
from podself.manifest.load import load_documents

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = sorted(
    [
        *ROOT.glob("examples/seed/*.yaml"),
        *ROOT.glob("tests/fixtures/manifests/*.yaml"),
        *ROOT.glob("tests/fixtures/manifests/rules/*.yaml"),
    ]
)
OPTIONS = [
    InjectOptions(),
    InjectOptions(otel=True, datadog=True),
    InjectOptions(env=False),
    InjectOptions(fields=("name", "namespace", "cpu_limit"), mount_path="/podinfo"),
]


def _objects(path: Path) -> list[dict[str, Any]]:
    try:
        documents = load_documents(path.read_bytes(), str(path))
    except Exception:  # fixtures that are deliberately unreadable
        return []
    return [d.data for d in documents if isinstance(d.data, dict)]


def _injected(obj: dict[str, Any], options: InjectOptions) -> Any:
    """What ``podself inject`` writes for ``obj`` (through its JSON path), parsed back."""
    return json.loads(inject_text(json.dumps(obj), "obj.json", options=options).text)


CASES = [
    pytest.param(obj, options, id=f"{path.name}#{n}-{i}")
    for path in MANIFESTS
    for n, obj in enumerate(_objects(path))
    for i, options in enumerate(OPTIONS)
]


def test_cases_cover_many_objects() -> None:
    assert len(CASES) >= 4 * 40


@pytest.mark.parametrize(("obj", "options"), CASES)
def test_patch_gives_what_inject_writes(obj: dict[str, Any], options: InjectOptions) -> None:
    original = copy.deepcopy(obj)
    ops, _ = json_patch(obj, options)
    assert obj == original  # planning never edits its input
    patched = jsonpatch.apply_patch(obj, ops)
    assert patched == _injected(obj, options)
    assert all(op["op"] == "add" for op in ops)
    assert json.loads(json.dumps(ops)) == ops  # plain JSON, ready for an AdmissionReview
    # Idempotent: a patched object needs nothing more.
    assert json_patch(patched, options)[0] == []


def test_pod_gets_list_appends_and_new_keys() -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": "app", "image": "x", "env": [{"name": "A", "value": "1"}]},
                {"name": "side", "image": "y", "env": None},
            ]
        },
    }
    ops, notes = json_patch(pod, InjectOptions(fields=("name",), volume=False))
    assert ops == [
        {
            "op": "add",
            "path": "/spec/containers/0/env/-",
            "value": {
                "name": "K8S_POD_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            },
        },
        {
            "op": "add",
            "path": "/spec/containers/1/env",
            "value": [
                {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
            ],
        },
    ]
    assert notes == []


def test_deployment_paths_and_notes() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": "x",
                            "env": [{"name": "K8S_POD_NAME", "value": "fixed"}],
                        }
                    ]
                }
            }
        },
    }
    ops, notes = json_patch(deployment, InjectOptions(fields=("name", "namespace"), volume=False))
    assert [op["path"] for op in ops] == ["/spec/template/spec/containers/0/env/-"]
    assert ops[0]["value"]["name"] == "K8S_NAMESPACE"
    assert len(notes) == 1
    assert notes[0].startswith("spec.template.spec.containers[0].env[0]: ")
    assert "K8S_POD_NAME already set" in notes[0]


def test_non_workloads_get_nothing() -> None:
    assert json_patch({"apiVersion": "v1", "kind": "ConfigMap", "data": {}}) == ([], [])


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("spec", "containers", 0, "env", "-"), "/spec/containers/0/env/-"),
        (("a/b", "c~d"), "/a~1b/c~0d"),
    ],
)
def test_pointer_escapes_keys(parts: tuple[str | int, ...], expected: str) -> None:
    assert pointer(*parts) == expected

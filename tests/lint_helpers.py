"""Helpers the lint tests share: the fixture folder, linting a fixture or an object."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from podself.manifest.lint import Finding, lint_text, lint_workload
from podself.manifest.workloads import iter_workloads

FIXTURES: Path = Path(__file__).parent / "fixtures" / "manifests"


def lint_fixture(name: str, **kwargs: Any) -> list[Finding]:
    path = FIXTURES / name
    return lint_text(path.read_bytes(), path.name, **kwargs)


def positions(findings: list[Finding], rule: str) -> list[tuple[int, int]]:
    return [(f.line, f.column) for f in findings if f.rule == rule]


def make_pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    # A container with an image unless the test brings its own (images are not its subject).
    spec = {"containers": [{"name": "c", "image": "i"}], **spec}
    for container in spec["containers"]:
        if isinstance(container, dict):
            container.setdefault("image", "i")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata}, "spec": spec}


def lint_obj(obj: dict[str, Any], **kwargs: Any) -> list[Finding]:
    return [f for w in iter_workloads(obj) for f in lint_workload(w, **kwargs)]


def rule_ids(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]

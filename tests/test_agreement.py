"""The loader, lint, inject and the emulator agree on every generated workload.

Workloads use the Downward API the ways users write it, right and wrong: env ``fieldRef`` and
``resourceFieldRef`` (with and without divisors and container names), ``downwardAPI`` and
``projected`` volumes with item paths and modes, names that break rules. For each one:

- what ``podself lint`` accepts (no error finding), ``podself run`` accepts too, and what it
  refuses, ``podself run`` refuses (its preparation: load, default, validate);
- what ``podself inject`` writes, lint has nothing to say about: no finding after inject
  that was not there before.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("yaml")

from podself.emulator.kubelet import Kubelet, RunOptions
from podself.manifest.inject import InjectOptions, inject_text
from podself.manifest.lint import lint_text

ENV_FIELDS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.podIPs",
    "status.hostIP",
    "metadata.labels['app']",
    "metadata.annotations['team']",
    # not allowed in env, or not at all
    "metadata.labels",
    "metadata.podIP",
    "spec.containers[0].name",
]
VOLUME_FIELDS = [
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels",
    "metadata.annotations",
    "metadata.labels['app']",
    # env only, or unknown
    "status.podIP",
    "spec.nodeName",
    "metadata.nmae",
]
RESOURCES = [
    "limits.cpu",
    "requests.cpu",
    "limits.memory",
    "requests.memory",
    "limits.ephemeral-storage",
    "requests.hugepages-2Mi",
    "limits.storage",  # unsupported
]
DIVISORS = [None, "1", "1m", "1Mi", "1Gi", "1k", "0", "2", "500m"]
ITEM_PATHS = ["name", "labels", "dir/file", "..x", "../x", "/abs", "a/../b", ""]
MODES = [None, 0o644, 0o400, 0o777, 0o1000, -1]
ENV_NAMES = ["POD_NAME", "MY_POD_IP", "RESOURCE_CPU_LIMIT_MILLICORES", "x.y", "1BAD", ""]


def _pick(draw: st.DrawFn, choices: list[Any], valid: bool, good: int) -> Any:
    # valid: only the first ``good`` choices, which every rule accepts.
    return draw(st.sampled_from(choices[:good] if valid else choices))


@st.composite
def env_var(draw: st.DrawFn, valid: bool) -> dict[str, Any]:
    name = _pick(draw, ENV_NAMES, valid, 3)
    if draw(st.booleans()):
        ref: dict[str, Any] = {"fieldPath": _pick(draw, ENV_FIELDS, valid, 10)}
        return {"name": name, "valueFrom": {"fieldRef": ref}}
    selector: dict[str, Any] = {"resource": _pick(draw, RESOURCES, valid, 5)}
    divisor = _pick(draw, DIVISORS, valid, 2)
    if divisor is not None:
        selector["divisor"] = divisor
    if draw(st.booleans()):
        selector["containerName"] = _pick(draw, ["app", "missing"], valid, 1)
    return {"name": name, "valueFrom": {"resourceFieldRef": selector}}


@st.composite
def volume_item(draw: st.DrawFn, valid: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"path": _pick(draw, ITEM_PATHS, valid, 3)}
    if draw(st.booleans()):
        item["fieldRef"] = {"fieldPath": _pick(draw, VOLUME_FIELDS, valid, 6)}
    else:
        selector: dict[str, Any] = {
            "containerName": "app",
            "resource": _pick(draw, RESOURCES, valid, 5),
        }
        divisor = _pick(draw, DIVISORS, valid, 2)
        if divisor is not None:
            selector["divisor"] = divisor
        item["resourceFieldRef"] = selector
    mode = _pick(draw, MODES, valid, 4)
    if mode is not None:
        item["mode"] = mode
    return item


@st.composite
def pods(draw: st.DrawFn, valid: bool = False) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": "busybox",
        "command": ["true"],
        "resources": draw(
            st.sampled_from(
                [
                    {},
                    {"limits": {"cpu": "500m", "memory": "256Mi"}},
                    {"requests": {"cpu": "1", "memory": "1Gi"}},
                ]
            )
        ),
    }
    envs = draw(st.lists(env_var(valid), max_size=3))
    if envs:
        container["env"] = envs
    spec: dict[str, Any] = {"containers": [container]}
    if draw(st.booleans()):
        volume: dict[str, Any] = {"name": "podinfo"}
        items = draw(st.lists(volume_item(valid), min_size=1, max_size=3, unique_by=_path))
        mode = _pick(draw, MODES, valid, 4)
        source: dict[str, Any] = {"items": items}
        if mode is not None:
            source["defaultMode"] = mode
        if draw(st.booleans()):
            volume["downwardAPI"] = source
        else:
            volume["projected"] = {"sources": [{"downwardAPI": {"items": items}}]}
        spec["volumes"] = [volume]
        container["volumeMounts"] = [{"name": "podinfo", "mountPath": "/etc/podinfo"}]
    metadata = {
        "name": _pick(draw, ["web", "web-1", "Web"], valid, 2),
        "labels": {"app": "web"},
        "annotations": {"team": "platform"},
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _path(item: dict[str, Any]) -> Any:
    return item["path"]


def _errors(text: str) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in lint_text(text, "pod.json") if f.severity == "error"]


def _run_accepts(tmp_path: Path, text: str) -> tuple[bool, str]:
    manifest = tmp_path / "pod.json"
    manifest.write_text(text, encoding="utf-8")
    err = io.StringIO()
    kubelet = Kubelet(RunOptions(files=[str(manifest)], state_dir=str(tmp_path / "state")), err=err)
    status = kubelet.prepare()
    if kubelet.err_channel is not None:
        kubelet.err_channel.close()
    return status is None, err.getvalue()


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@SETTINGS
@given(pods())
def test_lint_and_run_agree(tmp_path: Path, pod: dict[str, Any]) -> None:
    text = json.dumps(pod, indent=2)
    errors = _errors(text)
    accepted, said = _run_accepts(tmp_path, text)
    assert accepted == (not errors), f"lint: {errors}\nrun: {said}\n{text}"


def _findings(text: str) -> Counter[tuple[str, str, str]]:
    return Counter((f.rule, f.field, f.message) for f in lint_text(text, "pod.json"))


@SETTINGS
@given(pods(valid=True), st.booleans())
def test_inject_adds_no_finding(pod: dict[str, Any], otel: bool) -> None:
    """What inject writes, lint has nothing to say about: every finding after it was there
    before (a workload lint finds clean stays clean)."""
    text = json.dumps(pod, indent=2)
    result = inject_text(text, "pod.json", options=InjectOptions(otel=otel))
    output = result.output.decode() if isinstance(result.output, bytes) else result.output
    added = _findings(output) - _findings(text)
    assert not added, f"{sorted(added)}\n{output}"

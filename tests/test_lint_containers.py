"""Tests for podself.manifest.lint.rules.containers: whose values a name holds."""

from __future__ import annotations

import re
from pathlib import Path

import podself
from podself.manifest.lint import lint_text
from podself.manifest.lint.rules import containers
from tests.lint_helpers import lint_fixture, lint_obj, make_pod, rule_ids

ROOT = Path(__file__).resolve().parents[1]


class TestOtherContainerResource:
    def test_suggested_names_are_not_read_as_own(self, tmp_path: Path) -> None:
        """The env names the hints suggest give podself no limit and no warning."""
        findings = lint_fixture("rules/other-container-resource.yaml")
        suggested = [
            m.group(1)
            for f in findings
            if f.rule == "other-container-resource" and (m := re.search(r"e\.g\. (\w+)", f.hint))
        ]
        assert suggested == ["APP_CPU_CORES", "APP_MEMORY_MIB"]
        for name in suggested:
            info = podself.read(
                environ={name: "1000"}, podinfo_dirs=[], proc_root=tmp_path / "no-proc"
            )
            assert info.resources.to_dict() == podself.Resources().to_dict()
            assert info.warnings == ()

    def test_neutral_name_never_one_podself_reads(self) -> None:
        """A container whose name holds a limit word gets no suggestion rather than a bad one."""
        neutral = containers._neutral_env_name
        assert neutral("main-app", "limits.cpu", "1m") == "MAIN_APP_CPU_MILLICORES"
        assert neutral("app", "requests.memory", "1Mi") == "APP_MEMORY_REQUESTED_MIB"
        assert neutral("cpu-limit", "limits.cpu", "1m") is None

    def test_seed_exercise_five(self) -> None:
        """Exercise 5's init container reads main-app's CPU_LIMIT: podself would take it as
        the init container's own; the monitor's files are at names podself does not read."""
        path = ROOT / "examples" / "seed" / "05-multi-container.yaml"
        findings = lint_text(path.read_bytes(), path.name)
        ours = [f for f in findings if f.rule == "other-container-resource"]
        assert [(f.line, f.field) for f in ours] == [
            (36, "spec.initContainers[0].env[0].valueFrom.resourceFieldRef.containerName")
        ]
        assert "containers/main-app/cpu_limit" in ours[0].hint

    def test_container_name_variable(self) -> None:
        """A container-name variable copied from another container is reported; its own
        name, a fieldRef or an unexpanded reference is not."""
        (finding,) = [
            f
            for f in lint_fixture("rules/other-container-resource.yaml")
            if f.field.endswith(".value")
        ]
        assert finding.message == (
            'env K8S_CONTAINER_NAME of container "side" says "app": podself takes '
            "containers/app/ in the podinfo volume as this container's own limits"
        )
        assert finding.hint == 'set it to "side", the container\'s own name'

    def test_subpath_mount_and_own_files_are_fine(self) -> None:
        item = {
            "path": "cpu_limit",
            "resourceFieldRef": {"containerName": "a", "resource": "limits.cpu", "divisor": "1m"},
        }
        mount = {"name": "v", "mountPath": "/etc/podinfo", "subPath": "x"}
        obj = make_pod(
            {
                "containers": [
                    {"name": "a", "volumeMounts": [{"name": "v", "mountPath": "/etc/podinfo"}]},
                    {"name": "b", "volumeMounts": [mount]},
                ],
                "volumes": [{"name": "v", "downwardAPI": {"items": [item]}}],
            }
        )
        assert "other-container-resource" not in rule_ids(lint_obj(obj))
        obj["spec"]["containers"][1]["volumeMounts"][0].pop("subPath")
        assert "other-container-resource" in rule_ids(lint_obj(obj))

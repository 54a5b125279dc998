"""Tests for podself.manifest.lint.rules.api: the API server's errors, the conformance vectors
and hostile names."""

from __future__ import annotations

from typing import Any

import pytest

from podself import validation
from podself.manifest.lint import (
    RULES,
    lint_text,
)
from podself.manifest.lint.rules import api as api_rules
from podself.validation import FieldError, kubernetes_target
from tests.conftest import conformance_params
from tests.lint_helpers import FIXTURES, lint_fixture, lint_obj, make_pod

VECTORS = conformance_params("validation.json", "vectors")

# The one vector whose detail predates Kubernetes 1.31 ("... per source" was added since).
_NEWER_DETAILS = {
    ("proj-err-two-kinds-in-one-source", 0): "may not specify more than 1 volume type per source",
}


class TestConformance:
    @pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["id"] if v else "absent")
    def test_vector_in_a_pod(self, vector: dict[str, Any]) -> None:
        """Each validation vector wrapped in a Pod gives the API's errors at Pod field paths."""
        if vector["kind"].startswith("env"):
            spec = {"containers": [{"name": "c", "image": "i", "env": vector["input"]}]}
            root, prefix = "field", "spec.containers[0].env"
        else:
            spec = {"volumes": [vector["input"]]}
            root, prefix = vector.get("field_root", "field[0]"), "spec.volumes[0]"
        with kubernetes_target("1.33"):  # the release the vectors were recorded from
            errors = [f for f in lint_obj(make_pod(spec)) if RULES[f.rule].category == "api"]
        valid = vector.get("valid_as_manifest", vector["valid"])
        assert (not errors) == valid, [f.message for f in errors]
        if "valid_as_manifest" in vector:
            return
        expected = vector.get("errors", [])
        assert [f.field for f in errors] == [
            prefix + e["field"].removeprefix(root) for e in expected
        ]
        for index, (finding, exp) in enumerate(zip(errors, expected, strict=True)):
            detail = _NEWER_DETAILS.get((vector["id"], index), exp.get("detail"))
            rendered = str(
                FieldError(exp["type"], finding.field, exp.get("bad_value"), detail or "")
            )
            if detail is None and exp["type"] != "FieldValueRequired":
                assert finding.message.startswith(rendered)
            else:
                assert finding.message == rendered
            assert finding.severity == "error"


_HOSTILE = [".", "..", "../../home", "/", "a/b", "a\x00b", "UPPER", "\u0430pp", "a" * 254]


class TestHostileInput:
    """Names, mounts and modes that would harm the host are the API server's errors in lint,
    exactly as podself run refuses them."""

    @pytest.mark.parametrize("name", _HOSTILE, ids=repr)
    def test_names(self, name: str) -> None:
        """Pod name, namespace and container name."""
        as_pod = lint_obj({**make_pod({}), "metadata": {"name": name}})
        as_namespace = lint_obj(make_pod({}, namespace=name))
        as_container = lint_obj(make_pod({"containers": [{"name": name}]}))
        for findings, field in (
            (as_pod, "metadata.name"),
            (as_namespace, "metadata.namespace"),
            (as_container, "spec.containers[0].name"),
        ):
            assert {(f.rule, f.field) for f in findings} == {("invalid-name", field)}

    def test_cronjob_name_length(self) -> None:
        """A CronJob's name leaves room for the Job's "-<minutes>" suffix: 52 characters."""
        template = {"spec": {"containers": [{"name": "c", "image": "i"}]}}
        cron: dict[str, Any] = {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "c" * 53},
            "spec": {"schedule": "@daily", "jobTemplate": {"spec": {"template": template}}},
        }
        findings = lint_obj(cron)
        assert [(f.rule, f.message[-34:]) for f in findings] == [
            ("invalid-name", "must be no more than 52 characters")
        ]
        cron["metadata"]["name"] = "c" * 52
        assert lint_obj(cron) == []

    @pytest.mark.parametrize("name", _HOSTILE, ids=repr)
    def test_volume_names(self, name: str) -> None:
        """Every kind of volume, and its mount is not reported twice."""
        sources: list[dict[str, Any]] = [
            {"emptyDir": {}},
            {"configMap": {"name": "c"}},
            {"secret": {"secretName": "s"}},
        ]
        for source in sources:
            mount = {"name": name, "mountPath": "/v"}
            spec = {
                "volumes": [{"name": name, **source}],
                "containers": [{"name": "c", "volumeMounts": [mount]}],
            }
            findings = lint_obj(make_pod(spec))
            assert {(f.rule, f.field) for f in findings} == {
                ("invalid-volume", "spec.volumes[0].name")
            }

    @pytest.mark.parametrize(
        ("mount", "rule"),
        [
            ({"mountPath": "../x"}, None),  # accepted by the API server
            ({"mountPath": ""}, "invalid-volume-mount"),
            ({"mountPath": "/x", "subPath": "../../etc"}, "invalid-volume-mount"),
            ({"mountPath": "/x", "subPath": "/etc"}, "invalid-volume-mount"),
            ({"mountPath": "/x", "subPathExpr": "$(A)/../.."}, "invalid-volume-mount"),
        ],
    )
    def test_mounts(self, mount: dict[str, Any], rule: str | None) -> None:
        """Mount paths the API server refuses."""
        spec = {
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [{"name": "c", "volumeMounts": [{"name": "v", **mount}]}],
        }
        assert [f.rule for f in lint_obj(make_pod(spec))] == ([rule] if rule else [])

    @pytest.mark.parametrize(
        ("mode", "valid"),
        [
            (0o644, True),
            (0o777, True),
            (0o4755, False),
            (0o1777, False),
            (-1, False),
            (0o1000, False),
        ],
    )
    def test_modes(self, mode: int, valid: bool) -> None:
        """Secret and configMap modes like downwardAPI and projected ones."""
        volumes = [
            {"name": "s", "secret": {"secretName": "s", "defaultMode": mode}},
            {
                "name": "c",
                "configMap": {"name": "c", "items": [{"key": "k", "path": "k", "mode": mode}]},
            },
        ]
        findings = lint_obj(make_pod({"volumes": volumes}))
        expected = (
            []
            if valid
            else [
                ("invalid-volume", "spec.volumes[0].secret.defaultMode"),
                ("invalid-volume", "spec.volumes[1].configMap.items[0].mode"),
            ]
        )
        assert [(f.rule, f.field) for f in findings] == expected


class TestApiErrors:
    def test_workload_prefix(self) -> None:
        """Errors carry the pod-template path of their kind (CronJob here)."""
        findings = lint_fixture("rules/api-errors.yaml")
        fields = [f.field for f in findings if f.severity == "error"]
        assert all(f.startswith("spec.jobTemplate.spec.template.spec.") for f in fields)
        assert all(f.object == "CronJob/nightly" for f in findings)

    def test_every_kind(self) -> None:
        """The same mistake is found in every workload kind, at its own path."""
        findings = lint_fixture("all-kinds.yaml")
        assert [
            (f.object, f.field.removesuffix(".containers[0].env[0].valueFrom.fieldRef.fieldPath"))
            for f in findings
        ] == [
            ("Pod/pod", "spec"),
            ("PodTemplate/template", "template.spec"),
            ("Deployment/deployment", "spec.template.spec"),
            ("StatefulSet/statefulset", "spec.template.spec"),
            ("DaemonSet/daemonset", "spec.template.spec"),
            ("ReplicaSet/replicaset", "spec.template.spec"),
            ("ReplicationController/rc", "spec.template.spec"),
            ("Job/job", "spec.template.spec"),
            ("CronJob/ops/cronjob", "spec.jobTemplate.spec.template.spec"),
        ]

    def test_list_items_are_located_in_the_list(self) -> None:
        """A List item's error names its own field path but points into the list."""
        (finding,) = lint_fixture("list.yaml")
        assert finding.field.startswith("spec.template.spec.containers[0]")
        assert finding.object == "Deployment/shop/web"
        assert finding.hint == 'did you mean "status.hostIP"?'

    @pytest.mark.parametrize(
        ("path", "in_volume", "hint"),
        [
            ("metadata.podIP", False, 'did you mean "status.podIP"?'),
            ("metadata.nodeName", False, 'did you mean "spec.nodeName"?'),
            ("status.uid", False, 'did you mean "metadata.uid"?'),
            ("metadata.nmae", False, 'did you mean "metadata.name"?'),
            ("spec.name", True, 'did you mean "metadata.name"?'),
            (
                "metadata.podIP",
                True,
                'did you mean "status.podIP"? It is available only to env vars '
                "(env[].valueFrom.fieldRef)",
            ),
        ],
    )
    def test_field_path_hint_prefers_the_same_field(
        self, path: str, in_volume: bool, hint: str
    ) -> None:
        """A field under the wrong root is matched by its name first (metadata.podIP is
        status.podIP, not the closer text metadata.uid)."""
        ref: dict[str, Any] = {"fieldRef": {"fieldPath": path}}
        spec: dict[str, Any]
        if in_volume:
            spec = {"volumes": [{"name": "v", "downwardAPI": {"items": [{"path": "f", **ref}]}}]}
        else:
            spec = {"containers": [{"name": "c", "env": [{"name": "K8S_X", "valueFrom": ref}]}]}
        (finding,) = [f for f in lint_obj(make_pod(spec)) if f.rule == "invalid-field-ref"]
        assert finding.hint == hint

    def test_labels_of_object_and_template(self) -> None:
        """Labels and annotations are validated on the workload and on its pod template, at
        the paths Kubernetes names, including the 256 KiB total of annotations."""
        template = {
            "metadata": {
                "labels": {"app": "a", "bad/key/x": "v"},
                "annotations": {"big": "x" * (256 * 1024)},
            },
            "spec": {"containers": [{"name": "c", "image": "i"}]},
        }
        obj = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d", "labels": {"tier": "-x"}, "annotations": {"on": True}},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "template": template},
        }
        found = [(f.rule, f.message.split(": ")[0]) for f in lint_obj(obj) if f.severity == "error"]
        assert found == [
            ("invalid-label", "metadata.labels"),
            ("invalid-type", "metadata.annotations[on]"),
            ("invalid-label", "spec.template.labels"),
            ("invalid-label", "spec.template.annotations"),
        ]
        too_long = next(f for f in lint_obj(obj) if f.field == "spec.template.annotations")
        assert too_long.message.endswith("Too long: may not be more than 262144 bytes")

    def test_label_errors_point_at_the_key(self) -> None:
        """A label error is placed on the line of its key, not of the labels map."""
        text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    ok: a\n"
        text += "    bad key: b\nspec:\n  containers: [{name: c, image: i}]\n"
        (finding,) = lint_text(text, "p.yaml")
        assert (finding.rule, finding.line) == ("invalid-label", 7)

    def test_volume_items_are_pointed_at(self) -> None:
        """Kubernetes names no items[i]; the finding still points at the offending item."""
        text = (FIXTURES / "seed" / "pod-ip-in-volume.yaml").read_text()
        (finding,) = lint_text(text, "v.yaml")
        assert "status.podIP" in text.splitlines()[finding.line - 1]

    def test_repeated_item_errors_point_at_each_item(self) -> None:
        """Two items with the same error are pointed at one after the other."""
        text = """\
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: [{name: c, image: i}]
  volumes:
  - name: v
    downwardAPI:
      items:
      - {path: a, fieldRef: {fieldPath: spec.nodeName}}
      - {path: b, fieldRef: {fieldPath: metadata.name}}
      - {path: c, fieldRef: {fieldPath: spec.nodeName}}
"""
        findings = lint_text(text, "v.yaml")
        assert [(f.rule, f.line) for f in findings] == [
            ("invalid-field-ref", 10),
            ("invalid-field-ref", 12),
        ]

    def test_locating_items_is_linear(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each item is validated once to locate any number of errors (it was once per error
        and item: minutes for a few thousand hostile items)."""
        calls = []
        real = validation.validate_volume

        def counting(*args: Any, **kwargs: Any) -> list[FieldError]:
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(api_rules, "validate_volume", counting)
        items = "".join(
            f"      - {{path: ../x{i}, fieldRef: {{fieldPath: metadata.name}}}}\n"
            for i in range(50)
        )
        text = (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n"
            "  containers: [{name: c, image: i}]\n"
            "  volumes:\n  - name: v\n    downwardAPI:\n      items:\n" + items
        )
        findings = lint_text(text, "v.yaml")
        assert [f.line for f in findings] == list(range(10, 60))
        assert len(calls) == 50

    def test_whole_map_in_env_hint(self) -> None:
        """metadata.labels without a key in env points to the subscript or a volume."""
        findings = lint_fixture("rules/api-errors.yaml")
        first = next(f for f in findings if f.rule == "invalid-field-ref")
        assert "metadata.labels['key']" in first.hint

    def test_divisor_hint(self) -> None:
        """A bad cpu divisor suggests 1m or 1."""
        findings = lint_fixture("rules/api-errors.yaml")
        divisor = next(f for f in findings if f.field.endswith(".divisor"))
        assert divisor.hint == 'use divisor "1m" (millicores) or "1" (cores)'

    def test_invalid_references_do_not_double_report(self) -> None:
        """A reference the API rejects gets no run-time or naming findings on top."""
        findings = lint_fixture("rules/api-errors.yaml")
        others = [f for f in findings if f.severity != "error"]
        # Only the YAML typing note that explains an invalid-type error, at its field.
        assert [f.rule for f in others] == ["yaml-typed-scalar"]
        typed = {f.field for f in findings if f.rule == "invalid-type"}
        assert others[0].field in typed


class TestUnknownFields:
    def test_mistyped_key_gets_the_strict_error_and_the_right_name(self) -> None:
        """A mistyped key is an unknown field (as kubectl's strict validation says), with the
        field it was meant to be, not "Required value" for the field it misses."""
        env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldpath": "metadata.name"}}}]
        findings = lint_obj(make_pod({"containers": [{"name": "c", "env": env}]}))
        errors = [f for f in findings if f.severity == "error"]
        assert [f.message for f in errors] == [
            'unknown field "spec.containers[0].env[0].valueFrom.fieldRef.fieldpath"'
        ]
        assert errors[0].hint.endswith("did you mean fieldPath?")
        assert "Required" not in " ".join(f.message for f in findings)

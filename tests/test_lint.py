"""Tests for podself.manifest.lint: every rule, the API conformance vectors and robustness."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podself import validation
from podself.manifest.lint import (
    DISABLE_ANNOTATION,
    RULES,
    SEVERITIES,
    Finding,
    env_references,
    lint_documents,
    lint_paths,
    lint_text,
    lint_workload,
    severity_rank,
)
from podself.manifest.lint.rules import api as api_rules
from podself.manifest.load import LoadIssue, load_file
from podself.manifest.workloads import iter_workloads
from podself.validation import FieldError, kubernetes_target
from tests.conftest import conformance_params

FIXTURES = Path(__file__).parent / "fixtures" / "manifests"
VECTORS = conformance_params("validation.json", "vectors")

# The one vector whose detail predates Kubernetes 1.31 ("... per source" was added since).
_NEWER_DETAILS = {
    ("proj-err-two-kinds-in-one-source", 0): "may not specify more than 1 volume type per source",
}

# rule -> fixture -> exact (line, column) of every finding of that rule in the fixture. Lines
# not listed in a fixture hold the negative cases (a near miss the rule must not report).
POSITIVE: dict[str, dict[str, list[tuple[int, int]]]] = {
    "invalid-yaml": {"invalid.yaml": [(13, 2)]},
    "input-limit": {"bomb.yaml": [(2, 1)]},
    "invalid-field-ref": {
        "seed/pod-name-typo.yaml": [(14, 22)],
        "seed/pod-ip-in-volume.yaml": [(27, 22)],
        "rules/api-errors.yaml": [(22, 30)],
        "list.yaml": [(23, 28)],
    },
    "invalid-resource-field-ref": {"rules/api-errors.yaml": [(26, 29), (31, 28)]},
    "invalid-env-source": {"rules/api-errors.yaml": [(34, 15)]},
    "invalid-env-name": {"rules/api-errors.yaml": [(37, 21)]},
    "invalid-type": {"rules/api-errors.yaml": [(40, 22)], "rules/yaml-typing.yaml": [(17, 14)]},
    "invalid-label": {"rules/labels.yaml": [(8, 14), (16, 15), (18, 18), (21, 20)]},
    "yaml-typed-scalar": {
        "rules/yaml-typing.yaml": [(7, 5), (14, 27), (17, 14), (44, 12)],
        "rules/api-errors.yaml": [(40, 22)],
    },
    "invalid-volume": {
        "rules/api-errors.yaml": [(44, 28), (46, 23)],
        "rules/names-and-mounts.yaml": [(29, 24)],
    },
    "invalid-name": {"rules/names-and-mounts.yaml": [(5, 9), (11, 15), (35, 14)]},
    "invalid-volume-mount": {"rules/names-and-mounts.yaml": [(15, 20), (18, 17)]},
    "invalid-container": {"rules/names-and-mounts.yaml": [(11, 9), (22, 7)]},
    "invalid-config-object": {
        "rules/config-objects.yaml": [(8, 26), (8, 26), (15, 11), (23, 20)],
        "rules/yaml-typing.yaml": [(44, 12)],
    },
    "unknown-container": {"rules/unknown-container.yaml": [(25, 30), (42, 30)]},
    "resource-not-set": {"rules/resource-not-set.yaml": [(27, 21), (32, 21), (37, 21)]},
    "divisor-rounding": {"rules/divisor-rounding.yaml": [(22, 24), (32, 24)]},
    "divisor-overflow": {"rules/divisor-overflow.yaml": [(19, 20), (24, 20)]},
    "feature-gate-off": {"rules/feature-gate-off.yaml": [(19, 9), (23, 9)]},
    "undefined-label": {"rules/undefined-metadata.yaml": [(30, 26), (82, 26)]},
    "undefined-annotation": {"rules/undefined-metadata.yaml": [(42, 26), (86, 26)]},
    "static-metadata-env": {
        "rules/static-metadata-env.yaml": [(24, 26)],
        "seed/labels-via-env.yaml": [(23, 26)],
    },
    "subpath-never-updates": {"rules/subpath.yaml": [(13, 16), (21, 20), (24, 16)]},
    "undefined-env-reference": {
        "rules/env-references.yaml": [(10, 27), (14, 14), (20, 14), (43, 14)]
    },
    "duplicate-env": {"rules/env-references.yaml": [(25, 7)]},
    "env-name-mismatch": {
        "rules/naming.yaml": [(22, 26), (26, 25), (30, 25), (36, 24), (45, 24), (50, 24)]
    },
    "naming-convention": {"rules/naming.yaml": [(37, 17)]},
}


def _lint_fixture(name: str, **kwargs: Any) -> list[Finding]:
    path = FIXTURES / name
    return lint_text(path.read_bytes(), path.name, **kwargs)


def _positions(findings: list[Finding], rule: str) -> list[tuple[int, int]]:
    return [(f.line, f.column) for f in findings if f.rule == rule]


def _pod(spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    # A container with an image unless the test brings its own (images are not its subject).
    spec = {"containers": [{"name": "c", "image": "i"}], **spec}
    for container in spec["containers"]:
        if isinstance(container, dict):
            container.setdefault("image", "i")
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", **metadata}, "spec": spec}


def _lint_obj(obj: dict[str, Any], **kwargs: Any) -> list[Finding]:
    return [f for w in iter_workloads(obj) for f in lint_workload(w, **kwargs)]


def _rules(findings: list[Finding]) -> list[str]:
    return [f.rule for f in findings]


class TestRegistry:
    def test_rule_metadata(self) -> None:
        """Every rule has a kebab-case id, a severity, a summary, a doc paragraph and a fix."""
        for rule_id, rule in RULES.items():
            assert rule.id == rule_id
            assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule_id)
            assert rule.severity in SEVERITIES
            assert rule.category in ("input", "api", "runtime", "advice")
            assert rule.summary.endswith(".")
            assert len(rule.doc) > 150
            assert "\n" not in rule.doc
            assert rule.fix
            assert not rule.fix.endswith(".")

    def test_api_rules_are_errors(self) -> None:
        """Only what the API server (or the parser) rejects is an error."""
        for rule in RULES.values():
            assert (rule.severity == "error") == (rule.category in ("api", "input"))

    def test_every_rule_has_a_positive_fixture(self) -> None:
        """Each rule is exercised by at least one fixture with exact positions."""
        assert set(POSITIVE) == set(RULES)

    def test_severity_rank(self) -> None:
        """Severities order info < warning < error; anything else is refused."""
        assert [severity_rank(s) for s in ("info", "warning", "error")] == [0, 1, 2]
        with pytest.raises(ValueError, match="severity 'fatal'"):
            severity_rank("fatal")


class TestRulePositions:
    @pytest.mark.parametrize(
        ("rule", "fixture"),
        [(rule, fixture) for rule, cases in POSITIVE.items() for fixture in cases],
    )
    def test_exact_positions(self, rule: str, fixture: str) -> None:
        """The rule reports exactly these places in the fixture, and nothing else there."""
        findings = _lint_fixture(fixture)
        assert _positions(findings, rule) == POSITIVE[rule][fixture]
        for finding in findings:
            if finding.rule == rule:
                assert finding.severity == RULES[rule].severity
                assert finding.hint

    def test_good_practice_is_clean(self) -> None:
        """The seed's recommended manifest gives no finding at all."""
        assert _lint_fixture("seed/good-practice.yaml") == []

    def test_volume_fix_is_clean(self) -> None:
        """The volume version of the feature flag has no finding; only the env version does."""
        findings = _lint_fixture("seed/labels-via-env.yaml")
        assert [(f.rule, f.object) for f in findings] == [
            ("static-metadata-env", "Deployment/flags")
        ]


class TestSeedTroubleshooting:
    def test_pod_name_typo(self) -> None:
        """metadata.pod.name is refused with the API's message and a suggestion."""
        (finding,) = _lint_fixture("seed/pod-name-typo.yaml")
        assert finding.rule == "invalid-field-ref"
        assert finding.field == "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath"
        assert finding.message == (
            "spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: Invalid value: "
            '"metadata.pod.name": error converting fieldPath: field label not supported: '
            "metadata.pod.name"
        )
        assert finding.hint == 'did you mean "metadata.name"?'

    def test_pod_ip_in_volume(self) -> None:
        """status.podIP in a volume gives the seed's exact error text."""
        (finding,) = _lint_fixture("seed/pod-ip-in-volume.yaml")
        assert finding.message == (
            'spec.volumes[0].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": '
            'supported values: "metadata.annotations", "metadata.labels", "metadata.name", '
            '"metadata.namespace", "metadata.uid"'
        )
        assert "only to env vars" in finding.hint
        assert (finding.line, finding.column) == (27, 22)

    def test_labels_via_env(self) -> None:
        """A flag label read through env is flagged as never updating."""
        findings = _lint_fixture("seed/labels-via-env.yaml")
        assert [f.rule for f in findings] == ["static-metadata-env"]
        assert "once, at container start" in findings[0].message


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
            errors = [f for f in _lint_obj(_pod(spec)) if RULES[f.rule].category == "api"]
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
        as_pod = _lint_obj({**_pod({}), "metadata": {"name": name}})
        as_namespace = _lint_obj(_pod({}, namespace=name))
        as_container = _lint_obj(_pod({"containers": [{"name": name}]}))
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
        findings = _lint_obj(cron)
        assert [(f.rule, f.message[-34:]) for f in findings] == [
            ("invalid-name", "must be no more than 52 characters")
        ]
        cron["metadata"]["name"] = "c" * 52
        assert _lint_obj(cron) == []

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
            findings = _lint_obj(_pod(spec))
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
        assert [f.rule for f in _lint_obj(_pod(spec))] == ([rule] if rule else [])

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
        findings = _lint_obj(_pod({"volumes": volumes}))
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
        findings = _lint_fixture("rules/api-errors.yaml")
        fields = [f.field for f in findings if f.severity == "error"]
        assert all(f.startswith("spec.jobTemplate.spec.template.spec.") for f in fields)
        assert all(f.object == "CronJob/nightly" for f in findings)

    def test_every_kind(self) -> None:
        """The same mistake is found in every workload kind, at its own path."""
        findings = _lint_fixture("all-kinds.yaml")
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
        (finding,) = _lint_fixture("list.yaml")
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
        (finding,) = [f for f in _lint_obj(_pod(spec)) if f.rule == "invalid-field-ref"]
        assert finding.hint == hint

    def test_yaml_typed_scalar_findings(self) -> None:
        """Each warning names the field, the object and what Kubernetes reads; a typed key says
        which key it becomes."""
        findings = [
            f for f in _lint_fixture("rules/yaml-typing.yaml") if f.rule == "yaml-typed-scalar"
        ]
        assert [(f.field, f.object) for f in findings] == [
            ("metadata.labels.true", "Pod/typed"),
            ("spec.containers[0].args[2]", "Pod/typed"),
            ("spec.containers[0].env[0].value", "Pod/typed"),
            ("data.enabled", "ConfigMap/settings"),
        ]
        assert findings[0].message == (
            'the key `on` is read as the string "true" in Kubernetes YAML; quote it if the text '
            "is meant"
        )
        assert findings[2].message == (
            "`y` is the boolean true in Kubernetes YAML; quote it if a string is meant"
        )
        assert findings[2].hint == 'write "y"'
        assert _lint_fixture("rules/yaml-typing.yaml", disabled={"yaml-typed-scalar"}) == [
            f for f in _lint_fixture("rules/yaml-typing.yaml") if f.rule != "yaml-typed-scalar"
        ]

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
        found = [
            (f.rule, f.message.split(": ")[0]) for f in _lint_obj(obj) if f.severity == "error"
        ]
        assert found == [
            ("invalid-label", "metadata.labels"),
            ("invalid-type", "metadata.annotations[on]"),
            ("invalid-label", "spec.template.labels"),
            ("invalid-label", "spec.template.annotations"),
        ]
        too_long = next(f for f in _lint_obj(obj) if f.field == "spec.template.annotations")
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
        findings = _lint_fixture("rules/api-errors.yaml")
        first = next(f for f in findings if f.rule == "invalid-field-ref")
        assert "metadata.labels['key']" in first.hint

    def test_divisor_hint(self) -> None:
        """A bad cpu divisor suggests 1m or 1."""
        findings = _lint_fixture("rules/api-errors.yaml")
        divisor = next(f for f in findings if f.field.endswith(".divisor"))
        assert divisor.hint == 'use divisor "1m" (millicores) or "1" (cores)'

    def test_invalid_references_do_not_double_report(self) -> None:
        """A reference the API rejects gets no run-time or naming findings on top."""
        findings = _lint_fixture("rules/api-errors.yaml")
        others = [f for f in findings if f.severity != "error"]
        # Only the YAML typing note that explains an invalid-type error, at its field.
        assert [f.rule for f in others] == ["yaml-typed-scalar"]
        typed = {f.field for f in findings if f.rule == "invalid-type"}
        assert others[0].field in typed


class TestRuntimeRules:
    def test_unknown_container_messages(self) -> None:
        """Env and volume references say how each fails at run time."""
        env, volume = (f for f in _lint_fixture("rules/unknown-container.yaml"))
        assert "CreateContainerConfigError" in env.message
        assert "container sidecar not found" in env.message
        assert "ContainerCreating" in volume.message
        assert env.hint == "name one of: app, setup"

    def test_resource_not_set_messages(self) -> None:
        """Limits fall back to node allocatable; requests and hugepages read 0."""
        messages = [f.message for f in _lint_fixture("rules/resource-not-set.yaml")]
        assert messages == [
            'limits.cpu is not set on container "app": the kubelet gives the node\'s '
            "allocatable CPU instead",
            'requests.cpu is not set on container "app", nor limits.cpu to default it from: '
            "the value is 0",
            'limits.hugepages-2Mi is not set on container "app": the value is 0',
        ]

    def test_divisor_rounding_messages(self) -> None:
        """The message gives the kubelet's value and the exact ratio; the hint a fix."""
        cpu, memory = _lint_fixture("rules/divisor-rounding.yaml")
        assert cpu.message == "limits.cpu 200m with divisor 1 gives 1, rounded up from 0.2"
        assert cpu.hint == 'divisor "1m" gives exactly 200'
        assert memory.message == (
            "limits.memory 100M with divisor 1Mi gives 96, rounded up from 95.367"
        )
        assert memory.hint == 'divisor "1M" gives exactly 100'

    def test_divisor_rounding_unset_divisor(self) -> None:
        """Without a divisor (1) a fractional cpu limit rounds up too."""
        spec = {
            "containers": [
                {
                    "name": "c",
                    "resources": {"limits": {"cpu": "1500m"}},
                    "env": [
                        {
                            "name": "RESOURCE_CPU_LIMIT_CORES",
                            "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}},
                        }
                    ],
                }
            ]
        }
        (finding,) = _lint_obj(_pod(spec))
        assert finding.rule == "divisor-rounding"
        assert "divisor 1 (the default) gives 2" in finding.message

    def test_divisor_rounding_small_ratio(self) -> None:
        """A tiny ratio is still shown with its digits, not as 0."""
        env = [
            {
                "name": "RESOURCE_CPU_LIMIT_CORES",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}},
            }
        ]
        spec = {"containers": [{"name": "c", "env": env, "resources": {"limits": {"cpu": "1m"}}}]}
        (finding,) = _lint_obj(_pod(spec))
        assert finding.message == "limits.cpu 1m with divisor 1 gives 1, rounded up from 0.001"

    def test_controller_labels_are_known(self) -> None:
        """Labels a controller adds (statefulset pod-name) are not reported."""
        findings = _lint_fixture("rules/undefined-metadata.yaml")
        assert not any("statefulset.kubernetes.io" in f.message for f in findings)

    def test_label_on_the_wrong_object(self) -> None:
        """A label set on the StatefulSet itself, not its template, reads empty."""
        findings = _lint_fixture("rules/undefined-metadata.yaml")
        label = next(f for f in findings if f.rule == "undefined-label")
        assert label.message == (
            'K8S_TEAM reads label "team", which the pod template does not set: the variable '
            "will be empty"
        )
        assert label.hint == 'add "team" to spec.template.metadata.labels, or fix the key'

    def test_static_env_words(self) -> None:
        """Only keys or names that suggest live configuration are reported."""
        findings = _lint_fixture("rules/static-metadata-env.yaml")
        assert [f.message.split()[0] for f in findings] == ["K8S_LOG_LEVEL"]

    def test_subpath_only_for_changing_files(self) -> None:
        """A subPath onto a file that never changes (the pod name) is fine."""
        findings = _lint_fixture("rules/subpath.yaml")
        assert not any('"name"' in f.message for f in findings)
        assert "empty directory" in findings[2].message

    def test_env_references_semantics(self) -> None:
        """$$ escapes, lower-case shell substitution and prefixed envFrom are understood."""
        findings = _lint_fixture("rules/env-references.yaml")
        text = " ".join(f.message for f in findings)
        for quiet in ("KEEP", "ESCAPED", "date", "KUBERNETES_SERVICE_HOST", "ANYTHING", "CFG_X"):
            assert f"$({quiet})" not in text
        later = next(f for f in findings if "defined later" in f.message)
        assert later.hint == "move K8S_POD_IP above URL"

    def test_duplicate_env_follows_kubernetes(self) -> None:
        """The API's own warning text; a redefinition that extends the value is not reported."""
        (finding,) = [
            f for f in _lint_fixture("rules/env-references.yaml") if f.rule == "duplicate-env"
        ]
        assert finding.message == (
            'spec.containers[0].env[5]: hides previous definition of "PEER", which may be '
            "dropped when using apply"
        )

    def test_duplicate_env_cases(self) -> None:
        """Kubernetes' own cases: only "$(a) $(a)"-style extensions are quiet."""
        env = [
            {"name": "a", "value": "a"},
            {"name": "a", "value": "a"},
            {"name": "a", "value": "other"},
            {"name": "a", "value": ""},
            {"name": "a", "value": "$(a)"},
            {"name": "a", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "a", "value": "$(a) $(a)"},
        ]
        findings = _lint_obj(
            _pod({"containers": [{"name": "c", "env": env}]}), disabled=["naming-convention"]
        )
        assert [f.field for f in findings if f.rule == "duplicate-env"] == [
            f"spec.containers[0].env[{i}]" for i in range(1, 6)
        ]


class TestNamingRules:
    def test_mismatch_messages(self) -> None:
        """The name's promise and what it gets are both said."""
        findings = [f for f in _lint_fixture("rules/naming.yaml") if f.rule == "env-name-mismatch"]
        assert [f.message for f in findings] == [
            "K8S_POD_NAME reads metadata.namespace, but its name promises metadata.name",
            "RESOURCE_MEMORY_LIMIT_MB promises MiB (divisor 1Mi), but the divisor is 1 (the "
            "default): the value is in bytes",
            "RESOURCE_CPU_LIMIT_MILLICORES reads limits.memory, but its name promises limits.cpu",
            "JVM_HEAP_MB promises MiB (_MB), but the divisor is 1Gi: the value is in GiB",
            "MEMORY_LIMIT promises bytes (divisor 1), but the divisor is 1Mi: the value is in MiB",
            "RESOURCE_MEMORY_LIMIT promises bytes (divisor 1), but the divisor is 1Mi: the value "
            "is in MiB",
        ]
        hints = [f.hint for f in findings[-2:]]
        assert hints == [
            'rename MEMORY_LIMIT to MEMORY_LIMIT_MB, or set divisor: "1"',
            'rename RESOURCE_MEMORY_LIMIT to RESOURCE_MEMORY_LIMIT_MB, or set divisor: "1"',
        ]

    def test_decimal_units_accepted_outside_podself_names(self) -> None:
        """_MB with divisor 1M is fine for a name podself does not read itself."""
        env = [
            {
                "name": "JVM_HEAP_MB",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1M"}},
            }
        ]
        spec = {
            "containers": [{"name": "c", "env": env, "resources": {"limits": {"memory": "1G"}}}]
        }
        assert _rules(_lint_obj(_pod(spec))) == ["naming-convention"]

    @pytest.mark.parametrize(
        ("name", "ref"),
        [
            ("PYTHON_CPU_COUNT", {"resourceFieldRef": {"resource": "limits.cpu"}}),
            ("GOMAXPROCS", {"resourceFieldRef": {"resource": "limits.cpu"}}),
            ("LOKY_MAX_CPU_COUNT", {"resourceFieldRef": {"resource": "limits.cpu"}}),
            ("OMP_NUM_THREADS", {"resourceFieldRef": {"resource": "limits.cpu"}}),
            ("GOMEMLIMIT", {"resourceFieldRef": {"resource": "limits.memory"}}),
            ("DD_ENV", {"fieldRef": {"fieldPath": "metadata.namespace"}}),
            ("JAVA_OPTS_POD", {"fieldRef": {"fieldPath": "metadata.name"}}),
        ],
    )
    def test_names_other_programs_read_are_not_renamed(
        self, name: str, ref: dict[str, Any]
    ) -> None:
        """A runtime's or agent's own variable keeps its name: no advice to rename it."""
        env = [{"name": name, "valueFrom": ref}]
        spec = {
            "containers": [
                {"name": "c", "env": env, "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}}
            ]
        }
        assert "naming-convention" not in _rules(_lint_obj(_pod(spec)))

    def test_library_names_are_not_renamed(self) -> None:
        """DD_ and OTEL_ variables keep the names their libraries read: no naming advice."""
        env = [
            {
                "name": "DD_ENV",
                "valueFrom": {
                    "fieldRef": {"fieldPath": "metadata.labels['tags.datadoghq.com/env']"}
                },
            },
            {"name": "DD_ENTITY_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {
                "name": "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            },
        ]
        pod = _pod(
            {"containers": [{"name": "c", "env": env}]},
            labels={"tags.datadoghq.com/env": "prod"},
        )
        assert _rules(_lint_obj(pod)) == []

    @pytest.mark.parametrize(
        ("name", "source", "reported"),
        [
            ("POD_NAME", {"fieldRef": {"fieldPath": "metadata.name"}}, True),
            ("MY_NODE_IP", {"fieldRef": {"fieldPath": "status.hostIP"}}, True),
            ("WHERE_I_RUN_NAMESPACE", {"fieldRef": {"fieldPath": "metadata.namespace"}}, True),
            ("CPU_LIMIT", {"resourceFieldRef": {"resource": "limits.cpu"}}, True),
            ("my.env-name", {"fieldRef": {"fieldPath": "metadata.name"}}, False),
            ("_x", {"fieldRef": {"fieldPath": "status.podIP"}}, False),
            ("MyEnvName1", {"resourceFieldRef": {"resource": "limits.cpu"}}, False),
            ("x_1", {"resourceFieldRef": {"resource": "requests.memory"}}, False),
            ("APP_GREETING", {"fieldRef": {"fieldPath": "metadata.name"}}, False),
            ("SHARD", {"resourceFieldRef": {"resource": "limits.cpu"}}, False),
        ],
    )
    def test_convention_only_for_identity_shaped_names(
        self, name: str, source: dict[str, Any], reported: bool
    ) -> None:
        """naming-convention judges names that look like identity or resource variables and
        leaves the app's own names alone (fuzzed names gave thousands of info findings)."""
        env = [{"name": name, "valueFrom": source}]
        spec = {"containers": [{"name": "c", "env": env, "resources": {"limits": {"cpu": "1"}}}]}
        found = [f for f in _lint_obj(_pod(spec)) if f.rule == "naming-convention"]
        assert bool(found) is reported

    def test_suggestions(self) -> None:
        """The suggested names follow K8S_/RESOURCE_ with the unit of the divisor."""
        hints = [
            f.hint for f in _lint_fixture("rules/naming.yaml") if f.rule == "naming-convention"
        ]
        assert hints == ["rename POD_NAME to K8S_POD_NAME"]

    def test_container_name_has_no_field(self) -> None:
        """A container-name variable cannot come from a fieldRef."""
        env = [
            {
                "name": "K8S_CONTAINER_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            }
        ]
        (finding,) = _lint_obj(_pod({"containers": [{"name": "c", "env": env}]}))
        assert finding.rule == "env-name-mismatch"
        assert "does not provide" in finding.message


class TestDisabling:
    def test_flag(self) -> None:
        """--disable removes a rule everywhere."""
        findings = _lint_fixture("rules/naming.yaml", disabled=["naming-convention"])
        assert "naming-convention" not in _rules(findings)
        assert "env-name-mismatch" in _rules(findings)

    def test_annotations(self) -> None:
        """The object's and the template's annotations each turn rules off for that object."""
        findings = _lint_fixture("annotation-disable.yaml")
        assert [(f.rule, f.object) for f in findings] == [
            ("invalid-field-ref", "Deployment/quiet"),
            ("naming-convention", "Deployment/loud"),
            ("resource-not-set", "Deployment/loud"),
        ]

    def test_annotation_all(self) -> None:
        """The value "all" turns every rule off for the object."""
        spec = {"containers": [{"name": "c", "env": [{"name": "X", "valueFrom": {}}]}]}
        obj = _pod(spec, annotations={DISABLE_ANNOTATION: "all"})
        assert _lint_obj(obj) == []
        assert _lint_obj(_pod(spec)) != []

    def test_unknown_ids_in_annotation_ignored(self) -> None:
        """Rule ids a version does not know are ignored in annotations."""
        obj = _pod({}, annotations={DISABLE_ANNOTATION: "future-rule"})
        assert _lint_obj(obj) == []

    def test_load_rules_can_be_disabled(self) -> None:
        """invalid-yaml is a rule like the others."""
        assert _lint_fixture("invalid.yaml", disabled=["invalid-yaml"])[-1].rule != "invalid-yaml"


class TestEnvReferences:
    @pytest.mark.parametrize(
        ("text", "names"),
        [
            ("$(A)", ["A"]),
            ("x$(A)y$(B)", ["A", "B"]),
            ("$$(A)", []),
            ("$$$(A)", ["A"]),
            ("$(A", []),
            ("$(A $(B)", ["A $(B"]),
            ("$x $", []),
            ("$()", [""]),
            ("", []),
        ],
    )
    def test_expansion_syntax(self, text: str, names: list[str]) -> None:
        """References follow Kubernetes' expansion: $$ escapes, unclosed $( is literal."""
        assert env_references(text) == names


class TestEngine:
    def test_paths_and_counts(self) -> None:
        """lint_paths walks folders and counts files, documents and workloads."""
        result = lint_paths([FIXTURES / "tree"])
        assert (result.files, result.documents, result.workloads) == (4, 4, 3)
        assert result.input_errors == []
        assert [(Path(f.file).name, f.line, f.column) for f in result.findings] == [
            ("job.json", 15, 76),
            ("worker.yml", 12, 22),
        ]

    def test_unreadable_input(self, tmp_path: Path) -> None:
        """A missing file is an input error; the other inputs are still linted."""
        result = lint_paths([tmp_path / "nope.yaml", FIXTURES / "seed" / "pod-name-typo.yaml"])
        assert len(result.input_errors) == 1
        assert "nope.yaml" in result.input_errors[0]
        assert result.files == 1
        assert _rules(result.findings) == ["invalid-field-ref"]

    def test_oversized_input(self, tmp_path: Path) -> None:
        """An input over --max-bytes is an input-limit finding."""
        from podself.manifest.load import Limits

        result = lint_paths(
            [FIXTURES / "seed" / "good-practice.yaml"], limits=Limits(max_bytes=100)
        )
        (finding,) = result.findings
        assert finding.rule == "input-limit"
        assert (finding.line, finding.column) == (1, 1)

    def test_default_size_takes_a_large_rendered_chart(self, tmp_path: Path) -> None:
        """The default bound takes a stream well over 10 MiB (a rendered chart with thousands
        of objects), which is linted rather than refused."""
        path = tmp_path / "chart.yaml"
        path.write_text("# " + "x" * (12 << 20) + "\nkind: Pod\nmetadata: {name: web}\n")
        result = lint_paths([path])
        assert "input-limit" not in _rules(result.findings)
        assert result.documents == 1

    def test_dependency_issue_is_an_input_error(self) -> None:
        """A missing PyYAML is reported as an input error, not a finding."""
        from podself.manifest.lint import LintResult

        result = LintResult()
        issue = LoadIssue("a.yaml", 1, 1, "dependency", "YAML input needs PyYAML")
        assert list(lint_documents([issue], result=result)) == []
        assert result.input_errors == ["a.yaml:1:1: YAML input needs PyYAML"]

    def test_finding_dict(self) -> None:
        """A finding's JSON form has the documented keys."""
        (finding,) = _lint_fixture("seed/pod-name-typo.yaml")
        assert list(finding.to_dict()) == [
            "rule",
            "severity",
            "message",
            "file",
            "line",
            "column",
            "field",
            "object",
            "hint",
        ]

    def test_workload_without_document(self) -> None:
        """Linting plain data works; positions are then 0."""
        (workload,) = iter_workloads(load_file(FIXTURES / "seed" / "pod-name-typo.yaml")[0].data)
        (finding,) = lint_workload(workload)
        assert (finding.file, finding.line, finding.column) == ("", 0, 0)


def _all_fixture_objects() -> list[Any]:
    objects: list[Any] = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.suffix in (".yaml", ".yml", ".json") and path.name != "bomb.yaml":
            try:
                docs = load_file(path)
            except Exception:  # the invalid fixture
                continue
            objects.extend(doc.data for doc in docs if doc.data is not None)
    return objects


_BASES = _all_fixture_objects()
_ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "metadata.labels['x']",
            "metadata.annotations['A/b']",
            "limits.cpu",
            "requests.hugepages-2Mi",
            "1m",
            "1Mi",
            "0",
            "-1",
            "1e3",
            "$(X)",
            "$$",
            "..",
            "/abs",
        ]
    ),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_paths(value, (*prefix, index)))
    return found


class TestRobustness:
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.data())
    def test_mutated_manifests_never_crash(self, data: st.DataObject) -> None:
        """Replacing or deleting any node of a valid manifest never makes the linter raise."""
        obj = copy.deepcopy(data.draw(st.sampled_from(_BASES)))
        for _ in range(data.draw(st.integers(1, 3))):
            paths = _paths(obj)
            path = data.draw(st.sampled_from(paths))
            if not path:
                obj = data.draw(_ODD_VALUES)
                continue
            parent = obj
            for step in path[:-1]:
                parent = parent[step]
            if data.draw(st.booleans()) and isinstance(parent, dict):
                del parent[path[-1]]
            else:
                parent[path[-1]] = data.draw(_ODD_VALUES)
        for finding in _lint_obj(obj) if isinstance(obj, dict) else []:
            assert finding.rule in RULES
        text = json.dumps(obj, default=str)
        for finding in lint_text(text, "fuzz.json"):
            assert finding.rule in RULES
            assert finding.line >= 1

    @settings(max_examples=150, deadline=None)
    @given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n $()")), max_size=120))
    def test_random_yaml_never_crashes(self, text: str) -> None:
        """Arbitrary YAML-ish text gives findings, never an exception."""
        for finding in lint_text("kind: Pod\nspec:\n  containers:\n" + text, "fuzz.yaml"):
            assert finding.rule in RULES


_ENV_FILE_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: envfile}
spec:
  containers:
  - name: app
    image: busybox
    env:
    - name: DB_HOST
      valueFrom:
        fileKeyRef: {volumeName: config, path: app.env, key: DB_HOST}
  volumes:
  - name: config
    emptyDir: {}
"""


class TestKubernetesVersionOption:
    """lint --kubernetes-version validates as that release's API server does."""

    def test_file_key_ref_by_release(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from podself.cli import main

        manifest = tmp_path / "pod.yaml"
        manifest.write_text(_ENV_FILE_POD)
        assert main(["lint", str(manifest)]) == 0
        assert main(["lint", str(manifest), "--kubernetes-version", "1.34"]) == 0
        capsys.readouterr()
        assert main(["lint", str(manifest), "--kubernetes-version", "v1.33"]) == 1
        out = capsys.readouterr().out
        assert 'unknown field "spec.containers[0].env[0].valueFrom.fileKeyRef"' in out
        assert "--kubernetes-version" in out  # the hint names the option

    def test_default_off_gates_follow_the_release(self) -> None:
        """fileKeyRef is off by default in 1.34 only; image volumes before 1.35."""
        spec = {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "env": [
                        {
                            "name": "X",
                            "valueFrom": {
                                "fileKeyRef": {"volumeName": "v", "path": "p", "key": "K"}
                            },
                        }
                    ],
                }
            ],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "i", "image": {"reference": "r"}}],
        }
        found = {}
        for release in ("1.33", "1.34", "1.35"):
            with kubernetes_target(release):
                found[release] = [
                    f.field for f in _lint_obj(_pod(spec)) if f.rule == "feature-gate-off"
                ]
        assert found == {
            "1.33": ["spec.volumes[1].image"],
            "1.34": ["spec.containers[0].env[0].valueFrom.fileKeyRef", "spec.volumes[1].image"],
            "1.35": [],
        }

    def test_unsupported_release_is_a_usage_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from podself.cli import main

        manifest = tmp_path / "pod.yaml"
        manifest.write_text(_ENV_FILE_POD)
        with pytest.raises(SystemExit) as info:
            main(["lint", str(manifest), "--kubernetes-version", "1.29"])
        assert info.value.code == 2
        assert "unsupported Kubernetes version '1.29': podself models 1.30 to 1.35" in (
            capsys.readouterr().err
        )


class TestUnknownFields:
    def test_mistyped_key_gets_the_strict_error_and_the_right_name(self) -> None:
        """A mistyped key is an unknown field (as kubectl's strict validation says), with the
        field it was meant to be, not "Required value" for the field it misses."""
        env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldpath": "metadata.name"}}}]
        findings = _lint_obj(_pod({"containers": [{"name": "c", "env": env}]}))
        errors = [f for f in findings if f.severity == "error"]
        assert [f.message for f in errors] == [
            'unknown field "spec.containers[0].env[0].valueFrom.fieldRef.fieldpath"'
        ]
        assert errors[0].hint.endswith("did you mean fieldPath?")
        assert "Required" not in " ".join(f.message for f in findings)

    def test_a_zero_divisor_is_said_to_mean_one(self) -> None:
        """divisor: 0 is the default 1, and the warnings say so."""
        env = [
            {
                "name": "RESOURCE_CPU_LIMIT_MILLICORES",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}},
            }
        ]
        container = {"name": "c", "env": env, "resources": {"limits": {"cpu": "500m"}}}
        messages = [f.message for f in _lint_obj(_pod({"containers": [container]}))]
        assert "limits.cpu 500m with divisor 0 (0 means 1) gives 1, rounded up from 0.5" in messages
        assert any("but the divisor is 0 (0 means 1): the value is in cores" in m for m in messages)

    def test_app_names_are_the_applications_own(self) -> None:
        """APP_ names are not asked to be renamed (the convention gives APP_ to the app)."""
        env = [
            {
                "name": "APP_CPU_LIMIT",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}},
            },
            {"name": "APP_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ]
        container = {"name": "c", "env": env, "resources": {"limits": {"cpu": "500m"}}}
        assert "naming-convention" not in _rules(_lint_obj(_pod({"containers": [container]})))

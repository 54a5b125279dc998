"""Tests for podself.manifest.lint.rules.kubelet: what the kubelet reveals only at run time."""

from __future__ import annotations

import pytest

from podself.manifest.lint import (
    env_references,
)
from tests.lint_helpers import lint_fixture, lint_obj, make_pod


class TestKubeletRules:
    def test_controller_labels_are_known(self) -> None:
        """Labels a controller adds (statefulset pod-name) are not reported."""
        findings = lint_fixture("rules/undefined-metadata.yaml")
        assert not any("statefulset.kubernetes.io" in f.message for f in findings)

    def test_label_on_the_wrong_object(self) -> None:
        """A label set on the StatefulSet itself, not its template, reads empty."""
        findings = lint_fixture("rules/undefined-metadata.yaml")
        label = next(f for f in findings if f.rule == "undefined-label")
        assert label.message == (
            'K8S_TEAM reads label "team", which the pod template does not set: the variable '
            "will be empty"
        )
        assert label.hint == 'add "team" to spec.template.metadata.labels, or fix the key'

    def test_static_env_words(self) -> None:
        """Only keys or names that suggest live configuration are reported."""
        findings = lint_fixture("rules/static-metadata-env.yaml")
        assert [f.message.split()[0] for f in findings] == ["K8S_LOG_LEVEL"]

    def test_subpath_only_for_changing_files(self) -> None:
        """A subPath onto a file that never changes (the pod name) is fine."""
        findings = lint_fixture("rules/subpath.yaml")
        assert not any('"name"' in f.message for f in findings)
        assert "empty directory" in findings[2].message

    def test_env_references_semantics(self) -> None:
        """$$ escapes, lower-case shell substitution and prefixed envFrom are understood."""
        findings = lint_fixture("rules/env-references.yaml")
        text = " ".join(f.message for f in findings)
        for quiet in ("KEEP", "ESCAPED", "date", "KUBERNETES_SERVICE_HOST", "ANYTHING", "CFG_X"):
            assert f"$({quiet})" not in text
        later = next(f for f in findings if "defined later" in f.message)
        assert later.hint == "move K8S_POD_IP above URL"

    def test_duplicate_env_follows_kubernetes(self) -> None:
        """The API's own warning text; a redefinition that extends the value is not reported."""
        (finding,) = [
            f for f in lint_fixture("rules/env-references.yaml") if f.rule == "duplicate-env"
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
        findings = lint_obj(
            make_pod({"containers": [{"name": "c", "env": env}]}), disabled=["naming-convention"]
        )
        assert [f.field for f in findings if f.rule == "duplicate-env"] == [
            f"spec.containers[0].env[{i}]" for i in range(1, 6)
        ]


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

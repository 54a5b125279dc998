"""Tests for podself.manifest.lint.rules.documents: YAML-typed scalars (every documents rule's
positions are in test_lint's fixture table)."""

from __future__ import annotations

from tests.lint_helpers import lint_fixture


class TestTypedScalars:
    def test_yaml_typed_scalar_findings(self) -> None:
        """Each warning names the field, the object and what Kubernetes reads; a typed key says
        which key it becomes."""
        findings = [
            f for f in lint_fixture("rules/yaml-typing.yaml") if f.rule == "yaml-typed-scalar"
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
        assert lint_fixture("rules/yaml-typing.yaml", disabled={"yaml-typed-scalar"}) == [
            f for f in lint_fixture("rules/yaml-typing.yaml") if f.rule != "yaml-typed-scalar"
        ]

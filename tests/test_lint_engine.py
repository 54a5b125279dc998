"""Tests for podself.manifest.lint.engine: disabling rules, inputs, counts and findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from podself.manifest.lint import (
    DISABLE_ANNOTATION,
    RULES,
    lint_documents,
    lint_paths,
    lint_workload,
)
from podself.manifest.lint.engine import register
from podself.manifest.lint.rules import FAMILIES, RULE_ORDER
from podself.manifest.load import LoadIssue, load_file
from podself.manifest.workloads import iter_workloads
from tests.lint_helpers import FIXTURES, lint_fixture, lint_obj, make_pod, rule_ids


class TestDisabling:
    def test_flag(self) -> None:
        """--disable removes a rule everywhere."""
        findings = lint_fixture("rules/naming.yaml", disabled=["naming-convention"])
        assert "naming-convention" not in rule_ids(findings)
        assert "env-name-mismatch" in rule_ids(findings)

    def test_annotations(self) -> None:
        """The object's and the template's annotations each turn rules off for that object."""
        findings = lint_fixture("annotation-disable.yaml")
        assert [(f.rule, f.object) for f in findings] == [
            ("invalid-field-ref", "Deployment/quiet"),
            ("naming-convention", "Deployment/loud"),
            ("resource-not-set", "Deployment/loud"),
        ]

    def test_annotation_all(self) -> None:
        """The value "all" turns every rule off for the object."""
        spec = {"containers": [{"name": "c", "env": [{"name": "X", "valueFrom": {}}]}]}
        obj = make_pod(spec, annotations={DISABLE_ANNOTATION: "all"})
        assert lint_obj(obj) == []
        assert lint_obj(make_pod(spec)) != []

    def test_unknown_ids_in_annotation_ignored(self) -> None:
        """Rule ids a version does not know are ignored in annotations."""
        obj = make_pod({}, annotations={DISABLE_ANNOTATION: "future-rule"})
        assert lint_obj(obj) == []

    def test_load_rules_can_be_disabled(self) -> None:
        """invalid-yaml is a rule like the others."""
        assert lint_fixture("invalid.yaml", disabled=["invalid-yaml"])[-1].rule != "invalid-yaml"


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
        assert rule_ids(result.findings) == ["invalid-field-ref"]

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
        assert "input-limit" not in rule_ids(result.findings)
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
        (finding,) = lint_fixture("seed/pod-name-typo.yaml")
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


class TestRegistration:
    def test_the_order_must_name_every_rule_once(self) -> None:
        """register() refuses an order that leaves a rule out or names one twice, and keeps
        the rules it had."""
        before = list(RULES.items())
        missing = RULE_ORDER[:-1]
        twice = (*RULE_ORDER[:-1], RULE_ORDER[0])
        for order in (missing, twice):
            with pytest.raises(ValueError, match="does not name the rules"):
                register(FAMILIES, order)
        assert list(RULES.items()) == before

    def test_one_family_names_the_rule_of_a_load_issue(self) -> None:
        """Exactly one family turns unreadable input into a finding."""
        without = tuple(family for family in FAMILIES if family.issue_rule is None)
        order = [rule.id for family in without for rule in family.rules]
        with pytest.raises(ValueError, match="0 families name the rule of a load issue"):
            register(without, order)
        assert list(RULES) == list(RULE_ORDER)

    def test_checks_run_in_family_order(self) -> None:
        """Without a document every finding is at 0:0, so the order is the checks' own:
        resources, then the kubelet's, then naming."""
        env = [
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NAME", "value": "x"},
            {
                "name": "MEM_MB",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1"}},
            },
        ]
        findings = lint_obj(make_pod({"containers": [{"name": "c", "env": env}]}))
        assert rule_ids(findings) == [
            "resource-not-set",
            "duplicate-env",
            "naming-convention",
            "env-name-mismatch",
        ]

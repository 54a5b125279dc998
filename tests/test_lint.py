"""Tests for podself.manifest.lint: the rule registry, every rule's exact positions in the
fixtures, the seed troubleshooting cases and robustness."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podself.manifest.lint import (
    RULES,
    SEVERITIES,
    lint_text,
    severity_rank,
)
from podself.manifest.load import load_file
from tests.lint_helpers import FIXTURES, lint_fixture, lint_obj, positions

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
        findings = lint_fixture(fixture)
        assert positions(findings, rule) == POSITIVE[rule][fixture]
        for finding in findings:
            if finding.rule == rule:
                assert finding.severity == RULES[rule].severity
                assert finding.hint

    def test_good_practice_is_clean(self) -> None:
        """The seed's recommended manifest gives no finding at all."""
        assert lint_fixture("seed/good-practice.yaml") == []

    def test_volume_fix_is_clean(self) -> None:
        """The volume version of the feature flag has no finding; only the env version does."""
        findings = lint_fixture("seed/labels-via-env.yaml")
        assert [(f.rule, f.object) for f in findings] == [
            ("static-metadata-env", "Deployment/flags")
        ]


class TestSeedTroubleshooting:
    def test_pod_name_typo(self) -> None:
        """metadata.pod.name is refused with the API's message and a suggestion."""
        (finding,) = lint_fixture("seed/pod-name-typo.yaml")
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
        (finding,) = lint_fixture("seed/pod-ip-in-volume.yaml")
        assert finding.message == (
            'spec.volumes[0].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": '
            'supported values: "metadata.annotations", "metadata.labels", "metadata.name", '
            '"metadata.namespace", "metadata.uid"'
        )
        assert "only to env vars" in finding.hint
        assert (finding.line, finding.column) == (27, 22)

    def test_labels_via_env(self) -> None:
        """A flag label read through env is flagged as never updating."""
        findings = lint_fixture("seed/labels-via-env.yaml")
        assert [f.rule for f in findings] == ["static-metadata-env"]
        assert "once, at container start" in findings[0].message


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
        for finding in lint_obj(obj) if isinstance(obj, dict) else []:
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

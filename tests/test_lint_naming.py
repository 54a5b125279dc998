"""Tests for podself.manifest.lint.rules.naming: env var names and their units."""

from __future__ import annotations

from typing import Any

import pytest

from tests.lint_helpers import lint_fixture, lint_obj, make_pod, rule_ids


class TestNamingRules:
    def test_mismatch_messages(self) -> None:
        """The name's promise and what it gets are both said."""
        findings = [f for f in lint_fixture("rules/naming.yaml") if f.rule == "env-name-mismatch"]
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
        assert rule_ids(lint_obj(make_pod(spec))) == ["naming-convention"]

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
        assert "naming-convention" not in rule_ids(lint_obj(make_pod(spec)))

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
        pod = make_pod(
            {"containers": [{"name": "c", "env": env}]},
            labels={"tags.datadoghq.com/env": "prod"},
        )
        assert rule_ids(lint_obj(pod)) == []

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
        found = [f for f in lint_obj(make_pod(spec)) if f.rule == "naming-convention"]
        assert bool(found) is reported

    def test_suggestions(self) -> None:
        """The suggested names follow K8S_/RESOURCE_ with the unit of the divisor."""
        hints = [f.hint for f in lint_fixture("rules/naming.yaml") if f.rule == "naming-convention"]
        assert hints == ["rename POD_NAME to K8S_POD_NAME"]

    def test_container_name_has_no_field(self) -> None:
        """A container-name variable cannot come from a fieldRef."""
        env = [
            {
                "name": "K8S_CONTAINER_NAME",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
            }
        ]
        (finding,) = lint_obj(make_pod({"containers": [{"name": "c", "env": env}]}))
        assert finding.rule == "env-name-mismatch"
        assert "does not provide" in finding.message

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
        assert "naming-convention" not in rule_ids(lint_obj(make_pod({"containers": [container]})))

"""Tests for podself.manifest.lint.rules.resources: resourceFieldRef at run time."""

from __future__ import annotations

from tests.lint_helpers import lint_fixture, lint_obj, make_pod


class TestResourceRules:
    def test_unknown_container_messages(self) -> None:
        """Env and volume references say how each fails at run time."""
        env, volume = (f for f in lint_fixture("rules/unknown-container.yaml"))
        assert "CreateContainerConfigError" in env.message
        assert "container sidecar not found" in env.message
        assert "ContainerCreating" in volume.message
        assert env.hint == "name one of: app, setup"

    def test_resource_not_set_messages(self) -> None:
        """Limits fall back to node allocatable; requests and hugepages read 0."""
        messages = [f.message for f in lint_fixture("rules/resource-not-set.yaml")]
        assert messages == [
            'limits.cpu is not set on container "app": the kubelet gives the node\'s '
            "allocatable CPU instead",
            'requests.cpu is not set on container "app", nor limits.cpu to default it from: '
            "the value is 0",
            'limits.hugepages-2Mi is not set on container "app": the value is 0',
        ]

    def test_divisor_rounding_messages(self) -> None:
        """The message gives the kubelet's value and the exact ratio; the hint a fix."""
        cpu, memory = lint_fixture("rules/divisor-rounding.yaml")
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
        (finding,) = lint_obj(make_pod(spec))
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
        (finding,) = lint_obj(make_pod(spec))
        assert finding.message == "limits.cpu 1m with divisor 1 gives 1, rounded up from 0.001"


class TestZeroDivisor:
    def test_a_zero_divisor_is_said_to_mean_one(self) -> None:
        """divisor: 0 is the default 1, and the warnings say so."""
        env = [
            {
                "name": "RESOURCE_CPU_LIMIT_MILLICORES",
                "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "0"}},
            }
        ]
        container = {"name": "c", "env": env, "resources": {"limits": {"cpu": "500m"}}}
        messages = [f.message for f in lint_obj(make_pod({"containers": [container]}))]
        assert "limits.cpu 500m with divisor 0 (0 means 1) gives 1, rounded up from 0.5" in messages
        assert any("but the divisor is 0 (0 means 1): the value is in cores" in m for m in messages)

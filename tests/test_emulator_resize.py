"""In-place resize: the API server's /resize rules and the kubelet's cgroup values."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from podself.emulator.resize import (
    CgroupValues,
    cgroup_values,
    infeasible,
    pod_requests,
    resize_errors,
    resized_pod,
    restart_needed,
    restart_policies,
)
from podself.errors import QuantityError
from podself.quantity import Quantity
from podself.validation import kubernetes_target


def pod(container_resources: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A one-container pod as podself run stores it (requests defaulted from limits)."""
    from podself.emulator.pod import qos_class

    container = {"name": "app", "resources": container_resources}
    spec: dict[str, Any] = {"containers": [container], **extra}
    return {"metadata": {"name": "web"}, "spec": spec, "status": {"qosClass": qos_class(spec)}}


GUARANTEED = {
    "limits": {"cpu": "500m", "memory": "256Mi"},
    "requests": {"cpu": "500m", "memory": "256Mi"},
}
BURSTABLE = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m"}}


def q(text: str) -> Quantity:
    return Quantity.parse(text)


def errors(new: dict[str, Any], old: dict[str, Any], version: str | None = None) -> list[str]:
    with kubernetes_target(version):
        return [str(e) for e in resize_errors(new, old)]


class TestResizedPod:
    def test_follow_keeps_a_guaranteed_container_guaranteed(self) -> None:
        """A request equal to the old limit moves with it; values are stored canonical."""
        old = pod(copy.deepcopy(GUARANTEED))
        new = resized_pod(old, "app", {}, {}, follow={"cpu": q("2000m"), "memory": q("1Gi")})
        resources = new["spec"]["containers"][0]["resources"]
        assert resources == {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "2", "memory": "1Gi"},
        }
        assert old["spec"]["containers"][0]["resources"] == GUARANTEED  # a copy
        assert errors(new, old) == []

    def test_follow_leaves_a_lower_request(self) -> None:
        old = pod(copy.deepcopy(BURSTABLE))
        new = resized_pod(old, "app", {}, {}, follow={"cpu": q("2")})
        assert new["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "250m"}

    def test_unknown_container(self) -> None:
        with pytest.raises(KeyError):
            resized_pod(pod({}), "nope", {"cpu": q("1")}, {})


class TestResizeErrors:
    def test_request_above_limit_and_qos(self) -> None:
        old = pod(copy.deepcopy(GUARANTEED))
        new = resized_pod(old, "app", {"cpu": q("1")}, {"cpu": q("2")})
        assert errors(new, old) == [
            "spec.containers[0].resources.requests[cpu]: Invalid value: "
            '"2": must be less than or equal to cpu limit of 1',
            'spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result of '
            "resizing",
        ]

    def test_negative_quantity(self) -> None:
        old = pod(copy.deepcopy(BURSTABLE))
        new = resized_pod(old, "app", {}, {"cpu": q("-1")})
        assert errors(new, old) == [
            "spec.containers[0].resources.requests[cpu]: Invalid value: "
            '"-1": must be greater than or equal to 0'
        ]

    def test_best_effort_cannot_get_resources(self) -> None:
        old = pod({})
        new = resized_pod(old, "app", {"cpu": q("1")}, {})
        assert errors(new, old) == [
            'spec: Invalid value: "BestEffort": Pod QOS Class may not change as a result of '
            "resizing"
        ]

    def test_only_cpu_and_memory(self) -> None:
        old = pod(copy.deepcopy(GUARANTEED))
        new = resized_pod(old, "app", {"ephemeral-storage": q("1Gi")}, {})
        assert errors(new, old) == ["spec: Forbidden: only cpu and memory resources are mutable"]

    def test_removal(self) -> None:
        old = pod(copy.deepcopy(BURSTABLE))
        new = copy.deepcopy(old)
        del new["spec"]["containers"][0]["resources"]["requests"]
        assert errors(new, old) == [
            "spec.containers[0].resources.requests: Forbidden: resource requests cannot be removed"
        ]

    @pytest.mark.parametrize(
        ("version", "policy", "expected"),
        [
            ("1.35", None, []),
            ("1.34", None, []),
            (
                "1.33",
                None,
                [
                    "spec.containers[0].resources.limits[memory]: Forbidden: memory limits "
                    "cannot be decreased unless resizePolicy is RestartContainer"
                ],
            ),
            ("1.33", "RestartContainer", []),
        ],
    )
    def test_memory_limit_decrease(
        self, version: str, policy: str | None, expected: list[str]
    ) -> None:
        """Refused by 1.33's API server unless the memory policy restarts the container;
        allowed from 1.34 (the kubelet checks usage instead)."""
        old = pod(copy.deepcopy(BURSTABLE))
        if policy is not None:
            old["spec"]["containers"][0]["resizePolicy"] = [
                {"resourceName": "memory", "restartPolicy": policy}
            ]
        new = resized_pod(old, "app", {"memory": q("256Mi")}, {})
        assert errors(new, old, version) == expected

    def test_init_containers_and_sidecars(self) -> None:
        """A sidecar resizes like a container; a plain init container not at all."""
        spec_init = [
            {"name": "init", "resources": copy.deepcopy(BURSTABLE)},
            {"name": "side", "restartPolicy": "Always", "resources": copy.deepcopy(BURSTABLE)},
        ]
        old = pod(copy.deepcopy(BURSTABLE), initContainers=spec_init)
        assert errors(resized_pod(old, "side", {"cpu": q("2")}, {}), old) == []
        assert errors(resized_pod(old, "init", {"cpu": q("2")}, {}), old) == [
            "spec: Forbidden: resources for non-sidecar init containers are immutable"
        ]

    @pytest.mark.parametrize(
        ("extra", "message"),
        [
            (
                {"resources": {"limits": {"cpu": "2"}}},
                ": Forbidden: pods with pod-level resources cannot be resized",
            ),
            ({"os": {"name": "windows"}}, ": Forbidden: windows pods cannot be resized"),
        ],
    )
    def test_pods_that_cannot_be_resized(self, extra: dict[str, Any], message: str) -> None:
        old = pod(copy.deepcopy(BURSTABLE), **extra)
        assert errors(resized_pod(old, "app", {"cpu": q("2")}, {}), old) == [message]

    def test_restart_needed(self) -> None:
        """Only a resource that really changes (2000m is 2) and asks for a restart counts."""
        container = {"resizePolicy": [{"resourceName": "cpu", "restartPolicy": "RestartContainer"}]}
        old = {"limits": {"cpu": "2", "memory": "1Gi"}}
        assert restart_needed(container, old, {"limits": {"cpu": "2000m", "memory": "2Gi"}}) == []
        assert restart_needed(container, old, {"limits": {"cpu": "3", "memory": "1Gi"}}) == ["cpu"]
        added = {"limits": old["limits"], "requests": {"cpu": "1"}}
        assert restart_needed(container, old, added) == ["cpu"]

    def test_restart_policies(self) -> None:
        container = {
            "resizePolicy": [{"resourceName": "memory", "restartPolicy": "RestartContainer"}]
        }
        assert restart_policies(container) == {"cpu": "NotRequired", "memory": "RestartContainer"}


class TestCgroupValues:
    @pytest.mark.parametrize(
        ("resources", "expected"),
        [
            # quota = limit * period / 1000; shares = request * 1024 / 1000
            (GUARANTEED, CgroupValues(50_000, 100_000, 512, 256 * 2**20)),
            (BURSTABLE, CgroupValues(100_000, 100_000, 256, 512 * 2**20)),
            # a request left unset takes the limit's shares; 1 ms of quota at least
            ({"limits": {"cpu": "1m"}}, CgroupValues(1_000, 100_000, 2, None)),
            ({"limits": {"cpu": "3"}}, CgroupValues(300_000, 100_000, 3072, None)),
            # no limits: no quota, no memory limit, the minimum shares
            ({}, CgroupValues(None, 100_000, 2, None)),
            ({"requests": {"cpu": "500G"}}, CgroupValues(None, 100_000, 262_144, None)),
        ],
    )
    def test_kubelet_values(self, resources: dict[str, Any], expected: CgroupValues) -> None:
        assert cgroup_values(resources) == expected

    def test_bad_quantity(self) -> None:
        with pytest.raises(QuantityError, match=r"resources.limits\[cpu\] 'lots': not a quantity"):
            cgroup_values({"limits": {"cpu": "lots"}})


class TestFeasibility:
    SPEC: dict[str, Any] = {  # noqa: RUF012
        "containers": [
            {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            {"name": "b", "resources": {"requests": {"cpu": "0.0005", "memory": "1"}}},
        ],
        "initContainers": [
            {"name": "big-init", "resources": {"requests": {"cpu": "3", "memory": "1Mi"}}},
            {
                "name": "side",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "250m"}},
            },
        ],
        "overhead": {"cpu": "100m"},
    }

    def test_pod_requests(self) -> None:
        """PodRequests: containers and sidecars together, or an init container with the
        sidecars before it when larger; exact sums rounded up once; plus overhead."""
        assert pod_requests(self.SPEC, "cpu") == 3000 + 100  # big-init alone wins
        assert pod_requests(self.SPEC, "memory") == 2**30 + 1
        spec = copy.deepcopy(self.SPEC)
        spec["initContainers"].reverse()  # the sidecar now runs beside big-init
        assert pod_requests(spec, "cpu") == 3250 + 100

    @pytest.mark.parametrize(
        ("allocatable", "expected"),
        [
            ({"cpu": "4", "memory": "8Gi"}, None),
            (
                {"cpu": "3", "memory": "8Gi"},
                "Node didn't have enough capacity: cpu, requested: 3100, capacity: 3000",
            ),
            (
                {"cpu": "1", "memory": "1Gi"},  # memory is named when both are short
                "Node didn't have enough capacity: memory, requested: 1073741825, "
                "capacity: 1073741824",
            ),
            ({}, None),
        ],
    )
    def test_infeasible(self, allocatable: dict[str, str], expected: str | None) -> None:
        assert infeasible(self.SPEC, allocatable) == expected

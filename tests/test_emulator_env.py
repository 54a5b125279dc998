"""podself.emulator.env: a container's environment as the kubelet builds it."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from podself.emulator.env import (
    ObjectStore,
    container_environment,
    expand_command,
    find_container,
    is_env_var_name,
)
from podself.errors import FieldPathError, ManifestError, ResourceFieldError
from tests.conftest import conformance_params

ALLOCATABLE = {"cpu": "4", "memory": "8Gi", "ephemeral-storage": "100Gi"}


def field(path: str) -> dict[str, Any]:
    """An env valueFrom.fieldRef."""
    return {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}


def resource(name: str, divisor: str | None = None, container: str | None = None) -> dict[str, Any]:
    """An env valueFrom.resourceFieldRef."""
    ref: dict[str, Any] = {"resource": name}
    if divisor is not None:
        ref["divisor"] = divisor
    if container is not None:
        ref["containerName"] = container
    return {"resourceFieldRef": ref}


def make_pod(env: list[dict[str, Any]], **container_extra: Any) -> dict[str, Any]:
    """A defaulted, scheduled pod whose first container has ``env``."""
    return {
        "metadata": {
            "name": "env-downward-demo",
            "namespace": "default",
            "uid": "0b7a2c4e-1111-2222-3333-444455556666",
            "labels": {"app": "myapp", "version": "1.0"},
            "annotations": {"team": "platform"},
        },
        "spec": {
            "nodeName": "minikube",
            "serviceAccountName": "default",
            "initContainers": [{"name": "init", "image": "busybox"}],
            "containers": [
                {
                    "name": "app",
                    "image": "busybox",
                    "env": env,
                    "resources": {
                        "limits": {"cpu": "200m", "memory": "256Mi"},
                        "requests": {"cpu": "100m", "memory": "128Mi"},
                    },
                    **container_extra,
                },
                {
                    "name": "main-app",
                    "image": "nginx",
                    "resources": {"limits": {"memory": "1Gi", "cpu": "1000m"}},
                },
            ],
        },
        "status": {
            "podIP": "10.244.0.7",
            "podIPs": [{"ip": "10.244.0.7"}, {"ip": "fd00::7"}],
            "hostIP": "192.168.49.2",
            "hostIPs": [{"ip": "192.168.49.2"}, {"ip": "fd00::2"}],
        },
    }


def env_of(
    env: list[dict[str, Any]], objects: ObjectStore | None = None, **extra: Any
) -> dict[str, str]:
    """The resolved environment of the pod's first container, as a dict."""
    pod = make_pod(env, **extra)
    return dict(
        container_environment(
            pod, pod["spec"]["containers"][0], objects or ObjectStore(), ALLOCATABLE
        )
    )


def store(*objs: dict[str, Any]) -> ObjectStore:
    """An ObjectStore holding ``objs``."""
    result = ObjectStore()
    for obj in objs:
        assert result.add(obj, "default")
    return result


def config_map(name: str, data: dict[str, str], **extra: Any) -> dict[str, Any]:
    """A ConfigMap object."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
        **extra,
    }


def secret(name: str, data: dict[str, bytes], **extra: Any) -> dict[str, Any]:
    """A Secret object with base64-encoded data."""
    encoded = {k: base64.b64encode(v).decode() for k, v in data.items()}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "data": encoded,
        **extra,
    }


class TestFieldRef:
    """valueFrom.fieldRef."""

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("metadata.name", "env-downward-demo"),
            ("metadata.namespace", "default"),
            ("metadata.uid", "0b7a2c4e-1111-2222-3333-444455556666"),
            ("metadata.labels['version']", "1.0"),
            ("metadata.labels['missing']", ""),
            ("metadata.annotations['team']", "platform"),
            ("spec.nodeName", "minikube"),
            ("spec.host", "minikube"),
            ("spec.serviceAccountName", "default"),
            ("status.podIP", "10.244.0.7"),
            ("status.podIPs", "10.244.0.7,fd00::7"),
            ("status.hostIP", "192.168.49.2"),
            ("status.hostIPs", "192.168.49.2,fd00::2"),
        ],
    )
    def test_values(self, path: str, expected: str) -> None:
        """Each field path resolves to the kubelet's string."""
        assert env_of([{"name": "X", "valueFrom": field(path)}]) == {"X": expected}

    def test_no_pod_ip(self) -> None:
        """Without pod IPs, podIP and podIPs are set to the empty string."""
        pod = make_pod([{"name": "A", "valueFrom": field("status.podIP")}])
        pod["status"]["podIPs"] = []
        result = container_environment(pod, pod["spec"]["containers"][0], ObjectStore(), {})
        assert result == [("A", "")]

    def test_no_host_ip(self) -> None:
        """Without host IPs the kubelet cannot build the env."""
        pod = make_pod([{"name": "A", "valueFrom": field("status.hostIP")}])
        pod["status"]["hostIPs"] = []
        with pytest.raises(ManifestError, match="host IP unknown"):
            container_environment(pod, pod["spec"]["containers"][0], ObjectStore(), {})

    def test_file_key_ref_is_refused_as_not_emulated(self) -> None:
        """An env-file key (1.34+) is refused with what it names, never guessed or left empty."""
        ref = {"volumeName": "config", "path": "app.env", "key": "DB_HOST"}
        with pytest.raises(ManifestError) as info:
            env_of([{"name": "DB", "valueFrom": {"fileKeyRef": ref}}])
        assert str(info.value) == (
            "env DB: valueFrom.fileKeyRef (key 'DB_HOST' of the env file 'app.env' in volume "
            "'config') is not emulated by podself run; set the variable with value: for local runs"
        )

    def test_bad_version(self) -> None:
        """Only v1 field selectors convert."""
        env = [{"name": "X", "valueFrom": {"fieldRef": {"apiVersion": "v2", "fieldPath": "x"}}}]
        with pytest.raises(FieldPathError, match="unsupported pod version: v2"):
            env_of(env)


class TestResourceFieldRef:
    """valueFrom.resourceFieldRef."""

    @pytest.mark.parametrize(
        ("ref", "expected"),
        [
            (resource("limits.memory", "1Mi"), "256"),
            (resource("limits.cpu", "1m"), "200"),
            (resource("limits.cpu"), "1"),
            (resource("requests.memory", "1Mi"), "128"),
            (resource("requests.cpu", "1m"), "100"),
            (resource("limits.ephemeral-storage", "1Gi"), "100"),
            (resource("requests.ephemeral-storage"), "0"),
            (resource("limits.cpu", "1m", "main-app"), "1000"),
            (resource("limits.memory", "1Mi", "main-app"), "1024"),
        ],
    )
    def test_values(self, ref: dict[str, Any], expected: str) -> None:
        """Limits, requests, divisors, allocatable fallback and other containers."""
        assert env_of([{"name": "R", "valueFrom": ref}]) == {"R": expected}

    def test_named_init_container_is_not_defaulted(self) -> None:
        """A named init container without limits reports 0 (the kubelet merges only
        regular containers with node allocatable)."""
        assert env_of([{"name": "R", "valueFrom": resource("limits.cpu", "1m", "init")}]) == {
            "R": "0"
        }

    def test_missing_container(self) -> None:
        """An unknown containerName fails with the kubelet's message."""
        with pytest.raises(ResourceFieldError, match="container nope not found"):
            env_of([{"name": "R", "valueFrom": resource("limits.cpu", None, "nope")}])

    @pytest.mark.parametrize(
        "case", conformance_params("resource_field_values.json", "cases"), ids=lambda c: c["name"]
    )
    def test_conformance(self, case: dict[str, Any]) -> None:
        """The env path gives each vector's value."""
        target = case.get("containerName") or "app"
        pod: dict[str, Any] = {
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [
                    {"name": "app", "resources": case["container_resources"], "env": []},
                ],
                "initContainers": [],
            },
        }
        if target != "app":
            pod["spec"]["initContainers"].append(
                {"name": target, "resources": case["container_resources"]}
            )
        if case.get("pod_level_limits"):
            pod["spec"]["resources"] = {"limits": case["pod_level_limits"]}
        ref: dict[str, Any] = {"resource": case["resource"], "divisor": case["divisor"]}
        if target != "app":
            ref["containerName"] = target
        app = pod["spec"]["containers"][0]
        app["env"] = [{"name": "R", "valueFrom": {"resourceFieldRef": ref}}]
        allocatable = case.get("node_allocatable") or {}
        expected = case["expected"]
        if isinstance(expected, dict):
            with pytest.raises(ResourceFieldError) as info:
                container_environment(pod, app, ObjectStore(), allocatable)
            assert expected["error_contains"].lower() in str(info.value).lower()
            return
        result = container_environment(pod, app, ObjectStore(), allocatable)
        assert result == [("R", expected)]


class TestExpansionAndOrder:
    """Literal values, $(VAR) expansion and precedence."""

    def test_expansion_uses_earlier_variables(self) -> None:
        """$(VAR) sees variables defined before it, never after."""
        env = [
            {"name": "A", "value": "a"},
            {"name": "B", "value": "$(A)-$(C)-$$(A)"},
            {"name": "C", "value": "c"},
        ]
        assert env_of(env) == {"A": "a", "B": "a-$(C)-$(A)", "C": "c"}

    def test_expansion_sees_field_values(self) -> None:
        """A literal value can reference a fieldRef variable defined earlier."""
        env: list[dict[str, Any]] = [
            {"name": "POD_NAME", "valueFrom": field("metadata.name")},
            {"name": "GREETING", "value": "hello $(POD_NAME)"},
        ]
        assert env_of(env)["GREETING"] == "hello env-downward-demo"

    def test_redefinition_keeps_position(self) -> None:
        """A name defined twice keeps its first position and the last value."""
        pod = make_pod(
            [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}, {"name": "A", "value": "3"}]
        )
        result = container_environment(pod, pod["spec"]["containers"][0], ObjectStore(), {})
        assert result == [("A", "3"), ("B", "2")]

    def test_empty_value_without_source(self) -> None:
        """A variable without value or valueFrom is set to the empty string."""
        assert env_of([{"name": "EMPTY"}]) == {"EMPTY": ""}

    def test_expand_command(self) -> None:
        """Command words are expanded against the final environment."""
        assert expand_command(["echo", "$(A)", "$$(A)", None], {"A": "x"}) == [
            "echo",
            "x",
            "$(A)",
            "",
        ]


class TestConfigMapsAndSecrets:
    """configMapKeyRef, secretKeyRef and envFrom."""

    def test_config_map_key(self) -> None:
        """A ConfigMap key becomes the value."""
        objects = store(config_map("cfg", {"mode": "fast"}))
        env = [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "mode"}}}]
        assert env_of(env, objects) == {"MODE": "fast"}

    def test_missing_key_message(self) -> None:
        """A missing key fails with the kubelet's message."""
        objects = store(config_map("cfg", {"mode": "fast"}))
        env = [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}}]
        with pytest.raises(
            ManifestError, match=r"^couldn't find key level in ConfigMap default/cfg$"
        ):
            env_of(env, objects)

    def test_missing_config_map_message(self) -> None:
        """A missing ConfigMap fails with the API's NotFound text."""
        env = [{"name": "L", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k"}}}]
        with pytest.raises(ManifestError, match=r'^configmap "cfg" not found$'):
            env_of(env)

    def test_optional_miss_leaves_variable_unset(self) -> None:
        """An optional miss skips the variable, keeping a value from envFrom."""
        objects = store(config_map("cfg", {"L": "from-envfrom"}))
        env = [
            {
                "name": "L",
                "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "x", "optional": True}},
            },
            {
                "name": "M",
                "valueFrom": {"configMapKeyRef": {"name": "no", "key": "x", "optional": True}},
            },
        ]
        result = env_of(env, objects, envFrom=[{"configMapRef": {"name": "cfg"}}])
        assert result == {"L": "from-envfrom"}

    def test_secret_key(self) -> None:
        """Secret data is base64-decoded; stringData wins over data."""
        objects = store(
            secret("creds", {"user": b"admin", "pass": b"old"}, stringData={"pass": "new"})
        )
        env = [
            {"name": "U", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
            {"name": "P", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pass"}}},
        ]
        assert env_of(env, objects) == {"U": "admin", "P": "new"}

    def test_secret_errors(self) -> None:
        """Missing secrets and keys give the kubelet's messages."""
        env = [{"name": "U", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}}]
        with pytest.raises(ManifestError, match=r'^secret "creds" not found$'):
            env_of(env)
        with pytest.raises(ManifestError, match="couldn't find key user in Secret default/creds"):
            env_of(env, store(secret("creds", {})))

    def test_env_from_prefix_and_precedence(self) -> None:
        """envFrom comes first (with its prefix); env overrides it; bad names are skipped."""
        objects = store(
            config_map("cfg", {"a": "1", "b": "2", "bad=key": "x"}),
            secret("sec", {"token": b"t"}),
        )
        warnings: list[str] = []
        pod = make_pod(
            [{"name": "CFG_b", "value": "override"}],
            envFrom=[
                {"configMapRef": {"name": "cfg"}, "prefix": "CFG_"},
                {"secretRef": {"name": "sec"}},
            ],
        )
        result = container_environment(
            pod, pod["spec"]["containers"][0], objects, ALLOCATABLE, warnings=warnings
        )
        assert result == [("CFG_a", "1"), ("CFG_b", "override"), ("token", "t")]
        assert warnings == [
            "Keys [CFG_bad=key] from the EnvFrom configMap default/cfg were skipped since they "
            "are considered invalid environment variable names."
        ]

    def test_env_from_missing(self) -> None:
        """A missing envFrom source fails unless optional."""
        with pytest.raises(ManifestError, match='configmap "cfg" not found'):
            env_of([], envFrom=[{"configMapRef": {"name": "cfg"}}])
        assert env_of([], envFrom=[{"secretRef": {"name": "s", "optional": True}}]) == {}

    def test_binary_data_is_not_in_env(self) -> None:
        """binaryData keys are not readable through env (the kubelet reads .data only)."""
        objects = store(config_map("cfg", {}, binaryData={"bin": base64.b64encode(b"\0").decode()}))
        env = [{"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "bin"}}}]
        with pytest.raises(ManifestError, match="couldn't find key bin"):
            env_of(env, objects)

    def test_non_utf8_secret_reaches_execve_unchanged(self) -> None:
        """Secret bytes that are not UTF-8 are carried as surrogate escapes."""
        objects = store(secret("s", {"raw": b"\xff\xfe"}))
        env = [{"name": "RAW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "raw"}}}]
        assert os.fsencode(env_of(env, objects)["RAW"]) == b"\xff\xfe"


class TestObjectStore:
    """Collecting ConfigMaps and Secrets."""

    def test_namespaces(self) -> None:
        """Objects are keyed by their namespace, defaulting to the pod's."""
        objects = ObjectStore()
        objects.add({"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "a"}}, "dev")
        objects.add(
            {"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "prod"}, "data": {"k": 1}},
            "dev",
        )
        assert objects.config_map("dev", "a") == {}
        assert objects.config_map("prod", "a") == {"k": "1"}
        assert objects.config_map("default", "a") is None

    def test_ignores_other_objects(self) -> None:
        """Non-ConfigMap/Secret objects, other API groups and unnamed objects are skipped."""
        objects = ObjectStore()
        assert not objects.add({"kind": "Pod", "metadata": {"name": "p"}}, "default")
        assert not objects.add({"kind": "ConfigMap", "apiVersion": "x/v1"}, "default")
        assert not objects.add({"kind": "Secret", "metadata": {}}, "default")

    def test_bad_base64(self) -> None:
        """Secret data that is not base64 is an error naming the key."""
        with pytest.raises(ManifestError, match=r"Secret s data\.k: illegal base64 data"):
            ObjectStore().add(
                {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "not base64!"}},
                "default",
            )


class TestHelpers:
    """Small rules."""

    @pytest.mark.parametrize(
        ("name", "valid"),
        [
            ("PATH", True),
            ("my.var-1", True),
            ("a b", True),
            ("", False),
            ("a=b", False),
            ("é", False),
        ],
    )
    def test_env_var_name(self, name: str, valid: bool) -> None:
        """IsEnvVarName: printable ASCII except '='."""
        assert is_env_var_name(name) is valid

    def test_find_container(self) -> None:
        """Containers are searched before init containers."""
        pod = make_pod([])
        found = find_container(pod, "init")
        assert found is not None
        assert found["image"] == "busybox"
        assert find_container(pod, "nope") is None

"""Tests for podself.validation.pod: whole pod specs (volumes, containers, mounts, env)."""

from __future__ import annotations

from typing import Any

import pytest

from podself.validation import (
    INVALID,
    NOT_FOUND,
    TYPE_INVALID,
    validate_pod_spec,
    validate_pod_spec_downward,
)
from tests.validation_helpers import (
    HOSTILE_NAMES,
    downward_volume,
    field_env,
    field_item,
    rendered,
    resource_env,
)


def pod_spec() -> dict[str, Any]:
    """A typical spec: six env references and one downwardAPI volume of four items."""
    return {
        "containers": [
            {
                "name": "app",
                "env": [
                    field_env("metadata.name", "POD_NAME"),
                    field_env("metadata.namespace", "POD_NAMESPACE"),
                    field_env("status.podIP", "POD_IP"),
                    field_env("spec.nodeName", "NODE_NAME"),
                    resource_env("limits.cpu", "1m", "CPU_LIMIT"),
                    resource_env("limits.memory", "1Mi", "MEMORY_LIMIT"),
                ],
            }
        ],
        "volumes": [
            downward_volume(
                field_item("labels", "metadata.labels"),
                field_item("annotations", "metadata.annotations"),
                field_item("uid", "metadata.uid"),
                {
                    "path": "mem",
                    "resourceFieldRef": {"containerName": "app", "resource": "limits.memory"},
                },
            )
        ],
    }


class TestValidatePodSpec:
    """validate_pod_spec_downward walks volumes and every kind of container."""

    def test_typical_spec_is_valid(self) -> None:
        """The typical spec passes."""
        assert validate_pod_spec_downward(pod_spec()) == []

    def test_paths_and_order(self) -> None:
        """Volumes come first, then containers, initContainers and ephemeralContainers."""
        spec = pod_spec()
        spec["initContainers"] = [{"name": "i0"}, {"name": "i1", "env": [{"name": ""}]}]
        spec["ephemeralContainers"] = [{"name": "d", "env": [field_env("metadata.labels")]}]
        spec["containers"].append({"name": "c1", "env": [field_env("status.phase")]})
        spec["volumes"].append({"name": "bad", "downwardAPI": {"items": [{"path": "x"}]}})
        errors = validate_pod_spec_downward(spec, "spec.template.spec")
        assert [e.field for e in errors] == [
            "spec.template.spec.volumes[1].downwardAPI",
            "spec.template.spec.containers[1].env[0].valueFrom.fieldRef.fieldPath",
            "spec.template.spec.initContainers[1].env[0].name",
            "spec.template.spec.ephemeralContainers[0].env[0].valueFrom.fieldRef.fieldPath",
        ]

    def test_duplicate_volume_names(self) -> None:
        """A repeated volume name is a Duplicate error carrying the name."""
        spec = {"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}]}
        assert rendered(validate_pod_spec_downward(spec)) == [
            'spec.volumes[1].name: Duplicate value: "a"'
        ]

    def test_invalid_volume_does_not_claim_its_name(self) -> None:
        """A volume with errors does not take its name, so a later namesake is not a duplicate."""
        spec = {"volumes": [{"name": "a"}, {"name": "a", "emptyDir": {}}]}
        assert [e.field for e in validate_pod_spec_downward(spec)] == ["spec.volumes[0]"]

    def test_container_name_is_not_cross_checked(self) -> None:
        """Like the API server, a resourceFieldRef naming no existing container passes."""
        spec = pod_spec()
        spec["volumes"][0]["downwardAPI"]["items"][3]["resourceFieldRef"]["containerName"] = "nope"
        spec["containers"][0]["env"].append(
            {
                "name": "OTHER",
                "valueFrom": {
                    "resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}
                },
            }
        )
        assert validate_pod_spec_downward(spec) == []

    def test_null_list_elements_decode_as_empty_objects(self) -> None:
        """A null list element is the zero object, as the API server decodes it (no type error)."""
        spec: dict[str, Any] = {
            "volumes": [
                None,
                {"name": "d", "downwardAPI": {"items": [None]}},
                {"name": "p", "projected": {"sources": [None, {"downwardAPI": {"items": [None]}}]}},
            ],
            "containers": [None, {"name": "a", "env": [None]}],
        }
        assert rendered(validate_pod_spec_downward(spec)) == [
            "spec.volumes[0]: Required value: must specify a volume type",
            "spec.volumes[0].name: Required value",
            "spec.volumes[1].downwardAPI.path: Required value",
            "spec.volumes[1].downwardAPI: Required value: one of fieldRef and resourceFieldRef "
            "is required",
            "spec.volumes[2].projected.sources[1].downwardAPI.path: Required value",
            "spec.volumes[2].projected.sources[1].downwardAPI: Required value: one of fieldRef "
            "and resourceFieldRef is required",
            "spec.containers[1].env[0].name: Required value",
        ]

    def test_wrong_types(self) -> None:
        """Non-object specs and non-list members are reported, not raised."""
        assert [e.field for e in validate_pod_spec_downward([], "s")] == ["s"]  # type: ignore[arg-type]
        errors = validate_pod_spec_downward({"containers": {}, "volumes": "x"})
        assert [e.field for e in errors] == ["spec.volumes", "spec.containers"]


def container(name: str = "app", **extra: Any) -> dict[str, Any]:
    """A container with an image."""
    return {"name": name, "image": "busybox", **extra}


def mount(name: str, path: str, **extra: Any) -> dict[str, Any]:
    """A volume mount."""
    return {"name": name, "mountPath": path, **extra}


class TestValidatePodSpecStructure:
    """validate_pod_spec: container names, images and volume mounts besides the Downward API."""

    def test_typical_spec_is_valid(self) -> None:
        """The typical spec with an image and a mount passes."""
        spec = pod_spec()
        spec["containers"][0]["image"] = "busybox"
        spec["containers"][0]["volumeMounts"] = [mount("podinfo", "/etc/podinfo")]
        assert validate_pod_spec(spec) == []

    @pytest.mark.parametrize("name", [*HOSTILE_NAMES, "../../..", "a.b"], ids=repr)
    @pytest.mark.parametrize("key", ["containers", "initContainers"])
    def test_hostile_container_names(self, key: str, name: str) -> None:
        """Container names are DNS-1123 labels in every list."""
        spec: dict[str, Any] = {"containers": [container()]}
        spec.setdefault(key, []).append(container(name))
        errors = validate_pod_spec(spec)
        index = len(spec[key]) - 1
        assert errors
        assert {(e.type, e.field) for e in errors} == {(INVALID, f"spec.{key}[{index}].name")}

    @pytest.mark.parametrize("name", [*HOSTILE_NAMES, "../../.."], ids=repr)
    @pytest.mark.parametrize("kind", ["emptyDir", "configMap", "secret"])
    def test_hostile_volume_names(self, kind: str, name: str) -> None:
        """Volume names are DNS-1123 labels whatever the kind."""
        source = {"emptyDir": {}, "configMap": {"name": "c"}, "secret": {"secretName": "s"}}[kind]
        spec = {"containers": [container()], "volumes": [{"name": name, kind: source}]}
        errors = validate_pod_spec(spec)
        assert errors
        assert {e.field for e in errors} == {"spec.volumes[0].name"}

    @pytest.mark.parametrize(
        ("value", "kind"),
        [
            (float("inf"), "integer"),
            (1.5, "integer"),
            ("30", "integer"),
            (True, "integer"),
            (2**63, "int64"),
            (-(2**63) - 1, "int64"),
        ],
        ids=repr,
    )
    def test_termination_grace_period_is_an_int64(self, value: object, kind: str) -> None:
        """An infinite or huge grace period (it made --timeout wait for ever) is refused, as
        the API server's decoder refuses anything but an int64."""
        spec = {"containers": [container()], "terminationGracePeriodSeconds": value}
        assert [(e.type, e.field, e.detail) for e in validate_pod_spec(spec)] == [
            (TYPE_INVALID, "spec.terminationGracePeriodSeconds", f"must be of type {kind}")
        ]
        spec["terminationGracePeriodSeconds"] = 2**63 - 1
        assert validate_pod_spec(spec) == []

    @pytest.mark.parametrize("name", ["a\n6.6.6.6 evil", "UPPER", "a.b", "x" * 64, "-a"])
    @pytest.mark.parametrize("key", ["hostname", "subdomain"])
    def test_hostname_and_subdomain_are_dns_labels(self, key: str, name: str) -> None:
        """ValidatePodSpec: a hostname or subdomain that is not a DNS-1123 label is invalid
        (a newline in one added a line to the container's /etc/hosts)."""
        errors = validate_pod_spec({"containers": [container()], key: name})
        assert errors
        assert {(e.type, e.field, e.bad_value) for e in errors} == {(INVALID, f"spec.{key}", name)}
        assert validate_pod_spec({"containers": [container()], key: "web-0"}) == []

    def test_container_requirements(self) -> None:
        """containers is required; each needs a name and an image; names are unique across
        containers, initContainers and ephemeralContainers."""
        assert rendered(validate_pod_spec({})) == ["spec.containers: Required value"]
        assert rendered(validate_pod_spec({"containers": []})) == [
            "spec.containers: Required value"
        ]
        spec = {
            "containers": [{"image": "x"}, {"name": "a"}, container("a")],
            "initContainers": [container("a"), container("i"), container("i")],
            "ephemeralContainers": [container("i"), container("e")],
        }
        assert rendered(validate_pod_spec(spec, template=True)) == [
            "spec.containers[0].name: Required value",
            "spec.containers[1].image: Required value",
            'spec.containers[2].name: Duplicate value: "a"',
            'spec.initContainers[0].name: Duplicate value: "a"',
            'spec.initContainers[2].name: Duplicate value: "i"',
            'spec.ephemeralContainers[0].name: Duplicate value: "i"',
            "spec.ephemeralContainers: Forbidden: ephemeral containers not allowed in pod template",
        ]

    def test_ephemeral_containers_on_create(self) -> None:
        """A Pod cannot be created with ephemeral containers, nor may they use subPath."""
        spec = {
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [container()],
            "ephemeralContainers": [container("e", volumeMounts=[mount("v", "/v", subPath="s")])],
        }
        assert rendered(validate_pod_spec(spec)) == [
            "spec.ephemeralContainers[0].volumeMounts[0].subPath: Forbidden: cannot be set for an "
            "Ephemeral Container",
            "spec.ephemeralContainers: Forbidden: cannot be set on create",
        ]
        assert validate_pod_spec({**spec, "ephemeralContainers": []}) == []

    def test_untrimmed_image_only_for_pods(self) -> None:
        """A Pod's image may not start or end with white space; a template's may."""
        spec = {"containers": [container(image=" busybox\u3000")]}
        assert rendered(validate_pod_spec(spec)) == [
            'spec.containers[0].image: Invalid value: " busybox\\u3000": must not have leading or '
            "trailing whitespace"
        ]
        assert validate_pod_spec(spec, template=True) == []

    def test_volume_mounts(self) -> None:
        """ValidateVolumeMounts: name and mountPath required, the name must be a valid volume,
        mountPaths unique; subPath errors name the list, not the mount, as Kubernetes does."""
        mounts = [
            mount("", ""),
            mount("nope", "/a"),
            mount("bad", "/b"),
            mount("v", "/a"),
            mount("v", "/c", subPath="/abs"),
            mount("v", "/d", subPath="../../x", subPathExpr="$(X)/.."),
            mount("v", "../../relative"),
        ]
        spec = {
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "bad"}],
            "containers": [container(volumeMounts=mounts)],
        }
        where = "spec.containers[0].volumeMounts"
        assert rendered(validate_pod_spec(spec))[1:] == [
            f"{where}[0].name: Required value",
            f'{where}[0].name: Not found: ""',
            f"{where}[0].mountPath: Required value",
            f'{where}[1].name: Not found: "nope"',
            f'{where}[2].name: Not found: "bad"',
            f'{where}[3].mountPath: Invalid value: "/a": must be unique',
            f'{where}.subPath: Invalid value: "/abs": must be a relative path',
            f"{where}.subPath: Invalid value: \"../../x\": must not contain '..'",
            f'{where}[5].subPathExpr: Invalid value: "$(X)/..": subPathExpr and subPath are '
            "mutually exclusive",
            f"{where}.subPathExpr: Invalid value: \"$(X)/..\": must not contain '..'",
        ]

    def test_mount_propagation_and_recursive_read_only(self) -> None:
        """The propagation modes and the recursiveReadOnly rules."""
        mounts = [
            mount("v", "/a", mountPropagation="Shared"),
            mount("v", "/b", mountPropagation="Bidirectional"),
            mount("v", "/c", recursiveReadOnly="Enabled", mountPropagation="HostToContainer"),
            mount("v", "/d", recursiveReadOnly="Sometimes"),
            mount("v", "/e", recursiveReadOnly="IfPossible", readOnly=True),
        ]
        spec = {
            "volumes": [{"name": "v", "emptyDir": {}}],
            "containers": [container(volumeMounts=mounts)],
        }
        where = "spec.containers[0].volumeMounts"
        assert rendered(validate_pod_spec(spec)) == [
            f'{where}.mountPropagation: Unsupported value: "Shared": supported values: '
            '"Bidirectional", "HostToContainer", "None"',
            f"{where}.mountPropagation: Forbidden: Bidirectional mount propagation is available "
            "only to privileged containers",
            f"{where}.recursiveReadOnly: Forbidden: may only be specified when readOnly is true",
            f"{where}.recursiveReadOnly: Forbidden: may only be specified when mountPropagation "
            "is None or not specified",
            f'{where}.recursiveReadOnly: Unsupported value: "Sometimes": supported values: '
            '"Disabled", "Enabled", "IfPossible"',
        ]
        privileged = container(
            volumeMounts=[mount("v", "/b", mountPropagation="Bidirectional")],
            securityContext={"privileged": True},
        )
        assert validate_pod_spec({**spec, "containers": [privileged]}) == []

    def test_image_volume_has_no_subpath(self) -> None:
        """An image volume cannot be mounted with a subPath."""
        spec = {
            "volumes": [{"name": "i", "image": {"reference": "r"}}],
            "containers": [container(volumeMounts=[mount("i", "/i", subPath="x")])],
        }
        assert rendered(validate_pod_spec(spec)) == [
            'spec.containers[0].volumeMounts[0].subPath: Invalid value: "x": not allowed in image '
            "volume sources"
        ]

    def test_wrong_types(self) -> None:
        """Mounts and names of the wrong type are type errors, never exceptions."""
        spec = {
            "containers": [
                {"name": 1, "image": "x", "volumeMounts": "x"},
                container(volumeMounts=[1, {"name": "v", "mountPath": 2, "subPath": []}]),
            ]
        }
        assert [(e.type, e.field) for e in validate_pod_spec(spec)] == [
            (TYPE_INVALID, "spec.containers[0].name"),
            (TYPE_INVALID, "spec.containers[0].volumeMounts"),
            (TYPE_INVALID, "spec.containers[1].volumeMounts[0]"),
            (NOT_FOUND, "spec.containers[1].volumeMounts[1].name"),
            (TYPE_INVALID, "spec.containers[1].volumeMounts[1].mountPath"),
            (TYPE_INVALID, "spec.containers[1].volumeMounts[1].subPath"),
        ]

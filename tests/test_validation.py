"""Tests for podself.validation beyond the conformance vectors: combinations and edge cases."""

from __future__ import annotations

import dataclasses
from typing import Any, Final

import pytest

from podself.errors import FieldPathError, ManifestError, QuantityError
from podself.quantity import ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, Quantity
from podself.validation import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    TYPE_INVALID,
    UNKNOWN_FIELD,
    FieldError,
    api_quantity_string,
    convert_downward_api_field_label,
    decode_error,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    known_fields,
    kubernetes_target,
    name_is_dns_label,
    name_is_dns_subdomain,
    parse_kubernetes_version,
    path_segment_errors,
    validate_annotations,
    validate_config_object,
    validate_env,
    validate_labels,
    validate_metadata_maps,
    validate_object_meta,
    validate_pod_spec,
    validate_pod_spec_downward,
    validate_volume,
)

ENV_SUPPORTED = (
    'supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
    '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", '
    '"status.podIPs"'
)
VOLUME_SUPPORTED = (
    'supported values: "metadata.annotations", "metadata.labels", "metadata.name", '
    '"metadata.namespace", "metadata.uid"'
)
MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
MEMORY_DIVISOR_MSG = (
    "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
    "are supported with the memory resource"
)
DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
CPU_DIVISOR_MSG = "only divisor's values 1m and 1 are supported with the cpu resource"
NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def field_env(path: str, name: str = "X", **extra: Any) -> dict[str, Any]:
    """One env var reading ``path`` through fieldRef."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path, **extra}}}


def resource_env(resource: str, divisor: Any = None, name: str = "X") -> dict[str, Any]:
    """One env var reading ``resource`` through resourceFieldRef."""
    ref: dict[str, Any] = {"resource": resource}
    if divisor is not None:
        ref["divisor"] = divisor
    return {"name": name, "valueFrom": {"resourceFieldRef": ref}}


def downward_volume(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A downwardAPI volume named ``podinfo`` holding ``items``."""
    return {"name": "podinfo", "downwardAPI": {"items": list(items), **extra}}


def field_item(path: str, field_path: str, **extra: Any) -> dict[str, Any]:
    """A downwardAPI item writing ``field_path`` to ``path``."""
    return {"path": path, "fieldRef": {"fieldPath": field_path}, **extra}


def rendered(errors: list[FieldError]) -> list[str]:
    """The errors as Kubernetes prints them."""
    return [str(e) for e in errors]


class TestFieldError:
    """FieldError renders exactly like field.Error.Error()."""

    def test_required_without_detail(self) -> None:
        """A Required error shows no value and no detail."""
        assert str(FieldError(REQUIRED, "spec.x")) == "spec.x: Required value"

    def test_required_with_detail(self) -> None:
        """A Required error appends its detail."""
        err = FieldError(REQUIRED, "v", None, "one of fieldRef and resourceFieldRef is required")
        assert str(err) == "v: Required value: one of fieldRef and resourceFieldRef is required"

    def test_forbidden(self) -> None:
        """A Forbidden error shows its detail but never a value."""
        err = FieldError(FORBIDDEN, "p.sources[1]", "ignored", "may not")
        assert str(err) == "p.sources[1]: Forbidden: may not"

    def test_invalid_int_prints_decimal(self) -> None:
        """An int bad value prints in decimal, as Go's %v of an int32."""
        err = FieldError(INVALID, "v.mode", 512, MODE_MSG)
        assert str(err) == f"v.mode: Invalid value: 512: {MODE_MSG}"

    def test_not_supported_quotes_string(self) -> None:
        """A string bad value is %q-quoted."""
        err = FieldError(NOT_SUPPORTED, "f", 'a"b', 'supported values: "x"')
        assert str(err) == 'f: Unsupported value: "a\\"b": supported values: "x"'

    def test_duplicate(self) -> None:
        """A Duplicate error shows the value and no detail."""
        assert str(FieldError(DUPLICATE, "spec.volumes[1].name", "abc")) == (
            'spec.volumes[1].name: Duplicate value: "abc"'
        )

    def test_type_invalid_prints_as_invalid_value(self) -> None:
        """FieldValueTypeInvalid renders like Go's TypeInvalid: "Invalid value"."""
        err = FieldError(TYPE_INVALID, "f.name", 5, "must be of type string")
        assert str(err) == "f.name: Invalid value: 5: must be of type string"

    @pytest.mark.parametrize(
        ("value", "text"),
        [
            (True, "true"),
            (False, "false"),
            (1.5, "1.5"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (None, "null"),
            ({"b": 1, "a": "<&>"}, '{"a":"\\u003c\\u0026\\u003e","b":1}'),
            (["x", 1], '["x",1]'),
            ("tab\there", '"tab\\there"'),
            ("\x00\x7f", '"\\x00\\x7f"'),
            ("\u00ad", '"\\u00ad"'),
            ("한글", '"한글"'),
        ],
    )
    def test_bad_value_rendering(self, value: object, text: str) -> None:
        """Bad values render as Go prints them: %v for scalars, %q for strings, JSON otherwise."""
        assert FieldError(INVALID, "f", value).body == f"Invalid value: {text}"

    def test_unknown_type(self) -> None:
        """An unknown error type renders as apimachinery's ErrorType.String() does."""
        assert FieldError("Bogus", "f", "v").body == '<unknown error "Bogus">: "v"'

    def test_frozen_and_comparable(self) -> None:
        """FieldError is immutable, equal by value and hashable."""
        err = FieldError(REQUIRED, "a")
        with pytest.raises(dataclasses.FrozenInstanceError):
            err.field = "b"  # type: ignore[misc]
        assert err == FieldError(REQUIRED, "a", None, "")
        assert len({err, FieldError(REQUIRED, "a")}) == 1


class TestConvertDownwardAPIFieldLabel:
    """convert_downward_api_field_label mirrors pods.ConvertDownwardAPIFieldLabel."""

    def test_legacy_spec_host(self) -> None:
        """spec.host is converted to spec.nodeName; the value passes through."""
        assert convert_downward_api_field_label("v1", "spec.host", "n1") == ("spec.nodeName", "n1")

    @pytest.mark.parametrize(
        "label",
        ["metadata.labels['a/b']", "metadata.annotations['X']", "status.phase", "spec.nodeName"],
    )
    def test_accepted(self, label: str) -> None:
        """Known labels and label/annotation subscripts come back unchanged."""
        assert convert_downward_api_field_label("v1", label, "") == (label, "")

    @pytest.mark.parametrize(
        ("version", "label", "message"),
        [
            ("v2", "metadata.name", "unsupported pod version: v2"),
            ("", "metadata.name", "unsupported pod version: "),
            (
                "v1",
                "metadata.name['x']",
                "field label does not support subscript: metadata.name['x']",
            ),
            ("v1", "metadata.whoops", "field label not supported: metadata.whoops"),
            ("v1", "metadata.labels[x]", "field label not supported: metadata.labels[x]"),
        ],
    )
    def test_rejected(self, version: str, label: str, message: str) -> None:
        """Refused labels raise FieldPathError (a ValueError) with the Go message."""
        with pytest.raises(FieldPathError) as info:
            convert_downward_api_field_label(version, label, "")
        assert str(info.value) == message
        assert isinstance(info.value, ValueError)


class TestValidateEnv:
    """validate_env reproduces ValidateEnv for one container's env list."""

    def test_several_errors_keep_their_indexes(self) -> None:
        """Errors from several entries are reported in order, each at its own index."""
        env = [
            {"name": "OK", "value": "x"},
            {"name": ""},
            field_env("status.phase"),
            {"name": "Y", "valueFrom": {}},
            field_env("metadata.labels['Bad Key']"),
        ]
        assert rendered(validate_env(env, "spec.containers[2].env")) == [
            "spec.containers[2].env[1].name: Required value",
            "spec.containers[2].env[2].valueFrom.fieldRef.fieldPath: Unsupported value: "
            f'"status.phase": {ENV_SUPPORTED}',
            'spec.containers[2].env[3].valueFrom: Invalid value: "": must specify one of: '
            "`fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or `fileKeyRef`",
            f'spec.containers[2].env[4].valueFrom.fieldRef: Invalid value: "Bad Key": '
            f"{NAME_PART_MSG}",
        ]

    def test_empty_and_missing_env(self) -> None:
        """An absent or empty env list has nothing to report."""
        assert validate_env([], "e") == []
        assert validate_env(None, "e") == []  # type: ignore[arg-type]

    def test_missing_api_version_is_defaulted(self) -> None:
        """A v1 request's empty apiVersion is defaulted to v1; bare validation requires it."""
        env = [field_env("metadata.name")]
        assert validate_env(env, "e") == []
        assert validate_env(env, "e", apply_defaults=False) == [
            FieldError(REQUIRED, "e[0].valueFrom.fieldRef.apiVersion")
        ]

    def test_spec_host_is_accepted_in_env(self) -> None:
        """The legacy spec.host converts to spec.nodeName, which env allows."""
        assert validate_env([field_env("spec.host", apiVersion="v1")], "e") == []

    def test_annotation_key_is_lowercased(self) -> None:
        """Annotation subscripts are checked lowercased, and the bad value is the lowercased key."""
        errors = validate_env([field_env("metadata.annotations['Bad~KEY']")], "e")
        assert [(e.type, e.field, e.bad_value) for e in errors] == [
            (INVALID, "e[0].valueFrom.fieldRef", "bad~key")
        ]

    def test_annotation_lowercasing_is_per_rune(self) -> None:
        """Lowercasing is Go's rune-by-rune mapping: no final sigma, dotted I becomes i."""
        errors = validate_env([field_env("metadata.annotations['ΑΣ']")], "e")
        assert {e.bad_value for e in errors} == {"ασ"}
        errors = validate_env([field_env("metadata.annotations['\u0130~']")], "e")
        assert {e.bad_value for e in errors} == {"i~"}

    def test_uppercase_annotation_prefix_is_accepted(self) -> None:
        """An annotation key with an upper-case prefix passes once lowercased."""
        assert validate_env([field_env("metadata.annotations['Example.COM/Key']")], "e") == []

    def test_label_key_with_two_slashes_gives_one_error(self) -> None:
        """A label key with two slashes is one error from the label-key rule."""
        errors = validate_env([field_env("metadata.labels['a/b/c']")], "e")
        assert len(errors) == 1
        assert errors[0].detail.startswith("a valid label key must consist of")
        assert errors[0].bad_value == "a/b/c"

    def test_label_key_with_bad_prefix_and_name(self) -> None:
        """A bad prefix and a bad name part are reported separately, prefix first."""
        errors = validate_env([field_env("metadata.labels['-x-/-y-']")], "e")
        assert [e.detail.split(" ")[0:2] for e in errors] == [["prefix", "part"], ["name", "part"]]

    def test_whole_maps_are_volume_only(self) -> None:
        """metadata.labels without a subscript is NotSupported in env."""
        assert validate_env([field_env("metadata.labels")], "e") == [
            FieldError(
                NOT_SUPPORTED, "e[0].valueFrom.fieldRef.fieldPath", "metadata.labels", ENV_SUPPORTED
            )
        ]

    def test_relaxed_names_by_default(self) -> None:
        """Since Kubernetes 1.34 any printable ASCII but '=' is a valid name."""
        env = [{"name": n, "value": "v"} for n in ("1ABC", "a b", "$X", "..", "a:b")]
        assert validate_env(env, "e") == []

    @pytest.mark.parametrize("name", ["a=b", "tab\there", "é", "\x7f"])
    def test_relaxed_name_rejections(self, name: str) -> None:
        """'=' and anything outside printable ASCII is still refused."""
        assert validate_env([{"name": name}], "e") == [
            FieldError(
                INVALID,
                "e[0].name",
                name,
                "a valid environment variable name must consist only of printable ASCII "
                "characters other than '='",
            )
        ]

    def test_strict_names(self) -> None:
        """relaxed_names=False applies the older C-identifier-like rule and the '..' rules."""
        errors = validate_env(
            [{"name": "1ABC"}, {"name": ".."}, {"name": "..x"}, {"name": "a.b-c_D"}],
            "e",
            relaxed_names=False,
        )
        assert [(e.field, e.detail[:40]) for e in errors] == [
            ("e[0].name", "a valid environment variable name must c"),
            ("e[1].name", "must not be '..'"),
            ("e[2].name", "must not start with '..'"),
        ]

    def test_value_with_value_from(self) -> None:
        """A non-empty value next to valueFrom is refused; an empty one is not."""
        var = field_env("metadata.name")
        assert rendered(validate_env([{**var, "value": "x"}], "e")) == [
            'e[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty'
        ]
        assert validate_env([{**var, "value": ""}], "e") == []

    def test_key_selectors(self) -> None:
        """configMapKeyRef/secretKeyRef need a key; the name is checked as a DNS subdomain."""
        env = [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "a/b"}}},
            {"name": "C", "valueFrom": {"secretKeyRef": {"key": "k"}}},
        ]
        errors = validate_env(env, "e")
        assert [(e.type, e.field, e.bad_value) for e in errors] == [
            (REQUIRED, "e[0].valueFrom.configMapKeyRef.key", None),
            (INVALID, "e[1].valueFrom.secretKeyRef.key", "a/b"),
            (INVALID, "e[2].valueFrom.secretKeyRef.name", ""),
        ]
        assert errors[1].detail.startswith("a valid config key must consist of alphanumeric")
        assert errors[2].detail.startswith("a lowercase RFC 1123 subdomain must consist")

    def test_resource_field_ref_without_container_is_fine_in_env(self) -> None:
        """containerName is optional in env; it defaults to the container itself."""
        assert validate_env([resource_env("limits.memory", "1Mi")], "e") == []

    @pytest.mark.parametrize(
        ("resource", "divisor"),
        [
            ("limits.cpu", "1000m"),
            ("requests.cpu", "0.001"),
            ("limits.cpu", " 1m "),
            ("limits.cpu", 1),
            ("limits.memory", "1024Mi"),
            ("limits.memory", "1000"),
            ("limits.memory", 1000),
            ("requests.memory", "0.001k"),
            ("limits.ephemeral-storage", "1048576Ki"),
            ("limits.hugepages-2Mi", "1Mi"),
            ("requests.hugepages-1Gi", "1024Mi"),
            ("limits.cpu", "0"),
            ("limits.memory", "0Gi"),
        ],
    )
    def test_divisor_accepted(self, resource: str, divisor: object) -> None:
        """Divisors are compared by canonical String(), so equivalent spellings pass."""
        assert validate_env([resource_env(resource, divisor)], "e") == []

    @pytest.mark.parametrize(
        ("resource", "divisor", "message"),
        [
            ("limits.memory", "1024", MEMORY_DIVISOR_MSG),
            ("limits.memory", "1e3", MEMORY_DIVISOR_MSG),
            ("limits.memory", "1m", MEMORY_DIVISOR_MSG),
            ("limits.cpu", "1Ki", CPU_DIVISOR_MSG),
            ("limits.cpu", "1e0", CPU_DIVISOR_MSG),
            ("requests.cpu", "-1", CPU_DIVISOR_MSG),
            ("requests.cpu", "+1", CPU_DIVISOR_MSG),
        ],
    )
    def test_divisor_rejected(self, resource: str, divisor: str, message: str) -> None:
        """Other canonical forms are Invalid at .divisor with the resource as the bad value."""
        assert validate_env([resource_env(resource, divisor)], "e") == [
            FieldError(INVALID, "e[0].valueFrom.resourceFieldRef.divisor", resource, message)
        ]

    def test_hugepages_divisor_message(self) -> None:
        """A hugepages resource takes the memory divisors with its own message."""
        errors = validate_env([resource_env("limits.hugepages-2Mi", "2Mi")], "e")
        assert [e.detail for e in errors] == [
            MEMORY_DIVISOR_MSG.replace("memory resource", "hugepages resource")
        ]

    def test_unknown_resource_skips_divisor(self) -> None:
        """An unsupported resource gets NotSupported and no divisor error."""
        errors = validate_env([resource_env("limits.nvidia.com/gpu", "7")], "e")
        assert [e.type for e in errors] == [NOT_SUPPORTED]

    @pytest.mark.parametrize("divisor", [True, [1], {"a": 1}, "", "1.2.3", "1Qi"])
    def test_divisor_that_cannot_be_decoded(self, divisor: object) -> None:
        """Any divisor the API server could not decode is one FieldValueTypeInvalid error."""
        errors = validate_env([resource_env("limits.memory", divisor)], "e")
        assert [(e.type, e.bad_value) for e in errors] == [(TYPE_INVALID, divisor)]

    def test_unparsable_divisor(self) -> None:
        """A divisor that is not a quantity is reported at .divisor; other checks still run."""
        with pytest.raises(QuantityError) as info:
            Quantity.from_json("12Q")
        env = [resource_env("limits.cpu", "12Q"), field_env("status.phase")]
        errors = validate_env(env, "e")
        assert (errors[0].type, errors[0].field, errors[0].bad_value) == (
            TYPE_INVALID,
            "e[0].valueFrom.resourceFieldRef.divisor",
            "12Q",
        )
        # The detail is apimachinery's bare parse error, as the API server's decode error ends.
        assert errors[0].detail in (ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX)
        assert str(info.value).endswith(errors[0].detail)
        assert [e.field for e in errors[1:]] == ["e[1].valueFrom.fieldRef.fieldPath"]

    @pytest.mark.parametrize(
        ("env", "field", "kind"),
        [
            ([{"name": 5}], "e[0].name", "string"),
            ([{"name": "A", "value": 5}], "e[0].value", "string"),
            (["A=1"], "e[0]", "object"),
            ([{"name": "A", "valueFrom": "x"}], "e[0].valueFrom", "object"),
            ([{"name": "A", "valueFrom": {"fieldRef": []}}], "e[0].valueFrom.fieldRef", "object"),
            (
                [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": 1}}}],
                "e[0].valueFrom.fieldRef.fieldPath",
                "string",
            ),
            ({"name": "A"}, "e", "array"),
        ],
    )
    def test_wrong_json_types(self, env: Any, field: str, kind: str) -> None:
        """A value of the wrong JSON type is one FieldValueTypeInvalid error at its field."""
        assert [(e.type, e.field, e.detail) for e in validate_env(env, "e")] == [
            (TYPE_INVALID, field, f"must be of type {kind}")
        ]


class TestValidateVolume:
    """validate_volume reproduces ValidateVolumes for one downwardAPI or projected volume."""

    def test_item_errors_have_no_index(self) -> None:
        """Item errors sit at the downwardAPI path itself, whichever item caused them."""
        volume = downward_volume(
            field_item("ok", "metadata.name"),
            field_item("..data", "metadata.name", mode=0o1000),
            field_item("x", "status.podIP"),
        )
        assert rendered(validate_volume(volume, "spec.volumes[3]")) == [
            "spec.volumes[3].downwardAPI.path: Invalid value: \"..data\": must not start with '..'",
            f"spec.volumes[3].downwardAPI.mode: Invalid value: 512: {MODE_MSG}",
            'spec.volumes[3].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": '
            f"{VOLUME_SUPPORTED}",
        ]

    @pytest.mark.parametrize(
        ("path", "details"),
        [
            ("...", ["must not start with '..'"]),
            ("a/..", ["must not contain '..'"]),
            ("/..", ["must be a relative path", "must not contain '..'"]),
            ("./a", []),
            ("a/..b/c", []),
            ("a\\..\\b", []),
        ],
    )
    def test_item_paths(self, path: str, details: list[str]) -> None:
        """Item paths follow ValidateLocalNonReservedPath on a Linux API server."""
        errors = validate_volume(downward_volume(field_item(path, "metadata.name")), "v")
        assert [e.detail for e in errors] == details

    def test_modes(self) -> None:
        """Modes 0 and 0777 pass; 0o1000, -1 and non-integers do not."""
        good = downward_volume(
            field_item("a", "metadata.name", mode=0), field_item("b", "metadata.uid", mode=0o777)
        )
        assert validate_volume(good, "v") == []
        bad = downward_volume(
            field_item("a", "metadata.name", mode=True),
            field_item("b", "metadata.name", mode="0644"),
            field_item("c", "metadata.name", mode=2**40),
            defaultMode=-1,
        )
        assert [(e.type, e.field, e.bad_value) for e in validate_volume(bad, "v")] == [
            (INVALID, "v.downwardAPI.defaultMode", -1),
            (TYPE_INVALID, "v.downwardAPI.mode", True),
            (TYPE_INVALID, "v.downwardAPI.mode", "0644"),
            (TYPE_INVALID, "v.downwardAPI.mode", 2**40),
        ]

    def test_volume_resource_ref_needs_container_but_divisor_is_still_checked(self) -> None:
        """A missing containerName hides the resource check, not the divisor check."""
        volume = downward_volume(
            {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}}
        )
        assert [(e.type, e.field) for e in validate_volume(volume, "v")] == [
            (REQUIRED, "v.downwardAPI.resourceFieldRef.containerName"),
            (INVALID, "v.downwardAPI.resourceFieldRef.divisor"),
        ]

    def test_hugepages_in_volume(self) -> None:
        """hugepages-* resources with a memory divisor are valid in volumes."""
        volume = downward_volume(
            {
                "path": "hp",
                "resourceFieldRef": {
                    "containerName": "app",
                    "resource": "limits.hugepages-1Gi",
                    "divisor": "1Gi",
                },
            }
        )
        assert validate_volume(volume, "v") == []

    def test_subscripts_in_volume(self) -> None:
        """Volumes accept whole maps and subscripts; keys are checked like in env."""
        volume = downward_volume(
            field_item("labels", "metadata.labels"),
            field_item("app", "metadata.labels['app.kubernetes.io/name']"),
            field_item("bad", "metadata.labels['Www.k8s.io/test']"),
        )
        errors = validate_volume(volume, "v")
        assert [(e.field, e.bad_value) for e in errors] == [
            ("v.downwardAPI.fieldRef", "Www.k8s.io/test")
        ]

    def test_volume_name(self) -> None:
        """The volume name is required and must be a DNS-1123 label."""
        base: dict[str, Any] = {"downwardAPI": {}}
        assert rendered(validate_volume(base, "v")) == ["v.name: Required value"]
        assert [e.detail for e in validate_volume({**base, "name": "a.b"}, "v")] == [
            "must not contain dots"
        ]
        errors = validate_volume({**base, "name": "My_Vol"}, "v")
        assert [e.detail[:40] for e in errors] == ["a lowercase RFC 1123 label must consist "]
        long_name = "a" * 64
        assert [e.detail for e in validate_volume({**base, "name": long_name}, "v")] == [
            "must be no more than 63 characters"
        ]

    def test_volume_types(self) -> None:
        """One volume type exactly; a second one is Forbidden at Kubernetes' (misspelt) child."""
        assert rendered(validate_volume({"name": "v"}, "s.volumes[0]")) == [
            "s.volumes[0]: Required value: must specify a volume type"
        ]
        two = {"name": "v", "emptyDir": {}, "downwardAPI": {"items": []}}
        assert rendered(validate_volume(two, "s.volumes[0]")) == [
            "s.volumes[0].downwarAPI: Forbidden: may not specify more than 1 volume type"
        ]
        null_kind: dict[str, Any] = {"name": "v", "emptyDir": None, "downwardAPI": {}}
        assert validate_volume(null_kind, "s.volumes[0]") == []

    def test_other_volume_types_are_not_inspected(self) -> None:
        """Sources podself does not model (nfs, iscsi...) are not validated field by field."""
        assert validate_volume({"name": "c", "nfs": {"server": "", "path": "rel"}}, "v") == []

    def test_host_path(self) -> None:
        """validateHostPathVolumeSource: a path without '..' elements and a known type."""
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({"path": "/var/log"}, []),
            ({"path": "relative/is/fine", "type": "DirectoryOrCreate"}, []),
            ({"path": ""}, ["v.hostPath.path: Required value"]),
            (
                {"path": "/a/../../etc"},
                ["v.hostPath.path: Invalid value: \"/a/../../etc\": must not contain '..'"],
            ),
            ({"path": "/x", "type": "Socket"}, []),
            (
                {"path": "/x", "type": "Symlink"},
                [
                    'v.hostPath.type: Unsupported value: "Symlink": supported values: "", '
                    '"BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", '
                    '"FileOrCreate", "Socket"'
                ],
            ),
        ]
        for source, expected in cases:
            assert rendered(validate_volume({"name": "h", "hostPath": source}, "v")) == expected

    def test_config_map_and_secret_sources(self) -> None:
        """configMap and secret volumes: the name is required, items need a key and a local
        path, as validateConfigMapVolumeSource/validateSecretVolumeSource and validateKeyToPath
        say."""
        items = [{"key": "", "path": "../x"}, {"key": "k", "path": "/abs"}, {"key": "k"}]
        config_map = {"name": "c", "configMap": {"name": "", "items": items}}
        assert rendered(validate_volume(config_map, "v")) == [
            "v.configMap.name: Required value",
            "v.configMap.items[0].key: Required value",
            "v.configMap.items[0].path: Invalid value: \"../x\": must not contain '..'",
            'v.configMap.items[1].path: Invalid value: "/abs": must be a relative path',
            "v.configMap.items[2].path: Required value",
        ]
        secret = {"name": "s", "secret": {"items": [{"key": "k", "path": "..data"}]}}
        assert rendered(validate_volume(secret, "v")) == [
            "v.secret.secretName: Required value",
            "v.secret.items[0].path: Invalid value: \"..data\": must not start with '..'",
        ]
        good = {"name": "s", "secret": {"secretName": "t", "items": [{"key": "k", "path": "a/b"}]}}
        assert validate_volume(good, "v") == []

    @pytest.mark.parametrize(
        ("mode", "valid"),
        [
            (0, True),
            (0o644, True),
            (0o777, True),
            (0o1000, False),
            (0o4755, False),  # setuid
            (0o2755, False),  # setgid
            (0o1777, False),  # sticky
            (-1, False),
            (2**31 - 1, False),
        ],
    )
    @pytest.mark.parametrize("kind", ["secret", "configMap", "downwardAPI", "projected"])
    def test_file_modes(self, kind: str, mode: int, valid: bool) -> None:
        """defaultMode and every item's mode must lie in 0..0777 on all four file volumes,
        projected sources' items included."""
        item = {"key": "k", "path": "p", "mode": mode}
        sources: dict[str, Any] = {
            "secret": {"secretName": "s", "defaultMode": mode, "items": [item]},
            "configMap": {"name": "c", "defaultMode": mode, "items": [item]},
            "downwardAPI": {
                "defaultMode": mode,
                "items": [{"path": "p", "mode": mode, **field_item("p", "metadata.name")}],
            },
            "projected": {
                "defaultMode": mode,
                "sources": [
                    {"secret": {"name": "s", "items": [{**item, "path": "a"}]}},
                    {"configMap": {"name": "c", "items": [{**item, "path": "b"}]}},
                ],
            },
        }
        errors = validate_volume({"name": "v", kind: sources[kind]}, "v")
        if valid:
            assert errors == []
            return
        assert {(e.type, e.bad_value, e.detail) for e in errors} == {(INVALID, mode, MODE_MSG)}
        fields = [e.field for e in errors]
        assert f"v.{kind}.defaultMode" in fields
        assert len(fields) == (3 if kind == "projected" else 2)

    @pytest.mark.parametrize("mode", [2**31, -(2**31) - 1, "0644", 4.5, True])
    def test_mode_outside_int32_is_a_type_error(self, mode: object) -> None:
        """A mode that does not decode into an int32 is refused before validation."""
        errors = validate_volume(
            {"name": "v", "secret": {"secretName": "s", "defaultMode": mode}}, "v"
        )
        assert [(e.type, e.field) for e in errors] == [(TYPE_INVALID, "v.secret.defaultMode")]

    def test_duplicate_paths_not_checked_in_downward_volume(self) -> None:
        """A downwardAPI volume may repeat a path (the last item wins at run time)."""
        volume = downward_volume(field_item("a", "metadata.name"), field_item("a", "metadata.uid"))
        assert validate_volume(volume, "v") == []


def kube_api_access() -> dict[str, Any]:
    """The projected volume the ServiceAccount admission plugin adds to every pod."""
    return {
        "name": "kube-api-access-x7k2p",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


class TestProjectedVolume:
    """Projected volumes: several sources, one kind each, unique paths across all of them."""

    def test_service_account_volume_is_valid(self) -> None:
        """The kube-api-access volume (token, CA, namespace) passes."""
        assert validate_volume(kube_api_access(), "spec.volumes[0]") == []

    def test_several_sources_with_errors(self) -> None:
        """Errors from several sources come in source order with source indexes."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"secret": {"name": "s", "items": [{"key": "", "path": "/abs"}]}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}}]
                        }
                    },
                    {"configMap": {"name": "c"}, "downwardAPI": {}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[0].secret.items[0].key: Required value",
            'v.projected.sources[0].secret.items[0].path: Invalid value: "/abs": '
            "must be a relative path",
            "v.projected.sources[1].downwardAPI.fieldRef.fieldPath: Unsupported value: "
            f'"spec.nodeName": {VOLUME_SUPPORTED}',
            "v.projected.sources[2]: Forbidden: may not specify more than 1 volume type per source",
        ]

    def test_duplicate_paths_report_the_source_name_for_secrets(self) -> None:
        """A path repeated by a secret or configMap reports that object's name as bad value."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"downwardAPI": {"items": [field_item("a", "metadata.name")]}},
                    {"secret": {"name": "creds", "items": [{"key": "k", "path": "a"}]}},
                    {"downwardAPI": {"items": [field_item("a", "metadata.uid")]}},
                    {"downwardAPI": {"items": [field_item("./a", "metadata.uid")]}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            'v.projected: Invalid value: "creds": conflicting duplicate paths',
            'v.projected: Invalid value: "a": conflicting duplicate paths',
        ]

    def test_service_account_token_rules(self) -> None:
        """Token expiry bounds apply; a missing path is reported at the projected volume."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 60, "path": ""}},
                    {"serviceAccountToken": {"expirationSeconds": 2**33, "path": "../t"}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: "
            "may not specify a duration less than 10 minutes",
            "v.projected.path: Required value",
            "v.projected.sources[1].serviceAccountToken.expirationSeconds: Invalid value: "
            "8589934592: may not specify a duration larger than 2^32 seconds",
            "v.projected.path: Invalid value: \"../t\": must not contain '..'",
        ]

    def test_token_expiry_defaults_to_an_hour(self) -> None:
        """An omitted expirationSeconds is defaulted to 3600 for v1 requests only."""
        volume = {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
        assert validate_volume(volume, "v") == []
        assert [e.bad_value for e in validate_volume(volume, "v", apply_defaults=False)] == [0]

    def test_cluster_trust_bundle_paths(self) -> None:
        """clusterTrustBundle sources take part in the path and one-of rules."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"clusterTrustBundle": {"signerName": "example.com/s", "path": "ca.pem"}},
                    {"clusterTrustBundle": {"path": "ca.pem"}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[1].clusterTrustBundle: Required value: either name or signerName "
            "must be specified",
            'v.projected: Invalid value: "ca.pem": conflicting duplicate paths',
        ]


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


LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
# Names an attacker would use to leave a directory, and look-alikes of valid names.
HOSTILE_NAMES = [
    ".",
    "..",
    "../../home",
    "/",
    "/etc",
    "a/b",
    "a\x00b",
    "a\\b",
    "UPPER",
    "-a",
    "a-",
    "a..b",
    " a",
    "\u0430pp",  # Cyrillic a
    "\uff50\uff4f\uff44",  # fullwidth "pod"
    "caf\u00e9",
    "a" * 254,
]


class TestNames:
    """The apimachinery name rules, which keep every name a single safe path component."""

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
    def test_hostile_names_are_neither_labels_nor_subdomains(self, name: str) -> None:
        """None of these is a DNS-1123 subdomain (pod names) or label (namespaces, containers,
        volumes)."""
        assert name_is_dns_subdomain(name)
        assert name_is_dns_label(name)
        assert dns1123_label_errors(name) == name_is_dns_label(name)

    def test_messages(self) -> None:
        """The messages are the API server's, the length one first."""
        assert name_is_dns_subdomain("..") == [SUBDOMAIN_MSG]
        assert name_is_dns_subdomain("a" * 254) == ["must be no more than 253 characters"]
        assert name_is_dns_label("a.b") == ["must not contain dots"]
        assert name_is_dns_label("A" * 64) == ["must be no more than 63 characters", LABEL_MSG]
        assert name_is_dns_subdomain("a.b-c") == []
        assert dns1123_subdomain_errors("a" * 253) == []

    @pytest.mark.parametrize(
        ("prefix", "valid"),
        [
            ("web-", True),
            ("a.b-", True),
            ("web", True),
            ("-", False),
            ("a.-", True),  # maskTrailingDash cuts two bytes: "aa" (the name is refused)
            ("x_", False),
        ],
    )
    def test_generate_name_prefix(self, prefix: str, valid: bool) -> None:
        """A generateName may end in '-' (maskTrailingDash); nothing else is relaxed."""
        assert (name_is_dns_subdomain(prefix, prefix=True) == []) is valid
        assert name_is_dns_subdomain("web-") == [SUBDOMAIN_MSG]

    @pytest.mark.parametrize(
        ("name", "errors"),
        [
            (".", ["may not be '.'"]),
            ("..", ["may not be '..'"]),
            ("../x", ["may not contain '/'"]),
            ("a%2f", ["may not contain '%'"]),
            ("/%", ["may not contain '/'", "may not contain '%'"]),
            ("UPPER", []),
            ("...", []),
        ],
    )
    def test_path_segment(self, name: str, errors: list[str]) -> None:
        """client-go's IsValidPathSegmentName, applied before a request is sent."""
        assert path_segment_errors(name) == errors


class TestValidateObjectMeta:
    """validate_object_meta: ValidateObjectMeta's name, generateName and namespace rules."""

    def test_valid(self) -> None:
        """A DNS subdomain name in a DNS label namespace passes."""
        assert validate_object_meta({"name": "web.v1", "namespace": "team-a"}) == []
        assert validate_object_meta({"generateName": "web-"}, namespace="default") == []

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
    def test_hostile_pod_names(self, name: str) -> None:
        """Each hostile name is refused at metadata.name, with the name shown Go-quoted."""
        errors = validate_object_meta({"name": name}, namespace="default")
        assert errors
        assert {(e.type, e.field, e.bad_value) for e in errors} == {
            (INVALID, "metadata.name", name)
        }

    @pytest.mark.parametrize("namespace", HOSTILE_NAMES, ids=repr)
    def test_hostile_namespaces(self, namespace: str) -> None:
        """Each hostile namespace is refused at metadata.namespace; -n overrides the object's."""
        errors = validate_object_meta({"name": "p", "namespace": namespace})
        assert {(e.field, e.bad_value) for e in errors} == {("metadata.namespace", namespace)}
        overridden = validate_object_meta({"name": "p", "namespace": "ok"}, namespace=namespace)
        assert overridden == errors

    def test_rendering(self) -> None:
        """The full messages, as kubectl prints them."""
        meta = {"name": "../../home", "generateName": "x_", "namespace": "/"}
        assert rendered(validate_object_meta(meta, "metadata")) == [
            f'metadata.generateName: Invalid value: "x_": {SUBDOMAIN_MSG}',
            f'metadata.name: Invalid value: "../../home": {SUBDOMAIN_MSG}',
            f'metadata.namespace: Invalid value: "/": {LABEL_MSG}',
        ]

    def test_required(self) -> None:
        """A name or a generateName is required, and a namespace."""
        assert rendered(validate_object_meta({"namespace": ""})) == [
            "metadata.name: Required value: name or generateName is required",
            "metadata.namespace: Required value",
        ]

    def test_generated_name(self) -> None:
        """A name still to be generated is the prefix cut to 58 bytes plus five characters."""
        assert validate_object_meta({"generateName": "a" * 300}, namespace="d") == [
            FieldError(
                INVALID, "metadata.generateName", "a" * 300, "must be no more than 253 characters"
            )
        ]
        errors = validate_object_meta({"generateName": "Web-"}, namespace="d")
        assert [(e.field, e.bad_value) for e in errors] == [
            ("metadata.generateName", "Web-"),
            ("metadata.name", "Web-xxxxx"),
        ]

    def test_wrong_types(self) -> None:
        """A name that is not a string is a type error, not a crash."""
        errors = validate_object_meta({"name": 7, "namespace": ["x"]})
        assert [(e.type, e.field) for e in errors] == [
            (TYPE_INVALID, "metadata.name"),
            (TYPE_INVALID, "metadata.namespace"),
        ]
        assert [e.field for e in validate_object_meta("x")] == ["metadata"]  # type: ignore[arg-type]


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


CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


class TestValidateConfigObject:
    """validate_config_object: ValidateConfigMap / ValidateSecret, whose keys become files."""

    @pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
    def test_values_must_be_strings(self, kind: str) -> None:
        """A boolean or number value (YAML's unquoted yes or 0.50) does not decode."""
        bag = "data" if kind == "ConfigMap" else "stringData"
        obj = {"kind": kind, "metadata": {"name": "c"}, bag: {"on": True, "r": 0.5, "s": "x"}}
        errors = validate_config_object(obj, "default")
        assert [(e.type, e.field, e.bad_value) for e in errors] == [
            (TYPE_INVALID, "data[on]", True),
            (TYPE_INVALID, "data[r]", 0.5),
        ]

    def test_other_objects(self) -> None:
        """Only ConfigMaps and Secrets are checked."""
        assert validate_config_object({"kind": "Service", "metadata": {"name": ".."}}, "d") == []

    @pytest.mark.parametrize(
        ("key", "details"),
        [
            ("app.conf", []),
            ("..data", ["must not start with '..'"]),
            ("..", ["must not be '..'"]),
            (".", ["must not be '.'"]),
            ("../../evil", [CONFIG_KEY_MSG, "must not start with '..'"]),
            ("a/b", [CONFIG_KEY_MSG]),
            ("a\x00b", [CONFIG_KEY_MSG]),
            ("k" * 254, ["must be no more than 253 characters"]),
        ],
        ids=repr,
    )
    @pytest.mark.parametrize("kind", ["ConfigMap", "Secret"])
    def test_keys(self, kind: str, key: str, details: list[str]) -> None:
        """Each key must be a config key, in data, binaryData and stringData alike."""
        bags = ["data", "binaryData"] if kind == "ConfigMap" else ["data", "stringData"]
        for bag in bags:
            obj = {"kind": kind, "metadata": {"name": "c"}, bag: {key: ""}}
            errors = validate_config_object(obj, "default")
            field = "binaryData" if bag == "binaryData" else "data"
            assert [(e.field, e.bad_value, e.detail) for e in errors] == [
                (f"{field}[{key}]", key, detail) for detail in details
            ]

    def test_name_namespace_duplicates_and_size(self) -> None:
        """The object's name and namespace, a key in both bags, and the 1 MiB limit."""
        big = "x" * (1024 * 1024)
        obj = {
            "kind": "ConfigMap",
            "metadata": {"name": "../cfg", "namespace": "A"},
            "data": {"k": big},
            "binaryData": {"k": "eA=="},
        }
        assert [e.field for e in validate_config_object(obj, "default")] == [
            "metadata.name",
            "metadata.namespace",
            "data[k]",
            "",
        ]
        assert rendered(validate_config_object(obj, "default"))[-2:] == [
            'data[k]: Invalid value: "k": duplicate of key present in binaryData',
            ": Too long: may not be more than 1048576 bytes",
        ]
        secret = {"kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": big + "x"}}
        assert rendered(validate_config_object(secret, "ns")) == [
            "data: Too long: may not be more than 1048576 bytes"
        ]
        fits = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"k": "eHh4"}}
        assert validate_config_object(fits, "ns") == []


class TestLabelsAndAnnotations:
    def test_label_keys_and_values(self) -> None:
        """ValidateLabels: qualified-name keys (prefix <= 253, name <= 63), values <= 63."""
        labels = {"a" * 64: "v", "p/" + "n" * 63: "x" * 64, "ok": "-bad"}
        got = [(e.type, e.bad_value, e.detail) for e in validate_labels(labels, "x.labels")]
        assert got == [
            (INVALID, "a" * 64, "name part must be no more than 63 bytes"),
            (INVALID, "x" * 64, "must be no more than 63 bytes"),
            (INVALID, "-bad", got[2][2]),
        ]
        assert got[2][2].startswith("a valid label must be an empty string")
        assert {e.field for e in validate_labels(labels, "x.labels")} == {"x.labels"}

    def test_values_must_be_strings(self) -> None:
        """A boolean or number is refused (the API server cannot decode it), a null is ""."""
        errs = validate_labels({"a": True, "b": None, "c": 1}, "metadata.labels")
        assert [(e.type, e.field) for e in errs] == [
            (TYPE_INVALID, "metadata.labels[a]"),
            (TYPE_INVALID, "metadata.labels[c]"),
        ]
        assert [e.type for e in validate_labels(["a"], "metadata.labels")] == [TYPE_INVALID]

    def test_annotations(self) -> None:
        """ValidateAnnotations: keys lower-cased and checked, 256 KiB in total."""
        errs = validate_annotations({"Bad_/K": "v", "big": "x" * (256 * 1024)}, "m.annotations")
        assert [(e.type, e.bad_value) for e in errs] == [
            (INVALID, "bad_/k"),
            ("FieldValueTooLong", None),
        ]
        assert str(errs[1]) == "m.annotations: Too long: may not be more than 262144 bytes"

    def test_metadata_maps(self) -> None:
        """Both maps of a metadata object, at <path>.labels and <path>.annotations."""
        meta = {"labels": {"-": "v"}, "annotations": {"/x": "v"}}
        fields = [e.field for e in validate_metadata_maps(meta, "spec.template")]
        assert fields[0] == "spec.template.labels"
        assert fields[-1] == "spec.template.annotations"
        assert validate_metadata_maps(None, "metadata") == []


class TestDecodeError:
    @pytest.mark.parametrize(
        ("field", "value", "kind", "message"),
        [
            (
                "spec.template.spec.containers[0].env[1].value",
                True,
                "string",
                "json: cannot unmarshal bool into Go struct field "
                "EnvVar.spec.template.spec.containers.env.value of type string",
            ),
            (
                "spec.volumes[0].downwardAPI.mode",
                "0o644",
                "integer",
                "json: cannot unmarshal string into Go struct field "
                "DownwardAPIVolumeFile.spec.volumes.downwardAPI.items.mode of type int32",
            ),
            (
                "spec.volumes[0].projected.sources[0].downwardAPI.mode",
                420.5,
                "integer",
                "json: cannot unmarshal number 420.5 into Go struct field "
                "DownwardAPIVolumeFile.spec.volumes.projected.sources.downwardAPI.items.mode of "
                "type int32",
            ),
            (
                "spec.template.labels[tier]",
                1,
                "string",
                "json: cannot unmarshal number into Go struct field "
                "ObjectMeta.spec.template.metadata.labels of type string",
            ),
            (
                "spec.containers[0].env",
                "x",
                "array",
                "json: cannot unmarshal string into Go struct field "
                "Container.spec.containers.env of type []v1.EnvVar",
            ),
        ],
    )
    def test_go_messages(self, field: str, value: object, kind: str, message: str) -> None:
        """A wrong type renders as encoding/json's UnmarshalTypeError on the JSON path (no
        indexes, downwardAPI items included, template labels under metadata)."""
        err = FieldError(TYPE_INVALID, field, value, f"must be of type {kind}")
        assert decode_error(err) == message

    def test_not_a_decoding_error(self) -> None:
        """Validation errors and unknown places give None."""
        assert decode_error(FieldError(INVALID, "spec.containers[0].name", "x", "d")) is None
        unknown = FieldError(TYPE_INVALID, "spec.foo[0].bar", 1, "must be of type object")
        assert decode_error(unknown) is None


def _file_env(**ref: Any) -> dict[str, Any]:
    return {"name": "FROM_FILE", "valueFrom": {"fileKeyRef": ref}}


def _env_pod(env: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "initContainers": [{"name": "init", "image": "i", "env": env}],
        "containers": [{"name": "c", "image": "i", "env": env}],
        "volumes": volumes,
    }


class TestKubernetesVersions:
    """Each supported release's rules, chosen with kubernetes_version or kubernetes_target."""

    def test_versions_parse_and_unsupported_ones_are_refused(self) -> None:
        assert parse_kubernetes_version("v1.34") == "1.34"
        assert parse_kubernetes_version("1.33.7") == "1.33"
        for bad in ("1.29", "1.36", "2.0", "1.3x", "", "1.35.", "x" * 100):
            with pytest.raises(ManifestError, match="unsupported Kubernetes version"):
                parse_kubernetes_version(bad)

    def test_file_key_ref_is_accepted_from_1_34(self) -> None:
        env = [_file_env(volumeName="config", path="app.env", key="DB_HOST")]
        spec = _env_pod(env, [{"name": "config", "emptyDir": {}}])
        assert validate_pod_spec(spec) == []
        assert validate_pod_spec(spec, kubernetes_version="1.34") == []

    def test_file_key_ref_before_1_34_is_an_unknown_field(self) -> None:
        env = [_file_env(volumeName="config", path="app.env", key="K")]
        errors = validate_env(env, "spec.containers[0].env", kubernetes_version="1.33")
        assert errors == [
            FieldError(UNKNOWN_FIELD, "spec.containers[0].env[0].valueFrom.fileKeyRef")
        ]
        assert str(errors[0]) == ('unknown field "spec.containers[0].env[0].valueFrom.fileKeyRef"')
        # Only the decoding error: no "more than one field" for a second source.
        env[0]["valueFrom"]["fieldRef"] = {"fieldPath": "metadata.name"}
        assert validate_env(env, "e", kubernetes_version="1.33") == [
            FieldError(UNKNOWN_FIELD, "e[0].valueFrom.fileKeyRef")
        ]

    def test_file_key_selector_rules(self) -> None:
        env = [
            _file_env(volumeName="", path="", key=""),
            _file_env(volumeName="Config", path="/abs/../x.env", key="A=B"),
            _file_env(volumeName="config", path="/abs/app.env", key="ok key"),
        ]
        assert rendered(validate_env(env, "e")) == [
            "e[0].valueFrom.fileKeyRef.key: Required value",
            "e[0].valueFrom.fileKeyRef.volumeName: Required value",
            "e[0].valueFrom.fileKeyRef.path: Required value",
            'e[1].valueFrom.fileKeyRef.key: Invalid value: "A=B": a valid environment variable '
            "name must consist only of printable ASCII characters other than '='",
            f'e[1].valueFrom.fileKeyRef.volumeName: Invalid value: "Config": {DNS_LABEL_MSG}',
            'e[1].valueFrom.fileKeyRef.path: Invalid value: "/abs/../x.env": '
            "must not contain '..'",
        ]

    def test_file_key_ref_with_another_source_or_a_value(self) -> None:
        ref = {"volumeName": "v", "path": "p", "key": "k"}
        both = {
            "name": "X",
            "valueFrom": {"fileKeyRef": ref, "fieldRef": {"fieldPath": "metadata.name"}},
        }
        valued = {"name": "Y", "value": "v", "valueFrom": {"fileKeyRef": ref}}
        assert [e.detail for e in validate_env([both, valued], "e")] == [
            "may not have more than one field specified at a time",
            "may not be specified when `value` is not empty",
        ]

    def test_empty_value_from_message_follows_the_release(self) -> None:
        env = [{"name": "X", "valueFrom": {}}]
        assert validate_env(env, "e", kubernetes_version="1.33")[0].detail == (
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`"
        )
        assert validate_env(env, "e", kubernetes_version="1.34")[0].detail.endswith(
            "`secretKeyRef` or `fileKeyRef`"
        )

    def test_file_key_ref_volume_must_exist_and_be_an_empty_dir(self) -> None:
        env = [
            _file_env(volumeName="missing", path="a.env", key="K"),
            _file_env(volumeName="cfg", path="a.env", key="K"),
        ]
        spec = _env_pod(env, [{"name": "cfg", "configMap": {"name": "c"}}])
        errors = validate_pod_spec(spec)
        assert rendered(errors) == [
            'spec.initContainers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "missing"',
            'spec.initContainers[0].env[1].valueFrom.fileKeyRef.volumeName: Invalid value: "cfg": '
            "referenced volume must be of type emptyDir",
            'spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "missing"',
            'spec.containers[0].env[1].valueFrom.fileKeyRef.volumeName: Invalid value: "cfg": '
            "referenced volume must be of type emptyDir",
        ]

    def test_env_names_are_relaxed_from_1_32(self) -> None:
        env = [{"name": "1 bad name", "value": "x"}]
        assert validate_env(env, "e", kubernetes_version="1.32") == []
        with kubernetes_target("1.31"):
            assert [e.field for e in validate_env(env, "e")] == ["e[0].name"]
        assert validate_env(env, "e") == []  # back to the default release

    def test_image_volumes_exist_from_1_31(self) -> None:
        volume = {"name": "img", "image": {"reference": "registry/x:1"}}
        assert validate_volume(volume, "v") == []
        assert validate_volume(volume, "v", kubernetes_version="1.30") == [
            FieldError(UNKNOWN_FIELD, "v.image"),
            FieldError(REQUIRED, "v", None, "must specify a volume type"),
        ]

    def test_source_kinds_message_before_1_31(self) -> None:
        source = {"secret": {"name": "s"}, "configMap": {"name": "c"}}
        volume = {"name": "p", "projected": {"sources": [source]}}
        details = [e.detail for e in validate_volume(volume, "v", kubernetes_version="1.30")]
        assert details == ["may not specify more than 1 volume type"]


def _cert_volume(**certificate: Any) -> dict[str, Any]:
    return {"name": "cert", "projected": {"sources": [{"podCertificate": certificate}]}}


class TestPodCertificate:
    """podCertificate projected sources (1.34+), as validateProjectionSources checks them."""

    VALID: Final = {
        "signerName": "example.com/my-signer",
        "keyType": "ED25519",
        "credentialBundlePath": "bundle.pem",
    }

    def test_valid_source(self) -> None:
        assert validate_volume(_cert_volume(**self.VALID), "v") == []
        assert (
            validate_volume(
                _cert_volume(**self.VALID, maxExpirationSeconds=7862400),
                "v",
                kubernetes_version="1.34",
            )
            == []
        )

    def test_unknown_before_1_34(self) -> None:
        errors = validate_volume(_cert_volume(**self.VALID), "v", kubernetes_version="1.33")
        assert errors == [FieldError(UNKNOWN_FIELD, "v.projected.sources[0].podCertificate")]

    def test_rules(self) -> None:
        src = "v.projected.sources[0].podCertificate"
        errors = validate_volume(
            _cert_volume(
                signerName="kubernetes.io/x", keyType="RSA2048", maxExpirationSeconds=90000
            ),
            "v",
        )
        assert rendered(errors) == [
            f'{src}.keyType: Unsupported value: "RSA2048": supported values: "RSA3072", '
            '"RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"',
            f"{src}.maxExpirationSeconds: Invalid value: 90000: if provided, "
            "maxExpirationSeconds must be <= 86400",
            f"{src}: Required value: specify at least one of credentialBundlePath, keyPath, and "
            "certificateChainPath",
        ]
        errors = validate_volume(
            _cert_volume(**{**self.VALID, "maxExpirationSeconds": 60, "keyPath": "bundle.pem"}),
            "v",
        )
        assert rendered(errors) == [
            f"{src}.maxExpirationSeconds: Invalid value: 60: if provided, "
            "maxExpirationSeconds must be >= 3600",
            'v.projected: Invalid value: "bundle.pem": conflicting duplicate paths',
        ]

    def test_signer_names(self) -> None:
        field = "v.projected.sources[0].podCertificate.signerName"
        cases = {
            "": [f"{field}: Required value"],
            "no-slash": [
                f'{field}: Invalid value: "no-slash": must be a fully qualified domain and path '
                "of the form 'example.com/signer-name'"
            ],
            "Example.com/x": [
                f'{field}: Invalid value: "Example.com": validating label "Example": '
                f"{DNS_LABEL_MSG}"
            ],
            "localhost/x": [
                f'{field}: Invalid value: "localhost": should be a domain with at least two '
                "segments separated by dots"
            ],
        }
        for signer, want in cases.items():
            errors = validate_volume(_cert_volume(**{**self.VALID, "signerName": signer}), "v")
            assert rendered(errors) == want, signer

    def test_user_annotations_from_1_35(self) -> None:
        cert = {**self.VALID, "userAnnotations": {"Example.com/Team": "a", "plain": "b"}}
        field = "v.projected.sources[0].podCertificate.userAnnotations"
        assert rendered(validate_volume(_cert_volume(**cert), "v")) == [
            f'{field}: Invalid value: "plain": must be a domain-prefixed key (such as '
            '"acme.io/foo")'
        ]
        assert validate_volume(_cert_volume(**cert), "v", kubernetes_version="1.34") == [
            FieldError(UNKNOWN_FIELD, "v.projected.sources[0].podCertificate.userAnnotations")
        ]


class TestHugeDivisors:
    """Divisors past E print as their mantissa in apimachinery, so the API server accepts some."""

    @pytest.mark.parametrize("divisor", ["1000E", "1000000000000000000000", "1000000E"])
    def test_accepted_as_one(self, divisor: str) -> None:
        for resource in ("limits.memory", "limits.cpu", "requests.hugepages-2Mi"):
            ref = {"resource": resource, "divisor": divisor}
            assert validate_env([{"name": "X", "valueFrom": {"resourceFieldRef": ref}}], "e") == []
        assert api_quantity_string(Quantity.parse(divisor)) == "1"

    @pytest.mark.parametrize("divisor", ["2000E", "1e21", 1e21])
    def test_others_refused(self, divisor: object) -> None:
        ref = {"resource": "limits.memory", "divisor": divisor}
        errors = validate_env([{"name": "X", "valueFrom": {"resourceFieldRef": ref}}], "e")
        assert [e.detail for e in errors] == [MEMORY_DIVISOR_MSG]

    def test_recorded_strings(self) -> None:
        """Go's String() past the suffix table, as recorded from apimachinery."""
        from tests.conftest import SHARED_CONFORMANCE_DIR

        path = SHARED_CONFORMANCE_DIR / "quantity-oracle-2.json"
        if not path.is_file():
            pytest.skip(f"no {path}")
        import json

        cases = [
            c
            for c in json.loads(path.read_text())["version_dependent"]
            if "suffix table" in c["why"]
        ]
        assert len(cases) > 5
        for case in cases:
            quantity = Quantity.parse(case["input"])
            assert api_quantity_string(quantity) == case["string_at_eed236ce"], case["input"]


class TestUnknownFields:
    """kubectl's strict field validation: a key the API object does not have is an unknown
    field, and the object is not validated further (the request fails while decoding)."""

    def test_mistyped_key_is_unknown_not_missing(self) -> None:
        env = [{"name": "A", "valueFrom": {"fieldRef": {"fieldpath": "metadata.name"}}}]
        errs = validate_env(env, "spec.containers[0].env")
        assert [str(e) for e in errs] == [
            'unknown field "spec.containers[0].env[0].valueFrom.fieldRef.fieldpath"'
        ]

    @pytest.mark.parametrize(
        ("volume", "field"),
        [
            (
                {"name": "v", "downwardAPI": {"items": [{"path": "n", "fieldref": {}}]}},
                "spec.volumes[0].downwardAPI.items[0].fieldref",
            ),
            ({"name": "v", "downwardAPI": {"item": []}}, "spec.volumes[0].downwardAPI.item"),
            (
                {
                    "name": "v",
                    "projected": {
                        "sources": [{"downwardAPI": {"items": [{"path": "n", "mod": 1}]}}]
                    },
                },
                "spec.volumes[0].projected.sources[0].downwardAPI.items[0].mod",
            ),
        ],
    )
    def test_volumes(self, volume: dict[str, Any], field: str) -> None:
        assert [str(e) for e in validate_volume(volume, "spec.volumes[0]")] == [
            f'unknown field "{field}"'
        ]

    def test_every_unknown_key_is_reported(self) -> None:
        env = [{"name": "A", "vaule": "x", "valueFrom ": {}}]
        assert [e.field for e in validate_env(env, "env")] == ["env[0].vaule", "env[0].valueFrom "]

    def test_known_fields_for_hints(self) -> None:
        assert known_fields("spec.containers[0].env[1].valueFrom.fieldRef") == frozenset(
            {"apiVersion", "fieldPath"}
        )
        assert known_fields("spec.volumes[0].downwardAPI.items[2]") == frozenset(
            {"path", "fieldRef", "resourceFieldRef", "mode"}
        )
        assert known_fields("spec.containers[0].ports[0]") is None

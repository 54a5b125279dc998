"""Tests for podself.validation.env beyond the conformance vectors: combinations and edge cases."""

from __future__ import annotations

from typing import Any

import pytest

from podself.errors import QuantityError
from podself.quantity import ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, Quantity
from podself.validation import (
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TYPE_INVALID,
    FieldError,
    validate_env,
)
from tests.validation_helpers import (
    MEMORY_DIVISOR_MSG,
    field_env,
    rendered,
    resource_env,
)

ENV_SUPPORTED = (
    'supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
    '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", '
    '"status.podIPs"'
)

CPU_DIVISOR_MSG = "only divisor's values 1m and 1 are supported with the cpu resource"

NAME_PART_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


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

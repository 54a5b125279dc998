"""Tests for podself.validation.decode: decoding errors and unknown fields."""

from __future__ import annotations

from typing import Any

import pytest

from podself.validation import (
    INVALID,
    TYPE_INVALID,
    FieldError,
    decode_error,
    known_fields,
    validate_env,
    validate_volume,
)


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

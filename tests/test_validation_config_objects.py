"""Tests for podself.validation.config_objects: ConfigMap and Secret objects."""

from __future__ import annotations

import pytest

from podself.validation import (
    TYPE_INVALID,
    validate_config_object,
)
from tests.validation_helpers import rendered

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

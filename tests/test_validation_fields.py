"""Tests for podself.validation.fields: FieldError as Kubernetes prints it."""

from __future__ import annotations

import dataclasses

import pytest

from podself.validation import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TYPE_INVALID,
    FieldError,
)
from tests.validation_helpers import MODE_MSG


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

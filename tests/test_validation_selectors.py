"""Tests for podself.validation.selectors: fieldRef labels and resourceFieldRef divisors."""

from __future__ import annotations

import pytest

from podself.errors import FieldPathError
from podself.quantity import Quantity
from podself.validation import (
    api_quantity_string,
    convert_downward_api_field_label,
    validate_env,
)
from tests.validation_helpers import MEMORY_DIVISOR_MSG


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

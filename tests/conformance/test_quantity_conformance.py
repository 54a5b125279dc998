"""podself.quantity against apimachinery's recorded behaviour and its quantity tests.

``quantity-apimachinery.json`` holds 3,000 inputs recorded from ``ParseQuantity`` at
apimachinery eed236ce; ``quantity-k8s-tests.json`` transcribes the tables of
``quantity_test.go``. Vectors marked ``quirk`` are inputs that apimachinery's int64 fast path keeps
verbatim as their ``String()`` although they are not canonical (``"967.E0"``): podself keeps them
too, and ``canonical()`` still gives the canonical form.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from typing import Any

import pytest

from podself.errors import QuantityError
from podself.quantity import (
    BINARY_SI,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    Quantity,
)
from tests.conftest import conformance_params, load_conformance

RECORDED = ("quantity-apimachinery.json", "quantity-oracle-2.json")
TABLES = "quantity-k8s-tests.json"

VECTORS = [vector for name in RECORDED for vector in conformance_params(name, "vectors")]


def _id(case: Any) -> str:
    if not isinstance(case, dict):
        return "absent"
    for key in ("input", "json", "constructor", "quantity_value"):
        if key in case:
            return repr(case[key])
    return repr(sorted(case.items()))


def _exact(quantity: Quantity) -> Fraction:
    return Fraction(*quantity.as_integer_ratio())


class TestRecordedVectors:
    @pytest.mark.parametrize("vector", VECTORS, ids=_id)
    def test_vector(self, vector: dict[str, Any]) -> None:
        """Each input is accepted or rejected as recorded, with String(), Value(), MilliValue()."""
        text = vector["input"]
        if not vector["ok"]:
            with pytest.raises(QuantityError) as caught:
                Quantity.parse(text)
            assert str(caught.value).endswith((ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX))
            return
        quantity = Quantity.parse(text)
        assert vector["string"] == str(quantity)
        if "value" in vector:
            assert vector["value"] == quantity.value() == quantity.go_value()
        if "milli" in vector:
            assert vector["milli"] == quantity.milli_value() == quantity.go_milli_value()
        # Re-parsing String() gives the same number and the same text back.
        again = Quantity.parse(str(quantity))
        assert quantity == again
        assert str(quantity) == str(again)

    @pytest.mark.parametrize("vector", VECTORS, ids=_id)
    def test_canonical_form(self, vector: dict[str, Any]) -> None:
        """canonical() is the recorded String(), unless the input was kept verbatim as String()."""
        if not vector["ok"]:
            return
        quantity = Quantity.parse(vector["input"])
        canonical = quantity.canonical()
        if canonical != vector["string"]:
            # Only a verbatim text differs from the canonical form, and only in spelling.
            assert vector["input"] == vector["string"]
            assert quantity == Quantity.parse(canonical)
            assert canonical == Quantity.parse(canonical).canonical()

    def test_every_quirk_is_reproduced(self) -> None:
        """Every non-canonical input apimachinery keeps verbatim is kept verbatim here too."""
        vectors = VECTORS
        quirks = [v for v in vectors if v.get("quirk")]
        assert quirks
        matched = [v for v in quirks if str(Quantity.parse(v["input"])) == v["string"]]
        assert len(quirks) == len(matched)
        differing = [v for v in quirks if Quantity.parse(v["input"]).canonical() != v["string"]]
        assert len(quirks) == len(differing)


class TestParseTables:
    @pytest.mark.parametrize("case", conformance_params(TABLES, "canonical_from_input"), ids=_id)
    def test_canonical_from_input(self, case: dict[str, Any]) -> None:
        """TestQuantityString/ParseEmit/ParseQuantity: the input re-emits as the canonical text."""
        quantity = Quantity.parse(case["input"])
        assert case["canonical"] == str(quantity)
        assert case["canonical"] == quantity.canonical()
        if "exact_decimal_value" in case:
            assert Fraction(case["exact_decimal_value"]) == _exact(quantity)
        if case.get("as_int64_fast_path") is not None:
            assert case["as_int64_fast_path"] == quantity.value()

    @pytest.mark.parametrize("case", conformance_params(TABLES, "parse_value_and_format"), ids=_id)
    def test_parse_value_and_format(self, case: dict[str, Any]) -> None:
        """TestQuantityParse: the exact value (rounded up to 1n, BinarySI capped) and the format."""
        quantity = Quantity.parse(case["input"])
        expected = Fraction(int(case["mantissa"])) * Fraction(10) ** case["exponent10"]
        assert Fraction(case["value"]) == expected
        assert expected == _exact(quantity)
        assert case["format"] == quantity.format

    @pytest.mark.parametrize("case", conformance_params(TABLES, "parse_value_and_format"), ids=_id)
    def test_parse_signed_variants(self, case: dict[str, Any]) -> None:
        """TestQuantityParse: a leading '-' negates the value and a leading '+' changes nothing."""
        quantity = Quantity.parse(case["input"])
        negative = Quantity.parse("-" + case["input"])
        positive = Quantity.parse("+" + case["input"])
        assert -_exact(quantity) == _exact(negative)
        assert quantity == positive
        assert quantity.format == negative.format == positive.format

    @pytest.mark.parametrize("case", conformance_params(TABLES, "parse_invalid"), ids=_id)
    def test_parse_invalid(self, case: dict[str, Any]) -> None:
        """TestQuantityParse: an invalid input raises QuantityError naming the input and a rule."""
        with pytest.raises(QuantityError) as caught:
            Quantity.parse(case["input"])
        message = str(caught.value)
        assert message.startswith(f'quantity "{case["input"]}": ')
        assert message.endswith((ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX))

    @pytest.mark.parametrize(
        "case", conformance_params(TABLES, "parse_quantity_string_split"), ids=_id
    )
    def test_string_split(self, case: dict[str, Any]) -> None:
        """TestParseQuantityString: the input has the sign and value of its split parts."""
        quantity = Quantity.parse(case["input"])
        if quantity.sign():  # "-." is zero, which has no sign
            assert case["positive"] == (quantity.sign() > 0)
        rebuilt = ("" if case["positive"] else "-") + case["num"]
        if case["denom"]:
            rebuilt += "." + case["denom"]
        assert quantity == Quantity.parse(rebuilt + case["suffix"])


class TestValueTables:
    @pytest.mark.parametrize("case", conformance_params(TABLES, "round_up"), ids=_id)
    def test_round_up(self, case: dict[str, Any]) -> None:
        """TestQuantityRoundUp: rounding away from zero to 10**scale, exact only if unchanged."""
        quantity = Quantity.parse(case["input"])
        rounded = quantity.round_up(case["round_up_to_scale"])
        assert Fraction(case["result_value"]) == _exact(rounded)
        assert case["exact"] == (rounded == quantity)
        assert quantity.format == rounded.format

    @pytest.mark.parametrize("case", conformance_params(TABLES, "scaled_value_ceil"), ids=_id)
    def test_scaled_value(self, case: dict[str, Any]) -> None:
        """TestScaledValue: NewScaledQuantity(1, from).ScaledValue(to) rounds up."""
        quantity = Quantity.from_scaled(1, case["from_scale"])
        assert Fraction(case["quantity_value"]) == _exact(quantity)
        assert case["scaled_value"] == quantity.scaled_value(case["to_scale"])

    @pytest.mark.parametrize("case", conformance_params(TABLES, "examples_value_milli"), ids=_id)
    def test_examples(self, case: dict[str, Any]) -> None:
        """ExampleMustParse / TestQuantityValueSet: Value(), MilliValue() and the format."""
        quantity = Quantity.parse(case["input"])
        if "value" in case:
            assert case["value"] == quantity.value()
        if "milli_value" in case:
            assert case["milli_value"] == quantity.milli_value()
        if "format" in case:
            assert case["format"] == quantity.format

    @pytest.mark.parametrize("case", conformance_params(TABLES, "cmp"), ids=_id)
    def test_cmp(self, case: dict[str, Any]) -> None:
        """TestQuantityCmp: Cmp and the comparison operators agree."""
        x, y = Quantity.parse(case["x"]), Quantity.parse(case["y"])
        assert case["cmp"] == x.cmp(y)
        assert -case["cmp"] == y.cmp(x)
        assert (case["cmp"] == 0) == (x == y)
        assert (case["cmp"] < 0) == (x < y)
        assert (case["cmp"] > 0) == (x > y)


class TestConstructorTables:
    @pytest.mark.parametrize(
        "case", conformance_params(TABLES, "constructors.NewQuantity"), ids=_id
    )
    def test_new_quantity(self, case: dict[str, Any]) -> None:
        """TestNewSet: NewQuantity's String() and the round trip through parse and Value()."""
        quantity = Quantity.from_int(case["value"], case["format"])
        assert case["canonical"] == str(quantity)
        assert case["format"] == quantity.format
        assert case["value"] == Quantity.parse(str(quantity)).value()

    @pytest.mark.parametrize(
        "case", conformance_params(TABLES, "constructors.NewMilliQuantity"), ids=_id
    )
    def test_new_milli_quantity(self, case: dict[str, Any]) -> None:
        """TestMilliNewSet: NewMilliQuantity's String(), and MilliValue() after a round trip."""
        quantity = Quantity.from_milli(case["milli_value"], case["format"])
        assert case["canonical"] == str(quantity)
        if case["round_trips_exactly"]:
            assert case["milli_value"] == Quantity.parse(str(quantity)).milli_value()

    @pytest.mark.parametrize(
        "case", conformance_params(TABLES, "constructors.NewScaledQuantity"), ids=_id
    )
    def test_new_scaled_quantity(self, case: dict[str, Any]) -> None:
        """TestNewScaledSet: NewScaledQuantity's String() and ScaledValue() after a round trip."""
        quantity = Quantity.from_scaled(case["value"], case["scale"])
        assert case["canonical"] == str(quantity)
        assert quantity.format == DECIMAL_SI
        assert case["value"] == Quantity.parse(str(quantity)).scaled_value(case["scale"])

    @pytest.mark.parametrize("case", conformance_params(TABLES, "format_examples"), ids=_id)
    def test_format_examples(self, case: dict[str, Any]) -> None:
        """ExampleFormat / TestQuantityNeg: constructed quantities print as documented."""
        assert case["string"] == str(_construct(case["constructor"]))


def _construct(expression: str) -> Quantity:
    # The Go constructor expressions the table names, e.g. "NewQuantity(5*1024*1024, BinarySI)".
    match = re.fullmatch(r"(NewQuantity|NewMilliQuantity)\(([\d*]+), (\w+)\)", expression)
    if match:
        value = 1
        for factor in match.group(2).split("*"):
            value *= int(factor)
        if match.group(1) == "NewQuantity":
            return Quantity.from_int(value, match.group(3))
        return Quantity.from_milli(value, match.group(3))
    match = re.fullmatch(r"Neg of .*\(intQuantity\((-?\d+),\s*(-?\d+),\s*(\w+)\)\)", expression)
    assert match, expression
    return Quantity(-int(match.group(1)), int(match.group(2)), match.group(3))


class TestJsonTables:
    @pytest.mark.parametrize(
        "case", conformance_params(TABLES, "json_unmarshal_whitespace"), ids=_id
    )
    def test_json_whitespace(self, case: dict[str, Any]) -> None:
        """TestJSONWhitespace: JSON strings lose surrounding spaces; JSON numbers are accepted."""
        assert case["canonical"] == str(Quantity.from_json(json.loads(case["json"])))


class TestVersionDependentEdges:
    def test_decimal_si_beyond_exa(self) -> None:
        """A DecimalSI value past E prints in exponent form (eed236ce printed the bare "1")."""
        cases = load_conformance(TABLES)["version_dependent_edge_cases"]
        case = next(c for c in cases if c["input"] == "1000E")
        quantity = Quantity.parse(case["input"])
        assert Fraction(int(case["value"])) == _exact(quantity)
        assert case["canonical_at_apimachinery_eed236ce"] != str(quantity)
        assert str(quantity) == "1e21"
        assert quantity == Quantity.parse(str(quantity))

    def test_binary_si_beyond_exbi(self) -> None:
        """A BinarySI value of 1024Ei (only reachable by construction) prints in exponent form."""
        quantity = Quantity.from_int(1024 << 60, BINARY_SI)
        assert str(quantity) == "1180591620717411303424"
        assert quantity == Quantity.parse(str(quantity))
        assert str(Quantity(1, 70, BINARY_SI)) == "10e69"

    @pytest.mark.parametrize(
        "case", conformance_params("quantity-oracle-2.json", "version_dependent"), ids=_id
    )
    def test_recorded_differences(self, case: dict[str, Any]) -> None:
        """Inputs whose String() at eed236ce loses the value: accepted, and ours keeps it."""
        quantity = Quantity.parse(case["input"])
        assert case["string_at_eed236ce"] != str(quantity)
        assert quantity == Quantity.parse(str(quantity))
        assert str(Quantity.parse(str(quantity))) == str(quantity)

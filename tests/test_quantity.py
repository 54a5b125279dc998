"""podself.quantity: Kubernetes resource.Quantity parsing, String(), values and comparison."""

from __future__ import annotations

import ast
import copy
import math
import pickle
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import podself.quantity as quantity_module
from podself.errors import PodselfError, QuantityError
from podself.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    ERR_FORMAT_WRONG,
    ERR_NUMERIC,
    ERR_SUFFIX,
    MAX_VALUE_DIGITS,
    Quantity,
)

INT64_MAX = (1 << 63) - 1
DECIMAL_SUFFIXES = {"": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15}
DECIMAL_SUFFIXES["E"] = 18
BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
SI_BY_EXPONENT = {exponent: suffix for suffix, exponent in DECIMAL_SUFFIXES.items()}


def exact(quantity: Quantity) -> Fraction:
    return Fraction(*quantity.as_integer_ratio())


def parse_error(text: str) -> str:
    with pytest.raises(QuantityError) as caught:
        Quantity.parse(text)
    return str(caught.value)


# --- an independent model of ParseQuantity's value and String(), written with Fraction ----------


def model_value(text: str) -> tuple[Fraction, str]:
    """The value and format ParseQuantity gives a well-formed text with at least one digit."""
    match = re.fullmatch(r"([+-]?)(\d*)(?:\.(\d*))?(.*)", text)
    assert match
    sign, whole, frac, suffix = match.groups()
    frac = frac or ""
    number = Fraction(int((whole or "0") + frac), 10 ** len(frac))
    if suffix in DECIMAL_SUFFIXES:
        value, fmt = number * Fraction(10) ** DECIMAL_SUFFIXES[suffix], DECIMAL_SI
    elif suffix in BINARY_SUFFIXES:
        value, fmt = number * 2 ** BINARY_SUFFIXES[suffix], BINARY_SI
    else:
        value, fmt = number * Fraction(10) ** int(suffix[1:]), DECIMAL_EXPONENT
    if value:
        value = Fraction(math.ceil(value * 10**9), 10**9)
    if fmt == BINARY_SI:
        value = min(value, Fraction(INT64_MAX))
        if 0 < value < 1:
            fmt = DECIMAL_SI
    return (-value if sign == "-" else value), fmt


def model_canonical(value: Fraction, fmt: str) -> str:
    """String()'s canonical form of an exact value, with exponent notation past the SI range."""
    if not value:
        return "0"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if fmt == BINARY_SI and magnitude.denominator == 1 and magnitude >= 1024:
        number, power = magnitude.numerator, 0
        while number % 1024 == 0 and power < 6:
            number, power = number // 1024, power + 1
        return sign + str(number) + ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")[power]
    exponent = 300
    while (magnitude / Fraction(10) ** exponent).denominator != 1:
        exponent -= 3
    mantissa = int(magnitude / Fraction(10) ** exponent)
    if fmt in (DECIMAL_SI, BINARY_SI) and exponent in SI_BY_EXPONENT:
        suffix = SI_BY_EXPONENT[exponent]
    else:
        suffix = f"e{exponent}" if exponent else ""
    return sign + str(mantissa) + suffix


SUFFIXES = st.one_of(
    st.sampled_from([*DECIMAL_SUFFIXES, *BINARY_SUFFIXES]),
    st.builds(
        lambda letter, sign, exponent: f"{letter}{sign}{exponent}",
        st.sampled_from("eE"),
        st.sampled_from(["", "+", "-"]),
        st.integers(min_value=0, max_value=40),
    ),
)
DIGITS = st.text(alphabet="0123456789", max_size=24)


@st.composite
def quantity_texts(draw: st.DrawFn) -> str:
    """Well-formed quantity texts with at least one digit, canonical or not."""
    sign = draw(st.sampled_from(["", "+", "-"]))
    whole = draw(DIGITS)
    dotted = draw(st.booleans())
    frac = draw(DIGITS) if dotted else ""
    if not whole and not frac:
        whole = draw(st.text(alphabet="0123456789", min_size=1, max_size=3))
    return sign + whole + ("." + frac if dotted else "") + draw(SUFFIXES)


# ------------------------------------------------------------------------------------------------


class TestParse:
    def test_common_values(self) -> None:
        """Typical manifest values parse to their exact value and format."""
        assert (Fraction(1, 2), DECIMAL_SI) == (exact(Quantity.parse("500m")), "DecimalSI")
        assert Fraction(256 << 20) == exact(Quantity.parse("256Mi"))
        assert Quantity.parse("256Mi").format == BINARY_SI
        assert Fraction(3 << 29) == exact(Quantity.parse("1.5Gi"))
        assert Quantity.parse("1e3").format == DECIMAL_EXPONENT

    def test_format_errors_name_input_and_rule(self) -> None:
        """Text outside the grammar raises QuantityError with apimachinery's regex message."""
        assert parse_error("1.1.M") == f'quantity "1.1.M": {ERR_FORMAT_WRONG}'
        assert parse_error("") == f'quantity "": {ERR_FORMAT_WRONG}'
        assert parse_error("1 ") == f'quantity "1 ": {ERR_FORMAT_WRONG}'
        assert parse_error("0x10").endswith(ERR_FORMAT_WRONG)

    def test_suffix_errors(self) -> None:
        """Well-shaped but unknown suffixes raise the suffix error."""
        assert parse_error("12Q").endswith(ERR_FORMAT_WRONG)
        assert parse_error("1K") == f'quantity "1K": {ERR_SUFFIX}'
        assert parse_error("1e").endswith(ERR_SUFFIX)
        assert parse_error("1E+").endswith(ERR_SUFFIX)
        assert parse_error("--1").endswith(ERR_SUFFIX)
        assert parse_error("1e9223372036854775808").endswith(ERR_SUFFIX)

    def test_numeric_error_needs_the_slow_path(self) -> None:
        """A number with no digit parses as zero on the int64 fast path and fails otherwise."""
        assert Quantity.parse(".").is_zero()
        assert Quantity.parse("-").is_zero()
        assert Quantity.parse(".Ti").format == BINARY_SI
        assert parse_error(".Pi") == f'quantity ".Pi": {ERR_NUMERIC}'
        assert parse_error("-.e-10").endswith(ERR_NUMERIC)

    def test_error_type(self) -> None:
        """QuantityError is a ValueError and a PodselfError."""
        with pytest.raises(ValueError, match="unable to parse"):
            Quantity.parse("1iM")
        with pytest.raises(PodselfError):
            Quantity.parse("1iM")

    def test_error_text_is_quoted_and_bounded(self) -> None:
        """Control characters are escaped and very long inputs are shortened in messages."""
        assert parse_error('1"\n').startswith('quantity "1\\"\\n": ')
        message = parse_error("x" * 5000)
        assert '"' + "x" * 64 + '"... (5000 characters): ' in message
        assert len(message) < 300

    def test_non_string_is_a_type_error(self) -> None:
        """Only str is parsed; bytes and numbers are a TypeError (use from_json for numbers)."""
        with pytest.raises(TypeError):
            Quantity.parse(b"1")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Quantity.parse(1)  # type: ignore[arg-type]

    def test_rounds_up_to_nano(self) -> None:
        """Non-zero values round away from zero to a multiple of 1n."""
        assert str(Quantity.parse("0.1n")) == "1n"
        assert str(Quantity.parse("-0.1n")) == "-1n"
        assert str(Quantity.parse("1.1E-9")) == "2e-9"
        assert str(Quantity.parse("1e-999999999")) == "1e-9"

    def test_binary_cap_and_switch(self) -> None:
        """BinarySI caps at 2**63-1 and becomes DecimalSI between 0 and 1."""
        assert Quantity.parse("9Ei").value() == INT64_MAX
        assert exact(Quantity.parse("-9Ei")) == -INT64_MAX
        assert Quantity.parse("0.5Ki").format == BINARY_SI
        assert Quantity.parse("0.000000000001Ki").format == DECIMAL_SI
        assert Quantity.parse("-0.000000000001Ki").format == DECIMAL_SI

    def test_exponent_wraps_like_int32(self) -> None:
        """The exponent is converted to int32 as Go does, so e4294967296 means e0."""
        quantity = Quantity.parse("1e4294967296")
        assert quantity.value() == 1
        assert str(quantity) == "1e4294967296"

    def test_huge_exponent_stays_symbolic(self) -> None:
        """An exponent of a billion is parsed, printed and compared without expanding it."""
        quantity = Quantity.parse("1e1000000000")
        assert str(quantity) == "10e999999999"
        assert quantity > Quantity.parse("9Ei")
        assert quantity == Quantity.parse("100e999999998")
        assert quantity.cmp(Quantity.parse("1e999999999")) == 1

    def test_long_digit_strings(self) -> None:
        """Digit strings beyond Python's int/str conversion limit parse and print exactly."""
        digits = "7" * 9000
        quantity = Quantity.parse(digits + ".5")
        assert quantity.canonical() == digits + "500m"
        assert Quantity.parse("1" + "0" * 9000) == Quantity.parse("1e9000")

    def test_surrounding_whitespace_is_rejected(self) -> None:
        """parse() takes no whitespace; from_json() trims it."""
        assert parse_error(" 1").endswith(ERR_FORMAT_WRONG)
        assert str(Quantity.from_json(" 1")) == "1"

    def test_repeated_parse_is_equal(self) -> None:
        """Parsing the same text twice gives equal quantities with the same text."""
        first, second = Quantity.parse("750m"), Quantity.parse("750m")
        assert first == second
        assert str(first) == str(second)
        assert len(quantity_module._CACHE) <= quantity_module._CACHE_LIMIT


class TestString:
    def test_canonical_forms(self) -> None:
        """String() moves factors into the largest suffix without losing precision."""
        assert str(Quantity.parse("1.5")) == "1500m"
        assert str(Quantity.parse("1.5Gi")) == "1536Mi"
        assert str(Quantity.parse("1024Mi")) == "1Gi"
        assert str(Quantity.parse("0.001e12")) == "1e9"
        assert str(Quantity.parse("100.035Ki")) == "102435840m"
        assert str(Quantity.parse("-0")) == "0"

    def test_verbatim_text_is_kept(self) -> None:
        """Inputs apimachinery's fast path judges canonical are kept as typed."""
        for text, canonical in (("+5", "5"), ("007", "7"), ("1.500", "1500m"), ("967.E0", "967")):
            quantity = Quantity.parse(text)
            assert str(quantity) == text
            assert quantity.canonical() == canonical
            assert quantity == Quantity.parse(canonical)

    def test_non_verbatim_inputs_print_canonically(self) -> None:
        """Inputs with trailing zeros or an unaligned exponent are re-emitted canonically."""
        assert str(Quantity.parse("1000")) == "1k"
        assert str(Quantity.parse("8Ki")) == "8Ki"
        assert str(Quantity.parse("1e-05")) == "10e-6"

    def test_decimal_si_beyond_the_suffix_table(self) -> None:
        """DecimalSI values past E or below n print in exponent form instead of losing magnitude."""
        assert str(Quantity.parse("1000E")) == "1e21"
        assert str(Quantity.parse("1" + "0" * 22)) == "10e21"
        assert str(Quantity.from_scaled(1, -12)) == "1e-12"
        assert str(Quantity.from_scaled(1, -10)) == "100e-12"
        assert Quantity.parse("1000E") == Quantity.parse(str(Quantity.parse("1000E")))

    def test_binary_si_printing(self) -> None:
        """BinarySI prints n*1024**k for integers >= 1024, else as DecimalSI; past Ei, e-form."""
        assert str(Quantity.from_int(2000, BINARY_SI)) == "2000"
        assert str(Quantity.from_int(1023, BINARY_SI)) == "1023"
        assert str(Quantity.from_int(-3 << 30, BINARY_SI)) == "-3Gi"
        assert str(Quantity.from_milli(1500, BINARY_SI)) == "1500m"
        assert str(Quantity.from_int(1 << 70, BINARY_SI)) == "1180591620717411303424"
        assert str(Quantity(1, 70, BINARY_SI)) == "10e69"

    def test_unknown_format_prints_as_exponent(self) -> None:
        """A format string apimachinery does not know prints like DecimalExponent."""
        quantity = Quantity.from_int(1_000_000, "invalidFormatDefaultsToExponent")
        assert str(quantity) == "1e6"
        assert quantity.format == "invalidFormatDefaultsToExponent"

    def test_repr(self) -> None:
        """repr() shows the String() text and the format."""
        assert repr(Quantity.parse("1.5Gi")) == "<Quantity '1536Mi' BinarySI>"


class TestValues:
    def test_value_and_milli_value_round_up(self) -> None:
        """Value() and MilliValue() are ceilings."""
        assert Quantity.parse("1.5").value() == 2
        assert Quantity.parse("250m").value() == 1
        assert Quantity.parse("1n").milli_value() == 1
        assert Quantity.parse("5300m").milli_value() == 5300
        assert Quantity.parse("0").milli_value() == 0

    def test_negative_values_are_mathematical_ceilings(self) -> None:
        """Negative values round toward +infinity (ceil), not away from zero."""
        assert Quantity.parse("-1.5").value() == -1
        assert Quantity.parse("-0.5").value() == 0
        assert Quantity.parse("-1n").milli_value() == 0
        assert Quantity.parse("-2").value() == -2

    def test_scaled_value(self) -> None:
        """ScaledValue(scale) is ceil(q / 10**scale) for any scale."""
        assert Quantity.parse("1Gi").scaled_value(6) == 1074
        assert Quantity.parse("1").scaled_value(-9) == 10**9
        assert Quantity.parse("1n").scaled_value(1000) == 1
        assert Quantity.parse("-1n").scaled_value(1000) == 0

    def test_values_beyond_int64_are_exact(self) -> None:
        """Where Go's int64 would wrap, the exact integer is returned."""
        assert Quantity.parse("100E").value() == 10**20
        assert Quantity.parse("9Ei").milli_value() == INT64_MAX * 1000

    def test_go_values_follow_the_stored_representation(self) -> None:
        """go_value()/go_milli_value() are Go's int64 results, which beyond int64 depend on how
        the parser stored the number: an int64 amount wraps for the unrolled factors (x1000)
        and gives 0 for the others; an inf.Dec keeps the big result's low 64 bits."""
        assert Quantity.parse("1.5").go_value() == 2
        assert Quantity.parse("-1.5").go_value() == -2  # away from zero, unlike value()
        # 10**16 as 17 digits (int64 amount, scale 0): MilliValue multiplies by 1000 and wraps.
        assert Quantity.parse("10000000000000000").go_milli_value() == 10**19 - 2**64
        # The same number as 10e15 (scale 15): scaling by 10**18 loops, overflows, gives 0.
        assert Quantity.parse("10e15").go_milli_value() == 0
        # 20 digits: an inf.Dec, whose big quotient keeps its low 64 bits.
        assert Quantity.parse("18446744073709551617").go_value() == 1
        assert Quantity.parse("100E").go_value() == 0  # int64 amount 100, scale 18
        assert Quantity.parse("9Ei").go_milli_value() == (INT64_MAX * 1000 + 2**63) % 2**64 - 2**63
        # Exponents that no int64 can hold cost nothing.
        assert Quantity.parse("1e999999999").go_value() == 0
        assert Quantity.parse("1.5e999999999").go_value() == 0
        assert Quantity.parse("1e-999999999").go_value() == 1

    def test_go_values_survive_pickling(self) -> None:
        """The representation go_value() depends on is kept by pickle."""
        quantity = Quantity.parse("10e15")
        assert pickle.loads(pickle.dumps(quantity)).go_milli_value() == 0

    def test_result_size_is_bounded(self) -> None:
        """A result with more than MAX_VALUE_DIGITS digits raises instead of exhausting memory."""
        assert len(str(Quantity.parse(f"1e{MAX_VALUE_DIGITS - 1}").value())) == MAX_VALUE_DIGITS
        with pytest.raises(QuantityError, match="more than 4300 digits"):
            Quantity.parse("1e999999999").value()
        with pytest.raises(QuantityError):
            Quantity.from_scaled(1, -(10**6)).as_integer_ratio()

    def test_as_integer_ratio_is_in_lowest_terms(self) -> None:
        """as_integer_ratio() reduces like Fraction."""
        assert Quantity.parse("500m").as_integer_ratio() == (1, 2)
        assert Quantity.parse("-0.125").as_integer_ratio() == (-1, 8)
        assert Quantity.parse("1.5Gi").as_integer_ratio() == (3 << 29, 1)
        assert Quantity.parse("0").as_integer_ratio() == (0, 1)

    def test_round_up(self) -> None:
        """round_up(scale) rounds away from zero and keeps the format."""
        assert str(Quantity.parse("9.01").round_up(-1)) == "9100m"
        assert str(Quantity.parse("-9.01").round_up(0)) == "-10"
        quantity = Quantity.parse("1.5Gi")
        assert quantity.round_up(0) is quantity

    def test_sign_and_zero(self) -> None:
        """sign() and is_zero() follow the value."""
        assert [Quantity.parse(t).sign() for t in ("1n", "0Ki", "-3")] == [1, 0, -1]
        assert Quantity.parse("0.0").is_zero()
        assert not Quantity.parse("1n").is_zero()


class TestCompare:
    def test_numeric_equality_and_hash(self) -> None:
        """Equal values are equal and hash alike, whatever their format or spelling."""
        assert Quantity.parse("1Gi") == Quantity.parse("1024Mi")
        assert Quantity.parse("1k") == Quantity.parse("1e3")
        assert Quantity.parse("1.0") == Quantity.parse("1000m")
        assert len({Quantity.parse("1Gi"), Quantity.parse("1024Mi"), Quantity.parse("+1Gi")}) == 1

    def test_ordering(self) -> None:
        """Comparison operators and cmp() order by value."""
        small, large = Quantity.parse("100Gi"), Quantity.parse("10000T")
        assert small < large
        assert small <= large
        assert large > small
        assert large >= small
        assert small.cmp(large) == -1
        assert Quantity.parse("-1E").cmp(Quantity.parse("-1e999")) == 1
        assert sorted(Quantity.parse(t) for t in ("1", "-1", "1m")) == [
            Quantity.parse("-1"),
            Quantity.parse("1m"),
            Quantity.parse("1"),
        ]

    def test_other_types_do_not_compare(self) -> None:
        """A Quantity is never equal to a number and cannot be ordered against one."""
        assert Quantity.parse("1") != 1
        with pytest.raises(TypeError):
            _ = Quantity.parse("1") < 2


class TestConstructors:
    def test_exact_constructor_normalises(self) -> None:
        """Quantity(mantissa, exponent, format) is exact and ignores how the value is written."""
        assert Quantity(1500, -3) == Quantity(15, -1) == Quantity.parse("1.5")
        assert Quantity(0, 99).as_integer_ratio() == (0, 1)
        assert Quantity(1, -12).as_integer_ratio() == (1, 10**12)

    def test_new_quantity_helpers(self) -> None:
        """The from_* helpers mirror NewQuantity, NewMilliQuantity and NewScaledQuantity."""
        assert str(Quantity.from_int(1024, BINARY_SI)) == "1Ki"
        assert str(Quantity.from_int(1234000)) == "1234k"
        assert str(Quantity.from_milli(1024, BINARY_SI)) == "1024m"
        assert str(Quantity.from_scaled(1000, -6)) == "1m"

    def test_constructor_type_checks(self) -> None:
        """Non-integer mantissas and exponents and non-string formats are a TypeError."""
        with pytest.raises(TypeError):
            Quantity(1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            Quantity(True)
        with pytest.raises(TypeError):
            Quantity(1, 0, None)  # type: ignore[arg-type]


class TestFromJson:
    def test_strings_are_trimmed_like_go(self) -> None:
        """Go's TrimSpace removes Unicode spaces but not the ASCII separator controls."""
        assert str(Quantity.from_json("\u00a0 1Gi\u3000")) == "1Gi"
        with pytest.raises(QuantityError):
            Quantity.from_json("\x1c1")

    def test_numbers(self) -> None:
        """YAML/JSON numbers become the text Go's encoding/json writes for them."""
        assert str(Quantity.from_json(0.5)) == "500m"
        assert str(Quantity.from_json(1024)) == "1024"
        assert str(Quantity.from_json(1.0)) == "1"
        assert str(Quantity.from_json(1e20)) == "100E"
        assert str(Quantity.from_json(1e21)) == "1e+21"
        assert str(Quantity.from_json(1e-7)) == "100e-9"
        assert Quantity.from_json(1e-7).format == DECIMAL_EXPONENT
        assert str(Quantity.from_json(-0.0)) == "0"
        assert Quantity.from_json(10**30).value() == 10**30

    def test_null_is_zero(self) -> None:
        """JSON null unmarshals to zero."""
        assert Quantity.from_json(None).is_zero()

    def test_null_is_gos_zero_quantity(self) -> None:
        """UnmarshalJSON(null) leaves Format unset, as in Go's zero Quantity; it prints "0"."""
        null = Quantity.from_json(None)
        assert null.format == ""
        assert str(null) == "0"
        assert null == Quantity.parse("0")
        assert Quantity.from_json(0).format == DECIMAL_SI

    def test_unsupported_values(self) -> None:
        """Booleans, NaN, infinities and containers are rejected with QuantityError."""
        with pytest.raises(QuantityError, match='quantity "true"'):
            Quantity.from_json(True)
        with pytest.raises(QuantityError, match="nan"):
            Quantity.from_json(float("nan"))
        with pytest.raises(QuantityError):
            Quantity.from_json(float("-inf"))
        with pytest.raises(QuantityError, match="type list"):
            Quantity.from_json([1])  # type: ignore[arg-type]


class TestValueObject:
    def test_immutable(self) -> None:
        """Attributes cannot be set or deleted."""
        quantity = Quantity.parse("1")
        with pytest.raises(AttributeError):
            quantity.format = BINARY_SI
        with pytest.raises(AttributeError):
            del quantity.format

    def test_pickle_and_copy_keep_text_and_value(self) -> None:
        """Pickling and copying keep the value, the format and the verbatim text."""
        quantity = Quantity.parse("+1.500")
        for clone in (pickle.loads(pickle.dumps(quantity)), copy.copy(quantity)):
            assert quantity == clone
            assert str(clone) == "+1.500"
            assert clone.format == DECIMAL_SI
            assert clone.canonical() == "1500m"

    def test_runtime_imports_only(self) -> None:
        """The module imports nothing at module level beyond the runtime-path allowance."""
        tree = ast.parse(Path(quantity_module.__file__).read_text(encoding="utf-8"))
        allowed = {"__future__", "os", "sys", "stat", "errno", "types"}
        for node in tree.body:
            if isinstance(node, ast.Import):
                assert {alias.name for alias in node.names} <= allowed
            elif isinstance(node, ast.ImportFrom):
                assert node.module is not None
                assert node.module in allowed or node.module.startswith("podself.")


class TestProperties:
    @settings(max_examples=400)
    @given(quantity_texts())
    def test_parse_matches_the_model(self, text: str) -> None:
        """The parsed value and format match an independent Fraction model of ParseQuantity."""
        quantity = Quantity.parse(text)
        value, fmt = model_value(text)
        assert value == exact(quantity)
        assert fmt == quantity.format
        assert model_canonical(value, fmt) == quantity.canonical()
        assert str(quantity) in (text, quantity.canonical())

    @settings(max_examples=400)
    @given(quantity_texts())
    def test_string_round_trips(self, text: str) -> None:
        """parse(str(q)) == q and str(parse(str(q))) == str(q); likewise for canonical()."""
        quantity = Quantity.parse(text)
        again = Quantity.parse(str(quantity))
        assert quantity == again
        assert str(quantity) == str(again)
        canonical = Quantity.parse(quantity.canonical())
        assert quantity == canonical
        assert quantity.canonical() == str(canonical) == canonical.canonical()

    @given(quantity_texts(), st.integers(min_value=-12, max_value=12))
    def test_values_are_exact_ceilings(self, text: str, scale: int) -> None:
        """value(), milli_value() and scaled_value() equal the ceiling of the exact fraction."""
        quantity = Quantity.parse(text)
        value = exact(quantity)
        assert math.ceil(value) == quantity.value()
        assert math.ceil(value * 1000) == quantity.milli_value()
        assert math.ceil(value / Fraction(10) ** scale) == quantity.scaled_value(scale)
        numerator, denominator = quantity.as_integer_ratio()
        assert math.gcd(numerator, denominator) == 1
        assert denominator > 0

    @given(quantity_texts(), quantity_texts())
    def test_comparison_matches_fractions(self, left: str, right: str) -> None:
        """cmp(), ==, < and hash() agree with exact fractions."""
        a, b = Quantity.parse(left), Quantity.parse(right)
        x, y = exact(a), exact(b)
        assert ((x > y) - (x < y)) == a.cmp(b)
        assert (x == y) == (a == b)
        assert (x < y) == (a < b)
        assert (x >= y) == (a >= b)
        if a == b:
            assert hash(a) == hash(b)

    @given(st.floats(allow_nan=False, allow_infinity=False))
    def test_json_floats(self, number: float) -> None:
        """A float unmarshals to its shortest decimal, rounded up to 1n, in Go's JSON notation."""
        quantity = Quantity.from_json(number)
        shortest = Fraction(repr(number))
        expected = Fraction(math.ceil(abs(shortest) * 10**9), 10**9) if shortest else shortest
        assert (-expected if shortest < 0 else expected) == exact(quantity)
        magnitude = abs(number)
        exponent_form = magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21)
        assert exponent_form == (quantity.format == DECIMAL_EXPONENT)

    @given(
        st.integers(min_value=-INT64_MAX, max_value=INT64_MAX),
        st.sampled_from([BINARY_SI, DECIMAL_SI, DECIMAL_EXPONENT]),
    )
    def test_constructed_values_round_trip(self, number: int, fmt: str) -> None:
        """NewQuantity values print as text that parses back to the same number."""
        quantity = Quantity.from_int(number, fmt)
        assert number == quantity.value()
        assert quantity == Quantity.parse(str(quantity))

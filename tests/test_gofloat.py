"""podself._gofloat against Go's own strconv.FormatFloat(v, 'g', -1, 64/32) and encoding/json,
recorded with Go 1.19 (Debian's golang-go)."""

from __future__ import annotations

import math

import pytest

from podself._gofloat import format_g, format_json

# value, FormatFloat 'g' 64, FormatFloat 'g' 32, json.Marshal
RECORDED = [
    (0.0, "0", "0", "0"),
    (-0.0, "-0", "-0", "-0"),
    (1.0, "1", "1", "1"),
    (-1.5, "-1.5", "-1.5", "-1.5"),
    (1e6, "1e+06", "1e+06", "1000000"),
    (999999.0, "999999", "999999", "999999"),
    (1e-5, "1e-05", "1e-05", "0.00001"),
    (0.0001, "0.0001", "0.0001", "0.0001"),
    (0.0001234, "0.0001234", "0.0001234", "0.0001234"),
    (123456.0, "123456", "123456", "123456"),
    (1234567.0, "1.234567e+06", "1.234567e+06", "1234567"),
    (1e20, "1e+20", "1e+20", "100000000000000000000"),
    (1e21, "1e+21", "1e+21", "1e+21"),
    (1e-6, "1e-06", "1e-06", "0.000001"),
    (1e-7, "1e-07", "1e-07", "1e-7"),
    (5e-324, "5e-324", "0", "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308", None, "1.7976931348623157e+308"),
    (0.1, "0.1", "0.1", "0.1"),
    (100.0, "100", "100", "100"),
    (1e22, "1e+22", "1e+22", "1e+22"),
    (3.4028234663852886e38, "3.4028234663852886e+38", "3.4028235e+38", "3.4028234663852886e+38"),
    (1.4e-45, "1.4e-45", "1e-45", "1.4e-45"),
    (123456789.0, "1.23456789e+08", "1.2345679e+08", "123456789"),
    (2.5e-8, "2.5e-08", "2.5e-08", "2.5e-8"),
    (12345678901234567890.0, "1.2345678901234567e+19", "1.2345679e+19", "12345678901234567000"),
]


@pytest.mark.parametrize(("value", "g64", "g32", "json"), RECORDED, ids=repr)
def test_as_go_writes_it(value: float, g64: str, g32: str | None, json: str) -> None:
    assert format_g(value) == g64
    if g32 is not None:  # None: +Inf as a float32, spelled by each caller
        assert format_g(value, 32) == g32
    assert format_json(value) == json


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_json_cannot_carry_nan_or_infinity(value: float) -> None:
    with pytest.raises(ValueError, match="JSON cannot represent"):
        format_json(value)

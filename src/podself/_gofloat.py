"""Go's float formatting with the shortest digits (``strconv.FormatFloat(v, fmt, -1, bits)``).

Python's ``repr`` gives the shortest digits that read back as the same float64, exactly the
digits Go's precision -1 picks; a float32's are found by rounding through ``struct``. Two
layouts are used: ``'g'`` (go-yaml, kubectl's printers) switches to the exponent form below
1e-4 and from 1e6 with at least two exponent digits; ``encoding/json`` switches below 1e-6 and
from 1e21 and writes ``e-7`` rather than ``e-07``. Infinities and NaN are the callers' to
spell (YAML, JSON and map keys each do it differently).
"""

from __future__ import annotations

import math
import struct

__all__ = ["format_g", "format_json"]


def _shortest(value: float, bits: int) -> tuple[str, str, int]:
    """(sign, significant digits, decimal exponent of the first digit) of finite ``value``;
    the digits are empty for zero."""
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    value = abs(value)
    if value == 0:
        return sign, "", 0
    if bits == 32:
        single = struct.unpack("f", struct.pack("f", value))[0]
        for places in range(9):
            text = f"{single:.{places}e}"
            if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
                break
    else:
        text = repr(value)
    body, _, exp_text = text.partition("e")
    whole, _, frac = body.partition(".")
    digits = (whole + frac).lstrip("0")
    significant = digits.rstrip("0")
    # value = significant * 10**power, and the first digit stands at 10**exponent.
    power = int(exp_text or "0") - len(frac) + len(digits) - len(significant)
    return sign, significant, power + len(significant) - 1


def _layout(sign: str, significant: str, exponent: int, exponent_text: str | None) -> str:
    if not significant:
        return sign + "0"
    if exponent_text is not None:
        mantissa = significant[0] + ("." + significant[1:] if len(significant) > 1 else "")
        return f"{sign}{mantissa}e{exponent_text}"
    point = exponent + 1
    if point >= len(significant):
        return sign + significant + "0" * (point - len(significant))
    if point > 0:
        return f"{sign}{significant[:point]}.{significant[point:]}"
    return f"{sign}0.{'0' * -point}{significant}"


def format_g(value: float, bits: int = 64) -> str:
    """``strconv.FormatFloat(value, 'g', -1, bits)`` for a finite value (``1e+06``, ``0.5``)."""
    sign, significant, exponent = _shortest(value, bits)
    wide = significant and (exponent < -4 or exponent >= 6)
    text = f"{'-' if exponent < 0 else '+'}{abs(exponent):02d}" if wide else None
    return _layout(sign, significant, exponent, text)


def format_json(value: float) -> str:
    """What ``encoding/json`` writes for a finite float64 (``1000``, ``1e+21``, ``1e-7``);
    ``ValueError`` for NaN and infinities, which JSON cannot carry."""
    if not math.isfinite(value):
        msg = f"JSON cannot represent {value}"
        raise ValueError(msg)
    sign, significant, exponent = _shortest(value, 64)
    wide = significant and (exponent < -6 or exponent >= 21)
    text = (f"-{-exponent}" if exponent < 0 else f"+{exponent}") if wide else None
    return _layout(sign, significant, exponent, text)

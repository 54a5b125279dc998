"""YAML scalars as kubectl reads them.

kubectl turns YAML into JSON with sigs.k8s.io/yaml on go-yaml v2, whose plain scalars follow
rules of their own (neither YAML 1.2 nor PyYAML's YAML 1.1): ``y``, ``N``, ``on`` and ``off``
are booleans, ``0o22``, ``010`` and ``0x1F`` integers, ``08`` and ``1e3`` floats, ``12:30`` and
dates strings. The API server then decodes the JSON, so a float that Go's encoder writes
without a fraction (``1e3`` → ``1000``, ``420.0`` → ``420``) is an integer to it, NaN and
infinities cannot be sent at all, and a non-string map key becomes a string (``y:`` → ``"true"``).

:func:`plain_scalar` gives the JSON value an unquoted scalar becomes, :func:`map_key` the key
string, and :func:`typing_note` says when that value is not the text it looks like. Quoted and
block scalars are always strings and never pass through here.
"""

from __future__ import annotations

import json
import math
import re
from typing import Final

from podself._gofloat import format_g, format_json
from podself.errors import ManifestError

__all__ = [
    "JsonScalar",
    "json_value",
    "map_key",
    "plain_scalar",
    "resolve_plain",
    "typing_note",
]

JsonScalar = None | bool | int | float | str

# go-yaml v2 resolve.go: resolveMap and the first-character hints of resolveTable.
_TRUE: Final = ("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON")
_FALSE: Final = ("n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF")
_NAN: Final = float("nan")
_INF: Final = float("inf")
_MAP: Final[dict[str, JsonScalar]] = {
    **dict.fromkeys(_TRUE, True),
    **dict.fromkeys(_FALSE, False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), _NAN),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), _INF),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -_INF),
}
_NUMBER_START: Final = frozenset("+-0123456789")
_YAML_FLOAT: Final = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT: Final = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")
_BASES: Final = {"0x": 16, "0X": 16, "0o": 8, "0O": 8, "0b": 2, "0B": 2}
_DIGITS: Final = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
_INT64: Final = 1 << 63
_FLOAT32_MAX: Final = 3.4028235677973366e38  # values above round to +Inf as a float32
_UINT64: Final = 1 << 64


def _go_parse_int(text: str, *, signed: bool) -> int | None:
    # strconv.ParseInt/ParseUint with base 0 (underscores already removed): a sign (ParseInt
    # only), then 0x/0o/0b or a leading 0 (octal) or decimal digits; None on any error.
    sign = 1
    if signed and text[:1] in ("+", "-"):
        sign = -1 if text[0] == "-" else 1
        text = text[1:]
    base = _BASES.get(text[:2], 0)
    if base:
        text = text[2:]
    elif len(text) > 1 and text[0] == "0":
        base, text = 8, text[1:]
    else:
        base = 10
    if not text or text.strip(_DIGITS[base]):
        return None
    value = sign * int(text, base)
    if signed:
        return value if -_INT64 <= value < _INT64 else None
    return value if value < _UINT64 else None


def _go_parse_float(digits: str, text: str) -> float | str:
    # strconv.ParseFloat: a value beyond float64 is a range error, and go-yaml then keeps the
    # scalar as a string (underflow to zero is no error).
    value = float(digits)
    return text if value in (_INF, -_INF) else value


def _underscores_ok(text: str) -> bool:
    # strconv's underscoreOK for decimal text: each "_" between two digits.
    previous = "^"
    for char in text:
        if char == "_":
            if previous != "0":
                return False
            previous = "_"
        elif "0" <= char <= "9":
            previous = "0"
        elif previous == "_":
            return False
        else:
            previous = "!"
    return previous != "_"


def resolve_plain(text: str) -> JsonScalar:
    """What go-yaml v2 makes of the plain (unquoted) scalar ``text``: None, a bool, an int
    (int64 or uint64), a float (NaN and infinities included) or the string itself."""
    if text in _MAP:
        return _MAP[text]
    first = text[:1]
    if first == ".":
        # strconv.ParseFloat on the text itself, underscores between digits allowed.
        digits = text.replace("_", "")
        if _DOT_FLOAT.fullmatch(digits) and _underscores_ok(text):
            return _go_parse_float(digits, text)
        return text
    if first not in _NUMBER_START:
        return text
    # A timestamp stays a string when decoded into interface{}, as does anything below.
    plain = text.replace("_", "")
    number = _go_parse_int(plain, signed=True)
    if number is None:
        number = _go_parse_int(plain, signed=False)
    if number is not None:
        return number
    if _YAML_FLOAT.fullmatch(plain):
        return _go_parse_float(plain, text)
    return text


def plain_scalar(text: str) -> JsonScalar:
    """The JSON value the API server receives for the plain scalar ``text``.

    Floats go through Go's JSON encoding, so an integral one below 1e21 arrives as an int.
    Raises :class:`~podself.errors.ManifestError` for NaN and infinities, which JSON cannot
    carry (kubectl fails the same way).
    """
    return json_value(resolve_plain(text), text)


def json_value(value: JsonScalar, text: str) -> JsonScalar:
    """``value`` (resolved from the scalar ``text``) as the API server receives it: floats go
    through Go's JSON encoding; NaN and infinities raise :class:`ManifestError`."""
    if not isinstance(value, float):
        return value
    if not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        msg = f"error converting YAML to JSON: json: unsupported value: {shown} (from {text!r})"
        raise ManifestError(msg)
    converted: int | float = json.loads(format_json(value))
    return converted


def _float32_shortest(value: float) -> str:
    # strconv.FormatFloat(v, 'g', -1, 32), with go-yaml's spelling of a float32 infinity.
    if abs(value) >= _FLOAT32_MAX:  # float32(v) is an infinity
        return ".inf" if value > 0 else "-.inf"
    return format_g(value, 32)


def map_key(key: JsonScalar) -> str:
    """The string sigs.k8s.io/yaml makes of a resolved map key (``y`` → ``"true"``,
    ``1e3`` → ``"1000"``); a null key is an error, as it is for kubectl."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int) and key < _INT64:
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if key in (_INF, -_INF):
            return ".inf" if key > 0 else "-.inf"
        return _float32_shortest(key)
    kind = "<nil>" if key is None else "uint64"
    shown = "<nil>" if key is None else key
    msg = f"error converting YAML to JSON: Unsupported map key of type: {kind}, key: {shown}"
    raise ManifestError(msg)


def typing_note(text: str) -> str | None:
    """A warning when the plain scalar ``text`` is not the string it looks like to Kubernetes
    (``y`` → "`y` is the boolean true in Kubernetes YAML; quote it"), else None."""
    try:
        value = plain_scalar(text)
    except ManifestError as exc:
        return str(exc)
    if isinstance(value, str) or text == "":
        return None  # an empty value is plainly meant to be empty
    if value is None:
        what = "null"
    elif isinstance(value, bool):
        what = f"the boolean {'true' if value else 'false'}"
    else:
        what = f"the number {json.dumps(value)}"
    return f"`{text}` is {what} in Kubernetes YAML; quote it if a string is meant"

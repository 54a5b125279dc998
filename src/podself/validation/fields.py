"""Field errors as the API server reports them, and reading a field as its decoder does.

:class:`FieldError` is apimachinery's ``field.Error`` (type, path, bad value printed the Go way,
detail). The readers (:func:`read_string`, :func:`read_int32`, :func:`check_int64`) return a
field's value or report a value of the wrong JSON type as :data:`TYPE_INVALID`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from podself.downward import go_quote

# field.ErrorType values, as Kubernetes spells them in API responses (Status.details.causes).
REQUIRED: Final = "FieldValueRequired"
NOT_FOUND: Final = "FieldValueNotFound"
TOO_LONG: Final = "FieldValueTooLong"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
FORBIDDEN: Final = "FieldValueForbidden"
DUPLICATE: Final = "FieldValueDuplicate"
# A value of the wrong JSON type: the API server fails such a request while decoding it, before
# validation, with no field error; it is reported here on the field instead.
TYPE_INVALID: Final = "FieldValueTypeInvalid"
# A field the target release's API does not have: kubectl's strict field validation (its
# default) makes the API server refuse the request while decoding it, with
# `strict decoding error: unknown field "<path>"`; ``str()`` gives that phrase.
UNKNOWN_FIELD: Final = "FieldValueUnknown"

_TYPE_STRINGS: Final = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    FORBIDDEN: "Forbidden",
    DUPLICATE: "Duplicate value",
    NOT_FOUND: "Not found",
    TOO_LONG: "Too long",
    TYPE_INVALID: "Invalid value",
    UNKNOWN_FIELD: "unknown field",
}
_VALUELESS_TYPES: Final = frozenset({REQUIRED, FORBIDDEN, TOO_LONG, UNKNOWN_FIELD})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One validation error, as ``k8s.io/apimachinery/pkg/util/validation/field.Error``.

    ``type`` is the Kubernetes ``ErrorType`` (``"FieldValueInvalid"``…), ``field`` the full
    path, ``bad_value`` the offending value (``None`` for Required and Forbidden, which never
    show one) and ``detail`` the explanation. ``str(err)`` is ``field.Error.Error()``.
    """

    type: str
    field: str
    bad_value: object = None
    detail: str = ""

    @property
    def body(self) -> str:
        """``ErrorBody()``: the message without the leading field path."""
        kind = _TYPE_STRINGS.get(self.type, f"<unknown error {go_quote(self.type)}>")
        if self.type not in _VALUELESS_TYPES:
            kind = f"{kind}: {_go_value(self.bad_value)}"
        return f"{kind}: {self.detail}" if self.detail else kind

    def __str__(self) -> str:
        if self.type == UNKNOWN_FIELD:
            return f"unknown field {go_quote(self.field)}"
        return f"{self.field}: {self.body}"


def _go_float(value: float) -> str:
    # fmt %v of a float64: strconv 'g' with the shortest digits, exponent when < -4 or >= 6.
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from podself._gofloat import format_g  # few manifests hold a float

    return format_g(value)


def _go_value(value: object) -> str:
    # int64/int32/float64/bool print with %v, strings with %q, anything else as JSON.
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    try:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(value)
    # encoding/json escapes these for HTML safety.
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def supported_values(values: Sequence[str]) -> str:
    # field.NotSupported's detail: each value strconv.Quote'd, ", "-joined, sorted.
    return "supported values: " + ", ".join(go_quote(v) for v in sorted(values))


def is_map(value: object) -> bool:
    return isinstance(value, (dict, Mapping))


def is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def list_element(value: object) -> Any:
    """A list element as the API server decodes it: ``null`` becomes the zero object."""
    return {} if value is None else value


def type_error(field: str, value: object, kind: str) -> FieldError:
    return FieldError(TYPE_INVALID, field, value, f"must be of type {kind}")


def read_string(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> str | None:
    """The string at ``key`` ("" when absent or null), or None after reporting a wrong type."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errs.append(type_error(f"{field}.{key}", value, "string"))
    return None


def read_int32(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> int | None:
    """The int32 at ``key`` (None when absent, null or after reporting a wrong type)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT32_MIN <= value <= _INT32_MAX:
            return value
        errs.append(type_error(f"{field}.{key}", value, "int32"))
        return None
    errs.append(type_error(f"{field}.{key}", value, "integer"))
    return None


def check_int64(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> None:
    """Report the value at ``key`` unless it is absent, null or an int64 (what the API
    server's decoder accepts: not 1.5, not 1e309, not 2**63)."""
    value = obj.get(key)
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64_MIN <= value <= _INT64_MAX:
            errs.append(type_error(f"{field}.{key}", value, "int64"))
        return
    errs.append(type_error(f"{field}.{key}", value, "integer"))

"""The Downward API's two selectors, shared by env vars and ``downwardAPI`` volume items.

``fieldRef``: the pod fields each may expose, and ``ConvertDownwardAPIFieldLabel``;
``resourceFieldRef``: resource names, divisors, and quantities as the API server reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from podself.downward import (
    CPU_DIVISORS,
    ENV_FIELD_PATHS,
    HUGEPAGES_PREFIXES,
    MEMORY_DIVISORS,
    RESOURCE_NAMES,
    VOLUME_FIELD_PATHS,
    divisor_error_detail,
    go_lower,
    split_maybe_subscripted_path,
)
from podself.errors import FieldPathError, QuantityError
from podself.quantity import DECIMAL_SI, ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, Quantity
from podself.validation.decode import OBJECT_FIELD_FIELDS, RESOURCE_FIELD_FIELDS, unknown_keys
from podself.validation.fields import (
    INVALID,
    NOT_SUPPORTED,
    REQUIRED,
    TYPE_INVALID,
    FieldError,
    read_string,
    supported_values,
)
from podself.validation.names import qualified_key_errors

# --- fieldRef and ConvertDownwardAPIFieldLabel ----------------------------------------------------

ENV_PATHS: Final = frozenset(ENV_FIELD_PATHS)
VOLUME_PATHS: Final = frozenset(VOLUME_FIELD_PATHS)

ENV_PATHS_DETAIL: Final = supported_values(ENV_FIELD_PATHS)
VOLUME_PATHS_DETAIL: Final = supported_values(VOLUME_FIELD_PATHS)

# ConvertDownwardAPIFieldLabel's accepted labels (a superset of what env and volumes allow).
_CONVERTIBLE_LABELS: Final = frozenset(
    {
        "metadata.annotations",
        "metadata.labels",
        "metadata.name",
        "metadata.namespace",
        "metadata.uid",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.serviceAccountName",
        "spec.schedulerName",
        "status.phase",
        "status.hostIP",
        "status.hostIPs",
        "status.podIP",
        "status.podIPs",
    }
)


def _convert_label(version: str, label: str) -> tuple[str, str]:
    # (converted label, "") on success, ("", Go error text) on failure.
    if version != "v1":
        return "", f"unsupported pod version: {version}"
    path, _, subscripted = split_maybe_subscripted_path(label)
    if subscripted:
        if path in ("metadata.annotations", "metadata.labels"):
            return label, ""
        return "", f"field label does not support subscript: {label}"
    if label in _CONVERTIBLE_LABELS:
        return label, ""
    if label == "spec.host":  # old v1 clients sent spec.host
        return "spec.nodeName", ""
    return "", f"field label not supported: {label}"


def convert_downward_api_field_label(version: str, label: str, value: str) -> tuple[str, str]:
    """Convert a v1 Downward API field label as ``pods.ConvertDownwardAPIFieldLabel`` does.

    Returns ``(label, value)``; the legacy ``spec.host`` becomes ``spec.nodeName``. Raises
    ``FieldPathError`` with the Kubernetes message (``unsupported pod version: v2``, ``field
    label does not support subscript: …``, ``field label not supported: …``).
    """
    converted, error = _convert_label(version, label)
    if error:
        raise FieldPathError(error)
    return converted, value


def object_field_selector(
    selector: Mapping[str, Any],
    allowed: frozenset[str],
    allowed_detail: str,
    field: str,
    errs: list[FieldError],
    *,
    defaults: bool,
) -> None:
    # validateObjectFieldSelector
    if unknown_keys(selector, OBJECT_FIELD_FIELDS, field, errs):
        return
    version = read_string(selector, "apiVersion", field, errs)
    if version is None:
        return
    if not version:
        if not defaults:
            errs.append(FieldError(REQUIRED, f"{field}.apiVersion"))
            return
        version = "v1"  # SetDefaults_ObjectFieldSelector
    field_path = read_string(selector, "fieldPath", field, errs)
    if field_path is None:
        return
    if not field_path:
        errs.append(FieldError(REQUIRED, f"{field}.fieldPath"))
        return
    if field_path in allowed and version == "v1":
        return  # the common case: an allowed plain path converts to itself
    internal, error = _convert_label(version, field_path)
    if error:
        errs.append(
            FieldError(
                INVALID, f"{field}.fieldPath", field_path, f"error converting fieldPath: {error}"
            )
        )
        return
    path, key, subscripted = split_maybe_subscripted_path(internal)
    if subscripted:
        if path == "metadata.annotations":
            key = go_lower(key)
        elif path != "metadata.labels":
            # Unreachable in practice: the conversion above already refused the subscript.
            errs.append(FieldError(INVALID, field, path, "does not support subscript"))
            return
        errs.extend(FieldError(INVALID, field, key, msg) for msg in qualified_key_errors(key))
    elif path not in allowed:
        errs.append(FieldError(NOT_SUPPORTED, f"{field}.fieldPath", path, allowed_detail))


# --- resourceFieldRef -----------------------------------------------------------------------------

_RESOURCES: Final = frozenset(RESOURCE_NAMES)
_HUGEPAGES: Final = tuple(HUGEPAGES_PREFIXES)
_CPU_DIVISORS: Final = frozenset(CPU_DIVISORS)
_MEMORY_DIVISORS: Final = frozenset(MEMORY_DIVISORS)

_RESOURCES_DETAIL: Final = supported_values(RESOURCE_NAMES)

_CPU_DIVISOR_MSG: Final = divisor_error_detail("limits.cpu")
_MEMORY_DIVISOR_MSG: Final = divisor_error_detail("limits.memory")
_STORAGE_DIVISOR_MSG: Final = divisor_error_detail("limits.ephemeral-storage")
_HUGEPAGES_DIVISOR_MSG: Final = divisor_error_detail("limits.hugepages-2Mi")

# validateContainerResourceDivisor's switch; hugepages-* is checked separately after it.
_DIVISOR_RULES: Final = {
    "limits.cpu": (_CPU_DIVISORS, _CPU_DIVISOR_MSG),
    "requests.cpu": (_CPU_DIVISORS, _CPU_DIVISOR_MSG),
    "limits.memory": (_MEMORY_DIVISORS, _MEMORY_DIVISOR_MSG),
    "requests.memory": (_MEMORY_DIVISORS, _MEMORY_DIVISOR_MSG),
    "limits.ephemeral-storage": (_MEMORY_DIVISORS, _STORAGE_DIVISOR_MSG),
    "requests.ephemeral-storage": (_MEMORY_DIVISORS, _STORAGE_DIVISOR_MSG),
}


def _divisor(value: object) -> tuple[str, bool, str]:
    # (String(), is zero, "") or ("", False, the decoding error); Quantity caches parses.
    try:
        quantity = Quantity.from_json(value)  # type: ignore[arg-type]
    except QuantityError as exc:
        message = str(exc)
        # The API server's decode error ends with apimachinery's bare parse error.
        for rule in (ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX):
            if message.endswith(rule):
                return "", False, rule
        return "", False, message
    return api_quantity_string(quantity), quantity.is_zero(), ""


def api_quantity_string(quantity: Quantity) -> str:
    """``String()`` as the API server's apimachinery computes it when it checks a divisor.

    It differs from ``str(quantity)`` in one case: a DecimalSI value past the ``E`` suffix
    (``1000E``, ``1000000000000000000000``) has no suffix, and apimachinery prints the
    mantissa alone, so ``1000E`` is ``"1"`` and passes as the divisor ``1`` (podself's own
    ``str()`` keeps the magnitude: ``1e21``).
    """
    text = str(quantity)
    if quantity.format == DECIMAL_SI and "e" in text:
        return text.partition("e")[0]
    return text


def quantity_decode_error(value: object) -> str | None:
    """apimachinery's error for a quantity the API server cannot decode (a divisor, a
    resource limit or request), or None when ``value`` decodes (``null`` is zero)."""
    return _divisor(value)[2] or None


def resource_field_selector(
    selector: Mapping[str, Any], field: str, errs: list[FieldError], volume: bool
) -> None:
    # validateContainerResourceFieldSelector + validateContainerResourceDivisor
    if unknown_keys(selector, RESOURCE_FIELD_FIELDS, field, errs):
        return
    container = read_string(selector, "containerName", field, errs)
    resource = read_string(selector, "resource", field, errs)
    if volume and container == "":
        errs.append(FieldError(REQUIRED, f"{field}.containerName"))
    elif resource == "":
        errs.append(FieldError(REQUIRED, f"{field}.resource"))
    elif (
        resource is not None and resource not in _RESOURCES and not resource.startswith(_HUGEPAGES)
    ):
        errs.append(FieldError(NOT_SUPPORTED, f"{field}.resource", resource, _RESOURCES_DETAIL))
    divisor = selector.get("divisor")
    if divisor is None or resource is None:
        return
    canonical, zero, error = _divisor(divisor)
    if error:
        # The API server refuses the whole request while decoding the quantity.
        errs.append(FieldError(TYPE_INVALID, f"{field}.divisor", divisor, error))
        return
    if zero:
        return
    rule = _DIVISOR_RULES.get(resource)
    if rule is not None and canonical not in rule[0]:
        errs.append(FieldError(INVALID, f"{field}.divisor", resource, rule[1]))
    if resource.startswith(_HUGEPAGES) and canonical not in _MEMORY_DIVISORS:
        errs.append(FieldError(INVALID, f"{field}.divisor", resource, _HUGEPAGES_DIVISOR_MSG))

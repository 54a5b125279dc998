"""The API server's validation of Downward API usage, reproduced rule for rule.

Env vars (``fieldRef``, ``resourceFieldRef`` and the ``valueFrom`` rules around them),
``downwardAPI`` volumes and ``projected`` volumes give the same errors — field path, type, bad
value and detail — as ``pkg/apis/core/validation`` after v1 defaulting, for one Kubernetes
release at a time (1.30 to 1.35, default the latest; see :func:`kubernetes_target`).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from podself.downward import (
    CPU_DIVISORS,
    ENV_FIELD_PATHS,
    HUGEPAGES_PREFIXES,
    MEMORY_DIVISORS,
    RESOURCE_NAMES,
    VOLUME_FIELD_PATHS,
    divisor_error_detail,
    go_quote,
    qualified_name_errors,
    split_maybe_subscripted_path,
)
from podself.errors import FieldPathError, ManifestError, QuantityError
from podself.quantity import DECIMAL_SI, ERR_FORMAT_WRONG, ERR_NUMERIC, ERR_SUFFIX, Quantity

__all__ = [
    "DEFAULT_KUBERNETES_VERSION",
    "DUPLICATE",
    "FORBIDDEN",
    "INVALID",
    "MAX_GENERATED_NAME_BASE",
    "NOT_FOUND",
    "NOT_SUPPORTED",
    "REQUIRED",
    "SUPPORTED_KUBERNETES_VERSIONS",
    "TOO_LONG",
    "TOTAL_ANNOTATION_SIZE",
    "TYPE_INVALID",
    "UNKNOWN_FIELD",
    "FieldError",
    "api_quantity_string",
    "convert_downward_api_field_label",
    "decode_error",
    "default_off_gate",
    "dns1123_label_errors",
    "dns1123_subdomain_errors",
    "go_lower",
    "known_fields",
    "kubernetes_target",
    "kubernetes_target_version",
    "label_value_errors",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "parse_kubernetes_version",
    "path_segment_errors",
    "quantity_decode_error",
    "validate_annotations",
    "validate_config_object",
    "validate_env",
    "validate_labels",
    "validate_metadata_maps",
    "validate_object_meta",
    "validate_pod_spec",
    "validate_pod_spec_downward",
    "validate_volume",
]

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


# --- target Kubernetes release ---------------------------------------------------------------

# The releases whose API differences are modelled (docs/reference/validation.md lists them).
SUPPORTED_KUBERNETES_VERSIONS: Final = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION: Final = SUPPORTED_KUBERNETES_VERSIONS[-1]
_VERSION_RE: Final = re.compile(r"v?1\.(0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,5}))?")
# The target release's minor version; the public validators set it for one call, and
# kubernetes_target() for a block (lint and run validate many objects for one release).
_MINOR: ContextVar[int] = ContextVar(
    "podself_kubernetes_minor", default=int(DEFAULT_KUBERNETES_VERSION.partition(".")[2])
)


def parse_kubernetes_version(text: str) -> str:
    """``"1.34"``, ``"v1.34"`` or ``"1.34.2"`` as ``"1.34"``; raises
    :class:`~podself.errors.ManifestError` for anything outside
    :data:`SUPPORTED_KUBERNETES_VERSIONS`."""
    match = _VERSION_RE.fullmatch(text) if len(text) <= 16 else None
    version = f"1.{match.group(1)}" if match else None
    if version not in SUPPORTED_KUBERNETES_VERSIONS:
        supported = f"{SUPPORTED_KUBERNETES_VERSIONS[0]} to {DEFAULT_KUBERNETES_VERSION}"
        msg = f"unsupported Kubernetes version {text[:40]!r}: podself models {supported}"
        raise ManifestError(msg)
    return version


def kubernetes_target_version() -> str:
    """The release the validators currently follow, e.g. ``"1.35"``."""
    return f"1.{_minor()}"


@contextmanager
def kubernetes_target(version: str | None) -> Iterator[None]:
    """Validate inside the block as the API server of ``version`` (e.g. ``"1.34"``) does;
    ``None`` keeps the current target (by default :data:`DEFAULT_KUBERNETES_VERSION`)."""
    if version is None:
        yield
        return
    token = _MINOR.set(int(parse_kubernetes_version(version).partition(".")[2]))
    try:
        yield
    finally:
        _MINOR.reset(token)


def _minor() -> int:
    return _MINOR.get()


# Fields behind a feature gate that is off by default in some supported release: (gate, first
# minor with the field, first minor with the gate on by default or None). With the gate off the
# API server drops the field before validating; the validators treat it as on.
_GATED_FIELDS: Final = {
    "fileKeyRef": ("EnvFiles", 34, 35),
    "podCertificate": ("PodCertificateRequest", 34, None),
    "clusterTrustBundle": ("ClusterTrustBundleProjection", 30, None),
    "image": ("ImageVolume", 31, 35),
    "recursiveReadOnly": ("RecursiveReadOnlyMounts", 30, 31),
}


def default_off_gate(field: str) -> str | None:
    """The feature gate that ``field`` (``"fileKeyRef"``, ``"podCertificate"``,
    ``"clusterTrustBundle"``, ``"image"``, ``"recursiveReadOnly"``) needs in the target
    release when that gate is off by default there; None when the field is on by default or
    not in the release at all."""
    gate = _GATED_FIELDS.get(field)
    if gate is None:
        return None
    name, since, on_since = gate
    minor = _minor()
    if minor < since or (on_since is not None and minor >= on_since):
        return None
    return name


def _relaxed_names(relaxed: bool | None) -> bool:
    # RelaxedEnvironmentVariableValidation: alpha (off) in 1.30-1.31, on by default from 1.32.
    return _minor() >= 32 if relaxed is None else relaxed


# The fields of the API objects validated here in full. Any other key makes kubectl's strict
# field validation (its default) refuse the request while decoding: "unknown field".
_ENV_VAR_FIELDS: Final = frozenset({"name", "value", "valueFrom"})
_VALUE_FROM_FIELDS: Final = frozenset(
    {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"}
)
_OBJECT_FIELD_FIELDS: Final = frozenset({"apiVersion", "fieldPath"})
_RESOURCE_FIELD_FIELDS: Final = frozenset({"containerName", "resource", "divisor"})
_KEY_SELECTOR_FIELDS: Final = frozenset({"name", "key", "optional"})
_FILE_KEY_FIELDS: Final = frozenset({"volumeName", "path", "key", "optional"})
_DOWNWARD_VOLUME_FIELDS: Final = frozenset({"items", "defaultMode"})
_DOWNWARD_PROJECTION_FIELDS: Final = frozenset({"items"})
_DOWNWARD_FILE_FIELDS: Final = frozenset({"path", "fieldRef", "resourceFieldRef", "mode"})


def known_fields(path: str) -> frozenset[str] | None:
    """The fields of the object at ``path`` (an error's field path up to the object) when it
    is one this module validates in full, else None: for a "did you mean" hint."""
    last = re.sub(r"\[\d+\]$", "", path).rpartition(".")[2]
    if last == "env":
        return _ENV_VAR_FIELDS
    if last == "items" and ".downwardAPI" in path:
        return _DOWNWARD_FILE_FIELDS
    return {
        "valueFrom": _VALUE_FROM_FIELDS,
        "fieldRef": _OBJECT_FIELD_FIELDS,
        "resourceFieldRef": _RESOURCE_FIELD_FIELDS,
        "configMapKeyRef": _KEY_SELECTOR_FIELDS,
        "secretKeyRef": _KEY_SELECTOR_FIELDS,
        "fileKeyRef": _FILE_KEY_FIELDS,
        "downwardAPI": _DOWNWARD_PROJECTION_FIELDS
        if ".sources[" in path
        else _DOWNWARD_VOLUME_FIELDS,
    }.get(last)


def _unknown_keys(
    obj: Mapping[str, Any], known: frozenset[str], field: str, errs: list[FieldError]
) -> bool:
    """Report every key of ``obj`` outside ``known`` as an unknown field; True if any was (the
    API server then validates nothing, so the caller stops too)."""
    unknown = [key for key in obj if key not in known]
    errs.extend(FieldError(UNKNOWN_FIELD, f"{field}.{key}") for key in unknown)
    return bool(unknown)


def _unknown_field(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> bool:
    """Report ``key`` as an unknown field when present; True if it was."""
    if obj.get(key) is None:
        return False
    errs.append(FieldError(UNKNOWN_FIELD, f"{field}.{key}"))
    return True


# --- Go rendering of bad values (field.Error.ErrorBody) ------------------------------------------


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


# --- messages and rule tables ------------------------------------------------------------------

_FILE_MODE_MSG: Final = "must be a number between 0 and 0777 (octal), both inclusive"
_MAX_MODE: Final = 0o777
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1

_ENV_PATHS: Final = frozenset(ENV_FIELD_PATHS)
_VOLUME_PATHS: Final = frozenset(VOLUME_FIELD_PATHS)
_RESOURCES: Final = frozenset(RESOURCE_NAMES)
_HUGEPAGES: Final = tuple(HUGEPAGES_PREFIXES)
_CPU_DIVISORS: Final = frozenset(CPU_DIVISORS)
_MEMORY_DIVISORS: Final = frozenset(MEMORY_DIVISORS)


def _supported(values: Sequence[str]) -> str:
    # field.NotSupported's detail: each value strconv.Quote'd, ", "-joined, sorted.
    return "supported values: " + ", ".join(go_quote(v) for v in sorted(values))


_ENV_PATHS_DETAIL: Final = _supported(ENV_FIELD_PATHS)
_VOLUME_PATHS_DETAIL: Final = _supported(VOLUME_FIELD_PATHS)
_RESOURCES_DETAIL: Final = _supported(RESOURCE_NAMES)

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

_VALUE_FROM_NONE_MSG: Final = (
    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
)
# From 1.34 (EnvFiles), when the API knows fileKeyRef.
_VALUE_FROM_NONE_ENV_FILES_MSG: Final = (
    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or "
    "`fileKeyRef`"
)
_VALUE_FROM_WITH_VALUE_MSG: Final = "may not be specified when `value` is not empty"
_VALUE_FROM_MANY_MSG: Final = "may not have more than one field specified at a time"
_BOTH_REFS_MSG: Final = "fieldRef and resourceFieldRef can not be specified simultaneously"
_NO_REF_MSG: Final = "one of fieldRef and resourceFieldRef is required"
_DUPLICATE_PATHS_MSG: Final = "conflicting duplicate paths"
# Since Kubernetes 1.31; 1.30 and older said _VOLUME_KINDS_MSG here too.
_SOURCE_KINDS_MSG: Final = "may not specify more than 1 volume type per source"
_VOLUME_KINDS_MSG: Final = "may not specify more than 1 volume type"
_NO_VOLUME_KIND_MSG: Final = "must specify a volume type"

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

# validateVolumeSource checks the kinds in this order; the first one set is "the" type and
# every later one is Forbidden at the child name Kubernetes uses (note its "downwarAPI" typo).
_VOLUME_KINDS: Final = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)

# --- apimachinery name checks (k8s.io/apimachinery/pkg/util/validation) -------------------------


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    # validation.RegexError, including the doubled space between examples.
    shown = "".join(("" if i == 0 else " or ") + f"'{e}', " for i, e in enumerate(examples))
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_LABEL_RE: Final = re.compile(_DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE: Final = re.compile(_DNS1123_SUBDOMAIN_FMT)
_DNS1123_LABEL_MSG: Final = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _DNS1123_LABEL_FMT,
    "my-name",
    "123-abc",
)
_DNS1123_SUBDOMAIN_MSG: Final = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
_ENV_NAME_FMT: Final = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_RE: Final = re.compile(_ENV_NAME_FMT)
_ENV_NAME_MSG: Final = _regex_error(
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit",
    _ENV_NAME_FMT,
    "my.env-name",
    "MY_ENV.NAME",
    "MyEnvName1",
)
# Printable ASCII other than '=' (IsRelaxedEnvVarName).
_RELAXED_ENV_NAME_RE: Final = re.compile("[\x20-\x3c\x3e-\x7e]*")
_RELAXED_ENV_NAME_MSG: Final = (
    "a valid environment variable name must consist only of printable ASCII characters other "
    "than '='"
)
_CONFIG_KEY_FMT: Final = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE: Final = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG: Final = _regex_error(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    _CONFIG_KEY_FMT,
    "key.name",
    "KEY_NAME",
    "key-name",
)


def _byte_len(value: str) -> int:
    # Go's len() counts UTF-8 bytes.
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _chdir_prefix_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def dns1123_label_errors(value: str) -> list[str]:
    """apimachinery's ``IsDNS1123Label`` errors for ``value`` (``[]`` when valid)."""
    errs = []
    if _byte_len(value) > 63:
        errs.append(_max_len_error(63))
    if _DNS1123_LABEL_RE.fullmatch(value) is None:
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is not None:
            errs.append("must not contain dots")
        else:
            errs.append(_DNS1123_LABEL_MSG)
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    """apimachinery's ``IsDNS1123Subdomain`` errors for ``value`` (``[]`` when valid)."""
    errs = []
    if _byte_len(value) > 253:
        errs.append(_max_len_error(253))
    if _DNS1123_SUBDOMAIN_RE.fullmatch(value) is None:
        errs.append(_DNS1123_SUBDOMAIN_MSG)
    return errs


def _mask_trailing_dash(name: str) -> str:
    # maskTrailingDash: a generateName prefix may end in '-'; Go cuts two bytes, not runes.
    if len(name) > 1 and name.endswith("-"):
        if name.isascii():
            return name[:-2] + "a"
        return name.encode("utf-8", "surrogatepass")[:-2].decode("utf-8", "replace") + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    """apimachinery's ``NameIsDNSSubdomain``: the rule for pod and workload names.

    With ``prefix`` (a ``generateName``) a trailing ``-`` is allowed. Returns the error details
    (``[]`` when valid).
    """
    return dns1123_subdomain_errors(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    """apimachinery's ``NameIsDNSLabel``: the rule for namespace names."""
    return dns1123_label_errors(_mask_trailing_dash(name) if prefix else name)


def path_segment_errors(name: str) -> list[str]:
    """apimachinery's ``IsValidPathSegmentName``, which client-go applies to a request's
    namespace and resource name before sending it."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def _env_name_errors(name: str, relaxed: bool) -> list[str]:
    if relaxed:
        return [] if _RELAXED_ENV_NAME_RE.fullmatch(name) else [_RELAXED_ENV_NAME_MSG]
    errs = [] if _ENV_NAME_RE.fullmatch(name) else [_ENV_NAME_MSG]
    errs.extend(_chdir_prefix_errors(name))
    return errs


def _config_key_errors(key: str) -> list[str]:
    errs = []
    if _byte_len(key) > 253:
        errs.append(_max_len_error(253))
    if _CONFIG_KEY_RE.fullmatch(key) is None:
        errs.append(_CONFIG_KEY_MSG)
    errs.extend(_chdir_prefix_errors(key))
    return errs


@lru_cache(maxsize=1024)
def _key_errors(key: str) -> tuple[str, ...]:
    # Subscript keys repeat across manifests; the check is pure.
    return tuple(qualified_name_errors(key))


def go_lower(text: str) -> str:
    """Go's ``strings.ToLower``: rune by rune, simple case mapping (no final sigma, İ -> i)."""
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else ("i" if ch == "\u0130" else ch))
    return "".join(out)


# --- ConvertDownwardAPIFieldLabel --------------------------------------------------------------


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


# --- helpers -----------------------------------------------------------------------------------


def _is_map(value: object) -> bool:
    return isinstance(value, (dict, Mapping))


def _is_list(value: object) -> bool:
    return isinstance(value, (list, tuple))


def _element(value: object) -> Any:
    """A list element as the API server decodes it: ``null`` becomes the zero object."""
    return {} if value is None else value


def _type_error(field: str, value: object, kind: str) -> FieldError:
    return FieldError(TYPE_INVALID, field, value, f"must be of type {kind}")


def _string(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> str | None:
    """The string at ``key`` ("" when absent or null), or None after reporting a wrong type."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    errs.append(_type_error(f"{field}.{key}", value, "string"))
    return None


def _int32(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> int | None:
    """The int32 at ``key`` (None when absent, null or after reporting a wrong type)."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT32_MIN <= value <= _INT32_MAX:
            return value
        errs.append(_type_error(f"{field}.{key}", value, "int32"))
        return None
    errs.append(_type_error(f"{field}.{key}", value, "integer"))
    return None


def _int64(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> None:
    """Report the value at ``key`` unless it is absent, null or an int64 (what the API
    server's decoder accepts: not 1.5, not 1e309, not 2**63)."""
    value = obj.get(key)
    if value is None:
        return
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64_MIN <= value <= _INT64_MAX:
            errs.append(_type_error(f"{field}.{key}", value, "int64"))
        return
    errs.append(_type_error(f"{field}.{key}", value, "integer"))


def _check_mode(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> None:
    mode = _int32(obj, key, field, errs)
    if mode is not None and not 0 <= mode <= _MAX_MODE:
        errs.append(FieldError(INVALID, f"{field}.{key}", mode, _FILE_MODE_MSG))


def _local_descending_path(path: str, field: str, errs: list[FieldError]) -> None:
    # validateLocalDescendingPath: relative, and no ".." element (one error however many).
    if path.startswith("/"):
        errs.append(FieldError(INVALID, field, path, "must be a relative path"))
    if ".." in path and ".." in path.split("/"):
        errs.append(FieldError(INVALID, field, path, "must not contain '..'"))


def _local_non_reserved_path(path: str, field: str, errs: list[FieldError]) -> None:
    # ValidateLocalNonReservedPath = validateLocalDescendingPath + the AtomicWriter's ".." prefix.
    _local_descending_path(path, field, errs)
    if path.startswith("..") and not path.startswith("../"):
        errs.append(FieldError(INVALID, field, path, "must not start with '..'"))


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


# --- selectors ---------------------------------------------------------------------------------


def _object_field_selector(
    selector: Mapping[str, Any],
    allowed: frozenset[str],
    allowed_detail: str,
    field: str,
    errs: list[FieldError],
    *,
    defaults: bool,
) -> None:
    # validateObjectFieldSelector
    if _unknown_keys(selector, _OBJECT_FIELD_FIELDS, field, errs):
        return
    version = _string(selector, "apiVersion", field, errs)
    if version is None:
        return
    if not version:
        if not defaults:
            errs.append(FieldError(REQUIRED, f"{field}.apiVersion"))
            return
        version = "v1"  # SetDefaults_ObjectFieldSelector
    field_path = _string(selector, "fieldPath", field, errs)
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
        errs.extend(FieldError(INVALID, field, key, msg) for msg in _key_errors(key))
    elif path not in allowed:
        errs.append(FieldError(NOT_SUPPORTED, f"{field}.fieldPath", path, allowed_detail))


def _resource_field_selector(
    selector: Mapping[str, Any], field: str, errs: list[FieldError], volume: bool
) -> None:
    # validateContainerResourceFieldSelector + validateContainerResourceDivisor
    if _unknown_keys(selector, _RESOURCE_FIELD_FIELDS, field, errs):
        return
    container = _string(selector, "containerName", field, errs)
    resource = _string(selector, "resource", field, errs)
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


def _key_selector(selector: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    # validateConfigMapKeySelector / validateSecretKeySelector: the name is checked even empty.
    if _unknown_keys(selector, _KEY_SELECTOR_FIELDS, field, errs):
        return
    name = _string(selector, "name", field, errs)
    if name is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.name", name, msg)
            for msg in dns1123_subdomain_errors(name)
        )
    key = _string(selector, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    elif key is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.key", key, msg) for msg in _config_key_errors(key)
        )


def _file_key_selector(selector: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    # validateFileKeySelector (1.34+): key, volumeName, path, in that order.
    if _unknown_keys(selector, _FILE_KEY_FIELDS, field, errs):
        return
    key = _string(selector, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    elif key is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.key", key, msg) for msg in _env_name_errors(key, True)
        )
    volume = _string(selector, "volumeName", field, errs)
    if volume == "":
        errs.append(FieldError(REQUIRED, f"{field}.volumeName"))
    elif volume is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.volumeName", volume, msg)
            for msg in dns1123_label_errors(volume)
        )
    path = _string(selector, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    elif path is not None and ".." in path.split("/"):
        # validatePathNoBacksteps: an absolute path is allowed here.
        errs.append(FieldError(INVALID, f"{field}.path", path, "must not contain '..'"))
    optional = selector.get("optional")
    if optional is not None and not isinstance(optional, bool):
        errs.append(_type_error(f"{field}.optional", optional, "boolean"))


def _file_key_ref_volumes(spec: Mapping[str, Any], path: str, errs: list[FieldError]) -> None:
    # validateFileKeyRefVolumes (1.34+): the named volume must exist and be an emptyDir. Every
    # volume counts, valid or not (the last of a duplicated name wins); init containers first.
    if _minor() < 34:
        return
    volumes: dict[str, Mapping[str, Any]] = {}
    raw = spec.get("volumes")
    for element in raw if isinstance(raw, (list, tuple)) else ():
        volume = _element(element)
        if _is_map(volume) and isinstance(volume.get("name"), str):
            volumes[volume["name"]] = volume
    for key in ("initContainers", "containers", "ephemeralContainers"):
        containers = spec.get(key)
        for index, element in enumerate(
            containers if isinstance(containers, (list, tuple)) else ()
        ):
            container = _element(element)
            env = container.get("env") if isinstance(container, Mapping) else None
            for position, entry in enumerate(env if isinstance(env, (list, tuple)) else ()):
                var = _element(entry)
                value_from = var.get("valueFrom") if isinstance(var, Mapping) else None
                ref = value_from.get("fileKeyRef") if isinstance(value_from, Mapping) else None
                if not isinstance(ref, Mapping) or not isinstance(ref.get("volumeName", ""), str):
                    continue
                name = ref.get("volumeName") or ""
                where = f"{path}.{key}[{index}].env[{position}].valueFrom.fileKeyRef.volumeName"
                volume = volumes.get(name)
                if volume is None:
                    errs.append(FieldError(NOT_FOUND, where, name))
                elif volume.get("emptyDir") is None:
                    errs.append(
                        FieldError(
                            INVALID, where, name, "referenced volume must be of type emptyDir"
                        )
                    )


# --- env ---------------------------------------------------------------------------------------

# validateEnvVarValueFrom's sources, in its order; fileKeyRef exists from 1.34.
_VALUE_FROM_KEYS: Final = (
    "fieldRef",
    "resourceFieldRef",
    "configMapKeyRef",
    "secretKeyRef",
    "fileKeyRef",
)


def _value_from(
    value_from: Mapping[str, Any],
    value: str | None,
    field: str,
    errs: list[FieldError],
    defaults: bool,
) -> None:
    # validateEnvVarValueFrom
    if _unknown_keys(value_from, _VALUE_FROM_FIELDS, field, errs):
        return
    sources = 0
    env_files = _minor() >= 34
    # Before 1.34 the request fails while decoding: no count-of-sources error follows.
    unknown = not env_files and _unknown_field(value_from, "fileKeyRef", field, errs)
    for key in _VALUE_FROM_KEYS if env_files else _VALUE_FROM_KEYS[:-1]:
        selector = value_from.get(key)
        if selector is None:
            continue
        sources += 1
        child = f"{field}.{key}"
        if not _is_map(selector):
            errs.append(_type_error(child, selector, "object"))
        elif key == "fieldRef":
            _object_field_selector(
                selector, _ENV_PATHS, _ENV_PATHS_DETAIL, child, errs, defaults=defaults
            )
        elif key == "resourceFieldRef":
            _resource_field_selector(selector, child, errs, volume=False)
        elif key == "fileKeyRef":
            _file_key_selector(selector, child, errs)
        else:
            _key_selector(selector, child, errs)
    if unknown:
        return
    if sources == 0:
        message = _VALUE_FROM_NONE_ENV_FILES_MSG if env_files else _VALUE_FROM_NONE_MSG
        errs.append(FieldError(INVALID, field, "", message))
    elif value:
        errs.append(FieldError(INVALID, field, "", _VALUE_FROM_WITH_VALUE_MSG))
    elif sources > 1:
        errs.append(FieldError(INVALID, field, "", _VALUE_FROM_MANY_MSG))


def _validate_env_into(
    env: object, path: str, errs: list[FieldError], defaults: bool, relaxed: bool
) -> None:
    if env is None:
        return
    if not _is_list(env):
        errs.append(_type_error(path, env, "array"))
        return
    assert isinstance(env, (list, tuple))
    for index, element in enumerate(env):
        item = f"{path}[{index}]"
        var = _element(element)
        if not _is_map(var):
            errs.append(_type_error(item, var, "object"))
            continue
        if _unknown_keys(var, _ENV_VAR_FIELDS, item, errs):
            continue
        name = _string(var, "name", item, errs)
        if name == "":
            errs.append(FieldError(REQUIRED, f"{item}.name"))
        elif name is not None:
            errs.extend(
                FieldError(INVALID, f"{item}.name", name, msg)
                for msg in _env_name_errors(name, relaxed)
            )
        value = _string(var, "value", item, errs)
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        if not _is_map(value_from):
            errs.append(_type_error(f"{item}.valueFrom", value_from, "object"))
            continue
        _value_from(value_from, value, f"{item}.valueFrom", errs, defaults)


def validate_env(
    env: Sequence[Mapping[str, Any]],
    path: str,
    *,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate one container's ``env`` list (v1 JSON shape) as ``ValidateEnv`` does.

    ``path`` is where the list sits, e.g. ``"spec.containers[0].env"``. With
    ``apply_defaults`` (the default) the input is treated as a v1 request, so an empty
    ``fieldRef.apiVersion`` means ``"v1"``. ``kubernetes_version`` (default: the current
    :func:`kubernetes_target`, normally the latest supported release) picks the release's
    rules; ``relaxed_names`` overrides its env-name rule (``False``: the C-identifier-like rule
    of 1.30–1.31, ``True``: "printable ASCII other than '='", the default from 1.32).
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        _validate_env_into(env, path, errs, apply_defaults, _relaxed_names(relaxed_names))
        return errs


# --- volumes -----------------------------------------------------------------------------------


def _downward_api_file(
    item: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> str:
    # validateDownwardAPIVolumeFile; errors sit at the downwardAPI path itself, no items[i].
    path = _string(item, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    elif path is not None:
        _local_non_reserved_path(path, f"{field}.path", errs)
    field_ref = item.get("fieldRef")
    resource_ref = item.get("resourceFieldRef")
    if field_ref is not None:
        if _is_map(field_ref):
            _object_field_selector(
                field_ref,
                _VOLUME_PATHS,
                _VOLUME_PATHS_DETAIL,
                f"{field}.fieldRef",
                errs,
                defaults=defaults,
            )
        else:
            errs.append(_type_error(f"{field}.fieldRef", field_ref, "object"))
        if resource_ref is not None:
            errs.append(FieldError(INVALID, field, "resource", _BOTH_REFS_MSG))
    elif resource_ref is not None:
        if _is_map(resource_ref):
            _resource_field_selector(resource_ref, f"{field}.resourceFieldRef", errs, volume=True)
        else:
            errs.append(_type_error(f"{field}.resourceFieldRef", resource_ref, "object"))
    else:
        errs.append(FieldError(REQUIRED, field, None, _NO_REF_MSG))
    _check_mode(item, "mode", field, errs)
    return path or ""


def _items(source: Mapping[str, Any], field: str, errs: list[FieldError]) -> Sequence[Any]:
    items = source.get("items")
    if items is None:
        return ()
    if not _is_list(items):
        errs.append(_type_error(f"{field}.items", items, "array"))
        return ()
    assert isinstance(items, (list, tuple))
    return items


def _downward_api_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateDownwardAPIVolumeSource: no duplicate-path check (the last item wins at run time).
    if _unknown_keys(source, _DOWNWARD_VOLUME_FIELDS, field, errs):
        return
    _check_mode(source, "defaultMode", field, errs)
    for index, element in enumerate(_items(source, field, errs)):
        item = _element(element)
        if not _is_map(item):
            errs.append(_type_error(f"{field}.items", item, "object"))
        elif not _unknown_keys(item, _DOWNWARD_FILE_FIELDS, f"{field}.items[{index}]", errs):
            _downward_api_file(item, field, errs, defaults)


def _key_to_path(item: Mapping[str, Any], field: str, errs: list[FieldError]) -> str:
    # validateKeyToPath, for secret and configMap projections.
    key = _string(item, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    path = _string(item, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    if path is not None:
        _local_non_reserved_path(path, f"{field}.path", errs)
    _check_mode(item, "mode", field, errs)
    return path or ""


def _projection_sources(
    projected: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateProjectionSources: one kind per source, paths unique across every source.
    sources = projected.get("sources")
    if sources is None:
        return
    if not _is_list(sources):
        errs.append(_type_error(f"{field}.sources", sources, "array"))
        return
    assert isinstance(sources, (list, tuple))
    seen: set[str] = set()

    def claim(path: str, bad_value: object) -> None:
        if path in seen:
            errs.append(FieldError(INVALID, field, bad_value, _DUPLICATE_PATHS_MSG))
        else:
            seen.add(path)

    for index, element in enumerate(sources):
        src = f"{field}.sources[{index}]"
        source = _element(element)
        if not _is_map(source):
            errs.append(_type_error(src, source, "object"))
            continue
        kinds = 0
        for kind in ("secret", "configMap"):
            ref = source.get(kind)
            if ref is None:
                continue
            kinds += 1
            child = f"{src}.{kind}"
            if not _is_map(ref):
                errs.append(_type_error(child, ref, "object"))
                continue
            name = _string(ref, "name", child, errs)
            if name == "":
                errs.append(FieldError(REQUIRED, f"{child}.name"))
            for position, entry in enumerate(_items(ref, child, errs)):
                item_field = f"{child}.items[{position}]"
                item = _element(entry)
                if not _is_map(item):
                    errs.append(_type_error(item_field, item, "object"))
                    continue
                path = _key_to_path(item, item_field, errs)
                if path:
                    # Kubernetes reports the secret/configMap name here, not the path.
                    claim(path, name or "")
        downward = source.get("downwardAPI")
        if downward is not None:
            kinds += 1
            child = f"{src}.downwardAPI"
            if not _is_map(downward):
                errs.append(_type_error(child, downward, "object"))
            elif not _unknown_keys(downward, _DOWNWARD_PROJECTION_FIELDS, child, errs):
                for position, entry in enumerate(_items(downward, child, errs)):
                    item = _element(entry)
                    if not _is_map(item):
                        errs.append(_type_error(f"{child}.items", item, "object"))
                        continue
                    item_field = f"{child}.items[{position}]"
                    if _unknown_keys(item, _DOWNWARD_FILE_FIELDS, item_field, errs):
                        continue
                    path = _downward_api_file(item, child, errs, defaults)
                    if path:
                        claim(path, path)
        token = source.get("serviceAccountToken")
        if token is not None:
            kinds += 1
            child = f"{src}.serviceAccountToken"
            if not _is_map(token):
                errs.append(_type_error(child, token, "object"))
            else:
                _service_account_token(token, child, field, errs, defaults)
        bundle = source.get("clusterTrustBundle")
        if bundle is not None:
            kinds += 1
            child = f"{src}.clusterTrustBundle"
            if not _is_map(bundle):
                errs.append(_type_error(child, bundle, "object"))
            else:
                # Claimed even when empty, as Kubernetes does.
                bundle_path = _cluster_trust_bundle(bundle, child, errs)
                if bundle_path is not None:
                    claim(bundle_path, bundle_path)
        if _minor() < 34:
            _unknown_field(source, "podCertificate", src, errs)
        elif source.get("podCertificate") is not None:
            kinds += 1
            child = f"{src}.podCertificate"
            certificate = source["podCertificate"]
            if not _is_map(certificate):
                errs.append(_type_error(child, certificate, "object"))
            else:
                _pod_certificate(certificate, child, errs, claim)
        if kinds > 1:
            # 1.30 still said "may not specify more than 1 volume type" here.
            message = _SOURCE_KINDS_MSG if _minor() >= 31 else _VOLUME_KINDS_MSG
            errs.append(FieldError(FORBIDDEN, src, None, message))


def _service_account_token(
    token: Mapping[str, Any],
    field: str,
    projected_field: str,
    errs: list[FieldError],
    defaults: bool,
) -> None:
    value = token.get("expirationSeconds")
    if value is None:
        seconds = 3600 if defaults else 0  # SetDefaults_ServiceAccountTokenProjection
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        errs.append(_type_error(f"{field}.expirationSeconds", value, "integer"))
        seconds = 3600
    if seconds < 10 * 60:
        errs.append(
            FieldError(
                INVALID,
                f"{field}.expirationSeconds",
                seconds,
                "may not specify a duration less than 10 minutes",
            )
        )
    if seconds > 1 << 32:
        errs.append(
            FieldError(
                INVALID,
                f"{field}.expirationSeconds",
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            )
        )
    # Kubernetes reports the token path at the projected volume, not at the source.
    path = _string(token, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{projected_field}.path"))
    elif path is not None:
        _local_non_reserved_path(path, f"{projected_field}.path", errs)


def _cluster_trust_bundle(
    bundle: Mapping[str, Any], field: str, errs: list[FieldError]
) -> str | None:
    # The selection rules; name and signer-name formats are not reproduced.
    name = bundle.get("name")
    signer = bundle.get("signerName")
    if name is None and signer is None:
        errs.append(
            FieldError(REQUIRED, field, None, "either name or signerName must be specified")
        )
    elif name is not None and signer is not None:
        errs.append(
            FieldError(INVALID, field, dict(bundle), "only one of name and signerName may be used")
        )
    elif name == "":
        errs.append(FieldError(REQUIRED, f"{field}.name", None, "must be a valid object name"))
    elif signer == "":
        errs.append(
            FieldError(REQUIRED, f"{field}.signerName", None, "must be a valid signer name")
        )
    path = _string(bundle, "path", field, errs)
    if path is None:
        return None
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    _local_non_reserved_path(path, f"{field}.path", errs)
    return path


_KEY_TYPES: Final = ("RSA3072", "RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519")
# certificates.MaxMaxExpirationSeconds (91 days) and KubernetesMaxMaxExpirationSeconds (24 h).
_MAX_EXPIRATION: Final = 91 * 24 * 60 * 60
_KUBERNETES_MAX_EXPIRATION: Final = 24 * 60 * 60
_MAX_ANNOTATIONS_SIZE: Final = 256 * 1024  # TotalAnnotationSizeLimitB


def _signer_name_errors(field: str, signer: str) -> list[FieldError]:
    # ValidateSignerName: "<domain>/<path>", the domain a dotted run of DNS-1123 labels.
    if not signer:
        return [FieldError(REQUIRED, field)]
    segments = signer.split("/")
    if len(segments) != 2:
        return [
            FieldError(
                INVALID,
                field,
                signer,
                "must be a fully qualified domain and path of the form 'example.com/signer-name'",
            )
        ]
    domain, path = segments
    errs = []
    if _byte_len(domain) > 253:
        errs.append(FieldError(TOO_LONG, field, None, "may not be more than 253 bytes"))
    labels = domain.split(".")
    for label in labels:
        messages = dns1123_label_errors(label)
        if messages:
            errs.extend(
                FieldError(INVALID, field, domain, f"validating label {go_quote(label)}: {msg}")
                for msg in messages
            )
            break
    if len(labels) < 2:
        errs.append(
            FieldError(
                INVALID,
                field,
                domain,
                "should be a domain with at least two segments separated by dots",
            )
        )
    for label in path.split("."):
        messages = dns1123_subdomain_errors(label)
        if messages:
            errs.extend(
                FieldError(INVALID, field, path, f"validating label {go_quote(label)}: {msg}")
                for msg in messages
            )
            break
    limit = 253 + 253 + 63 + 1 + 1
    if _byte_len(signer) > limit:
        errs.append(FieldError(TOO_LONG, field, None, f"may not be more than {limit} bytes"))
    return errs


def _user_annotations(annotations: object, field: str, errs: list[FieldError]) -> None:
    # ValidateUserAnnotations (1.35+): domain-prefixed keys (checked lowercased), 256 KiB total.
    if not _is_map(annotations):
        errs.append(_type_error(field, annotations, "object"))
        return
    assert isinstance(annotations, Mapping)
    size = 0
    for key, value in annotations.items():
        if not isinstance(key, str) or not isinstance(value, str):
            errs.append(_type_error(field, value, "string"))
            continue
        size += _byte_len(key) + _byte_len(value)
        lowered = go_lower(key)
        if not lowered:
            errs.append(FieldError(REQUIRED, field))
            continue
        messages = _key_errors(lowered)
        errs.extend(FieldError(INVALID, field, lowered, msg) for msg in messages)
        if not messages and lowered.count("/") != 1:
            errs.append(
                FieldError(
                    INVALID,
                    field,
                    lowered,
                    'must be a domain-prefixed key (such as "acme.io/foo")',
                )
            )
    if size > _MAX_ANNOTATIONS_SIZE:
        errs.append(
            FieldError(TOO_LONG, field, None, f"may not be more than {_MAX_ANNOTATIONS_SIZE} bytes")
        )


def _pod_certificate(
    certificate: Mapping[str, Any],
    field: str,
    errs: list[FieldError],
    claim: Callable[[str, object], None],
) -> None:
    # validateProjectionSources' podCertificate branch (1.34+).
    signer = _string(certificate, "signerName", field, errs)
    if signer is not None:
        errs.extend(_signer_name_errors(f"{field}.signerName", signer))
    if _minor() < 35:
        _unknown_field(certificate, "userAnnotations", field, errs)
    elif certificate.get("userAnnotations") is not None:
        _user_annotations(certificate["userAnnotations"], f"{field}.userAnnotations", errs)
    key_type = _string(certificate, "keyType", field, errs)
    if key_type is not None and key_type not in _KEY_TYPES:
        # field.NotSupported keeps the list's own order here (no sorted set).
        detail = "supported values: " + ", ".join(go_quote(k) for k in _KEY_TYPES)
        errs.append(FieldError(NOT_SUPPORTED, f"{field}.keyType", key_type, detail))
    seconds = _int32(certificate, "maxExpirationSeconds", field, errs)
    if seconds is not None:
        where = f"{field}.maxExpirationSeconds"
        if seconds < 3600:
            errs.append(
                FieldError(
                    INVALID, where, seconds, "if provided, maxExpirationSeconds must be >= 3600"
                )
            )
        host = (signer or "").partition("/")[0]
        kubernetes = host == "kubernetes.io" or host.endswith(".kubernetes.io")
        limit = _KUBERNETES_MAX_EXPIRATION if kubernetes else _MAX_EXPIRATION
        if seconds > limit:
            errs.append(
                FieldError(
                    INVALID, where, seconds, f"if provided, maxExpirationSeconds must be <= {limit}"
                )
            )
    paths = 0
    for key in ("credentialBundlePath", "keyPath", "certificateChainPath"):
        path = _string(certificate, key, field, errs)
        if path:
            paths += 1
            _local_non_reserved_path(path, f"{field}.{key}", errs)
            claim(path, path)
    if paths == 0:
        errs.append(
            FieldError(
                REQUIRED,
                field,
                None,
                "specify at least one of credentialBundlePath, keyPath, and certificateChainPath",
            )
        )


def _projected_volume(
    projected: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateProjectedVolumeSource
    _check_mode(projected, "defaultMode", field, errs)
    _projection_sources(projected, field, errs, defaults)


def _key_to_path_items(source: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    for position, entry in enumerate(_items(source, field, errs)):
        item_field = f"{field}.items[{position}]"
        item = _element(entry)
        if _is_map(item):
            _key_to_path(item, item_field, errs)
        else:
            errs.append(_type_error(item_field, item, "object"))


def _secret_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateSecretVolumeSource
    if _string(source, "secretName", field, errs) == "":
        errs.append(FieldError(REQUIRED, f"{field}.secretName"))
    _check_mode(source, "defaultMode", field, errs)
    _key_to_path_items(source, field, errs)


def _config_map_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateConfigMapVolumeSource
    if _string(source, "name", field, errs) == "":
        errs.append(FieldError(REQUIRED, f"{field}.name"))
    _check_mode(source, "defaultMode", field, errs)
    _key_to_path_items(source, field, errs)


_HOST_PATH_TYPES: Final = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)


def _host_path_volume(
    source: Mapping[str, Any], field: str, errs: list[FieldError], defaults: bool
) -> None:
    # validateHostPathVolumeSource: the node's own path, but never with a ".." element.
    path = _string(source, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
        return
    if path is not None and ".." in path.split("/"):
        errs.append(FieldError(INVALID, f"{field}.path", path, "must not contain '..'"))
    kind = source.get("type")
    if kind is not None:
        value = _string(source, "type", field, errs)
        if value is not None and value not in _HOST_PATH_TYPES:
            errs.append(
                FieldError(NOT_SUPPORTED, f"{field}.type", value, _supported(_HOST_PATH_TYPES))
            )


# The volume sources whose own fields are validated; the others only count as "a volume type".
_VOLUME_SOURCES: Final = {
    "hostPath": _host_path_volume,
    "secret": _secret_volume,
    "downwardAPI": _downward_api_volume,
    "configMap": _config_map_volume,
    "projected": _projected_volume,
}


def _validate_volume_into(
    volume: object, path: str, errs: list[FieldError], defaults: bool
) -> str | None:
    """Append the volume's errors and return its name (None when it is not a string)."""
    if not _is_map(volume):
        errs.append(_type_error(path, volume, "object"))
        return None
    assert isinstance(volume, Mapping)
    kinds = 0
    for key, child_name in _VOLUME_KINDS:
        source = volume.get(key)
        if source is None or (
            key == "image" and _minor() < 31 and _unknown_field(volume, key, path, errs)
        ):
            continue  # image volumes exist from 1.31
        if kinds:
            errs.append(FieldError(FORBIDDEN, f"{path}.{child_name}", None, _VOLUME_KINDS_MSG))
            continue
        kinds += 1
        check = _VOLUME_SOURCES.get(key)
        if check is None:
            continue
        if _is_map(source):
            check(source, f"{path}.{key}", errs, defaults)
        else:
            errs.append(_type_error(f"{path}.{key}", source, "object"))
    if not kinds:
        errs.append(FieldError(REQUIRED, path, None, _NO_VOLUME_KIND_MSG))
    name = _string(volume, "name", path, errs)
    if name == "":
        errs.append(FieldError(REQUIRED, f"{path}.name"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{path}.name", name, msg) for msg in dns1123_label_errors(name)
        )
    return name


def validate_volume(
    volume: Mapping[str, Any],
    path: str,
    *,
    apply_defaults: bool = True,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate one pod volume as ``ValidateVolumes`` does, at ``path`` (e.g. ``spec.volumes[0]``).

    ``downwardAPI``, ``projected``, ``secret``, ``configMap`` and ``hostPath`` sources are
    validated fully (item paths, keys, modes, no ``..`` in a host path); for every volume the
    name and the one-volume-type rule are checked, other sources' own fields are not.
    ``kubernetes_version`` picks the release's rules (see :func:`validate_env`).
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        _validate_volume_into(volume, path, errs, apply_defaults)
        return errs


# --- containers and mounts -----------------------------------------------------------------------

_PROPAGATIONS: Final = ("Bidirectional", "HostToContainer", "None")
_RECURSIVE_READ_ONLY: Final = ("Disabled", "Enabled", "IfPossible")
_EPHEMERAL_MSG: Final = "cannot be set for an Ephemeral Container"
# unicode.IsSpace, which strings.TrimSpace trims (str.strip() would also trim \x1c-\x1f).
_GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _volume_mounts(
    container: Mapping[str, Any],
    where: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
) -> None:
    # ValidateVolumeMounts. Kubernetes names the list, not the mount, for the subPath,
    # subPathExpr, mountPropagation and recursiveReadOnly errors.
    mounts = container.get("volumeMounts")
    field = f"{where}.volumeMounts"
    if mounts is None:
        return
    if not _is_list(mounts):
        errs.append(_type_error(field, mounts, "array"))
        return
    context = container.get("securityContext")
    privileged = isinstance(context, Mapping) and context.get("privileged") is True
    mount_points: set[str] = set()
    for index, element in enumerate(mounts):
        at = f"{field}[{index}]"
        mount = _element(element)
        if not _is_map(mount):
            errs.append(_type_error(at, mount, "object"))
            continue
        name = _string(mount, "name", at, errs)
        if name == "":
            errs.append(FieldError(REQUIRED, f"{at}.name"))
        if name is not None and name not in volumes:
            errs.append(FieldError(NOT_FOUND, f"{at}.name", name))
        mount_path = _string(mount, "mountPath", at, errs)
        if mount_path == "":
            errs.append(FieldError(REQUIRED, f"{at}.mountPath"))
        if mount_path is not None:
            if mount_path in mount_points:
                errs.append(FieldError(INVALID, f"{at}.mountPath", mount_path, "must be unique"))
            mount_points.add(mount_path)
        sub_path = _string(mount, "subPath", at, errs)
        sub_path_expr = _string(mount, "subPathExpr", at, errs)
        volume = volumes.get(name) if name is not None else None
        if volume is not None and volume.get("image") is not None:
            for key, value in (("subPath", sub_path), ("subPathExpr", sub_path_expr)):
                if value:
                    errs.append(
                        FieldError(
                            INVALID, f"{at}.{key}", value, "not allowed in image volume sources"
                        )
                    )
        if sub_path:
            _local_descending_path(sub_path, f"{field}.subPath", errs)
        if sub_path_expr:
            if sub_path:
                errs.append(
                    FieldError(
                        INVALID,
                        f"{at}.subPathExpr",
                        sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            _local_descending_path(sub_path_expr, f"{field}.subPathExpr", errs)
        propagation = None
        if mount.get("mountPropagation") is not None:
            propagation = _string(mount, "mountPropagation", at, errs)
            if propagation is not None:
                _mount_propagation(propagation, privileged, f"{field}.mountPropagation", errs)
        if mount.get("recursiveReadOnly") is not None:
            recursive = _string(mount, "recursiveReadOnly", at, errs)
            if recursive is not None:
                _recursive_read_only(
                    recursive,
                    mount.get("readOnly") is True,
                    propagation,
                    f"{field}.recursiveReadOnly",
                    errs,
                )


def _mount_propagation(value: str, privileged: bool, field: str, errs: list[FieldError]) -> None:
    # validateMountPropagation
    if value not in _PROPAGATIONS:
        errs.append(FieldError(NOT_SUPPORTED, field, value, _supported(_PROPAGATIONS)))
    if value == "Bidirectional" and not privileged:
        errs.append(
            FieldError(
                FORBIDDEN,
                field,
                None,
                "Bidirectional mount propagation is available only to privileged containers",
            )
        )


def _recursive_read_only(
    value: str, read_only: bool, propagation: str | None, field: str, errs: list[FieldError]
) -> None:
    # validateMountRecursiveReadOnly
    if value == "Disabled":
        return
    if value not in _RECURSIVE_READ_ONLY:
        errs.append(FieldError(NOT_SUPPORTED, field, value, _supported(_RECURSIVE_READ_ONLY)))
        return
    if not read_only:
        errs.append(
            FieldError(FORBIDDEN, field, None, "may only be specified when readOnly is true")
        )
    if propagation is not None and propagation != "None":
        errs.append(
            FieldError(
                FORBIDDEN,
                field,
                None,
                "may only be specified when mountPropagation is None or not specified",
            )
        )


def _container_common(
    container: Mapping[str, Any],
    where: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
    *,
    defaults: bool,
    relaxed: bool,
) -> str | None:
    """validateContainerCommon for the fields podself models; returns the name (None when it is
    not a string)."""
    name = _string(container, "name", where, errs)
    if name == "":
        errs.append(FieldError(REQUIRED, f"{where}.name"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{where}.name", name, msg) for msg in dns1123_label_errors(name)
        )
    if _string(container, "image", where, errs) == "":
        errs.append(FieldError(REQUIRED, f"{where}.image"))
    _validate_env_into(container.get("env"), f"{where}.env", errs, defaults, relaxed)
    _volume_mounts(container, where, volumes, errs)
    return name


def _untrimmed_image(container: Mapping[str, Any], where: str, errs: list[FieldError]) -> None:
    # validateContainerOnlyForPod
    image = container.get("image")
    if isinstance(image, str) and image != image.strip(_GO_SPACE):
        errs.append(
            FieldError(
                INVALID, f"{where}.image", image, "must not have leading or trailing whitespace"
            )
        )


def _ephemeral_subpaths(container: Mapping[str, Any], where: str, errs: list[FieldError]) -> None:
    # validateEphemeralContainers: subPath mounts would outlive the container, so none at all.
    mounts = container.get("volumeMounts")
    for index, mount in enumerate(mounts if isinstance(mounts, (list, tuple)) else ()):
        if not _is_map(mount):
            continue
        for key in ("subPath", "subPathExpr"):
            if isinstance(mount.get(key), str) and mount[key]:
                errs.append(
                    FieldError(
                        FORBIDDEN, f"{where}.volumeMounts[{index}].{key}", None, _EPHEMERAL_MSG
                    )
                )


def _container_lists(
    spec: Mapping[str, Any], path: str, errs: list[FieldError]
) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    # Each list's containers with their field paths; wrong types are reported once, here.
    lists: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        entries: list[tuple[str, Mapping[str, Any]]] = []
        lists[key] = entries
        value = spec.get(key)
        if value is None:
            continue
        if not _is_list(value):
            errs.append(_type_error(f"{path}.{key}", value, "array"))
            continue
        for index, element in enumerate(value):
            container = _element(element)
            if _is_map(container):
                entries.append((f"{path}.{key}[{index}]", container))
            else:
                errs.append(_type_error(f"{path}.{key}[{index}]", container, "object"))
    return lists


def _containers_into(
    spec: Mapping[str, Any],
    path: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
    *,
    defaults: bool,
    relaxed: bool,
) -> None:
    # validateContainers, validateInitContainers, validateEphemeralContainers, in that order.
    raw = spec.get("containers")
    lists = _container_lists(spec, path, errs)
    if not lists["containers"] and (raw is None or _is_list(raw)):
        errs.append(FieldError(REQUIRED, f"{path}.containers"))
    names: set[str] = set()
    for where, container in lists["containers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        if name is None:
            continue
        if name in names:
            errs.append(FieldError(DUPLICATE, f"{where}.name", name))
        names.add(name)
    for where, container in lists["initContainers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        if name is None:
            continue
        if name in names:
            errs.append(FieldError(DUPLICATE, f"{where}.name", name))
        elif name:
            names.add(name)
    for where, container in lists["ephemeralContainers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        _untrimmed_image(container, where, errs)
        if name is not None:
            if name in names:
                errs.append(FieldError(DUPLICATE, f"{where}.name", name))
            names.add(name)
        _ephemeral_subpaths(container, where, errs)


def _volumes_into(
    spec: Mapping[str, Any], path: str, errs: list[FieldError], defaults: bool
) -> dict[str, Mapping[str, Any]]:
    """ValidateVolumes: append the errors, return the volumes that claimed their names."""
    claimed: dict[str, Mapping[str, Any]] = {}
    volumes = spec.get("volumes")
    if volumes is None:
        return claimed
    if not _is_list(volumes):
        errs.append(_type_error(f"{path}.volumes", volumes, "array"))
        return claimed
    for index, element in enumerate(volumes):
        vol_path = f"{path}.volumes[{index}]"
        volume = _element(element)
        start = len(errs)
        name = _validate_volume_into(volume, vol_path, errs, defaults)
        if name is not None and name in claimed:
            errs.append(FieldError(DUPLICATE, f"{vol_path}.name", name))
        # Only a volume without errors claims its name (a mount of any other is "Not found").
        if name is not None and len(errs) == start:
            claimed[name] = volume
    return claimed


def validate_pod_spec(
    spec: Mapping[str, Any],
    path: str = "spec",
    *,
    template: bool = False,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate a pod spec as the API server does on create, for every field podself uses.

    ``ValidatePodSpec``'s volumes (names, kinds, and the ``secret``, ``configMap``,
    ``downwardAPI`` and ``projected`` sources with their item paths and modes), then
    ``containers``, ``initContainers`` and ``ephemeralContainers``: names (DNS-1123 labels,
    unique across the three lists), ``image``, ``env`` and ``volumeMounts`` (a volume's name,
    a unique ``mountPath``, relative ``subPath``/``subPathExpr`` without ``..``), then
    ``terminationGracePeriodSeconds`` (an int64), ``hostname`` and ``subdomain`` (DNS-1123
    labels). A Pod (not a ``template``) may not have ephemeral containers on create, a pod
    template never. From
    1.34 an env var's ``fileKeyRef`` must name an ``emptyDir`` volume of the pod.
    ``kubernetes_version`` and ``relaxed_names`` are as in :func:`validate_env`.
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        if not _is_map(spec):
            errs.append(_type_error(path, spec, "object"))
            return errs
        volumes = _volumes_into(spec, path, errs, apply_defaults)
        relaxed = _relaxed_names(relaxed_names)
        _containers_into(spec, path, volumes, errs, defaults=apply_defaults, relaxed=relaxed)
        _file_key_ref_volumes(spec, path, errs)
        # The grace period times the stop of every container: an integer, as the decoder wants.
        _int64(spec, "terminationGracePeriodSeconds", path, errs)
        # hostname and subdomain name the pod in DNS, /etc/hosts and the UTS namespace.
        for key in ("hostname", "subdomain"):
            value = _string(spec, key, path, errs)
            if value:
                errs.extend(
                    FieldError(INVALID, f"{path}.{key}", value, msg)
                    for msg in dns1123_label_errors(value)
                )
        ephemeral = spec.get("ephemeralContainers")
        has_ephemeral = isinstance(ephemeral, (list, tuple)) and len(ephemeral) > 0
        if template:
            if has_ephemeral:
                errs.append(
                    FieldError(
                        FORBIDDEN,
                        f"{path}.ephemeralContainers",
                        None,
                        "ephemeral containers not allowed in pod template",
                    )
                )
            return errs
        for key in ("containers", "initContainers"):
            items = spec.get(key)
            for index, container in enumerate(items if isinstance(items, (list, tuple)) else ()):
                if _is_map(container):
                    _untrimmed_image(container, f"{path}.{key}[{index}]", errs)
        if has_ephemeral:
            errs.append(
                FieldError(
                    FORBIDDEN, f"{path}.ephemeralContainers", None, "cannot be set on create"
                )
            )
        return errs


def validate_pod_spec_downward(
    spec: Mapping[str, Any],
    path: str = "spec",
    *,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate every volume and every container's ``env`` in a pod spec, in the API's order.

    Volumes first (with the duplicate-name check), then the ``env`` of ``containers``,
    ``initContainers`` and ``ephemeralContainers``. As in Kubernetes, a
    ``resourceFieldRef.containerName`` is not checked against the pod's containers.
    :func:`validate_pod_spec` checks the rest of the spec too.
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        if not _is_map(spec):
            errs.append(_type_error(path, spec, "object"))
            return errs
        _volumes_into(spec, path, errs, apply_defaults)
        relaxed = _relaxed_names(relaxed_names)
        for entries in _container_lists(spec, path, errs).values():
            for where, container in entries:
                _validate_env_into(
                    container.get("env"), f"{where}.env", errs, apply_defaults, relaxed
                )
        return errs


# --- object metadata -----------------------------------------------------------------------------

# names.SimpleNameGenerator: a generateName is cut to 58 bytes and 5 random characters follow.
MAX_GENERATED_NAME_BASE: Final = 58
_MAX_CRONJOB_NAME: Final = 52


def validate_object_meta(
    metadata: Mapping[str, Any],
    path: str = "metadata",
    *,
    namespace: str | None = None,
    kind: str = "Pod",
) -> list[FieldError]:
    """``ValidateObjectMeta``'s name rules for a namespaced object on create, as for a Pod.

    ``generateName`` (a prefix: a trailing ``-`` is fine) and ``name`` must be DNS-1123
    subdomains, and one of them is required; ``namespace`` (the one the object is created in;
    ``metadata.namespace`` when None) must be a DNS-1123 label. A name still to be generated is
    checked as ``generateName`` plus five random characters, shown as ``xxxxx``. A ``CronJob``
    (``kind``) name is at most 52 characters (``ValidateCronJobCreate`` lists that error after
    the spec's, here it comes with the name's). Labels and annotations are not checked here.
    """
    errs: list[FieldError] = []
    if not _is_map(metadata):
        errs.append(_type_error(path, metadata, "object"))
        return errs
    generate = _string(metadata, "generateName", path, errs)
    if generate:
        errs.extend(
            FieldError(INVALID, f"{path}.generateName", generate, msg)
            for msg in name_is_dns_subdomain(generate, prefix=True)
        )
    name = _string(metadata, "name", path, errs)
    if name == "" and generate:
        name = generate[:MAX_GENERATED_NAME_BASE] + "xxxxx"
    if name == "":
        errs.append(FieldError(REQUIRED, f"{path}.name", None, "name or generateName is required"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{path}.name", name, msg) for msg in name_is_dns_subdomain(name)
        )
    if namespace is None:
        namespace = _string(metadata, "namespace", path, errs)
    if namespace == "":
        errs.append(FieldError(REQUIRED, f"{path}.namespace"))
    elif namespace is not None:
        errs.extend(
            FieldError(INVALID, f"{path}.namespace", namespace, msg)
            for msg in name_is_dns_label(namespace)
        )
    given = metadata.get("name")
    if kind == "CronJob" and isinstance(given, str) and len(given) > _MAX_CRONJOB_NAME:
        # The Job is named "<name>-<minutes>" and must stay a 63-character label.
        errs.append(FieldError(INVALID, f"{path}.name", given, _max_len_error(_MAX_CRONJOB_NAME)))
    return errs


# --- labels and annotations ----------------------------------------------------------------------

_LABEL_VALUE_MAX: Final = 63
_LABEL_VALUE_FMT: Final = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE_FMT}')"
)
# apimachinery TotalAnnotationSizeLimitB: keys and values together, in bytes.
TOTAL_ANNOTATION_SIZE: Final = 256 * 1024


def _is_label_value(value: str) -> bool:
    if not value:
        return True
    if not (value[0].isascii() and value[0].isalnum() and value[-1].isascii()):
        return False
    return value[-1].isalnum() and all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)


def label_value_errors(value: str) -> list[str]:
    """apimachinery ``IsValidLabelValue``: at most 63 bytes of ``[-A-Za-z0-9_.]``, starting
    and ending alphanumeric (or empty)."""
    errs: list[str] = []
    if _byte_len(value) > _LABEL_VALUE_MAX:
        errs.append(f"must be no more than {_LABEL_VALUE_MAX} bytes")
    if not _is_label_value(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


def _string_map(values: object, path: str, errs: list[FieldError]) -> list[tuple[str, str]]:
    # A map[string]string as the API server decodes it: null values are "", other non-strings
    # fail to decode (reported on the entry).
    if values is None:
        return []
    if not isinstance(values, Mapping):
        errs.append(_type_error(path, values, "object"))
        return []
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            errs.append(_type_error(f"{path}[{key}]", value, "string"))
            continue
        pairs.append((str(key), value or ""))
    return pairs


def validate_labels(labels: object, path: str = "metadata.labels") -> list[FieldError]:
    """``ValidateLabels``: each key a qualified name (an optional DNS-1123 subdomain prefix of
    at most 253 bytes and ``/``, then a name of at most 63), each value a label value."""
    errs: list[FieldError] = []
    for key, value in _string_map(labels, path, errs):
        errs.extend(FieldError(INVALID, path, key, msg) for msg in qualified_name_errors(key))
        errs.extend(FieldError(INVALID, path, value, msg) for msg in label_value_errors(value))
    return errs


def validate_annotations(
    annotations: object, path: str = "metadata.annotations"
) -> list[FieldError]:
    """``ValidateAnnotations``: each key, lower-cased, a qualified name; keys and values
    together at most 256 KiB."""
    errs: list[FieldError] = []
    total = 0
    for key, value in _string_map(annotations, path, errs):
        # Lower-cased the Go way: Python's str.lower() turns "İ" into two runes.
        lowered = go_lower(key)
        errs.extend(
            FieldError(INVALID, path, lowered, msg) for msg in qualified_name_errors(lowered)
        )
        total += _byte_len(key) + _byte_len(value)
    if total > TOTAL_ANNOTATION_SIZE:
        detail = f"may not be more than {TOTAL_ANNOTATION_SIZE} bytes"
        errs.append(FieldError(TOO_LONG, path, None, detail))
    return errs


def validate_metadata_maps(metadata: object, path: str = "metadata") -> list[FieldError]:
    """:func:`validate_labels` and :func:`validate_annotations` for ``metadata`` (an object's or
    a pod template's), reported at ``<path>.labels`` and ``<path>.annotations``."""
    if not isinstance(metadata, Mapping):
        return []
    return validate_labels(metadata.get("labels"), f"{path}.labels") + validate_annotations(
        metadata.get("annotations"), f"{path}.annotations"
    )


# --- decoding errors -----------------------------------------------------------------------------

# The Go struct (k8s.io/api/core/v1) that holds a field, by the name of the field's parent, or
# (parent, grandparent) where the same name means different structs.
_GO_STRUCTS: Final[Mapping[str, str]] = {
    "metadata": "ObjectMeta",
    "template": "PodTemplateSpec",
    "env": "EnvVar",
    "valueFrom": "EnvVarSource",
    "fieldRef": "ObjectFieldSelector",
    "resourceFieldRef": "ResourceFieldSelector",
    "configMapKeyRef": "ConfigMapKeySelector",
    "secretKeyRef": "SecretKeySelector",
    "volumeMounts": "VolumeMount",
    "containers": "Container",
    "initContainers": "Container",
    "ephemeralContainers": "EphemeralContainer",
    "volumes": "Volume",
    "projected": "ProjectedVolumeSource",
    "sources": "VolumeProjection",
    "serviceAccountToken": "ServiceAccountTokenProjection",
    "clusterTrustBundle": "ClusterTrustBundleProjection",
    "hostPath": "HostPathVolumeSource",
    "emptyDir": "EmptyDirVolumeSource",
}
_GO_PROJECTED: Final[Mapping[str, str]] = {
    "downwardAPI": "DownwardAPIProjection",
    "secret": "SecretProjection",
    "configMap": "ConfigMapProjection",
}
_GO_VOLUME: Final[Mapping[str, str]] = {
    "downwardAPI": "DownwardAPIVolumeSource",
    "secret": "SecretVolumeSource",
    "configMap": "ConfigMapVolumeSource",
}
_GO_SCALARS: Final[Mapping[str, str]] = {"string": "string", "int32": "int32", "integer": "int32"}


def quantity_decode_error(value: object) -> str | None:
    """apimachinery's error for a quantity the API server cannot decode (a divisor, a
    resource limit or request), or None when ``value`` decodes (``null`` is zero)."""
    return _divisor(value)[2] or None


def _go_struct(names: Sequence[str]) -> str | None:
    # The struct of the object at the end of ``names`` (field names, list indexes left out).
    if not names:
        return None
    last = names[-1]
    above = names[-2] if len(names) > 1 else ""
    if last == "spec":
        return "PodSpec" if above in ("template", "") else None
    if last == "items":
        owner = names[-2] if len(names) > 1 else ""
        return "DownwardAPIVolumeFile" if owner == "downwardAPI" else "KeyToPath"
    if last in _GO_PROJECTED:
        return _GO_PROJECTED[last] if above == "sources" else _GO_VOLUME[last]
    return _GO_STRUCTS.get(last)


def _json_kind(value: object) -> str:
    # What encoding/json calls a JSON value in an UnmarshalTypeError.
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if _is_list(value) else "object"


def decode_error(err: FieldError) -> str | None:
    """The API server's decoding error for a :data:`TYPE_INVALID` error, as encoding/json
    writes it (``json: cannot unmarshal bool into Go struct field EnvVar.spec.containers.env.value
    of type string``), or the quantity parse error for a divisor; None when ``err`` is not a
    decoding error podself can render. The API server stops at the first such error and
    validates nothing."""
    if err.type != TYPE_INVALID:
        return None
    if not err.detail.startswith("must be of type "):
        return err.detail  # a quantity: apimachinery's parse error is the whole message
    names = [n for n in re.split(r"\.|\[[^\]]*\]", err.field) if n]
    if len(names) < 2:
        return None
    if len(names) > 2 and names[-2] == "downwardAPI" and names[-1] in _DOWNWARD_FILE_FIELDS:
        names.insert(-1, "items")  # validation names no items[i]; the JSON path has them
    value = err.bad_value
    wanted = err.detail.removeprefix("must be of type ")
    go_type = _GO_SCALARS.get(wanted)
    if err.field.endswith("]") and names[-1] in ("labels", "annotations"):
        go_type, struct = "string", "ObjectMeta"  # a map value: named by the map's field
        if names[-2] != "metadata":  # a template's, which validation names without it
            names.insert(-1, "metadata")
    else:
        struct = _go_struct(names[:-1]) or ""
    if go_type is None:
        inner = _go_struct(names)
        if inner is None:
            return None
        go_type = f"[]v1.{inner}" if wanted == "array" else f"v1.{inner}"
    if not struct:
        return None
    kind = _json_kind(value)
    if go_type == "int32" and kind == "number":
        # A fraction or out of range: Go shows the JSON literal.
        kind = f"number {value!r}" if isinstance(value, float) else f"number {value}"
    return (
        f"json: cannot unmarshal {kind} into Go struct field {struct}.{'.'.join(names)} "
        f"of type {go_type}"
    )


# --- ConfigMap and Secret objects ----------------------------------------------------------------

# core.MaxSecretSize, the limit on a ConfigMap's or a Secret's data, in bytes.
_MAX_DATA_SIZE: Final = 1024 * 1024
_TOO_LONG_MSG: Final = f"may not be more than {_MAX_DATA_SIZE} bytes"


def _data_size(value: object, encoded: bool) -> int:
    # The decoded size of a base64 value (as the API server stores it), else the UTF-8 size.
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if not encoded:
        return _byte_len(text)
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError):
        return _byte_len(text)  # the store reports the bad encoding itself


def _data_keys(
    values: Mapping[Any, Any], field: str, errs: list[FieldError], *, encoded: bool
) -> int:
    # Each key must be a config key: it becomes a file name in a volume. Returns the size.
    total = 0
    for key, value in values.items():
        name = str(key)
        errs.extend(
            FieldError(INVALID, f"{field}[{name}]", name, msg) for msg in _config_key_errors(name)
        )
        if value is not None and not isinstance(value, str):
            # YAML's `enabled: yes`: the API server cannot decode a boolean or number here.
            errs.append(_type_error(f"{field}[{name}]", value, "string"))
            continue
        total += _data_size(value, encoded)
    return total


def _map_at(obj: Mapping[str, Any], key: str) -> Mapping[Any, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def validate_config_object(obj: Mapping[str, Any], namespace: str) -> list[FieldError]:
    """``ValidateConfigMap`` / ``ValidateSecret`` for a ConfigMap or Secret object (``[]`` for
    any other object): its name and namespace (``metadata.namespace``, else ``namespace``), its
    keys (config keys: ``[-._a-zA-Z0-9]+``, not ``.``, ``..`` or ``..``-prefixed, since each
    becomes a file name) and its 1 MiB size limit. A Secret's type-specific rules are not
    checked.
    """
    kind = obj.get("kind")
    if kind not in ("ConfigMap", "Secret"):
        return []
    meta = _map_at(obj, "metadata")
    given = meta.get("namespace")
    errs = validate_object_meta(meta, namespace=given if given else namespace)
    data = _map_at(obj, "data")
    if kind == "ConfigMap":
        binary = _map_at(obj, "binaryData")
        total = _data_keys(data, "data", errs, encoded=False)
        errs.extend(
            FieldError(INVALID, f"data[{key}]", str(key), "duplicate of key present in binaryData")
            for key in data
            if key in binary
        )
        total += _data_keys(binary, "binaryData", errs, encoded=True)
        if total > _MAX_DATA_SIZE:
            errs.append(FieldError(TOO_LONG, "", None, _TOO_LONG_MSG))
        return errs
    # stringData is merged into data before validation, its values win.
    string_data = _map_at(obj, "stringData")
    total = _data_keys(
        {k: v for k, v in data.items() if k not in string_data}, "data", errs, encoded=True
    )
    total += _data_keys(string_data, "data", errs, encoded=False)
    if total > _MAX_DATA_SIZE:
        errs.append(FieldError(TOO_LONG, "data", None, _TOO_LONG_MSG))
    return errs

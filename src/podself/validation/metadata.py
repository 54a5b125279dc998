"""Object metadata: names, ``generateName``, namespace (``ValidateObjectMeta``), labels and
annotations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from podself.downward import byte_len, go_lower, qualified_name_errors
from podself.validation.fields import (
    INVALID,
    REQUIRED,
    TOO_LONG,
    FieldError,
    is_map,
    read_string,
    type_error,
)
from podself.validation.names import (
    label_value_errors,
    max_len_error,
    name_is_dns_label,
    name_is_dns_subdomain,
)

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
    if not is_map(metadata):
        errs.append(type_error(path, metadata, "object"))
        return errs
    generate = read_string(metadata, "generateName", path, errs)
    if generate:
        errs.extend(
            FieldError(INVALID, f"{path}.generateName", generate, msg)
            for msg in name_is_dns_subdomain(generate, prefix=True)
        )
    name = read_string(metadata, "name", path, errs)
    if name == "" and generate:
        name = generate[:MAX_GENERATED_NAME_BASE] + "xxxxx"
    if name == "":
        errs.append(FieldError(REQUIRED, f"{path}.name", None, "name or generateName is required"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{path}.name", name, msg) for msg in name_is_dns_subdomain(name)
        )
    if namespace is None:
        namespace = read_string(metadata, "namespace", path, errs)
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
        errs.append(FieldError(INVALID, f"{path}.name", given, max_len_error(_MAX_CRONJOB_NAME)))
    return errs


# apimachinery TotalAnnotationSizeLimitB: keys and values together, in bytes.
TOTAL_ANNOTATION_SIZE: Final = 256 * 1024


def _string_map(values: object, path: str, errs: list[FieldError]) -> list[tuple[str, str]]:
    # A map[string]string as the API server decodes it: null values are "", other non-strings
    # fail to decode (reported on the entry).
    if values is None:
        return []
    if not isinstance(values, Mapping):
        errs.append(type_error(path, values, "object"))
        return []
    pairs: list[tuple[str, str]] = []
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            errs.append(type_error(f"{path}[{key}]", value, "string"))
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
        total += byte_len(key) + byte_len(value)
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

"""What the API server's decoder refuses before any validation runs.

Unknown fields (kubectl's strict field validation, its default) for the objects validated here
in full, with :func:`known_fields` for a "did you mean" hint; and :func:`decode_error`, which
renders a :data:`~podself.validation.fields.TYPE_INVALID` error as encoding/json writes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from podself.validation.fields import TYPE_INVALID, UNKNOWN_FIELD, FieldError, is_list

# The fields of the API objects validated here in full. Any other key makes kubectl's strict
# field validation (its default) refuse the request while decoding: "unknown field".
ENV_VAR_FIELDS: Final = frozenset({"name", "value", "valueFrom"})
VALUE_FROM_FIELDS: Final = frozenset(
    {"fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"}
)
OBJECT_FIELD_FIELDS: Final = frozenset({"apiVersion", "fieldPath"})
RESOURCE_FIELD_FIELDS: Final = frozenset({"containerName", "resource", "divisor"})
KEY_SELECTOR_FIELDS: Final = frozenset({"name", "key", "optional"})
FILE_KEY_FIELDS: Final = frozenset({"volumeName", "path", "key", "optional"})
DOWNWARD_VOLUME_FIELDS: Final = frozenset({"items", "defaultMode"})
DOWNWARD_PROJECTION_FIELDS: Final = frozenset({"items"})
DOWNWARD_FILE_FIELDS: Final = frozenset({"path", "fieldRef", "resourceFieldRef", "mode"})


def known_fields(path: str) -> frozenset[str] | None:
    """The fields of the object at ``path`` (an error's field path up to the object) when it
    is one podself.validation checks in full, else None: for a "did you mean" hint."""
    last = re.sub(r"\[\d+\]$", "", path).rpartition(".")[2]
    if last == "env":
        return ENV_VAR_FIELDS
    if last == "items" and ".downwardAPI" in path:
        return DOWNWARD_FILE_FIELDS
    return {
        "valueFrom": VALUE_FROM_FIELDS,
        "fieldRef": OBJECT_FIELD_FIELDS,
        "resourceFieldRef": RESOURCE_FIELD_FIELDS,
        "configMapKeyRef": KEY_SELECTOR_FIELDS,
        "secretKeyRef": KEY_SELECTOR_FIELDS,
        "fileKeyRef": FILE_KEY_FIELDS,
        "downwardAPI": DOWNWARD_PROJECTION_FIELDS
        if ".sources[" in path
        else DOWNWARD_VOLUME_FIELDS,
    }.get(last)


def unknown_keys(
    obj: Mapping[str, Any], known: frozenset[str], field: str, errs: list[FieldError]
) -> bool:
    """Report every key of ``obj`` outside ``known`` as an unknown field; True if any was (the
    API server then validates nothing, so the caller stops too)."""
    unknown = [key for key in obj if key not in known]
    errs.extend(FieldError(UNKNOWN_FIELD, f"{field}.{key}") for key in unknown)
    return bool(unknown)


def unknown_field(obj: Mapping[str, Any], key: str, field: str, errs: list[FieldError]) -> bool:
    """Report ``key`` as an unknown field when present; True if it was."""
    if obj.get(key) is None:
        return False
    errs.append(FieldError(UNKNOWN_FIELD, f"{field}.{key}"))
    return True


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
    return "array" if is_list(value) else "object"


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
    if len(names) > 2 and names[-2] == "downwardAPI" and names[-1] in DOWNWARD_FILE_FIELDS:
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

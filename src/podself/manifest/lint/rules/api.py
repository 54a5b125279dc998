"""What the API server rejects: every validation error of a pod template, its metadata and its
labels and annotations becomes a finding with the API server's field path and message, placed at
the offending key, with a hint on the fix (a close field name, a valid value)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from podself.downward import (
    ENV_FIELD_PATHS,
    VOLUME_FIELD_PATHS,
)
from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import MAPS, Pod, Where
from podself.manifest.load import split_field_path
from podself.manifest.workloads import Workload
from podself.validation import (
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TYPE_INVALID,
    UNKNOWN_FIELD,
    FieldError,
    decode_error,
    known_fields,
    validate_annotations,
    validate_labels,
    validate_object_meta,
    validate_pod_spec,
    validate_volume,
)

_RULES: Final = (
    make_rule(
        "invalid-field-ref",
        "error",
        "api",
        "A `fieldRef` the API server rejects (field path, subscript key or apiVersion).",
        """The API server validates every `fieldRef`: env vars accept `metadata.name`,
        `metadata.namespace`, `metadata.uid`, `spec.nodeName`, `spec.serviceAccountName`,
        `status.hostIP(s)`, `status.podIP(s)` and `metadata.labels['key']` /
        `metadata.annotations['key']`; a `downwardAPI` volume item accepts only
        `metadata.name`, `metadata.namespace`, `metadata.uid`, `metadata.labels`,
        `metadata.annotations` and the subscripted forms. A typo such as `metadata.pod.name`,
        a node or IP field in a volume, a whole label map in an env var, an invalid label key
        or an `apiVersion` other than `v1` makes the whole object invalid. The message is the
        API server's own. Fix the path (IPs and node name belong in env vars; whole maps in
        volumes).""",
        fix="use a field path the API accepts here (see the supported values in the message)",
    ),
    make_rule(
        "invalid-resource-field-ref",
        "error",
        "api",
        "A `resourceFieldRef` the API server rejects (resource, divisor or containerName).",
        """`resourceFieldRef.resource` must be `limits.` or `requests.` followed by `cpu`,
        `memory`, `ephemeral-storage` or `hugepages-<size>`; the divisor must be `1m` or `1`
        for cpu and one of `1`, `1k`, `1M`, `1G`, `1T`, `1P`, `1E`, `1Ki`, `1Mi`, `1Gi`,
        `1Ti`, `1Pi`, `1Ei` otherwise (compared in canonical form, so `1000m` is `1`); a
        `downwardAPI` volume item must name its `containerName`. Fix the resource name (for
        example `limits.memory`, not `memory`) or the divisor.""",
        fix="use limits.<resource>/requests.<resource> and a supported divisor",
    ),
    make_rule(
        "invalid-env-source",
        "error",
        "api",
        "An env var whose `valueFrom` the API server rejects.",
        """`valueFrom` must hold exactly one of `fieldRef`, `resourceFieldRef`,
        `configMapKeyRef` or `secretKeyRef`, and cannot be combined with a non-empty `value`.
        Key selectors need a valid `name` and `key`. Keep one source per variable: remove
        `value` or `valueFrom`, or split the variable in two.""",
        fix="give the variable either value or valueFrom with exactly one source",
    ),
    make_rule(
        "invalid-env-name",
        "error",
        "api",
        "An env var name the API server rejects.",
        """Env var names must be non-empty and made of printable ASCII characters other than
        `=` (Kubernetes 1.34 and later; older releases required a C-identifier-like name of
        letters, digits, `_`, `-` and `.` not starting with a digit). Rename the variable.""",
        fix="rename the variable: printable ASCII without '='",
    ),
    make_rule(
        "invalid-volume",
        "error",
        "api",
        "A volume the API server rejects (name, item paths, modes, one volume type).",
        """Volume names are unique DNS labels (lower-case letters, digits and `-`, at most 63).
        Each item of a `downwardAPI`, `projected`, `secret` or `configMap` volume needs a
        relative `path` without `..` elements that does not start with `..`, and every
        `mode` and `defaultMode` must be between 0 and 0777 (no setuid, setgid or sticky
        bits); a `downwardAPI` item needs exactly one of `fieldRef` and `resourceFieldRef`, a
        projected source holds one kind and its paths must be unique across sources, a
        `secret` needs `secretName` and a `configMap` its `name`. Fix the item the message
        names.""",
        fix="fix the volume item named in the message",
    ),
    make_rule(
        "invalid-name",
        "error",
        "api",
        "A name the API server rejects: the object, its namespace, a container, or the "
        "pod's hostname or subdomain.",
        """`metadata.name` (and a `generateName` prefix) must be a DNS subdomain: lower-case
        letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253
        characters (a CronJob's at most 52). `metadata.namespace`, every container name and
        the pod's `hostname` and `subdomain` must be a DNS label: the same without `.`, at
        most 63 characters; container names are unique across `containers`,
        `initContainers` and `ephemeralContainers`. Names like `..`, `a/b` or `../../etc` are
        refused, so no name can leave a directory or add a line to `/etc/hosts`. Rename the
        object, namespace, container or host.""",
        fix="use lower-case letters, digits and '-' (and '.' in object names only)",
    ),
    make_rule(
        "invalid-volume-mount",
        "error",
        "api",
        "A `volumeMounts` entry the API server rejects.",
        """Each mount names a volume of the pod that is itself valid (a mount of an invalid
        volume is also reported as not found), has a `mountPath` unique in the container,
        and a `subPath` or `subPathExpr` (not both) that is a relative path without `..`
        elements. Kubernetes reports the `subPath` errors at the `volumeMounts` list rather
        than at the mount; the finding points at the mount. Fix the mount's name or paths.""",
        fix="name a valid volume, give a unique mountPath and a relative subPath without '..'",
    ),
    make_rule(
        "invalid-label",
        "error",
        "api",
        "A label or annotation of the object or its pod template the API server rejects.",
        """Label keys and annotation keys are qualified names: an optional DNS subdomain prefix
        of at most 253 characters and `/`, then a name of at most 63 characters made of
        letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit. Label
        values are empty or at most 63 such characters; annotation values are free, but keys
        and values together may not exceed 256 KiB. The object's own labels and its pod
        template's are checked (Kubernetes reports a template's at `spec.template.labels`).
        Fix the key or value the finding points at.""",
        fix="use a qualified-name key and a label value of at most 63 characters",
    ),
    make_rule(
        "invalid-container",
        "error",
        "api",
        "A pod spec without containers, a container without an image, or ephemeral containers.",
        """A pod needs at least one container, and each container an `image` (a Pod's image
        may not start or end with white space). `ephemeralContainers` are added to a running
        pod by `kubectl debug`: a Pod cannot be created with them and a pod template cannot
        hold them (nor may they mount with `subPath`). Add the missing field or remove the
        ephemeral containers.""",
        fix="add the container or its image; remove ephemeralContainers from the manifest",
    ),
    make_rule(
        "invalid-type",
        "error",
        "api",
        "A field of the wrong JSON type (for example a number where a string is required).",
        """The API server cannot even decode the object: a string field holds a number or a
        list, an object is a string, and so on. YAML turns unquoted `8080`, `true` or `1.0`
        into numbers and booleans; quote values that must be strings.""",
        fix="quote the value or give the field the type the API expects",
    ),
)
_FIX: Final = {rule.id: rule.fix for rule in _RULES}

_ENV_NAME_FIELD: Final = re.compile(r"\.env\[\d+\]\.name$")
_CONTAINER_NAME_FIELD: Final = re.compile(r"[cC]ontainers\[\d+\]\.name$")
_HOST_NAME_FIELD: Final = re.compile(r"spec\.(hostname|subdomain)$")
# Kubernetes reports these at the volumeMounts list; the finding points at the mount.
_MOUNT_LIST_FIELD: Final = re.compile(
    r"\.volumeMounts\.(subPath|subPathExpr|mountPropagation|recursiveReadOnly)$"
)


def _classify(err: FieldError) -> str:
    path = err.field
    if err.type == TYPE_INVALID:
        return "invalid-type"
    if path.endswith((".labels", ".annotations")):
        return "invalid-label"
    if ".resourceFieldRef" in path:
        return "invalid-resource-field-ref"
    if ".fieldRef" in path:
        return "invalid-field-ref"
    if ".volumes[" in path:
        return "invalid-volume"
    if _ENV_NAME_FIELD.search(path):
        return "invalid-env-name"
    if ".volumeMounts" in path:
        return "invalid-volume-mount"
    if (
        path.startswith("metadata.")
        or _CONTAINER_NAME_FIELD.search(path)
        or _HOST_NAME_FIELD.search(path)
    ):
        return "invalid-name"
    if ".env" in path:
        return "invalid-env-source"
    return "invalid-container"


def _closest(value: str, choices: Iterable[str]) -> str | None:
    from difflib import get_close_matches  # only for a hint on an error

    found = get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _same_name_path(value: str, choices: Sequence[str]) -> str | None:
    """The supported field path with the same last segment as ``value`` under another root
    (``metadata.podIP`` -> ``status.podIP``), the closest if several; None if there is none."""
    name = value.rpartition(".")[2].lower()
    same = [c for c in choices if c.rpartition(".")[2].lower() == name]
    return (_closest(value, same) or same[0]) if same else None


def _api_hint(err: FieldError) -> str:
    if err.type == TYPE_INVALID:
        answer = decode_error(err)
        if answer is not None:
            return f"{_FIX['invalid-type']}; the API server refuses the object: {answer}"
    path = err.field
    value = err.bad_value
    if err.type == UNKNOWN_FIELD:
        parent, _, key = path.rpartition(".")
        known = known_fields(parent)
        if known is not None and key not in known:
            lowered = {name.lower(): name for name in known}
            guess = lowered.get(key.lower()) or _closest(key, known)
            fix = (
                f"did you mean {guess}?" if guess else f"the fields are {', '.join(sorted(known))}"
            )
            return f"no such field here (kubectl's strict field validation refuses it): {fix}"
        return (
            "the target Kubernetes release has no such field (it came later; see "
            "docs/reference/validation.md): pick the cluster's release with --kubernetes-version"
        )
    in_volume = ".volumes[" in path
    if path.endswith(".fieldRef.fieldPath") and isinstance(value, str):
        if err.type == NOT_SUPPORTED:
            if in_volume and value in ENV_FIELD_PATHS:
                return (
                    f"{value} is available only to env vars (env[].valueFrom.fieldRef); a "
                    "downwardAPI volume holds metadata.name, metadata.namespace, metadata.uid, "
                    "metadata.labels and metadata.annotations"
                )
            if not in_volume and value in ("metadata.labels", "metadata.annotations"):
                return (
                    f"an env var takes one key: {value}['key']; mount a downwardAPI volume "
                    "for the whole map (it also follows changes)"
                )
        elif err.type == INVALID:
            detail = err.detail
            if "unsupported pod version" in detail:
                return 'fieldRef.apiVersion must be "v1" (or left out)'
            if "does not support subscript" in detail:
                return "only metadata.labels and metadata.annotations take a ['key'] subscript"
            choices = VOLUME_FIELD_PATHS if in_volume else ENV_FIELD_PATHS
            # The same field name under another root beats the closest text: metadata.podIP
            # is status.podIP, not metadata.uid.
            guess = _same_name_path(value, choices)
            if in_volume and guess is None:
                env_guess = _same_name_path(value, ENV_FIELD_PATHS)
                if env_guess is not None:
                    return (
                        f'did you mean "{env_guess}"? It is available only to env vars '
                        "(env[].valueFrom.fieldRef)"
                    )
            if guess is None:
                guess = _closest(value, choices)
            if guess is not None:
                return f'did you mean "{guess}"?'
    if path.endswith(".fieldRef") and err.type == INVALID:
        return (
            "label and annotation keys are an optional DNS subdomain prefix and '/', then a "
            "name of up to 63 characters: letters, digits, '-', '_' and '.'"
        )
    if path.endswith(".resourceFieldRef.divisor") and err.type == INVALID:
        if isinstance(value, str) and value.endswith(".cpu"):
            return 'use divisor "1m" (millicores) or "1" (cores)'
        return 'use a power-of-two divisor ("1Ki", "1Mi", "1Gi") or a decimal one ("1k", "1M")'
    if (
        path.endswith(".resourceFieldRef.resource")
        and err.type == NOT_SUPPORTED
        and value in ("cpu", "memory", "ephemeral-storage")
    ):
        return f'write "limits.{value}" or "requests.{value}"'
    if ".volumeMounts[" in path and err.type == NOT_FOUND:
        return f'spec.volumes has no valid volume named "{value}": add it or fix the name'
    if path.endswith(".image") and err.type == REQUIRED:
        return "give the container an image (podself run does not pull it, the API needs it)"
    if path.endswith(".ephemeralContainers"):
        return "remove ephemeralContainers: kubectl debug adds them to a running pod"
    if path.endswith(".resourceFieldRef.containerName") and err.type == REQUIRED:
        return "a volume item has no container of its own: name the container to read"
    return _FIX[_classify(err)]


def _navigate(obj: object, path: str) -> object:
    for segment in split_field_path(path):
        if isinstance(segment, int):
            obj = obj[segment] if isinstance(obj, list) and 0 <= segment < len(obj) else None
        else:
            obj = obj.get(segment) if isinstance(obj, MAPS) else None
    return obj


def _item_signature(err: FieldError, prefix: str) -> tuple[str, str, str, str]:
    return err.type, err.field[len(prefix) :], repr(err.bad_value), err.detail


def _item_location(workload: Workload, err: FieldError, used: dict[object, Any]) -> str:
    """Where a downwardAPI item error points: Kubernetes names no ``items[i]``, so find the
    item that gives this error on its own (the n-th such item for the n-th same error). Each
    item is validated once per volume, so many errors cost linear time."""
    at = err.field.rfind(".downwardAPI")
    if at < 0:
        return ""
    base = err.field[: at + len(".downwardAPI")]
    if err.field[len(base) :].startswith(".items"):
        return ""
    index = used.get(base)
    if index is None:
        index = {}
        source = _navigate(workload.object, base)
        items = source.get("items") if isinstance(source, MAPS) else None
        for position, item in enumerate(items if isinstance(items, list) else ()):
            if not isinstance(item, MAPS):
                continue
            probe = validate_volume({"name": "probe", "downwardAPI": {"items": [item]}}, "v")
            for signature in dict.fromkeys(_item_signature(e, "v.downwardAPI") for e in probe):
                index.setdefault(signature, []).append(position)
        used[base] = index
    signature = _item_signature(err, base)
    positions = index.get(signature, [])
    nth = used.get((base, signature), 0)
    if nth >= len(positions):
        return ""
    used[(base, signature)] = nth + 1
    return f"{base}.items[{positions[nth]}]{err.field[len(base) :]}"


def _mount_location(workload: Workload, err: FieldError, used: dict[object, Any]) -> str:
    """The mount a list-level volumeMounts error is about: the next mount whose field holds
    the bad value (or sets the field, when the error shows no value). The mounts are indexed
    once per list, so many errors cost linear time."""
    found = _MOUNT_LIST_FIELD.search(err.field)
    if found is None:
        return ""
    base, key = err.field[: found.start() + len(".volumeMounts")], found.group(1)
    index = used.get((base, key))
    if index is None:
        mounts = _navigate(workload.object, base)
        index = {}
        for position, mount in enumerate(mounts if isinstance(mounts, list) else ()):
            value = mount.get(key) if isinstance(mount, MAPS) else None
            if value is not None:
                index.setdefault(None, []).append(position)
                if isinstance(value, str):
                    index.setdefault(value, []).append(position)
        used[(base, key)] = index
    signature = (base, key, err.type, repr(err.bad_value), err.detail)
    positions = index.get(err.bad_value if isinstance(err.bad_value, str) else None, [])
    nth = used.get(signature, 0)
    if nth >= len(positions):
        return ""
    used[signature] = nth + 1
    return f"{base}[{positions[nth]}].{key}"


def _check_api(pod: Pod) -> None:
    workload = pod.workload
    used: dict[object, Any] = {}
    # Without a namespace kubectl uses the context's, which the API server has accepted.
    namespace = workload.namespace or "default"
    errors = validate_object_meta(
        workload.object_metadata, "metadata", namespace=namespace, kind=workload.kind
    )
    template = workload.kind != "Pod"
    errors += validate_pod_spec(workload.spec, workload.spec_path, template=template)
    volumes = workload.spec.get("volumes")
    declared = {
        v["name"]
        for v in (volumes if isinstance(volumes, list) else ())
        if isinstance(v, MAPS) and isinstance(v.get("name"), str)
    }
    for err in errors:
        if err.type == NOT_FOUND and ".volumeMounts[" in err.field and err.bad_value in declared:
            continue  # the volume's own error says it: an invalid volume claims no name
        if ".downwardAPI" in err.field:
            where = _item_location(workload, err, used)
        else:
            where = _mount_location(workload, err, used)
        pod.report(_classify(err), err.field, str(err), _api_hint(err), where)
    _check_metadata_maps(pod)


def _metadata_places(workload: Workload) -> list[tuple[Mapping[str, Any], str, tuple[str, ...]]]:
    """(metadata, the path the API server reports its labels at, where it is written): the
    object's own (for a workload) and the pod template's."""
    written = tuple(str(s) for s in split_field_path(workload.metadata_path))
    if workload.kind == "Pod":
        return [(workload.metadata, "metadata", written)]
    template = workload.metadata_path.removesuffix(".metadata")
    return [
        (workload.object_metadata, "metadata", ("metadata",)),
        (workload.metadata, template, written),
    ]


def _check_metadata_maps(pod: Pod) -> None:
    """ValidateLabels and ValidateAnnotations, each error pointed at its key (the total
    annotation size at the map)."""
    for metadata, path, written in _metadata_places(pod.workload):
        if not isinstance(metadata, MAPS):
            continue
        for bag, check in (("labels", validate_labels), ("annotations", validate_annotations)):
            values = metadata.get(bag)
            field_path = f"{path}.{bag}"
            errors: list[tuple[FieldError, Where]] = []
            if isinstance(values, MAPS):
                for key, value in values.items():
                    errors.extend(
                        (e, (*written, bag, key))
                        for e in check({key: value}, field_path)
                        if e.type != TOO_LONG
                    )
                errors.extend(
                    (e, (*written, bag)) for e in check(values, field_path) if e.type == TOO_LONG
                )
            else:
                errors.extend((e, (*written, bag)) for e in check(values, field_path))
            for err, where in errors:
                hint = _LABEL_HINT if err.type == INVALID else _api_hint(err)
                pod.report(_classify(err), err.field, str(err), hint, where)


_LABEL_HINT: Final = (
    "keys are an optional DNS subdomain prefix (up to 253 characters) and '/', then a name of "
    "up to 63: letters, digits, '-', '_' and '.'; label values up to 63 of the same, starting "
    "and ending with a letter or digit"
)


# Validation is the most costly check: skipped when every rule it reports is off.
FAMILY: Final = Family(_RULES, (PodCheck(_check_api, frozenset(rule.id for rule in _RULES)),))

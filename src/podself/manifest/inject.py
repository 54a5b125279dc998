"""Add the recommended Downward API env vars and ``podinfo`` volume to every workload, idempotently.

What a manifest already defines is reported (:class:`Note`, with file:line), never replaced.
The stream is read once, a document at a time; additions are written into the text of the
documents that change (or, for unusual constructs, through a ruamel.yaml round trip that keeps
comments, quoting and separators), and everything else is copied byte for byte.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import functools
import hashlib
import io
import json
import os
import re
import stat
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from podself.errors import ManifestError, QuantityError
from podself.expand import references
from podself.manifest.load import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    LoadIssue,
    decode_input,
    read_source,
    scan_documents,
    source_name,
    split_field_path,
    too_large,
)
from podself.manifest.workloads import Workload, iter_workloads
from podself.names import env_table
from podself.quantity import Quantity

if TYPE_CHECKING:
    from podself.manifest.lint import Finding

__all__ = [
    "DATADOG_AGENT_ENV",
    "DATADOG_TAG_LABELS",
    "DEFAULT_FIELDS",
    "DEFAULT_MOUNT_PATH",
    "FIELDS",
    "FIELD_GROUPS",
    "OTEL_ENV",
    "VOLUME_NAME",
    "ContainerPlan",
    "Field",
    "InjectOptions",
    "InjectResult",
    "Note",
    "WorkloadPlan",
    "check_writable",
    "emit_helm",
    "emit_kustomize",
    "inject_file",
    "inject_text",
    "parse_fields",
    "plan_workload",
    "write_in_place",
]

DEFAULT_MOUNT_PATH: Final = "/etc/podinfo"
VOLUME_NAME: Final = "podinfo"
_PODINFO_DIR_ENV: Final = "PODSELF_PODINFO_DIR"


@dataclass(frozen=True, slots=True)
class Field:
    """One thing ``inject`` can expose, named like the ``PodInfo`` attribute it fills.

    ``kind`` is ``"identity"`` (an env var: ``field_path`` through ``fieldRef``, or the
    container's own name as a plain value when ``field_path`` is empty), ``"resource"`` (an env
    var and a volume file through ``resourceFieldRef`` with ``divisor``) or ``"map"`` (a volume
    file only: labels and annotations). ``env_suffixes`` are tried after ``--prefix`` in order,
    and the first spelling ``podself.read()`` recognises wins.
    """

    key: str
    kind: str
    field_path: str = ""
    resource: str = ""
    divisor: str = ""
    env_suffixes: tuple[str, ...] = ()
    env_name: str = ""
    file_name: str = ""


FIELDS: Final[Mapping[str, Field]] = {
    f.key: f
    for f in (
        Field("name", "identity", "metadata.name", env_suffixes=("POD_NAME",)),
        Field(
            "namespace",
            "identity",
            "metadata.namespace",
            env_suffixes=("NAMESPACE", "POD_NAMESPACE"),
        ),
        Field("pod_ip", "identity", "status.podIP", env_suffixes=("POD_IP",)),
        Field("node_name", "identity", "spec.nodeName", env_suffixes=("NODE_NAME",)),
        Field("uid", "identity", "metadata.uid", env_suffixes=("POD_UID",)),
        Field(
            "service_account",
            "identity",
            "spec.serviceAccountName",
            env_suffixes=("SERVICE_ACCOUNT", "SERVICE_ACCOUNT_NAME", "POD_SERVICE_ACCOUNT"),
        ),
        Field("host_ip", "identity", "status.hostIP", env_suffixes=("HOST_IP", "NODE_IP")),
        Field("pod_ips", "identity", "status.podIPs", env_suffixes=("POD_IPS",)),
        Field("host_ips", "identity", "status.hostIPs", env_suffixes=("HOST_IPS",)),
        Field("container", "identity", "", env_suffixes=("CONTAINER_NAME",)),
        Field("labels", "map", "metadata.labels", file_name="labels"),
        Field("annotations", "map", "metadata.annotations", file_name="annotations"),
        Field(
            "cpu_limit",
            "resource",
            resource="limits.cpu",
            divisor="1m",
            env_name="RESOURCE_CPU_LIMIT_MILLICORES",
            file_name="cpu_limit",
        ),
        Field(
            "cpu_request",
            "resource",
            resource="requests.cpu",
            divisor="1m",
            env_name="RESOURCE_CPU_REQUEST_MILLICORES",
            file_name="cpu_request",
        ),
        Field(
            "memory_limit",
            "resource",
            resource="limits.memory",
            divisor="1Mi",
            env_name="RESOURCE_MEMORY_LIMIT_MB",
            file_name="mem_limit",
        ),
        Field(
            "memory_request",
            "resource",
            resource="requests.memory",
            divisor="1Mi",
            env_name="RESOURCE_MEMORY_REQUEST_MB",
            file_name="mem_request",
        ),
        Field(
            "ephemeral_storage_limit",
            "resource",
            resource="limits.ephemeral-storage",
            divisor="1Mi",
            env_name="RESOURCE_EPHEMERAL_STORAGE_LIMIT_MB",
            file_name="ephemeral_storage_limit_mb",
        ),
        Field(
            "ephemeral_storage_request",
            "resource",
            resource="requests.ephemeral-storage",
            divisor="1Mi",
            env_name="RESOURCE_EPHEMERAL_STORAGE_REQUEST_MB",
            file_name="ephemeral_storage_request_mb",
        ),
    )
}

_IDENTITY_DEFAULT: Final = (
    "name",
    "namespace",
    "pod_ip",
    "node_name",
    "uid",
    "service_account",
    "host_ip",
)
_RESOURCE_DEFAULT: Final = ("cpu_limit", "cpu_request", "memory_limit", "memory_request")
DEFAULT_FIELDS: Final = (*_IDENTITY_DEFAULT, "labels", "annotations", *_RESOURCE_DEFAULT)
FIELD_GROUPS: Final[Mapping[str, tuple[str, ...]]] = {
    "default": DEFAULT_FIELDS,
    "identity": _IDENTITY_DEFAULT,
    "metadata": ("labels", "annotations"),
    "resources": _RESOURCE_DEFAULT,
    "all": tuple(FIELDS),
}

# The OpenTelemetry Operator's Downward API variables (plus the namespace, which the Operator
# writes as a constant because it knows it at admission; a plain manifest does not).
OTEL_ENV: Final[Mapping[str, str]] = {
    "OTEL_RESOURCE_ATTRIBUTES_POD_NAME": "metadata.name",
    "OTEL_RESOURCE_ATTRIBUTES_POD_UID": "metadata.uid",
    "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME": "spec.nodeName",
    "OTEL_RESOURCE_ATTRIBUTES_NAMESPACE": "metadata.namespace",
}
_OTEL_WORKLOAD_KEYS: Final[Mapping[str, str]] = {
    "Deployment": "k8s.deployment.name",
    "StatefulSet": "k8s.statefulset.name",
    "DaemonSet": "k8s.daemonset.name",
    "ReplicaSet": "k8s.replicaset.name",
    "Job": "k8s.job.name",
    "CronJob": "k8s.cronjob.name",
}
# Datadog's unified service tagging: each env var from its pod label, and what the Datadog
# Cluster Agent's admission controller injects for the tracer and DogStatsD (hostip mode).
DATADOG_TAG_LABELS: Final[Mapping[str, str]] = {
    "DD_ENV": "tags.datadoghq.com/env",
    "DD_SERVICE": "tags.datadoghq.com/service",
    "DD_VERSION": "tags.datadoghq.com/version",
}
DATADOG_AGENT_ENV: Final[Mapping[str, str]] = {
    "DD_AGENT_HOST": "status.hostIP",
    "DD_ENTITY_ID": "metadata.uid",
}
_SECTIONS: Final = ("containers", "initContainers")
# Lint's advice about an env entry inject leaves as it is, repeated in inject's note.
_NAMING_RULES: Final = frozenset({"env-name-mismatch", "naming-convention"})
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def parse_fields(spec: str | Iterable[str]) -> tuple[str, ...]:
    """Turn ``"default,container"`` (names and groups, comma-separated) into field keys.

    Groups: ``default``, ``identity``, ``metadata``, ``resources``, ``all``. Hyphens may stand
    for underscores (``pod-ip``). Unknown names raise ``ValueError`` listing the known ones.
    """
    parts = [spec] if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for part in parts:
        for raw in part.split(","):
            name = raw.strip().lower().replace("-", "_")
            if not name:
                continue
            keys = FIELD_GROUPS.get(name) or ((name,) if name in FIELDS else None)
            if keys is None:
                known = ", ".join([*FIELD_GROUPS, *FIELDS])
                msg = f"field {raw.strip()!r}: unknown; known: {known}"
                raise ValueError(msg)
            out.extend(k for k in keys if k not in out)
    if not out:
        msg = "fields: no field selected"
        raise ValueError(msg)
    return tuple(k for k in FIELDS if k in out)


@dataclass(frozen=True, slots=True)
class InjectOptions:
    """What to add. The defaults are the recommended set.

    ``containers`` limits the edit to containers (or init containers) of those names;
    ``all_resources`` adds resource fields even for limits and requests a container does not
    set (a LimitRange may fill them; ``podself lint`` then reports ``resource-not-set``).
    """

    env: bool = True
    volume: bool = True
    fields: tuple[str, ...] = DEFAULT_FIELDS
    prefix: str = "K8S_"
    mount_path: str = DEFAULT_MOUNT_PATH
    containers: frozenset[str] | None = None
    otel: bool = False
    all_resources: bool = False
    datadog: bool = False

    def __post_init__(self) -> None:
        unknown = [f for f in self.fields if f not in FIELDS]
        if unknown:
            msg = f"fields {', '.join(unknown)}: unknown; known: {', '.join(FIELDS)}"
            raise ValueError(msg)
        if self.prefix and not _ENV_NAME.fullmatch(self.prefix):
            msg = (
                f"prefix {self.prefix!r}: env var prefixes are letters, digits and '_', "
                "not starting with a digit"
            )
            raise ValueError(msg)
        path = self.mount_path
        if not path.startswith("/") or ".." in path.split("/") or ":" in path:
            msg = f"mount path {path!r}: must be an absolute path without '..' or ':'"
            raise ValueError(msg)
        if not (self.env or self.volume or self.otel or self.datadog):
            msg = "nothing to add: --no-env and --no-volume without --otel or --datadog"
            raise ValueError(msg)

    @property
    def normalized_mount_path(self) -> str:
        """``mount_path`` without a trailing slash (``/`` stays ``/``)."""
        return self.mount_path.rstrip("/") or "/"

    def env_names(self) -> dict[str, str]:
        """Identity field key -> the env var name this prefix gives it."""
        table = env_table()
        out: dict[str, str] = {}
        for f in FIELDS.values():
            if f.kind != "identity":
                continue
            names = [self.prefix + suffix for suffix in f.env_suffixes]
            out[f.key] = next((n for n in names if table.get(n, ("",))[0] == f.key), names[0])
        return out

    def unrecognised_names(self) -> list[str]:
        """Selected env names ``podself.read()`` would not recognise (a custom prefix)."""
        table = env_table()
        names = self.env_names()
        return [
            names[k]
            for k in self.fields
            if FIELDS[k].kind == "identity" and table.get(names[k], ("",))[0] != k
        ]


@dataclass(frozen=True, slots=True)
class Note:
    """Something left as it was, and why: ``file:line: message``."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """What one container gets: ``env`` items to append and a ``mount`` (or ``None``)."""

    section: str
    index: int
    name: str
    env: tuple[Mapping[str, Any], ...]
    mount: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class WorkloadPlan:
    """The additions for one workload's pod template, and notes on what was left as is.

    ``notes`` pair a field path (from the document's root) with a message; ``considered``
    names the containers that were looked at (after ``--containers``).
    """

    kind: str
    api_version: str
    name: str
    namespace: str
    spec_path: str
    object_path: str
    containers: tuple[ContainerPlan, ...]
    volumes: tuple[Mapping[str, Any], ...]
    notes: tuple[tuple[str, str], ...]
    considered: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """Whether anything would be added."""
        return bool(self.volumes) or any(c.env or c.mount for c in self.containers)


@dataclass(frozen=True, slots=True)
class InjectResult:
    """The outcome for one input: its bytes before and after, and the notes.

    ``output`` is ``original`` itself when nothing was added.
    """

    source: str
    original: bytes
    output: bytes
    notes: tuple[Note, ...]
    plans: tuple[WorkloadPlan, ...] = field(default=())

    @property
    def changed(self) -> bool:
        """Whether anything was added."""
        return self.output != self.original

    @property
    def text(self) -> str:
        """``output`` as text (without a byte-order mark)."""
        return self.output.decode("utf-8-sig")

    def diff(self) -> str:
        """A unified diff from ``original`` to ``output`` (empty when nothing changed)."""
        if not self.changed:
            return ""
        name = self.source
        return "".join(
            difflib.unified_diff(
                self.original.decode("utf-8-sig").splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=name if name.startswith("<") else f"a/{name.lstrip('/')}",
                tofile=name if name.startswith("<") else f"b/{name.lstrip('/')}",
            )
        )


# --- planning --------------------------------------------------------------------------------


def _quantity(value: object) -> Quantity | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return Quantity.from_json(value)
    except (QuantityError, ValueError):
        return None


def _canonical_divisor(value: object) -> str:
    if value is None:
        return "1"
    quantity = _quantity(value)
    return str(value) if quantity is None else quantity.canonical()


def _is_set(values: Mapping[str, Any], name: str) -> bool:
    raw = values.get(name)
    if raw is None:
        return False
    quantity = _quantity(raw)
    return quantity is None or not quantity.is_zero()  # unparseable: the API's to judge


def _resources_set(
    container: Mapping[str, Any], pod_spec: Mapping[str, Any]
) -> dict[str, Quantity | None]:
    """Resource strings (``limits.cpu``…) the kubelet resolves from the container's own values,
    each with the quantity it resolves to (None where that is not known here)."""
    resources = container.get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    limits = resources.get("limits")
    limits = limits if isinstance(limits, Mapping) else {}
    requests = resources.get("requests")
    requests = requests if isinstance(requests, Mapping) else {}
    pod_resources = pod_spec.get("resources")
    pod_limits = pod_resources.get("limits") if isinstance(pod_resources, Mapping) else None
    pod_limits = pod_limits if isinstance(pod_limits, Mapping) else {}
    out: dict[str, Quantity | None] = {}
    for name in ("cpu", "memory", "ephemeral-storage"):
        limit = _is_set(limits, name)
        # Pod-level limits bound cpu and memory instead of the node.
        if limit:
            out[f"limits.{name}"] = _quantity(limits.get(name))
        elif name != "ephemeral-storage" and _is_set(pod_limits, name):
            out[f"limits.{name}"] = _quantity(pod_limits.get(name))
        if _is_set(requests, name):
            out[f"requests.{name}"] = _quantity(requests.get(name))
        elif limit:  # requests default to limits
            out[f"requests.{name}"] = _quantity(limits.get(name))
    return out


def _exact_field(f: Field, resources: Mapping[str, Quantity | None] | None) -> Field:
    """``f``, in bytes when its quantity is not a whole number of MiB.

    A decimal size such as ``1G`` is 953.67 MiB: a ``1Mi`` divisor would round it up (and
    ``podself lint`` would rightly warn), so the value is exposed with divisor ``1`` under the
    ``_BYTES`` names ``podself.read()`` recognises instead.
    """
    if f.divisor != "1Mi" or resources is None:
        return f
    quantity = resources.get(f.resource)
    if quantity is None or quantity.value() % (1 << 20) == 0:
        return f
    return replace(
        f,
        divisor="1",
        env_name=f.env_name.removesuffix("_MB") + "_BYTES",
        file_name=f.file_name.removesuffix("_mb") + "_bytes",
    )


def _env_key(var: Mapping[str, Any], container: str) -> tuple[Any, ...]:
    """A comparable form of an env var's definition (``apiVersion`` and divisor defaults)."""
    source = var.get("valueFrom")
    if source is None:
        value = var.get("value")
        return ("value", "" if value is None else str(value))
    if not isinstance(source, Mapping) or len(source) != 1:
        return ("other", repr(source))
    ref = source.get("fieldRef")
    if isinstance(ref, Mapping):
        return ("field", ref.get("fieldPath"), ref.get("apiVersion") or "v1")
    ref = source.get("resourceFieldRef")
    if isinstance(ref, Mapping):
        return (
            "resource",
            ref.get("resource"),
            ref.get("containerName") or container,
            _canonical_divisor(ref.get("divisor")),
        )
    return ("other", repr(source))


def _exposure(var_name: str, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """What a recognised env var gives ``podself.read()``: (attribute, field or resource, …).

    None when podself does not read the name, or reads it in another unit than its divisor.
    """
    entry = env_table().get(var_name)
    if entry is None:
        return None
    attribute, _, divisor, _ = entry
    if key[0] == "field":
        return (attribute, key[1])
    if key[0] == "resource" and divisor and key[3] == divisor:
        return (attribute, key[1], key[2])
    return None


def _exposed(
    existing: Mapping[str, tuple[int, Mapping[str, Any]]], container: str
) -> dict[tuple[Any, ...], str]:
    """The user's env vars that already give podself a value, by what they give."""
    out: dict[tuple[Any, ...], str] = {}
    for var_name, (_, var) in existing.items():
        exposure = _exposure(var_name, _env_key(var, container))
        if exposure is not None:
            out.setdefault(exposure, var_name)
    return out


def _item_key(item: object) -> tuple[Any, ...]:
    if not isinstance(item, Mapping):
        return ("other", repr(item))
    ref = item.get("fieldRef")
    if isinstance(ref, Mapping):
        return ("field", item.get("path"), ref.get("fieldPath"), ref.get("apiVersion") or "v1")
    ref = item.get("resourceFieldRef")
    if isinstance(ref, Mapping):
        return (
            "resource",
            item.get("path"),
            ref.get("resource"),
            ref.get("containerName"),
            _canonical_divisor(ref.get("divisor")),
        )
    return ("other", repr(item))


def _missing_items(volume: object, items: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Paths of ``items`` that ``volume`` lacks (``[]``: it holds them all, maybe more), or
    None when it is not a ``downwardAPI`` volume."""
    if not isinstance(volume, Mapping):
        return None
    source = volume.get("downwardAPI")
    if not isinstance(source, Mapping):
        return None
    existing = source.get("items")
    have = {_item_key(item) for item in existing} if isinstance(existing, list) else set()
    return [str(item["path"]) for item in items if _item_key(item) not in have]


def _same_volume(volume: object, items: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``volume`` is a ``downwardAPI`` volume holding at least these items."""
    return _missing_items(volume, items) == []


def _article(word: str) -> str:
    """'an' before the volume kinds that start with a vowel (an emptyDir, a hostPath)."""
    return "an" if word[:1].lower() in "aeio" else "a"


def _volume_kind(volume: object) -> str:
    if not isinstance(volume, Mapping):
        return "malformed"
    kinds = [k for k in volume if k != "name"]
    return kinds[0] if len(kinds) == 1 else "malformed"


def _volume_names(container: str) -> tuple[str, ...]:
    """``podinfo``, then ``podinfo-<container>`` (a DNS label: hashed when over 63 chars)."""
    own = f"{VOLUME_NAME}-{container.lower()}"
    if len(own) > 63:
        digest = hashlib.sha256(container.encode()).hexdigest()[:8]
        own = f"{own[:54].rstrip('-')}-{digest}"
    return (VOLUME_NAME, own)


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def _resource_env(f: Field) -> dict[str, Any]:
    return {
        "name": f.env_name,
        "valueFrom": {"resourceFieldRef": {"resource": f.resource, "divisor": f.divisor}},
    }


def _otel_attributes(container: str, kind: str, workload_name: str) -> str:
    from podself.logs.otel import encode_resource_attributes

    pod = "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"
    namespace = "$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)"
    attributes = {
        "k8s.container.name": container,
        "k8s.namespace.name": namespace,
        "k8s.node.name": "$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)",
        "k8s.pod.name": pod,
        "k8s.pod.uid": "$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)",
    }
    key = _OTEL_WORKLOAD_KEYS.get(kind)
    if key and workload_name:
        attributes[key] = workload_name
    return encode_resource_attributes(dict(sorted(attributes.items())))


def _datadog_env(labels: object) -> list[dict[str, Any]]:
    """``DD_ENV``/``DD_SERVICE``/``DD_VERSION`` for the ``tags.datadoghq.com/*`` labels the pod
    template has (all three when ``labels`` is unknown, ``None``), then the agent's address and
    the entity ID. A fieldRef to a missing label reads as an empty string, which would blank
    the tracer's own default: a label the template lacks gets no variable."""
    out = [
        _field_env(name, f"metadata.labels['{label}']")
        for name, label in DATADOG_TAG_LABELS.items()
        if labels is None or (isinstance(labels, Mapping) and label in labels)
    ]
    out.extend(_field_env(name, path) for name, path in DATADOG_AGENT_ENV.items())
    return out


def _wanted_env(
    options: InjectOptions,
    container: str,
    resources: Mapping[str, Quantity | None] | None,
    kind: str,
    workload_name: str,
    *,
    labels: object = None,
) -> list[dict[str, Any]]:
    """The env items a container should have, in the order they are appended (``labels``:
    the pod template's, ``None`` when unknown)."""
    out: list[dict[str, Any]] = []
    if options.env:
        names = options.env_names()
        for key in options.fields:
            f = FIELDS[key]
            if f.kind == "identity":
                if f.field_path:
                    out.append(_field_env(names[key], f.field_path))
                else:
                    out.append({"name": names[key], "value": container})
            elif f.kind == "resource" and (resources is None or f.resource in resources):
                out.append(_resource_env(_exact_field(f, resources)))
    if options.volume and options.normalized_mount_path != DEFAULT_MOUNT_PATH:
        out.append({"name": _PODINFO_DIR_ENV, "value": options.normalized_mount_path})
    if options.datadog:
        out.extend(_datadog_env(labels))
    if options.otel:
        out.extend(_field_env(name, path) for name, path in OTEL_ENV.items())
        out.append(
            {
                "name": "OTEL_RESOURCE_ATTRIBUTES",
                "value": _otel_attributes(container, kind, workload_name),
            }
        )
    return out


def _wanted_items(
    options: InjectOptions, container: str, resources: Mapping[str, Quantity | None] | None
) -> list[dict[str, Any]]:
    """The ``downwardAPI`` items of the container's volume."""
    if not options.volume:
        return []
    items: list[dict[str, Any]] = []
    for key in options.fields:
        f = FIELDS[key]
        if f.kind == "map":
            items.append({"path": f.file_name, "fieldRef": {"fieldPath": f.field_path}})
        elif f.kind == "resource" and (resources is None or f.resource in resources):
            f = _exact_field(f, resources)
            items.append(
                {
                    "path": f.file_name,
                    "resourceFieldRef": {
                        "containerName": container,
                        "resource": f.resource,
                        "divisor": f.divisor,
                    },
                }
            )
    return items


def _unset_note(options: InjectOptions, container: str, missing: Sequence[Field]) -> str | None:
    """One note for the selected resource fields left out because nothing sets them."""
    picked = [f for f in missing if f.key in options.fields]
    if not picked or not (options.env or options.volume):
        return None
    effects = []
    if any(f.resource.startswith("limits.") for f in picked):
        effects.append("a missing limit reads as the node's allocatable amount")
    if any(f.resource.startswith("requests.") for f in picked):
        effects.append("a missing request as 0")
    return (
        f'container "{container}": {", ".join(f.resource for f in picked)} not set, so their '
        f"env vars and files are left out ({', '.join(effects)}); set them or use "
        "--all-resources"
    )


def plan_workload(
    workload: Workload,
    options: InjectOptions | None = None,
    *,
    known_resources: bool = True,
) -> WorkloadPlan:
    """Work out what ``workload`` needs, without changing it.

    With ``known_resources=False`` (a template whose containers are not known, as in a
    generic Kustomize component) every selected resource field is planned.
    """
    return _Planner(workload, options or InjectOptions(), known_resources).plan()


class _Planner:
    """Plans one pod template: env per container, then a mount and (shared) volumes."""

    def __init__(self, workload: Workload, options: InjectOptions, known_resources: bool) -> None:
        self.workload = workload
        self.options = options
        self.known_resources = known_resources
        self.base = workload.document_path(workload.spec_path)
        self.notes: list[tuple[str, str]] = []
        name = workload.object_metadata.get("name")
        self.workload_name = str(name) if isinstance(name, str) else ""
        self.volumes: dict[str, tuple[int, Any]] = {}
        self.planned: dict[str, list[dict[str, Any]]] = {}
        self._findings: list[Finding] | None = None  # lint's, once an env entry is kept

    def note(self, path: str, message: str) -> None:
        self.notes.append((path, message))

    def plan(self) -> WorkloadPlan:
        spec = self.workload.spec
        volumes = spec.get("volumes")
        volumes_ok = volumes is None or isinstance(volumes, list)
        if not volumes_ok:
            self.note(f"{self.base}.volumes", "volumes is not a list, left as is; no volume added")
        for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
            if isinstance(volume, Mapping) and isinstance(volume.get("name"), str):
                self.volumes.setdefault(volume["name"], (index, volume))
        plans: list[ContainerPlan] = []
        considered: list[str] = []
        for section in _SECTIONS:
            containers = spec.get(section)
            if not isinstance(containers, list):
                continue
            for index, container in enumerate(containers):
                if not isinstance(container, Mapping):
                    continue
                where = f"{self.base}.{section}[{index}]"
                name = container.get("name")
                if not isinstance(name, str) or not name:
                    self.note(where, f"{section}[{index}] has no name; skipped")
                    continue
                name = str(name)  # drop the source's quoting style
                if self.options.containers is not None and name not in self.options.containers:
                    continue
                considered.append(name)
                resources = self.resources(container, where, name)
                env = self.env(container, where, name, resources)
                mount = self.mount(container, where, name, resources) if volumes_ok else None
                if env or mount:
                    plans.append(ContainerPlan(section, index, name, tuple(env), mount))
        if self.options.datadog and considered:
            self.datadog_note()
        api_version = self.workload.object.get("apiVersion")
        return WorkloadPlan(
            kind=self.workload.kind,
            api_version=api_version if isinstance(api_version, str) else "",
            name=self.workload_name,
            namespace=self.workload.namespace,
            spec_path=self.workload.spec_path,
            object_path=self.workload.object_path,
            containers=tuple(plans),
            volumes=tuple(
                {"name": name, "downwardAPI": {"items": items}}
                for name, items in self.planned.items()
            ),
            notes=tuple(self.notes),
            considered=tuple(considered),
        )

    def datadog_note(self) -> None:
        """Say which unified service tags get no variable, for want of their label."""
        labels = self.workload.metadata.get("labels")
        missing = [
            label
            for label in DATADOG_TAG_LABELS.values()
            if not (isinstance(labels, Mapping) and label in labels)
        ]
        if missing:
            names = [n for n, label in DATADOG_TAG_LABELS.items() if label in missing]
            self.note(
                self.workload.document_path(self.workload.metadata_path),
                f"no {', '.join(missing)} label on the pod template: {', '.join(names)} "
                "not added (a fieldRef to a missing label reads as empty)",
            )

    def resources(
        self, container: Mapping[str, Any], where: str, name: str
    ) -> dict[str, Quantity | None] | None:
        """The resources the kubelet resolves from the container's own values (None: all)."""
        if not self.known_resources or self.options.all_resources:
            return None
        found = _resources_set(container, self.workload.spec)
        missing = [f for f in FIELDS.values() if f.kind == "resource" and f.resource not in found]
        message = _unset_note(self.options, name, missing)
        if message:
            self.note(where, message)
        return found

    def env(
        self,
        container: Mapping[str, Any],
        where: str,
        name: str,
        resources: Mapping[str, Quantity | None] | None,
    ) -> list[dict[str, Any]]:
        wanted = _wanted_env(
            self.options,
            name,
            resources,
            self.workload.kind,
            self.workload_name,
            labels=self.workload.metadata.get("labels") or {},
        )
        if not wanted:
            return []
        env = container.get("env")
        if env is not None and not isinstance(env, list):
            self.note(f"{where}.env", f'container "{name}": env is not a list, left as is')
            return []
        existing: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for index, var in enumerate(env or []):
            if isinstance(var, Mapping) and isinstance(var.get("name"), str):
                existing[var["name"]] = (index, var)  # the last definition wins in Kubernetes
        exposed = _exposed(existing, name)
        # Names other added vars reference with $(NAME) must exist under that very name.
        referenced = {ref for var in wanted for ref in references(str(var.get("value", "")))}
        out: list[dict[str, Any]] = []
        for var in wanted:
            found = existing.get(var["name"])
            exposure = _exposure(var["name"], _env_key(var, name))
            twin = None if var["name"] in referenced or exposure is None else exposed.get(exposure)
            if found is None and twin is not None:
                self.note(
                    f"{where}.env[{existing[twin][0]}]",
                    f'container "{name}": env {twin} already gives what {var["name"]} would '
                    "(podself reads it), not added",
                )
            elif found is None:
                out.append(var)
            elif _env_key(found[1], name) != _env_key(var, name):
                advice = self.lint_advice(f"{where[len(self.base) :]}.env[{found[0]}]")
                self.note(
                    f"{where}.env[{found[0]}]",
                    f'container "{name}": env {var["name"]} already set, left as is{advice}',
                )
        return out

    def lint_advice(self, env_path: str) -> str:
        """What ``podself lint`` says about the env entry at ``env_path`` (relative to the pod
        spec), so inject and lint give the same advice about the same variable."""
        if self._findings is None:
            from podself.manifest.lint import lint_workload

            self._findings = lint_workload(self.workload)
        prefix = self.workload.spec_path + env_path
        said = [
            f"{f.message} ({f.hint})"
            for f in self._findings
            if f.rule in _NAMING_RULES and (f.field == prefix or f.field.startswith(prefix + "."))
        ]
        return "; " + "; ".join(said) if said else ""

    def mount(
        self,
        container: Mapping[str, Any],
        where: str,
        name: str,
        resources: Mapping[str, Quantity | None] | None,
    ) -> dict[str, Any] | None:
        items = _wanted_items(self.options, name, resources)
        if not items:
            return None
        mounts = container.get("volumeMounts")
        if mounts is not None and not isinstance(mounts, list):
            self.note(
                f"{where}.volumeMounts",
                f'container "{name}": volumeMounts is not a list, left as is',
            )
            return None
        mount_path = self.options.normalized_mount_path
        candidates = _volume_names(name)
        for index, mount in enumerate(mounts or []):
            if not isinstance(mount, Mapping):
                continue
            path = mount.get("mountPath")
            volume = mount.get("name")
            found = self.volumes.get(volume) if isinstance(volume, str) else None
            if isinstance(path, str) and (path.rstrip("/") or "/") == mount_path:
                missing = None if found is None else _missing_items(found[1], items)
                if found is None:
                    detail = "not defined in the pod"
                elif missing == []:
                    return None
                elif missing is not None:
                    detail = f"a downwardAPI volume without {', '.join(missing)}"
                else:
                    kind = _volume_kind(found[1])
                    detail = f"{_article(kind)} {kind} volume"
                self.note(
                    f"{where}.volumeMounts[{index}]",
                    f'container "{name}": mountPath {mount_path} already used by volume '
                    f'"{volume}" ({detail}), left as is',
                )
                return None
            if volume in candidates and found is not None and _same_volume(found[1], items):
                self.note(
                    f"{where}.volumeMounts[{index}]",
                    f'container "{name}": volume "{volume}" already mounted at {path}, left as is',
                )
                return None
        chosen = self.volume_for(name, candidates, items)
        if chosen is None:
            return None
        return {"name": chosen, "mountPath": mount_path, "readOnly": True}

    def volume_for(
        self, name: str, candidates: Sequence[str], items: list[dict[str, Any]]
    ) -> str | None:
        """The first candidate name that is free or already holds exactly ``items``."""
        for candidate in candidates:
            if candidate in self.planned:
                if _same_volume({"downwardAPI": {"items": self.planned[candidate]}}, items):
                    return candidate
                continue
            found = self.volumes.get(candidate)
            if found is None:
                self.planned[candidate] = items
                return candidate
            if _same_volume(found[1], items):
                return candidate
            kind = _volume_kind(found[1])
            if kind != "downwardAPI":
                self.note(
                    f"{self.base}.volumes[{found[0]}]",
                    f'volume "{candidate}" is already {_article(kind)} {kind} volume, left as '
                    f'is; container "{name}" gets another name',
                )
        names = " and ".join(f'"{c}"' for c in candidates)
        self.note(
            f"{self.base}.volumes",
            f'container "{name}": volumes {names} are already defined differently, left as '
            "is; no podinfo volume mounted",
        )
        return None


# --- YAML node building and comment care ----------------------------------------------------


_RESOLVERS: list[Any] = []


def _ambiguous(text: str) -> bool:
    """Whether a plain ``text`` would not read back as a string under YAML 1.1 or 1.2.

    kubectl's YAML reader follows YAML 1.1, where ``yes``, ``on``, ``n`` and ``0o7``-like text
    are booleans or numbers, while ruamel.yaml writes them plain because YAML 1.2 disagrees.
    """
    if not _RESOLVERS:
        from ruamel.yaml.nodes import ScalarNode
        from ruamel.yaml.resolver import VersionedResolver

        _RESOLVERS.extend(
            (ScalarNode, VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
        )
    node, *resolvers = _RESOLVERS
    str_tag = "tag:yaml.org,2002:str"
    return any(str(r.resolve(node, text, (True, False))) != str_tag for r in resolvers)


def _yaml_node(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = _yaml_node(item)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(_yaml_node(item) for item in value)
    if isinstance(value, str) and _ambiguous(value):
        return DoubleQuotedScalarString(value)
    return value


def _plain_node(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain_node(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_node(item) for item in value]
    return value


def _is_block(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return fa is not None and not fa.flow_style() and bool(node)


def _last_slot(node: Any) -> tuple[Any, Any, int] | None:
    """(collection, key or index, comment index) of the last scalar written in ``node``."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        if not _is_block(node):
            return None
        keys = [k for k, _ in node.non_merged_items()]
        if not keys:
            return None
        key = keys[-1]
        value = node[key]
        anchored = getattr(getattr(value, "anchor", None), "value", None)
        if isinstance(value, CommentedMap | CommentedSeq) and _is_block(value) and not anchored:
            return _last_slot(value)
        return node, key, 2
    if isinstance(node, CommentedSeq):
        if not _is_block(node):
            return None
        index = len(node) - 1
        value = node[index]
        anchored = getattr(getattr(value, "anchor", None), "value", None)
        if isinstance(value, CommentedMap | CommentedSeq) and _is_block(value) and not anchored:
            return _last_slot(value)
        return node, index, 0
    return None


def _take_trailing(node: Any) -> str | None:
    """Detach the full-line comments after ``node``'s last scalar; inline ones stay."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    slot = _last_slot(node)
    if slot is None:
        return None
    owner, key, index = slot
    entry = owner.ca.items.get(key)
    if not entry or len(entry) <= index or entry[index] is None:
        return None
    token = entry[index]
    text = token.value
    if isinstance(owner[key], LiteralScalarString | FoldedScalarString):
        inline, rest = "", " " * token.column + text  # after a block scalar: own lines
    elif text.startswith("\n"):
        inline, rest = "", text[1:]
    else:
        end = text.find("\n")
        if end < 0:
            return None
        inline, rest = text[: end + 1], text[end + 1 :]
    if not rest:
        return None
    if inline:
        token.value = inline
    else:
        entry[index] = None
    return str(rest)


def _give_trailing(node: Any, rest: str | None) -> None:
    if not rest:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slot = _last_slot(node)
    if slot is None:
        return
    owner, key, index = slot
    entry = owner.ca.items.setdefault(key, [None, None, None, None])
    entry[index] = CommentToken("\n" + rest, CommentMark(0))


class _Builder:
    """Adds keys and list items; in YAML, moves trailing comments below what was added."""

    def __init__(self, yaml: bool) -> None:
        self.yaml = yaml
        self.node: Callable[[Any], Any] = _yaml_node if yaml else _plain_node

    def set_key(self, mapping: MutableMapping[str, Any], key: str, value: Any) -> None:
        node = self.node(value)
        if key in mapping and mapping[key] is None:
            mapping[key] = node  # "env:" with nothing after it
            return
        rest = _take_trailing(mapping) if self.yaml else None
        mapping[key] = node
        if self.yaml:
            _give_trailing(mapping, rest)

    def extend(self, seq: list[Any], items: Sequence[Any]) -> None:
        if self.yaml and not seq and hasattr(seq, "fa"):
            seq.fa.set_block_style()  # "env: []" grows into a block list, not one long line
        rest = _take_trailing(seq) if self.yaml and _is_block(seq) else None
        seq.extend(self.node(item) for item in items)
        if rest is not None:
            _give_trailing(seq, rest)


def _apply(plan: WorkloadPlan, spec: MutableMapping[str, Any], builder: _Builder) -> None:
    for container_plan in plan.containers:
        container = spec[container_plan.section][container_plan.index]
        if container_plan.env:
            if isinstance(container.get("env"), list):
                builder.extend(container["env"], container_plan.env)
            else:
                builder.set_key(container, "env", list(container_plan.env))
        if container_plan.mount is not None:
            if isinstance(container.get("volumeMounts"), list):
                builder.extend(container["volumeMounts"], [container_plan.mount])
            else:
                builder.set_key(container, "volumeMounts", [container_plan.mount])
    if plan.volumes:
        if isinstance(spec.get("volumes"), list):
            builder.extend(spec["volumes"], plan.volumes)
        else:
            builder.set_key(spec, "volumes", list(plan.volumes))


# --- documents -------------------------------------------------------------------------------


def _edit(data: Any, options: InjectOptions, builder: _Builder) -> tuple[list[WorkloadPlan], bool]:
    plans: list[WorkloadPlan] = []
    changed = False
    for workload in iter_workloads(data):
        plan = plan_workload(workload, options)
        plans.append(plan)
        if plan.changes:
            _apply(plan, workload.spec, builder)  # type: ignore[arg-type]
            changed = True
    return plans, changed


def _notes(plans: Iterable[WorkloadPlan], source: str, locate: Callable[[str], int]) -> list[Note]:
    return [Note(source, locate(path), message) for plan in plans for path, message in plan.notes]


def _ruamel_line(root: Any, path: str) -> int:
    """0-based line of ``path`` in a ruamel tree: the deepest part of it that exists."""
    line = 0
    node = root
    for segment in split_field_path(path):
        lc = getattr(node, "lc", None)
        try:
            if isinstance(segment, int):
                if not isinstance(node, list) or not 0 <= segment < len(node):
                    break
                if lc is not None:
                    line = lc.item(segment)[0]
            else:
                if not isinstance(node, Mapping) or segment not in node:
                    break
                if lc is not None:
                    line = lc.key(segment)[0]
        except (KeyError, IndexError, TypeError):
            break
        node = node[segment]
    return line


def _yaml_line(root: Any, offset: int, path: str) -> int:
    return offset + _ruamel_line(root, path) + 1


def _json_line(document: Document, path: str) -> int:
    return document.locate(path)[0]


def _guess_indent(root: Any, lines: Sequence[str]) -> tuple[int, int, int]:
    """(mapping, sequence, offset) for ruamel's ``indent()``, as most of the document has it.

    Indented sequences (``- name:`` under the key, as editors write them) are
    ``(2, 4, 2)``; ``kubectl`` writes them flush with the key, ``(2, 2, 0)``.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, CommentedMap):
            for key, value in node.non_merged_items():
                if isinstance(value, CommentedMap | CommentedSeq):
                    stack.append(value)
                if not _is_block(value):
                    continue
                try:
                    key_line, key_col = node.lc.key(key)
                    if isinstance(value, CommentedMap):
                        first = next(iter(value))
                        line, col = value.lc.key(first)
                        if line > key_line:
                            maps[col - key_col] += 1
                    else:
                        line, col = value.lc.item(0)
                        text = lines[line] if 0 <= line < len(lines) else ""
                        dash = len(text) - len(text.lstrip(" "))
                        if line > key_line and text[dash : dash + 1] == "-" and col > dash:
                            seqs[(col - key_col, dash - key_col)] += 1
                except (KeyError, IndexError, StopIteration, TypeError):
                    continue
        elif isinstance(node, CommentedSeq):
            stack.extend(v for v in node if isinstance(v, CommentedMap | CommentedSeq))
    mapping = next((m for m, _ in maps.most_common() if 1 <= m <= 8), 2)
    sequence, offset = next(
        ((s, o) for (s, o), _ in seqs.most_common() if o >= 0 and o + 2 <= s <= 10),
        (mapping, 0),
    )
    return mapping, sequence, offset


_DOC_MARKER: Final = re.compile(r"(---|\.\.\.)(?:[ \t]|\r?\n|$)")


def _prelude(lines: Sequence[str]) -> bool:
    """Whether ``lines`` are only directives, comments and blank lines, with a directive."""
    stripped = [line.strip() for line in lines]
    return any(line.startswith("%") for line in lines) and all(
        not line or line.startswith(("#", "%")) for line in stripped
    )


def _lines(text: str) -> Iterator[str]:
    """``text.splitlines(keepends=True)``, a block at a time: a huge stream is never held as a
    list of lines (cutting right after a ``\\n`` splits no line break)."""
    start = 0
    size = len(text)
    while start < size:
        end = text.find("\n", start + (1 << 20))
        end = size if end < 0 else end + 1
        yield from text[start:end].splitlines(keepends=True)
        start = end


def _chunks(text: str) -> Iterator[tuple[int, int, str]]:
    """Split a YAML stream at document markers: (first line, first character, text) per piece,
    losslessly and lazily.

    A ``---`` line starts a piece and a ``...`` line ends one (column-0 markers always end a
    document, even inside block scalars); directives (``%YAML``) stay with the document
    they introduce.
    """
    current: list[str] = []
    start = begin = at = 0
    for number, line in enumerate(_lines(text)):
        match = _DOC_MARKER.match(line) if line[:1] in "-." else None
        if match and match.group(1) == "---":
            if current and not _prelude(current):
                yield start, begin, "".join(current)
                current, start, begin = [], number, at
            current.append(line)
        elif match:
            current.append(line)
            yield start, begin, "".join(current)
            current, start, begin = [], number + 1, at + len(line)
        else:
            current.append(line)
        at += len(line)
    if current:
        yield start, begin, "".join(current)


def _new_yaml() -> Any:
    try:
        from ruamel.yaml import YAML
    except ImportError as exc:  # pragma: no cover - the yaml extra installs it
        msg = "podself inject needs ruamel.yaml: pip install 'podself[yaml]'"
        raise ManifestError(msg) from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # never re-wrap long lines
    return yaml


def _yaml_error(exc: Exception, source: str, offset: int) -> ManifestError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = offset + (mark.line + 1 if mark is not None else 1)
    column = mark.column + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ManifestError(f"{source}:{line}:{column}: invalid YAML: {problem}")


def _inject_yaml(
    text: str, documents: Iterator[Document], source: str, options: InjectOptions
) -> tuple[str, list[Note], list[WorkloadPlan]]:
    """Plan on PyYAML's reading (YAML 1.1, like kubectl and ``podself lint``), then edit the
    documents that need it; the rest is copied as it was.

    ``documents`` is the stream read once, lazily, alongside its pieces: memory holds one
    document at a time and a piece without content (a bare ``---``) costs a line scan. An
    edit is spliced into the text where it can be (see :func:`_splice`), else made through a
    ruamel.yaml round trip.
    """
    out: list[str] = []
    notes: list[Note] = []
    plans: list[WorkloadPlan] = []
    # Offsets count from the stream the loader read: after any byte-order mark.
    base = 1 if text.startswith("\ufeff") else 0
    pending = next(documents, None)
    copied = 0
    for start, begin, piece in _chunks(text):
        end = begin + len(piece)
        mine: list[Document] = []
        while pending is not None and pending.offset + base < end:
            # Empty documents hold no workload; one is placed where the next piece starts.
            if pending.data is not None and pending.offset + base >= begin:
                mine.append(pending)
            pending = next(documents, None)
        if not _has_content(piece):
            continue  # comments, blank lines and markers only
        head, chunk = _split_head(piece)
        offset = start + head.count("\n")
        found: list[WorkloadPlan | None] = []
        owners: list[Document] = []
        for document in mine:
            workloads = list(iter_workloads(document.data))
            owners.extend([document] * max(1, len(workloads)))
            found.extend([plan_workload(w, options) for w in workloads] or [None])
        chunk_notes = [
            Note(source, document.locate(path)[0], message)
            for document, plan in zip(owners, found, strict=True)
            if plan is not None
            for path, message in plan.notes
        ]
        edited = None
        if any(plan is not None and plan.changes for plan in found):
            edited = None if base else _splice(text, begin, piece, mine, found)
            if edited is None:
                try:
                    new, found, redone = _edit_chunk(chunk, source, offset, options, found)
                except ManifestError:
                    for _ in documents:  # a reading error of the stream comes first
                        pass
                    raise
                edited = None if new is None else head + new
                chunk_notes = chunk_notes if redone is None else redone
        plans.extend(p for p in found if p is not None)
        notes.extend(chunk_notes)
        if edited is not None:  # unchanged pieces are copied in runs, not one by one
            out.extend((text[copied:begin], edited))
            copied = end
    for _ in documents:  # read to the end: a problem after the last piece still refuses all
        pass
    out.append(text[copied:])
    return "".join(out), notes, plans


def _edit_chunk(
    chunk: str,
    source: str,
    offset: int,
    options: InjectOptions,
    planned: list[WorkloadPlan | None] | None,
) -> tuple[str | None, list[WorkloadPlan | None], list[Note] | None]:
    """Apply ``planned`` (or, when it does not fit, plans made on ruamel's reading) to
    ``chunk``: the new text (None when nothing changed), the plans, and their notes (None
    when ``planned`` was used: the caller has them)."""
    import warnings

    from ruamel.yaml.error import YAMLError, YAMLFutureWarning

    yaml = _new_yaml()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YAMLFutureWarning)
            documents = list(yaml.load_all(chunk))
    except YAMLError as exc:
        raise _yaml_error(exc, source, offset) from exc
    pairs: list[tuple[Any, Workload | None]] = []
    for data in documents:
        workloads = list(iter_workloads(data))
        pairs.extend([(data, w) for w in workloads] or [(data, None)])
    if planned is not None and not _same_shape(pairs, planned):
        planned = None
    found: list[WorkloadPlan | None] = []
    notes: list[Note] = []
    builder = _Builder(yaml=True)
    changed = False
    for index, (data, workload) in enumerate(pairs):
        if workload is None:
            found.append(None)
            continue
        plan = planned[index] if planned is not None else plan_workload(workload, options)
        assert plan is not None
        found.append(plan)
        if planned is None:
            notes.extend(_notes([plan], source, functools.partial(_yaml_line, data, offset)))
        if plan.changes:
            _apply(plan, workload.spec, builder)  # type: ignore[arg-type]
            changed = True
    text = _dump_chunk(yaml, chunk, documents) if changed else None
    return text, found, None if planned is not None else notes


# --- splicing: additions written into the text, the rest untouched ---------------------------

# Scalars written plain: what ruamel.yaml writes plain too (names, paths, quantities).
_PLAIN: Final = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*")


@functools.lru_cache(maxsize=1024)
def _scalar(value: str | bool) -> str | None:
    """``value`` as ruamel.yaml writes it here, or None when that takes more than this."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not _PLAIN.fullmatch(value):
        return None
    return f'"{value}"' if _ambiguous(value) else value


def _render(
    value: Mapping[str, Any], column: int, indent: tuple[int, int, int], out: list[str]
) -> bool:
    """Append block lines for a mapping whose keys start at ``column``, the first one right
    after what ``out`` ends with; False when something needs ruamel.yaml."""
    mapping, sequence, offset = indent
    first = True
    for key, item in value.items():
        name = _scalar(key) if isinstance(key, str) else None
        if name is None:
            return False
        out.append(("" if first else " " * column) + name + ":")
        first = False
        if isinstance(item, Mapping):
            if not item:
                return False
            out.append("\n" + " " * (column + mapping))
            if not _render(item, column + mapping, indent, out):
                return False
            continue
        if isinstance(item, list | tuple):
            out.append("\n")
            if not _render_items(item, column + offset, column + sequence, indent, out):
                return False
            continue
        text = _scalar(item) if isinstance(item, str | bool) else None
        if text is None:
            return False
        out.append(" " + text + "\n")
    return not first


def _render_items(
    items: Sequence[Any], dash: int, column: int, indent: tuple[int, int, int], out: list[str]
) -> bool:
    """Append block list items (mappings): ``-`` at ``dash``, their keys at ``column``."""
    if not items:
        return False
    for item in items:
        if not isinstance(item, Mapping):
            return False
        out.append(" " * dash + "-" + " " * (column - dash - 1))
        if not _render(item, column, indent, out):
            return False
    return True


def _yaml_indent(root: Any, text: str) -> tuple[int, int, int]:
    """:func:`_guess_indent` on PyYAML's node tree: the same counts, in the same order."""
    import yaml

    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    stack = [root]
    seen: set[int] = set()
    mapping_node, sequence_node = yaml.MappingNode, yaml.SequenceNode
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, mapping_node):
            for key, value in node.value:
                if not isinstance(value, mapping_node | sequence_node):
                    continue
                stack.append(value)
                if value.flow_style or not value.value:
                    continue
                key_line, key_col = key.start_mark.line, key.start_mark.column
                if isinstance(value, mapping_node):
                    mark = value.value[0][0].start_mark
                    if mark.line > key_line:
                        maps[mark.column - key_col] += 1
                    continue
                mark = value.value[0].start_mark
                line = text[text.rfind("\n", 0, mark.index) + 1 : mark.index]
                dash = len(line) - len(line.lstrip(" "))
                if mark.line > key_line and line[dash : dash + 1] == "-" and mark.column > dash:
                    seqs[(mark.column - key_col, dash - key_col)] += 1
        elif isinstance(node, sequence_node):
            stack.extend(v for v in node.value if isinstance(v, mapping_node | sequence_node))
    mapping = next((m for m, _ in maps.most_common() if 1 <= m <= 8), 2)
    sequence, offset = next(
        ((s, o) for (s, o), _ in seqs.most_common() if o >= 0 and o + 2 <= s <= 10),
        (mapping, 0),
    )
    return mapping, sequence, offset


def _child(node: Any, segment: str | int) -> Any:
    """The child node at ``segment`` (the last duplicate key wins, as in the data), or None."""
    if node is None:
        return None
    value = node.value
    if not isinstance(value, list):
        return None
    if isinstance(segment, int):
        return value[segment] if 0 <= segment < len(value) else None
    found = None
    for pair in value:
        if isinstance(pair, tuple) and pair[0].value == segment:
            found = pair[1]
    return found


# Where an anchor may start (or text in quotes that looks like one): an alias needs one.
_ANCHOR: Final = re.compile(r"(?:^|[\s\[{,])&", re.MULTILINE)
# Blank and comment lines.
_TRAILING: Final = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*")


def _leaf_end(node: Any, text: str) -> int | None:
    """Where the line of the last thing written in a block collection ends, or None when the
    round trip decides what follows: after a block scalar (whose end PyYAML places past the
    lines that follow it), or after a flow collection followed by comment or blank lines
    (which ruamel.yaml keeps with the collection, not with what is added after it)."""
    while isinstance(node.value, list) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    if isinstance(node.value, str) and node.style in ("|", ">"):
        return None
    newline = text.find("\n", node.end_mark.index)
    if newline < 0:
        return None
    trailing = _TRAILING.match(text, newline + 1)
    if not isinstance(node.value, str) and trailing is not None and trailing.end() > newline + 1:
        return None
    return newline + 1


def _addition(
    text: str,
    mapping: Any,
    key: str,
    items: Sequence[Mapping[str, Any]],
    indent: tuple[int, int, int],
) -> tuple[int, str] | None:
    """(where, what) to insert in ``text`` so that ``mapping[key]`` (a block list) gets
    ``items``, or the key is added after the mapping's last entry; None when only
    ruamel.yaml can."""
    import yaml

    if not isinstance(mapping, yaml.MappingNode) or mapping.flow_style or not mapping.value:
        return None
    target = _child(mapping, key)
    out: list[str] = []
    owner: Any
    if target is None:
        owner = mapping
        column = mapping.value[0][0].start_mark.column
        out.append(" " * column + key + ":\n")
        _, sequence, offset = indent
        if not _render_items(items, column + offset, column + sequence, indent, out):
            return None
    else:
        if not isinstance(target, yaml.SequenceNode) or target.flow_style or not target.value:
            return None
        owner = target
        mark = target.value[-1].start_mark
        line = text[text.rfind("\n", 0, mark.index) + 1 : mark.index]
        dash = len(line) - len(line.lstrip(" "))
        if line[dash : dash + 1] != "-" or line[dash + 1 :].strip(" "):
            return None
        if not _render_items(items, dash, mark.column, indent, out):
            return None
    end = _leaf_end(owner, text)
    return None if end is None else (end, "".join(out))


def _splice(
    text: str,
    begin: int,
    piece: str,
    documents: Sequence[Document],
    planned: Sequence[WorkloadPlan | None],
) -> str | None:
    """``piece`` (at ``begin`` in ``text``, the stream the documents were read from) with
    ``planned`` written into it, or None to leave it to the ruamel.yaml round trip.

    Each addition goes after the line where the collection it extends ends, indented as the
    document is (as ruamel.yaml would guess it), so every other byte stays as it was,
    comments included, and the cost is one more fast read. Anything unusual (anchors, merge
    keys, flow or empty collections where the addition goes, a block scalar at the end, line
    ends other than all LF or all CRLF, a value ruamel.yaml would quote) is left to the round
    trip, and the result must read back as exactly the planned data or it is not used.
    """
    crlf = piece.count("\r\n")
    if (
        len(documents) != 1
        or not piece.endswith("\n")
        or piece.count("\r") != crlf
        or crlf not in (0, piece.count("\n"))
        or "<<" in piece
        or _ANCHOR.search(piece)
    ):
        return None
    document = documents[0]
    root = document.yaml_node
    if root is None:
        return None
    indent = _yaml_indent(root, text)
    inserts: list[tuple[int, str]] = []
    # The plans are made and the round trip reads the text again: the data is free to edit
    # into what the result must read back as.
    expected = document.data
    builder = _Builder(yaml=False)
    workloads: list[Workload | None] = [*iter_workloads(expected)] or [None]
    for plan, workload in zip(planned, workloads, strict=True):
        if plan is None or workload is None or not plan.changes:
            continue
        spec = root
        for segment in split_field_path(workload.document_path(workload.spec_path)):
            spec = _child(spec, segment)
        wanted: list[tuple[Any, str, Sequence[Mapping[str, Any]]]] = []
        for container_plan in plan.containers:
            container = _child(_child(spec, container_plan.section), container_plan.index)
            if container_plan.env:
                wanted.append((container, "env", container_plan.env))
            if container_plan.mount is not None:
                wanted.append((container, "volumeMounts", [container_plan.mount]))
        if plan.volumes:
            wanted.append((spec, "volumes", plan.volumes))
        for node, key, items in wanted:
            insert = _addition(text, node, key, items, indent) if node is not None else None
            if insert is None:
                return None
            inserts.append((insert[0], insert[1].replace("\n", "\r\n")) if crlf else insert)
        _apply(plan, workload.spec, builder)  # type: ignore[arg-type]
    end = begin + len(piece)
    out: list[str] = []
    at = begin
    for index, addition in sorted(inserts, key=lambda item: item[0]):  # stable: plan order
        if not at <= index <= end:
            return None
        out.append(text[at:index])
        out.append(addition)
        at = index
    out.append(text[at:end])
    result = "".join(out)
    # No alias can be in it, so only the size bound matters, and the result may exceed it.
    check = list(scan_documents(result, document.source, limits=Limits(max_bytes=4 * len(result))))
    if len(check) != 1 or not isinstance(check[0], Document) or check[0].data != expected:
        return None
    return result


def _same_shape(pairs: Sequence[tuple[Any, Workload | None]], plans: Sequence[Any]) -> bool:
    """Whether plans made on one reading address the same containers in the other."""
    if len(pairs) != len(plans):
        return False
    for (_, workload), plan in zip(pairs, plans, strict=True):
        if (workload is None) != (plan is None):
            return False
        if workload is None:
            continue
        if (workload.kind, workload.object_path) != (plan.kind, plan.object_path):
            return False
        for container in plan.containers:
            items = workload.spec.get(container.section)
            if not isinstance(items, list) or len(items) <= container.index:
                return False
            item = items[container.index]
            if not isinstance(item, Mapping) or item.get("name") != container.name:
                return False
    return True


_BARE_START: Final = re.compile(r"---[ \t]*(?:#.*)?\r?\n?\Z")
_BARE_END: Final = re.compile(r"\.\.\.[ \t]*(?:#.*)?\r?\n?\Z")


def _has_content(chunk: str) -> bool:
    """Whether ``chunk`` holds more than comments, blank lines and bare markers."""
    for line in chunk.splitlines():
        text = line.strip()
        if not text or text.startswith("#") or _BARE_START.match(line) or _BARE_END.match(line):
            continue
        return True
    return False


def _split_head(chunk: str) -> tuple[str, str]:
    """(leading blank lines and a bare ``---`` line, the rest): the head is kept verbatim.

    ruamel.yaml drops blank lines before a document's content and rewrites ``--- # note``,
    so they are set aside; a ``---`` that carries content (``--- !tag``) stays with it.
    """
    lines = chunk.splitlines(keepends=True)
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index < len(lines) and _BARE_START.match(lines[index]):
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
    return "".join(lines[:index]), "".join(lines[index:])


def _dump_chunk(yaml: Any, chunk: str, documents: list[Any]) -> str:
    lines = chunk.splitlines()
    root = next((d for d in documents if d is not None), None)
    mapping, sequence, offset = _guess_indent(root, lines)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    version = re.search(r"^%YAML[ \t]+(\d+)\.(\d+)", chunk, re.MULTILINE)
    if version:
        yaml.version = (int(version.group(1)), int(version.group(2)))
    yaml.explicit_start = bool(version) or chunk.startswith("---")
    last = next((line for line in reversed(lines) if line.strip()), "")
    yaml.explicit_end = last.startswith("...")
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    text = stream.getvalue()
    if "\r\n" in chunk:
        # Comments come back with their own "\r"; scalars never hold a raw one.
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not chunk.endswith("\n"):
        text = text.rstrip("\r\n")
    return _restore_blank_lines(chunk, text)


def _restore_blank_lines(before: str, after: str) -> str:
    """Put back blank lines as they were: the round trip drops one right under ``key:`` and
    writes whitespace-only lines empty.

    Only runs of whitespace-only lines between two unchanged stretches are touched, and they
    come back at the same place: their neighbours are the lines they had, so no block scalar
    gains or loses a line.
    """
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    counts = Counter(old)
    matcher: difflib.SequenceMatcher[Any]
    if sum(counts[line] for line in new) <= _DIFF_BUDGET:
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    else:
        # Lines repeated thousands of times make the matcher quadratic: numbering each
        # repetition makes every line unique, at worst placing a blank line less well.
        matcher = difflib.SequenceMatcher(None, _numbered(old), _numbered(new), autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        was, now = old[i1:i2], new[j1:j2]
        if op in ("delete", "replace") and all(not line.strip() for line in was):
            if op == "delete":
                now = was
            elif _blank_run(now) >= len(was):  # blank lines moved below an addition
                now = now[: len(now) - len(was)] + was
            elif _blank_run(now[::-1]) >= len(was):
                now = was + now[len(was) :]
            elif not _blank_run(now):
                # Dropped where lines were added at the end of a collection: they followed
                # the collection, so they follow the addition (as a splice places them).
                now = now + was
        out.extend(now)
    return "".join(out)


# Pairs of equal lines (before x after) the exact matcher may compare; a real manifest has a
# few thousand, a list of 20,000 identical items 400 million.
_DIFF_BUDGET: Final = 200_000


def _numbered(lines: Sequence[str]) -> list[tuple[str, int]]:
    """Each line with how many times it came before: (line, n)."""
    seen: Counter[str] = Counter()
    out = []
    for line in lines:
        out.append((line, seen[line]))
        seen[line] += 1
    return out


def _blank_run(lines: Sequence[str]) -> int:
    """How many whitespace-only lines ``lines`` ends with."""
    count = 0
    for line in reversed(lines):
        if line.strip():
            break
        count += 1
    return count


def _json_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each JSON value in ``text``, lazily; ``ValueError`` if one is invalid."""
    decoder = json.JSONDecoder()
    pos = 0
    size = len(text)
    while True:
        while pos < size and text[pos] in " \t\r\n":
            pos += 1
        if pos >= size:
            return
        _, end = decoder.raw_decode(text, pos)
        yield pos, end
        pos = end


def _json_indent(piece: str) -> int | None:
    for line in piece.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped:
            return len(line) - len(stripped) or None
    return None


def _inject_json(
    text: str, documents: Iterable[Document], source: str, options: InjectOptions
) -> tuple[str, list[Note], list[WorkloadPlan]]:
    builder = _Builder(yaml=False)
    out: list[str] = []
    notes: list[Note] = []
    plans: list[WorkloadPlan] = []
    copied = 0
    for (start, end), document in zip(_json_spans(text), documents, strict=True):
        found, changed = _edit(document.data, options, builder)
        plans.extend(found)
        notes.extend(_notes(found, source, functools.partial(_json_line, document)))
        if changed:  # unchanged values are copied in runs, not one by one
            piece = text[start:end]
            indent = _json_indent(piece) if "\n" in piece else None
            separators = None if indent else (",", ":")
            edited = json.dumps(
                document.data, indent=indent, ensure_ascii=False, separators=separators
            )
            if "\r\n" in piece:
                edited = edited.replace("\n", "\r\n")  # json.dumps escapes newlines in strings
            out.extend((text[copied:start], edited))
            copied = end
    out.append(text[copied:])
    return "".join(out), notes, plans


def _is_json(text: str, source: str) -> bool:
    stripped = text.lstrip(" \t\r\n")
    if not (source.lower().endswith(".json") or stripped[:1] in ("{", "[")):
        return False
    try:
        for _ in _json_spans(text):
            pass
    except (ValueError, RecursionError):
        return False
    return True


def _documents(items: Iterable[Document | LoadIssue]) -> Iterator[Document]:
    for item in items:
        if isinstance(item, LoadIssue):
            raise ManifestError(str(item))
        yield item


def inject_text(
    text: str | bytes,
    source: str = "<string>",
    *,
    options: InjectOptions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> InjectResult:
    """Add the Downward API stanzas to every workload in ``text`` (YAML or JSON).

    Invalid input (bad syntax, not UTF-8, over ``limits``) raises ``ManifestError`` with
    ``file:line:column``; nothing is half-done. Documents that need nothing come out byte for
    byte as they went in.
    """
    options = options or InjectOptions()
    original = text.encode("utf-8") if isinstance(text, str) else text
    decoded = decode_input(original, source, limits=limits)
    if isinstance(decoded, LoadIssue):
        raise ManifestError(str(decoded))
    documents = _documents(scan_documents(decoded, source, limits=limits))
    bom = original.startswith(codecs.BOM_UTF8)
    if not _is_json(decoded, source):
        output, notes, plans = _inject_yaml(decoded, documents, source, options)
    else:
        output, notes, plans = _inject_json(decoded, documents, source, options)
    notes.sort(key=lambda note: note.line)
    if output == decoded:
        return InjectResult(source, original, original, tuple(notes), tuple(plans))
    data = (codecs.BOM_UTF8 if bom else b"") + output.encode("utf-8")
    return InjectResult(source, original, data, tuple(notes), tuple(plans))


def inject_file(
    path: str | os.PathLike[str],
    *,
    options: InjectOptions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> InjectResult:
    """:func:`inject_text` for a file, or stdin for ``"-"``; unreadable files raise
    ``ManifestError``. Nothing is written (see :func:`write_in_place`)."""
    name = source_name(path)
    try:
        data = read_source(path, limits=limits)
    except OSError as exc:
        msg = f"cannot read {name}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    if data is None:
        raise ManifestError(str(too_large(name, limits)))
    return inject_text(data, name, options=options, limits=limits)


def check_writable(path: str | os.PathLike[str]) -> os.stat_result:
    """The file's status if :func:`write_in_place` may replace it; else ``ManifestError``.

    A file whose mode has no write bit is refused even where the directory would allow the
    rename (and even for root): its owner marked it read-only.
    """
    name = os.fspath(path)
    target = os.path.realpath(name)
    try:
        info = os.stat(target)
    except OSError as exc:
        msg = f"cannot write {name}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    if not stat.S_ISREG(info.st_mode):
        msg = f"cannot write {name}: not a regular file"
        raise ManifestError(msg)
    writable = info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if not writable or not os.access(target, os.W_OK):
        msg = f"cannot write {name}: the file is read-only (mode {stat.filemode(info.st_mode)})"
        raise ManifestError(msg)
    return info


def write_in_place(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically, keeping its mode (and owner).

    The new content goes to a temporary file in the same directory, which then replaces the
    original with ``os.replace``: readers see the old file or the new one, never half of it,
    and a failure leaves the original untouched. A symlink is followed, so the link stays a
    link. Refusals and failures raise ``ManifestError`` (see :func:`check_writable`).
    """
    name = os.fspath(path)
    info = check_writable(name)
    target = os.path.realpath(name)
    directory = os.path.dirname(target) or "."
    try:
        fd, temp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        msg = f"cannot write {name}: {exc.strerror or exc} (creating a file in {directory})"
        raise ManifestError(msg) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        # Others' files cannot be given back to them: the copy keeps our ownership then.
        with contextlib.suppress(OSError):
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            msg = f"cannot write {name}: {exc.strerror or exc}"
            raise ManifestError(msg) from exc
        raise


# --- Kustomize and Helm ----------------------------------------------------------------------

# Kinds by where their pod spec lives, for generic Kustomize targets (a regex on kind).
_SHAPES: Final = (
    (
        "Deployment|StatefulSet|DaemonSet|ReplicaSet|ReplicationController|Job",
        "apps/v1",
        ("spec", "template", "spec"),
    ),
    ("CronJob", "batch/v1", ("spec", "jobTemplate", "spec", "template", "spec")),
    ("Pod", "v1", ("spec",)),
)
_KUSTOMIZE_HEADER: Final = """\
# Kustomize component generated by `podself inject --emit kustomize`: the Downward API env
# vars and podinfo volume. Save it as components/podself/kustomization.yaml and list that
# folder under `components:` in a kustomization (e.g. components: [../../components/podself]).
"""


def _nest(keys: Sequence[str], leaf: Any) -> Any:
    for key in reversed(keys):
        leaf = {key: leaf}
    return leaf


def _patch_spec(plan: WorkloadPlan) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for section in _SECTIONS:
        entries = []
        for container in plan.containers:
            if container.section != section:
                continue
            entry: dict[str, Any] = {"name": container.name}
            if container.env:
                entry["env"] = list(container.env)
            if container.mount is not None:
                entry["volumeMounts"] = [container.mount]
            entries.append(entry)
        if entries:
            spec[section] = entries
    if plan.volumes:
        spec["volumes"] = list(plan.volumes)
    return spec


def _dump_yaml(data: Any) -> str:
    yaml = _new_yaml()
    yaml.indent(mapping=2, sequence=2, offset=0)
    stream = io.StringIO()
    yaml.dump(_yaml_node(data), stream)
    return str(stream.getvalue())


def _workload_patch(plan: WorkloadPlan) -> dict[str, Any]:
    group, _, version = plan.api_version.rpartition("/")
    target: dict[str, Any] = {}
    if group:
        target["group"] = group
    if version:
        target["version"] = version
    target["kind"] = plan.kind
    target["name"] = plan.name
    metadata: dict[str, Any] = {"name": plan.name}
    if plan.namespace:
        target["namespace"] = metadata["namespace"] = plan.namespace
    body = {"apiVersion": plan.api_version or "v1", "kind": plan.kind, "metadata": metadata}
    body.update(_nest(plan.spec_path.split("."), _patch_spec(plan)))
    return {"target": target, "patch": _dump_yaml(body)}


def _generic_patches(options: InjectOptions) -> list[dict[str, Any]]:
    patches = []
    for kinds, api_version, keys in _SHAPES:
        kind = kinds.split("|")[0]
        spec = {"containers": [{"name": name} for name in sorted(options.containers or ())]}
        obj = {"kind": kind, "metadata": {"name": ""}, **_nest(keys, spec)}
        plan = plan_workload(next(iter_workloads(obj)), options, known_resources=False)
        # With a target, Kustomize applies the patch to each match whatever its own kind.
        body = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "any"}}
        body.update(_nest(keys, _patch_spec(plan)))
        patches.append({"target": {"kind": kinds}, "patch": _dump_yaml(body)})
    return patches


def emit_kustomize(
    options: InjectOptions | None = None, plans: Iterable[WorkloadPlan] | None = None
) -> str:
    """A Kustomize ``Component`` (its ``kustomization.yaml``) that adds the same stanzas.

    Strategic-merge patches merge ``containers``, ``env`` and ``volumes`` by name and
    ``volumeMounts`` by ``mountPath``, so they add to what a workload has; but they can only
    name containers, never "every container", and a patch naming a container that a workload
    lacks adds a new, image-less one. So with ``plans`` (from :func:`inject_text` on the
    manifests) each workload gets its own patch, targeted by kind and name, naming exactly its
    containers and leaving out what it already defines. Without them ``options.containers``
    must name the containers, and one patch per pod-spec shape targets every workload kind
    through a ``kind`` regex. Raises ``ValueError`` when neither is given.
    """
    options = options or InjectOptions()
    header = _KUSTOMIZE_HEADER
    if plans is not None:
        plans = list(plans)
        patches = [_workload_patch(p) for p in plans if p.changes and p.name]
        header += "# One patch per workload, naming exactly the containers it changes.\n"
        unnamed = sorted({p.kind for p in plans if p.changes and not p.name})
        if unnamed:
            header += (
                f"# Not patched: {', '.join(unnamed)} objects without metadata.name "
                "(a patch targets a name).\n"
            )
    else:
        if not options.containers:
            msg = (
                "a Kustomize patch must name the containers it changes: give the manifests "
                "(PATH...) or --containers NAMES"
            )
            raise ValueError(msg)
        names = ", ".join(sorted(options.containers))
        header += (
            f"# Generic: every workload these patches target must have containers named {names}\n"
            "# (a strategic-merge patch would add them otherwise): narrow a target with\n"
            "# labelSelector if some do not. Resource fields are included as selected, so the\n"
            "# containers should set those limits and requests.\n"
        )
        patches = _generic_patches(options)
    from ruamel.yaml.scalarstring import LiteralScalarString

    document = _yaml_node(
        {
            "apiVersion": "kustomize.config.k8s.io/v1alpha1",
            "kind": "Component",
            "patches": patches,
        }
    )
    for patch in document["patches"]:
        patch["patch"] = LiteralScalarString(str(patch["patch"]))
    yaml = _new_yaml()
    yaml.indent(mapping=2, sequence=2, offset=0)
    stream = io.StringIO()
    yaml.dump(document, stream)
    return header + stream.getvalue()


_HELM_CONTAINER: Final = "PODSELF_HELM_CONTAINER"
_HELM_REQUIRED: Final = (
    '{{ required "podself: pass (dict \\"container\\" NAME)" .container | quote }}'
)
_HELM_VOLUME: Final = '{{ default "podinfo" .volume }}'
_HELM_USAGE: Final = """{{/*
podself: the Downward API env vars, podinfo volume and mount that `podself inject` adds.
Generated by `podself inject --emit helm`. Save it as templates/_podself.tpl and use it in a
pod template:

      containers:
        - name: app
          env:
            {{- include "podself.env" (dict "container" "app") | nindent 12 }}
            # your own env items may follow
          volumeMounts:
            {{- include "podself.volumeMounts" (dict "container" "app") | nindent 12 }}
      volumes:
        {{- include "podself.volumes" (dict "container" "app") | nindent 8 }}

Each template takes a dict: "container" names the container (the volume's resource files and
OTEL_RESOURCE_ATTRIBUTES name it); "volume" names the volume (default "podinfo"). A volume's
resource files describe one container, so each further container gets its own volume: include
podself.volumes again with (dict "container" "sidecar" "volume" "podinfo-sidecar") and pass
the same dict to podself.volumeMounts in that container.%s
*/}}
"""
_HELM_OTEL_USAGE: Final = """
For OTEL_RESOURCE_ATTRIBUTES also pass the workload: "kind" "Deployment" "name"
(include "mychart.fullname" .) adds k8s.deployment.name."""
_HELM_OTEL: Final = """{{- define "podself.otelResourceAttributes" -}}
{{- $c := required "podself: pass (dict \\"container\\" NAME)" .container -}}
{{- $a := list (printf "k8s.container.name=%s" $c) -}}
{{- if and .kind .name -}}
{{- $kinds := list "deployment" "statefulset" "daemonset" "replicaset" "job" "cronjob" -}}
{{- if has (lower .kind) $kinds -}}
{{- $a = append $a (printf "k8s.%s.name=%s" (lower .kind) .name) -}}
{{- end -}}
{{- end -}}
{{- $a = append $a "k8s.namespace.name=$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)" -}}
{{- $a = append $a "k8s.node.name=$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)" -}}
{{- $a = append $a "k8s.pod.name=$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)" -}}
{{- $a = append $a "k8s.pod.uid=$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)" -}}
{{- join "," $a -}}
{{- end }}
"""


def emit_helm(options: InjectOptions | None = None) -> str:
    """``_podself.tpl``: named templates ``podself.env``, ``podself.volumeMounts`` and
    ``podself.volumes`` that render the same stanzas, with usage in a leading comment.

    Each takes ``(dict "container" NAME)``; ``"volume"`` renames the volume (one per
    container when a pod has several), and with ``--otel`` ``"kind"`` and ``"name"`` of the
    workload add ``k8s.<kind>.name``. Resource fields are included as selected: the chart
    is expected to set the limits and requests they read.
    """
    options = options or InjectOptions()
    env = [
        var
        for var in _wanted_env(options, _HELM_CONTAINER, None, "", "")
        if var["name"] != "OTEL_RESOURCE_ATTRIBUTES"
    ]
    env_text = _dump_yaml(env) if env else ""
    env_text = env_text.replace(_HELM_CONTAINER, _HELM_REQUIRED)
    if options.otel:
        env_text += (
            "- name: OTEL_RESOURCE_ATTRIBUTES\n"
            '  value: {{ include "podself.otelResourceAttributes" . | quote }}\n'
        )
    items = _wanted_items(options, _HELM_CONTAINER, None)
    volumes_text = mounts_text = ""
    if items:
        volume = {"name": _HELM_CONTAINER + "V", "downwardAPI": {"items": items}}
        volumes_text = _dump_yaml([volume])
        mount = {
            "name": _HELM_CONTAINER + "V",
            "mountPath": options.normalized_mount_path,
            "readOnly": True,
        }
        mounts_text = _dump_yaml([mount])
    parts = [_HELM_USAGE % (_HELM_OTEL_USAGE if options.otel else "")]
    for template, text in (
        ("podself.env", env_text),
        ("podself.volumeMounts", mounts_text),
        ("podself.volumes", volumes_text),
    ):
        body = text.replace(_HELM_CONTAINER + "V", _HELM_VOLUME)
        body = body.replace(_HELM_CONTAINER, _HELM_REQUIRED)
        parts.append(f'{{{{- define "{template}" -}}}}\n{body}{{{{- end }}}}\n')
    if options.otel:
        parts.append(_HELM_OTEL)
    return "\n".join(parts)

"""OpenTelemetry resource attributes for this pod (a Kubernetes resource detector): semantic-
convention keys, ``service.*`` derived as the conventions describe, and the
``OTEL_RESOURCE_ATTRIBUTES`` value. The OpenTelemetry SDK is imported only by ``otel_resource``;
the SDK's entry-point detector is :class:`podself.integrations.otel.PodResourceDetector`."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from podself.logs.fields import PRESETS, Selector, is_secret_like, workload_names
from podself.pod import PodInfo

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

__all__ = [
    "ANNOTATION_PREFIX",
    "INSTANCE_ID_NAMESPACE",
    "encode_resource_attributes",
    "otel_attributes",
    "otel_resource",
    "otel_resource_attributes",
    "read_container_id",
    "service_instance_id",
]

ANNOTATION_PREFIX = "resource.opentelemetry.io/"

# The namespace the semantic conventions give for name-based (version 5) service.instance.id.
INSTANCE_ID_NAMESPACE = uuid.UUID("4d63009a-8d0f-11ee-aad7-4c796ed8e320")

# KEP-4742: the node's topology labels, copied onto the pod at binding (Kubernetes >= 1.33).
_TOPOLOGY = (
    ("topology.kubernetes.io/zone", "cloud.availability_zone"),
    ("topology.kubernetes.io/region", "cloud.region"),
)

InstanceId = Literal["process", "container"] | None

# service.name candidates after the annotation and the well-known labels: from the ancestor
# to the descendant in the Kubernetes object hierarchy.
_SERVICE_NAME_ORDER = (
    "k8s.deployment.name",
    "k8s.replicaset.name",
    "k8s.statefulset.name",
    "k8s.daemonset.name",
    "k8s.cronjob.name",
    "k8s.job.name",
    "k8s.pod.name",
    "k8s.container.name",
)


def _current() -> PodInfo:
    import podself

    return podself.current()


def read_container_id(environ: Mapping[str, str] | None = None) -> str | None:
    """This process's container ID (64 hex digits) from its cgroup paths, or ``None``.

    Read from ``/proc/self/cgroup`` the way ``podself.read()`` reads the limits, following
    ``$PODSELF_PROC_ROOT`` and ``$PODSELF_ROOT`` (the emulator's and ``FakePod``'s roots).
    """
    from podself.cgroups import read_limits

    env = os.environ if environ is None else environ
    fake_proc = env.get("PODSELF_PROC_ROOT")
    root = env.get("PODSELF_ROOT", "") or "/"
    try:
        limits = read_limits(proc_root=fake_proc or "/proc", fs_root=root if fake_proc else "/")
    except OSError:  # read_limits reports problems itself; this is a last guard
        return None
    return limits.container_id


def service_instance_id(info: PodInfo, pid: int | None = None) -> str | None:
    """A name-based UUID (version 5, the semantic conventions' namespace) over
    ``<namespace>.<pod>.<container>.<pid>``: one per process, stable for the process's life.

    ``None`` unless namespace, pod and container are known (two containers of a pod each
    have their own process IDs, so without the container name the ID would not be unique).
    ``pid`` defaults to ``os.getpid()``, read at each call, so a forked worker gets its own.
    """
    if not (info.namespace and info.name and info.container):
        return None
    pid = os.getpid() if pid is None else pid
    name = f"{info.namespace}.{info.name}.{info.container}.{pid}"
    return str(uuid.uuid5(INSTANCE_ID_NAMESPACE, name))


def otel_attributes(
    info: PodInfo | None = None,
    *,
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    well_known_labels: bool = False,
    instance_id: InstanceId = "process",
    container_id: str | None = None,
) -> dict[str, str]:
    """Resource attributes of ``info`` (default ``podself.current()``); unknown ones left out.

    ``k8s.pod.name``, ``k8s.pod.uid``, ``k8s.pod.ip``, ``k8s.namespace.name``,
    ``k8s.node.name``, ``k8s.container.name``, ``k8s.<workload>.name``, ``container.id``
    (when given), ``cloud.availability_zone`` / ``cloud.region`` from the pod's
    ``topology.kubernetes.io/zone`` / ``region`` labels; then, as the semantic conventions'
    Kubernetes guidance says, each pod annotation ``resource.opentelemetry.io/<attribute>``
    sets ``<attribute>``, and:

    - ``service.namespace`` = annotation, else ``k8s.namespace.name``;
    - ``service.name`` = annotation, else (``well_known_labels``) label
      ``app.kubernetes.io/instance``, else ``app.kubernetes.io/name``, else the deployment,
      replicaset, statefulset, daemonset, cronjob, job, pod, container name;
    - ``service.version`` = annotation, else (``well_known_labels``) label
      ``app.kubernetes.io/version``;
    - ``service.instance.id`` = annotation, else per ``instance_id``: ``"process"`` (default)
      :func:`service_instance_id`, one per process, so each gunicorn/uvicorn worker writes
      its own series; ``"container"`` ``<namespace>.<pod>.<container>``, shared by every
      process of the container; ``None`` leaves it to the SDK. Left out unless namespace,
      pod and container are known; the restart count is deliberately not part of it.

    ``labels``/``annotations`` (``True`` or globs, ``deny`` globs) add
    ``k8s.pod.label.<key>``/``k8s.pod.annotation.<key>``; secret-like keys never appear.
    """
    if instance_id not in ("process", "container", None):
        msg = f'instance_id "{instance_id}": must be "process", "container" or None'
        raise ValueError(msg)
    if info is None:
        info = _current()
    preset = PRESETS["otel"]
    values: dict[str, str | None] = {
        "name": info.name,
        "namespace": info.namespace,
        "node_name": info.node_name,
        "uid": info.uid,
        "pod_ip": info.pod_ip,
        "container": info.container,
    }
    values.update(workload_names(info))
    out: dict[str, str] = {}
    for attribute, key in preset.fields.items():
        value = values.get(attribute)
        if value:
            out[key] = value
    if container_id:
        out["container.id"] = container_id
    for label, key in _TOPOLOGY:
        value = info.labels.get(label)
        if value:
            out[key] = value
    for key, value in Selector.of(labels, deny).select(info.labels).items():
        out[f"k8s.pod.label.{key}"] = value
    for key, value in Selector.of(annotations, deny).select(info.annotations).items():
        out[f"k8s.pod.annotation.{key}"] = value

    overrides = {
        key[len(ANNOTATION_PREFIX) :]: value
        for key, value in sorted(info.annotations.items())
        if key.startswith(ANNOTATION_PREFIX)
        and len(key) > len(ANNOTATION_PREFIX)
        and not is_secret_like(key)
    }
    pod_labels = info.labels if well_known_labels else {}
    namespace = out.get("k8s.namespace.name")
    service_namespace = overrides.get("service.namespace") or namespace
    service_name = overrides.get("service.name") or pod_labels.get("app.kubernetes.io/instance")
    service_name = service_name or pod_labels.get("app.kubernetes.io/name")
    service_name = service_name or next(
        (out[key] for key in _SERVICE_NAME_ORDER if out.get(key)), None
    )
    service_version = overrides.get("service.version") or pod_labels.get(
        "app.kubernetes.io/version"
    )
    instance = overrides.get("service.instance.id")
    if not instance and instance_id == "process":
        instance = service_instance_id(info)
    elif not instance and instance_id == "container" and info.namespace and info.name:
        instance = f"{info.namespace}.{info.name}.{info.container}" if info.container else None
    for key, value in (
        ("service.name", service_name),
        ("service.namespace", service_namespace),
        ("service.version", service_version),
        ("service.instance.id", instance),
    ):
        if value:
            out[key] = value
    for key, value in overrides.items():
        if value:
            out[key] = value
    return out


def otel_resource(
    info: PodInfo | None = None,
    *,
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    well_known_labels: bool = False,
    instance_id: InstanceId = "process",
) -> Resource | dict[str, str]:
    """An OpenTelemetry ``Resource`` for this pod, or :func:`otel_attributes` without the SDK.

    With ``opentelemetry-sdk`` installed this is ``Resource.create()`` of the attributes, so
    it carries the SDK's defaults (``telemetry.sdk.*``); what ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_SERVICE_NAME`` set explicitly wins over what was detected here. Without ``info``
    the process's ``container.id`` is read from its cgroups too.
    """
    attributes = otel_attributes(
        info,
        labels=labels,
        annotations=annotations,
        deny=deny,
        well_known_labels=well_known_labels,
        instance_id=instance_id,
        container_id=read_container_id() if info is None else None,
    )
    try:
        from opentelemetry.sdk.resources import (  # optional dependency
            OTELResourceDetector,
        )
        from opentelemetry.sdk.resources import Resource as _Resource
    except ImportError:
        return attributes
    explicit: dict[str, Any] = dict(OTELResourceDetector().detect().attributes)
    return _Resource.create({**attributes, **explicit})


# W3C baggage value octets (RFC: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E), less "%"
# (the escape itself) and "=" (the key/value separator OTEL_RESOURCE_ATTRIBUTES also escapes).
_PLAIN = frozenset(
    chr(c)
    for c in (0x21, *range(0x23, 0x2C), *range(0x2D, 0x3B), *range(0x3C, 0x5C), *range(0x5D, 0x7F))
) - {"%", "="}


def _percent_encode(text: str) -> str:
    if all(c in _PLAIN for c in text):
        return text
    return "".join(
        c if c in _PLAIN else "".join(f"%{b:02X}" for b in c.encode("utf-8", "surrogatepass"))
        for c in text
    )


def encode_resource_attributes(attributes: Mapping[str, object]) -> str:
    """``key=value,…`` with keys and values percent-encoded as W3C baggage requires
    (``,`` ``=`` ``%`` spaces, quotes, backslashes, controls and non-ASCII as UTF-8 ``%XX``)."""
    return ",".join(
        f"{_percent_encode(str(key))}={_percent_encode(str(value))}"
        for key, value in attributes.items()
    )


def otel_resource_attributes(
    info: PodInfo | None = None,
    *,
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    well_known_labels: bool = False,
    keep_existing: bool = False,
    environ: Mapping[str, str] | None = None,
    instance_id: InstanceId = None,
) -> str:
    """The ``OTEL_RESOURCE_ATTRIBUTES`` value for :func:`otel_attributes`.

    ``service.instance.id`` is left out by default (``instance_id=None``): every process
    started with the variable inherits it, so no value in it can be one per process; the
    SDK (or :class:`podself.integrations.otel.PodResourceDetector`) sets one per process.

    With ``keep_existing``, entries already in ``$OTEL_RESOURCE_ATTRIBUTES`` (of ``environ``,
    default ``os.environ``) are kept as written and win over detected ones with the same key,
    so ``export OTEL_RESOURCE_ATTRIBUTES="$(podself info --otel)"`` loses nothing.
    """
    attributes = otel_attributes(
        info,
        labels=labels,
        annotations=annotations,
        deny=deny,
        well_known_labels=well_known_labels,
        instance_id=instance_id,
    )
    encoded = encode_resource_attributes(attributes)
    if not keep_existing:
        return encoded
    existing = (os.environ if environ is None else environ).get("OTEL_RESOURCE_ATTRIBUTES", "")
    items = [item.strip() for item in existing.split(",") if item.strip()]
    if not items:
        return encoded
    taken = {item.partition("=")[0].strip() for item in items}
    ours = [
        f"{_percent_encode(k)}={_percent_encode(v)}"
        for k, v in attributes.items()
        if _percent_encode(k) not in taken
    ]
    return ",".join([*ours, *items])

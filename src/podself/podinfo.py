"""What a pod knows about itself: ``PodInfo`` and the records it is made of.

Immutable ``__slots__`` records (``podself._record``): ``Source`` (where a value came from),
``Resources`` (CPU in millicores, memory in bytes), ``Workload`` (the owning controller) and
``PodInfo`` itself, every value with its ``Source``. ``podself.pod.read()`` builds them.
"""

from __future__ import annotations

import types

from podself import names as _names
from podself._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["EXTRA_RESOURCES", "SOURCE_KEYS", "PodInfo", "Resources", "Source", "Workload"]

_EMPTY: Mapping[str, str] = types.MappingProxyType({})


class Source(Record):
    """Where one value came from: a ``kind`` (one of the constants below) and an ``origin``.

    ``origin`` names the exact place: ``"POD_NAME"`` (an env var), ``"/etc/podinfo/labels"``,
    ``"/sys/fs/cgroup/memory.max"``, ``"serviceaccount token claims"``.
    """

    __slots__ = ("kind", "origin")
    kind: str
    origin: str

    ARGUMENT = "argument"
    ENV = "env"
    DOWNWARD = "downward"
    CGROUP = "cgroup"
    FALLBACK = "fallback"
    DEFAULT = "default"
    UNKNOWN = "unknown"

    def __init__(self, kind: str, origin: str) -> None:
        self._init(kind=kind, origin=origin)

    def __str__(self) -> str:
        return f"{self.kind}: {self.origin}" if self.origin else self.kind


_UNKNOWN = Source(Source.UNKNOWN, "")


class Resources(Record):
    """CPU in millicores, memory and ephemeral storage in bytes; ``None`` when unknown/unset.

    ``memory_high`` is a soft memory limit below the hard one (cgroup v2 ``memory.high``, v1
    ``memory.soft_limit_in_bytes``), in bytes; ``gpus`` the GPUs visible to the container
    (``NVIDIA_VISIBLE_DEVICES`` / ``CUDA_VISIBLE_DEVICES``, else ``/proc/driver/nvidia/gpus``):
    the Downward API cannot expose either.
    """

    __slots__ = (
        "cpu_limit",
        "cpu_request",
        "ephemeral_storage_limit",
        "ephemeral_storage_request",
        "gpus",
        "memory_high",
        "memory_limit",
        "memory_request",
    )
    cpu_limit: int | None
    cpu_request: int | None
    memory_limit: int | None
    memory_request: int | None
    ephemeral_storage_limit: int | None
    ephemeral_storage_request: int | None
    memory_high: int | None
    gpus: int | None

    def __init__(
        self,
        *,
        cpu_limit: int | None = None,
        cpu_request: int | None = None,
        memory_limit: int | None = None,
        memory_request: int | None = None,
        ephemeral_storage_limit: int | None = None,
        ephemeral_storage_request: int | None = None,
        memory_high: int | None = None,
        gpus: int | None = None,
    ) -> None:
        self._init(
            cpu_limit=cpu_limit,
            cpu_request=cpu_request,
            memory_limit=memory_limit,
            memory_request=memory_request,
            ephemeral_storage_limit=ephemeral_storage_limit,
            ephemeral_storage_request=ephemeral_storage_request,
            memory_high=memory_high,
            gpus=gpus,
        )

    def to_dict(self) -> dict[str, int | None]:
        """The values by attribute name."""
        return dict(self._items())  # type: ignore[arg-type]


class Workload(Record):
    """The controller that owns the pod, as far as names and controller labels tell.

    ``kind`` is ``"StatefulSet"``, ``"Deployment"``, ``"DaemonSet"``, ``"Job"``,
    ``"ReplicaSet"``, ``"Pod"`` (no controller) or ``None`` (cannot tell); ``ordinal`` is a
    StatefulSet pod's ordinal, ``index`` an Indexed Job's completion index; ``service`` and
    ``cluster_domain`` come from the kubelet-managed ``/etc/hosts`` when the pod has a
    subdomain (a StatefulSet's governing service).
    """

    __slots__ = ("cluster_domain", "index", "kind", "name", "ordinal", "service")
    kind: str | None
    name: str | None
    ordinal: int | None
    index: int | None
    service: str | None
    cluster_domain: str | None

    def __init__(
        self,
        *,
        kind: str | None = None,
        name: str | None = None,
        ordinal: int | None = None,
        index: int | None = None,
        service: str | None = None,
        cluster_domain: str | None = None,
    ) -> None:
        self._init(
            kind=kind,
            name=name,
            ordinal=ordinal,
            index=index,
            service=service,
            cluster_domain=cluster_domain,
        )

    def to_dict(self) -> dict[str, object]:
        """The values by attribute name."""
        return dict(self._items())


class PodInfo(Record):
    """What the process knows about its pod. Plain values; ``None`` when unknown.

    ``labels``/``annotations`` are read-only mappings (empty when unknown: see
    ``source_of("labels")``). ``resources`` are this container's own. ``containers`` maps each
    container name found in a Downward API volume's ``containers/<name>/`` directory to the
    ``Resources`` the volume gives for it (``source_of("containers.<name>.cpu_limit")``): "the
    limits of container X", e.g. a sidecar sizing itself after the main container. ``app``
    holds the ``APP_*`` env settings (``APP_VERSION`` -> ``"version"``). ``warnings`` lists
    every problem met while reading.
    """

    __slots__ = (
        "_args",
        "_sources",
        "annotations",
        "app",
        "container",
        "containers",
        "host_ip",
        "host_ips",
        "in_kubernetes",
        "labels",
        "name",
        "namespace",
        "node_name",
        "pod_ip",
        "pod_ips",
        "resources",
        "service_account",
        "uid",
        "warnings",
        "workload",
    )
    name: str | None
    namespace: str | None
    uid: str | None
    pod_ip: str | None
    pod_ips: tuple[str, ...]
    host_ip: str | None
    host_ips: tuple[str, ...]
    node_name: str | None
    service_account: str | None
    container: str | None
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    resources: Resources
    containers: Mapping[str, Resources]
    workload: Workload
    app: Mapping[str, str]
    in_kubernetes: bool
    warnings: tuple[str, ...]
    _sources: Mapping[str, Source]
    _args: Mapping[str, object]

    def __init__(
        self,
        *,
        name: str | None = None,
        namespace: str | None = None,
        uid: str | None = None,
        pod_ip: str | None = None,
        pod_ips: tuple[str, ...] = (),
        host_ip: str | None = None,
        host_ips: tuple[str, ...] = (),
        node_name: str | None = None,
        service_account: str | None = None,
        container: str | None = None,
        labels: Mapping[str, str] | None = None,
        annotations: Mapping[str, str] | None = None,
        resources: Resources | None = None,
        containers: Mapping[str, Resources] | None = None,
        workload: Workload | None = None,
        app: Mapping[str, str] | None = None,
        in_kubernetes: bool = False,
        warnings: tuple[str, ...] = (),
        sources: Mapping[str, Source] | None = None,
        read_args: Mapping[str, object] | None = None,
    ) -> None:
        self._init(
            name=name,
            namespace=namespace,
            uid=uid,
            pod_ip=pod_ip,
            pod_ips=tuple(pod_ips),
            host_ip=host_ip,
            host_ips=tuple(host_ips),
            node_name=node_name,
            service_account=service_account,
            container=container,
            labels=types.MappingProxyType(dict(labels or {})),
            annotations=types.MappingProxyType(dict(annotations or {})),
            resources=resources or Resources(),
            containers=types.MappingProxyType(dict(containers or {})),
            workload=workload or Workload(),
            app=types.MappingProxyType(dict(app or {})),
            in_kubernetes=in_kubernetes,
            warnings=tuple(warnings),
            _sources=types.MappingProxyType(dict(sources or {})),
            _args=types.MappingProxyType(dict(read_args or {})),
        )

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        # Equality, hashing and repr cover the values, not how they were read.
        return tuple(n for n in super()._fields() if not n.startswith("_"))

    def source_of(self, attribute: str) -> Source:
        """The ``Source`` of one value: ``"name"``, ``"labels"``, ``"resources.cpu_limit"``,
        ``"containers.main.memory_limit"``…

        Raises ``KeyError`` naming the valid attributes for a name podself does not know.
        """
        if attribute not in SOURCE_KEYS and not is_container_key(attribute):
            msg = f"unknown PodInfo attribute {attribute!r}; known: {', '.join(SOURCE_KEYS)}"
            raise KeyError(msg)
        return self._sources.get(attribute, _UNKNOWN)

    @property
    def sources(self) -> Mapping[str, Source]:
        """Every known value's ``Source`` by attribute path."""
        return self._sources

    def refreshed(self) -> PodInfo:
        """Read again with the same arguments, e.g. after a Downward API volume changed."""
        import podself  # the facade: read() lives in podself.pod, which builds PodInfo

        return podself.read(**self._args)  # type: ignore[arg-type]

    def dns_name(self, service: str | None = None, cluster_domain: str | None = None) -> str | None:
        """This pod's stable DNS name ``<pod>.<service>.<ns>.svc.<domain>`` (StatefulSets).

        ``service`` defaults to the governing service found in ``/etc/hosts``; the domain to
        the one found there, else ``cluster.local``. ``None`` when name, namespace or
        service is unknown.
        """
        service = service or self.workload.service
        domain = cluster_domain or self.workload.cluster_domain or "cluster.local"
        if not (self.name and self.namespace and service):
            return None
        return f"{self.name}.{service}.{self.namespace}.svc.{domain}"

    def peer_dns_names(
        self,
        replicas: int,
        service: str | None = None,
        cluster_domain: str | None = None,
        start: int = 0,
    ) -> list[str]:
        """Stable DNS names of every StatefulSet replica ``start … start+replicas-1``.

        Empty when this pod is not a known StatefulSet member or the service is unknown.
        """
        service = service or self.workload.service
        domain = cluster_domain or self.workload.cluster_domain or "cluster.local"
        if self.workload.kind != "StatefulSet" or not (
            self.workload.name and self.namespace and service
        ):
            return []
        base = f"{service}.{self.namespace}.svc.{domain}"
        return [f"{self.workload.name}-{i}.{base}" for i in range(start, start + replicas)]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict with the attribute names above, plus ``sources``."""
        return {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "pod_ip": self.pod_ip,
            "pod_ips": list(self.pod_ips),
            "host_ip": self.host_ip,
            "host_ips": list(self.host_ips),
            "node_name": self.node_name,
            "service_account": self.service_account,
            "container": self.container,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "resources": self.resources.to_dict(),
            "containers": {name: r.to_dict() for name, r in self.containers.items()},
            "workload": self.workload.to_dict(),
            "app": dict(self.app),
            "in_kubernetes": self.in_kubernetes,
            "warnings": list(self.warnings),
            "sources": {k: {"kind": v.kind, "origin": v.origin} for k, v in self._sources.items()},
        }


_IDENTITY = tuple(_names.IDENTITY_ENV)
# Resources no Downward API name carries: read from the cgroup and the GPU runtime only.
EXTRA_RESOURCES = ("memory_high", "gpus")
SOURCE_KEYS = (
    *_IDENTITY,
    "labels",
    "annotations",
    *(f"resources.{a}" for a in (*_names.RESOURCE_ATTRIBUTES, *EXTRA_RESOURCES)),
    "workload",
)


def is_container_key(attribute: str) -> bool:
    """``containers.<name>.<resource attribute>``: a value of ``PodInfo.containers``."""
    head, _, attr = attribute.rpartition(".")
    prefix, _, name = head.partition(".")
    return (
        prefix == "containers"
        and _names.is_container_name(name)
        and attr in _names.RESOURCE_ATTRIBUTES
    )

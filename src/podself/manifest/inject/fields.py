"""What ``podself inject`` can add: the fields, their groups and the options."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from podself.names import env_table

DEFAULT_MOUNT_PATH: Final = "/etc/podinfo"
VOLUME_NAME: Final = "podinfo"
PODINFO_DIR_ENV: Final = "PODSELF_PODINFO_DIR"


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
        # The bare CONTAINER_NAME is not read (runtimes set it), so an empty --prefix gets
        # POD_CONTAINER_NAME.
        Field(
            "container",
            "identity",
            "",
            env_suffixes=("CONTAINER_NAME", "POD_CONTAINER_NAME"),
        ),
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
OTEL_WORKLOAD_KEYS: Final[Mapping[str, str]] = {
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
SECTIONS: Final = ("containers", "initContainers")
# Lint's advice about an env entry inject leaves as it is, repeated in inject's note.
NAMING_RULES: Final = frozenset({"env-name-mismatch", "naming-convention"})
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

    @property
    def env_fields(self) -> tuple[str, ...]:
        """``fields`` plus ``container`` when the volume gets resource files: they sit under
        ``containers/<name>/``, and the container's name in its env is how ``podself.read()``
        knows which directory is its own."""
        if "container" in self.fields or not (
            self.env and self.volume and any(FIELDS[k].kind == "resource" for k in self.fields)
        ):
            return self.fields
        return tuple(k for k in FIELDS if k in self.fields or k == "container")

    def unrecognised_names(self) -> list[str]:
        """Selected env names ``podself.read()`` would not recognise (a custom prefix)."""
        table = env_table()
        names = self.env_names()
        return [
            names[k]
            for k in self.env_fields
            if FIELDS[k].kind == "identity" and table.get(names[k], ("",))[0] != k
        ]

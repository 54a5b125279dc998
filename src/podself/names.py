"""The env var and Downward API file names podself recognises, and the units their names imply.

Names come from the places people copy them from: the recommended convention (``K8S_*`` for
metadata, ``RESOURCE_*`` for resources), the short names of most tutorials (``POD_NAME``,
``MEMORY_LIMIT_MB``), the Kubernetes docs (``MY_POD_NAME``, ``MY_CPU_LIMIT``) and the
OpenTelemetry Operator (``OTEL_RESOURCE_ATTRIBUTES_POD_NAME``). Earlier names in each list win.

A resource value's unit comes from the name's suffix, which should match the ``divisor`` in the
manifest: ``_MILLICORES`` (divisor ``1m``), ``_CORES`` (``1``), ``_BYTES`` (``1``), ``_KB``
``_MB`` ``_GB`` ``_TB`` (``1Ki`` ``1Mi`` ``1Gi`` ``1Ti``: "MB" means MiB, as in the common
``divisor: 1Mi`` examples), ``_KIB`` ``_MIB`` ``_GIB`` ``_TIB`` likewise. A name without a unit
(``CPU_LIMIT``, ``MEMORY_REQUEST``, the docs' ``MY_CPU_LIMIT``, and prefixed forms such as
``APP_CPU_LIMIT``) is read as a ``resourceFieldRef`` without a divisor writes it: the Kubernetes
default divisor ``1``, so whole cores (the kubelet rounds ``500m`` up to ``1``) and bytes. The
reader cross-checks it against the cgroup, which says when the manifest used another divisor.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "CONTAINERS_DIR",
    "DIVISOR_UNITS",
    "FILE_NAMES",
    "IDENTITY_ENV",
    "OTEL_KEYS",
    "RESOURCE_ATTRIBUTES",
    "RESOURCE_ENV_STEMS",
    "container_file",
    "env_table",
    "file_table",
    "is_container_name",
    "looks_like_resource",
    "parse_target",
    "prefixed_resource",
]

# attribute -> env names, best first.
IDENTITY_ENV: Mapping[str, tuple[str, ...]] = {
    "name": (
        "K8S_POD_NAME",
        "POD_NAME",
        "MY_POD_NAME",
        "KUBERNETES_POD_NAME",
        "OTEL_RESOURCE_ATTRIBUTES_POD_NAME",
    ),
    "namespace": (
        "K8S_NAMESPACE",
        "K8S_POD_NAMESPACE",
        "POD_NAMESPACE",
        "MY_POD_NAMESPACE",
        "KUBERNETES_NAMESPACE",
        "OTEL_RESOURCE_ATTRIBUTES_NAMESPACE",
        "OTEL_RESOURCE_ATTRIBUTES_POD_NAMESPACE",
    ),
    "uid": (
        "K8S_POD_UID",
        "POD_UID",
        "MY_POD_UID",
        "KUBERNETES_POD_UID",
        "OTEL_RESOURCE_ATTRIBUTES_POD_UID",
    ),
    # OTEL_POD_IP / OTEL_NODE_IP: what the OpenTelemetry Operator injects for its exporters.
    "pod_ip": ("K8S_POD_IP", "POD_IP", "MY_POD_IP", "KUBERNETES_POD_IP", "OTEL_POD_IP"),
    "pod_ips": ("K8S_POD_IPS", "POD_IPS", "MY_POD_IPS"),
    "host_ip": ("K8S_HOST_IP", "HOST_IP", "MY_HOST_IP", "K8S_NODE_IP", "NODE_IP", "OTEL_NODE_IP"),
    "host_ips": ("K8S_HOST_IPS", "HOST_IPS", "MY_HOST_IPS"),
    "node_name": (
        "K8S_NODE_NAME",
        "NODE_NAME",
        "MY_NODE_NAME",
        "KUBERNETES_NODE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES_NODE_NAME",
    ),
    "service_account": (
        "K8S_SERVICE_ACCOUNT",
        "K8S_SERVICE_ACCOUNT_NAME",
        "SERVICE_ACCOUNT",
        "SERVICE_ACCOUNT_NAME",
        "POD_SERVICE_ACCOUNT",
        "MY_POD_SERVICE_ACCOUNT",
    ),
    # Not the bare CONTAINER_NAME: container runtimes and CI systems set it for their own use.
    "container": ("K8S_CONTAINER_NAME", "MY_CONTAINER_NAME", "POD_CONTAINER_NAME"),
}

RESOURCE_ATTRIBUTES = (
    "cpu_limit",
    "cpu_request",
    "memory_limit",
    "memory_request",
    "ephemeral_storage_limit",
    "ephemeral_storage_request",
)

# attribute -> (stems, bare names). A stem is read with any unit suffix and, after every suffixed
# name, alone with the default divisor 1; the bare names are read with divisor 1 only.
RESOURCE_ENV_STEMS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "cpu_limit": (
        ("RESOURCE_CPU_LIMIT", "K8S_CPU_LIMIT", "CPU_LIMIT", "CONTAINER_CPU_LIMIT"),
        ("MY_CPU_LIMIT",),
    ),
    "cpu_request": (
        ("RESOURCE_CPU_REQUEST", "K8S_CPU_REQUEST", "CPU_REQUEST", "CONTAINER_CPU_REQUEST"),
        ("MY_CPU_REQUEST",),
    ),
    "memory_limit": (
        (
            "RESOURCE_MEMORY_LIMIT",
            "K8S_MEMORY_LIMIT",
            "MEMORY_LIMIT",
            "MEM_LIMIT",
            "CONTAINER_MEMORY_LIMIT",
        ),
        ("MY_MEM_LIMIT", "MY_MEMORY_LIMIT"),
    ),
    "memory_request": (
        (
            "RESOURCE_MEMORY_REQUEST",
            "K8S_MEMORY_REQUEST",
            "MEMORY_REQUEST",
            "MEM_REQUEST",
            "CONTAINER_MEMORY_REQUEST",
        ),
        ("MY_MEM_REQUEST", "MY_MEMORY_REQUEST"),
    ),
    "ephemeral_storage_limit": (
        (
            "RESOURCE_EPHEMERAL_STORAGE_LIMIT",
            "K8S_EPHEMERAL_STORAGE_LIMIT",
            "EPHEMERAL_STORAGE_LIMIT",
        ),
        ("MY_EPHEMERAL_STORAGE_LIMIT",),
    ),
    "ephemeral_storage_request": (
        (
            "RESOURCE_EPHEMERAL_STORAGE_REQUEST",
            "K8S_EPHEMERAL_STORAGE_REQUEST",
            "EPHEMERAL_STORAGE_REQUEST",
        ),
        ("MY_EPHEMERAL_STORAGE_REQUEST",),
    ),
}

# Unit suffix -> (divisor as written in a manifest, multiplier to millicores or bytes).
_CPU_SUFFIXES: Mapping[str, tuple[str, int]] = {
    "_MILLICORES": ("1m", 1),
    "_MILLICPU": ("1m", 1),
    "_MILLI": ("1m", 1),
    "_MCPU": ("1m", 1),
    "_CORES": ("1", 1000),
    "_CPUS": ("1", 1000),
}
_BYTE_SUFFIXES: Mapping[str, tuple[str, int]] = {
    "_BYTES": ("1", 1),
    "_KB": ("1Ki", 1 << 10),
    "_KIB": ("1Ki", 1 << 10),
    "_MB": ("1Mi", 1 << 20),
    "_MIB": ("1Mi", 1 << 20),
    "_GB": ("1Gi", 1 << 30),
    "_GIB": ("1Gi", 1 << 30),
    "_TB": ("1Ti", 1 << 40),
    "_TIB": ("1Ti", 1 << 40),
}

# Every divisor the API accepts -> multiplier (cpu: to millicores; others: to bytes).
DIVISOR_UNITS: Mapping[str, Mapping[str, int]] = {
    "cpu": {"1m": 1, "1": 1000},
    "bytes": {
        "1": 1,
        "1k": 10**3,
        "1M": 10**6,
        "1G": 10**9,
        "1T": 10**12,
        "1P": 10**15,
        "1E": 10**18,
        "1Ki": 1 << 10,
        "1Mi": 1 << 20,
        "1Gi": 1 << 30,
        "1Ti": 1 << 40,
        "1Pi": 1 << 50,
        "1Ei": 1 << 60,
    },
}

# OTEL_RESOURCE_ATTRIBUTES keys (semantic conventions) -> attribute.
OTEL_KEYS: Mapping[str, str] = {
    "k8s.pod.name": "name",
    "k8s.namespace.name": "namespace",
    "k8s.pod.uid": "uid",
    "k8s.pod.ip": "pod_ip",
    "k8s.node.name": "node_name",
    "k8s.container.name": "container",
}

# Downward API volume file name -> (attribute, divisor). Identity files have no divisor.
# The bare resource names follow the Kubernetes docs' volume example (cpu 1m, memory 1Mi).
FILE_NAMES: Mapping[str, tuple[str, str]] = {
    "name": ("name", ""),
    "pod-name": ("name", ""),
    "pod_name": ("name", ""),
    "podname": ("name", ""),
    "namespace": ("namespace", ""),
    "pod-namespace": ("namespace", ""),
    "pod_namespace": ("namespace", ""),
    "uid": ("uid", ""),
    "pod-uid": ("uid", ""),
    "pod_uid": ("uid", ""),
    "cpu_limit": ("cpu_limit", "1m"),
    "cpu_request": ("cpu_request", "1m"),
    "mem_limit": ("memory_limit", "1Mi"),
    "mem_request": ("memory_request", "1Mi"),
}

# A pod-wide Downward API volume holds each container's resource files under
# containers/<container name>/ (cpu_limit, mem_limit…): the path says whose values they are.
# Files at the volume's root carry no container name and are read as the reader's own.
CONTAINERS_DIR = "containers"


def is_container_name(name: str) -> bool:
    """Whether ``name`` is a valid container name: a DNS-1123 label (at most 63 characters of
    ``a-z``, ``0-9`` and ``-``, starting and ending with a letter or digit), so also a safe
    path segment."""
    from podself.downward import is_dns1123_subdomain  # only when a volume has containers/

    return len(name) <= 63 and "." not in name and is_dns1123_subdomain(name)


def container_file(container: str, file_name: str) -> str:
    """``containers/<container>/<file_name>``: where a volume holds one container's value."""
    return f"{CONTAINERS_DIR}/{container}/{file_name}"


_FILES: dict[str, tuple[str, str]] | None = None


def file_table() -> Mapping[str, tuple[str, str]]:
    """File name -> (attribute, divisor): ``FILE_NAMES`` plus every ``<attr><unit suffix>`` form.

    ``memory_limit_mb``, ``memory-limit-mb``, ``mem_limit_mb`` and ``cpu-limit-millicores`` are
    all recognised; built once on first use.
    """
    global _FILES
    if _FILES is None:
        files = dict(FILE_NAMES)
        for attr in RESOURCE_ATTRIBUTES:
            cpu = attr.startswith("cpu")
            for suffix, (divisor, _) in (_CPU_SUFFIXES if cpu else _BYTE_SUFFIXES).items():
                for base in {attr, attr.replace("memory_", "mem_")}:
                    name = (base + suffix).lower()
                    files.setdefault(name, (attr, divisor))
                    files.setdefault(name.replace("_", "-"), (attr, divisor))
        _FILES = files
    return _FILES


_TABLE: dict[str, tuple[str, int, str, int]] | None = None


def env_table() -> Mapping[str, tuple[str, int, str, int]]:
    """Env name -> (attribute, rank, divisor, multiplier); identity names have divisor ``""``.

    Built once on first use; lower rank wins when several names for one attribute are set.
    """
    global _TABLE
    if _TABLE is None:
        table: dict[str, tuple[str, int, str, int]] = {}
        for attr, names in IDENTITY_ENV.items():
            for rank, name in enumerate(names):
                table[name] = (attr, rank, "", 1)
        for attr, (stems, bare) in RESOURCE_ENV_STEMS.items():
            suffixes = _CPU_SUFFIXES if attr.startswith("cpu") else _BYTE_SUFFIXES
            rank = 0
            for stem in stems:
                for suffix, (divisor, multiplier) in suffixes.items():
                    table[stem + suffix] = (attr, rank, divisor, multiplier)
                    rank += 1
            unit = 1000 if attr.startswith("cpu") else 1
            for name in (*bare, *stems):
                table[name] = (attr, rank, "1", unit)
                rank += 1
        _TABLE = table
    return _TABLE


# Name endings of resource values written without the convention's prefix, e.g. APP_CPU_LIMIT.
_PREFIXED_STEMS: Mapping[str, str] = {
    "_CPU_LIMIT": "cpu_limit",
    "_CPU_REQUEST": "cpu_request",
    "_MEMORY_LIMIT": "memory_limit",
    "_MEM_LIMIT": "memory_limit",
    "_MEMORY_REQUEST": "memory_request",
    "_MEM_REQUEST": "memory_request",
}
# Read with lower priority than every name of env_table().
PREFIXED_RANK = 1 << 16


def prefixed_resource(name: str) -> tuple[str, int, str, int] | None:
    """``(attribute, rank, divisor, multiplier)`` for ``<PREFIX>_CPU_LIMIT[_<UNIT>]`` and the
    like (``APP_MEMORY_LIMIT_MB``), names :func:`env_table` does not list; else ``None``."""
    if "_LIMIT" not in name and "_REQUEST" not in name:
        return None  # the common case, cheaply
    for ending, attr in _PREFIXED_STEMS.items():
        at = name.find(ending, 1)
        if at < 0:
            continue
        suffix = name[at + len(ending) :]
        cpu = attr.startswith("cpu")
        if not suffix:  # no unit: the default divisor 1
            return attr, PREFIXED_RANK, "1", 1000 if cpu else 1
        entry = (_CPU_SUFFIXES if cpu else _BYTE_SUFFIXES).get(suffix)
        if entry is not None:
            return attr, PREFIXED_RANK, entry[0], entry[1]
    return None


_LIMIT_WORDS = frozenset({"LIMIT", "LIMITS", "REQUEST", "REQUESTS", "QUOTA"})
_RESOURCE_WORDS = frozenset({"CPU", "CPUS", "MEM", "MEMORY", "RAM"})


def looks_like_resource(name: str) -> bool:
    """Whether ``name`` reads like a CPU or memory limit or request (``LIMITS_CPU``,
    ``CPU_LIMIT_M``), whether or not podself can read it."""
    words = set(name.split("_"))
    return bool(words & _LIMIT_WORDS) and bool(words & _RESOURCE_WORDS)


def parse_target(target: str) -> tuple[str, str]:
    """Split a user mapping target ``"resources.cpu_limit@1m"`` into (attribute, divisor).

    Identity targets (``"name"``, ``"node_name"``) have no divisor. Raises ``ValueError`` with
    the rule when the attribute or divisor is not one podself knows.
    """
    attr, _, divisor = target.partition("@")
    attr = attr.removeprefix("resources.")
    if attr in IDENTITY_ENV:
        if divisor:
            msg = f"env_map target {target!r}: identity attributes take no divisor"
            raise ValueError(msg)
        return attr, ""
    if attr not in RESOURCE_ATTRIBUTES:
        known = ", ".join([*IDENTITY_ENV, *(f"resources.{a}" for a in RESOURCE_ATTRIBUTES)])
        msg = f"env_map target {target!r}: unknown attribute; known: {known}"
        raise ValueError(msg)
    units = DIVISOR_UNITS["cpu" if attr.startswith("cpu") else "bytes"]
    divisor = divisor or "1"
    if divisor not in units:
        msg = (
            f"env_map target {target!r}: divisor must be one of {', '.join(units)} "
            f"for {attr}, got {divisor!r}"
        )
        raise ValueError(msg)
    return attr, divisor

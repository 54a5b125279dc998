"""From a manifest to the Pod a cluster would run: controller naming, API defaulting,
service-account admission, scheduling onto the local node, and the pod's status IPs.

Names and labels follow the controllers (``<deploy>-<hash>-<xxxxx>`` and ``pod-template-hash``
for a Deployment, ``<sts>-0`` with ``statefulset.kubernetes.io/pod-name`` and
``apps.kubernetes.io/pod-index`` for a StatefulSet, Job labels and ``JOB_COMPLETION_INDEX``
for an Indexed Job); defaults follow ``SetDefaults_Pod`` (requests from limits) and the
ServiceAccount admission plugin (the ``kube-api-access-xxxxx`` volume).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from podself.downward import default_requests, go_quote, split_maybe_subscripted_path
from podself.errors import ManifestError
from podself.manifest.workloads import Workload
from podself.validation import (
    MAX_GENERATED_NAME_BASE,
    FieldError,
    decode_error,
    quantity_decode_error,
    validate_metadata_maps,
    validate_object_meta,
    validate_pod_spec,
)

__all__ = [
    "SAFE_ALPHABET",
    "SERVICE_ACCOUNT_MOUNT",
    "NodeInfo",
    "apply_defaults",
    "compute_hash",
    "decode_failure",
    "invalid_message",
    "local_node",
    "make_pod",
    "metadata_errors",
    "node_allocatable",
    "pod_hostname",
    "qos_class",
    "safe_encode",
    "sort_ips",
    "template_metadata_errors",
    "validate_workload",
]

# apimachinery util/rand: consonants and digits that never spell words.
SAFE_ALPHABET: Final = "bcdfghjklmnpqrstvwxz2456789"
SERVICE_ACCOUNT_MOUNT: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
_RANDOM_LENGTH: Final = 5
_DEFAULT_MODE: Final = 0o644  # 420, as the v1 defaulters set it


def safe_encode(text: str) -> str:
    """apimachinery ``rand.SafeEncodeString``: each character mapped into the safe alphabet."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def compute_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """A ``pod-template-hash``: FNV-32a of the template, safe-encoded like the controller's.

    The controller hashes Go's printed struct, which cannot be reproduced byte for byte; this
    hashes canonical JSON instead, so the value is stable and has the real value's shape.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode("utf-8")
    if collision_count is not None:
        data += str(collision_count).encode()
    return safe_encode(str(_fnv32a(data)))


def _uuid4() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` gives: written out here
    because importing ``uuid`` (and ``platform`` with it) costs a pod start more than it does."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _random_suffix(rng: random.Random) -> str:
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(_RANDOM_LENGTH))


def _generate_name(base: str, rng: random.Random) -> str:
    return base[:MAX_GENERATED_NAME_BASE] + _random_suffix(rng)


# --- the node ------------------------------------------------------------------------------


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _memory_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def node_allocatable(
    cpu: str | None = None, memory: str | None = None, ephemeral_storage: str | None = None
) -> dict[str, str]:
    """Node allocatable as quantity strings: this machine's CPUs (affinity mask) and physical
    memory unless given; ephemeral storage from the root filesystem's size."""
    from podself.quantity import Quantity

    result: dict[str, str] = {}
    for name, given in (("cpu", cpu), ("memory", memory), ("ephemeral-storage", ephemeral_storage)):
        if given is not None:
            result[name] = str(Quantity.parse(given))
    result.setdefault("cpu", str(_cpu_count()))
    if "memory" not in result:
        memory_bytes = _memory_bytes()
        if memory_bytes:
            result["memory"] = str(memory_bytes)
    if "ephemeral-storage" not in result:
        try:
            fs = os.statvfs("/")
            result["ephemeral-storage"] = str(fs.f_blocks * fs.f_frsize)
        except (OSError, AttributeError):
            pass
    return result


def _family(ip: str) -> int:
    return ipaddress.ip_address(ip).version


def sort_ips(ips: Sequence[str], primary_family: int | None = None) -> list[str]:
    """The kubelet's ``sortPodIPs``/``GetNodeHostIPs`` order: the first IP of the primary family,
    then the first of the other family (at most two). The primary family is the family of
    ``primary_family`` or, when None, of the first IP (IPv4 when there are none)."""
    if not ips:
        return []
    primary = primary_family if primary_family is not None else _family(ips[0])
    first = next((ip for ip in ips if _family(ip) == primary), None)
    second = next((ip for ip in ips if _family(ip) != primary), None)
    return [ip for ip in (first, second) if ip is not None]


def _check_ip(ip: str, flag: str) -> str:
    try:
        return str(ipaddress.ip_address(ip))
    except ValueError:
        msg = f'{flag} "{ip}": not a valid IP address'
        raise ManifestError(msg) from None


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """The node the pod is "scheduled" on: its name, IPs (primary first) and allocatable."""

    name: str
    host_ips: tuple[str, ...]
    allocatable: Mapping[str, str] = field(default_factory=dict)


def local_node(
    name: str | None = None,
    host_ips: Sequence[str] = (),
    cpu: str | None = None,
    memory: str | None = None,
) -> NodeInfo:
    """This machine as a node: its lower-cased hostname, loopback as host IP, and its
    CPUs and memory as allocatable (each overridable)."""
    node_name = name if name else os.uname().nodename.strip().lower()
    ips = [_check_ip(ip, "--host-ip") for ip in host_ips] or ["127.0.0.1"]
    return NodeInfo(node_name, tuple(sort_ips(ips)), node_allocatable(cpu, memory))


# --- from a workload to a pod ---------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _owner(api_version: str, kind: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "uid": _uuid4(),
        "controller": True,
        "blockOwnerDeletion": True,
    }


@dataclass
class _Identity:
    name: str = ""
    generate_name: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    subdomain: str = ""
    owners: list[dict[str, Any]] = field(default_factory=list)
    completion_index: str | None = None


def _identity(workload: Workload, now: datetime) -> _Identity:
    kind = workload.kind
    obj = workload.object
    meta = workload.object_metadata
    raw_name = meta.get("name")
    name = raw_name if isinstance(raw_name, str) else ""
    raw_spec = obj.get("spec")
    spec: Mapping[str, Any] = raw_spec if isinstance(raw_spec, Mapping) else {}
    template = {"metadata": dict(workload.metadata), "spec": dict(workload.spec)}
    ident = _Identity()
    if kind == "Pod":
        ident.name = name
        generate = meta.get("generateName")
        ident.generate_name = generate if isinstance(generate, str) else ""
        return ident
    if not name:
        msg = f"{kind}: metadata.name: Required value: name or generateName is required"
        raise ManifestError(msg)
    if kind == "Deployment":
        template_hash = compute_hash(template)
        replica_set = f"{name}-{template_hash}"
        ident.generate_name = f"{replica_set}-"
        ident.labels["pod-template-hash"] = template_hash
        ident.owners.append(_owner("apps/v1", "ReplicaSet", replica_set))
    elif kind == "StatefulSet":
        ordinals = spec.get("ordinals")
        start = ordinals.get("start", 0) if isinstance(ordinals, Mapping) else 0
        ordinal = start if isinstance(start, int) and not isinstance(start, bool) else 0
        ident.name = f"{name}-{ordinal}"
        ident.hostname = ident.name
        service = spec.get("serviceName")
        ident.subdomain = service if isinstance(service, str) else ""
        ident.labels["controller-revision-hash"] = f"{name[:223]}-{compute_hash(template)}"
        ident.labels["statefulset.kubernetes.io/pod-name"] = ident.name
        ident.labels["apps.kubernetes.io/pod-index"] = str(ordinal)
        ident.owners.append(_owner("apps/v1", "StatefulSet", name))
    elif kind == "DaemonSet":
        ident.generate_name = f"{name}-"
        ident.labels["controller-revision-hash"] = compute_hash(template)
        ident.labels["pod-template-generation"] = "1"
        ident.owners.append(_owner("apps/v1", "DaemonSet", name))
    elif kind in ("ReplicaSet", "ReplicationController"):
        ident.generate_name = f"{name}-"
        api = "apps/v1" if kind == "ReplicaSet" else "v1"
        ident.owners.append(_owner(api, kind, name))
    elif kind in ("Job", "CronJob"):
        job_name, job_spec = name, spec
        if kind == "CronJob":
            # getJobName: the scheduled time in minutes since the epoch.
            job_name = f"{name}-{int(now.timestamp() // 60)}"
            job_template = spec.get("jobTemplate")
            job_spec = job_template.get("spec", {}) if isinstance(job_template, Mapping) else {}
            job_spec = job_spec if isinstance(job_spec, Mapping) else {}
        controller_uid = _uuid4()
        ident.generate_name = f"{job_name}-"
        ident.labels.update(
            {
                "batch.kubernetes.io/controller-uid": controller_uid,
                "batch.kubernetes.io/job-name": job_name,
                "controller-uid": controller_uid,
                "job-name": job_name,
            }
        )
        if job_spec.get("completionMode") == "Indexed":
            ident.completion_index = "0"
            ident.generate_name = f"{job_name}-0-"
            ident.hostname = f"{job_name}-0"
            ident.labels["batch.kubernetes.io/job-completion-index"] = "0"
            ident.annotations["batch.kubernetes.io/job-completion-index"] = "0"
        owner = _owner("batch/v1", "Job", job_name)
        owner["uid"] = controller_uid
        ident.owners.append(owner)
    else:  # PodTemplate: nothing runs it; behave like a bare controller
        ident.generate_name = f"{name}-"
    return ident


def make_pod(
    workload: Workload,
    node: NodeInfo,
    *,
    namespace: str | None = None,
    pod_ips: Sequence[str] = (),
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Build the defaulted, scheduled Pod object (v1 JSON shape) for ``workload`` on ``node``.

    ``pod_ips`` default to loopback (``127.0.0.1``); a hostNetwork pod gets the node's IPs.
    The result has ``metadata`` (name, namespace, uid, labels, annotations,
    ownerReferences, creationTimestamp), the defaulted ``spec`` with ``nodeName`` set, and a
    ``status`` with the pod and host IPs.
    """
    rng = rng or random.SystemRandom()
    moment = now or _now()
    ident = _identity(workload, moment)
    name = ident.name or (_generate_name(ident.generate_name, rng) if ident.generate_name else "")
    if not name:
        msg = "Pod: metadata.name: Required value: name or generateName is required"
        raise ManifestError(msg)
    labels = _str_map(workload.metadata.get("labels"))
    labels.update(ident.labels)
    annotations = _str_map(workload.metadata.get("annotations"))
    annotations.update(ident.annotations)
    ns = namespace or workload.namespace or "default"
    # The name and namespace become state paths: a controller's derived name is checked too.
    invalid = [str(e) for e in validate_object_meta({"name": name}, namespace=ns)]
    if invalid:
        raise ManifestError(invalid_message("Pod", name, invalid))
    metadata: dict[str, Any] = {"name": name}
    if ident.generate_name and not ident.name:
        metadata["generateName"] = ident.generate_name
    metadata["namespace"] = ns
    metadata["uid"] = _uuid4()
    metadata["resourceVersion"] = "1"
    metadata["creationTimestamp"] = _timestamp(moment)
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations
    if ident.owners:
        metadata["ownerReferences"] = ident.owners
    spec = copy.deepcopy(dict(workload.spec))
    if ident.hostname and not spec.get("hostname"):
        spec["hostname"] = ident.hostname
    if ident.subdomain and not spec.get("subdomain"):
        spec["subdomain"] = ident.subdomain
    if ident.completion_index is not None:
        _add_completion_index_env(spec)
    pod: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}
    apply_defaults(pod, rng=rng)
    spec["nodeName"] = node.name
    if spec.get("hostNetwork") is True:
        ips = list(node.host_ips)
    else:
        given = [_check_ip(ip, "--pod-ip") for ip in pod_ips] or ["127.0.0.1"]
        primary = _family(node.host_ips[0]) if node.host_ips else 4
        ips = sort_ips(given, primary)
    pod["status"] = {
        "phase": "Pending",
        "hostIP": node.host_ips[0] if node.host_ips else "",
        "hostIPs": [{"ip": ip} for ip in node.host_ips],
        "podIP": ips[0] if ips else "",
        "podIPs": [{"ip": ip} for ip in ips],
        "startTime": _timestamp(moment),
        "qosClass": qos_class(spec),
    }
    return pod


def _add_completion_index_env(spec: dict[str, Any]) -> None:
    var = {
        "name": "JOB_COMPLETION_INDEX",
        "valueFrom": {
            "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-completion-index']"}
        },
    }
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                env = container.setdefault("env", [])
                if isinstance(env, list) and not any(
                    isinstance(e, Mapping) and e.get("name") == var["name"] for e in env
                ):
                    env.append(copy.deepcopy(var))


# --- API defaulting ------------------------------------------------------------------------


def _default_field_ref(ref: object) -> None:
    if isinstance(ref, dict):
        ref.setdefault("apiVersion", "v1")


def _default_downward_items(source: object) -> None:
    if not isinstance(source, dict):
        return
    for item in source.get("items") or []:
        if isinstance(item, dict):
            _default_field_ref(item.get("fieldRef"))


def _default_volume(volume: dict[str, Any]) -> None:
    for kind in ("downwardAPI", "configMap", "secret", "projected"):
        source = volume.get(kind)
        if isinstance(source, dict):
            source.setdefault("defaultMode", _DEFAULT_MODE)
            if kind == "downwardAPI":
                _default_downward_items(source)
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in projected.get("sources") or []:
            if not isinstance(source, dict):
                continue
            _default_downward_items(source.get("downwardAPI"))
            token = source.get("serviceAccountToken")
            if isinstance(token, dict):
                token.setdefault("expirationSeconds", 3600)
    if "emptyDir" in volume and volume["emptyDir"] is None:
        volume["emptyDir"] = {}


def _image_pull_policy(image: object) -> str:
    if not isinstance(image, str):
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
    return "Always" if tag == "latest" else "IfNotPresent"


def _default_container(container: dict[str, Any]) -> None:
    container.setdefault("imagePullPolicy", _image_pull_policy(container.get("image")))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    resources = container.get("resources")
    container["resources"] = default_requests(resources if isinstance(resources, dict) else None)
    for var in container.get("env") or []:
        if isinstance(var, dict) and isinstance(var.get("valueFrom"), dict):
            _default_field_ref(var["valueFrom"].get("fieldRef"))
    for port in container.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")


def apply_defaults(pod: dict[str, Any], *, rng: random.Random | None = None) -> None:
    """Apply the v1 Pod defaulters and ServiceAccount admission to ``pod`` in place.

    Sets ``restartPolicy``, ``terminationGracePeriodSeconds``, ``dnsPolicy``,
    ``schedulerName``, ``enableServiceLinks``, ``serviceAccountName``, per-container pull
    policy and termination message, requests from limits, ``fieldRef.apiVersion``, volume
    ``defaultMode`` 0644; then adds the ``kube-api-access-xxxxx`` projected volume and its
    mount at ``/var/run/secrets/kubernetes.io/serviceaccount`` unless
    ``automountServiceAccountToken`` is false.
    """
    spec = pod.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = account
    spec["serviceAccount"] = account
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                _default_container(container)
    volumes = spec.get("volumes")
    for volume in volumes or []:
        if isinstance(volume, dict):
            _default_volume(volume)
    if spec.get("automountServiceAccountToken") is False:
        return
    rng = rng or random.SystemRandom()
    volume_name = f"kube-api-access-{_random_suffix(rng)}"
    mounted = False
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or []:
            if not isinstance(container, dict):
                continue
            mounts = container.setdefault("volumeMounts", [])
            if any(
                isinstance(m, Mapping) and m.get("mountPath") == SERVICE_ACCOUNT_MOUNT
                for m in mounts
            ):
                continue
            mounts.append(
                {"name": volume_name, "readOnly": True, "mountPath": SERVICE_ACCOUNT_MOUNT}
            )
            mounted = True
    if mounted:
        spec.setdefault("volumes", []).append(
            {
                "name": volume_name,
                "projected": {
                    "defaultMode": _DEFAULT_MODE,
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {
                                            "apiVersion": "v1",
                                            "fieldPath": "metadata.namespace",
                                        },
                                    }
                                ]
                            }
                        },
                    ],
                },
            }
        )


def qos_class(spec: Mapping[str, Any]) -> str:
    """``Guaranteed``, ``Burstable`` or ``BestEffort`` from the (defaulted) containers."""
    from podself.quantity import Quantity

    containers = [
        c
        for key in ("initContainers", "containers")
        for c in (spec.get(key) or [])
        if isinstance(c, Mapping)
    ]
    any_set = False
    guaranteed = bool(containers)
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits") or {}
        requests = resources.get("requests") or {}
        for name in ("cpu", "memory"):
            limit, request = limits.get(name), requests.get(name)
            if limit is not None or request is not None:
                any_set = True
            if (
                limit is None
                or request is None
                or Quantity.from_json(limit).cmp(Quantity.from_json(request)) != 0
            ):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def pod_hostname(pod: Mapping[str, Any]) -> str:
    """``GeneratePodHostNameAndDomain``: ``spec.hostname`` or the pod name, cut to 63
    characters with trailing ``-`` and ``.`` removed."""
    spec = pod.get("spec") or {}
    name = spec.get("hostname") or (pod.get("metadata") or {}).get("name") or ""
    if len(name) > 63:
        name = name[:63].rstrip("-.")
    return str(name)


# --- validation ------------------------------------------------------------------------------

_NUL_MSG: Final = (
    "must not contain a NUL byte (refused by podself run, not by the API server: no file name, "
    "argument or environment variable can hold one)"
)


def _nul_errors(spec: Mapping[str, Any], path: str, reported: Sequence[str]) -> list[str]:
    """Emulator-only: every string of the pod spec with a NUL byte, which the API server accepts
    but no path, argument or environment variable can hold (fields with an error already
    reported are skipped)."""
    errs: list[str] = []
    # A set, not a scan per string: both counts are the manifest's to choose.
    fields = {e.partition(": ")[0] for e in reported}
    stack: list[tuple[str, object]] = [(path, spec)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value and where not in fields:
                errs.append(f"{where}: Invalid value: {go_quote(value)}: {_NUL_MSG}")
        elif isinstance(value, Mapping):
            stack.extend((f"{where}.{k}", v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value))))
    return errs


def _env_nul_errors(workload: Workload) -> list[str]:
    """Emulator-only: an env var that reads an annotation whose value holds a NUL byte (labels
    cannot hold one)."""
    annotations = workload.metadata.get("annotations")
    if not isinstance(annotations, Mapping):
        return []
    errs: list[str] = []
    for key in ("initContainers", "containers"):
        containers = workload.spec.get(key)
        for i, container in enumerate(containers if isinstance(containers, list) else ()):
            env = container.get("env") if isinstance(container, Mapping) else None
            for j, var in enumerate(env if isinstance(env, list) else ()):
                value_from = var.get("valueFrom") if isinstance(var, Mapping) else None
                ref = value_from.get("fieldRef") if isinstance(value_from, Mapping) else None
                field_path = ref.get("fieldPath") if isinstance(ref, Mapping) else None
                if not isinstance(field_path, str):
                    continue
                path, subscript, ok = split_maybe_subscripted_path(field_path)
                value = (
                    annotations.get(subscript) if ok and path == "metadata.annotations" else None
                )
                if isinstance(value, str) and "\x00" in value:
                    where = f"{workload.spec_path}.{key}[{i}].env[{j}].valueFrom.fieldRef"
                    errs.append(
                        f"{where}: Invalid value: {go_quote(field_path)}: the annotation's value "
                        "holds a NUL byte (refused by podself run, not by the API server: no "
                        "environment variable can hold one)"
                    )
    return errs


def _api_errors(workload: Workload, namespace: str | None) -> list[FieldError]:
    # The API server's validation errors, in its order (metadata, labels, then the pod spec).
    meta = workload.object_metadata
    given = meta.get("namespace")
    # None lets a namespace of the wrong type be reported; an empty one means "default".
    ns = namespace or (given if given is not None and given != "" else "default")
    ns = ns if isinstance(ns, str) else None
    errors = validate_object_meta(meta, "metadata", namespace=ns, kind=workload.kind)
    if workload.kind != "Pod":
        errors += validate_metadata_maps(meta, "metadata")  # the workload's own
    path = workload.metadata_path
    if workload.kind != "Pod":
        path = path.removesuffix(".metadata")
    errors += validate_metadata_maps(workload.metadata, path)
    template = workload.kind != "Pod"
    errors += validate_pod_spec(workload.spec, workload.spec_path, template=template)
    return errors


def _document_order(obj: object, field: str) -> tuple[int, ...]:
    # Where the field an error names sits in the object, as a sortable position: encoding/json
    # meets fields in the order they are written.
    position: list[int] = []
    for name in re.findall(r"[^.\[\]]+", field):
        if isinstance(obj, list) and name.isdigit():
            index = int(name)
            obj = obj[index] if index < len(obj) else None
        elif isinstance(obj, Mapping):
            if name not in obj and "metadata" in obj and name in ("labels", "annotations"):
                position.append(list(obj).index("metadata"))  # spec.template.labels
                obj = obj["metadata"]
            keys = list(obj) if isinstance(obj, Mapping) else []
            index = keys.index(name) if name in keys else len(keys)
            obj = obj.get(name) if isinstance(obj, Mapping) else None
        else:
            break
        position.append(index)
    return tuple(position)


def _quantity_failures(obj: object) -> list[tuple[tuple[int, ...], str]]:
    """(position, apimachinery's error) for each divisor, resource limit and request that is no
    quantity, anywhere in the object."""
    found: list[tuple[tuple[int, ...], str]] = []
    stack: list[tuple[object, tuple[int, ...], str, str]] = [(obj, (), "", "")]
    while stack:
        value, position, key, parent = stack.pop()
        quantity = (key == "divisor" and parent == "resourceFieldRef") or (
            parent in ("limits", "requests", "overhead") and not isinstance(value, Mapping | list)
        )
        if quantity:
            error = quantity_decode_error(value)
            if error is not None:
                found.append((position, error))
        elif isinstance(value, Mapping):
            stack.extend(
                (child, (*position, i), str(name), key)
                for i, (name, child) in enumerate(value.items())
            )
        elif isinstance(value, list):
            stack.extend((child, (*position, i), key, parent) for i, child in enumerate(value))
    return found


def decode_failure(workload: Workload, *, namespace: str | None = None) -> str | None:
    """The API server's answer when ``workload`` does not even decode into the v1 types (a
    boolean or number in a string field, a string in an integer field, a divisor that is no
    quantity): ``Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal ...``
    for the first such value in the document, or None. Nothing is validated then."""
    # A quantity's own UnmarshalJSON error ends decoding at once; a value of the wrong type is
    # only remembered (the first one) and reported when decoding is done.
    failures = _quantity_failures(workload.object)
    if not failures:
        failures = [
            (_document_order(workload.object, e.field), text)
            for e in _api_errors(workload, namespace)
            if not e.field.endswith(".divisor") and (text := decode_error(e)) is not None
        ]
    if not failures:
        return None
    version = workload.object.get("apiVersion")
    version = version.rpartition("/")[2] if isinstance(version, str) and version else "v1"
    kind = workload.kind
    first = min(failures)[1]
    return f'{kind} in version "{version}" cannot be handled as a {kind}: {first}'


def validate_workload(workload: Workload, *, namespace: str | None = None) -> list[str]:
    """The API server's errors on creating ``workload`` in ``namespace`` (``-n``; else its own,
    else ``default``), as ``field: message`` strings, then podself run's own refusals.

    The object's name, generateName and namespace (``ValidateObjectMeta``), its labels and
    annotations and the pod template's, and the pod spec (:func:`validate_pod_spec`: volumes,
    container names, images, env and volume mounts). Last, strings with a NUL byte, which the
    API server accepts but the emulator cannot turn into a path or a process. A value of the
    wrong type is reported at its field (:func:`decode_failure` gives the API server's answer).
    """
    texts = [str(e) for e in _api_errors(workload, namespace)]
    texts.extend(_nul_errors(workload.spec, workload.spec_path, texts))
    texts.extend(_env_nul_errors(workload))
    return texts


def template_metadata_errors(workload: Workload) -> list[str]:
    """:func:`metadata_errors` for the pod template's labels and annotations, at the path the
    API server names: ``metadata`` for a Pod, the template itself (``spec.template.labels``)
    for a workload, as ``ValidatePodTemplateSpec`` reports them."""
    path = workload.metadata_path
    if workload.kind != "Pod":
        path = path.removesuffix(".metadata")
    return metadata_errors(workload.metadata, path)


def metadata_errors(metadata: Mapping[str, Any], path: str) -> list[str]:
    """The API server's ``ValidateObjectMeta`` errors for the pod's labels and annotations
    (keys and values of labels, annotation keys and total size)."""
    return [str(e) for e in validate_metadata_maps(metadata, path)]


def invalid_message(kind: str, name: str, errors: Sequence[str]) -> str:
    """kubectl's rendering of an Invalid response: one error on the first line, several as a
    ``* `` list under it. The name is Go-quoted (``%q``), so no byte of it reaches the
    terminal raw."""
    prefix = f"The {kind} {go_quote(name)} is invalid: "
    if len(errors) == 1:
        return prefix + errors[0]
    return prefix + "\n" + "\n".join(f"* {e}" for e in errors)

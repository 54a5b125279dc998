"""A container's environment, built as the kubelet's ``makeEnvironmentVariables`` builds it.

``envFrom`` first (ConfigMaps, then Secrets, in order; keys that are not valid env names are
skipped), then ``env`` in order: a non-empty ``value`` is ``$(VAR)``-expanded against the
variables defined so far; otherwise ``valueFrom`` is resolved (``fieldRef``,
``resourceFieldRef`` with node allocatable for missing limits, ``configMapKeyRef``,
``secretKeyRef``). A missing ConfigMap, Secret or key fails with the kubelet's message unless
the reference is ``optional``; an optional miss leaves the variable unset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podself.downward import extract_field_path, resource_value
from podself.errors import ManifestError, ResourceFieldError
from podself.expand import expand
from podself.validation import convert_downward_api_field_label

__all__ = [
    "ObjectStore",
    "container_environment",
    "expand_command",
    "find_container",
    "is_env_var_name",
]


@dataclass
class ObjectStore:
    """ConfigMaps and Secrets found in the ``-f`` files, by ``(namespace, name)``.

    ConfigMap values are text (``data``) or bytes (``binaryData``); Secret values are the
    decoded bytes of ``data`` with ``stringData`` applied on top, as the API server does.
    """

    config_maps: dict[tuple[str, str], dict[str, str | bytes]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, bytes]] = field(default_factory=dict)

    def add(self, obj: Mapping[str, Any], default_namespace: str) -> bool:
        """Add a ConfigMap or Secret object; return whether it was one."""
        kind = obj.get("kind")
        if kind not in ("ConfigMap", "Secret") or obj.get("apiVersion") not in ("v1", None):
            return False
        meta = _mapping(obj.get("metadata"))
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            return False
        namespace = meta.get("namespace") or default_namespace
        key = (str(namespace), name)
        if kind == "ConfigMap":
            values: dict[str, str | bytes] = {}
            for k, v in _mapping(obj.get("data")).items():
                values[str(k)] = "" if v is None else str(v)
            for k, v in _mapping(obj.get("binaryData")).items():
                values[str(k)] = _b64(v, f"ConfigMap {name} binaryData.{k}")
            self.config_maps[key] = values
        else:
            secret: dict[str, bytes] = {}
            for k, v in _mapping(obj.get("data")).items():
                secret[str(k)] = _b64(v, f"Secret {name} data.{k}")
            for k, v in _mapping(obj.get("stringData")).items():
                secret[str(k)] = ("" if v is None else str(v)).encode("utf-8")
            self.secrets[key] = secret
        return True

    def config_map(self, namespace: str, name: str) -> dict[str, str | bytes] | None:
        """The ConfigMap's values, or None when there is no such ConfigMap."""
        return self.config_maps.get((namespace, name))

    def secret(self, namespace: str, name: str) -> dict[str, bytes] | None:
        """The Secret's decoded values, or None when there is no such Secret."""
        return self.secrets.get((namespace, name))


def _mapping(value: object) -> Mapping[Any, Any]:
    return value if isinstance(value, Mapping) else {}


def _b64(value: object, where: str) -> bytes:
    text = "" if value is None else str(value)
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        msg = f"{where}: illegal base64 data: {text[:40]!r}"
        raise ManifestError(msg) from None


def is_env_var_name(name: str) -> bool:
    """apimachinery ``IsEnvVarName``: printable ASCII other than ``=``, not empty."""
    return bool(name) and all(" " <= ch <= "~" and ch != "=" for ch in name)


def find_container(pod: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """``findContainerInPod``: ``spec.containers`` first, then ``spec.initContainers``."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, Mapping) and container.get("name") == name:
                return container
    return None


def _as_text(value: str | bytes) -> str:
    # Go's string([]byte) keeps the bytes; surrogate escapes carry invalid UTF-8 to execve.
    return value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")


def _pod_ips(pod: Mapping[str, Any], key: str) -> list[str]:
    status = pod.get("status") or {}
    return [str(e.get("ip")) for e in status.get(key) or [] if isinstance(e, Mapping)]


def _field_value(pod: Mapping[str, Any], selector: Mapping[str, Any]) -> str:
    # podFieldSelectorRuntimeValue
    version = selector.get("apiVersion") or "v1"
    path = str(selector.get("fieldPath") or "")
    internal, _ = convert_downward_api_field_label(str(version), path, "")
    spec = pod.get("spec") or {}
    if internal == "spec.nodeName":
        return str(spec.get("nodeName") or "")
    if internal == "spec.serviceAccountName":
        return str(spec.get("serviceAccountName") or "")
    if internal in ("status.hostIP", "status.hostIPs"):
        host_ips = _pod_ips(pod, "hostIPs")
        if not host_ips:
            msg = "host IP unknown; known addresses: []"
            raise ManifestError(msg)
        return host_ips[0] if internal == "status.hostIP" else ",".join(host_ips)
    if internal in ("status.podIP", "status.podIPs"):
        pod_ips = _pod_ips(pod, "podIPs")
        if internal == "status.podIP":
            return pod_ips[0] if pod_ips else ""
        return ",".join(pod_ips)
    return extract_field_path(pod, internal)


def _merged_limits_source(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    selector: Mapping[str, Any],
    node_allocatable: Mapping[str, str],
) -> tuple[Mapping[str, Any], Mapping[str, str] | None]:
    # containerResourceRuntimeValue over defaultPodLimitsForDownwardAPI: the current container
    # and every regular container get node allocatable for missing limits; a named INIT
    # container is looked up in the original pod, so its missing limits stay 0.
    name = selector.get("containerName")
    if not name:
        return container.get("resources") or {}, node_allocatable
    target = find_container(pod, str(name))
    if target is None:
        msg = f"container {name} not found"
        raise ResourceFieldError(msg)
    spec = pod.get("spec") or {}
    regular = any(
        isinstance(c, Mapping) and c.get("name") == name for c in spec.get("containers") or []
    )
    return target.get("resources") or {}, node_allocatable if regular else None


def _pod_limits(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    resources = (pod.get("spec") or {}).get("resources")
    if isinstance(resources, Mapping) and isinstance(resources.get("limits"), Mapping):
        return resources["limits"]  # type: ignore[no-any-return]
    return None


def container_environment(
    pod: Mapping[str, Any],
    container: Mapping[str, Any],
    objects: ObjectStore,
    node_allocatable: Mapping[str, str],
    *,
    warnings: list[str] | None = None,
) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs the kubelet gives ``container`` of ``pod``, in definition
    order (a redefined name keeps its first position and takes the last value).

    Raises :class:`~podself.errors.ManifestError` (or a subclass) with the kubelet's message
    when a value cannot be resolved; the kubelet reports those as CreateContainerConfigError.
    Keys skipped from ``envFrom`` (invalid names) are described in ``warnings``.
    """
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        if not isinstance(source, Mapping):
            continue
        prefix = str(source.get("prefix") or "")
        if isinstance(source.get("configMapRef"), Mapping):
            ref = source["configMapRef"]
            kind, values = "configMap", objects.config_map(namespace, str(ref.get("name")))
            if values is None:
                if ref.get("optional") is True:
                    continue
                msg = f'configmap "{ref.get("name")}" not found'
                raise ManifestError(msg)
            # binaryData is not exposed through envFrom (the kubelet reads .Data only)
            items: Iterable[tuple[str, str | bytes]] = (
                (k, v) for k, v in values.items() if isinstance(v, str)
            )
        elif isinstance(source.get("secretRef"), Mapping):
            ref = source["secretRef"]
            secret = objects.secret(namespace, str(ref.get("name")))
            kind = "secret"
            if secret is None:
                if ref.get("optional") is True:
                    continue
                msg = f'secret "{ref.get("name")}" not found'
                raise ManifestError(msg)
            items = secret.items()
        else:
            continue
        invalid: list[str] = []
        for key, value in sorted(items):
            full = prefix + key
            if not is_env_var_name(full):
                invalid.append(full)
                continue
            env[full] = _as_text(value)
        if invalid and warnings is not None:
            warnings.append(
                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {kind} "
                f"{namespace}/{ref.get('name')} were skipped since they are considered invalid "
                "environment variable names."
            )
    pod_limits = _pod_limits(pod)
    for var in container.get("env") or []:
        if not isinstance(var, Mapping):
            continue
        name = str(var.get("name") or "")
        raw_value = var.get("value")
        runtime: str = "" if raw_value is None else str(raw_value)
        value_from = var.get("valueFrom")
        if runtime:
            runtime = expand(runtime, env)
        elif isinstance(value_from, Mapping):
            if isinstance(value_from.get("fieldRef"), Mapping):
                runtime = _field_value(pod, value_from["fieldRef"])
            elif isinstance(value_from.get("resourceFieldRef"), Mapping):
                selector = value_from["resourceFieldRef"]
                resources, allocatable = _merged_limits_source(
                    pod, container, selector, node_allocatable
                )
                runtime = resource_value(
                    str(selector.get("resource") or ""),
                    resources,
                    selector.get("divisor"),
                    allocatable,
                    pod_limits=pod_limits if allocatable is not None else None,
                )
            elif isinstance(value_from.get("configMapKeyRef"), Mapping):
                ref = value_from["configMapKeyRef"]
                cm_name, key = str(ref.get("name")), str(ref.get("key"))
                optional = ref.get("optional") is True
                values = objects.config_map(namespace, cm_name)
                if values is None:
                    if optional:
                        continue
                    msg = f'configmap "{cm_name}" not found'
                    raise ManifestError(msg)
                found = values.get(key)
                if not isinstance(found, str):  # binaryData keys are not read here either
                    if optional:
                        continue
                    msg = f"couldn't find key {key} in ConfigMap {namespace}/{cm_name}"
                    raise ManifestError(msg)
                runtime = found
            elif isinstance(value_from.get("secretKeyRef"), Mapping):
                ref = value_from["secretKeyRef"]
                s_name, key = str(ref.get("name")), str(ref.get("key"))
                optional = ref.get("optional") is True
                secret = objects.secret(namespace, s_name)
                if secret is None:
                    if optional:
                        continue
                    msg = f'secret "{s_name}" not found'
                    raise ManifestError(msg)
                data = secret.get(key)
                if data is None:
                    if optional:
                        continue
                    msg = f"couldn't find key {key} in Secret {namespace}/{s_name}"
                    raise ManifestError(msg)
                runtime = _as_text(data)
            elif isinstance(value_from.get("fileKeyRef"), Mapping):
                # The kubelet reads KEY=VALUE lines that an init container wrote to an emptyDir
                # volume; its env-file parser and limits are not reproduced, so refuse rather
                # than guess a value.
                ref = value_from["fileKeyRef"]
                msg = (
                    f"env {name}: valueFrom.fileKeyRef (key {ref.get('key')!r} of the env file "
                    f"{ref.get('path')!r} in volume {ref.get('volumeName')!r}) is not emulated "
                    "by podself run; set the variable with value: for local runs"
                )
                raise ManifestError(msg)
        env[name] = runtime
    return list(env.items())


def expand_command(words: Sequence[Any] | None, env: Mapping[str, str]) -> list[str]:
    """``ExpandContainerCommandAndArgs`` for one list: each word ``$(VAR)``-expanded against
    the container's final environment."""
    return [expand("" if w is None else str(w), env) for w in (words or [])]

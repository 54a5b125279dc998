"""The pod's volumes on disk: ``downwardAPI``, ``projected``, ``configMap`` and ``secret``
written with the kubelet's ``..data`` protocol (:mod:`podself.atomic`), ``emptyDir`` shared by
the containers, and ``hostPath`` passed through.

Payloads are built as the kubelet's volume plugins build them (``CollectData``,
``MakePayload``): one file per item, keyed by the cleaned path, mode = item ``mode`` or the
volume's ``defaultMode``; a missing ConfigMap, Secret or key fails with the kubelet's message
unless ``optional``. :meth:`VolumeSet.sync` re-projects after a label or annotation change;
unchanged content is a no-op, as on a node.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself import atomic
from podself._safefs import open_beneath, open_dir
from podself.atomic import FileProjection
from podself.downward import extract_field_path, resource_value
from podself.emulator.env import ObjectStore, find_container
from podself.errors import ConfinementError, ManifestError, PodselfError, ResourceFieldError

__all__ = [
    "API_DATA_KINDS",
    "Volume",
    "VolumeSet",
    "config_map_payload",
    "downward_payload",
    "projected_payload",
    "resolve_sub_path",
    "secret_payload",
]

# Volume types whose content the kubelet writes (and mounts read-only).
API_DATA_KINDS: Final = ("downwardAPI", "projected", "configMap", "secret")
_KNOWN_KINDS: Final = (*API_DATA_KINDS, "emptyDir", "hostPath")
# Always present in a real cluster (the root CA publisher); absent here unless given.
_ROOT_CA_CONFIG_MAP: Final = "kube-root-ca.crt"
_SAFE_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEFAULT_MODE: Final = 0o644


def _mode(item: Mapping[str, Any], default_mode: int) -> int:
    mode = item.get("mode")
    return mode if isinstance(mode, int) and not isinstance(mode, bool) else default_mode


def _default_mode(source: Mapping[str, Any]) -> int:
    mode = source.get("defaultMode")
    return mode if isinstance(mode, int) and not isinstance(mode, bool) else _DEFAULT_MODE


def _clean(path: str) -> str:
    atomic.validate_path(path)  # the writer's own check, before anything is keyed on it
    return os.path.normpath(path)


def downward_payload(
    pod: Mapping[str, Any],
    source: Mapping[str, Any],
    default_mode: int,
    node_allocatable: Mapping[str, str],
) -> dict[str, FileProjection]:
    """The files of a ``downwardAPI`` volume (or projected source): ``CollectData``.

    ``fieldRef`` items are extracted with ``ExtractFieldPathAsString`` (no trailing newline);
    ``resourceFieldRef`` items use the named container with missing limits taken from
    ``node_allocatable`` only: unlike env vars, the kubelet's volume path never applies
    pod-level limits (``spec.resources.limits``). Later items with the same cleaned path win.
    """
    payload: dict[str, FileProjection] = {}
    for item in source.get("items") or []:
        if not isinstance(item, Mapping):
            continue
        path = _clean(str(item.get("path") or ""))
        field_ref = item.get("fieldRef")
        resource_ref = item.get("resourceFieldRef")
        if isinstance(field_ref, Mapping):
            data = extract_field_path(pod, str(field_ref.get("fieldPath") or ""))
        elif isinstance(resource_ref, Mapping):
            name = str(resource_ref.get("containerName") or "")
            container = find_container(pod, name)
            if container is None:
                msg = f"container {name} not found"
                raise ResourceFieldError(msg)
            data = resource_value(
                str(resource_ref.get("resource") or ""),
                container.get("resources") or {},
                resource_ref.get("divisor"),
                node_allocatable,
            )
        else:
            continue
        payload[path] = FileProjection(
            data.encode("utf-8", "surrogateescape"), _mode(item, default_mode)
        )
    return payload


def _to_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def config_map_payload(
    source: Mapping[str, Any],
    values: Mapping[str, str | bytes] | None,
    default_mode: int,
) -> dict[str, FileProjection]:
    """``configmap.MakePayload``: every key (``data`` and ``binaryData``) or the listed items.

    ``values`` is None when the ConfigMap does not exist: an error unless ``optional``. A
    listed key that is missing fails with ``configmap references non-existent config key``.
    """
    optional = source.get("optional") is True
    name = str(source.get("name") or "")
    if values is None:
        if optional or name == _ROOT_CA_CONFIG_MAP:
            return {}
        msg = f'configmap "{name}" not found'
        raise ManifestError(msg)
    return _keyed_payload(
        source, values, default_mode, optional, "configmap references non-existent config key"
    )


def secret_payload(
    source: Mapping[str, Any],
    values: Mapping[str, bytes] | None,
    default_mode: int,
    *,
    name_key: str = "secretName",
) -> dict[str, FileProjection]:
    """``secret.MakePayload``: every key or the listed items of a Secret (decoded bytes)."""
    optional = source.get("optional") is True
    name = str(source.get(name_key) or "")
    if values is None:
        if optional:
            return {}
        msg = f'secret "{name}" not found'
        raise ManifestError(msg)
    return _keyed_payload(
        source, values, default_mode, optional, "references non-existent secret key"
    )


def _keyed_payload(
    source: Mapping[str, Any],
    values: Mapping[str, str | bytes],
    default_mode: int,
    optional: bool,
    missing_key: str,
) -> dict[str, FileProjection]:
    """Every key of a ConfigMap or Secret, or its listed ``items`` (the kubelet's MakePayload).

    A listed key that is missing fails with ``missing_key: <key>`` unless ``optional``.
    """
    items = source.get("items")
    payload: dict[str, FileProjection] = {}
    if not items:
        for key, value in values.items():
            payload[_clean(key)] = FileProjection(_to_bytes(value), default_mode)
        return payload
    for item in items:
        if not isinstance(item, Mapping):
            continue
        key = str(item.get("key") or "")
        if key not in values:
            if optional:
                continue
            msg = f"{missing_key}: {key}"
            raise ManifestError(msg)
        path = _clean(str(item.get("path") or ""))
        payload[path] = FileProjection(_to_bytes(values[key]), _mode(item, default_mode))
    return payload


def projected_payload(
    pod: Mapping[str, Any],
    source: Mapping[str, Any],
    objects: ObjectStore,
    node_allocatable: Mapping[str, str],
    notes: list[str] | None = None,
) -> dict[str, FileProjection]:
    """The files of a ``projected`` volume: each source's files in order, ``defaultMode`` of the
    projected volume for items without a mode. ``serviceAccountToken``, ``clusterTrustBundle``
    and ``podCertificate`` sources cannot be minted locally and are skipped (with a note)."""
    namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
    default_mode = _default_mode(source)
    payload: dict[str, FileProjection] = {}
    for entry in source.get("sources") or []:
        if not isinstance(entry, Mapping):
            continue
        if isinstance(entry.get("downwardAPI"), Mapping):
            payload.update(
                downward_payload(pod, entry["downwardAPI"], default_mode, node_allocatable)
            )
        elif isinstance(entry.get("configMap"), Mapping):
            cm = entry["configMap"]
            values = objects.config_map(namespace, str(cm.get("name") or ""))
            payload.update(config_map_payload(cm, values, default_mode))
        elif isinstance(entry.get("secret"), Mapping):
            ref = entry["secret"]
            values_s = objects.secret(namespace, str(ref.get("name") or ""))
            payload.update(secret_payload(ref, values_s, default_mode, name_key="name"))
        elif notes is not None:
            for kind in ("serviceAccountToken", "clusterTrustBundle", "podCertificate"):
                if entry.get(kind) is not None:
                    notes.append(f"projected {kind} sources are not emulated (no file written)")
    return payload


def resolve_sub_path(volume_dir: str, sub_path: str, *, create: bool) -> str:
    """The real path a ``subPath`` mount binds: inside the volume after resolving symlinks.

    An absolute ``subPath`` or one with ``..`` is refused with the kubelet's messages. A
    missing subPath is created as a directory when the volume is writable (the kubelet
    does the same), one component at a time beneath the part that exists, never through a
    symlink; one that resolves outside the volume, or would be created through a symlink,
    raises :class:`~podself.errors.ConfinementError` (nothing is created there).
    """
    if os.path.isabs(sub_path):
        msg = f"error SubPath `{sub_path}` must not be an absolute path"
        raise ManifestError(msg)
    if ".." in sub_path.split("/") or "\0" in sub_path:
        rule = "must not contain '..'" if "\0" not in sub_path else "must not contain a NUL byte"
        msg = f"unable to provision SubPath `{sub_path}`: {rule}"
        raise ManifestError(msg)
    base = os.path.realpath(volume_dir)
    parts = [p for p in sub_path.split("/") if p not in ("", ".")]
    present = len(parts)
    while present and not os.path.lexists(os.path.join(base, *parts[:present])):
        present -= 1
    if present < len(parts) and not create:
        msg = f'subPath "{sub_path}" does not exist in volume "{volume_dir}"'
        raise ManifestError(msg)
    existing = _inside(base, os.path.join(base, *parts[:present]))
    if present < len(parts):
        parent = open_dir(existing, "subPath")
        try:
            os.close(open_beneath(parent, parts[present:], "subPath", create=0o755))
        finally:
            os.close(parent)
    return _inside(base, os.path.join(base, *parts))


def _inside(base: str, path: str) -> str:
    real = os.path.realpath(path)
    if real != base and not real.startswith(base + os.sep):
        msg = f'subpath "{real}" not within volume path "{base}"'
        raise ConfinementError(msg)
    return real


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume on disk: its name, type, directory and whether the kubelet writes it."""

    name: str
    kind: str
    path: str

    @property
    def api_data(self) -> bool:
        """Kubelet-written content (mounted read-only whatever the mount says)."""
        return self.kind in API_DATA_KINDS


class VolumeSet:
    """The volumes of one pod under ``base_dir`` (one directory per volume).

    :meth:`setup` creates them and writes the first version; :meth:`sync` re-projects the
    ``downwardAPI`` and ``projected`` volumes for a changed pod and returns the names of the
    volumes that got a new version. ``notes`` collects what is not emulated.
    """

    def __init__(
        self,
        pod: Mapping[str, Any],
        base_dir: str,
        objects: ObjectStore,
        node_allocatable: Mapping[str, str],
    ) -> None:
        self.pod = pod
        self.base_dir = base_dir
        self.objects = objects
        self.node_allocatable = node_allocatable
        self.notes: list[str] = []
        self.volumes: dict[str, Volume] = {}

    def _source(self, name: str) -> tuple[str, Mapping[str, Any]]:
        for volume in (self.pod.get("spec") or {}).get("volumes") or []:
            if isinstance(volume, Mapping) and volume.get("name") == name:
                for kind in _KNOWN_KINDS:
                    if isinstance(volume.get(kind), Mapping):
                        return kind, volume[kind]
                other = next((k for k in volume if k != "name"), "unknown")
                return str(other), {}
        msg = f'volume "{name}" not found'
        raise ManifestError(msg)

    def setup(self) -> None:
        """Create every volume's directory and write its content."""
        for volume in (self.pod.get("spec") or {}).get("volumes") or []:
            if not isinstance(volume, Mapping):
                continue
            name = str(volume.get("name") or "")
            if not _SAFE_NAME.match(name) or name in (".", ".."):
                msg = f'volume name "{name}": not a valid directory name'
                raise ManifestError(msg)
            kind, source = self._source(name)
            if kind == "hostPath":
                path = self._host_path(name, source)
            else:
                path = os.path.join(self.base_dir, name)
                os.mkdir(path, 0o755)
                if kind == "emptyDir":
                    os.chmod(path, 0o777)  # the kubelet's emptyDir is world-writable
                elif kind not in API_DATA_KINDS:
                    os.chmod(path, 0o777)
                    self.notes.append(f'volume "{name}" ({kind}) is emulated as an empty directory')
            self.volumes[name] = Volume(name, kind, path)
            if kind in API_DATA_KINDS:
                self._project(self.volumes[name], self.pod, setup=True)

    def _host_path(self, name: str, source: Mapping[str, Any]) -> str:
        path = str(source.get("path") or "")
        kind = str(source.get("type") or "")
        if not os.path.isabs(path):
            msg = f'volume "{name}": hostPath "{path}" must be an absolute path'
            raise ManifestError(msg)
        if kind == "DirectoryOrCreate":
            os.makedirs(path, 0o755, exist_ok=True)
        elif kind == "FileOrCreate" and not os.path.exists(path):
            os.makedirs(os.path.dirname(path), 0o755, exist_ok=True)
            with open(path, "a", encoding="utf-8"):
                pass
        checks = {"Directory": os.path.isdir, "File": os.path.isfile}
        check = checks.get(kind)
        if check is not None and not check(path):
            noun = "a directory" if kind == "Directory" else "a file"
            msg = f"hostPath type check failed: {path} is not {noun}"
            raise ManifestError(msg)
        return path

    def payload(self, volume: Volume, pod: Mapping[str, Any]) -> dict[str, FileProjection]:
        """The files ``volume`` should hold for ``pod``."""
        kind, source = self._source(volume.name)
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        if kind == "downwardAPI":
            return downward_payload(pod, source, _default_mode(source), self.node_allocatable)
        if kind == "projected":
            return projected_payload(pod, source, self.objects, self.node_allocatable, self.notes)
        if kind == "configMap":
            values = self.objects.config_map(namespace, str(source.get("name") or ""))
            return config_map_payload(source, values, _default_mode(source))
        if kind == "secret":
            values_s = self.objects.secret(namespace, str(source.get("secretName") or ""))
            return secret_payload(source, values_s, _default_mode(source))
        return {}

    def _project(self, volume: Volume, pod: Mapping[str, Any], *, setup: bool = False) -> bool:
        try:
            return atomic.write(volume.path, self.payload(volume, pod))
        except (PodselfError, OSError) as exc:  # a bad payload, or the write failing
            verb = "MountVolume.SetUp failed" if setup else "volume update failed"
            msg = f'{verb} for volume "{volume.name}" : {exc}'
            raise ManifestError(msg) from exc

    def sync(self, pod: Mapping[str, Any]) -> list[str]:
        """Re-project the Downward API content for ``pod``; names of volumes rewritten."""
        self.pod = pod
        changed: list[str] = []
        for volume in self.volumes.values():
            if volume.kind in ("downwardAPI", "projected") and self._project(volume, pod):
                changed.append(volume.name)
        return changed

    def path(self, name: str) -> str:
        """The host directory of volume ``name``."""
        try:
            return self.volumes[name].path
        except KeyError:
            msg = f'volume "{name}" not found'
            raise ManifestError(msg) from None

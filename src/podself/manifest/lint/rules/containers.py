"""Whose values a name holds: another container's limit or request (``containerName``)
under an env name, or at a volume file, that ``podself.read()`` takes as the reading container's
own, and a container-name variable that names another container."""

from __future__ import annotations

import re
from typing import Final

from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import MAPS, Container, Env, Pod, Volume, show, valid_resource
from podself.names import (
    container_file,
    env_table,
    file_table,
    looks_like_resource,
    prefixed_resource,
)

_RULES: Final = (
    make_rule(
        "other-container-resource",
        "warning",
        "runtime",
        "Another container's limit or request under a name podself reads as the container's own.",
        """`resourceFieldRef.containerName` gives one container's value to another: an init
        container that sizes a config after the main container, a sidecar that watches it. Put
        under a name `podself.read()` takes as the reading container's *own* limit or request
        (an env var such as `CPU_LIMIT` or `RESOURCE_MEMORY_LIMIT_MB`, or a file such as
        `cpu_limit` or `mem_limit` at the root of a volume mounted at `/etc/podinfo` or a
        `PODSELF_PODINFO_DIR` directory), the value is read as that container's own, and the
        container sizes itself for the other one (a sidecar without limits takes the main
        container's). Keep another container's value in the volume under
        `containers/<container>/` (`containers/main/cpu_limit`), which podself reads as that
        container's limits (`info.containers["main"]`) and which `podself inject` writes, or
        under an env name podself does not read as the container's own. A container-name
        variable (`K8S_CONTAINER_NAME`) copied from another container misleads the same way:
        podself takes that container's `containers/<name>/` files as its own. At run time
        podself believes the container's cgroup when the two disagree.""",
        fix="move the item to containers/<container>/<file> in the volume, or rename the env "
        "var to a name podself does not read as this container's own",
    ),
)


_CPU_UNIT_WORDS: Final = {"1m": "_MILLICORES", "1": "_CORES"}
_BYTE_UNIT_WORDS: Final = {
    "1": "_BYTES",
    "1Ki": "_KIB",
    "1Mi": "_MIB",
    "1Gi": "_GIB",
    "1Ti": "_TIB",
}


def _reads_as_own(name: str) -> str | None:
    """The resource attribute ``podself.read()`` fills from env var ``name``, if any."""
    entry = env_table().get(name) or prefixed_resource(name)
    if entry is None or entry[2] == "":
        return None
    return entry[0]


def _neutral_env_name(container: str, resource: str, divisor: object) -> str | None:
    """An env name for another container's value that podself neither reads as the reading
    container's own nor warns about (``MAIN_APP_CPU_MILLICORES``); None if none is found."""
    kind, _, what = resource.partition(".")
    words = _CPU_UNIT_WORDS if what == "cpu" else _BYTE_UNIT_WORDS
    unit = words.get("1" if divisor is None else str(divisor), "")
    middle = "" if kind == "limits" else "_REQUESTED"
    base = re.sub(r"[^A-Z0-9]+", "_", f"{container}_{what}".upper())
    name = f"{base}{middle}{unit}"
    if _reads_as_own(name) is not None or looks_like_resource(name):
        return None
    return name


def _podinfo_dirs(container: Container) -> set[str]:
    """The directories ``podself.read()`` looks at in ``container``: ``/etc/podinfo``, or the
    ``PODSELF_PODINFO_DIR`` list its env sets."""
    dirs = {"/etc/podinfo"}
    for env in container.env:
        if env.name == "PODSELF_PODINFO_DIR" and isinstance(env.value, str):
            dirs = {d.rstrip("/") or "/" for d in env.value.split(":") if d}
    return dirs


def _check_other_container(pod: Pod) -> None:
    """A value of another container where podself reads the container's own (env names it
    recognises; resource files at the root of a volume mounted at a podinfo directory)."""
    table = env_table()
    for container in pod.containers:
        for env in container.env:
            ref = env.resource_ref
            if env.name is not None and table.get(env.name, ("",))[0] == "container":
                _check_container_name_env(pod, container, env)
            if ref is None or env.name is None:
                continue
            other, resource = ref.get("containerName"), ref.get("resource")
            attr = _reads_as_own(env.name)
            if (
                attr is None
                or not isinstance(other, str)
                or other in ("", container.name)
                or other not in pod.container_names  # unknown-container says it
                or not isinstance(resource, str)
                or not valid_resource(resource)
            ):
                continue
            neutral = _neutral_env_name(other, resource, ref.get("divisor"))
            other_path = container_file(other, _file_name_for(attr, ref.get("divisor")))
            rename = f" (e.g. {neutral})" if neutral else ""
            pod.report(
                "other-container-resource",
                f"{env.path}.valueFrom.resourceFieldRef.containerName",
                f'env {env.name} of container "{container.name}" holds container "{other}"\'s '
                f"{resource}, but podself reads {env.name} as the {attr} of the container it is "
                "set in",
                f"rename it to a name podself does not read as this container's own{rename}, or "
                f"read {other}'s value from a podinfo volume item at "
                f'{other_path} (info.containers["{other}"])',
            )
    for volume in pod.volumes:
        readers = _volume_readers(pod, volume)
        if not readers:
            continue
        for item in volume.items:
            ref = item.resource_ref
            entry = file_table().get(item.item_path)
            other = ref.get("containerName") if ref is not None else None
            if entry is None or not entry[1] or not isinstance(other, str) or not other:
                continue
            misled = sorted({(name, at) for name, at in readers if name != other})
            if not misled or other not in pod.container_names:
                continue
            who = ", ".join(f'"{name}" (at {at})' for name, at in misled)
            resource = ref.get("resource") if ref is not None else None
            pod.report(
                "other-container-resource",
                f"{item.path}.path",
                f'volume "{volume.name}" puts container "{other}"\'s {show(resource)} at '
                f"{item.item_path}, the volume's root, where podself in container {who} reads "
                f"it as its own {entry[0]}",
                f"give the item the path {container_file(other, item.item_path)}: podself reads "
                "containers/<name>/ as that container's limits (podself inject writes this "
                "layout)",
            )


def _check_container_name_env(pod: Pod, container: Container, env: Env) -> None:
    """A container-name variable (``K8S_CONTAINER_NAME``) naming another container makes
    podself read that container's ``containers/<name>/`` files as this one's own."""
    value = env.value
    if (
        env.resource_ref is not None
        or env.field_ref is not None
        or not isinstance(value, str)
        or not value
        or "$(" in value
        or value == container.name
        or not container.name
    ):
        return
    pod.report(
        "other-container-resource",
        f"{env.path}.value",
        f'env {env.name} of container "{container.name}" says "{value}": podself takes '
        f"{container_file(value, '')} in the podinfo volume as this container's own limits",
        f'set it to "{container.name}", the container\'s own name',
    )


def _file_name_for(attr: str, divisor: object) -> str:
    """The first volume file name podself reads as ``attr`` in the unit of ``divisor``
    (``cpu_limit`` for 1m, ``mem_limit`` for 1Mi, ``mem_limit_bytes`` for 1)."""
    unit = "1" if divisor is None else str(divisor)
    names = [name for name, entry in file_table().items() if entry[0] == attr]
    return next((n for n in names if file_table()[n][1] == unit), names[0])


def _volume_readers(pod: Pod, volume: Volume) -> list[tuple[str, str]]:
    """(container, mount path) of each container that mounts ``volume`` whole at a directory
    ``podself.read()`` reads."""
    found = []
    for container in pod.containers:
        mounts = container.data.get("volumeMounts")
        dirs = _podinfo_dirs(container)
        for mount in mounts if isinstance(mounts, list) else ():
            if not isinstance(mount, MAPS) or mount.get("name") != volume.name:
                continue
            if mount.get("subPath") or mount.get("subPathExpr"):
                continue  # a part of the volume, not its root
            at = mount.get("mountPath")
            if isinstance(at, str) and (at.rstrip("/") or "/") in dirs:
                found.append((container.name, at))
    return found


FAMILY: Final = Family(
    _RULES,
    (PodCheck(_check_other_container, frozenset({"other-container-resource"})),),
)

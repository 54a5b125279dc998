"""A pod's containers, init containers and ephemeral containers: names, image, ``env`` and
``volumeMounts``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from podself.validation.env import validate_env_into
from podself.validation.fields import (
    DUPLICATE,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    FieldError,
    is_list,
    is_map,
    list_element,
    read_string,
    supported_values,
    type_error,
)
from podself.validation.names import dns1123_label_errors
from podself.validation.volumes import local_descending_path

_PROPAGATIONS: Final = ("Bidirectional", "HostToContainer", "None")
_RECURSIVE_READ_ONLY: Final = ("Disabled", "Enabled", "IfPossible")
_EPHEMERAL_MSG: Final = "cannot be set for an Ephemeral Container"
# unicode.IsSpace, which strings.TrimSpace trims (str.strip() would also trim \x1c-\x1f).
_GO_SPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def _volume_mounts(
    container: Mapping[str, Any],
    where: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
) -> None:
    # ValidateVolumeMounts. Kubernetes names the list, not the mount, for the subPath,
    # subPathExpr, mountPropagation and recursiveReadOnly errors.
    mounts = container.get("volumeMounts")
    field = f"{where}.volumeMounts"
    if mounts is None:
        return
    if not is_list(mounts):
        errs.append(type_error(field, mounts, "array"))
        return
    context = container.get("securityContext")
    privileged = isinstance(context, Mapping) and context.get("privileged") is True
    mount_points: set[str] = set()
    for index, element in enumerate(mounts):
        at = f"{field}[{index}]"
        mount = list_element(element)
        if not is_map(mount):
            errs.append(type_error(at, mount, "object"))
            continue
        name = read_string(mount, "name", at, errs)
        if name == "":
            errs.append(FieldError(REQUIRED, f"{at}.name"))
        if name is not None and name not in volumes:
            errs.append(FieldError(NOT_FOUND, f"{at}.name", name))
        mount_path = read_string(mount, "mountPath", at, errs)
        if mount_path == "":
            errs.append(FieldError(REQUIRED, f"{at}.mountPath"))
        if mount_path is not None:
            if mount_path in mount_points:
                errs.append(FieldError(INVALID, f"{at}.mountPath", mount_path, "must be unique"))
            mount_points.add(mount_path)
        sub_path = read_string(mount, "subPath", at, errs)
        sub_path_expr = read_string(mount, "subPathExpr", at, errs)
        volume = volumes.get(name) if name is not None else None
        if volume is not None and volume.get("image") is not None:
            for key, value in (("subPath", sub_path), ("subPathExpr", sub_path_expr)):
                if value:
                    errs.append(
                        FieldError(
                            INVALID, f"{at}.{key}", value, "not allowed in image volume sources"
                        )
                    )
        if sub_path:
            local_descending_path(sub_path, f"{field}.subPath", errs)
        if sub_path_expr:
            if sub_path:
                errs.append(
                    FieldError(
                        INVALID,
                        f"{at}.subPathExpr",
                        sub_path_expr,
                        "subPathExpr and subPath are mutually exclusive",
                    )
                )
            local_descending_path(sub_path_expr, f"{field}.subPathExpr", errs)
        propagation = None
        if mount.get("mountPropagation") is not None:
            propagation = read_string(mount, "mountPropagation", at, errs)
            if propagation is not None:
                _mount_propagation(propagation, privileged, f"{field}.mountPropagation", errs)
        if mount.get("recursiveReadOnly") is not None:
            recursive = read_string(mount, "recursiveReadOnly", at, errs)
            if recursive is not None:
                _recursive_read_only(
                    recursive,
                    mount.get("readOnly") is True,
                    propagation,
                    f"{field}.recursiveReadOnly",
                    errs,
                )


def _mount_propagation(value: str, privileged: bool, field: str, errs: list[FieldError]) -> None:
    # validateMountPropagation
    if value not in _PROPAGATIONS:
        errs.append(FieldError(NOT_SUPPORTED, field, value, supported_values(_PROPAGATIONS)))
    if value == "Bidirectional" and not privileged:
        errs.append(
            FieldError(
                FORBIDDEN,
                field,
                None,
                "Bidirectional mount propagation is available only to privileged containers",
            )
        )


def _recursive_read_only(
    value: str, read_only: bool, propagation: str | None, field: str, errs: list[FieldError]
) -> None:
    # validateMountRecursiveReadOnly
    if value == "Disabled":
        return
    if value not in _RECURSIVE_READ_ONLY:
        errs.append(FieldError(NOT_SUPPORTED, field, value, supported_values(_RECURSIVE_READ_ONLY)))
        return
    if not read_only:
        errs.append(
            FieldError(FORBIDDEN, field, None, "may only be specified when readOnly is true")
        )
    if propagation is not None and propagation != "None":
        errs.append(
            FieldError(
                FORBIDDEN,
                field,
                None,
                "may only be specified when mountPropagation is None or not specified",
            )
        )


def _container_common(
    container: Mapping[str, Any],
    where: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
    *,
    defaults: bool,
    relaxed: bool,
) -> str | None:
    """validateContainerCommon for the fields podself models; returns the name (None when it is
    not a string)."""
    name = read_string(container, "name", where, errs)
    if name == "":
        errs.append(FieldError(REQUIRED, f"{where}.name"))
    elif name is not None:
        errs.extend(
            FieldError(INVALID, f"{where}.name", name, msg) for msg in dns1123_label_errors(name)
        )
    if read_string(container, "image", where, errs) == "":
        errs.append(FieldError(REQUIRED, f"{where}.image"))
    validate_env_into(container.get("env"), f"{where}.env", errs, defaults, relaxed)
    _volume_mounts(container, where, volumes, errs)
    return name


def untrimmed_image(container: Mapping[str, Any], where: str, errs: list[FieldError]) -> None:
    # validateContainerOnlyForPod
    image = container.get("image")
    if isinstance(image, str) and image != image.strip(_GO_SPACE):
        errs.append(
            FieldError(
                INVALID, f"{where}.image", image, "must not have leading or trailing whitespace"
            )
        )


def _ephemeral_subpaths(container: Mapping[str, Any], where: str, errs: list[FieldError]) -> None:
    # validateEphemeralContainers: subPath mounts would outlive the container, so none at all.
    mounts = container.get("volumeMounts")
    for index, mount in enumerate(mounts if isinstance(mounts, (list, tuple)) else ()):
        if not is_map(mount):
            continue
        for key in ("subPath", "subPathExpr"):
            if isinstance(mount.get(key), str) and mount[key]:
                errs.append(
                    FieldError(
                        FORBIDDEN, f"{where}.volumeMounts[{index}].{key}", None, _EPHEMERAL_MSG
                    )
                )


def container_lists(
    spec: Mapping[str, Any], path: str, errs: list[FieldError]
) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    # Each list's containers with their field paths; wrong types are reported once, here.
    lists: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for key in ("containers", "initContainers", "ephemeralContainers"):
        entries: list[tuple[str, Mapping[str, Any]]] = []
        lists[key] = entries
        value = spec.get(key)
        if value is None:
            continue
        if not is_list(value):
            errs.append(type_error(f"{path}.{key}", value, "array"))
            continue
        for index, element in enumerate(value):
            container = list_element(element)
            if is_map(container):
                entries.append((f"{path}.{key}[{index}]", container))
            else:
                errs.append(type_error(f"{path}.{key}[{index}]", container, "object"))
    return lists


def validate_containers_into(
    spec: Mapping[str, Any],
    path: str,
    volumes: Mapping[str, Mapping[str, Any]],
    errs: list[FieldError],
    *,
    defaults: bool,
    relaxed: bool,
) -> None:
    # validateContainers, validateInitContainers, validateEphemeralContainers, in that order.
    raw = spec.get("containers")
    lists = container_lists(spec, path, errs)
    if not lists["containers"] and (raw is None or is_list(raw)):
        errs.append(FieldError(REQUIRED, f"{path}.containers"))
    names: set[str] = set()
    for where, container in lists["containers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        if name is None:
            continue
        if name in names:
            errs.append(FieldError(DUPLICATE, f"{where}.name", name))
        names.add(name)
    for where, container in lists["initContainers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        if name is None:
            continue
        if name in names:
            errs.append(FieldError(DUPLICATE, f"{where}.name", name))
        elif name:
            names.add(name)
    for where, container in lists["ephemeralContainers"]:
        name = _container_common(
            container, where, volumes, errs, defaults=defaults, relaxed=relaxed
        )
        untrimmed_image(container, where, errs)
        if name is not None:
            if name in names:
                errs.append(FieldError(DUPLICATE, f"{where}.name", name))
            names.add(name)
        _ephemeral_subpaths(container, where, errs)

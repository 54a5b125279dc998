"""The pod spec entry points: :func:`validate_pod_spec` and :func:`validate_pod_spec_downward`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podself.validation.containers import container_lists, untrimmed_image, validate_containers_into
from podself.validation.env import validate_env_into
from podself.validation.fields import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    FieldError,
    check_int64,
    is_map,
    list_element,
    read_string,
    type_error,
)
from podself.validation.names import dns1123_label_errors
from podself.validation.releases import env_names_relaxed, kubernetes_target, target_minor
from podself.validation.volumes import validate_volumes_into


def _file_key_ref_volumes(spec: Mapping[str, Any], path: str, errs: list[FieldError]) -> None:
    # validateFileKeyRefVolumes (1.34+): the named volume must exist and be an emptyDir. Every
    # volume counts, valid or not (the last of a duplicated name wins); init containers first.
    if target_minor() < 34:
        return
    volumes: dict[str, Mapping[str, Any]] = {}
    raw = spec.get("volumes")
    for element in raw if isinstance(raw, (list, tuple)) else ():
        volume = list_element(element)
        if is_map(volume) and isinstance(volume.get("name"), str):
            volumes[volume["name"]] = volume
    for key in ("initContainers", "containers", "ephemeralContainers"):
        containers = spec.get(key)
        for index, element in enumerate(
            containers if isinstance(containers, (list, tuple)) else ()
        ):
            container = list_element(element)
            env = container.get("env") if isinstance(container, Mapping) else None
            for position, entry in enumerate(env if isinstance(env, (list, tuple)) else ()):
                var = list_element(entry)
                value_from = var.get("valueFrom") if isinstance(var, Mapping) else None
                ref = value_from.get("fileKeyRef") if isinstance(value_from, Mapping) else None
                if not isinstance(ref, Mapping) or not isinstance(ref.get("volumeName", ""), str):
                    continue
                name = ref.get("volumeName") or ""
                where = f"{path}.{key}[{index}].env[{position}].valueFrom.fileKeyRef.volumeName"
                volume = volumes.get(name)
                if volume is None:
                    errs.append(FieldError(NOT_FOUND, where, name))
                elif volume.get("emptyDir") is None:
                    errs.append(
                        FieldError(
                            INVALID, where, name, "referenced volume must be of type emptyDir"
                        )
                    )


def validate_pod_spec(
    spec: Mapping[str, Any],
    path: str = "spec",
    *,
    template: bool = False,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate a pod spec as the API server does on create, for every field podself uses.

    ``ValidatePodSpec``'s volumes (names, kinds, and the ``secret``, ``configMap``,
    ``downwardAPI`` and ``projected`` sources with their item paths and modes), then
    ``containers``, ``initContainers`` and ``ephemeralContainers``: names (DNS-1123 labels,
    unique across the three lists), ``image``, ``env`` and ``volumeMounts`` (a volume's name,
    a unique ``mountPath``, relative ``subPath``/``subPathExpr`` without ``..``), then
    ``terminationGracePeriodSeconds`` (an int64), ``hostname`` and ``subdomain`` (DNS-1123
    labels). A Pod (not a ``template``) may not have ephemeral containers on create, a pod
    template never. From
    1.34 an env var's ``fileKeyRef`` must name an ``emptyDir`` volume of the pod.
    ``kubernetes_version`` and ``relaxed_names`` are as in :func:`validate_env`.
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        if not is_map(spec):
            errs.append(type_error(path, spec, "object"))
            return errs
        volumes = validate_volumes_into(spec, path, errs, apply_defaults)
        relaxed = env_names_relaxed(relaxed_names)
        validate_containers_into(
            spec, path, volumes, errs, defaults=apply_defaults, relaxed=relaxed
        )
        _file_key_ref_volumes(spec, path, errs)
        # The grace period times the stop of every container: an integer, as the decoder wants.
        check_int64(spec, "terminationGracePeriodSeconds", path, errs)
        # hostname and subdomain name the pod in DNS, /etc/hosts and the UTS namespace.
        for key in ("hostname", "subdomain"):
            value = read_string(spec, key, path, errs)
            if value:
                errs.extend(
                    FieldError(INVALID, f"{path}.{key}", value, msg)
                    for msg in dns1123_label_errors(value)
                )
        ephemeral = spec.get("ephemeralContainers")
        has_ephemeral = isinstance(ephemeral, (list, tuple)) and len(ephemeral) > 0
        if template:
            if has_ephemeral:
                errs.append(
                    FieldError(
                        FORBIDDEN,
                        f"{path}.ephemeralContainers",
                        None,
                        "ephemeral containers not allowed in pod template",
                    )
                )
            return errs
        for key in ("containers", "initContainers"):
            items = spec.get(key)
            for index, container in enumerate(items if isinstance(items, (list, tuple)) else ()):
                if is_map(container):
                    untrimmed_image(container, f"{path}.{key}[{index}]", errs)
        if has_ephemeral:
            errs.append(
                FieldError(
                    FORBIDDEN, f"{path}.ephemeralContainers", None, "cannot be set on create"
                )
            )
        return errs


def validate_pod_spec_downward(
    spec: Mapping[str, Any],
    path: str = "spec",
    *,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate every volume and every container's ``env`` in a pod spec, in the API's order.

    Volumes first (with the duplicate-name check), then the ``env`` of ``containers``,
    ``initContainers`` and ``ephemeralContainers``. As in Kubernetes, a
    ``resourceFieldRef.containerName`` is not checked against the pod's containers.
    :func:`validate_pod_spec` checks the rest of the spec too.
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        if not is_map(spec):
            errs.append(type_error(path, spec, "object"))
            return errs
        validate_volumes_into(spec, path, errs, apply_defaults)
        relaxed = env_names_relaxed(relaxed_names)
        for entries in container_lists(spec, path, errs).values():
            for where, container in entries:
                validate_env_into(
                    container.get("env"), f"{where}.env", errs, apply_defaults, relaxed
                )
        return errs

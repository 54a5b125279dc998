"""A container's ``env``: names, ``value`` and the ``valueFrom`` sources (``ValidateEnv``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from podself.validation.decode import (
    ENV_VAR_FIELDS,
    FILE_KEY_FIELDS,
    KEY_SELECTOR_FIELDS,
    VALUE_FROM_FIELDS,
    unknown_field,
    unknown_keys,
)
from podself.validation.fields import (
    INVALID,
    REQUIRED,
    FieldError,
    is_list,
    is_map,
    list_element,
    read_string,
    type_error,
)
from podself.validation.names import (
    config_key_errors,
    dns1123_label_errors,
    dns1123_subdomain_errors,
    env_name_errors,
)
from podself.validation.releases import env_names_relaxed, kubernetes_target, target_minor
from podself.validation.selectors import (
    ENV_PATHS,
    ENV_PATHS_DETAIL,
    object_field_selector,
    resource_field_selector,
)

_VALUE_FROM_NONE_MSG: Final = (
    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
)
# From 1.34 (EnvFiles), when the API knows fileKeyRef.
_VALUE_FROM_NONE_ENV_FILES_MSG: Final = (
    "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef`, `secretKeyRef` or "
    "`fileKeyRef`"
)
_VALUE_FROM_WITH_VALUE_MSG: Final = "may not be specified when `value` is not empty"
_VALUE_FROM_MANY_MSG: Final = "may not have more than one field specified at a time"


def _key_selector(selector: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    # validateConfigMapKeySelector / validateSecretKeySelector: the name is checked even empty.
    if unknown_keys(selector, KEY_SELECTOR_FIELDS, field, errs):
        return
    name = read_string(selector, "name", field, errs)
    if name is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.name", name, msg)
            for msg in dns1123_subdomain_errors(name)
        )
    key = read_string(selector, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    elif key is not None:
        errs.extend(FieldError(INVALID, f"{field}.key", key, msg) for msg in config_key_errors(key))


def _file_key_selector(selector: Mapping[str, Any], field: str, errs: list[FieldError]) -> None:
    # validateFileKeySelector (1.34+): key, volumeName, path, in that order.
    if unknown_keys(selector, FILE_KEY_FIELDS, field, errs):
        return
    key = read_string(selector, "key", field, errs)
    if key == "":
        errs.append(FieldError(REQUIRED, f"{field}.key"))
    elif key is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.key", key, msg) for msg in env_name_errors(key, True)
        )
    volume = read_string(selector, "volumeName", field, errs)
    if volume == "":
        errs.append(FieldError(REQUIRED, f"{field}.volumeName"))
    elif volume is not None:
        errs.extend(
            FieldError(INVALID, f"{field}.volumeName", volume, msg)
            for msg in dns1123_label_errors(volume)
        )
    path = read_string(selector, "path", field, errs)
    if path == "":
        errs.append(FieldError(REQUIRED, f"{field}.path"))
    elif path is not None and ".." in path.split("/"):
        # validatePathNoBacksteps: an absolute path is allowed here.
        errs.append(FieldError(INVALID, f"{field}.path", path, "must not contain '..'"))
    optional = selector.get("optional")
    if optional is not None and not isinstance(optional, bool):
        errs.append(type_error(f"{field}.optional", optional, "boolean"))


# validateEnvVarValueFrom's sources, in its order; fileKeyRef exists from 1.34.
_VALUE_FROM_KEYS: Final = (
    "fieldRef",
    "resourceFieldRef",
    "configMapKeyRef",
    "secretKeyRef",
    "fileKeyRef",
)


def _value_from(
    value_from: Mapping[str, Any],
    value: str | None,
    field: str,
    errs: list[FieldError],
    defaults: bool,
) -> None:
    # validateEnvVarValueFrom
    if unknown_keys(value_from, VALUE_FROM_FIELDS, field, errs):
        return
    sources = 0
    env_files = target_minor() >= 34
    # Before 1.34 the request fails while decoding: no count-of-sources error follows.
    unknown = not env_files and unknown_field(value_from, "fileKeyRef", field, errs)
    for key in _VALUE_FROM_KEYS if env_files else _VALUE_FROM_KEYS[:-1]:
        selector = value_from.get(key)
        if selector is None:
            continue
        sources += 1
        child = f"{field}.{key}"
        if not is_map(selector):
            errs.append(type_error(child, selector, "object"))
        elif key == "fieldRef":
            object_field_selector(
                selector, ENV_PATHS, ENV_PATHS_DETAIL, child, errs, defaults=defaults
            )
        elif key == "resourceFieldRef":
            resource_field_selector(selector, child, errs, volume=False)
        elif key == "fileKeyRef":
            _file_key_selector(selector, child, errs)
        else:
            _key_selector(selector, child, errs)
    if unknown:
        return
    if sources == 0:
        message = _VALUE_FROM_NONE_ENV_FILES_MSG if env_files else _VALUE_FROM_NONE_MSG
        errs.append(FieldError(INVALID, field, "", message))
    elif value:
        errs.append(FieldError(INVALID, field, "", _VALUE_FROM_WITH_VALUE_MSG))
    elif sources > 1:
        errs.append(FieldError(INVALID, field, "", _VALUE_FROM_MANY_MSG))


def validate_env_into(
    env: object, path: str, errs: list[FieldError], defaults: bool, relaxed: bool
) -> None:
    if env is None:
        return
    if not is_list(env):
        errs.append(type_error(path, env, "array"))
        return
    assert isinstance(env, (list, tuple))
    for index, element in enumerate(env):
        item = f"{path}[{index}]"
        var = list_element(element)
        if not is_map(var):
            errs.append(type_error(item, var, "object"))
            continue
        if unknown_keys(var, ENV_VAR_FIELDS, item, errs):
            continue
        name = read_string(var, "name", item, errs)
        if name == "":
            errs.append(FieldError(REQUIRED, f"{item}.name"))
        elif name is not None:
            errs.extend(
                FieldError(INVALID, f"{item}.name", name, msg)
                for msg in env_name_errors(name, relaxed)
            )
        value = read_string(var, "value", item, errs)
        value_from = var.get("valueFrom")
        if value_from is None:
            continue
        if not is_map(value_from):
            errs.append(type_error(f"{item}.valueFrom", value_from, "object"))
            continue
        _value_from(value_from, value, f"{item}.valueFrom", errs, defaults)


def validate_env(
    env: Sequence[Mapping[str, Any]],
    path: str,
    *,
    apply_defaults: bool = True,
    relaxed_names: bool | None = None,
    kubernetes_version: str | None = None,
) -> list[FieldError]:
    """Validate one container's ``env`` list (v1 JSON shape) as ``ValidateEnv`` does.

    ``path`` is where the list sits, e.g. ``"spec.containers[0].env"``. With
    ``apply_defaults`` (the default) the input is treated as a v1 request, so an empty
    ``fieldRef.apiVersion`` means ``"v1"``. ``kubernetes_version`` (default: the current
    :func:`kubernetes_target`, normally the latest supported release) picks the release's
    rules; ``relaxed_names`` overrides its env-name rule (``False``: the C-identifier-like rule
    of 1.30–1.31, ``True``: "printable ASCII other than '='", the default from 1.32).
    """
    with kubernetes_target(kubernetes_version):
        errs: list[FieldError] = []
        validate_env_into(env, path, errs, apply_defaults, env_names_relaxed(relaxed_names))
        return errs

"""ConfigMap and Secret objects (``ValidateConfigMap``, ``ValidateSecret``): name, keys, size."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from podself.downward import byte_len
from podself.validation.fields import INVALID, TOO_LONG, FieldError, type_error
from podself.validation.metadata import validate_object_meta
from podself.validation.names import config_key_errors

# core.MaxSecretSize, the limit on a ConfigMap's or a Secret's data, in bytes.
_MAX_DATA_SIZE: Final = 1024 * 1024
_TOO_LONG_MSG: Final = f"may not be more than {_MAX_DATA_SIZE} bytes"


def _data_size(value: object, encoded: bool) -> int:
    # The decoded size of a base64 value (as the API server stores it), else the UTF-8 size.
    text = value if isinstance(value, str) else "" if value is None else str(value)
    if not encoded:
        return byte_len(text)
    try:
        return len(base64.b64decode(text.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeEncodeError):
        return byte_len(text)  # the store reports the bad encoding itself


def _data_keys(
    values: Mapping[Any, Any], field: str, errs: list[FieldError], *, encoded: bool
) -> int:
    # Each key must be a config key: it becomes a file name in a volume. Returns the size.
    total = 0
    for key, value in values.items():
        name = str(key)
        errs.extend(
            FieldError(INVALID, f"{field}[{name}]", name, msg) for msg in config_key_errors(name)
        )
        if value is not None and not isinstance(value, str):
            # YAML's `enabled: yes`: the API server cannot decode a boolean or number here.
            errs.append(type_error(f"{field}[{name}]", value, "string"))
            continue
        total += _data_size(value, encoded)
    return total


def _map_at(obj: Mapping[str, Any], key: str) -> Mapping[Any, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def validate_config_object(obj: Mapping[str, Any], namespace: str) -> list[FieldError]:
    """``ValidateConfigMap`` / ``ValidateSecret`` for a ConfigMap or Secret object (``[]`` for
    any other object): its name and namespace (``metadata.namespace``, else ``namespace``), its
    keys (config keys: ``[-._a-zA-Z0-9]+``, not ``.``, ``..`` or ``..``-prefixed, since each
    becomes a file name) and its 1 MiB size limit. A Secret's type-specific rules are not
    checked.
    """
    kind = obj.get("kind")
    if kind not in ("ConfigMap", "Secret"):
        return []
    meta = _map_at(obj, "metadata")
    given = meta.get("namespace")
    errs = validate_object_meta(meta, namespace=given if given else namespace)
    data = _map_at(obj, "data")
    if kind == "ConfigMap":
        binary = _map_at(obj, "binaryData")
        total = _data_keys(data, "data", errs, encoded=False)
        errs.extend(
            FieldError(INVALID, f"data[{key}]", str(key), "duplicate of key present in binaryData")
            for key in data
            if key in binary
        )
        total += _data_keys(binary, "binaryData", errs, encoded=True)
        if total > _MAX_DATA_SIZE:
            errs.append(FieldError(TOO_LONG, "", None, _TOO_LONG_MSG))
        return errs
    # stringData is merged into data before validation, its values win.
    string_data = _map_at(obj, "stringData")
    total = _data_keys(
        {k: v for k, v in data.items() if k not in string_data}, "data", errs, encoded=True
    )
    total += _data_keys(string_data, "data", errs, encoded=False)
    if total > _MAX_DATA_SIZE:
        errs.append(FieldError(TOO_LONG, "data", None, _TOO_LONG_MSG))
    return errs

"""apimachinery's name rules (``k8s.io/apimachinery/pkg/util/validation``) and their messages.

DNS-1123 labels and subdomains (object names), env var names, config keys, label values and
path segments, with the exact error details Kubernetes prints.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from podself.downward import (
    byte_len,
    is_dns1123_subdomain,
    qualified_name_errors,
    regex_error,
)

_DNS1123_LABEL_FMT: Final = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT: Final = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_LABEL_MSG: Final = regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character",
    _DNS1123_LABEL_FMT,
    "my-name",
    "123-abc",
)
_DNS1123_SUBDOMAIN_MSG: Final = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
_ENV_NAME_FMT: Final = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_NAME_RE: Final = re.compile(_ENV_NAME_FMT)
_ENV_NAME_MSG: Final = regex_error(
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit",
    _ENV_NAME_FMT,
    "my.env-name",
    "MY_ENV.NAME",
    "MyEnvName1",
)
# Printable ASCII other than '=' (IsRelaxedEnvVarName).
_RELAXED_ENV_NAME_RE: Final = re.compile("[\x20-\x3c\x3e-\x7e]*")
_RELAXED_ENV_NAME_MSG: Final = (
    "a valid environment variable name must consist only of printable ASCII characters other "
    "than '='"
)
_CONFIG_KEY_FMT: Final = "[-._a-zA-Z0-9]+"
_CONFIG_KEY_RE: Final = re.compile(_CONFIG_KEY_FMT)
_CONFIG_KEY_MSG: Final = regex_error(
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
    _CONFIG_KEY_FMT,
    "key.name",
    "KEY_NAME",
    "key-name",
)


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def _chdir_prefix_errors(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def dns1123_label_errors(value: str) -> list[str]:
    """apimachinery's ``IsDNS1123Label`` errors for ``value`` (``[]`` when valid)."""
    errs = []
    if byte_len(value) > 63:
        errs.append(max_len_error(63))
    if "." in value or not is_dns1123_subdomain(value):
        if is_dns1123_subdomain(value):
            errs.append("must not contain dots")
        else:
            errs.append(_DNS1123_LABEL_MSG)
    return errs


def dns1123_subdomain_errors(value: str) -> list[str]:
    """apimachinery's ``IsDNS1123Subdomain`` errors for ``value`` (``[]`` when valid)."""
    errs = []
    if byte_len(value) > 253:
        errs.append(max_len_error(253))
    if not is_dns1123_subdomain(value):
        errs.append(_DNS1123_SUBDOMAIN_MSG)
    return errs


def _mask_trailing_dash(name: str) -> str:
    # maskTrailingDash: a generateName prefix may end in '-'; Go cuts two bytes, not runes.
    if len(name) > 1 and name.endswith("-"):
        if name.isascii():
            return name[:-2] + "a"
        return name.encode("utf-8", "surrogatepass")[:-2].decode("utf-8", "replace") + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool = False) -> list[str]:
    """apimachinery's ``NameIsDNSSubdomain``: the rule for pod and workload names.

    With ``prefix`` (a ``generateName``) a trailing ``-`` is allowed. Returns the error details
    (``[]`` when valid).
    """
    return dns1123_subdomain_errors(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool = False) -> list[str]:
    """apimachinery's ``NameIsDNSLabel``: the rule for namespace names."""
    return dns1123_label_errors(_mask_trailing_dash(name) if prefix else name)


def path_segment_errors(name: str) -> list[str]:
    """apimachinery's ``IsValidPathSegmentName``, which client-go applies to a request's
    namespace and resource name before sending it."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


def env_name_errors(name: str, relaxed: bool) -> list[str]:
    if relaxed:
        return [] if _RELAXED_ENV_NAME_RE.fullmatch(name) else [_RELAXED_ENV_NAME_MSG]
    errs = [] if _ENV_NAME_RE.fullmatch(name) else [_ENV_NAME_MSG]
    errs.extend(_chdir_prefix_errors(name))
    return errs


def config_key_errors(key: str) -> list[str]:
    errs = []
    if byte_len(key) > 253:
        errs.append(max_len_error(253))
    if _CONFIG_KEY_RE.fullmatch(key) is None:
        errs.append(_CONFIG_KEY_MSG)
    errs.extend(_chdir_prefix_errors(key))
    return errs


@lru_cache(maxsize=1024)
def qualified_key_errors(key: str) -> tuple[str, ...]:
    # Subscript keys repeat across manifests; the check is pure.
    return tuple(qualified_name_errors(key))


_LABEL_VALUE_MAX: Final = 63
_LABEL_VALUE_FMT: Final = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_MSG: Final = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE_FMT}')"
)


def _is_label_value(value: str) -> bool:
    if not value:
        return True
    if not (value[0].isascii() and value[0].isalnum() and value[-1].isascii()):
        return False
    return value[-1].isalnum() and all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)


def label_value_errors(value: str) -> list[str]:
    """apimachinery ``IsValidLabelValue``: at most 63 bytes of ``[-A-Za-z0-9_.]``, starting
    and ending alphanumeric (or empty)."""
    errs: list[str] = []
    if byte_len(value) > _LABEL_VALUE_MAX:
        errs.append(f"must be no more than {_LABEL_VALUE_MAX} bytes")
    if not _is_label_value(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs

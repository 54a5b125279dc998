"""Builders and Kubernetes messages shared by the ``test_validation_*`` modules."""

from __future__ import annotations

from typing import Any

from podself.validation import FieldError

MODE_MSG = "must be a number between 0 and 0777 (octal), both inclusive"

MEMORY_DIVISOR_MSG = (
    "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
    "are supported with the memory resource"
)

DNS_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)

# Names an attacker would use to leave a directory, and look-alikes of valid names.
HOSTILE_NAMES = [
    ".",
    "..",
    "../../home",
    "/",
    "/etc",
    "a/b",
    "a\x00b",
    "a\\b",
    "UPPER",
    "-a",
    "a-",
    "a..b",
    " a",
    "\u0430pp",  # Cyrillic a
    "\uff50\uff4f\uff44",  # fullwidth "pod"
    "caf\u00e9",
    "a" * 254,
]


def field_env(path: str, name: str = "X", **extra: Any) -> dict[str, Any]:
    """One env var reading ``path`` through fieldRef."""
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path, **extra}}}


def resource_env(resource: str, divisor: Any = None, name: str = "X") -> dict[str, Any]:
    """One env var reading ``resource`` through resourceFieldRef."""
    ref: dict[str, Any] = {"resource": resource}
    if divisor is not None:
        ref["divisor"] = divisor
    return {"name": name, "valueFrom": {"resourceFieldRef": ref}}


def downward_volume(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A downwardAPI volume named ``podinfo`` holding ``items``."""
    return {"name": "podinfo", "downwardAPI": {"items": list(items), **extra}}


def field_item(path: str, field_path: str, **extra: Any) -> dict[str, Any]:
    """A downwardAPI item writing ``field_path`` to ``path``."""
    return {"path": path, "fieldRef": {"fieldPath": field_path}, **extra}


def rendered(errors: list[FieldError]) -> list[str]:
    """The errors as Kubernetes prints them."""
    return [str(e) for e in errors]

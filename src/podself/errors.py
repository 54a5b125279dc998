"""Every error podself raises, under one root.

::

    PodselfError
    ├── QuantityError      (ValueError)  text that is not a Kubernetes resource.Quantity
    ├── FormatError        (ValueError)  labels/annotations text FormatMap cannot have written
    ├── FieldPathError     (ValueError)  a Downward API field path, subscript, resource or divisor
    │                                    the API server would reject
    ├── ResourceFieldError (ValueError)  a resourceFieldRef the kubelet cannot resolve
    │                                    (unknown container, unsupported resource)
    ├── SourceError        (ValueError)  strict mode: a malformed env var or Downward API file
    ├── CgroupError                      strict mode: malformed or unreadable cgroup files
    ├── PayloadError       (ValueError)  an atomic-writer payload path the kubelet refuses
    ├── WatchError                       a directory that cannot be watched
    ├── ConfinementError   (OSError)     a create or delete that would leave podself's own
    │                                    directories (a hostile name, a symlink, a foreign dir)
    ├── ManifestError      (ValueError)  a manifest that cannot be read or used
    ├── ActionError                      a reload action (exec, signal, POST) that failed once
    └── WebhookError                     the webhook's certificates: unreadable, not a pair,
                                         or the ``webhook`` extra (cryptography) missing

Messages name the input, the rule and the offending value, e.g.
``quantity "12Q": unable to parse quantity's suffix``.
"""

from __future__ import annotations

__all__ = [
    "ActionError",
    "CgroupError",
    "ConfinementError",
    "FieldPathError",
    "FormatError",
    "ManifestError",
    "PayloadError",
    "PodselfError",
    "QuantityError",
    "ResourceFieldError",
    "SourceError",
    "WatchError",
    "WebhookError",
]


class PodselfError(Exception):
    """Root of every podself error; catch this to catch them all."""


class QuantityError(PodselfError, ValueError):
    """Text that apimachinery's ``ParseQuantity`` would reject."""


class FormatError(PodselfError, ValueError):
    """Labels/annotations file text that ``FormatMap`` could not have produced."""


class FieldPathError(PodselfError, ValueError):
    """A Downward API field path, subscript key, resource name or divisor that is not valid."""


class ResourceFieldError(PodselfError, ValueError):
    """A ``resourceFieldRef`` the kubelet could not resolve at run time."""


class SourceError(PodselfError, ValueError):
    """Strict mode only: a source (env var, Downward API file) holds a malformed value."""


class CgroupError(PodselfError):
    """Strict mode only: cgroup files are malformed or unreadable."""


class PayloadError(PodselfError, ValueError):
    """An atomic-writer payload path that the kubelet's AtomicWriter would refuse."""


class WatchError(PodselfError):
    """A path that cannot be watched (missing, not a directory, permission denied)."""


class ManifestError(PodselfError, ValueError):
    """A Kubernetes manifest that cannot be parsed or does not hold what was asked for."""


class ConfinementError(PodselfError, OSError):
    """A file operation refused because it would reach outside the directories podself
    created: a path component that is absolute, ``..``, a symlink, or a directory owned by
    someone else. An ``OSError`` too, so callers that handle I/O failures handle it."""


class ActionError(PodselfError):
    """One attempt of a reload action (``podself.reloader``) failed; the message says why."""


class WebhookError(PodselfError):
    """The webhook's certificates cannot be read, loaded or made."""

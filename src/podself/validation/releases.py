"""The target Kubernetes release (1.30 to 1.35) and the rules that depend on it.

The validators follow one release at a time: :func:`kubernetes_target` sets it for a block,
:func:`target_minor` reads it; feature-gated fields and the env-name rule change by release.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from podself.errors import ManifestError

# The releases whose API differences are modelled (docs/reference/validation.md lists them).
SUPPORTED_KUBERNETES_VERSIONS: Final = ("1.30", "1.31", "1.32", "1.33", "1.34", "1.35")
DEFAULT_KUBERNETES_VERSION: Final = SUPPORTED_KUBERNETES_VERSIONS[-1]
_VERSION_RE: Final = re.compile(r"v?1\.(0|[1-9][0-9]{0,2})(?:\.(?:0|[1-9][0-9]{0,5}))?")
# The target release's minor version; the public validators set it for one call, and
# kubernetes_target() for a block (lint and run validate many objects for one release).
_MINOR: ContextVar[int] = ContextVar(
    "podself_kubernetes_minor", default=int(DEFAULT_KUBERNETES_VERSION.partition(".")[2])
)


def parse_kubernetes_version(text: str) -> str:
    """``"1.34"``, ``"v1.34"`` or ``"1.34.2"`` as ``"1.34"``; raises
    :class:`~podself.errors.ManifestError` for anything outside
    :data:`SUPPORTED_KUBERNETES_VERSIONS`."""
    match = _VERSION_RE.fullmatch(text) if len(text) <= 16 else None
    version = f"1.{match.group(1)}" if match else None
    if version not in SUPPORTED_KUBERNETES_VERSIONS:
        supported = f"{SUPPORTED_KUBERNETES_VERSIONS[0]} to {DEFAULT_KUBERNETES_VERSION}"
        msg = f"unsupported Kubernetes version {text[:40]!r}: podself models {supported}"
        raise ManifestError(msg)
    return version


def kubernetes_target_version() -> str:
    """The release the validators currently follow, e.g. ``"1.35"``."""
    return f"1.{target_minor()}"


@contextmanager
def kubernetes_target(version: str | None) -> Iterator[None]:
    """Validate inside the block as the API server of ``version`` (e.g. ``"1.34"``) does;
    ``None`` keeps the current target (by default :data:`DEFAULT_KUBERNETES_VERSION`)."""
    if version is None:
        yield
        return
    token = _MINOR.set(int(parse_kubernetes_version(version).partition(".")[2]))
    try:
        yield
    finally:
        _MINOR.reset(token)


def target_minor() -> int:
    """The target release's minor version: 35 for 1.35."""
    return _MINOR.get()


# Fields behind a feature gate that is off by default in some supported release: (gate, first
# minor with the field, first minor with the gate on by default or None). With the gate off the
# API server drops the field before validating; the validators treat it as on.
_GATED_FIELDS: Final = {
    "fileKeyRef": ("EnvFiles", 34, 35),
    "podCertificate": ("PodCertificateRequest", 34, None),
    "clusterTrustBundle": ("ClusterTrustBundleProjection", 30, None),
    "image": ("ImageVolume", 31, 35),
    "recursiveReadOnly": ("RecursiveReadOnlyMounts", 30, 31),
}


def default_off_gate(field: str) -> str | None:
    """The feature gate that ``field`` (``"fileKeyRef"``, ``"podCertificate"``,
    ``"clusterTrustBundle"``, ``"image"``, ``"recursiveReadOnly"``) needs in the target
    release when that gate is off by default there; None when the field is on by default or
    not in the release at all."""
    gate = _GATED_FIELDS.get(field)
    if gate is None:
        return None
    name, since, on_since = gate
    minor = target_minor()
    if minor < since or (on_since is not None and minor >= on_since):
        return None
    return name


def env_names_relaxed(relaxed: bool | None) -> bool:
    # RelaxedEnvironmentVariableValidation: alpha (off) in 1.30-1.31, on by default from 1.32.
    return target_minor() >= 32 if relaxed is None else relaxed

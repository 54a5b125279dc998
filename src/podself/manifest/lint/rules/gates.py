"""Fields the API server drops, or refuses the pod for, when their feature gate is off by
default in the Kubernetes release linted for (``--kubernetes-version``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import MAPS, Pod
from podself.validation import (
    default_off_gate,
    kubernetes_target_version,
)

_RULES: Final = (
    make_rule(
        "feature-gate-off",
        "warning",
        "runtime",
        "A field whose feature gate is off by default in the target Kubernetes release.",
        """Some fields exist in the API before they are on by default: `valueFrom.fileKeyRef`
        in 1.34 (`EnvFiles`), projected `podCertificate` (`PodCertificateRequest`) and
        `clusterTrustBundle` (`ClusterTrustBundleProjection`) sources, `image` volumes before
        1.35 (`ImageVolume`) and a mount's `recursiveReadOnly` in 1.30. Unless the cluster
        enables the gate, the API server silently drops the field before validating: the env
        var is then refused as a `valueFrom` with no source, the volume as having no type, and
        a projected source simply writes no file. podself validates such fields as if the gate
        were on; check that the cluster turns it on, or pick the cluster's release with
        `--kubernetes-version`.""",
        fix="enable the feature gate on the cluster, or do without the field",
    ),
)

# What the API server does to a pod with each gated field when the gate is off.
_GATE_OFF_EFFECTS: Final = {
    "fileKeyRef": "drops it and refuses the variable (a valueFrom with no source)",
    "podCertificate": "drops the source: the volume gets no certificate files",
    "clusterTrustBundle": "drops the source: the volume gets no bundle file",
    "image": "drops it and refuses the volume (no volume type)",
    "recursiveReadOnly": "drops it: the mount is not made recursively read-only",
}


def _gated_fields(pod: Pod) -> Iterator[tuple[str, str]]:
    """(field path, key) of every gated field the pod template sets."""
    for container in pod.containers:
        for env in container.env:
            var = container.data["env"][env.index]
            source = var.get("valueFrom")
            if isinstance(source, MAPS) and source.get("fileKeyRef") is not None:
                yield f"{env.path}.valueFrom.fileKeyRef", "fileKeyRef"
        mounts = container.data.get("volumeMounts")
        for index, mount in enumerate(mounts if isinstance(mounts, list) else ()):
            if isinstance(mount, MAPS) and mount.get("recursiveReadOnly") is not None:
                yield (
                    f"{container.path}.volumeMounts[{index}].recursiveReadOnly",
                    ("recursiveReadOnly"),
                )
    volumes = pod.workload.spec.get("volumes")
    base = pod.workload.spec_path
    for index, volume in enumerate(volumes if isinstance(volumes, list) else ()):
        if not isinstance(volume, MAPS):
            continue
        if volume.get("image") is not None:
            yield f"{base}.volumes[{index}].image", "image"
        projected = volume.get("projected")
        sources = projected.get("sources") if isinstance(projected, MAPS) else None
        for position, source in enumerate(sources if isinstance(sources, list) else ()):
            for key in ("podCertificate", "clusterTrustBundle"):
                if isinstance(source, MAPS) and source.get(key) is not None:
                    yield f"{base}.volumes[{index}].projected.sources[{position}].{key}", key


def _check_feature_gates(pod: Pod) -> None:
    if "feature-gate-off" not in pod.enabled:
        return
    release = kubernetes_target_version()
    for path, key in _gated_fields(pod):
        gate = default_off_gate(key)
        if gate is None:
            continue
        pod.report(
            "feature-gate-off",
            path,
            f"{key} needs the {gate} feature gate, off by default in Kubernetes {release}: "
            f"without it the API server {_GATE_OFF_EFFECTS[key]}",
            f"enable {gate} on the API server and the kubelets, or do without {key}",
        )


FAMILY: Final = Family(_RULES, (PodCheck(_check_feature_gates),))

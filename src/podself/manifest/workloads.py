"""Where each kind of Kubernetes workload keeps its pod template, and every one in a document.

Pod, PodTemplate, Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job and
CronJob are recognised, alone or inside ``List`` objects; anything else is skipped.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

# dict first: the loader's mappings are dicts, and ABC checks cost more.
_MAPS: Final = (dict, Mapping)

__all__ = [
    "POD_TEMPLATE_PATHS",
    "WORKLOAD_GROUPS",
    "Workload",
    "iter_workloads",
    "pod_template",
]

# kind -> keys from the object to its pod template ({metadata, spec}); () is the Pod itself.
POD_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "Pod": (),
    "PodTemplate": ("template",),
    "Deployment": ("spec", "template"),
    "StatefulSet": ("spec", "template"),
    "DaemonSet": ("spec", "template"),
    "ReplicaSet": ("spec", "template"),
    "ReplicationController": ("spec", "template"),
    "Job": ("spec", "template"),
    "CronJob": ("spec", "jobTemplate", "spec", "template"),
}

# API groups these kinds live in (current and retired versions); "" is the core group. A kind of
# the same name in another group (a custom resource) has its own shape and is skipped.
WORKLOAD_GROUPS: Final = frozenset({"", "apps", "batch", "extensions"})


@dataclass(frozen=True, slots=True)
class Workload:
    """A pod template found in a document.

    ``spec`` and ``metadata`` are the template's pod spec and metadata (``{}`` when absent).
    ``spec_path`` and ``metadata_path`` are their field paths as the API server names them for
    this object (``spec.template.spec`` for a Deployment); ``object_path`` is where the object
    sits in its document (``""``, or ``items[2]`` inside a ``List``).
    """

    kind: str
    name: str
    namespace: str
    object: Mapping[str, Any]
    spec: Mapping[str, Any]
    metadata: Mapping[str, Any]
    spec_path: str
    metadata_path: str
    object_path: str = ""

    @property
    def ref(self) -> str:
        """``Kind/name``, or ``Kind/namespace/name`` when the object names its namespace."""
        if self.namespace:
            return f"{self.kind}/{self.namespace}/{self.name}"
        return f"{self.kind}/{self.name}"

    @property
    def object_metadata(self) -> Mapping[str, Any]:
        """The object's own ``metadata`` (``{}`` when absent or malformed)."""
        meta = self.object.get("metadata")
        return meta if isinstance(meta, _MAPS) else {}

    def document_path(self, field: str) -> str:
        """``field`` (relative to the object) as a path from the document's root."""
        if not self.object_path:
            return field
        return f"{self.object_path}.{field}" if field else self.object_path


def _group(api_version: object) -> str | None:
    if api_version is None:
        return ""  # a fragment without apiVersion: judged by its kind alone
    if not isinstance(api_version, str):
        return None
    group, slash, _ = api_version.rpartition("/")
    return group if slash else ""


def pod_template(obj: object) -> tuple[Mapping[str, Any], Mapping[str, Any], str] | None:
    """Return ``(pod spec, pod metadata, spec path)`` for a workload object, else ``None``.

    The spec path is how the API server prefixes field errors for this kind, e.g.
    ``spec.template.spec`` for a Deployment and ``spec.jobTemplate.spec.template.spec`` for a
    CronJob. Non-workloads, custom resources and objects without a usable template give None.
    """
    if not isinstance(obj, _MAPS):
        return None
    kind = obj.get("kind")
    if not isinstance(kind, str):
        return None
    keys = POD_TEMPLATE_PATHS.get(kind)
    if keys is None or _group(obj.get("apiVersion")) not in WORKLOAD_GROUPS:
        return None
    template: object = obj
    for key in keys:
        if not isinstance(template, _MAPS):
            return None
        template = template.get(key)
    if not isinstance(template, _MAPS):
        return None
    spec = template.get("spec")
    if not isinstance(spec, _MAPS):
        return None
    metadata = template.get("metadata")
    if not isinstance(metadata, _MAPS):
        metadata = {}
    return spec, metadata, ".".join((*keys, "spec"))


def _workload(obj: Mapping[str, Any], object_path: str) -> Workload | None:
    found = pod_template(obj)
    if found is None:
        return None
    spec, metadata, spec_path = found
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, _MAPS) else {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        generate = meta.get("generateName")
        name = f"{generate}*" if isinstance(generate, str) and generate else "(unnamed)"
    namespace = meta.get("namespace")
    return Workload(
        kind=str(obj["kind"]),
        name=name,
        namespace=namespace if isinstance(namespace, str) else "",
        object=obj,
        spec=spec,
        metadata=metadata,
        spec_path=spec_path,
        metadata_path=spec_path.removesuffix("spec") + "metadata",
        object_path=object_path,
    )


def iter_workloads(data: object) -> Iterator[Workload]:
    """Yield every workload in one document: the object itself, or each item of a ``List``.

    ``List`` and ``<Kind>List`` objects (``kubectl get -o yaml`` output) are opened one level
    deep; documents that are not workloads yield nothing.
    """
    if not isinstance(data, _MAPS):
        return
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        for index, item in enumerate(items):
            if isinstance(item, _MAPS):
                found = _workload(item, f"items[{index}]")
                if found is not None:
                    yield found
        return
    found = _workload(data, "")
    if found is not None:
        yield found

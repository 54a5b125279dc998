"""The parts of one pod template the lint checks read, gathered in one pass, where the checks
report their findings, and the readers of its values (quantities, divisors, subscripted
fieldRefs) that more than one rule family needs."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final

from podself.downward import (
    HUGEPAGES_PREFIXES,
    RESOURCE_NAMES,
    qualified_name_errors,
    split_maybe_subscripted_path,
)
from podself.errors import PodselfError
from podself.manifest.workloads import Workload
from podself.quantity import Quantity

# dict first: the loader's mappings are dicts, and ABC checks cost more.
MAPS: Final = (dict, Mapping)


class Env:
    __slots__ = ("container", "field_ref", "index", "name", "path", "resource_ref", "value")

    def __init__(self, container: Container, index: int, var: Mapping[str, Any]) -> None:
        self.container = container
        self.index = index
        self.path = f"{container.path}.env[{index}]"
        name = var.get("name")
        self.name = name if isinstance(name, str) else None
        self.value = var.get("value")
        source = var.get("valueFrom")
        field_ref = resource_ref = None
        if isinstance(source, MAPS):
            field_ref = source.get("fieldRef")
            resource_ref = source.get("resourceFieldRef")
        self.field_ref = field_ref if isinstance(field_ref, MAPS) else None
        self.resource_ref = resource_ref if isinstance(resource_ref, MAPS) else None


class Container:
    __slots__ = ("data", "env", "name", "path")

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        name = data.get("name")
        self.name = name if isinstance(name, str) else ""
        env = data.get("env")
        self.env: list[Env] = []
        if isinstance(env, list):
            self.env = [Env(self, i, var) for i, var in enumerate(env) if isinstance(var, MAPS)]


class Item:
    """One Downward API item of a volume (downwardAPI, or a projected downwardAPI source)."""

    __slots__ = ("field_ref", "item_path", "path", "resource_ref")

    def __init__(self, path: str, item: Mapping[str, Any]) -> None:
        self.path = path  # the field path of the item itself
        item_path = item.get("path")
        self.item_path = item_path if isinstance(item_path, str) else ""
        field_ref = item.get("fieldRef")
        resource_ref = item.get("resourceFieldRef")
        self.field_ref = field_ref if isinstance(field_ref, MAPS) else None
        self.resource_ref = resource_ref if isinstance(resource_ref, MAPS) else None


class Volume:
    __slots__ = ("has_other_files", "items", "kind", "name", "path")

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        name = data.get("name")
        self.name = name if isinstance(name, str) else ""
        self.items: list[Item] = []
        # Files whose names this check cannot list (configMap/secret keys, tokens...).
        self.has_other_files = False
        self.kind = ""
        downward = data.get("downwardAPI")
        projected = data.get("projected")
        if isinstance(downward, MAPS):
            self.kind = "downwardAPI"
            self._add_items(f"{path}.downwardAPI", downward)
        elif isinstance(projected, MAPS):
            self.kind = "projected"
            sources = projected.get("sources")
            for index, source in enumerate(sources if isinstance(sources, list) else ()):
                if not isinstance(source, MAPS):
                    continue
                inner = source.get("downwardAPI")
                if isinstance(inner, MAPS):
                    self._add_items(f"{path}.projected.sources[{index}].downwardAPI", inner)
                if any(key != "downwardAPI" for key in source):
                    self.has_other_files = True

    def _add_items(self, base: str, source: Mapping[str, Any]) -> None:
        items = source.get("items")
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, MAPS):
                self.items.append(Item(f"{base}.items[{index}]", item))


# Where to point: a field path, or segments (for map keys that hold dots, such as labels').
Where = str | tuple[str | int, ...]
Raw = tuple[str, str, str, str, Where]  # rule id, field, message, hint, where to point


class Pod:
    """The parts of one pod template the checks read, gathered in one pass."""

    def __init__(self, workload: Workload, enabled: frozenset[str]) -> None:
        self.workload = workload
        self.enabled = enabled
        self.found: list[Raw] = []
        spec = workload.spec
        base = workload.spec_path
        self.containers: list[Container] = []
        self.container_names: set[str] = set()
        for key in ("containers", "initContainers", "ephemeralContainers"):
            group = spec.get(key)
            if not isinstance(group, list):
                continue
            for index, data in enumerate(group):
                if isinstance(data, MAPS):
                    container = Container(f"{base}.{key}[{index}]", data)
                    self.containers.append(container)
                    if key != "ephemeralContainers" and container.name:
                        self.container_names.add(container.name)
        self.by_name: dict[str, Container] = {}
        for container in self.containers:
            if container.path.startswith(f"{base}.ephemeralContainers"):
                continue
            self.by_name.setdefault(container.name, container)
        self.volumes: list[Volume] = []
        volumes = spec.get("volumes")
        if isinstance(volumes, list):
            for index, data in enumerate(volumes):
                if isinstance(data, MAPS):
                    volume = Volume(f"{base}.volumes[{index}]", data)
                    if volume.kind:
                        self.volumes.append(volume)
        meta = workload.metadata
        labels = meta.get("labels")
        annotations = meta.get("annotations")
        self.labels: Mapping[str, Any] = labels if isinstance(labels, MAPS) else {}
        self.annotations: Mapping[str, Any] = annotations if isinstance(annotations, MAPS) else {}

    def report(self, rule: str, path: str, message: str, hint: str = "", where: Where = "") -> None:
        """Record a finding at field ``path`` (pointed at ``where`` when the path is coarse)."""
        if rule in self.enabled:
            self.found.append((rule, path, message, hint, where or path))

    def wants(self, *rules: str) -> bool:
        return any(rule in self.enabled for rule in rules)


# --- values read from the template, shared by the rule families ------------------------------


@lru_cache(maxsize=512)
def _quantity(text: str) -> Quantity | None:
    try:
        return Quantity.from_json(text)
    except PodselfError:
        return None


def as_quantity(value: object) -> Quantity | None:
    """A manifest value (string or number) as a quantity, or None when it is not one."""
    if isinstance(value, str):
        return _quantity(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _quantity(str(value)) if isinstance(value, int) else _float_quantity(value)
    return None


def _float_quantity(value: float) -> Quantity | None:
    try:
        return Quantity.from_json(value)
    except PodselfError:
        return None


def valid_resource(resource: object) -> bool:
    """Whether ``resource`` is one a resourceFieldRef may name."""
    return isinstance(resource, str) and (
        resource in RESOURCE_NAMES or resource.startswith(HUGEPAGES_PREFIXES)
    )


def show(value: object) -> str:
    """A scalar as the manifest wrote it."""
    return value if isinstance(value, str) else str(value)


def divisor_shown(raw: object) -> str:
    """A divisor as the manifest wrote it, saying what an unset or zero one means."""
    if raw is None:
        return "1 (the default)"
    quantity = as_quantity(raw)
    if quantity is not None and quantity.is_zero():
        return f"{show(raw)} (0 means 1)"
    return show(raw)


def subscript(ref: Mapping[str, Any]) -> tuple[str, str] | None:
    """(``labels``/``annotations``, key) for a valid subscripted v1 fieldRef, else None."""
    version = ref.get("apiVersion")
    path = ref.get("fieldPath")
    if version not in (None, "", "v1") or not isinstance(path, str):
        return None
    return _subscript_of(path)


@lru_cache(maxsize=1024)
def _subscript_of(path: str) -> tuple[str, str] | None:
    base, key, subscripted = split_maybe_subscripted_path(path)
    if not subscripted or base not in ("metadata.labels", "metadata.annotations"):
        return None
    kind = base.removeprefix("metadata.")
    checked = key.lower() if kind == "annotations" else key
    if qualified_name_errors(checked):
        return None
    return kind, key

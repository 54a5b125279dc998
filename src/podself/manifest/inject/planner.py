"""The planner: what one pod template needs, per container, as plain data (no YAML).

The appliers turn a :class:`WorkloadPlan` into text (``text``), a parsed tree (``tree``), a
Kustomize or Helm snippet (``emit``) or a JSON Patch (``patch``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from podself.errors import QuantityError
from podself.expand import references
from podself.manifest.inject.fields import (
    DATADOG_AGENT_ENV,
    DATADOG_TAG_LABELS,
    DEFAULT_MOUNT_PATH,
    FIELDS,
    NAMING_RULES,
    OTEL_ENV,
    OTEL_WORKLOAD_KEYS,
    PODINFO_DIR_ENV,
    SECTIONS,
    VOLUME_NAME,
    Field,
    InjectOptions,
)
from podself.manifest.workloads import Workload
from podself.names import (
    CONTAINERS_DIR,
    container_file,
    env_table,
    file_table,
    is_container_name,
)
from podself.quantity import Quantity

if TYPE_CHECKING:
    from podself.manifest.lint import Finding


@dataclass(frozen=True, slots=True)
class Note:
    """Something left as it was, and why: ``file:line: message``."""

    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ContainerPlan:
    """What one container gets: ``env`` items to append and a ``mount`` (or ``None``)."""

    section: str
    index: int
    name: str
    env: tuple[Mapping[str, Any], ...]
    mount: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class WorkloadPlan:
    """The additions for one workload's pod template, and notes on what was left as is.

    ``notes`` pair a field path (from the document's root) with a message; ``considered``
    names the containers that were looked at (after ``--containers``).
    """

    kind: str
    api_version: str
    name: str
    namespace: str
    spec_path: str
    object_path: str
    containers: tuple[ContainerPlan, ...]
    volumes: tuple[Mapping[str, Any], ...]
    notes: tuple[tuple[str, str], ...]
    considered: tuple[str, ...] = ()

    @property
    def changes(self) -> bool:
        """Whether anything would be added."""
        return bool(self.volumes) or any(c.env or c.mount for c in self.containers)


# --- planning --------------------------------------------------------------------------------


def _quantity(value: object) -> Quantity | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        return Quantity.from_json(value)
    except (QuantityError, ValueError):
        return None


def _canonical_divisor(value: object) -> str:
    if value is None:
        return "1"
    quantity = _quantity(value)
    return str(value) if quantity is None else quantity.canonical()


def _is_set(values: Mapping[str, Any], name: str) -> bool:
    raw = values.get(name)
    if raw is None:
        return False
    quantity = _quantity(raw)
    return quantity is None or not quantity.is_zero()  # unparseable: the API's to judge


def _resources_set(
    container: Mapping[str, Any], pod_spec: Mapping[str, Any]
) -> dict[str, Quantity | None]:
    """Resource strings (``limits.cpu``…) the kubelet resolves from the container's own values,
    each with the quantity it resolves to (None where that is not known here)."""
    resources = container.get("resources")
    resources = resources if isinstance(resources, Mapping) else {}
    limits = resources.get("limits")
    limits = limits if isinstance(limits, Mapping) else {}
    requests = resources.get("requests")
    requests = requests if isinstance(requests, Mapping) else {}
    pod_resources = pod_spec.get("resources")
    pod_limits = pod_resources.get("limits") if isinstance(pod_resources, Mapping) else None
    pod_limits = pod_limits if isinstance(pod_limits, Mapping) else {}
    out: dict[str, Quantity | None] = {}
    for name in ("cpu", "memory", "ephemeral-storage"):
        limit = _is_set(limits, name)
        # Pod-level limits bound cpu and memory instead of the node.
        if limit:
            out[f"limits.{name}"] = _quantity(limits.get(name))
        elif name != "ephemeral-storage" and _is_set(pod_limits, name):
            out[f"limits.{name}"] = _quantity(pod_limits.get(name))
        if _is_set(requests, name):
            out[f"requests.{name}"] = _quantity(requests.get(name))
        elif limit:  # requests default to limits
            out[f"requests.{name}"] = _quantity(limits.get(name))
    return out


def _exact_field(f: Field, resources: Mapping[str, Quantity | None] | None) -> Field:
    """``f``, in bytes when its quantity is not a whole number of MiB.

    A decimal size such as ``1G`` is 953.67 MiB: a ``1Mi`` divisor would round it up (and
    ``podself lint`` would rightly warn), so the value is exposed with divisor ``1`` under the
    ``_BYTES`` names ``podself.read()`` recognises instead.
    """
    if f.divisor != "1Mi" or resources is None:
        return f
    quantity = resources.get(f.resource)
    if quantity is None or quantity.value() % (1 << 20) == 0:
        return f
    return replace(
        f,
        divisor="1",
        env_name=f.env_name.removesuffix("_MB") + "_BYTES",
        file_name=f.file_name.removesuffix("_mb") + "_bytes",
    )


def _env_key(var: Mapping[str, Any], container: str) -> tuple[Any, ...]:
    """A comparable form of an env var's definition (``apiVersion`` and divisor defaults)."""
    source = var.get("valueFrom")
    if source is None:
        value = var.get("value")
        return ("value", "" if value is None else str(value))
    if not isinstance(source, Mapping) or len(source) != 1:
        return ("other", repr(source))
    ref = source.get("fieldRef")
    if isinstance(ref, Mapping):
        return ("field", ref.get("fieldPath"), ref.get("apiVersion") or "v1")
    ref = source.get("resourceFieldRef")
    if isinstance(ref, Mapping):
        return (
            "resource",
            ref.get("resource"),
            ref.get("containerName") or container,
            _canonical_divisor(ref.get("divisor")),
        )
    return ("other", repr(source))


def _exposure(var_name: str, key: tuple[Any, ...]) -> tuple[Any, ...] | None:
    """What a recognised env var gives ``podself.read()``: (attribute, field or resource, …).

    None when podself does not read the name, or reads it in another unit than its divisor.
    """
    entry = env_table().get(var_name)
    if entry is None:
        return None
    attribute, _, divisor, _ = entry
    if key[0] == "field":
        return (attribute, key[1])
    if key[0] == "resource" and divisor and key[3] == divisor:
        return (attribute, key[1], key[2])
    return None


def _exposed(
    existing: Mapping[str, tuple[int, Mapping[str, Any]]], container: str
) -> dict[tuple[Any, ...], str]:
    """The user's env vars that already give podself a value, by what they give."""
    out: dict[tuple[Any, ...], str] = {}
    for var_name, (_, var) in existing.items():
        exposure = _exposure(var_name, _env_key(var, container))
        if exposure is not None:
            out.setdefault(exposure, var_name)
    return out


def _item_key(item: object) -> tuple[Any, ...]:
    if not isinstance(item, Mapping):
        return ("other", repr(item))
    ref = item.get("fieldRef")
    if isinstance(ref, Mapping):
        return ("field", item.get("path"), ref.get("fieldPath"), ref.get("apiVersion") or "v1")
    ref = item.get("resourceFieldRef")
    if isinstance(ref, Mapping):
        return (
            "resource",
            item.get("path"),
            ref.get("resource"),
            ref.get("containerName"),
            _canonical_divisor(ref.get("divisor")),
        )
    return ("other", repr(item))


def _missing_items(volume: object, items: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """Paths of ``items`` that ``volume`` lacks (``[]``: it holds them all, maybe more), or
    None when it is not a ``downwardAPI`` volume."""
    if not isinstance(volume, Mapping):
        return None
    source = volume.get("downwardAPI")
    if not isinstance(source, Mapping):
        return None
    existing = source.get("items")
    have = {_item_key(item) for item in existing} if isinstance(existing, list) else set()
    return [str(item["path"]) for item in items if _item_key(item) not in have]


def _same_volume(volume: object, items: Sequence[Mapping[str, Any]]) -> bool:
    """Whether ``volume`` is a ``downwardAPI`` volume holding at least these items."""
    return _missing_items(volume, items) == []


def root_resource_items(volume: object) -> list[tuple[str, str]]:
    """``(path, containerName)`` of a ``downwardAPI`` volume's resource items at its root under
    a name ``podself.read()`` takes as the reader's own (``cpu_limit``, ``mem_limit``…), as
    older ``podself inject`` output and hand-written manifests have them."""
    source = volume.get("downwardAPI") if isinstance(volume, Mapping) else None
    items = source.get("items") if isinstance(source, Mapping) else None
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        path, ref = item.get("path"), item.get("resourceFieldRef")
        if isinstance(path, str) and isinstance(ref, Mapping):
            entry = file_table().get(path)
            if entry is not None and entry[1]:
                out.append((path, str(ref.get("containerName") or "")))
    return out


def _root_items_note(volume: object, reader: str | None = None) -> str:
    """The resource items of ``volume`` at its root that ``reader`` (None: every container)
    would take as its own, and the fix; ``""`` when there are none."""
    found = [(p, o) for p, o in root_resource_items(volume) if reader is None or o != reader]
    if not found:
        return ""
    owners = sorted({owner for _, owner in found if owner})
    quoted = ", ".join(f'"{owner}"' for owner in owners)
    whose = f" of container {quoted}" if owners else ""
    who = f'container "{reader}"' if reader else "every container mounting it"
    dirs = ", ".join(f"containers/{o}/" for o in owners) or "containers/<container>/"
    return (
        f"{', '.join(path for path, _ in found)}{whose} at its root, which {who} reads as its "
        f"own: move them under {dirs} (or remove the volume and its mounts and run podself "
        "inject again)"
    )


def _add_items(planned: list[dict[str, Any]], items: Sequence[Mapping[str, Any]]) -> bool:
    """Add to a volume planned here the ``items`` it lacks, unless one of them would take a
    path it already uses for something else; whether it now holds them all."""
    have = {_item_key(item) for item in planned}
    paths = {item["path"] for item in planned}
    new = [item for item in items if _item_key(item) not in have]
    if any(item["path"] in paths for item in new):
        return False
    planned.extend(dict(item) for item in new)
    return True


def _article(word: str) -> str:
    """'an' before the volume kinds that start with a vowel (an emptyDir, a hostPath)."""
    return "an" if word[:1].lower() in "aeio" else "a"


def _volume_kind(volume: object) -> str:
    if not isinstance(volume, Mapping):
        return "malformed"
    kinds = [k for k in volume if k != "name"]
    return kinds[0] if len(kinds) == 1 else "malformed"


def _volume_names(container: str) -> tuple[str, ...]:
    """``podinfo``, then ``podinfo-<container>`` (a DNS label: hashed when over 63 chars)."""
    own = f"{VOLUME_NAME}-{container.lower()}"
    if len(own) > 63:
        digest = hashlib.sha256(container.encode()).hexdigest()[:8]
        own = f"{own[:54].rstrip('-')}-{digest}"
    return (VOLUME_NAME, own)


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def _resource_env(f: Field) -> dict[str, Any]:
    return {
        "name": f.env_name,
        "valueFrom": {"resourceFieldRef": {"resource": f.resource, "divisor": f.divisor}},
    }


def _otel_attributes(container: str, kind: str, workload_name: str) -> str:
    from podself.logs.otel import encode_resource_attributes

    pod = "$(OTEL_RESOURCE_ATTRIBUTES_POD_NAME)"
    namespace = "$(OTEL_RESOURCE_ATTRIBUTES_NAMESPACE)"
    attributes = {
        "k8s.container.name": container,
        "k8s.namespace.name": namespace,
        "k8s.node.name": "$(OTEL_RESOURCE_ATTRIBUTES_NODE_NAME)",
        "k8s.pod.name": pod,
        "k8s.pod.uid": "$(OTEL_RESOURCE_ATTRIBUTES_POD_UID)",
    }
    key = OTEL_WORKLOAD_KEYS.get(kind)
    if key and workload_name:
        attributes[key] = workload_name
    return encode_resource_attributes(dict(sorted(attributes.items())))


def _datadog_env(labels: object) -> list[dict[str, Any]]:
    """``DD_ENV``/``DD_SERVICE``/``DD_VERSION`` for the ``tags.datadoghq.com/*`` labels the pod
    template has (all three when ``labels`` is unknown, ``None``), then the agent's address and
    the entity ID. A fieldRef to a missing label reads as an empty string, which would blank
    the tracer's own default: a label the template lacks gets no variable."""
    out = [
        _field_env(name, f"metadata.labels['{label}']")
        for name, label in DATADOG_TAG_LABELS.items()
        if labels is None or (isinstance(labels, Mapping) and label in labels)
    ]
    out.extend(_field_env(name, path) for name, path in DATADOG_AGENT_ENV.items())
    return out


def wanted_env(
    options: InjectOptions,
    container: str,
    resources: Mapping[str, Quantity | None] | None,
    kind: str,
    workload_name: str,
    *,
    labels: object = None,
) -> list[dict[str, Any]]:
    """The env items a container should have, in the order they are appended (``labels``:
    the pod template's, ``None`` when unknown)."""
    out: list[dict[str, Any]] = []
    if options.env:
        names = options.env_names()
        for key in options.env_fields:
            f = FIELDS[key]
            if f.kind == "identity":
                if f.field_path:
                    out.append(_field_env(names[key], f.field_path))
                else:
                    out.append({"name": names[key], "value": container})
            elif f.kind == "resource" and (resources is None or f.resource in resources):
                out.append(_resource_env(_exact_field(f, resources)))
    if options.volume and options.normalized_mount_path != DEFAULT_MOUNT_PATH:
        out.append({"name": PODINFO_DIR_ENV, "value": options.normalized_mount_path})
    if options.datadog:
        out.extend(_datadog_env(labels))
    if options.otel:
        out.extend(_field_env(name, path) for name, path in OTEL_ENV.items())
        out.append(
            {
                "name": "OTEL_RESOURCE_ATTRIBUTES",
                "value": _otel_attributes(container, kind, workload_name),
            }
        )
    return out


def wanted_items(
    options: InjectOptions, container: str, resources: Mapping[str, Quantity | None] | None
) -> list[dict[str, Any]]:
    """The ``downwardAPI`` items the container needs in its volume: the pod's labels and
    annotations, and its own resource files under ``containers/<container>/``.

    A file at the volume's root would name no container, and every container mounting the
    volume would read it as its own; under its container's directory it says whose it is.
    """
    if not options.volume:
        return []
    items: list[dict[str, Any]] = []
    for key in options.fields:
        f = FIELDS[key]
        if f.kind == "map":
            items.append({"path": f.file_name, "fieldRef": {"fieldPath": f.field_path}})
        elif f.kind == "resource" and (resources is None or f.resource in resources):
            f = _exact_field(f, resources)
            items.append(
                {
                    "path": container_file(container, f.file_name),
                    "resourceFieldRef": {
                        "containerName": container,
                        "resource": f.resource,
                        "divisor": f.divisor,
                    },
                }
            )
    return items


def _unset_note(options: InjectOptions, container: str, missing: Sequence[Field]) -> str | None:
    """One note for the selected resource fields left out because nothing sets them."""
    picked = [f for f in missing if f.key in options.fields]
    if not picked or not (options.env or options.volume):
        return None
    effects = []
    if any(f.resource.startswith("limits.") for f in picked):
        effects.append("a missing limit reads as the node's allocatable amount")
    if any(f.resource.startswith("requests.") for f in picked):
        effects.append("a missing request as 0")
    return (
        f'container "{container}": {", ".join(f.resource for f in picked)} not set, so their '
        f"env vars and files are left out ({', '.join(effects)}); set them or use "
        "--all-resources"
    )


def plan_workload(
    workload: Workload,
    options: InjectOptions | None = None,
    *,
    known_resources: bool = True,
) -> WorkloadPlan:
    """Work out what ``workload`` needs, without changing it.

    With ``known_resources=False`` (a template whose containers are not known, as in a
    generic Kustomize component) every selected resource field is planned.
    """
    return _Planner(workload, options or InjectOptions(), known_resources).plan()


class _Planner:
    """Plans one pod template: env per container, then a mount and (shared) volumes."""

    def __init__(self, workload: Workload, options: InjectOptions, known_resources: bool) -> None:
        self.workload = workload
        self.options = options
        self.known_resources = known_resources
        self.base = workload.document_path(workload.spec_path)
        self.notes: list[tuple[str, str]] = []
        name = workload.object_metadata.get("name")
        self.workload_name = str(name) if isinstance(name, str) else ""
        self.volumes: dict[str, tuple[int, Any]] = {}
        self.planned: dict[str, list[dict[str, Any]]] = {}
        self._findings: list[Finding] | None = None  # lint's, once an env entry is kept

    def note(self, path: str, message: str) -> None:
        self.notes.append((path, message))

    def plan(self) -> WorkloadPlan:
        spec = self.workload.spec
        volumes = spec.get("volumes")
        volumes_ok = volumes is None or isinstance(volumes, list)
        if not volumes_ok:
            self.note(f"{self.base}.volumes", "volumes is not a list, left as is; no volume added")
        for index, volume in enumerate(volumes if isinstance(volumes, list) else []):
            if isinstance(volume, Mapping) and isinstance(volume.get("name"), str):
                self.volumes.setdefault(volume["name"], (index, volume))
        plans: list[ContainerPlan] = []
        considered: list[str] = []
        for section in SECTIONS:
            containers = spec.get(section)
            if not isinstance(containers, list):
                continue
            for index, container in enumerate(containers):
                if not isinstance(container, Mapping):
                    continue
                where = f"{self.base}.{section}[{index}]"
                name = container.get("name")
                if not isinstance(name, str) or not name:
                    self.note(where, f"{section}[{index}] has no name; skipped")
                    continue
                name = str(name)  # drop the source's quoting style
                if self.options.containers is not None and name not in self.options.containers:
                    continue
                considered.append(name)
                resources = self.resources(container, where, name)
                env = self.env(container, where, name, resources)
                mount = self.mount(container, where, name, resources) if volumes_ok else None
                if env or mount:
                    plans.append(ContainerPlan(section, index, name, tuple(env), mount))
        if self.options.datadog and considered:
            self.datadog_note()
        api_version = self.workload.object.get("apiVersion")
        return WorkloadPlan(
            kind=self.workload.kind,
            api_version=api_version if isinstance(api_version, str) else "",
            name=self.workload_name,
            namespace=self.workload.namespace,
            spec_path=self.workload.spec_path,
            object_path=self.workload.object_path,
            containers=tuple(plans),
            volumes=tuple(
                {"name": name, "downwardAPI": {"items": items}}
                for name, items in self.planned.items()
            ),
            notes=tuple(self.notes),
            considered=tuple(considered),
        )

    def datadog_note(self) -> None:
        """Say which unified service tags get no variable, for want of their label."""
        labels = self.workload.metadata.get("labels")
        missing = [
            label
            for label in DATADOG_TAG_LABELS.values()
            if not (isinstance(labels, Mapping) and label in labels)
        ]
        if missing:
            names = [n for n, label in DATADOG_TAG_LABELS.items() if label in missing]
            self.note(
                self.workload.document_path(self.workload.metadata_path),
                f"no {', '.join(missing)} label on the pod template: {', '.join(names)} "
                "not added (a fieldRef to a missing label reads as empty)",
            )

    def resources(
        self, container: Mapping[str, Any], where: str, name: str
    ) -> dict[str, Quantity | None] | None:
        """The resources the kubelet resolves from the container's own values (None: all)."""
        if not is_container_name(name):
            # Its resource files would go under containers/<name>/: never a path from a name
            # the API server refuses anyway.
            self.note(
                where,
                f'container "{name}": not a valid container name (a DNS-1123 label: lowercase '
                "letters, digits and '-', at most 63), so no resource env vars or files are added",
            )
            return {}
        if not self.known_resources or self.options.all_resources:
            return None
        found = _resources_set(container, self.workload.spec)
        missing = [f for f in FIELDS.values() if f.kind == "resource" and f.resource not in found]
        message = _unset_note(self.options, name, missing)
        if message:
            self.note(where, message)
        return found

    def env(
        self,
        container: Mapping[str, Any],
        where: str,
        name: str,
        resources: Mapping[str, Quantity | None] | None,
    ) -> list[dict[str, Any]]:
        wanted = wanted_env(
            self.options,
            name,
            resources,
            self.workload.kind,
            self.workload_name,
            labels=self.workload.metadata.get("labels") or {},
        )
        if not wanted:
            return []
        env = container.get("env")
        if env is not None and not isinstance(env, list):
            self.note(f"{where}.env", f'container "{name}": env is not a list, left as is')
            return []
        existing: dict[str, tuple[int, Mapping[str, Any]]] = {}
        for index, var in enumerate(env or []):
            if isinstance(var, Mapping) and isinstance(var.get("name"), str):
                existing[var["name"]] = (index, var)  # the last definition wins in Kubernetes
        exposed = _exposed(existing, name)
        # Names other added vars reference with $(NAME) must exist under that very name.
        referenced = {ref for var in wanted for ref in references(str(var.get("value", "")))}
        out: list[dict[str, Any]] = []
        for var in wanted:
            found = existing.get(var["name"])
            exposure = _exposure(var["name"], _env_key(var, name))
            twin = None if var["name"] in referenced or exposure is None else exposed.get(exposure)
            if found is None and twin is not None:
                self.note(
                    f"{where}.env[{existing[twin][0]}]",
                    f'container "{name}": env {twin} already gives what {var["name"]} would '
                    "(podself reads it), not added",
                )
            elif found is None:
                out.append(var)
            elif _env_key(found[1], name) != _env_key(var, name):
                advice = self.lint_advice(f"{where[len(self.base) :]}.env[{found[0]}]")
                self.note(
                    f"{where}.env[{found[0]}]",
                    f'container "{name}": env {var["name"]} already set, left as is{advice}',
                )
        return out

    def lint_advice(self, env_path: str) -> str:
        """What ``podself lint`` says about the env entry at ``env_path`` (relative to the pod
        spec), so inject and lint give the same advice about the same variable."""
        if self._findings is None:
            from podself.manifest.lint import lint_workload

            self._findings = lint_workload(self.workload)
        prefix = self.workload.spec_path + env_path
        said = [
            f"{f.message} ({f.hint})"
            for f in self._findings
            if f.rule in NAMING_RULES and (f.field == prefix or f.field.startswith(prefix + "."))
        ]
        return "; " + "; ".join(said) if said else ""

    def name_note(self, container: Mapping[str, Any], where: str, name: str) -> None:
        """With --no-env, say when nothing tells podself.read() which containers/<name>/
        directory is the container's own."""
        env = container.get("env")
        table = env_table()
        for var in env if isinstance(env, list) else ():
            if isinstance(var, Mapping) and table.get(str(var.get("name")), ("",))[0] == (
                "container"
            ):
                return
        self.note(
            where,
            f'container "{name}": no env var gives podself its name (--no-env), so '
            f"podself.read() cannot tell that containers/{name}/ holds its own limits (it "
            f"shows them in info.containers); add K8S_CONTAINER_NAME with value {name}",
        )

    def mount(
        self,
        container: Mapping[str, Any],
        where: str,
        name: str,
        resources: Mapping[str, Quantity | None] | None,
    ) -> dict[str, Any] | None:
        items = wanted_items(self.options, name, resources)
        if not items:
            return None
        if not self.options.env and any(
            str(item["path"]).startswith(f"{CONTAINERS_DIR}/") for item in items
        ):
            self.name_note(container, where, name)
        mounts = container.get("volumeMounts")
        if mounts is not None and not isinstance(mounts, list):
            self.note(
                f"{where}.volumeMounts",
                f'container "{name}": volumeMounts is not a list, left as is',
            )
            return None
        mount_path = self.options.normalized_mount_path
        candidates = _volume_names(name)
        for index, mount in enumerate(mounts or []):
            if not isinstance(mount, Mapping):
                continue
            path = mount.get("mountPath")
            volume = mount.get("name")
            found = self.volumes.get(volume) if isinstance(volume, str) else None
            if isinstance(path, str) and (path.rstrip("/") or "/") == mount_path:
                missing = None if found is None else _missing_items(found[1], items)
                if found is None:
                    detail = "not defined in the pod"
                elif missing == []:
                    note = _root_items_note(found[1], name)
                    if note:
                        self.note(
                            f"{where}.volumeMounts[{index}]",
                            f'container "{name}": volume "{volume}" at {mount_path} holds {note}',
                        )
                    return None
                elif missing is not None:
                    detail = f"a downwardAPI volume without {', '.join(missing)}"
                    note = _root_items_note(found[1])
                    detail += f"; it holds {note}" if note else ""
                else:
                    kind = _volume_kind(found[1])
                    detail = f"{_article(kind)} {kind} volume"
                self.note(
                    f"{where}.volumeMounts[{index}]",
                    f'container "{name}": mountPath {mount_path} already used by volume '
                    f'"{volume}" ({detail}), left as is',
                )
                return None
            if volume in candidates and found is not None and _same_volume(found[1], items):
                self.note(
                    f"{where}.volumeMounts[{index}]",
                    f'container "{name}": volume "{volume}" already mounted at {path}, left as is',
                )
                return None
        chosen = self.volume_for(name, candidates, items)
        if chosen is None:
            return None
        return {"name": chosen, "mountPath": mount_path, "readOnly": True}

    def volume_for(
        self, name: str, candidates: Sequence[str], items: list[dict[str, Any]]
    ) -> str | None:
        """The first candidate name that is free, planned here (then it gets ``items`` too: the
        pod's containers share one volume, each with its own ``containers/<name>/``) or
        already holds ``items`` and no resource file at its root that is not this
        container's."""
        for candidate in candidates:
            if candidate in self.planned:
                if _add_items(self.planned[candidate], items):
                    return candidate
                continue
            found = self.volumes.get(candidate)
            if found is None:
                self.planned[candidate] = list(items)
                return candidate
            note = _root_items_note(found[1], name)
            if _same_volume(found[1], items) and not note:
                return candidate
            if note:
                self.note(
                    f"{self.base}.volumes[{found[0]}]",
                    f'volume "{candidate}" holds {note}; container "{name}" gets another volume',
                )
                continue
            kind = _volume_kind(found[1])
            if kind != "downwardAPI":
                self.note(
                    f"{self.base}.volumes[{found[0]}]",
                    f'volume "{candidate}" is already {_article(kind)} {kind} volume, left as '
                    f'is; container "{name}" gets another name',
                )
        names = " and ".join(f'"{c}"' for c in candidates)
        self.note(
            f"{self.base}.volumes",
            f'container "{name}": volumes {names} are already defined differently, left as '
            "is; no podinfo volume mounted",
        )
        return None

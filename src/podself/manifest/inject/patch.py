"""A JSON Patch (RFC 6902) that adds what ``podself inject`` would add to one API object.

The admission webhook answers with this: the pod arrives as JSON (no YAML positions), the
planner decides per container, and each addition becomes an ``add`` operation. The operations
mirror :func:`podself.manifest.inject.tree.apply_plan` step for step, so a patched object
equals the one ``podself inject`` would write.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podself.manifest.inject.fields import InjectOptions
from podself.manifest.inject.planner import WorkloadPlan, plan_workload
from podself.manifest.load import split_field_path
from podself.manifest.workloads import iter_workloads

__all__ = ["json_patch", "pointer"]


def pointer(*parts: str | int) -> str:
    """A JSON Pointer (RFC 6901) to ``parts``: ``~`` and ``/`` inside a key are escaped."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _adds(
    owner: Mapping[str, Any], at: tuple[str | int, ...], key: str, values: list[Any]
) -> list[dict[str, Any]]:
    """Append ``values`` to the list ``owner[key]``, or set the key when it is not a list."""
    if isinstance(owner.get(key), list):
        where = pointer(*at, key, "-")
        return [{"op": "add", "path": where, "value": value} for value in values]
    # "add" on an existing member replaces it (a null "env:" becomes the list), as inject does.
    return [{"op": "add", "path": pointer(*at, key), "value": values}]


def _operations(plan: WorkloadPlan, spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    base = split_field_path(plan.object_path) + split_field_path(plan.spec_path)
    ops: list[dict[str, Any]] = []
    for container_plan in plan.containers:
        container = spec[container_plan.section][container_plan.index]
        at = (*base, container_plan.section, container_plan.index)
        if container_plan.env:
            ops += _adds(container, at, "env", [dict(v) for v in container_plan.env])
        if container_plan.mount is not None:
            ops += _adds(container, at, "volumeMounts", [dict(container_plan.mount)])
    if plan.volumes:
        ops += _adds(spec, base, "volumes", [dict(v) for v in plan.volumes])
    return ops


def json_patch(
    obj: Mapping[str, Any], options: InjectOptions | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The ``add`` operations for every pod template in ``obj``, and the planner's notes.

    Notes (``"spec.containers[0].env: …"``) say what was left as is and why; an object that
    already has everything gets no operations, so the patch is idempotent.
    """
    options = options or InjectOptions()
    ops: list[dict[str, Any]] = []
    notes: list[str] = []
    for workload in iter_workloads(obj):
        plan = plan_workload(workload, options)
        notes += [f"{path}: {message}" if path else message for path, message in plan.notes]
        if plan.changes:
            ops += _operations(plan, workload.spec)
    return ops, notes

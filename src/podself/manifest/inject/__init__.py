"""Add the recommended Downward API env vars and ``podinfo`` volume to every workload.

One planner, several appliers:

- ``fields``  — what can be added (fields, groups, :class:`InjectOptions`);
- ``planner`` — what one pod template needs, per container, as plain data
  (:func:`plan_workload` -> :class:`WorkloadPlan`);
- ``tree``    — applies a plan to parsed data (ruamel.yaml nodes or plain dicts);
- ``text``    — ``podself inject``: edits YAML/JSON text, copying what needs nothing byte for byte;
- ``patch``   — a JSON Patch (RFC 6902) for an API object, as an admission webhook answers;
- ``emit``    — Kustomize patches and a Helm helper;
- ``files``   — writing the result back over a file safely.
"""

from __future__ import annotations

from podself.manifest.inject.emit import emit_helm, emit_kustomize
from podself.manifest.inject.fields import (
    DATADOG_AGENT_ENV,
    DATADOG_TAG_LABELS,
    DEFAULT_FIELDS,
    DEFAULT_MOUNT_PATH,
    FIELD_GROUPS,
    FIELDS,
    OTEL_ENV,
    VOLUME_NAME,
    Field,
    InjectOptions,
    parse_fields,
)
from podself.manifest.inject.files import check_writable, write_in_place
from podself.manifest.inject.patch import json_patch
from podself.manifest.inject.planner import ContainerPlan, Note, WorkloadPlan, plan_workload
from podself.manifest.inject.text import InjectResult, inject_file, inject_text

__all__ = [
    "DATADOG_AGENT_ENV",
    "DATADOG_TAG_LABELS",
    "DEFAULT_FIELDS",
    "DEFAULT_MOUNT_PATH",
    "FIELDS",
    "FIELD_GROUPS",
    "OTEL_ENV",
    "VOLUME_NAME",
    "ContainerPlan",
    "Field",
    "InjectOptions",
    "InjectResult",
    "Note",
    "WorkloadPlan",
    "check_writable",
    "emit_helm",
    "emit_kustomize",
    "inject_file",
    "inject_text",
    "json_patch",
    "parse_fields",
    "plan_workload",
    "write_in_place",
]

"""Pod identity as log fields: name presets (seed, OpenTelemetry, Elastic, Google Cloud), opt-in
labels and annotations with allow/deny globs, and the names that are never logged."""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from podself.pod import PodInfo

__all__ = [
    "ATTRIBUTES",
    "NEVER_LOGGED",
    "PRESETS",
    "SECRET_PATTERNS",
    "UNKNOWN",
    "Preset",
    "Selector",
    "get_preset",
    "identity_fields",
    "is_secret_like",
    "rename_colliding",
    "trace_fields",
    "workload_names",
]

UNKNOWN = "unknown"

# The identity attributes a preset can name. The first eight are PodInfo attributes; the
# workload ones come from PodInfo.workload (a Deployment's ReplicaSet from pod-template-hash).
ATTRIBUTES = (
    "name",
    "namespace",
    "node_name",
    "uid",
    "pod_ip",
    "host_ip",
    "container",
    "service_account",
    "deployment",
    "replicaset",
    "statefulset",
    "daemonset",
    "job",
)
_ALWAYS = frozenset({"name", "namespace", "node_name"})

# Keys never logged, even when an allow list names them.
NEVER_LOGGED = ("kubectl.kubernetes.io/last-applied-configuration",)

# Secret-like key names (case-insensitive globs over the whole key, prefix included): never
# logged, even when an allow list names them.
SECRET_PATTERNS = (
    "*token*",
    "*secret*",
    "*password*",
    "*passwd*",
    "*passphrase*",
    "*pwd*",
    "*credential*",
    "*apikey*",
    "*api-key*",
    "*api_key*",
    "*private*key*",
    "*access*key*",
    "*authorization*",
    "*cookie*",
)
_SECRET_RE = re.compile("|".join(fnmatch.translate(p) for p in SECRET_PATTERNS), re.IGNORECASE)


def is_secret_like(key: str) -> bool:
    """Whether a label/annotation key is never logged (``NEVER_LOGGED`` or ``SECRET_PATTERNS``)."""
    return key in NEVER_LOGGED or _SECRET_RE.match(key) is not None


def _globs(patterns: Iterable[str] | str, what: str) -> tuple[str, ...]:
    if isinstance(patterns, str):
        patterns = (patterns,)
    out = tuple(patterns)
    for pattern in out:
        if not isinstance(pattern, str) or not pattern:
            msg = f"{what} pattern {pattern!r}: must be a non-empty glob string"
            raise ValueError(msg)
    return out


@dataclass(frozen=True)
class Selector:
    """Which keys of a labels/annotations mapping may be logged.

    ``allow`` is ``None``/``False`` (none: the default), ``True`` (all) or glob patterns
    matched against the whole key (``"app"``, ``"app.kubernetes.io/*"``); ``deny`` globs win
    over ``allow``; ``NEVER_LOGGED`` and ``SECRET_PATTERNS`` win over both.
    """

    allow: bool | tuple[str, ...] = False
    deny: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, allow: bool | Iterable[str] | str | None, deny: Iterable[str] | str = ()
    ) -> Selector:
        """Build from the loose forms accepted by the public functions."""
        if allow is None or allow is False:
            chosen: bool | tuple[str, ...] = False
        elif allow is True:
            chosen = True
        else:
            chosen = _globs(allow, "allow")
        return cls(chosen, _globs(deny, "deny"))

    def allows(self, key: str) -> bool:
        """Whether ``key`` may be logged."""
        if self.allow is False or is_secret_like(key):
            return False
        if self.allow is not True and not any(fnmatch.fnmatchcase(key, p) for p in self.allow):
            return False
        return not any(fnmatch.fnmatchcase(key, p) for p in self.deny)

    def select(self, mapping: Mapping[str, str]) -> dict[str, str]:
        """The allowed items, sorted by key."""
        if self.allow is False:
            return {}
        return {k: mapping[k] for k in sorted(mapping) if self.allows(k)}


@dataclass(frozen=True)
class Preset:
    """Output names for one log schema.

    Args:
        name: the preset's name.
        fields: identity attribute (see ``ATTRIBUTES``) -> output key, in output order.
        labels, annotations: a plain key (``"labels"``) puts the selected items in one nested
            object; a template with ``{key}`` (``"k8s.pod.label.{key}"``) makes one field each.
        dedot: replace ``.`` with ``_`` in label/annotation keys (Beats' default).
        always: attributes written as ``unknown`` when unknown; others are left out.
        timestamp_key, level_key, message_key, stack_key: the formatter's own keys.
        level_lower: write ``info`` rather than ``INFO``.
        exception_key: one key (a nested ``{"type", "message", "traceback"}`` object) or three
            flat keys (type, message, traceback).
        group: put the identity fields and label/annotation items in one object under this
            key (the ``gcp`` preset: ``logging.googleapis.com/labels``); its labels and
            annotations must then be ``{key}`` templates (one string each).
        constants: fixed fields written after the message on every line (``ecs.version``).
        source_key: write the record's ``{"file", "line", "function"}`` under this key.
        trace_keys: the trace, span ID and sampled-flag keys for the active OpenTelemetry
            span (see :func:`trace_fields`); ``None`` writes none.
    """

    name: str
    fields: Mapping[str, str]
    labels: str = "labels"
    annotations: str = "annotations"
    dedot: bool = False
    always: frozenset[str] = _ALWAYS
    timestamp_key: str = "timestamp"
    level_key: str = "level"
    level_lower: bool = False
    message_key: str = "message"
    exception_key: str | tuple[str, str, str] = "exception"
    stack_key: str = "stack"
    group: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    source_key: str | None = None
    trace_keys: tuple[str, str, str] | None = None
    _order: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for attribute, key in self.fields.items():
            if attribute not in ATTRIBUTES:
                msg = (
                    f"preset {self.name!r}: unknown identity attribute {attribute!r}; "
                    f"known: {', '.join(ATTRIBUTES)}"
                )
                raise ValueError(msg)
            if not isinstance(key, str) or not key:
                msg = f"preset {self.name!r}: key for {attribute!r} must be a non-empty string"
                raise ValueError(msg)
        for what, template in (("labels", self.labels), ("annotations", self.annotations)):
            if not template or ("{" in template and template.count("{key}") != 1):
                msg = (
                    f"preset {self.name!r}: {what} {template!r} must be a key or a template "
                    "with one {key}"
                )
                raise ValueError(msg)
        if self.group is not None and not all(
            "{key}" in template for template in (self.labels, self.annotations)
        ):
            msg = (
                f"preset {self.name!r}: with group {self.group!r}, labels and annotations must "
                "be templates with {key} (one string field each)"
            )
            raise ValueError(msg)
        if not isinstance(self.exception_key, str) and len(self.exception_key) != 3:
            msg = f"preset {self.name!r}: exception_key must be one key or three keys"
            raise ValueError(msg)
        object.__setattr__(self, "_order", tuple(self.fields.items()))

    def output_keys(self) -> tuple[str, ...]:
        """Keys the JSON formatter writes itself for this preset."""
        exception = (
            (self.exception_key,) if isinstance(self.exception_key, str) else self.exception_key
        )
        source = (self.source_key,) if self.source_key else ()
        return (
            self.timestamp_key,
            self.level_key,
            self.message_key,
            *self.constants,
            *source,
            *(self.trace_keys or ()),
            *exception,
            self.stack_key,
        )


PRESETS: Mapping[str, Preset] = {
    "seed": Preset(
        "seed",
        {"name": "pod", "namespace": "namespace", "node_name": "node"},
    ),
    "otel": Preset(
        "otel",
        {
            "name": "k8s.pod.name",
            "namespace": "k8s.namespace.name",
            "node_name": "k8s.node.name",
            "uid": "k8s.pod.uid",
            "pod_ip": "k8s.pod.ip",
            "container": "k8s.container.name",
            "deployment": "k8s.deployment.name",
            "replicaset": "k8s.replicaset.name",
            "statefulset": "k8s.statefulset.name",
            "daemonset": "k8s.daemonset.name",
            "job": "k8s.job.name",
        },
        labels="k8s.pod.label.{key}",
        annotations="k8s.pod.annotation.{key}",
        exception_key=("exception.type", "exception.message", "exception.stacktrace"),
        stack_key="code.stacktrace",
    ),
    "ecs": Preset(
        "ecs",
        {
            "name": "kubernetes.pod.name",
            "namespace": "kubernetes.namespace",
            "node_name": "kubernetes.node.name",
            "uid": "kubernetes.pod.uid",
            "pod_ip": "kubernetes.pod.ip",
            "container": "kubernetes.container.name",
            "deployment": "kubernetes.deployment.name",
            "replicaset": "kubernetes.replicaset.name",
            "statefulset": "kubernetes.statefulset.name",
            "daemonset": "kubernetes.daemonset.name",
            "job": "kubernetes.job.name",
        },
        labels="kubernetes.labels.{key}",
        annotations="kubernetes.annotations.{key}",
        dedot=True,
        timestamp_key="@timestamp",
        level_key="log.level",
        level_lower=True,
        exception_key=("error.type", "error.message", "error.stack_trace"),
        # ECS requires it on every event; the version Elastic's own ecs-logging libraries write.
        constants={"ecs.version": "1.6.0"},
    ),
    # Cloud Logging's structured logging: severity and time become the entry's, the group
    # becomes its labels, sourceLocation its source location; Error Reporting reads the
    # Python traceback in stack_trace.
    "gcp": Preset(
        "gcp",
        {
            "name": "pod_name",
            "namespace": "namespace_name",
            "node_name": "node_name",
            "container": "container_name",
            "uid": "pod_uid",
            "pod_ip": "pod_ip",
            "deployment": "deployment_name",
            "replicaset": "replicaset_name",
            "statefulset": "statefulset_name",
            "daemonset": "daemonset_name",
            "job": "job_name",
        },
        labels="k8s-pod/{key}",  # the names GKE gives pod labels on its entries
        annotations="k8s-pod-annotation/{key}",
        timestamp_key="time",
        level_key="severity",
        exception_key=("exception.type", "exception.message", "stack_trace"),
        group="logging.googleapis.com/labels",
        source_key="logging.googleapis.com/sourceLocation",
        trace_keys=(
            "logging.googleapis.com/trace",
            "logging.googleapis.com/spanId",
            "logging.googleapis.com/trace_sampled",
        ),
    ),
}


def trace_fields(keys: tuple[str, str, str], project: str | None = None) -> dict[str, object]:
    """The active OpenTelemetry span's trace ID, span ID and sampled flag under ``keys``
    (hex, as Cloud Trace writes them); ``{}`` without a valid span.

    With ``project`` the trace is the resource name Cloud Logging links to Cloud Trace,
    ``projects/<project>/traces/<trace ID>``. The OpenTelemetry API is never imported here:
    if the application has not imported it, there is no span to find.
    """
    otel = sys.modules.get("opentelemetry.trace")
    if otel is None:
        return {}
    try:
        context = otel.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        trace_id = f"{context.trace_id:032x}"
        span_id = f"{context.span_id:016x}"
        sampled = bool(context.trace_flags.sampled)
    except Exception:  # a broken tracer must not lose the log line
        return {}
    return {
        keys[0]: f"projects/{project}/traces/{trace_id}" if project else trace_id,
        keys[1]: span_id,
        keys[2]: sampled,
    }


def get_preset(preset: str | Preset) -> Preset:
    """A ``Preset`` by name (``"seed"``, ``"otel"``, ``"ecs"``, ``"gcp"``) or as given."""
    if isinstance(preset, Preset):
        return preset
    found = PRESETS.get(preset)
    if found is None:
        msg = f"preset {preset!r}: unknown; known: {', '.join(PRESETS)} (or a Preset object)"
        raise ValueError(msg)
    return found


def workload_names(info: PodInfo) -> dict[str, str]:
    """``deployment``/``replicaset``/``statefulset``/``daemonset``/``job`` -> owner name.

    A Deployment's ReplicaSet is ``<deployment>-<pod-template-hash>``, the hash taken from the
    ``pod-template-hash`` label or, without labels, from the pod name.
    """
    workload = info.workload
    kind, owner = workload.kind, workload.name
    if not owner or kind is None:
        return {}
    if kind == "Deployment":
        out = {"deployment": owner}
        template_hash = info.labels.get("pod-template-hash")
        if not template_hash and info.name and info.name.startswith(owner + "-"):
            rest = info.name[len(owner) + 1 :]
            template_hash = rest.rpartition("-")[0]
        if template_hash:
            out["replicaset"] = f"{owner}-{template_hash}"
        return out
    attribute = kind.lower()
    return {attribute: owner} if attribute in ATTRIBUTES else {}


def _attribute_values(info: PodInfo) -> dict[str, str | None]:
    values: dict[str, str | None] = {
        "name": info.name,
        "namespace": info.namespace,
        "node_name": info.node_name,
        "uid": info.uid,
        "pod_ip": info.pod_ip,
        "host_ip": info.host_ip,
        "container": info.container,
        "service_account": info.service_account,
    }
    values.update(workload_names(info))
    return values


def _mapping_fields(template: str, selected: Mapping[str, str], dedot: bool) -> dict[str, object]:
    if not selected:
        return {}
    if dedot:
        selected = {k.replace(".", "_"): v for k, v in selected.items()}
    if "{key}" not in template:
        return {template: dict(selected)}
    return {template.replace("{key}", k): v for k, v in selected.items()}


def identity_fields(
    info: PodInfo | None = None,
    *,
    preset: str | Preset = "seed",
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    unknown: str | None = UNKNOWN,
) -> dict[str, object]:
    """The identity fields of ``info`` (default ``podself.current()``), in output order.

    The preset's ``always`` attributes say ``unknown`` when unknown (``unknown=None`` leaves
    them out); other attributes appear only when known. Labels and annotations are opt-in:
    ``True`` or glob patterns; ``deny`` globs apply to both; ``NEVER_LOGGED`` and
    ``SECRET_PATTERNS`` keys are never included.
    """
    if info is None:
        import podself  # podself.logs imports podself lazily on purpose

        info = podself.current()
    chosen = get_preset(preset)
    values = _attribute_values(info)
    out: dict[str, object] = {}
    for attribute, key in chosen.fields.items():
        value = values.get(attribute)
        if value is None and attribute in chosen.always:
            value = unknown
        if value is not None:
            out[key] = value
    out.update(
        _mapping_fields(chosen.labels, Selector.of(labels, deny).select(info.labels), chosen.dedot)
    )
    out.update(
        _mapping_fields(
            chosen.annotations,
            Selector.of(annotations, deny).select(info.annotations),
            chosen.dedot,
        )
    )
    if chosen.group is not None:
        return {chosen.group: out} if out else {}
    return out


def rename_colliding(
    fields: Mapping[str, object], taken: Iterable[str] | Mapping[str, object]
) -> dict[str, object]:
    """``fields`` with each key already in ``taken`` renamed ``podself.<key>`` (repeatedly,
    until free), keeping the order: identity never replaces someone else's field."""
    used = set(taken)
    out: dict[str, object] = {}
    for key, value in fields.items():
        new = key
        while new in used or new in out:
            new = "podself." + new
        out[new] = value
        used.add(new)
    return out

"""Lint rules for Downward API usage in Kubernetes manifests, and the engine that runs them.

Errors are exactly what the API server rejects (same field path and message); warnings are what
the kubelet would only reveal at run time. Every rule has an id, a severity and a documented fix,
and can be turned off with ``--disable`` or the ``podself.dev/lint-disable`` annotation.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain, pairwise
from typing import Any, Final

from podself.downward import (
    CPU_DIVISORS,
    ENV_FIELD_PATHS,
    HUGEPAGES_PREFIXES,
    MEMORY_DIVISORS,
    RESOURCE_NAMES,
    VOLUME_FIELD_PATHS,
    default_requests,
    go_quote,
    qualified_name_errors,
    resource_value,
    split_maybe_subscripted_path,
)
from podself.errors import PodselfError
from podself.expand import references
from podself.manifest.load import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    LoadIssue,
    discover,
    scan_documents,
    scan_file,
    source_name,
    split_field_path,
)
from podself.manifest.workloads import Workload, iter_workloads
from podself.names import DIVISOR_UNITS, IDENTITY_ENV, RESOURCE_ENV_STEMS, env_table
from podself.quantity import Quantity
from podself.validation import (
    INVALID,
    NOT_FOUND,
    NOT_SUPPORTED,
    REQUIRED,
    TOO_LONG,
    TYPE_INVALID,
    UNKNOWN_FIELD,
    FieldError,
    api_quantity_string,
    decode_error,
    default_off_gate,
    known_fields,
    kubernetes_target_version,
    validate_annotations,
    validate_config_object,
    validate_labels,
    validate_object_meta,
    validate_pod_spec,
    validate_volume,
)

# dict first: the loader's mappings are dicts, and ABC checks cost more.
_MAPS: Final = (dict, Mapping)

__all__ = [
    "DISABLE_ANNOTATION",
    "RULES",
    "SEVERITIES",
    "Finding",
    "LintResult",
    "Rule",
    "env_references",
    "lint_documents",
    "lint_paths",
    "lint_text",
    "lint_workload",
    "severity_rank",
]

SEVERITIES: Final = ("error", "warning", "info")
_RANK: Final = {"info": 0, "warning": 1, "error": 2}

# Comma- or space-separated rule ids (or "all") on the object's or the pod template's metadata.
DISABLE_ANNOTATION: Final = "podself.dev/lint-disable"


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error (``ValueError`` for anything else)."""
    try:
        return _RANK[severity]
    except KeyError:
        msg = f"severity {severity!r}: must be one of {', '.join(SEVERITIES)}"
        raise ValueError(msg) from None


@dataclass(frozen=True, slots=True)
class Rule:
    """A lint rule: ``id`` (kebab-case), ``severity``, a one-line ``summary``, a ``doc``
    paragraph that explains the problem and its fix, and ``fix``, the one-line hint shown with
    a finding. ``category`` is ``api`` (the API server rejects it), ``runtime`` (a surprise at
    run time), ``advice`` (conventions) or ``input`` (the file itself)."""

    id: str
    severity: str
    category: str
    summary: str
    doc: str
    fix: str


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem at a place: ``file:line:column``, the Kubernetes ``field`` path, the
    ``object`` (``Kind/name`` or ``Kind/namespace/name``) and a ``hint`` on how to fix it."""

    rule: str
    severity: str
    message: str
    file: str
    line: int
    column: int
    field: str = ""
    object: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: rule, severity, message, file, line, column, field, object, hint."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "field": self.field,
            "object": self.object,
            "hint": self.hint,
        }


@dataclass(slots=True)
class LintResult:
    """Findings of a run plus what was read: files, documents and workloads counted, and
    ``input_errors`` for inputs that could not be read at all (missing files, no PyYAML), and
    ``emitted`` counts by (rule, severity) of findings printed as found rather than kept."""

    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    documents: int = 0
    workloads: int = 0
    input_errors: list[str] = field(default_factory=list)
    # (rule, severity) -> findings handed to lint_paths' ``emit`` instead of kept in findings.
    emitted: dict[tuple[str, str], int] = field(default_factory=dict)


def _rule(rule_id: str, severity: str, category: str, summary: str, doc: str, *, fix: str) -> Rule:
    return Rule(rule_id, severity, category, summary, " ".join(doc.split()), fix)


_RULE_LIST: Final = (
    _rule(
        "invalid-yaml",
        "error",
        "input",
        "The file is not valid YAML or JSON (or not UTF-8).",
        """The file cannot be parsed, so nothing in it can be applied: `kubectl apply` stops at
        the same place. The finding points at the line and column where the parser gave up;
        documents before that point are still checked. Fix the syntax there (a missing `:`,
        a bad indent, an unclosed bracket or quote). Helm templates must be rendered first:
        `helm template . | podself lint -`.""",
        fix="fix the syntax here; render templates first (helm template . | podself lint -)",
    ),
    _rule(
        "input-limit",
        "error",
        "input",
        "The input is over a safety limit (size, documents, alias expansion or nesting).",
        """Manifests are untrusted input. A file over the size limit (64 MiB by default,
        `--max-bytes`) or with more than 100,000 documents (`--max-documents`, empty ones
        included), a document whose YAML aliases expand to more than 100,000 extra nodes
        (a "billion laughs" bomb), aliases that refer to themselves, or nesting too deep to
        parse are refused without being expanded. Split very large streams into several files,
        or raise the limit when the input is trusted; remove recursive or exponential
        aliases.""",
        fix="split the input or raise --max-bytes/--max-documents; remove recursive or "
        "exponential YAML aliases",
    ),
    _rule(
        "invalid-field-ref",
        "error",
        "api",
        "A `fieldRef` the API server rejects (field path, subscript key or apiVersion).",
        """The API server validates every `fieldRef`: env vars accept `metadata.name`,
        `metadata.namespace`, `metadata.uid`, `spec.nodeName`, `spec.serviceAccountName`,
        `status.hostIP(s)`, `status.podIP(s)` and `metadata.labels['key']` /
        `metadata.annotations['key']`; a `downwardAPI` volume item accepts only
        `metadata.name`, `metadata.namespace`, `metadata.uid`, `metadata.labels`,
        `metadata.annotations` and the subscripted forms. A typo such as `metadata.pod.name`,
        a node or IP field in a volume, a whole label map in an env var, an invalid label key
        or an `apiVersion` other than `v1` makes the whole object invalid. The message is the
        API server's own. Fix the path (IPs and node name belong in env vars; whole maps in
        volumes).""",
        fix="use a field path the API accepts here (see the supported values in the message)",
    ),
    _rule(
        "invalid-resource-field-ref",
        "error",
        "api",
        "A `resourceFieldRef` the API server rejects (resource, divisor or containerName).",
        """`resourceFieldRef.resource` must be `limits.` or `requests.` followed by `cpu`,
        `memory`, `ephemeral-storage` or `hugepages-<size>`; the divisor must be `1m` or `1`
        for cpu and one of `1`, `1k`, `1M`, `1G`, `1T`, `1P`, `1E`, `1Ki`, `1Mi`, `1Gi`,
        `1Ti`, `1Pi`, `1Ei` otherwise (compared in canonical form, so `1000m` is `1`); a
        `downwardAPI` volume item must name its `containerName`. Fix the resource name (for
        example `limits.memory`, not `memory`) or the divisor.""",
        fix="use limits.<resource>/requests.<resource> and a supported divisor",
    ),
    _rule(
        "invalid-env-source",
        "error",
        "api",
        "An env var whose `valueFrom` the API server rejects.",
        """`valueFrom` must hold exactly one of `fieldRef`, `resourceFieldRef`,
        `configMapKeyRef` or `secretKeyRef`, and cannot be combined with a non-empty `value`.
        Key selectors need a valid `name` and `key`. Keep one source per variable: remove
        `value` or `valueFrom`, or split the variable in two.""",
        fix="give the variable either value or valueFrom with exactly one source",
    ),
    _rule(
        "invalid-env-name",
        "error",
        "api",
        "An env var name the API server rejects.",
        """Env var names must be non-empty and made of printable ASCII characters other than
        `=` (Kubernetes 1.34 and later; older releases required a C-identifier-like name of
        letters, digits, `_`, `-` and `.` not starting with a digit). Rename the variable.""",
        fix="rename the variable: printable ASCII without '='",
    ),
    _rule(
        "invalid-volume",
        "error",
        "api",
        "A volume the API server rejects (name, item paths, modes, one volume type).",
        """Volume names are unique DNS labels (lower-case letters, digits and `-`, at most 63).
        Each item of a `downwardAPI`, `projected`, `secret` or `configMap` volume needs a
        relative `path` without `..` elements that does not start with `..`, and every
        `mode` and `defaultMode` must be between 0 and 0777 (no setuid, setgid or sticky
        bits); a `downwardAPI` item needs exactly one of `fieldRef` and `resourceFieldRef`, a
        projected source holds one kind and its paths must be unique across sources, a
        `secret` needs `secretName` and a `configMap` its `name`. Fix the item the message
        names.""",
        fix="fix the volume item named in the message",
    ),
    _rule(
        "invalid-name",
        "error",
        "api",
        "A name the API server rejects: the object, its namespace, a container, or the "
        "pod's hostname or subdomain.",
        """`metadata.name` (and a `generateName` prefix) must be a DNS subdomain: lower-case
        letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253
        characters (a CronJob's at most 52). `metadata.namespace`, every container name and
        the pod's `hostname` and `subdomain` must be a DNS label: the same without `.`, at
        most 63 characters; container names are unique across `containers`,
        `initContainers` and `ephemeralContainers`. Names like `..`, `a/b` or `../../etc` are
        refused, so no name can leave a directory or add a line to `/etc/hosts`. Rename the
        object, namespace, container or host.""",
        fix="use lower-case letters, digits and '-' (and '.' in object names only)",
    ),
    _rule(
        "invalid-volume-mount",
        "error",
        "api",
        "A `volumeMounts` entry the API server rejects.",
        """Each mount names a volume of the pod that is itself valid (a mount of an invalid
        volume is also reported as not found), has a `mountPath` unique in the container,
        and a `subPath` or `subPathExpr` (not both) that is a relative path without `..`
        elements. Kubernetes reports the `subPath` errors at the `volumeMounts` list rather
        than at the mount; the finding points at the mount. Fix the mount's name or paths.""",
        fix="name a valid volume, give a unique mountPath and a relative subPath without '..'",
    ),
    _rule(
        "invalid-label",
        "error",
        "api",
        "A label or annotation of the object or its pod template the API server rejects.",
        """Label keys and annotation keys are qualified names: an optional DNS subdomain prefix
        of at most 253 characters and `/`, then a name of at most 63 characters made of
        letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit. Label
        values are empty or at most 63 such characters; annotation values are free, but keys
        and values together may not exceed 256 KiB. The object's own labels and its pod
        template's are checked (Kubernetes reports a template's at `spec.template.labels`).
        Fix the key or value the finding points at.""",
        fix="use a qualified-name key and a label value of at most 63 characters",
    ),
    _rule(
        "invalid-container",
        "error",
        "api",
        "A pod spec without containers, a container without an image, or ephemeral containers.",
        """A pod needs at least one container, and each container an `image` (a Pod's image
        may not start or end with white space). `ephemeralContainers` are added to a running
        pod by `kubectl debug`: a Pod cannot be created with them and a pod template cannot
        hold them (nor may they mount with `subPath`). Add the missing field or remove the
        ephemeral containers.""",
        fix="add the container or its image; remove ephemeralContainers from the manifest",
    ),
    _rule(
        "invalid-type",
        "error",
        "api",
        "A field of the wrong JSON type (for example a number where a string is required).",
        """The API server cannot even decode the object: a string field holds a number or a
        list, an object is a string, and so on. YAML turns unquoted `8080`, `true` or `1.0`
        into numbers and booleans; quote values that must be strings.""",
        fix="quote the value or give the field the type the API expects",
    ),
    _rule(
        "invalid-config-object",
        "error",
        "api",
        "A ConfigMap or Secret the API server rejects (name, keys or size).",
        """Every key of a ConfigMap's `data` and `binaryData` and of a Secret's `data` and
        `stringData` becomes a file name when the object is mounted, so the API server only
        accepts config keys: letters, digits, `-`, `_` and `.`, at most 253 characters, not
        `.` or `..` and not starting with `..` (`../x`, `a/b` and `..data` are refused). A key
        may not be in both `data` and `binaryData`, the data may not exceed 1 MiB, and the
        object's name and namespace follow the usual rules. Rename the key (mount it under
        another file name with `items[].path`) or the object.""",
        fix="use a config key: letters, digits, '-', '_' and '.', not starting with '..'",
    ),
    _rule(
        "yaml-typed-scalar",
        "warning",
        "advice",
        "An unquoted YAML value that Kubernetes reads as a boolean or number, not as text.",
        """kubectl reads YAML with go-yaml v2's rules, where unquoted `y`, `n`, `yes`, `no`,
        `on` and `off` (any case form) are booleans and `0o22`, `010`, `0x1F`, `08`, `1e3` or
        `420.0` are numbers. In a field that holds text (an env var's `value` or `name`, a
        label or annotation, a name, a path, an image, `command` or `args`) the API server
        then refuses the object; as a label or annotation key, `y:` silently becomes the key
        `"true"`. The finding points at the value and says what Kubernetes reads. Quote it
        (`"y"`, `'0o22'`) when the text is meant.""",
        fix="quote the value",
    ),
    _rule(
        "unknown-container",
        "warning",
        "runtime",
        "`resourceFieldRef.containerName` names no container of the pod.",
        """The API server does not check `containerName` against the pod's containers, so the
        object is accepted, but the kubelet cannot resolve the value: an env var fails with
        `container <name> not found` (CreateContainerConfigError) and a volume never mounts
        (the pod stays in ContainerCreating with a FailedMount event). Name one of the pod's
        containers or init containers, or leave `containerName` out of an env var to mean the
        container itself.""",
        fix="name one of the pod's containers (or omit containerName in env to mean this one)",
    ),
    _rule(
        "resource-not-set",
        "warning",
        "runtime",
        "A `resourceFieldRef` reads a limit or request the container does not set.",
        """When a container has no cpu, memory or ephemeral-storage *limit*, the kubelet
        reports the node's allocatable amount instead, so an app that sizes itself from the
        value plans for the whole node. A *request* that is not set (and has no limit to be
        defaulted from) reads as `0`, and an unset hugepages limit as `0`. Set the limit or
        request on the container (a LimitRange that sets defaults in the namespace also
        works; disable this rule for such objects with the annotation).""",
        fix="set the limit/request on the container (resources.limits / resources.requests)",
    ),
    _rule(
        "divisor-rounding",
        "warning",
        "runtime",
        "A divisor that does not divide the quantity, so the value is rounded up.",
        """The kubelet computes `ceil(quantity / divisor)`: cpu `200m` with divisor `1` gives
        `1`, memory `100M` with divisor `1Mi` gives `96` (95.37 rounded up). An app that
        trusts the number uses more than it was given. Pick a divisor that divides the
        quantity exactly (`1m` for cpu; `1M` or `1` for decimal memory sizes), or change the
        quantity.""",
        fix="use a divisor that divides the quantity exactly",
    ),
    _rule(
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
    _rule(
        "divisor-overflow",
        "warning",
        "runtime",
        "A divisor past int64 that the API server accepts as if it were 1.",
        """apimachinery prints a quantity past the `E` suffix without its magnitude, so the API
        server's divisor check reads `1000E` (or `1000000000000000000000`) as `1` and accepts
        it. The kubelet then divides by the divisor's int64 value, which overflows (to 0 for
        `1000E`), and writes a meaningless number such as `-9223372036854775808`. Write the
        divisor you mean: `1`, or a listed unit such as `1Mi` or `1E`.""",
        fix='write divisor "1" or another listed unit (1k, 1Mi, 1E...)',
    ),
    _rule(
        "undefined-label",
        "warning",
        "runtime",
        "An env var reads a pod label that the pod template does not set.",
        """`metadata.labels['key']` for a key the pod does not have is not an error: the
        variable is set to the empty string. Labels of pods created from a template are
        exactly the template's labels (plus the few a controller adds, such as
        `pod-template-hash`, and `batch.kubernetes.io/job-completion-index` on the pods of an
        Indexed Job only, which this rule knows), so a missing key is almost always a typo
        or a label set on the wrong object (for example on the Deployment instead of its
        `spec.template`). Add the label to the pod template's metadata or fix the key.""",
        fix="add the label to the pod template's metadata.labels, or fix the key",
    ),
    _rule(
        "undefined-annotation",
        "info",
        "runtime",
        "An env var reads a pod annotation that the pod template does not set.",
        """`metadata.annotations['key']` for a key the pod does not have gives an empty
        variable. Unlike labels, annotations are often added after the manifest is written
        (by admission webhooks or controllers), so this is only information. Add the
        annotation to the pod template's metadata if the app depends on it.""",
        fix="add the annotation to the pod template's metadata.annotations if the app needs it",
    ),
    _rule(
        "static-metadata-env",
        "info",
        "runtime",
        "A label or annotation that looks like live configuration is read through an env var.",
        """Env vars are resolved once, when the container starts; `kubectl label` or
        `kubectl annotate` on a running pod changes nothing inside it. When the key or the
        variable name suggests something meant to change at run time (feature flags,
        toggles, log levels, config, rollout weights...), expose it as a file in a
        `downwardAPI` volume instead: the kubelet rewrites it after a change, and
        `podself.watch` reports the update.""",
        fix="use a downwardAPI volume item and re-read the file on change (podself.watch)",
    ),
    _rule(
        "subpath-never-updates",
        "warning",
        "runtime",
        "A `downwardAPI` or `projected` volume is mounted with `subPath`.",
        """The kubelet updates a `downwardAPI` volume by swapping its `..data` symlink, which
        a `subPath` mount does not follow: files under a `subPath` keep the content they had
        when the container started, so labels, annotations and resource values never update
        there (and a `subPath` naming no item gives an empty directory). Mount the whole volume
        at a directory and read the file inside it.""",
        fix="mount the whole volume at a directory (no subPath) and read the file inside it",
    ),
    _rule(
        "undefined-env-reference",
        "warning",
        "runtime",
        "A `$(VAR)` reference to a variable that is not defined before it.",
        """Kubernetes expands `$(VAR)` in env values, `command` and `args` only when `VAR` is
        already defined: for an env value, by an earlier entry of the same container's `env`
        or by `envFrom`; for `command` and `args`, by any of the container's variables
        (service link variables such as `X_SERVICE_HOST` count too). Otherwise the text
        `$(VAR)` is passed on unchanged. Define the variable above the one that uses it, fix
        the name, or write `$$(VAR)` for a literal `$(VAR)`.""",
        fix="define the variable earlier in env, or write $$(VAR) for a literal text",
    ),
    _rule(
        "duplicate-env",
        "warning",
        "runtime",
        "The same env var name is defined twice in a container.",
        """The last definition wins in the container, but `kubectl apply` merges env lists by
        name and may drop one of them, and the API server warns: `hides previous definition`.
        A redefinition that extends the earlier value (`X: "$(X):more"`) is not reported,
        as in Kubernetes. Remove one of the definitions.""",
        fix="remove one of the definitions",
    ),
    _rule(
        "env-name-mismatch",
        "warning",
        "advice",
        "The env var's name promises a different field, resource or unit than it gets.",
        """Names carry meaning: `K8S_POD_NAME` should hold `metadata.name`,
        `RESOURCE_MEMORY_LIMIT_MB` the memory limit in MiB (divisor `1Mi`),
        `RESOURCE_CPU_LIMIT_MILLICORES` the cpu limit in millicores (divisor `1m`). podself
        reads these names with the unit their suffix states, and so do people. A name whose
        unit suffix disagrees with the divisor (`_MB` with divisor `1`, so bytes) or that reads
        another field or resource misleads every reader. Fix the divisor, the reference or the
        name.""",
        fix="make the name, the reference and the divisor agree",
    ),
    _rule(
        "naming-convention",
        "info",
        "advice",
        "The env var does not follow the `K8S_` / `RESOURCE_<...>_<UNIT>` naming convention.",
        """The Self Awareness pattern names Downward API variables by where they come from:
        `K8S_` for pod metadata (`K8S_POD_NAME`, `K8S_NAMESPACE`, `K8S_POD_IP`), `RESOURCE_`
        plus the resource, limit or request, and the unit for resources
        (`RESOURCE_MEMORY_LIMIT_MB` with divisor `1Mi`, `RESOURCE_CPU_LIMIT_MILLICORES` with
        `1m`), and `APP_` for the app's own settings. Consistent names make an app portable
        and are what `podself` looks for first. Only names that already look like identity or
        resource variables are judged (upper case, and `POD_`/`NODE_`/`HOST_` or `_NAME`,
        `_NAMESPACE`, `_IP`, `_UID` for metadata; a word such as `CPU`, `MEMORY`, `LIMIT` or a
        unit suffix for resources): other names are the app's own business. Rename the
        variable as suggested (or disable this rule when another convention, such as
        OpenTelemetry's, is in use).""",
        fix="rename the variable as suggested",
    ),
)

RULES: Final[Mapping[str, Rule]] = {rule.id: rule for rule in _RULE_LIST}


# --- the pod template, flattened once --------------------------------------------------------


class _Env:
    __slots__ = ("container", "field_ref", "index", "name", "path", "resource_ref", "value")

    def __init__(self, container: _Container, index: int, var: Mapping[str, Any]) -> None:
        self.container = container
        self.index = index
        self.path = f"{container.path}.env[{index}]"
        name = var.get("name")
        self.name = name if isinstance(name, str) else None
        self.value = var.get("value")
        source = var.get("valueFrom")
        field_ref = resource_ref = None
        if isinstance(source, _MAPS):
            field_ref = source.get("fieldRef")
            resource_ref = source.get("resourceFieldRef")
        self.field_ref = field_ref if isinstance(field_ref, _MAPS) else None
        self.resource_ref = resource_ref if isinstance(resource_ref, _MAPS) else None


class _Container:
    __slots__ = ("data", "env", "name", "path")

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        name = data.get("name")
        self.name = name if isinstance(name, str) else ""
        env = data.get("env")
        self.env: list[_Env] = []
        if isinstance(env, list):
            self.env = [_Env(self, i, var) for i, var in enumerate(env) if isinstance(var, _MAPS)]


class _Item:
    """One Downward API item of a volume (downwardAPI, or a projected downwardAPI source)."""

    __slots__ = ("field_ref", "item_path", "path", "resource_ref")

    def __init__(self, path: str, item: Mapping[str, Any]) -> None:
        self.path = path  # the field path of the item itself
        item_path = item.get("path")
        self.item_path = item_path if isinstance(item_path, str) else ""
        field_ref = item.get("fieldRef")
        resource_ref = item.get("resourceFieldRef")
        self.field_ref = field_ref if isinstance(field_ref, _MAPS) else None
        self.resource_ref = resource_ref if isinstance(resource_ref, _MAPS) else None


class _Volume:
    __slots__ = ("has_other_files", "items", "kind", "name", "path")

    def __init__(self, path: str, data: Mapping[str, Any]) -> None:
        self.path = path
        name = data.get("name")
        self.name = name if isinstance(name, str) else ""
        self.items: list[_Item] = []
        # Files whose names this check cannot list (configMap/secret keys, tokens...).
        self.has_other_files = False
        self.kind = ""
        downward = data.get("downwardAPI")
        projected = data.get("projected")
        if isinstance(downward, _MAPS):
            self.kind = "downwardAPI"
            self._add_items(f"{path}.downwardAPI", downward)
        elif isinstance(projected, _MAPS):
            self.kind = "projected"
            sources = projected.get("sources")
            for index, source in enumerate(sources if isinstance(sources, list) else ()):
                if not isinstance(source, _MAPS):
                    continue
                inner = source.get("downwardAPI")
                if isinstance(inner, _MAPS):
                    self._add_items(f"{path}.projected.sources[{index}].downwardAPI", inner)
                if any(key != "downwardAPI" for key in source):
                    self.has_other_files = True

    def _add_items(self, base: str, source: Mapping[str, Any]) -> None:
        items = source.get("items")
        for index, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, _MAPS):
                self.items.append(_Item(f"{base}.items[{index}]", item))


# Where to point: a field path, or segments (for map keys that hold dots, such as labels').
_Where = str | tuple[str | int, ...]
_Raw = tuple[str, str, str, str, _Where]  # rule id, field, message, hint, where to point


class _Pod:
    """The parts of one pod template the checks read, gathered in one pass."""

    def __init__(self, workload: Workload, enabled: frozenset[str]) -> None:
        self.workload = workload
        self.enabled = enabled
        self.found: list[_Raw] = []
        spec = workload.spec
        base = workload.spec_path
        self.containers: list[_Container] = []
        self.container_names: set[str] = set()
        for key in ("containers", "initContainers", "ephemeralContainers"):
            group = spec.get(key)
            if not isinstance(group, list):
                continue
            for index, data in enumerate(group):
                if isinstance(data, _MAPS):
                    container = _Container(f"{base}.{key}[{index}]", data)
                    self.containers.append(container)
                    if key != "ephemeralContainers" and container.name:
                        self.container_names.add(container.name)
        self.by_name: dict[str, _Container] = {}
        for container in self.containers:
            if container.path.startswith(f"{base}.ephemeralContainers"):
                continue
            self.by_name.setdefault(container.name, container)
        self.volumes: list[_Volume] = []
        volumes = spec.get("volumes")
        if isinstance(volumes, list):
            for index, data in enumerate(volumes):
                if isinstance(data, _MAPS):
                    volume = _Volume(f"{base}.volumes[{index}]", data)
                    if volume.kind:
                        self.volumes.append(volume)
        meta = workload.metadata
        labels = meta.get("labels")
        annotations = meta.get("annotations")
        self.labels: Mapping[str, Any] = labels if isinstance(labels, _MAPS) else {}
        self.annotations: Mapping[str, Any] = annotations if isinstance(annotations, _MAPS) else {}

    def report(
        self, rule: str, path: str, message: str, hint: str = "", where: _Where = ""
    ) -> None:
        """Record a finding at field ``path`` (pointed at ``where`` when the path is coarse)."""
        if rule in self.enabled:
            self.found.append((rule, path, message, hint, where or path))

    def wants(self, *rules: str) -> bool:
        return any(rule in self.enabled for rule in rules)


# --- API validation (errors) -----------------------------------------------------------------

_ENV_NAME_FIELD: Final = re.compile(r"\.env\[\d+\]\.name$")
_CONTAINER_NAME_FIELD: Final = re.compile(r"[cC]ontainers\[\d+\]\.name$")
_HOST_NAME_FIELD: Final = re.compile(r"spec\.(hostname|subdomain)$")
# Kubernetes reports these at the volumeMounts list; the finding points at the mount.
_MOUNT_LIST_FIELD: Final = re.compile(
    r"\.volumeMounts\.(subPath|subPathExpr|mountPropagation|recursiveReadOnly)$"
)


def _classify(err: FieldError) -> str:
    path = err.field
    if err.type == TYPE_INVALID:
        return "invalid-type"
    if path.endswith((".labels", ".annotations")):
        return "invalid-label"
    if ".resourceFieldRef" in path:
        return "invalid-resource-field-ref"
    if ".fieldRef" in path:
        return "invalid-field-ref"
    if ".volumes[" in path:
        return "invalid-volume"
    if _ENV_NAME_FIELD.search(path):
        return "invalid-env-name"
    if ".volumeMounts" in path:
        return "invalid-volume-mount"
    if (
        path.startswith("metadata.")
        or _CONTAINER_NAME_FIELD.search(path)
        or _HOST_NAME_FIELD.search(path)
    ):
        return "invalid-name"
    if ".env" in path:
        return "invalid-env-source"
    return "invalid-container"


def _closest(value: str, choices: Iterable[str]) -> str | None:
    from difflib import get_close_matches  # only for a hint on an error

    found = get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return found[0] if found else None


def _same_name_path(value: str, choices: Sequence[str]) -> str | None:
    """The supported field path with the same last segment as ``value`` under another root
    (``metadata.podIP`` -> ``status.podIP``), the closest if several; None if there is none."""
    name = value.rpartition(".")[2].lower()
    same = [c for c in choices if c.rpartition(".")[2].lower() == name]
    return (_closest(value, same) or same[0]) if same else None


def _api_hint(err: FieldError) -> str:
    if err.type == TYPE_INVALID:
        answer = decode_error(err)
        if answer is not None:
            return f"{RULES['invalid-type'].fix}; the API server refuses the object: {answer}"
    path = err.field
    value = err.bad_value
    if err.type == UNKNOWN_FIELD:
        parent, _, key = path.rpartition(".")
        known = known_fields(parent)
        if known is not None and key not in known:
            lowered = {name.lower(): name for name in known}
            guess = lowered.get(key.lower()) or _closest(key, known)
            fix = (
                f"did you mean {guess}?" if guess else f"the fields are {', '.join(sorted(known))}"
            )
            return f"no such field here (kubectl's strict field validation refuses it): {fix}"
        return (
            "the target Kubernetes release has no such field (it came later; see "
            "docs/reference/validation.md): pick the cluster's release with --kubernetes-version"
        )
    in_volume = ".volumes[" in path
    if path.endswith(".fieldRef.fieldPath") and isinstance(value, str):
        if err.type == NOT_SUPPORTED:
            if in_volume and value in ENV_FIELD_PATHS:
                return (
                    f"{value} is available only to env vars (env[].valueFrom.fieldRef); a "
                    "downwardAPI volume holds metadata.name, metadata.namespace, metadata.uid, "
                    "metadata.labels and metadata.annotations"
                )
            if not in_volume and value in ("metadata.labels", "metadata.annotations"):
                return (
                    f"an env var takes one key: {value}['key']; mount a downwardAPI volume "
                    "for the whole map (it also follows changes)"
                )
        elif err.type == INVALID:
            detail = err.detail
            if "unsupported pod version" in detail:
                return 'fieldRef.apiVersion must be "v1" (or left out)'
            if "does not support subscript" in detail:
                return "only metadata.labels and metadata.annotations take a ['key'] subscript"
            choices = VOLUME_FIELD_PATHS if in_volume else ENV_FIELD_PATHS
            # The same field name under another root beats the closest text: metadata.podIP
            # is status.podIP, not metadata.uid.
            guess = _same_name_path(value, choices)
            if in_volume and guess is None:
                env_guess = _same_name_path(value, ENV_FIELD_PATHS)
                if env_guess is not None:
                    return (
                        f'did you mean "{env_guess}"? It is available only to env vars '
                        "(env[].valueFrom.fieldRef)"
                    )
            if guess is None:
                guess = _closest(value, choices)
            if guess is not None:
                return f'did you mean "{guess}"?'
    if path.endswith(".fieldRef") and err.type == INVALID:
        return (
            "label and annotation keys are an optional DNS subdomain prefix and '/', then a "
            "name of up to 63 characters: letters, digits, '-', '_' and '.'"
        )
    if path.endswith(".resourceFieldRef.divisor") and err.type == INVALID:
        if isinstance(value, str) and value.endswith(".cpu"):
            return 'use divisor "1m" (millicores) or "1" (cores)'
        return 'use a power-of-two divisor ("1Ki", "1Mi", "1Gi") or a decimal one ("1k", "1M")'
    if (
        path.endswith(".resourceFieldRef.resource")
        and err.type == NOT_SUPPORTED
        and value in ("cpu", "memory", "ephemeral-storage")
    ):
        return f'write "limits.{value}" or "requests.{value}"'
    if ".volumeMounts[" in path and err.type == NOT_FOUND:
        return f'spec.volumes has no valid volume named "{value}": add it or fix the name'
    if path.endswith(".image") and err.type == REQUIRED:
        return "give the container an image (podself run does not pull it, the API needs it)"
    if path.endswith(".ephemeralContainers"):
        return "remove ephemeralContainers: kubectl debug adds them to a running pod"
    if path.endswith(".resourceFieldRef.containerName") and err.type == REQUIRED:
        return "a volume item has no container of its own: name the container to read"
    return RULES[_classify(err)].fix


def _navigate(obj: object, path: str) -> object:
    for segment in split_field_path(path):
        if isinstance(segment, int):
            obj = obj[segment] if isinstance(obj, list) and 0 <= segment < len(obj) else None
        else:
            obj = obj.get(segment) if isinstance(obj, _MAPS) else None
    return obj


def _item_signature(err: FieldError, prefix: str) -> tuple[str, str, str, str]:
    return err.type, err.field[len(prefix) :], repr(err.bad_value), err.detail


def _item_location(workload: Workload, err: FieldError, used: dict[object, Any]) -> str:
    """Where a downwardAPI item error points: Kubernetes names no ``items[i]``, so find the
    item that gives this error on its own (the n-th such item for the n-th same error). Each
    item is validated once per volume, so many errors cost linear time."""
    at = err.field.rfind(".downwardAPI")
    if at < 0:
        return ""
    base = err.field[: at + len(".downwardAPI")]
    if err.field[len(base) :].startswith(".items"):
        return ""
    index = used.get(base)
    if index is None:
        index = {}
        source = _navigate(workload.object, base)
        items = source.get("items") if isinstance(source, _MAPS) else None
        for position, item in enumerate(items if isinstance(items, list) else ()):
            if not isinstance(item, _MAPS):
                continue
            probe = validate_volume({"name": "probe", "downwardAPI": {"items": [item]}}, "v")
            for signature in dict.fromkeys(_item_signature(e, "v.downwardAPI") for e in probe):
                index.setdefault(signature, []).append(position)
        used[base] = index
    signature = _item_signature(err, base)
    positions = index.get(signature, [])
    nth = used.get((base, signature), 0)
    if nth >= len(positions):
        return ""
    used[(base, signature)] = nth + 1
    return f"{base}.items[{positions[nth]}]{err.field[len(base) :]}"


def _mount_location(workload: Workload, err: FieldError, used: dict[object, Any]) -> str:
    """The mount a list-level volumeMounts error is about: the next mount whose field holds
    the bad value (or sets the field, when the error shows no value). The mounts are indexed
    once per list, so many errors cost linear time."""
    found = _MOUNT_LIST_FIELD.search(err.field)
    if found is None:
        return ""
    base, key = err.field[: found.start() + len(".volumeMounts")], found.group(1)
    index = used.get((base, key))
    if index is None:
        mounts = _navigate(workload.object, base)
        index = {}
        for position, mount in enumerate(mounts if isinstance(mounts, list) else ()):
            value = mount.get(key) if isinstance(mount, _MAPS) else None
            if value is not None:
                index.setdefault(None, []).append(position)
                if isinstance(value, str):
                    index.setdefault(value, []).append(position)
        used[(base, key)] = index
    signature = (base, key, err.type, repr(err.bad_value), err.detail)
    positions = index.get(err.bad_value if isinstance(err.bad_value, str) else None, [])
    nth = used.get(signature, 0)
    if nth >= len(positions):
        return ""
    used[signature] = nth + 1
    return f"{base}[{positions[nth]}].{key}"


def _check_api(pod: _Pod) -> None:
    workload = pod.workload
    used: dict[object, Any] = {}
    # Without a namespace kubectl uses the context's, which the API server has accepted.
    namespace = workload.namespace or "default"
    errors = validate_object_meta(
        workload.object_metadata, "metadata", namespace=namespace, kind=workload.kind
    )
    template = workload.kind != "Pod"
    errors += validate_pod_spec(workload.spec, workload.spec_path, template=template)
    volumes = workload.spec.get("volumes")
    declared = {
        v["name"]
        for v in (volumes if isinstance(volumes, list) else ())
        if isinstance(v, _MAPS) and isinstance(v.get("name"), str)
    }
    for err in errors:
        if err.type == NOT_FOUND and ".volumeMounts[" in err.field and err.bad_value in declared:
            continue  # the volume's own error says it: an invalid volume claims no name
        if ".downwardAPI" in err.field:
            where = _item_location(workload, err, used)
        else:
            where = _mount_location(workload, err, used)
        pod.report(_classify(err), err.field, str(err), _api_hint(err), where)
    _check_metadata_maps(pod)


def _metadata_places(workload: Workload) -> list[tuple[Mapping[str, Any], str, tuple[str, ...]]]:
    """(metadata, the path the API server reports its labels at, where it is written): the
    object's own (for a workload) and the pod template's."""
    written = tuple(str(s) for s in split_field_path(workload.metadata_path))
    if workload.kind == "Pod":
        return [(workload.metadata, "metadata", written)]
    template = workload.metadata_path.removesuffix(".metadata")
    return [
        (workload.object_metadata, "metadata", ("metadata",)),
        (workload.metadata, template, written),
    ]


def _check_metadata_maps(pod: _Pod) -> None:
    """ValidateLabels and ValidateAnnotations, each error pointed at its key (the total
    annotation size at the map)."""
    for metadata, path, written in _metadata_places(pod.workload):
        if not isinstance(metadata, _MAPS):
            continue
        for bag, check in (("labels", validate_labels), ("annotations", validate_annotations)):
            values = metadata.get(bag)
            field_path = f"{path}.{bag}"
            errors: list[tuple[FieldError, _Where]] = []
            if isinstance(values, _MAPS):
                for key, value in values.items():
                    errors.extend(
                        (e, (*written, bag, key))
                        for e in check({key: value}, field_path)
                        if e.type != TOO_LONG
                    )
                errors.extend(
                    (e, (*written, bag)) for e in check(values, field_path) if e.type == TOO_LONG
                )
            else:
                errors.extend((e, (*written, bag)) for e in check(values, field_path))
            for err, where in errors:
                hint = _LABEL_HINT if err.type == INVALID else _api_hint(err)
                pod.report(_classify(err), err.field, str(err), hint, where)


_LABEL_HINT: Final = (
    "keys are an optional DNS subdomain prefix (up to 253 characters) and '/', then a name of "
    "up to 63: letters, digits, '-', '_' and '.'; label values up to 63 of the same, starting "
    "and ending with a letter or digit"
)


# --- resourceFieldRef at run time ------------------------------------------------------------

_DEFAULTED_LIMITS: Final = ("cpu", "memory", "ephemeral-storage")
_NOUNS: Final = {"cpu": "CPU", "memory": "memory", "ephemeral-storage": "ephemeral storage"}


@lru_cache(maxsize=512)
def _quantity(text: str) -> Quantity | None:
    try:
        return Quantity.from_json(text)
    except PodselfError:
        return None


def _as_quantity(value: object) -> Quantity | None:
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


def _divisor_ok(resource: str, divisor: Quantity) -> bool:
    """Whether the API accepts ``divisor`` with ``resource`` (zero means unset)."""
    if divisor.is_zero():
        return True
    allowed = CPU_DIVISORS if resource.endswith(".cpu") else MEMORY_DIVISORS
    return str(divisor) in allowed


def _valid_resource(resource: object) -> bool:
    return isinstance(resource, str) and (
        resource in RESOURCE_NAMES or resource.startswith(HUGEPAGES_PREFIXES)
    )


def _resource_refs(pod: _Pod) -> Iterator[tuple[str, Mapping[str, Any], _Container | None]]:
    """(field path of the resourceFieldRef, the ref, the env's own container or None)."""
    for container in pod.containers:
        for env in container.env:
            if env.resource_ref is not None:
                yield f"{env.path}.valueFrom.resourceFieldRef", env.resource_ref, container
    for volume in pod.volumes:
        for item in volume.items:
            if item.resource_ref is not None:
                yield f"{item.path}.resourceFieldRef", item.resource_ref, None


def _show(value: object) -> str:
    return value if isinstance(value, str) else str(value)


def _ratio_text(top: int, bottom: int) -> str:
    """``top / bottom`` for a message: three decimals, more when those would hide the rest."""
    whole, rest = divmod(top, bottom)
    if not rest:
        return str(whole)
    text = f"{top / bottom:.3f}".rstrip("0").rstrip(".")
    if text in (str(whole), str(whole + 1)):
        return f"{top / bottom:.6g}"
    return text


def _exact_divisor(resource_kind: str, amount: int, divisor: int) -> str:
    """The largest accepted divisor not above ``divisor`` that divides ``amount`` exactly."""
    if resource_kind == "cpu":
        return "1m"
    best = "1"
    best_value = 1
    for name in MEMORY_DIVISORS:
        unit = DIVISOR_UNITS["bytes"][name]
        if best_value < unit <= divisor and amount % unit == 0:
            best, best_value = name, unit
    return best


def _check_resources(pod: _Pod) -> None:
    if not pod.wants("unknown-container", "resource-not-set", "divisor-rounding"):
        return
    spec = pod.workload.spec
    pod_resources = spec.get("resources")
    pod_limits = pod_resources.get("limits") if isinstance(pod_resources, _MAPS) else None
    if not isinstance(pod_limits, _MAPS):
        pod_limits = {}
    for path, ref, own in _resource_refs(pod):
        resource = ref.get("resource")
        if not _valid_resource(resource):
            continue  # the API error says it
        assert isinstance(resource, str)
        name = ref.get("containerName")
        if isinstance(name, str) and name:
            target = pod.by_name.get(name)
            if target is None:
                if own is not None:
                    effect = "so the container is never created (CreateContainerConfigError)"
                else:
                    effect = "so the volume never mounts (the pod stays in ContainerCreating)"
                pod.report(
                    "unknown-container",
                    f"{path}.containerName",
                    f'resourceFieldRef names container "{name}", which is not in the pod: '
                    f'the kubelet fails with "container {name} not found", {effect}',
                    "name one of: " + ", ".join(sorted(pod.container_names))
                    if pod.container_names
                    else RULES["unknown-container"].fix,
                )
                continue
        elif own is not None:
            target = own
        else:
            continue  # a volume item without containerName: an API error
        _check_resource_value(
            pod, path, ref=ref, resource=resource, target=target, pod_limits=pod_limits
        )


def _check_resource_value(
    pod: _Pod,
    path: str,
    *,
    ref: Mapping[str, Any],
    resource: str,
    target: _Container,
    pod_limits: Mapping[str, Any],
) -> None:
    section, _, name = resource.partition(".")
    resources = target.data.get("resources")
    resources = resources if isinstance(resources, _MAPS) else {}
    limits = resources.get("limits")
    limits = limits if isinstance(limits, _MAPS) else {}
    requests = resources.get("requests")
    requests = requests if isinstance(requests, _MAPS) else {}
    raw = limits.get(name) if section == "limits" else requests.get(name, limits.get(name))
    quantity = None if raw is None else _as_quantity(raw)
    if raw is not None and quantity is None:
        return  # an unparseable quantity: the API rejects the container's resources
    who = f'container "{target.name}"'
    if quantity is None or quantity.is_zero():
        if section == "limits" and name in _DEFAULTED_LIMITS:
            if name in ("cpu", "memory") and pod_limits.get(name) is not None:
                return  # pod-level resources bound the value instead of the node
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}: the kubelet gives the node's allocatable "
                f"{_NOUNS[name]} instead",
                f"set resources.limits.{name} on {who}",
            )
        elif section == "limits":
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}: the value is 0",
                f"set resources.limits.{name} on {who}",
            )
        else:
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}, nor limits.{name} to default it from: "
                "the value is 0",
                f"set resources.requests.{name} (or limits.{name}) on {who}",
            )
        return
    if "divisor-rounding" not in pod.enabled:
        return
    divisor_raw = ref.get("divisor")
    divisor = Quantity.parse("1") if divisor_raw is None else _as_quantity(divisor_raw)
    if divisor is None or not _divisor_ok(resource, divisor):
        return  # the API error says it
    if divisor.is_zero():
        divisor = Quantity.parse("1")
    cpu = name == "cpu"
    top = quantity.milli_value() if cpu else quantity.value()
    bottom = divisor.milli_value() if cpu else divisor.value()
    if bottom <= 0 or top < 0 or top % bottom == 0:
        return
    try:
        value = resource_value(
            resource, default_requests(resources), None if divisor_raw is None else divisor_raw
        )
    except (PodselfError, ValueError):
        return
    shown = _divisor_shown(divisor_raw)
    better = _exact_divisor("cpu" if cpu else "bytes", top, bottom)
    better_value = top // (1 if cpu else DIVISOR_UNITS["bytes"][better])
    pod.report(
        "divisor-rounding",
        f"{path}.divisor" if divisor_raw is not None else f"{path}.resource",
        f"{resource} {_show(raw)} with divisor {shown} gives {value}, rounded up from "
        f"{_ratio_text(top, bottom)}",
        f'divisor "{better}" gives exactly {better_value}',
    )


# --- fieldRef at run time --------------------------------------------------------------------

# Labels and annotations controllers add to the pods they create, by workload kind.
_CONTROLLER_LABELS: Final[Mapping[str, frozenset[str]]] = {
    "Deployment": frozenset({"pod-template-hash"}),
    "ReplicaSet": frozenset(),
    "StatefulSet": frozenset(
        {
            "controller-revision-hash",
            "statefulset.kubernetes.io/pod-name",
            "apps.kubernetes.io/pod-index",
        }
    ),
    "DaemonSet": frozenset({"controller-revision-hash", "pod-template-generation"}),
    "Job": frozenset(
        {
            "controller-uid",
            "job-name",
            "batch.kubernetes.io/controller-uid",
            "batch.kubernetes.io/job-name",
        }
    ),
}
_CONTROLLER_ANNOTATIONS: Final[Mapping[str, frozenset[str]]] = {}
# The Job controller sets this label and annotation only on the pods of an Indexed Job.
_COMPLETION_INDEX: Final = frozenset({"batch.kubernetes.io/job-completion-index"})


def _indexed_job(workload: Workload) -> bool:
    """Whether ``workload`` is a Job (or a CronJob's job template) with completionMode Indexed."""
    spec = workload.object.get("spec")
    if workload.kind == "CronJob":
        template = spec.get("jobTemplate") if isinstance(spec, _MAPS) else None
        spec = template.get("spec") if isinstance(template, _MAPS) else None
    elif workload.kind != "Job":
        return False
    return isinstance(spec, _MAPS) and spec.get("completionMode") == "Indexed"


# Words in a key or variable name that suggest a value meant to change while the pod runs.
_DYNAMIC_WORDS: Final = frozenset(
    {
        "canary",
        "config",
        "configuration",
        "debug",
        "dynamic",
        "enable",
        "enabled",
        "experiment",
        "experiments",
        "feature",
        "features",
        "flag",
        "flags",
        "live",
        "loglevel",
        "maintenance",
        "reload",
        "rollout",
        "switch",
        "toggle",
        "toggles",
        "traffic",
        "verbosity",
        "weight",
    }
)
_CAMEL: Final = re.compile(r"([a-z0-9])([A-Z])")
_WORD_SPLIT: Final = re.compile(r"[^a-z0-9]+")


def _looks_dynamic(text: str) -> bool:
    words = _WORD_SPLIT.split(_CAMEL.sub(r"\1 \2", text).lower())
    if any(word in _DYNAMIC_WORDS for word in words):
        return True
    return ("log", "level") in pairwise(words)


def _subscript(ref: Mapping[str, Any]) -> tuple[str, str] | None:
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


def _check_metadata_env(pod: _Pod) -> None:
    if not pod.wants("undefined-label", "undefined-annotation", "static-metadata-env"):
        return
    workload = pod.workload
    kind = "Job" if workload.kind == "CronJob" else workload.kind
    what = "the pod" if workload.kind == "Pod" else "the pod template"
    indexed = _indexed_job(workload)
    for container in pod.containers:
        for env in container.env:
            if env.field_ref is None or not isinstance(env.value, (str, type(None))):
                continue
            found = _subscript(env.field_ref)
            if found is None:
                continue
            which, key = found
            label = "label" if which == "labels" else "annotation"
            where = f"{env.path}.valueFrom.fieldRef.fieldPath"
            name = env.name or f"env[{env.index}]"
            known = pod.labels if which == "labels" else pod.annotations
            added = (_CONTROLLER_LABELS if which == "labels" else _CONTROLLER_ANNOTATIONS).get(
                kind, frozenset()
            )
            if indexed:
                added |= _COMPLETION_INDEX
            if key not in known and key not in added:
                pod.report(
                    f"undefined-{label}",
                    where,
                    f'{name} reads {label} "{key}", which {what} does not set: the variable '
                    + (
                        "will be empty"
                        if which == "labels"
                        else "is empty unless something adds it before the container starts"
                    ),
                    (
                        "the Job controller sets it only on the pods of a Job with "
                        "completionMode: Indexed"
                        if key in _COMPLETION_INDEX and kind == "Job"
                        else f'add "{key}" to {workload.metadata_path}.{which}, or fix the key'
                    ),
                )
            if _looks_dynamic(key) or (env.name is not None and _looks_dynamic(env.name)):
                pod.report(
                    "static-metadata-env",
                    where,
                    f'{name} takes {label} "{key}" once, at container start: a later change '
                    f"to the {label} is not seen by the running container",
                    f"mount it from a downwardAPI volume (fieldRef.fieldPath: "
                    f"metadata.{which}['{key}']) and re-read the file when it changes",
                )


# --- subPath mounts --------------------------------------------------------------------------


def _item_changes(item: _Item) -> str:
    """What makes the item's file change at run time ("" for fixed values)."""
    if item.resource_ref is not None:
        return "resource values"
    if item.field_ref is not None:
        path = item.field_ref.get("fieldPath")
        if isinstance(path, str):
            if path.startswith("metadata.labels"):
                return "labels"
            if path.startswith("metadata.annotations"):
                return "annotations"
    return ""


def _check_subpath(pod: _Pod) -> None:
    if "subpath-never-updates" not in pod.enabled or not pod.volumes:
        return
    volumes = {volume.name: volume for volume in pod.volumes}
    for container in pod.containers:
        mounts = container.data.get("volumeMounts")
        if not isinstance(mounts, list):
            continue
        for index, mount in enumerate(mounts):
            if not isinstance(mount, _MAPS):
                continue
            volume_name = mount.get("name")
            volume = volumes.get(volume_name) if isinstance(volume_name, str) else None
            if volume is None:
                continue
            mount_path = f"{container.path}.volumeMounts[{index}]"
            sub_path = mount.get("subPath")
            expr = mount.get("subPathExpr")
            if isinstance(sub_path, str) and sub_path.strip("./"):
                wanted = sub_path.strip("/").removeprefix("./")
                under = [
                    item
                    for item in volume.items
                    if item.item_path == wanted or item.item_path.startswith(wanted + "/")
                ]
                changes = sorted({c for c in map(_item_changes, under) if c})
                if not under and not volume.has_other_files:
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPath",
                        f'volume "{volume.name}" is mounted with subPath "{sub_path}", which '
                        "names no item of the volume: the container sees an empty directory",
                        RULES["subpath-never-updates"].fix,
                    )
                elif changes or (not under and volume.has_other_files):
                    what = " and ".join(changes) or "its files"
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPath",
                        f'{volume.kind} volume "{volume.name}" is mounted with subPath '
                        f'"{sub_path}": files under a subPath never update, so changes to '
                        f"{what} are not seen",
                        RULES["subpath-never-updates"].fix,
                    )
            elif isinstance(expr, str) and expr:
                changes = sorted({c for c in map(_item_changes, volume.items) if c})
                if changes or volume.has_other_files:
                    what = " and ".join(changes) or "its files"
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPathExpr",
                        f'{volume.kind} volume "{volume.name}" is mounted with subPathExpr '
                        f'"{expr}": files under a subPath never update, so changes to {what} '
                        "are not seen",
                        RULES["subpath-never-updates"].fix,
                    )


# --- $(VAR) references and duplicates --------------------------------------------------------

# Service link variables the kubelet adds (<SVC>_SERVICE_HOST, <SVC>_PORT_8080_TCP_ADDR...).
_SERVICE_VAR: Final = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)
_ENV_REF_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# In command/args, $(lower case) is usually shell command substitution left for the shell.
_COMMAND_REF_NAME: Final = re.compile(r"[A-Z_][A-Z0-9_]*")


def env_references(text: str) -> list[str]:
    """The names ``$(NAME)`` references in ``text`` would look up, as Kubernetes expands them.

    ``$$`` is an escaped ``$``; an unclosed ``$(`` and ``$`` before any other character are
    kept as they are (see ``podself.expand``, which the emulator uses for the expansion itself).
    """
    if "$" not in text:
        return []
    return list(references(text))


def _check_env_lists(pod: _Pod) -> None:
    want_refs = "undefined-env-reference" in pod.enabled
    want_dupes = "duplicate-env" in pod.enabled
    if not (want_refs or want_dupes):
        return
    for container in pod.containers:
        if want_dupes:
            _duplicates(pod, container)
        if want_refs:
            _undefined_references(pod, container)


def _duplicates(pod: _Pod, container: _Container) -> None:
    # pkg/api/pod/warnings.go: a redefinition warns unless it extends the earlier value.
    seen: set[str] = set()
    for env in container.env:
        name = env.name
        if name is None:
            continue
        if name not in seen:
            seen.add(name)
            continue
        own = f"$({name})"
        value = env.value if isinstance(env.value, str) else ""
        if (
            env.field_ref is not None
            or env.resource_ref is not None
            or value == own
            or (own not in value)
        ):
            pod.report(
                "duplicate-env",
                env.path,
                f"{env.path}: hides previous definition of {go_quote(name)}, which may be "
                "dropped when using apply",
                RULES["duplicate-env"].fix,
            )


def _undefined_references(pod: _Pod, container: _Container) -> None:
    env_from = container.data.get("envFrom")
    prefixes: list[str] = []
    if isinstance(env_from, list):
        for source in env_from:
            if not isinstance(source, _MAPS):
                continue
            prefix = source.get("prefix")
            if not isinstance(prefix, str) or not prefix:
                return  # any name may come from the config map or secret
            prefixes.append(prefix)
    all_names = {env.name: env.index for env in reversed(container.env) if env.name is not None}

    def known(name: str, defined: Iterable[str]) -> bool:
        return (
            name in defined
            or (bool(prefixes) and name.startswith(tuple(prefixes)))
            or _SERVICE_VAR.fullmatch(name) is not None
        )

    defined: set[str] = set()
    for env in container.env:
        value = env.value
        if isinstance(value, str) and "$(" in value:
            for name in env_references(value):
                if not _ENV_REF_NAME.fullmatch(name) or known(name, defined):
                    continue
                later = all_names.get(name)
                who = env.name or f"env[{env.index}]"
                if later is not None and later >= env.index:
                    message = (
                        f"$({name}) in {who} refers to {name}, which is defined later "
                        f"(env[{later}]): only variables above it are expanded, so the text "
                        f'"$({name})" is kept'
                    )
                    hint = f"move {name} above {who}"
                else:
                    message = (
                        f"$({name}) in {who} refers to a variable that is not defined: the "
                        f'text "$({name})" is kept as it is'
                    )
                    hint = RULES["undefined-env-reference"].fix
                pod.report("undefined-env-reference", f"{env.path}.value", message, hint)
        if env.name is not None:
            defined.add(env.name)
    for key in ("command", "args"):
        words = container.data.get(key)
        if not isinstance(words, list):
            continue
        for index, word in enumerate(words):
            if not isinstance(word, str) or "$(" not in word:
                continue
            for name in env_references(word):
                if not _COMMAND_REF_NAME.fullmatch(name) or known(name, all_names):
                    continue
                pod.report(
                    "undefined-env-reference",
                    f"{container.path}.{key}[{index}]",
                    f'$({name}) in {key}[{index}] of container "{container.name}" refers to a '
                    f'variable the container does not define: the text "$({name})" is kept '
                    "as it is",
                    RULES["undefined-env-reference"].fix,
                )


# --- naming ----------------------------------------------------------------------------------

_ATTR_FIELD: Final[Mapping[str, str]] = {
    "name": "metadata.name",
    "namespace": "metadata.namespace",
    "uid": "metadata.uid",
    "pod_ip": "status.podIP",
    "pod_ips": "status.podIPs",
    "host_ip": "status.hostIP",
    "host_ips": "status.hostIPs",
    "node_name": "spec.nodeName",
    "service_account": "spec.serviceAccountName",
}
_FIELD_ATTR: Final = {path: attr for attr, path in _ATTR_FIELD.items()}
_ATTR_RESOURCE: Final[Mapping[str, str]] = {
    "cpu_limit": "limits.cpu",
    "cpu_request": "requests.cpu",
    "memory_limit": "limits.memory",
    "memory_request": "requests.memory",
    "ephemeral_storage_limit": "limits.ephemeral-storage",
    "ephemeral_storage_request": "requests.ephemeral-storage",
}
_RESOURCE_ATTR: Final = {resource: attr for attr, resource in _ATTR_RESOURCE.items()}
_UNIT_WORDS: Final[Mapping[str, str]] = {
    "1m": "millicores",
    "1": "bytes",
    "1k": "kB",
    "1M": "MB",
    "1G": "GB",
    "1T": "TB",
    "1P": "PB",
    "1E": "EB",
    "1Ki": "KiB",
    "1Mi": "MiB",
    "1Gi": "GiB",
    "1Ti": "TiB",
    "1Pi": "PiB",
    "1Ei": "EiB",
}
# Decimal divisors a reader may mean by KB/MB/GB/TB outside podself's own names.
_DECIMAL_TWINS: Final[Mapping[str, str]] = {"1Ki": "1k", "1Mi": "1M", "1Gi": "1G", "1Ti": "1T"}


@lru_cache(maxsize=1)
def _unit_suffixes() -> tuple[tuple[str, str, str], ...]:
    """(suffix, ``cpu``/``bytes``, divisor) from podself's name table, in its order."""
    table = env_table()
    found: dict[str, tuple[str, str]] = {}
    for attr, (stems, _) in RESOURCE_ENV_STEMS.items():
        family = "cpu" if attr.startswith("cpu") else "bytes"
        for stem in stems:
            for name, (owner, _rank, divisor, _mult) in table.items():
                if owner == attr and name.startswith(stem + "_"):
                    found.setdefault(name[len(stem) :], (family, divisor))
    return tuple((suffix, family, divisor) for suffix, (family, divisor) in found.items())


@lru_cache(maxsize=1)
def _suffixes_longest_first() -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted(_unit_suffixes(), key=lambda entry: -len(entry[0])))


def _suffix_of(name: str) -> tuple[str, str, str] | None:
    for suffix, family, divisor in _suffixes_longest_first():
        if name.endswith(suffix):
            return suffix, family, divisor
    return None


def _unit_word(family: str, divisor: str) -> str:
    if family == "cpu":
        return "cores" if divisor == "1" else "millicores"
    return _UNIT_WORDS.get(divisor, divisor)


def _divisor_shown(raw: object) -> str:
    """A divisor as the manifest wrote it, saying what an unset or zero one means."""
    if raw is None:
        return "1 (the default)"
    quantity = _as_quantity(raw)
    if quantity is not None and quantity.is_zero():
        return f"{_show(raw)} (0 means 1)"
    return _show(raw)


def _canonical_divisor(value: object) -> str | None:
    if value is None:
        return "1"
    quantity = _as_quantity(value)
    if quantity is None:
        return None
    return "1" if quantity.is_zero() else str(quantity)


def _recommended_resource_name(resource: str, divisor: str) -> str | None:
    attr = _RESOURCE_ATTR.get(resource)
    if attr is None:
        return None
    stem = RESOURCE_ENV_STEMS[attr][0][0]
    family = "cpu" if attr.startswith("cpu") else "bytes"
    for suffix, owner_family, suffix_divisor in _unit_suffixes():
        if owner_family == family and suffix_divisor == divisor:
            return stem + suffix
    return None


# naming-convention only speaks about names that already look like identity or resource
# variables (POD_NAME, NODE_IP, MEMORY_LIMIT...): other names are the app's own choice.
_UPPER_NAME: Final = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]")
_IDENTITY_PREFIXES: Final = ("POD_", "NODE_", "HOST_", "MY_POD_", "MY_NODE_")
_IDENTITY_SUFFIXES: Final = ("_NAME", "_NAMESPACE", "_IP", "_IPS", "_UID", "_ACCOUNT")
_RESOURCE_WORDS: Final = frozenset(
    {"CPU", "CPUS", "CORES", "MEMORY", "MEM", "HEAP", "STORAGE", "EPHEMERAL", "LIMIT",
     "LIMITS", "REQUEST", "REQUESTS"}
)  # fmt: skip


def _identity_shaped(name: str) -> bool:
    return _UPPER_NAME.fullmatch(name) is not None and (
        name.startswith(_IDENTITY_PREFIXES) or name.endswith(_IDENTITY_SUFFIXES)
    )


def _resource_shaped(name: str) -> bool:
    if _UPPER_NAME.fullmatch(name) is None:
        return False
    words = name.split("_")
    if any(w in _RESOURCE_WORDS or w.startswith("HUGEPAGES") for w in words):
        return True
    return _suffix_of(name) is not None  # a unit: JVM_HEAP_MB


def _divisor_fix(name: str, family: str, divisor: str, expected_divisor: str) -> str:
    """Set the divisor the name promises; a name without a unit can instead say the unit."""
    fix = f'set divisor: "{expected_divisor}"'
    if _suffix_of(name) is None:  # CPU_LIMIT: read with the default divisor 1
        for suffix, suffix_family, suffix_divisor in _unit_suffixes():
            if suffix_family == family and suffix_divisor == divisor:
                return f"rename {name} to {name}{suffix}, or {fix}"
    return fix


# Names a runtime, pool or agent reads (Python 3.13, Go, the JVM, OpenMP/BLAS, loky, tracers):
# they are fixed by that program, so the naming convention never asks to rename them.
_OTHER_PROGRAMS_NAMES: Final = frozenset(
    {"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG", "NODE_OPTIONS", "WEB_CONCURRENCY",
     "UVICORN_WORKERS"}
)  # fmt: skip
_OTHER_PROGRAMS_PREFIXES: Final = (
    *("PYTHON", "JAVA_", "JDK_", "DOTNET_", "UV_", "MALLOC_", "LOKY_"),
    *("OMP_", "MKL_", "OPENBLAS_", "NUMEXPR_", "VECLIB_", "GUNICORN_", "CELERY"),
    *("OTEL_", "DD_", "NEW_RELIC_", "ELASTIC_APM_", "SENTRY_"),
)


def _read_by_another_program(name: str) -> bool:
    return name in _OTHER_PROGRAMS_NAMES or name.startswith(_OTHER_PROGRAMS_PREFIXES)


def _not_for_renaming(name: str) -> bool:
    """Names the naming advice leaves alone: read by other programs, or the application's
    own (``APP_``, the prefix the convention itself gives an app's settings)."""
    return name.startswith("APP_") or _read_by_another_program(name)


def _check_names(pod: _Pod) -> None:
    if not pod.wants("env-name-mismatch", "naming-convention"):
        return
    table = env_table()
    for container in pod.containers:
        for env in container.env:
            name = env.name
            if not name:
                continue
            if env.field_ref is not None:
                _field_ref_name(pod, env, name, table.get(name))
            elif env.resource_ref is not None:
                _resource_ref_name(pod, env, name, table.get(name))


def _field_ref_name(
    pod: _Pod, env: _Env, name: str, entry: tuple[str, int, str, int] | None
) -> None:
    assert env.field_ref is not None
    path = env.field_ref.get("fieldPath")
    if not isinstance(path, str):
        return
    if path == "spec.host":
        path = "spec.nodeName"  # converted by the API server
    if path not in ENV_FIELD_PATHS and _subscript(env.field_ref) is None:
        return  # an invalid path: the API error says it
    where = f"{env.path}.valueFrom.fieldRef.fieldPath"
    if entry is not None:
        attr = entry[0]
        expected = _ATTR_FIELD.get(attr) or _ATTR_RESOURCE.get(attr)
        if attr == "container":
            pod.report(
                "env-name-mismatch",
                where,
                f"{name} reads {path}, but its name promises the container's name, which the "
                "Downward API does not provide",
                f'set {name} with value: "<container name>" instead',
            )
        elif expected != path:
            pod.report(
                "env-name-mismatch",
                where,
                f"{name} reads {path}, but its name promises {expected}",
                f"read {expected}, or rename the variable",
            )
    # Names other programs read (OTEL_, DD_, PYTHON_CPU_COUNT...) and the app's own (APP_)
    # are never renamed.
    if not name.startswith("K8S_") and not _not_for_renaming(name) and _identity_shaped(name):
        field_attr = _FIELD_ATTR.get(path)
        suggestion = IDENTITY_ENV[field_attr][0] if field_attr is not None else f"K8S_{name}"
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} holds pod metadata ({path}): the convention names it with the K8S_ "
            f"prefix, e.g. {suggestion}",
            f"rename {name} to {suggestion}",
        )


def _resource_ref_name(
    pod: _Pod, env: _Env, name: str, entry: tuple[str, int, str, int] | None
) -> None:
    assert env.resource_ref is not None
    resource = env.resource_ref.get("resource")
    if not _valid_resource(resource):
        return
    assert isinstance(resource, str)
    divisor = _canonical_divisor(env.resource_ref.get("divisor"))
    allowed = CPU_DIVISORS if resource.endswith(".cpu") else MEMORY_DIVISORS
    if divisor is None or divisor not in allowed:
        return  # the API error says it
    family = "cpu" if resource.endswith(".cpu") else "bytes"
    where = f"{env.path}.valueFrom.resourceFieldRef"
    reported = False
    if entry is not None and entry[2]:
        attr, _rank, expected_divisor, _mult = entry
        expected = _ATTR_RESOURCE[attr]
        if expected != resource:
            pod.report(
                "env-name-mismatch",
                f"{where}.resource",
                f"{name} reads {resource}, but its name promises {expected}",
                f"read {expected}, or rename the variable",
            )
            reported = True
        elif expected_divisor != divisor:
            pod.report(
                "env-name-mismatch",
                f"{where}.divisor" if "divisor" in env.resource_ref else f"{where}.resource",
                f"{name} promises {_unit_word(family, expected_divisor)} (divisor "
                f"{expected_divisor}), but the divisor is "
                f"{_divisor_shown(env.resource_ref.get('divisor'))}: the value is in "
                f"{_unit_word(family, divisor)}",
                _divisor_fix(name, family, divisor, expected_divisor),
            )
            reported = True
    elif entry is None:
        suffix = _suffix_of(name)
        if suffix is not None:
            text, suffix_family, suffix_divisor = suffix
            accepted = {suffix_divisor, _DECIMAL_TWINS.get(suffix_divisor, suffix_divisor)}
            if suffix_family != family:
                pod.report(
                    "env-name-mismatch",
                    f"{where}.resource",
                    f"{name} ends in {text}, a {suffix_family} unit, but reads {resource}",
                    "make the unit suffix match the resource",
                )
                reported = True
            elif divisor not in accepted:
                pod.report(
                    "env-name-mismatch",
                    f"{where}.divisor" if "divisor" in env.resource_ref else f"{where}.resource",
                    f"{name} promises {_unit_word(family, suffix_divisor)} ({text}), but the "
                    f"divisor is {_divisor_shown(env.resource_ref.get('divisor'))}: the value is "
                    f"in {_unit_word(family, divisor)}",
                    f'set divisor: "{suffix_divisor}"',
                )
                reported = True
    if reported or _not_for_renaming(name) or not _resource_shaped(name):
        return
    recommended = _recommended_resource_name(resource, divisor)
    if not name.startswith("RESOURCE_"):
        suggestion = recommended or "RESOURCE_" + name
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} holds {resource}: the convention names resource values "
            f"RESOURCE_<RESOURCE>_<LIMIT|REQUEST>_<UNIT>, e.g. {suggestion}",
            f"rename {name} to {suggestion}",
        )
    elif entry is None and _suffix_of(name) is None and recommended is not None:
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} does not say its unit ({_unit_word(family, divisor)}): e.g. {recommended}",
            f"rename {name} to {recommended}",
        )


# --- the engine ------------------------------------------------------------------------------


def _check_divisor_overflow(pod: _Pod) -> None:
    # Accepted because String() drops the magnitude past E (validation.api_quantity_string).
    if "divisor-overflow" not in pod.enabled:
        return
    for path, ref, own in _resource_refs(pod):
        resource, raw = ref.get("resource"), ref.get("divisor")
        divisor = None if raw is None else _as_quantity(raw)
        if divisor is None or not isinstance(resource, str) or not _valid_resource(resource):
            continue
        seen = api_quantity_string(divisor)
        cpu = resource.endswith(".cpu")
        if seen == str(divisor) or seen not in (CPU_DIVISORS if cpu else MEMORY_DIVISORS):
            continue
        wrapped = divisor.go_milli_value() if cpu else divisor.go_value()
        message = (
            f"divisor {_show(raw)} passes the API server's check as {go_quote(seen)} but is "
            f"{divisor}, whose {'MilliValue' if cpu else 'Value'}() overflows int64: the "
            f"kubelet divides by {wrapped}"
        )
        name = ref.get("containerName")
        target = (
            own if own is not None else pod.by_name.get(name) if isinstance(name, str) else None
        )
        resources = target.data.get("resources") if target is not None else None
        section, _, key = resource.partition(".")
        amounts = resources.get(section) if isinstance(resources, _MAPS) else None
        if isinstance(amounts, _MAPS) and amounts.get(key) is not None:
            try:
                written = resource_value(resource, resources, raw)
            except (PodselfError, ValueError):
                written = None
            if written is not None:
                message += f" and writes {written}"
        pod.report("divisor-overflow", f"{path}.divisor", message, RULES["divisor-overflow"].fix)


# What the API server does to a pod with each gated field when the gate is off.
_GATE_OFF_EFFECTS: Final = {
    "fileKeyRef": "drops it and refuses the variable (a valueFrom with no source)",
    "podCertificate": "drops the source: the volume gets no certificate files",
    "clusterTrustBundle": "drops the source: the volume gets no bundle file",
    "image": "drops it and refuses the volume (no volume type)",
    "recursiveReadOnly": "drops it: the mount is not made recursively read-only",
}


def _gated_fields(pod: _Pod) -> Iterator[tuple[str, str]]:
    """(field path, key) of every gated field the pod template sets."""
    for container in pod.containers:
        for env in container.env:
            var = container.data["env"][env.index]
            source = var.get("valueFrom")
            if isinstance(source, _MAPS) and source.get("fileKeyRef") is not None:
                yield f"{env.path}.valueFrom.fileKeyRef", "fileKeyRef"
        mounts = container.data.get("volumeMounts")
        for index, mount in enumerate(mounts if isinstance(mounts, list) else ()):
            if isinstance(mount, _MAPS) and mount.get("recursiveReadOnly") is not None:
                yield (
                    f"{container.path}.volumeMounts[{index}].recursiveReadOnly",
                    ("recursiveReadOnly"),
                )
    volumes = pod.workload.spec.get("volumes")
    base = pod.workload.spec_path
    for index, volume in enumerate(volumes if isinstance(volumes, list) else ()):
        if not isinstance(volume, _MAPS):
            continue
        if volume.get("image") is not None:
            yield f"{base}.volumes[{index}].image", "image"
        projected = volume.get("projected")
        sources = projected.get("sources") if isinstance(projected, _MAPS) else None
        for position, source in enumerate(sources if isinstance(sources, list) else ()):
            for key in ("podCertificate", "clusterTrustBundle"):
                if isinstance(source, _MAPS) and source.get(key) is not None:
                    yield f"{base}.volumes[{index}].projected.sources[{position}].{key}", key


def _check_feature_gates(pod: _Pod) -> None:
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


_CHECKS: Final[tuple[Callable[[_Pod], None], ...]] = (
    _check_api,
    _check_resources,
    _check_divisor_overflow,
    _check_feature_gates,
    _check_metadata_env,
    _check_subpath,
    _check_env_lists,
    _check_names,
)
_API_RULES: Final = frozenset(rule.id for rule in _RULE_LIST if rule.category == "api")


def _annotation_disabled(workload: Workload) -> frozenset[str]:
    found: set[str] = set()
    for meta in (workload.object_metadata, workload.metadata):
        annotations = meta.get("annotations")
        if not isinstance(annotations, _MAPS):
            continue
        value = annotations.get(DISABLE_ANNOTATION)
        if isinstance(value, str):
            found.update(part for part in re.split(r"[\s,]+", value) if part)
    if "all" in found:
        return frozenset(RULES)
    return frozenset(found)


def _enabled_rules(disabled: Iterable[str]) -> frozenset[str]:
    return frozenset(RULES) - frozenset(disabled)


def lint_workload(
    workload: Workload,
    *,
    document: Document | None = None,
    disabled: Iterable[str] = (),
) -> list[Finding]:
    """Check one workload's pod template; findings are placed with ``document`` when given.

    Rules in ``disabled`` and in the object's ``podself.dev/lint-disable`` annotation are
    skipped. Findings come sorted by line and column.
    """
    enabled = _enabled_rules(disabled) - _annotation_disabled(workload)
    if not enabled:
        return []
    pod = _Pod(workload, enabled)
    for check in _CHECKS:
        if check is _check_api and not enabled & _API_RULES:
            continue
        check(pod)
    source = document.source if document is not None else ""
    findings: list[Finding] = []
    for rule_id, path, message, hint, where in pod.found:
        if document is not None:
            if isinstance(where, tuple):
                target: _Where = (*split_field_path(workload.document_path("")), *where)
            else:
                target = workload.document_path(where)
            line, column = document.locate(target)
        else:
            line, column = 0, 0
        findings.append(
            Finding(
                rule_id,
                RULES[rule_id].severity,
                message,
                source,
                line,
                column,
                path,
                workload.ref,
                hint,
            )
        )
    findings.sort(key=lambda f: (f.line, f.column))  # stable: API errors first on a tie
    return findings


def _issue_finding(issue: LoadIssue) -> Finding:
    rule = "input-limit" if issue.kind == "limit" else "invalid-yaml"
    return Finding(
        rule,
        RULES[rule].severity,
        issue.message,
        issue.source,
        issue.line,
        issue.column,
        "",
        "",
        RULES[rule].fix,
    )


def lint_documents(
    items: Iterable[Document | LoadIssue],
    *,
    disabled: Iterable[str] = (),
    result: LintResult | None = None,
) -> Iterator[Finding]:
    """Lint a stream from :func:`~podself.manifest.load.scan_documents`, document by document.

    Load issues become ``invalid-yaml``/``input-limit`` findings (a missing PyYAML is recorded
    in ``result.input_errors`` instead). When ``result`` is given, its document and workload
    counts are updated as the stream is consumed.
    """
    off = frozenset(disabled)
    for item in items:
        if isinstance(item, LoadIssue):
            if item.kind == "dependency":
                if result is not None:
                    result.input_errors.append(str(item))
                continue
            finding = _issue_finding(item)
            if finding.rule not in off:
                yield finding
            continue
        if item.data is None:
            continue
        if result is not None:
            result.documents += 1
        workloads = list(iter_workloads(item.data))
        found: list[Finding] = []
        for workload in workloads:
            if result is not None:
                result.workloads += 1
            found.extend(lint_workload(workload, document=item, disabled=off))
        if item.typed_scalars and "yaml-typed-scalar" not in off:
            typed = list(_typed_scalar_findings(item, workloads))
            if typed:
                found.extend(typed)
                found.sort(key=lambda f: (f.line, f.column))  # stable: errors first on a tie
        yield from found
        if "invalid-config-object" not in off:
            yield from _config_object_findings(item)


# Fields of a pod, its template or a ConfigMap/Secret that the API server decodes as strings.
_STRING_FIELDS: Final = frozenset(
    {
        "apiVersion", "audience", "claimName", "containerName", "fieldPath", "generateName",
        "hostname", "image", "imagePullPolicy", "key", "kind", "medium", "mountPath",
        "mountPropagation", "name", "namespace", "nodeName", "path", "priorityClassName",
        "resource", "restartPolicy", "schedulerName", "secretName", "serviceAccountName",
        "signerName", "subPath", "subPathExpr", "subdomain", "value", "workingDir",
    }
)  # fmt: skip
_STRING_LISTS: Final = frozenset({"command", "args"})
# Maps of strings: a typed value is refused, a typed key silently becomes other text.
_STRING_MAPS: Final = frozenset(
    {"labels", "annotations", "nodeSelector", "data", "stringData", "binaryData"}
)


def _expects_string(path: tuple[str | int, ...], key: bool) -> bool:
    """Whether the API server reads the scalar at ``path`` as a string (a key: whether its
    map's keys are strings that matter, such as label keys)."""
    if len(path) < 2:
        return False
    parent, last = path[-2], path[-1]
    if key or parent in _STRING_MAPS:
        return parent in _STRING_MAPS
    if isinstance(last, int):
        return parent in _STRING_LISTS
    return last in _STRING_FIELDS


def _typed_scalar_findings(document: Document, workloads: Sequence[Workload]) -> Iterator[Finding]:
    """``yaml-typed-scalar``: a plain scalar kubectl reads as a bool or number (or, as a key,
    as other text) in a field of a workload, ConfigMap or Secret that holds strings."""
    data = document.data
    kind = data.get("kind") if isinstance(data, _MAPS) else None
    config = kind in ("ConfigMap", "Secret")
    config_ref = ""
    if config and isinstance(data, _MAPS):
        meta = data.get("metadata")
        config_ref = f"{kind}/{meta.get('name') if isinstance(meta, _MAPS) else None}"
    rule = RULES["yaml-typed-scalar"]
    for typed in document.typed_scalars:
        ref = config_ref
        owned = config and typed.path[:1] in (("data",), ("stringData",), ("metadata",))
        for workload in workloads:
            prefix = split_field_path(workload.object_path) if workload.object_path else ()
            if typed.path[: len(prefix)] == prefix:
                if rule.id in _annotation_disabled(workload):
                    break
                owned, ref = True, workload.ref
                break
        if not owned or not _expects_string(typed.path, typed.key):
            continue
        shown = ".".join(
            f"[{p}]" if isinstance(p, int) else (f"[{p}]" if "." in p else p) for p in typed.path
        ).replace(".[", "[")
        yield Finding(
            rule.id,
            rule.severity,
            typed.note,
            document.source,
            typed.line,
            typed.column,
            shown,
            ref,
            f"write {json.dumps(typed.text)}",
        )


def _config_object_findings(document: Document) -> Iterator[Finding]:
    """validate_config_object for a ConfigMap or Secret document (or one in a List); a key
    error points at the key itself (a Secret's may be written in stringData)."""
    data = document.data
    if not isinstance(data, _MAPS):
        return
    items = data.get("items")
    kind = data.get("kind")
    objects: list[tuple[tuple[str | int, ...], Mapping[str, Any]]] = [((), data)]
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        objects = [(("items", i), obj) for i, obj in enumerate(items) if isinstance(obj, _MAPS)]
    rule = RULES["invalid-config-object"]
    for prefix, obj in objects:
        errors = validate_config_object(obj, "default")
        if not errors:
            continue
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, _MAPS) else None
        for err in errors:
            bag, _, key = err.field.partition("[")
            key = key.removesuffix("]")
            if bag in ("data", "binaryData") and key:
                string_data = obj.get("stringData")
                if isinstance(string_data, _MAPS) and key in string_data:
                    bag = "stringData"
                segments: tuple[str | int, ...] = (bag, key)
            else:
                segments = split_field_path(err.field)
            line, column = document.locate((*prefix, *segments))
            yield Finding(
                rule.id,
                rule.severity,
                str(err),
                document.source,
                line,
                column,
                err.field,
                f"{obj.get('kind')}/{name}",
                "quote the value: the data holds strings" if err.type == TYPE_INVALID else rule.fix,
            )


def lint_text(
    text: str | bytes,
    source: str = "<string>",
    *,
    disabled: Iterable[str] = (),
    limits: Limits = DEFAULT_LIMITS,
) -> list[Finding]:
    """Lint manifest text (YAML or JSON, any number of documents); returns every finding."""
    return list(lint_documents(scan_documents(text, source, limits=limits), disabled=disabled))


def lint_paths(
    paths: Sequence[str | os.PathLike[str]],
    *,
    disabled: Iterable[str] = (),
    limits: Limits = DEFAULT_LIMITS,
    emit: Callable[[Finding], object] | None = None,
) -> LintResult:
    """Lint files, folders (``*.yaml``, ``*.yml``, ``*.json``, recursively) and ``"-"`` (stdin).

    Unreadable inputs are listed in ``result.input_errors`` and the rest is still linted.
    With ``emit``, each finding is passed to it as it is found and only counted in
    ``result.emitted``, so that memory does not grow with the findings of a long stream.
    """
    result = LintResult()
    off = frozenset(disabled)
    try:
        files = list(discover(paths))
    except OSError as exc:
        result.input_errors.append(f"cannot read {exc.filename}: {exc.strerror or exc}")
        return result
    for path in files:
        # Read as linted: a long stream is never held whole.
        items = scan_file(path, limits=limits)
        try:
            first = next(items, None)
        except OSError as exc:
            result.input_errors.append(f"cannot read {source_name(path)}: {exc.strerror or exc}")
            continue
        result.files += 1
        stream = items if first is None else chain((first,), items)
        try:
            found = lint_documents(stream, disabled=off, result=result)
            if emit is None:
                result.findings.extend(found)
                continue
            for finding in found:
                emit(finding)
                key = (finding.rule, finding.severity)
                result.emitted[key] = result.emitted.get(key, 0) + 1
        except OSError as exc:
            result.input_errors.append(f"cannot read {source_name(path)}: {exc.strerror or exc}")
    return result

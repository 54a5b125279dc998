"""The file and its non-workload objects: input that cannot be read (invalid YAML, over a
limit), plain YAML scalars that kubectl turns into bools or numbers where strings are expected,
and ConfigMaps and Secrets the API server rejects."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from podself.manifest.lint.engine import (
    DocumentCheck,
    Family,
    Finding,
    annotation_disabled,
    make_rule,
)
from podself.manifest.lint.pod import MAPS
from podself.manifest.load import (
    Document,
    LoadIssue,
    split_field_path,
)
from podself.manifest.workloads import Workload
from podself.validation import (
    TYPE_INVALID,
    validate_config_object,
)

_RULES: Final = (
    make_rule(
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
    make_rule(
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
    make_rule(
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
    make_rule(
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
)
_BY_ID: Final = {rule.id: rule for rule in _RULES}

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
    if not document.typed_scalars:
        return
    data = document.data
    kind = data.get("kind") if isinstance(data, MAPS) else None
    config = kind in ("ConfigMap", "Secret")
    config_ref = ""
    if config and isinstance(data, MAPS):
        meta = data.get("metadata")
        config_ref = f"{kind}/{meta.get('name') if isinstance(meta, MAPS) else None}"
    rule = _BY_ID["yaml-typed-scalar"]
    for typed in document.typed_scalars:
        ref = config_ref
        owned = config and typed.path[:1] in (("data",), ("stringData",), ("metadata",))
        for workload in workloads:
            prefix = split_field_path(workload.object_path) if workload.object_path else ()
            if typed.path[: len(prefix)] == prefix:
                if rule.id in annotation_disabled(workload):
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
    if not isinstance(data, MAPS):
        return
    items = data.get("items")
    kind = data.get("kind")
    objects: list[tuple[tuple[str | int, ...], Mapping[str, Any]]] = [((), data)]
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        objects = [(("items", i), obj) for i, obj in enumerate(items) if isinstance(obj, MAPS)]
    rule = _BY_ID["invalid-config-object"]
    for prefix, obj in objects:
        errors = validate_config_object(obj, "default")
        if not errors:
            continue
        meta = obj.get("metadata")
        name = meta.get("name") if isinstance(meta, MAPS) else None
        for err in errors:
            bag, _, key = err.field.partition("[")
            key = key.removesuffix("]")
            if bag in ("data", "binaryData") and key:
                string_data = obj.get("stringData")
                if isinstance(string_data, MAPS) and key in string_data:
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


def _issue_rule(issue: LoadIssue) -> str:
    return "input-limit" if issue.kind == "limit" else "invalid-yaml"


FAMILY: Final = Family(
    _RULES,
    document_checks=(
        DocumentCheck("yaml-typed-scalar", _typed_scalar_findings),
        # A ConfigMap's or Secret's errors come after the document's workload findings.
        DocumentCheck(
            "invalid-config-object",
            lambda document, _: _config_object_findings(document),
            after=True,
        ),
    ),
    issue_rule=_issue_rule,
)

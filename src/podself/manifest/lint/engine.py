"""The lint engine: rules, findings, the rule registry and the runs over workloads, documents,
text and files.

It knows no rule by name: rule families (:mod:`podself.manifest.lint.rules`) register their
rules and checks with :func:`register`, and the engine runs every enabled check on each pod
template and document, minus the rules turned off with ``--disable`` or the
``podself.dev/lint-disable`` annotation.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Final

from podself.manifest.lint.pod import MAPS, Pod, Where
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


def make_rule(
    rule_id: str, severity: str, category: str, summary: str, doc: str, *, fix: str
) -> Rule:
    """A :class:`Rule` whose ``doc`` is written as an indented triple-quoted paragraph."""
    return Rule(rule_id, severity, category, summary, " ".join(doc.split()), fix)


@dataclass(frozen=True, slots=True)
class PodCheck:
    """A check of one pod template: ``run`` reports findings with :meth:`Pod.report`. It is
    skipped when none of ``rules`` is enabled (never, when ``rules`` is empty)."""

    run: Callable[[Pod], None]
    rules: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """A check of a whole document (its workloads given), skipped when ``rule`` is off. Its
    findings are sorted in with the workloads' by position, or, with ``after``, reported after
    them in the order found."""

    rule: str
    run: Callable[[Document, Sequence[Workload]], Iterable[Finding]]
    after: bool = False


@dataclass(frozen=True, slots=True)
class Family:
    """A family of rules and the checks that report them. ``issue_rule`` names the rule a
    :class:`~podself.manifest.load.LoadIssue` (a file that cannot be read as YAML) becomes."""

    rules: tuple[Rule, ...]
    pod_checks: tuple[PodCheck, ...] = ()
    document_checks: tuple[DocumentCheck, ...] = ()
    issue_rule: Callable[[LoadIssue], str] | None = None


# Filled once by register(): the package imports its rule families before anyone lints.
RULES: Final[dict[str, Rule]] = {}
_POD_CHECKS: Final[list[PodCheck]] = []
_SORTED_IN: Final[list[DocumentCheck]] = []
_AFTER: Final[list[DocumentCheck]] = []
_ISSUE_RULE: Final[list[Callable[[LoadIssue], str]]] = []


def register(families: Sequence[Family], order: Sequence[str]) -> None:
    """Install the rule families: their checks run in the order of ``families``, and
    :data:`RULES` lists the rules in ``order`` (the order reports and docs show them in), which
    must name every rule exactly once."""
    rules = {rule.id: rule for family in families for rule in family.rules}
    if len(set(order)) != len(order) or set(order) != set(rules):
        msg = f"rule order {sorted(order)} does not name the rules {sorted(rules)} once each"
        raise ValueError(msg)
    issue_rules = [family.issue_rule for family in families if family.issue_rule is not None]
    if len(issue_rules) != 1:
        msg = f"{len(issue_rules)} families name the rule of a load issue: must be one"
        raise ValueError(msg)
    RULES.clear()
    RULES.update((rule_id, rules[rule_id]) for rule_id in order)
    _POD_CHECKS[:] = [check for family in families for check in family.pod_checks]
    checks = [check for family in families for check in family.document_checks]
    _SORTED_IN[:] = [check for check in checks if not check.after]
    _AFTER[:] = [check for check in checks if check.after]
    _ISSUE_RULE[:] = issue_rules


def annotation_disabled(workload: Workload) -> frozenset[str]:
    """The rules the workload's ``podself.dev/lint-disable`` annotations turn off."""
    found: set[str] = set()
    for meta in (workload.object_metadata, workload.metadata):
        annotations = meta.get("annotations")
        if not isinstance(annotations, MAPS):
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
    enabled = _enabled_rules(disabled) - annotation_disabled(workload)
    if not enabled:
        return []
    pod = Pod(workload, enabled)
    for check in _POD_CHECKS:
        if check.rules and not enabled & check.rules:
            continue
        check.run(pod)
    source = document.source if document is not None else ""
    findings: list[Finding] = []
    for rule_id, path, message, hint, where in pod.found:
        if document is not None:
            if isinstance(where, tuple):
                target: Where = (*split_field_path(workload.document_path("")), *where)
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
    rule = _ISSUE_RULE[0](issue)
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
        placed = len(found)
        for check in _SORTED_IN:
            if check.rule not in off:
                found.extend(check.run(item, workloads))
        if len(found) > placed:
            found.sort(key=lambda f: (f.line, f.column))  # stable: errors first on a tie
        yield from found
        for check in _AFTER:
            if check.rule not in off:
                yield from check.run(item, workloads)


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

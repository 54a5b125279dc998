"""Lint reports: text, JSON, SARIF 2.1.0 and GitHub Actions annotations, plus the rule reference.

The JSON shape is ``{"findings": [...], "summary": {...}}``; SARIF is what code scanning
uploads accept; the ``github`` format prints ``::error file=…,line=…,col=…::`` workflow commands.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from podself.manifest.lint import RULES, SEVERITIES, Finding, LintResult, Rule, severity_rank

__all__ = [
    "FAIL_ON",
    "FORMATS",
    "RULE_FORMATS",
    "SARIF_SCHEMA",
    "exit_code",
    "github_finding",
    "printable",
    "render",
    "render_github",
    "render_json",
    "render_rules",
    "render_sarif",
    "render_text",
    "summary",
    "summary_line",
    "text_finding",
]

FORMATS: Final = ("text", "json", "sarif", "github")
RULE_FORMATS: Final = ("text", "json", "markdown")
FAIL_ON: Final = ("error", "warning", "info", "never")
SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVELS: Final = {"error": "error", "warning": "warning", "info": "note"}
_GITHUB_LEVELS: Final = {"error": "error", "warning": "warning", "info": "notice"}


def _failing(finding: Finding, fail_on: str) -> bool:
    return fail_on != "never" and severity_rank(finding.severity) >= severity_rank(fail_on)


def exit_code(result: LintResult, fail_on: str = "error") -> int:
    """2 when an input could not be read, else 1 when a finding is at or above ``fail_on``
    (``error``, ``warning``, ``info``; ``never`` never fails), else 0."""
    if result.input_errors:
        return 2
    if any(_failing(f, fail_on) for f in result.findings):
        return 1
    failing = fail_on != "never" and any(
        severity_rank(severity) >= severity_rank(fail_on) for _, severity in result.emitted
    )
    return 1 if failing else 0


def summary(result: LintResult, fail_on: str = "error") -> dict[str, Any]:
    """Counts for the report: files, documents, workloads, findings by severity and rule."""
    by_severity = dict.fromkeys(SEVERITIES, 0)
    by_rule: dict[str, int] = {}
    for finding in result.findings:
        by_severity[finding.severity] += 1
        by_rule[finding.rule] = by_rule.get(finding.rule, 0) + 1
    for (rule, severity), count in result.emitted.items():
        by_severity[severity] += count
        by_rule[rule] = by_rule.get(rule, 0) + count
    return {
        "files": result.files,
        "documents": result.documents,
        "workloads": result.workloads,
        "findings": len(result.findings) + sum(result.emitted.values()),
        "by_severity": by_severity,
        "by_rule": dict(sorted(by_rule.items())),
        "input_errors": list(result.input_errors),
        "fail_on": fail_on,
        "exit_code": exit_code(result, fail_on),
    }


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def summary_line(result: LintResult, fail_on: str = "error") -> str:
    """``podself lint: 2 files, 3 documents, 2 workloads: 1 error, 0 warnings, 2 info``."""
    counted = summary(result, fail_on)
    counts = counted["by_severity"]
    read = ", ".join(
        (
            _count(result.files, "file"),
            _count(result.documents, "document"),
            _count(result.workloads, "workload"),
        )
    )
    found = ", ".join(
        (
            _count(counts["error"], "error"),
            _count(counts["warning"], "warning"),
            f"{counts['info']} info",
        )
    )
    if result.input_errors:
        # Never "no findings" for inputs that were not checked at all.
        unread = f"{_count(len(result.input_errors), 'input')} could not be read"
        found = f"{unread}; {found}" if counted["findings"] else unread
    elif not counted["findings"]:
        found = "no findings"
    return f"podself lint: {read}: {found}"


# C0, DEL and C1 controls: from a manifest (a value echoed in a message) or a file name they
# would reach a terminal as escape sequences (retitling it, writing its clipboard) or start
# forged report lines.
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` with each control character written as its escape (``\\x1b``, ``\\n``)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def render_text(result: LintResult, fail_on: str = "error") -> str:
    """``file:line:col: severity rule-id message``, an indented hint, then the summary line."""
    lines = [text_finding(f) for f in result.findings]
    lines.append(summary_line(result, fail_on) + "\n")
    return "".join(lines)


def text_finding(f: Finding) -> str:
    """One finding as :func:`render_text` writes it (newline-terminated)."""
    where = f"{printable(f.file)}:{f.line}:{f.column}"
    line = f"{where}: {f.severity} {f.rule} {printable(f.message)}\n"
    return f"{line}    hint: {printable(f.hint)}\n" if f.hint else line


def render_json(result: LintResult, fail_on: str = "error") -> str:
    """``{"findings": [...], "summary": {...}}`` as indented JSON."""
    document = {
        "findings": [f.to_dict() for f in result.findings],
        "summary": summary(result, fail_on),
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _uri(path: str) -> str:
    # SARIF artifact locations are URIs: relative paths with '/' separators, or file: URIs.
    if os.path.isabs(path):
        from pathlib import Path  # only for absolute paths

        return Path(path).as_uri()
    from urllib.parse import quote  # SARIF only; kept off the start-up path

    return quote(path.replace(os.sep, "/"))


def _sarif_rule(rule: Rule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.summary.replace("`", "")},
        "fullDescription": {"text": rule.doc.replace("`", "")},
        "help": {
            "text": f"{rule.doc.replace('`', '')}\n\nFix: {rule.fix}",
            "markdown": f"{rule.doc}\n\n**Fix:** {rule.fix}",
        },
        "defaultConfiguration": {"level": _SARIF_LEVELS[rule.severity]},
        "properties": {"tags": ["kubernetes", "downward-api", rule.category]},
    }


def render_sarif(result: LintResult, fail_on: str = "error") -> str:
    """A SARIF 2.1.0 log with every rule in ``tool.driver.rules`` and one result per finding."""
    import hashlib  # SARIF only; kept off the start-up path

    from podself import __version__  # the package version goes into the tool description

    rules = list(RULES.values())
    index = {rule.id: i for i, rule in enumerate(rules)}
    results = []
    for f in result.findings:
        location: dict[str, Any] = {
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(f.file)},
                "region": {"startLine": max(1, f.line), "startColumn": max(1, f.column)},
            }
        }
        if f.object or f.field:
            location["logicalLocations"] = [
                {"fullyQualifiedName": f"{f.object}:{f.field}" if f.object else f.field}
            ]
        fingerprint = hashlib.sha256(
            "\0".join((f.rule, f.file, f.object, f.field, f.message)).encode()
        ).hexdigest()
        message = f"{f.message}\nHint: {f.hint}" if f.hint else f.message
        results.append(
            {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": _SARIF_LEVELS[f.severity],
                "message": {"text": message},
                "locations": [location],
                "partialFingerprints": {"podselfFinding/v1": fingerprint},
            }
        )
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "podself",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_sarif_rule(rule) for rule in rules],
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
                "properties": {"summary": summary(result, fail_on)},
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(result: LintResult, fail_on: str = "error") -> str:
    """One ``::error``/``::warning``/``::notice`` workflow command per finding, then the summary."""
    lines = [github_finding(f) for f in result.findings]
    lines.append(summary_line(result, fail_on) + "\n")
    return "".join(lines)


def github_finding(f: Finding) -> str:
    """One finding as :func:`render_github` writes it (newline-terminated)."""
    props = ",".join(
        (
            f"file={_escape_property(f.file)}",
            f"line={max(1, f.line)}",
            f"col={max(1, f.column)}",
            f"title={_escape_property(f'podself {f.rule}')}",
        )
    )
    text = f"{f.message}\nhint: {f.hint}" if f.hint else f.message
    return f"::{_GITHUB_LEVELS[f.severity]} {props}::{_escape_data(text)}\n"


_RENDERERS: Final = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
    "github": render_github,
}


def render(result: LintResult, fmt: str = "text", *, fail_on: str = "error") -> str:
    """Render ``result`` in one of :data:`FORMATS`."""
    try:
        renderer = _RENDERERS[fmt]
    except KeyError:
        msg = f"report format {fmt!r}: must be one of {', '.join(FORMATS)}"
        raise ValueError(msg) from None
    return renderer(result, fail_on)


def _markdown_rules(rules: Iterable[Rule]) -> str:
    rules = list(rules)
    kinds = {
        "input": "the file itself",
        "api": "rejected by the API server",
        "runtime": "a surprise at run time",
        "advice": "naming advice",
    }
    out = [
        "| Rule | Severity | Kind | What it finds |",
        "|---|---|---|---|",
    ]
    out.extend(
        f"| [`{r.id}`](#{r.id}) | {r.severity} | {kinds[r.category]} | {r.summary} |" for r in rules
    )
    for r in rules:
        out += [
            "",
            f"### `{r.id}`",
            "",
            f"**Severity:** {r.severity} · **Kind:** {kinds[r.category]}",
            "",
            r.doc,
            "",
            f"**Fix:** {r.fix}.",
        ]
    return "\n".join(out) + "\n"


def render_rules(fmt: str = "text", rules: Mapping[str, Rule] | None = None) -> str:
    """The rule reference: ``text`` (one line per rule), ``json`` or ``markdown`` (the page
    section in docs/lint.md is this output)."""
    chosen = list((rules or RULES).values())
    if fmt == "markdown":
        return _markdown_rules(chosen)
    if fmt == "json":
        data = [
            {
                "id": r.id,
                "severity": r.severity,
                "category": r.category,
                "summary": r.summary,
                "doc": r.doc,
                "fix": r.fix,
            }
            for r in chosen
        ]
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt != "text":
        msg = f"rule list format {fmt!r}: must be one of {', '.join(RULE_FORMATS)}"
        raise ValueError(msg)
    width = max(len(r.id) for r in chosen)
    return "".join(f"{r.id:<{width}}  {r.severity:<7}  {r.summary}\n" for r in chosen)

"""Lint rules for Downward API usage in Kubernetes manifests, and the engine that runs them.

Errors are exactly what the API server rejects (same field path and message); warnings are what
the kubelet would only reveal at run time. Every rule has an id, a severity and a documented fix,
and can be turned off with ``--disable`` or the ``podself.dev/lint-disable`` annotation.

The engine (:mod:`.engine`) knows no rule by name; each family of rules (:mod:`.rules`) holds
its rules' docs next to their checks, over the pod template model of :mod:`.pod`.
"""

from __future__ import annotations

# Imported for its effect: the families register their rules and checks with the engine.
import podself.manifest.lint.rules  # noqa: F401
from podself.manifest.lint.engine import (
    DISABLE_ANNOTATION,
    RULES,
    SEVERITIES,
    Finding,
    LintResult,
    Rule,
    lint_documents,
    lint_paths,
    lint_text,
    lint_workload,
    severity_rank,
)
from podself.manifest.lint.rules.kubelet import env_references

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

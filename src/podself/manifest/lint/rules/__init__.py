"""The rule families, registered with the engine in a fixed order.

Checks run family by family in the order below (on a tie in position, the earlier finding is
reported first), and ``RULE_ORDER`` is the order ``--list-rules``, the docs and SARIF list the
rules in: stable output that users and tests compare, so a new rule gets its place here.
"""

from __future__ import annotations

from typing import Final

from podself.manifest.lint.engine import register
from podself.manifest.lint.rules import api, documents, gates, kubelet, naming, resources

FAMILIES: Final = (
    documents.FAMILY,
    api.FAMILY,
    resources.FAMILY,
    gates.FAMILY,
    kubelet.FAMILY,
    naming.FAMILY,
)

RULE_ORDER: Final = (
    # the input itself
    "invalid-yaml",
    "input-limit",
    # errors: what the API server rejects
    "invalid-field-ref",
    "invalid-resource-field-ref",
    "invalid-env-source",
    "invalid-env-name",
    "invalid-volume",
    "invalid-name",
    "invalid-volume-mount",
    "invalid-label",
    "invalid-container",
    "invalid-type",
    "invalid-config-object",
    # warnings and advice
    "yaml-typed-scalar",
    "unknown-container",
    "resource-not-set",
    "divisor-rounding",
    "feature-gate-off",
    "divisor-overflow",
    "undefined-label",
    "undefined-annotation",
    "static-metadata-env",
    "subpath-never-updates",
    "undefined-env-reference",
    "duplicate-env",
    "env-name-mismatch",
    "naming-convention",
)

register(FAMILIES, RULE_ORDER)

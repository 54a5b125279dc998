"""Kubernetes manifest tooling: safe loading with positions, pod templates, and ``lint``.

Nothing here is imported by ``import podself``; PyYAML is loaded only when YAML is read.
"""

from __future__ import annotations

__all__: list[str] = []

"""Shared fixtures: the Kubernetes conformance vectors beside the project."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE_DIR = Path(
    os.environ.get("PODSELF_CONFORMANCE_DIR", ROOT.parent / "shared" / "conformance")
)


def load_conformance(name: str) -> Any:
    """Load one vector file from ../shared/conformance, or skip saying why it is absent."""
    path = CONFORMANCE_DIR / name
    if not path.is_file():
        pytest.skip(f"conformance vectors not found: {path} (set PODSELF_CONFORMANCE_DIR)")
    return json.loads(path.read_text(encoding="utf-8"))


def conformance_params(name: str, key: str) -> list[Any]:
    """Vectors for ``pytest.mark.parametrize`` at collection time; empty when absent."""
    path = CONFORMANCE_DIR / name
    if not path.is_file():
        reason = f"conformance vectors not found: {path} (set PODSELF_CONFORMANCE_DIR)"
        # An explicit id keeps parametrize's ids= callables from seeing the placeholder.
        return [pytest.param(None, id="vectors-absent", marks=pytest.mark.skip(reason=reason))]
    data = json.loads(path.read_text(encoding="utf-8"))
    for part in key.split("."):
        data = data[part]
    return list(data)

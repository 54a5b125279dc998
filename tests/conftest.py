"""Shared fixtures: the Kubernetes conformance vectors beside the project."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
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


@pytest.fixture
def deep_tree() -> Iterator[Callable[[Path, int], Path]]:
    """``make(base, depth)``: ``base/d/d/…`` ``depth`` levels deep, holding an empty file
    ``f``; returns ``base/d``. Removed again without recursion: pytest's own clean-up
    recurses and would fail on a tree deeper than the recursion limit."""
    made: list[Path] = []

    def make(base: Path, depth: int) -> Path:
        fd = os.open(base, os.O_RDONLY)
        try:
            for _ in range(depth):
                os.mkdir("d", dir_fd=fd)
                child = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = child
            os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
        finally:
            os.close(fd)
        made.append(base / "d")
        return base / "d"

    yield make
    for top in made:
        # Walk down by descriptor, then remove each level on the way back up.
        fds = [os.open(top.parent, os.O_RDONLY)]
        while True:
            try:
                fds.append(os.open("d", os.O_RDONLY, dir_fd=fds[-1]))
            except FileNotFoundError:
                break
        os.unlink("f", dir_fd=fds[-1])
        while len(fds) > 1:
            os.close(fds.pop())
            os.rmdir("d", dir_fd=fds[-1])
        os.close(fds[0])

"""Shared fixtures: the Kubernetes conformance vectors, and deep directory trees.

The vectors are facts recorded from Kubernetes' own code (see ``conformance/vectors/README.md``
for where each came from). They are vendored under ``tests/conformance/vectors`` (the large
ones xz-compressed) so that every clone runs them; ``tests/conformance/test_vendored.py`` keeps
them byte-identical to the shared copy beside the project when that folder exists.
"""

from __future__ import annotations

import json
import lzma
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
VECTORS_DIR = ROOT / "tests" / "conformance" / "vectors"
SHARED_CONFORMANCE_DIR = Path(
    os.environ.get("PODSELF_CONFORMANCE_DIR", ROOT.parent / "shared" / "conformance")
)


def conformance_bytes(name: str) -> bytes:
    """The vendored vector file ``name`` (e.g. ``validation.json``), decompressed."""
    plain = VECTORS_DIR / name
    if plain.is_file():
        return plain.read_bytes()
    return lzma.decompress((VECTORS_DIR / f"{name}.xz").read_bytes())


def load_conformance(name: str) -> Any:
    """Load one vendored vector file."""
    return json.loads(conformance_bytes(name))


def conformance_params(name: str, key: str) -> list[Any]:
    """Vectors for ``pytest.mark.parametrize``: the list at ``key`` (dotted) in ``name``."""
    data = load_conformance(name)
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

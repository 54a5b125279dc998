"""The vendored vectors are the shared ones, byte for byte (when the shared folder exists)."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED_CONFORMANCE_DIR, VECTORS_DIR, conformance_bytes

pytestmark = pytest.mark.skipif(
    not SHARED_CONFORMANCE_DIR.is_dir(),
    reason=f"no shared conformance folder to compare with at {SHARED_CONFORMANCE_DIR}",
)


def _vendored_names() -> set[str]:
    return {p.name.removesuffix(".xz") for p in VECTORS_DIR.iterdir()}


def test_same_files() -> None:
    shared = {p.name for p in SHARED_CONFORMANCE_DIR.iterdir() if p.is_file()}
    assert _vendored_names() == shared


@pytest.mark.parametrize("name", sorted(_vendored_names()))
def test_identical(name: str) -> None:
    assert conformance_bytes(name) == (SHARED_CONFORMANCE_DIR / name).read_bytes(), (
        f"tests/conformance/vectors/{name} differs from {SHARED_CONFORMANCE_DIR / name}: "
        "copy the shared file (xz -9e for files over 200 kB)"
    )

"""podself.manifest.scalars against kubectl's own conversion (recorded from go-yaml v2 and
sigs.k8s.io/yaml by tests/oracles/goyaml) and the cases the API server's answers rely on."""

from __future__ import annotations

import json
import lzma
from pathlib import Path
from typing import Any

import pytest

from podself.errors import ManifestError
from podself.manifest.scalars import map_key, plain_scalar, resolve_plain, typing_note

RECORDED = json.loads(
    lzma.decompress((Path(__file__).parent / "fixtures" / "goyaml-scalars.json.xz").read_bytes())
)["cases"]


def _is_parse_error(answer: dict[str, str]) -> bool:
    # The scalar is not a plain scalar in that position (e.g. "- x" starts a sequence).
    return "error" in answer and answer["error"].startswith("yaml:")


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: repr(c["scalar"]))
def test_value_as_kubectl_types_it(case: dict[str, Any]) -> None:
    answer = case["as_value"]
    if _is_parse_error(answer):
        return
    if "error" in answer:
        with pytest.raises(ManifestError, match="json: unsupported value"):
            plain_scalar(case["scalar"])
        return
    expected = json.loads(answer["json"])["v"]
    got = plain_scalar(case["scalar"])
    assert (type(got), got) == (type(expected), expected)


@pytest.mark.parametrize("case", RECORDED, ids=lambda c: repr(c["scalar"]))
def test_key_as_kubectl_writes_it(case: dict[str, Any]) -> None:
    answer = case["as_key"]
    if _is_parse_error(answer):
        return
    if "error" in answer:
        with pytest.raises(ManifestError, match="Unsupported map key"):
            map_key(resolve_plain(case["scalar"]))
        return
    (expected,) = json.loads(answer["json"])
    assert map_key(resolve_plain(case["scalar"])) == expected


def test_the_recording_covers_the_surprises() -> None:
    """The cases the API server's answers depend on are in the recording."""
    scalars = {c["scalar"] for c in RECORDED}
    assert {"y", "N", "on", "0o22", "08", "1e3", "12:30", "420.0", ".inf"} <= scalars


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("y", "`y` is the boolean true in Kubernetes YAML; quote it if a string is meant"),
        ("N", "`N` is the boolean false in Kubernetes YAML; quote it if a string is meant"),
        ("0o22", "`0o22` is the number 18 in Kubernetes YAML; quote it if a string is meant"),
        ("1e3", "`1e3` is the number 1000 in Kubernetes YAML; quote it if a string is meant"),
        ("~", "`~` is null in Kubernetes YAML; quote it if a string is meant"),
        ("12:30", None),
        ("web", None),
        ("", None),
    ],
)
def test_typing_note(text: str, note: str | None) -> None:
    assert typing_note(text) == note


def test_typing_note_for_values_json_cannot_carry() -> None:
    assert typing_note(".nan") == (
        "error converting YAML to JSON: json: unsupported value: NaN (from '.nan')"
    )

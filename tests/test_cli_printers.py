"""kubectl's -o json / -o yaml printers: fixed cases recorded from kubectl 1.32, and kubectl
itself as the oracle on generated strings when it is installed."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from podself.cli.printers import kubectl_json, kubectl_yaml

KUBECTL = shutil.which("kubectl")
LONG = " ".join("abcdefghijklmnopqrstuvwxyz" * 2)  # 103 characters


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("alpha", "alpha"),
        ("", '""'),
        ("y", '"y"'),
        ("off", '"off"'),
        ("123", '"123"'),
        ("1e3", '"1e3"'),
        ("12:30", '"12:30"'),
        ("2025-11-08T10:30:45Z", '"2025-11-08T10:30:45Z"'),
        ("a: b", "'a: b'"),
        ("a:b", "a:b"),
        ("- x", "'- x'"),
        ("-x", "-x"),
        ("a #b", "'a #b'"),
        ("'q'", "'''q'''"),
        ("*x", "'*x'"),
        (" x", "' x'"),
        ("x\ty", '"x\\ty"'),
        ("héllo", "héllo"),
        ("line1\nline2\n", "|\n    line1\n    line2"),
        ("line1\nline2", "|-\n    line1\n    line2"),
        (LONG, LONG[:77] + "\n    " + LONG[78:]),  # the space after column 80 breaks
    ],
)
def test_yaml_scalars(value: str, shown: str) -> None:
    """go-yaml v2's quoting, block scalars and folding past 80 columns, as kubectl prints."""
    assert kubectl_yaml({"metadata": {"k": value}}) == f"metadata:\n  k: {shown}\n"


def test_yaml_layout_and_numbers() -> None:
    """Sorted keys, lists under a key not indented, empty collections, Go's float form."""
    obj: dict[str, Any] = {
        "b": [{"y": 1.5e300, "x": [1, "a"]}, [], {}],
        "a": {"n": -0.0, "big": 2**63, "z": 1e22, "t": True, "none": None},
    }
    assert kubectl_yaml(obj) == (
        'a:\n  big: 9223372036854776000\n  "n": 0\n  none: null\n  t: true\n  z: 1e+22\n'
        'b:\n- x:\n  - 1\n  - a\n  "y": 1.5e+300\n- []\n- {}\n'
    )


def test_json_escapes_and_numbers() -> None:
    """Go's encoding/json: HTML characters escaped, 4-space indent, int64 or float64."""
    assert kubectl_json({"b": ["<a&b>", 2**63, 0.5], "a": {}}) == (
        '{\n    "a": {},\n    "b": [\n        "\\u003ca\\u0026b\\u003e",\n'
        "        9223372036854776000,\n        0.5\n    ]\n}\n"
    )


def _generated(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = "ab :#-'\"\n\t xy1.é{}[]*&!|>%@`,?"
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))) for _ in range(count)]


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not on PATH: the oracle tests need it")
@pytest.mark.parametrize("output", ["yaml", "json"])
def test_generated_strings_print_as_kubectl_prints_them(tmp_path: Path, output: str) -> None:
    """Values and keys of every shape (quotes, indicators, breaks, long lines) byte for byte
    as kubectl 1.32 prints them. Keys avoid go-yaml's non-transitive digit ordering."""
    values = _generated(14, 150)
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "x",
            "namespace": "default",
            "annotations": {f"k{i:03d}": v for i, v in enumerate(values)},
            "labels": dict.fromkeys(("a: b", "- x", "y", "on", "#x", "x" * 130, "a\nb"), "v"),
        },
        "spec": {"containers": [{"name": "c", "args": values, "n": [1.5, 1e-7, 2**63, -0.0]}]},
    }
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(pod), encoding="utf-8")
    result = subprocess.run(
        [str(KUBECTL), "annotate", "--local", "-f", str(manifest), "k000-", "-o", output],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        env={**os.environ, "KUBECONFIG": str(tmp_path / "none")},
    )
    del pod["metadata"]["annotations"]["k000"]
    printer = kubectl_yaml if output == "yaml" else kubectl_json
    assert printer(pod) == result.stdout

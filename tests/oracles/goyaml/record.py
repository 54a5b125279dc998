"""Record how kubectl's YAML-to-JSON conversion types scalars, for tests/test_manifest_scalars.py.

Builds main.go (sigs.k8s.io/yaml on gopkg.in/yaml.v2) and writes
tests/fixtures/goyaml-scalars.json.xz: each candidate scalar as a value (``v: <scalar>``) and
as a key (``<scalar>: x``), with what YAMLToJSON returned. On Debian:
``apt-get install golang-go golang-gopkg-yaml.v2-dev golang-k8s-sigs-yaml-dev``, then
``python tests/oracles/goyaml/record.py``.
"""

from __future__ import annotations

import json
import lzma
import os
import random
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE.parents[1] / "fixtures" / "goyaml-scalars.json.xz"
ALPHABET = "0123456789+-._eExXoObB:yYnN~tTfFaAiInN._0_1"
FIXED_TEXT = (
    "y Y yes Yes YES n N no NO on On ON off OFF true True TRUE false null Null NULL ~ "
    "0o22 010 08 09 0x1F -0x1F +0x1F 0b101 -0b101 0b2 1e3 1E3 1e-3 1e+3 420.0 12:30 1:2:3 "
    "2024-01-02 2024-01-02T10:00:00Z 1_000 0x_1F 1__0 _1 1_ 9223372036854775807 "
    "9223372036854775808 -9223372036854775808 -9223372036854775809 18446744073709551615 "
    "18446744073709551616 .5 +.5 -.5 . .. 1. +1 -1 + - 0 00 -0 +0 0.0 -0.0 1e400 -1e400 "
    "1e-400 .inf .Inf -.inf +.inf .nan .NaN NaN inf Infinity 0x 0o 0b 0X1f 0O17 0B11 1.5e3 "
    "1.5E+03 3.14159265358979323846 123456789012345678901234567890 0.1 1e21 1e20 "
    "123456789.123 5e-7 1e-6 3.4028235677973366e38 3.4028234663852886e38 1e39 1e-45 "
    ".8_91 .8e1_0 ._5 .5_ .5e_1 1.5_5 1_.5 1e1_0 2_000.5 1_0e3 0_7 0_8 12e e3 1e 1.e3 .e3 "
    "0. -. ++1 --1 1-2 1+2"
)
FIXED = [*FIXED_TEXT.split(), ""]


def main() -> None:
    rng = random.Random(20261202)
    generated = (
        "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8))) for _ in range(6000)
    )
    candidates = list(dict.fromkeys([*FIXED, *generated]))
    documents = [f"v: {c}\n" for c in candidates] + [f"{c}: x\n" for c in candidates]
    with tempfile.TemporaryDirectory() as build:
        binary = os.path.join(build, "oracle")
        env = {**os.environ, "GO111MODULE": "off", "GOPATH": "/usr/share/gocode"}
        subprocess.run(["go", "build", "-o", binary, str(HERE / "main.go")], check=True, env=env)
        answers = json.loads(
            subprocess.run(
                [binary], input=json.dumps(documents), capture_output=True, text=True, check=True
            ).stdout
        )
    versions = subprocess.run(
        ["dpkg-query", "-W", "golang-go", "golang-gopkg-yaml.v2-dev", "golang-k8s-sigs-yaml-dev"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    count = len(candidates)
    data = {
        "generated_by": "tests/oracles/goyaml/main.go: sigs.k8s.io/yaml YAMLToJSON on "
        + "gopkg.in/yaml.v2, "
        + "; ".join(v.replace("\t", " ") for v in versions if v),
        "cases": [
            {"scalar": c, "as_value": answers[i], "as_key": answers[count + i]}
            for i, c in enumerate(candidates)
        ],
    }
    OUT.write_bytes(lzma.compress(json.dumps(data, indent=0, ensure_ascii=True).encode(), preset=9))
    print(f"{OUT}: {count} scalars")


if __name__ == "__main__":
    main()

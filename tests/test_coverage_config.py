"""`make coverage` works from a clone: the configuration measures the package (its CLI
subprocesses included) and nothing else, such as docs blocks run as pseudo-files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    shutil.which("coverage", path=os.path.dirname(sys.executable)) is None,
    reason="coverage is not installed (pip install -e '.[test]')",
)


def test_measures_the_package_and_its_subprocesses(tmp_path: Path) -> None:
    env = {**os.environ, "COVERAGE_FILE": str(tmp_path / ".coverage")}
    coverage = os.path.join(os.path.dirname(sys.executable), "coverage")
    code = (
        "import subprocess, sys; import podself.quantity as q; q.Quantity.parse('1Gi'); "
        "subprocess.run([sys.executable, '-m', 'podself', 'tune', '--json'], check=True, "
        "capture_output=True)"
    )
    script = tmp_path / "probe.py"
    script.write_text(code, encoding="utf-8")
    output = tmp_path / "coverage.json"
    # From the project root, where pyproject.toml holds the configuration.
    for argv in (["run", str(script)], ["combine", "-q"], ["json", "-q", "-o", str(output)]):
        subprocess.run([coverage, *argv], cwd=ROOT, env=env, check=True)
    report = json.loads(output.read_text(encoding="utf-8"))
    files = set(report["files"])
    assert files, "nothing measured"
    assert all(name.startswith("src/podself/") for name in files), files
    assert "src/podself/quantity.py" in files
    assert report["files"]["src/podself/cli/tune.py"]["summary"]["covered_lines"] > 0

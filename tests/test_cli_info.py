"""Tests for ``podself info``: the human report and ``--json`` for unusual label values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from podself.cli.info import render
from podself.pod import read


def _podinfo(tmp_path: Path, annotations: str) -> Path:
    directory = tmp_path / "podinfo"
    directory.mkdir()
    (directory / "labels").write_text('app="한글"', encoding="utf-8")
    (directory / "annotations").write_text(annotations, encoding="utf-8")
    return directory


def _run_info(
    directory: Path, *args: str, encoding: str = "utf-8"
) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}
    env["PYTHONIOENCODING"] = encoding
    return subprocess.run(
        [sys.executable, "-m", "podself", "info", "--podinfo-dir", str(directory), *args],
        capture_output=True,
        env=env,
        check=False,
    )


class TestRender:
    def test_control_characters_are_quoted(self, tmp_path: Path) -> None:
        """Newlines and escape sequences in an annotation print Go-quoted, one line each."""
        directory = _podinfo(tmp_path, 'note="a\\nb\\x1b[2J"\nplain="한글 😀"')
        info = read(environ={}, podinfo_dirs=[directory], proc_root=tmp_path / "no-proc")
        text = render(info)
        assert '  note: "a\\nb\\x1b[2J"' in text.splitlines()
        assert "  plain: 한글 😀" in text.splitlines()
        assert "\x1b" not in text

    def test_gpus_and_unreadable_limit_names(self, tmp_path: Path) -> None:
        """GPUs appear with their source when known; a limit-looking name is warned about."""
        env = {"NVIDIA_VISIBLE_DEVICES": "0,1", "APP_CPU_LIMITS": "2"}
        info = read(environ=env, podinfo_dirs=[], proc_root=tmp_path / "no-proc")
        lines = render(info).splitlines()
        assert any(line.split()[:2] == ["GPUs:", "2"] for line in lines)
        assert any("NVIDIA_VISIBLE_DEVICES" in line and "GPUs" in line for line in lines)
        assert any("env APP_CPU_LIMITS looks like a CPU or memory limit" in line for line in lines)
        bare = render(read(environ={}, podinfo_dirs=[], proc_root=tmp_path / "no-proc"))
        assert "GPUs" not in bare

    def test_other_containers_limits(self, tmp_path: Path) -> None:
        """Each container of the volume's containers/ directory gets a block with sources."""
        from podself.testing import FakePod

        pod = FakePod(
            tmp_path,
            container="side",
            limits={},
            env=None,
            layout="containers",
            others={"main": {"cpu": "1", "memory": "512Mi"}},
        )
        lines = render(pod.read()).splitlines()
        at = lines.index("Container 'main' (from the podinfo volume):")
        assert lines[at + 1].split("[")[0].split() == ["Memory", "Limit:", "512", "MB"]
        assert lines[at + 1].endswith(f"[downward: {pod.podinfo_dir}/containers/main/mem_limit]")
        assert "Container 'side' (from the podinfo volume) (this container):" in lines
        assert any(
            line.split() == ["Container:", "side", "[env:", "K8S_CONTAINER_NAME]"] for line in lines
        )


class TestOutputEncoding:
    def test_ascii_terminal_does_not_crash(self, tmp_path: Path) -> None:
        """Hangul labels on an ASCII-only stdout are escaped instead of raising."""
        result = _run_info(_podinfo(tmp_path, ""), encoding="ascii")
        assert result.returncode == 0, result.stderr
        assert b"app: \\ud55c\\uae00" in result.stdout

    def test_json_stays_valid_utf8(self, tmp_path: Path) -> None:
        """A \\x escape in an annotations file still gives valid UTF-8 JSON."""
        result = _run_info(_podinfo(tmp_path, 'k="\\xff"'), "--json", encoding="utf-8")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout.decode("utf-8"))
        assert data["annotations"] == {"k": "\udcff"}
        assert data["labels"] == {"app": "한글"}

    def test_json_on_ascii_terminal(self, tmp_path: Path) -> None:
        """--json on an ASCII-only stdout prints escaped JSON that decodes to the same labels."""
        result = _run_info(_podinfo(tmp_path, ""), "--json", encoding="ascii")
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["labels"] == {"app": "한글"}


class TestHostileVolume:
    def test_deep_escaping_and_oversized_volume(
        self, tmp_path: Path, deep_tree: Callable[[Path, int], Path]
    ) -> None:
        """A volume nested past the recursion limit, with a ..data link out of it and an
        oversized namespace file: a report with warnings and exit 0, never a traceback."""
        directory = tmp_path / "podinfo"
        directory.mkdir()
        deep_tree(directory, sys.getrecursionlimit() + 500)
        (directory / "namespace").write_text("n" * 100, encoding="utf-8")
        os.symlink("../../../../../etc", directory / "..data")
        result = _run_info(directory, "--json")
        assert result.returncode == 0, result.stderr
        assert b"Traceback" not in result.stderr
        warnings = json.loads(result.stdout)["warnings"]
        assert any("is not a timestamp directory inside it" in w for w in warnings)
        os.unlink(directory / "..data")
        warnings = json.loads(_run_info(directory, "--json").stdout)["warnings"]
        assert any('namespace": file larger than 65 bytes; ignored' in w for w in warnings)

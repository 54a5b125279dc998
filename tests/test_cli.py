"""Tests for the ``podself`` command itself: its standard streams, whatever the command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: app, image: x, resources: {limits: {cpu: "1", memory: 64Mi}}}]
"""
COMMANDS = (("lint", "pod.yaml"), ("inject", "pod.yaml"), ("info",), ("tune",))


def _podself(
    tmp_path: Path, args: tuple[str, ...], unbuffered: bool = False, **kwargs: object
) -> tuple[int, str]:
    (tmp_path / "pod.yaml").write_text(POD, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    proc = subprocess.run(  # type: ignore[call-overload]
        [sys.executable, "-m", "podself", *args],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        timeout=60,
        check=False,
        **kwargs,
    )
    return proc.returncode, proc.stderr.decode(errors="replace")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_full_stdout_is_an_error_not_a_traceback(
    tmp_path: Path, args: tuple[str, ...], unbuffered: bool
) -> None:
    """A stdout that cannot be written (ENOSPC) ends the command with exit 1 and a message."""
    with open("/dev/full", "wb") as full:
        code, err = _podself(tmp_path, args, unbuffered, stdout=full)
    assert "Traceback" not in err, err
    assert "Exception ignored" not in err, err
    assert code == 1
    assert f"podself {args[0]}: cannot write to stdout: No space left on device" in err


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_closed_stdout_is_not_a_traceback(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Started with ``>&-``, a command runs as if its output went to the null device."""
    code, err = _podself(tmp_path, args, stdout=subprocess.DEVNULL)
    code_closed, err_closed = _podself(tmp_path, args, preexec_fn=lambda: os.close(1))
    assert "Traceback" not in err_closed, err_closed
    assert (code_closed, err_closed) == (code, err)


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "unbuffered"])
def test_stdout_keeps_its_buffering(unbuffered: bool) -> None:
    """With python -u (PYTHONUNBUFFERED) stdout stays unbuffered: a sidecar's lines reach
    its log at once."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    script = (
        "import io, sys; import podself.cli as c; c._guard_streams(); "
        "sys.stderr.write(f'{isinstance(sys.stdout.buffer, io.RawIOBase)} "
        "{sys.stdout.write_through}')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert proc.stderr == f"{unbuffered} {unbuffered}"


@pytest.mark.parametrize("args", [("lint", "-"), ("inject", "-")], ids=" ".join)
def test_closed_stdin_reads_as_empty(tmp_path: Path, args: tuple[str, ...]) -> None:
    """Started with ``<&-``, a command reading stdin reads nothing (it was a traceback)."""
    code, err = _podself(tmp_path, args, preexec_fn=lambda: os.close(0), stdout=subprocess.PIPE)
    code_empty, err_empty = _podself(tmp_path, args, stdin=subprocess.DEVNULL)
    assert "Traceback" not in err, err
    assert (code, err) == (code_empty, err_empty)

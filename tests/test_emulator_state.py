"""podself.emulator.state: the per-pod state directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from podself.emulator.state import (
    STATE_DIR_ENV,
    PodState,
    default_state_root,
    list_pods,
    process_alive,
    process_token,
)
from podself.errors import ManifestError

POD = {"metadata": {"name": "demo", "namespace": "default", "labels": {"stage": "alpha"}}}


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_owner(state: PodState, pid: int, token: str) -> None:
    """Pretend ``pid`` owns ``state``."""
    (Path(state.path) / "owner.json").write_text(json.dumps({"pid": pid, "token": token}))


class TestRoot:
    """Where state lives."""

    def test_env_wins(self, tmp_path: Path) -> None:
        """$PODSELF_STATE_DIR is used as given (made absolute)."""
        assert default_state_root({STATE_DIR_ENV: str(tmp_path)}) == str(tmp_path)

    def test_default(self, tmp_path: Path) -> None:
        """Root uses /run/podself; others the runtime dir or a per-user temp dir."""
        root = default_state_root({"XDG_RUNTIME_DIR": str(tmp_path)})
        if os.geteuid() == 0:
            assert root == "/run/podself"
        else:
            assert root == str(tmp_path / "podself")


class TestPodState:
    """Creating, editing and removing a pod's directory."""

    def test_lifecycle(self, tmp_path: Path) -> None:
        """create writes pod.json and the owner; update_pod edits; remove deletes it all."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        assert state.exists()
        assert state.alive()
        assert state.read_pod() == POD
        assert os.path.isdir(state.volumes_dir)

        def change(pod: dict[str, Any]) -> None:
            pod["metadata"]["labels"]["stage"] = "beta"

        assert state.update_pod(change)["metadata"]["labels"] == {"stage": "beta"}
        assert state.read_pod()["metadata"]["labels"] == {"stage": "beta"}
        state.write_status({"phase": "Running"})
        assert state.read_status() == {"phase": "Running"}
        state.remove()
        assert not state.exists()
        assert not (tmp_path / "default").exists()

    def test_already_running(self, tmp_path: Path) -> None:
        """A second create for a live pod fails with the API server's message."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        with pytest.raises(ManifestError, match=r'^pods "demo" already exists$'):
            state.create(POD)

    def test_stale_directory_is_replaced(self, tmp_path: Path) -> None:
        """A directory left by a dead run is not alive and is replaced on create."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        (Path(state.path) / "leftover").write_text("x")
        pid = dead_pid()
        write_owner(state, pid, process_token(pid))
        assert not state.alive()
        state.create(POD)
        assert not (Path(state.path) / "leftover").exists()
        assert state.alive()

    def test_remove_keeps_symlink_targets(self, tmp_path: Path) -> None:
        """Removing the state never follows symlinks out of it."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "keep").write_text("x")
        state = PodState(str(tmp_path / "state"), "default", "demo")
        state.create(POD)
        os.symlink(outside, Path(state.containers_dir) / "link")
        state.remove()
        assert (outside / "keep").read_text() == "x"

    def test_missing_status(self, tmp_path: Path) -> None:
        """Status reads as {} before it is written; owner as None."""
        state = PodState(str(tmp_path), "default", "demo")
        assert state.read_status() == {}
        assert state.owner() is None
        assert not state.alive()


class TestListing:
    """Finding running pods."""

    def test_list_pods(self, tmp_path: Path) -> None:
        """Only pods with a live owner are listed, per namespace or all."""
        live = PodState(str(tmp_path), "default", "live")
        live.create(POD)
        other = PodState(str(tmp_path), "prod", "api")
        other.create(POD)
        stale = PodState(str(tmp_path), "default", "stale")
        stale.create(POD)
        pid = dead_pid()
        write_owner(stale, pid, process_token(pid))
        assert [s.name for s in list_pods(str(tmp_path), "default")] == ["live"]
        assert [(s.namespace, s.name) for s in list_pods(str(tmp_path))] == [
            ("default", "live"),
            ("prod", "api"),
        ]
        assert list_pods(str(tmp_path / "absent")) == []


class TestProcesses:
    """Telling a live owner from a reused pid."""

    def test_alive(self) -> None:
        """This process is alive with its own token, not with another token."""
        token = process_token(os.getpid())
        assert process_alive(os.getpid(), token)
        assert not process_alive(os.getpid(), token + "0")
        assert not process_alive(0, token)

    def test_dead(self) -> None:
        """An exited process is not alive."""
        pid = dead_pid()
        assert not process_alive(pid, process_token(pid))

"""podself.emulator.state: the per-pod state directory."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from podself.emulator.state import (
    STATE_DIR_ENV,
    PodExistsError,
    PodState,
    default_state_root,
    list_pods,
    process_alive,
    process_token,
)
from podself.errors import ConfinementError, ManifestError

POD = {"metadata": {"name": "demo", "namespace": "default", "labels": {"stage": "alpha"}}}
LOCK = ".lock." + hashlib.sha256(b"demo").hexdigest()[:16]  # the start lock of pod "demo"


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
        (tmp_path / ".not-a-namespace").mkdir()
        assert len(list_pods(str(tmp_path))) == 2

    @pytest.mark.parametrize(
        ("namespace", "name"), [("default", "Bad\x1b[31m"), ("\udcff", "ok"), ("default", "x_y")]
    )
    def test_names_no_pod_can_have_are_not_listed(
        self, tmp_path: Path, namespace: str, name: str
    ) -> None:
        """A live-looking directory whose name the API server would refuse was not made by
        podself: it is not listed (its name, escape sequences and all, was printed)."""
        planted = PodState(str(tmp_path), namespace, name)
        planted.create(POD)
        assert planted.alive()
        assert list_pods(str(tmp_path)) == []


class TestProcesses:
    """Telling a live owner from a reused pid."""

    def test_alive(self) -> None:
        """This process is alive with its own token, not with another token."""
        token = process_token(os.getpid())
        assert process_alive(os.getpid(), token)
        assert not process_alive(os.getpid(), token + "0")
        assert not process_alive(0, token)
        # An owner.json edited by hand: no OverflowError from os.kill.
        assert not process_alive(10**23, token)
        assert not process_alive(2**31, token)

    def test_dead(self) -> None:
        """An exited process is not alive."""
        pid = dead_pid()
        assert not process_alive(pid, process_token(pid))


def canaries(tmp_path: Path) -> dict[str, str]:
    """Files and directories around the state dir that no attack may touch."""
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    (home / "keep").write_text("alice")
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root")
    return snapshot(tmp_path, skip="state")


def snapshot(base: Path, skip: str) -> dict[str, str]:
    """Every path under ``base`` (outside ``skip``) with its content or link target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        rel = os.path.relpath(dirpath, base)
        if rel.split(os.sep)[0] == skip:
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            if rel == "." and name == skip:
                continue
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                found[path] = "-> " + os.readlink(path)
            elif os.path.isfile(path):
                found[path] = Path(path).read_text()
            else:
                found[path] = "dir"
    return found


class TestConfinement:
    """Hostile names and planted symlinks never reach outside the state directory."""

    @pytest.mark.parametrize(
        ("namespace", "name"),
        [
            ("../../home", "alice"),
            ("default", "."),
            ("default", ".."),
            ("..", ".."),
            ("/", "etc"),
            (str(Path("/tmp")), "x"),
            ("default", "a/../../../etc"),
            ("default", ""),
            ("", "x"),
            ("default", "x\0y"),
            ("default", "x" * 256),
            ("default", ".stale.demo.0123abcd"),
            ("default", ".demo.lock"),
            (".hidden", "x"),
        ],
    )
    def test_hostile_names_are_refused(self, tmp_path: Path, namespace: str, name: str) -> None:
        """Names that are not one plain path component raise before anything is touched."""
        before = canaries(tmp_path)
        with pytest.raises(ConfinementError, match=r"^(namespace|pod name) .*: must "):
            PodState(str(tmp_path / "state"), namespace, name)
        assert snapshot(tmp_path, skip="state") == before
        assert not (tmp_path / "state").exists()

    def test_symlinked_namespace_is_refused(self, tmp_path: Path) -> None:
        """A namespace directory swapped for a symlink is never followed."""
        before = canaries(tmp_path)
        state_dir = tmp_path / "state"
        state_dir.mkdir(mode=0o700)
        (state_dir / "default").symlink_to(tmp_path / "home")
        state = PodState(str(state_dir), "default", "alice")
        with pytest.raises(ConfinementError, match="must be a directory, not a symbolic link"):
            state.create(POD)
        with pytest.raises(ConfinementError):
            state.remove()
        assert snapshot(tmp_path, skip="state") == before

    def test_symlinked_pod_directory_is_unlinked_not_followed(self, tmp_path: Path) -> None:
        """A symlink where the pod directory goes is removed itself; its target stays."""
        before = canaries(tmp_path)
        state = PodState(str(tmp_path / "state"), "default", "alice")
        state.create(POD)
        state.remove()
        os.makedirs(tmp_path / "state" / "default", mode=0o700)
        os.symlink(tmp_path / "home" / "alice", state.path)
        assert not state.exists()
        state.create(POD)
        assert not os.path.islink(state.path)
        state.remove()
        assert snapshot(tmp_path, skip="state") == before

    def test_directory_without_owner_record_is_never_deleted(self, tmp_path: Path) -> None:
        """A non-empty directory podself did not create is refused, with the path named."""
        state = PodState(str(tmp_path / "state"), "default", "demo")
        os.makedirs(state.path)
        os.chmod(tmp_path / "state", 0o700)
        Path(state.path, "precious").write_text("x")
        with pytest.raises(ConfinementError, match="no owner record of a podself run"):
            state.create(POD)
        assert Path(state.path, "precious").read_text() == "x"

    def test_empty_leftover_without_owner_is_reused(self, tmp_path: Path) -> None:
        """An empty directory, or one holding only the owner record's temporary file (a run
        killed before it wrote its owner), is simply reused."""
        state = PodState(str(tmp_path / "state"), "default", "demo")
        os.makedirs(state.path)
        os.chmod(tmp_path / "state", 0o700)
        Path(state.path, ".tmp-owner.json-0123abcd").write_text('{"pid"')
        assert state.create(POD) == []
        assert state.alive()

    def test_remove_only_by_the_owner(self, tmp_path: Path) -> None:
        """A run never deletes a directory another run took over."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        write_owner(state, 1, process_token(1))
        with pytest.raises(ConfinementError, match="owner record of this podself run"):
            state.remove()
        assert state.exists()

    def test_longest_pod_name_starts_and_restarts(self, tmp_path: Path) -> None:
        """A 253-byte pod name (the API maximum) gets its lock and, after a dead run, its
        directory moved aside: no name passes 255 bytes."""
        state = PodState(str(tmp_path), "default", "a" * 253)
        state.create(POD)
        pid = dead_pid()
        write_owner(state, pid, process_token(pid))
        assert state.create(POD) == []
        state.remove()
        assert not (tmp_path / "default").exists()

    def test_container_dir_is_confined(self, tmp_path: Path) -> None:
        """Container names build paths too: one component, no symlink followed."""
        before = canaries(tmp_path)
        state = PodState(str(tmp_path / "state"), "default", "demo")
        state.create(POD)
        assert state.container_dir("app") == os.path.join(state.containers_dir, "app")
        for name in ("../../../home", "..", "a/b", "", ".probe"):
            with pytest.raises(ConfinementError, match="container name"):
                state.container_dir(name)
        os.symlink(tmp_path / "home", os.path.join(state.containers_dir, "evil"))
        with pytest.raises(ConfinementError, match="not a symbolic link"):
            state.container_dir("evil")
        state.remove()
        assert snapshot(tmp_path, skip="state") == before


class TestPrivateRoot:
    """The state root is private to the user running podself."""

    def test_created_private(self, tmp_path: Path) -> None:
        """A missing root and every directory podself makes are 0700."""
        state = PodState(str(tmp_path / "new" / "state"), "default", "demo")
        state.create(POD)
        for path in (state.root, os.path.dirname(state.path), state.path):
            assert stat.S_IMODE(os.lstat(path).st_mode) == 0o700
        state.remove()

    def test_symlinked_root_is_refused(self, tmp_path: Path) -> None:
        """A root that is a symlink (planted in /tmp by another user) is refused."""
        target = tmp_path / "elsewhere"
        target.mkdir(mode=0o700)
        (tmp_path / "podself-1000").symlink_to(target)
        state = PodState(str(tmp_path / "podself-1000"), "default", "demo")
        with pytest.raises(ConfinementError, match=r'state directory ".*podself-1000": must not '):
            state.create(POD)
        assert list(target.iterdir()) == []

    def test_writable_root_is_refused(self, tmp_path: Path) -> None:
        """A root group or others can write is refused, with its mode."""
        root = tmp_path / "shared"
        root.mkdir()
        os.chmod(root, 0o1777)
        with pytest.raises(ConfinementError, match=r"writable by group or others \(mode 1777\)"):
            PodState(str(root), "default", "demo").create(POD)
        assert list(root.iterdir()) == []

    @pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
    def test_foreign_root_is_refused(self, tmp_path: Path) -> None:
        """A root pre-created by another user is refused, naming both uids."""
        root = tmp_path / "podself-0"
        root.mkdir(mode=0o700)
        os.chown(root, 65534, 65534)
        with pytest.raises(ConfinementError, match=r"must be owned by uid 0 .*not uid 65534"):
            PodState(str(root), "default", "demo").create(POD)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_other_users_cannot_read_volume_files() -> None:
    """Secret files keep the kubelet's 0644, yet another user cannot reach them: the
    directories podself creates above the volumes are 0700."""
    with tempfile.TemporaryDirectory() as shared:  # /tmp itself: every user can traverse it
        os.chmod(shared, 0o755)
        check_other_user_is_kept_out(shared)


def check_other_user_is_kept_out(shared: str) -> None:
    """Create a pod under ``shared`` and try to read its volume file as nobody."""
    state = PodState(os.path.join(shared, "state"), "default", "demo")
    state.create(POD)
    secret = Path(state.volumes_dir) / "token"
    secret.write_text("s3cret")
    os.chmod(secret, 0o644)
    probe = subprocess.run(
        ["cat", str(secret)], user=65534, capture_output=True, text=True, check=False
    )
    assert probe.returncode == 1
    assert "Permission denied" in probe.stderr
    state.remove()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")
def test_no_writes_into_a_root_another_user_took(tmp_path: Path) -> None:
    """pod.json and status.json are written only while the root is still private."""
    state = PodState(str(tmp_path / "state"), "default", "demo")
    state.create(POD)
    os.chown(state.root, 65534, 65534)
    for write in (state.write_pod, state.write_status):
        with pytest.raises(ConfinementError, match=r"must be owned by uid 0 .*not uid 65534"):
            write({"changed": True})
    assert state.read_pod() == POD
    os.chown(state.root, 0, 0)
    state.remove()


class TestLeftovers:
    """A dead run's directory never makes the pod name unusable."""

    def test_deep_tree_is_removed(self, tmp_path: Path) -> None:
        """1,200 nested directories (more than the recursion limit) are removed."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        fd = os.open(state.volumes_dir, os.O_RDONLY)
        try:
            for _ in range(1200):
                os.mkdir("d", dir_fd=fd)
                child = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = child
        finally:
            os.close(fd)
        pid = dead_pid()
        write_owner(state, pid, process_token(pid))
        assert state.create(POD) == []
        assert os.listdir(state.volumes_dir) == []
        state.remove()
        assert not (tmp_path / "default").exists()

    def test_unremovable_leftover_is_reported_and_the_name_reused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When a leftover cannot be removed it is moved aside, named in a note, and swept
        again by the next start."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        pid = dead_pid()
        write_owner(state, pid, process_token(pid))

        def fail(parent_fd: int, name: str) -> None:
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr("podself.emulator.state.remove_entry", fail)
        notes = state.create(POD)
        assert len(notes) == 1
        assert re.match(
            r'^cannot remove ".*/default/\.stale\.[0-9a-f]{16}\.[0-9a-f]{8}" '
            r'\(the state of pod "demo"\): ',
            notes[0],
        )
        assert state.alive()
        monkeypatch.undo()
        state.remove()
        assert state.create(POD) == []  # the sweep removed the old one
        assert sorted(os.listdir(tmp_path / "default")) == [LOCK, "demo"]


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"), reason="needs root and unshare"
)
def test_bind_mount_inside_is_never_deleted_through(tmp_path: Path) -> None:
    """A host directory bind-mounted into a pod's volume (same filesystem, so invisible to
    st_dev) stops the removal with a message; the host files stay."""
    src = str(Path(__file__).resolve().parent.parent / "src")
    host = tmp_path / "host"
    host.mkdir()
    (host / "authorized_keys").write_text("keep")
    script = (
        f"import os, sys; sys.path.insert(0, {src!r})\n"
        "import subprocess\n"
        "from podself.emulator.state import PodState\n"
        f"state = PodState({str(tmp_path / 'state')!r}, 'default', 'demo')\n"
        "state.create({})\n"
        "target = os.path.join(state.volumes_dir, 'x')\n"
        "os.mkdir(target)\n"
        f"subprocess.run(['mount', '--bind', {str(host)!r}, target], check=True)\n"
        "try:\n"
        "    state.remove()\n"
        "except OSError as exc:\n"
        "    print(exc)\n"
    )
    probe = subprocess.run(
        ["unshare", "-m", "--propagation", "private", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout.endswith('/volumes/x" is mounted inside it (unmount it first)\n')
    assert probe.stdout.startswith('pod state directory "')
    assert (host / "authorized_keys").read_text() == "keep"


class TestStateFiles:
    """Unreadable or unwritable state files give errors, never a traceback or lost data."""

    def test_corrupt_pod_json(self, tmp_path: Path) -> None:
        """A pod.json that is not JSON raises ManifestError naming the file."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        Path(state.pod_file).write_text('{"metadata": ')
        with pytest.raises(ManifestError, match=r'^pod state file ".*/pod.json": not valid JSON'):
            state.read_pod()
        Path(state.pod_file).write_bytes(b"\xff")
        with pytest.raises(ManifestError, match="not valid JSON"):
            state.read_pod()

    @pytest.mark.parametrize(
        ("metadata", "says"),
        [
            (5, "metadata must be a JSON object, not int"),
            ({"labels": ["a"]}, "metadata.labels must map strings to strings"),
            ({"annotations": {"a": 1}}, "metadata.annotations must map strings to strings"),
            ({"resourceVersion": "zz"}, "metadata.resourceVersion must be a decimal number"),
            ({"resourceVersion": 7}, "metadata.resourceVersion must be a decimal number"),
            ({"resourceVersion": "\u0661"}, "metadata.resourceVersion must be a decimal number"),
            ({"resourceVersion": "9" * 5000}, "metadata.resourceVersion must be a decimal number"),
        ],
    )
    def test_pod_json_with_foreign_metadata(
        self, tmp_path: Path, metadata: object, says: str
    ) -> None:
        """A pod.json edited by hand into a shape the label and sync code cannot use raises
        ManifestError naming the file (it was a ValueError or TypeError from deep inside)."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        state.write_pod({"metadata": metadata})
        with pytest.raises(ManifestError, match=r'^pod state file ".*/pod.json": ') as caught:
            state.read_pod()
        assert says in str(caught.value)

    def test_full_disk_keeps_the_old_pod(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """ENOSPC while writing leaves pod.json as it was and no temporary file."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        real_write = os.write

        def full(fd: int, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", full)
        with pytest.raises(OSError, match=r'cannot write pod state file ".*pod.json": No space'):
            state.update_pod(lambda pod: pod.update(changed=True))
        monkeypatch.setattr(os, "write", real_write)
        assert state.read_pod() == POD
        assert sorted(os.listdir(state.path)) == [
            "containers",
            "lock",
            "owner.json",
            "pod.json",
            "volumes",
        ]

    def test_special_or_huge_pod_json(self, tmp_path: Path) -> None:
        """A FIFO does not hang the reader; a file over the bound is refused unread."""
        state = PodState(str(tmp_path), "default", "demo")
        state.create(POD)
        os.unlink(state.pod_file)
        os.mkfifo(state.pod_file)
        with pytest.raises(ManifestError, match="must be a regular file"):
            state.read_pod()
        os.unlink(state.pod_file)
        with open(state.pod_file, "wb") as handle:
            handle.truncate(16 * 1024 * 1024 + 1)
        with pytest.raises(ManifestError, match="larger than 16777216 bytes"):
            state.read_pod()


class TestRaces:
    """Runs of pods starting and stopping at once."""

    def test_namespace_removed_while_locking(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The last pod of a namespace stopping (removing the empty namespace directory)
        while another starts: the start retries instead of failing."""
        state = PodState(str(tmp_path), "default", "demo")
        real_open = os.open
        raced: list[str] = []

        def racing_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
            if path == LOCK and not raced:
                raced.append(path)
                os.rmdir(tmp_path / "default")
            return real_open(path, flags, mode, **kwargs)

        monkeypatch.setattr(os, "open", racing_open)
        assert state.create(POD) == []
        assert raced == [LOCK]
        assert state.alive()

    def test_loser_of_a_start_race_keeps_its_hands_off(self, tmp_path: Path) -> None:
        """Of two runs of one pod, the second gets AlreadyExists and the winner's
        directory is untouched."""
        winner = PodState(str(tmp_path), "default", "demo")
        winner.create(POD)
        before = sorted(os.listdir(winner.path))
        with pytest.raises(PodExistsError, match=r'^pods "demo" already exists$'):
            PodState(str(tmp_path), "default", "demo").create({"other": True})
        assert sorted(os.listdir(winner.path)) == before
        assert winner.read_pod() == POD

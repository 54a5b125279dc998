"""podself.emulator.mounts: volumes at their mountPath (namespace) or under PODSELF_ROOT."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podself import atomic
from podself.emulator import mounts
from podself.emulator.mounts import (
    ContainerFS,
    MountSpec,
    NamespaceSetup,
    build_root,
    container_path,
    hosts_file_content,
    namespace_support,
    parse_mountinfo,
    probe_namespace,
)
from podself.errors import ConfinementError

MOUNTINFO = """\
22 27 0:21 / /proc rw,relatime - proc proc rw
24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw
26 24 0:24 / /dev/pts rw,relatime - devpts devpts rw
29 26 0:26 / /dev/pts rw,relatime - devpts devpts rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
40 27 0:40 / /run rw - tmpfs tmpfs rw
41 40 0:41 / /run/user\\0400 rw - tmpfs tmpfs rw
"""

NAMESPACES = namespace_support()
needs_namespaces = pytest.mark.skipif(
    NAMESPACES is not None, reason=f"no mount namespaces here: {NAMESPACES}"
)


class TestMountinfo:
    """Reading the mount table."""

    def test_parse(self) -> None:
        """Ids, parent ids, unescaped mount points, types and super options are read."""
        freezer = "50 27 0:50 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
        records = parse_mountinfo(MOUNTINFO + "garbage\n" + freezer)
        assert len(records) == 8
        assert records[-2].mount_point == "/run/user 0"
        assert records[0].fs_type == "proc"
        assert records[-1].super_options == ("rw", "freezer")

    def test_visible_tree(self) -> None:
        """Stacked mounts replace their parent; children hang off the visible mount."""
        root = mounts._visible_tree(parse_mountinfo(MOUNTINFO))
        assert root is not None
        assert root.mount_id == 27
        children = {c.mount_point: c for c in root.children}
        assert set(children) == {"/proc", "/dev", "/run"}
        dev_children = children["/dev"].children
        assert [c.mount_id for c in dev_children] == [29]  # the top of the /dev/pts stack
        run = mounts._containing_mount(root, "/run/user 0/x")
        assert run.mount_id == 41
        assert mounts._containing_mount(root, "/etc/podinfo").mount_id == 27

    def test_no_root(self) -> None:
        """Without a root mount there is no tree."""
        assert mounts._visible_tree(parse_mountinfo("1 0 0:1 / /proc rw - proc proc rw\n")) is None


class TestHostsFile:
    """The kubelet-managed /etc/hosts."""

    def test_content(self) -> None:
        """The header, the defaults and one line per pod IP."""
        text = hosts_file_content(["10.244.0.7"], "web-0", "web.default.svc.cluster.local")
        lines = text.splitlines()
        assert lines[0] == "# Kubernetes-managed hosts file."
        assert lines[1] == "127.0.0.1\tlocalhost"
        assert lines[-1] == "10.244.0.7\tweb-0.web.default.svc.cluster.local\tweb-0"
        assert text.endswith("\n")
        assert hosts_file_content(["10.0.0.1"], "p").splitlines()[-1] == "10.0.0.1\tp"


class TestRootMode:
    """The PODSELF_ROOT layout."""

    def test_layout(self, tmp_path: Path) -> None:
        """Directories are symlinks, subPath files copies that never update, hosts written."""
        volume = tmp_path / "vol"
        volume.mkdir()
        atomic.write(volume, {"labels": 'a="1"'})
        real_file = os.path.realpath(volume / "labels")
        fs = ContainerFS(
            mounts=(
                MountSpec(str(volume), "/etc/podinfo", read_only=True),
                MountSpec(real_file, "/etc/app/labels", is_file=True),
            ),
            hostname="demo",
            scratch=str(tmp_path / "root"),
        )
        warnings = build_root(fs, ["127.0.0.1"])
        root = tmp_path / "root"
        assert warnings == []
        assert os.readlink(root / "etc" / "podinfo") == str(volume)
        assert (root / "etc" / "podinfo" / "labels").read_text() == 'a="1"'
        atomic.write(volume, {"labels": 'a="2"'})
        assert (root / "etc" / "podinfo" / "labels").read_text() == 'a="2"'
        assert (root / "etc" / "app" / "labels").read_text() == 'a="1"'
        assert (root / "etc" / "hosts").read_text().endswith("127.0.0.1\tdemo\n")

    @pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="links through /proc")
    def test_sub_path_file_is_pinned_not_copied(self, tmp_path: Path) -> None:
        """A subPath file is the volume file's inode (a hard link), as the kubelet's bind
        mount is: a huge (sparse) file a container left in an emptyDir costs no copy."""
        volume = tmp_path / "vol"
        volume.mkdir()
        big = volume / "big"
        with open(big, "wb") as handle:
            handle.truncate(1 << 30)
        fs = ContainerFS(
            mounts=(MountSpec(str(big), "/data/big", is_file=True),),
            hostname="demo",
            scratch=str(tmp_path / "root"),
        )
        assert build_root(fs) == []
        pinned = tmp_path / "root" / "data" / "big"
        assert os.stat(pinned).st_ino == os.stat(big).st_ino
        assert os.stat(pinned).st_blocks == 0

    def test_nested_mount_is_not_written_into_a_volume(self, tmp_path: Path) -> None:
        """A mount inside another mount's volume is skipped with a warning."""
        outer = tmp_path / "outer"
        inner = tmp_path / "inner"
        outer.mkdir()
        inner.mkdir()
        fs = ContainerFS(
            mounts=(MountSpec(str(outer), "/data"), MountSpec(str(inner), "/data/sub")),
            hostname="demo",
            scratch=str(tmp_path / "root"),
        )
        assert build_root(fs) == ["mount /data/sub inside another volume is not emulated"]
        assert list(outer.iterdir()) == []


class TestConfinement:
    """Mount targets and the PODSELF_ROOT tree never reach outside the container root."""

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("/etc/podinfo", "/etc/podinfo"),
            ("etc/podinfo", "/etc/podinfo"),
            ("/a/./b//c/", "/a/b/c"),
            ("/a/../b", "/b"),
        ],
    )
    def test_container_path(self, path: str, expected: str) -> None:
        """Relative paths start at "/", and are normalised."""
        assert container_path(path) == expected

    @pytest.mark.parametrize("path", ["..", "../../root/.ssh", "a/../../etc", "/..", "a\0b"])
    def test_container_path_refusals(self, path: str) -> None:
        """A path that climbs above "/" (or holds NUL) is refused with the rule and value."""
        with pytest.raises(ConfinementError, match=r"^mountPath .*: must "):
            container_path(path)

    def test_mount_spec_normalises_and_refuses(self) -> None:
        """MountSpec holds only targets inside the container, never the root itself."""
        assert MountSpec("/src", "data/x").target == "/data/x"
        for target in ("../../root/.ssh", "/", "."):
            with pytest.raises(ConfinementError, match="mount target"):
                MountSpec("/src", target)

    def test_planted_symlinks_are_not_followed(self, tmp_path: Path) -> None:
        """Links a container planted in its PODSELF_ROOT tree (a parent, the hosts file's
        /etc) are never followed on a restart; the host directory keeps its files."""
        outside = tmp_path / "outside"
        (outside / ".ssh").mkdir(parents=True)
        (outside / ".ssh" / "authorized_keys").write_text("keep")
        volume = tmp_path / "vol"
        volume.mkdir()
        root = tmp_path / "root"
        root.mkdir()
        (root / "home").symlink_to(outside)
        (root / "etc").symlink_to(outside)
        fs = ContainerFS(
            mounts=(MountSpec(str(volume), "/home/.ssh"),),
            hostname="demo",
            scratch=str(root),
            hosts_file="/dev/null",
        )
        assert build_root(fs, ["127.0.0.1"]) == [
            "mount /home/.ssh inside another volume is not emulated"
        ]
        assert sorted(os.listdir(outside)) == [".ssh"]
        assert os.listdir(outside / ".ssh") == ["authorized_keys"]

    def test_root_itself_symlinked_is_refused(self, tmp_path: Path) -> None:
        """A PODSELF_ROOT directory swapped for a symlink is refused."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (tmp_path / "root").symlink_to(outside)
        fs = ContainerFS(
            mounts=(MountSpec("/src", "/x"),), hostname="h", scratch=str(tmp_path / "root")
        )
        with pytest.raises(ConfinementError, match="container root"):
            build_root(fs)
        assert os.listdir(outside) == []

    def test_only_own_entries_are_replaced(self, tmp_path: Path) -> None:
        """A restart replaces the earlier link; a non-empty directory in the way is refused
        and kept."""
        volume = tmp_path / "vol"
        volume.mkdir()
        root = tmp_path / "root"
        fs = ContainerFS(mounts=(MountSpec(str(volume), "/data"),), hostname="h", scratch=str(root))
        build_root(fs)
        build_root(fs)
        assert os.readlink(root / "data") == str(volume)
        os.unlink(root / "data")
        (root / "data").mkdir()
        (root / "data" / "precious").write_text("x")
        with pytest.raises(ConfinementError, match="non-empty directory is in the way"):
            build_root(fs)
        assert (root / "data" / "precious").read_text() == "x"

    def test_fifo_sub_path_does_not_hang(self, tmp_path: Path) -> None:
        """A FIFO a container made in its volume is refused, not opened blocking."""
        fifo = tmp_path / "fifo"
        os.mkfifo(fifo)
        fs = ContainerFS(
            mounts=(MountSpec(str(fifo), "/etc/x", is_file=True),),
            hostname="h",
            scratch=str(tmp_path / "root"),
        )
        with pytest.raises(ConfinementError, match="must be a regular file"):
            build_root(fs)

    def test_working_dir_is_confined(self, tmp_path: Path) -> None:
        """workingDir is created under the root; one climbing out is refused."""
        root = tmp_path / "root"
        root.mkdir()
        assert mounts.working_dir(str(root), "/app/work") == str(root / "app" / "work")
        assert (root / "app" / "work").is_dir()
        with pytest.raises(ConfinementError, match="workingDir"):
            mounts.working_dir(str(root), "../../../outside")
        assert sorted(os.listdir(tmp_path)) == ["root"]


@needs_namespaces
class TestNamespaceMode:
    """The private mount namespace (Linux, root)."""

    def run_in(self, fs: ContainerFS, script: str) -> subprocess.CompletedProcess[str]:
        """Run ``sh -c script`` with ``fs`` set up as a container would get it."""
        setup = NamespaceSetup(fs, name="test")
        return subprocess.run(
            ["sh", "-c", script],
            preexec_fn=setup,  # the test process is single-threaded
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )

    def test_mounts_appear_only_inside(self, tmp_path: Path) -> None:
        """A missing mount point is created inside the namespace only, read-only enforced."""
        volume = tmp_path / "vol"
        volume.mkdir()
        atomic.write(volume, {"labels": 'app="myapp"'})
        hosts = tmp_path / "hosts"
        hosts.write_text(hosts_file_content(["127.0.0.1"], "demo-pod"))
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        target = f"/etc/podself-test-{os.getpid()}"
        fs = ContainerFS(
            mounts=(MountSpec(str(volume), target, read_only=True),),
            hostname="demo-pod",
            scratch=str(scratch),
            hosts_file=str(hosts),
        )
        before = Path("/proc/self/mountinfo").read_text()
        result = self.run_in(
            fs,
            f"cat {target}/labels; echo; hostname; grep demo-pod /etc/hosts; "
            f"touch {target}/x 2>/dev/null && echo writable || echo read-only; "
            "touch /etc/podself-scratch-file && echo layer-writable",
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines() == [
            'app="myapp"',
            "demo-pod",
            "127.0.0.1\tdemo-pod",
            "read-only",
            "layer-writable",
        ]
        assert not os.path.exists(target)
        assert not os.path.exists("/etc/podself-scratch-file")
        assert list(scratch.iterdir()) == []
        assert Path("/proc/self/mountinfo").read_text() == before
        assert os.uname().nodename != "demo-pod"

    def test_volume_updates_are_visible(self, tmp_path: Path) -> None:
        """A bound volume shows the host's later ..data swaps; a subPath file does not."""
        volume = tmp_path / "vol"
        volume.mkdir()
        atomic.write(volume, {"labels": "v1"})
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        fs = ContainerFS(
            mounts=(
                MountSpec(str(volume), "/podinfo"),
                MountSpec(os.path.realpath(volume / "labels"), "/pinned", is_file=True),
            ),
            hostname="demo",
            scratch=str(scratch),
        )
        setup = NamespaceSetup(fs)
        proc = subprocess.Popen(
            ["sh", "-c", "read line; cat /podinfo/labels; echo; cat /pinned"],
            preexec_fn=setup,  # noqa: PLW1509 - the test process is single-threaded
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        atomic.write(volume, {"labels": "v2"})
        out, _ = proc.communicate("go\n", timeout=30)
        assert out.splitlines() == ["v2", "v1"]

    @pytest.mark.skipif(not os.path.ismount("/dev"), reason="needs /dev as a mount of its own")
    def test_working_dir_on_a_host_mount_stays_inside(self, tmp_path: Path) -> None:
        """A missing workingDir on a host mount other than / (here /dev; /sys/fs/cgroup made
        a host cgroup) is created in a throw-away layer, as a missing mount point is."""
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        workdir = f"/dev/podself-workdir-{os.getpid()}"
        fs = ContainerFS(mounts=(), hostname="demo", scratch=str(scratch), workdir=workdir)
        try:
            result = self.run_in(fs, "pwd")
            assert result.returncode == 0, result.stderr
            assert result.stdout == f"{workdir}\n"
            assert not os.path.lexists(workdir)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(workdir)

    def test_failure_is_reported_by_the_container(self, tmp_path: Path) -> None:
        """A mount that cannot be made fails the container with status 126 and a message."""
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        fs = ContainerFS(
            mounts=(MountSpec(str(tmp_path / "missing-source"), "/x"),),
            hostname="demo",
            scratch=str(scratch),
        )
        result = self.run_in(fs, "echo never")
        assert result.returncode == mounts.SETUP_FAILED_EXIT
        assert 'container "test": cannot set up its mount namespace' in result.stderr
        assert result.stdout == ""

    def test_host_scratch_and_state_root_are_untouched(self, tmp_path: Path) -> None:
        """Writes to /dev/shm and to a state root on a mount of its own stay inside.

        Run in a child mount namespace of the test (so the state root's tmpfs never shows on
        the host); /dev/shm there is still the host's filesystem.
        """
        marker = f"podself-scratch-{os.getpid()}"
        state = tmp_path / "state"
        state.mkdir()
        script = f"""
import ctypes, os, subprocess
from podself.emulator.mounts import ContainerFS, NamespaceSetup
libc = ctypes.CDLL(None, use_errno=True)
assert libc.mount(b"tmpfs", b"{state}", b"tmpfs", 0, b"mode=0755") == 0
scratch = "{state}/default/demo/containers/app"
os.makedirs(scratch)
fs = ContainerFS(mounts=(), hostname="demo", scratch=scratch, hidden=("{state}",))
script = "echo x > /dev/shm/{marker}; ls -A {state} | wc -l; echo y > {state}/planted"
run = subprocess.run(["sh", "-c", script], preexec_fn=NamespaceSetup(fs), capture_output=True)
print(run.stdout.decode().strip(), os.path.exists("{state}/planted"))
"""
        try:
            result = subprocess.run(
                ["unshare", "-m", "--propagation", "private", sys.executable, "-c", script],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
            assert result.returncode == 0, result.stderr
            assert result.stdout.split() == ["0", "False"]
            assert not os.path.exists(f"/dev/shm/{marker}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"/dev/shm/{marker}")

    def test_probe(self, tmp_path: Path) -> None:
        """The probe succeeds here and leaves its directory empty."""
        assert probe_namespace(str(tmp_path)) is None
        assert list(tmp_path.iterdir()) == []


class TestSupport:
    """Detecting whether namespaces can be used."""

    def test_reason_or_none(self) -> None:
        """namespace_support gives None or a reason naming what is missing."""
        reason = namespace_support()
        if sys.platform.startswith("linux") and os.geteuid() == 0:
            assert reason is None
        else:
            assert reason

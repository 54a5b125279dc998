"""podself._safefs: confined creation and removal."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from podself._safefs import check_name, open_beneath, remove_entry
from podself.errors import ConfinementError


def nest(base: Path, depth: int) -> None:
    """``base/d/d/.../d`` ``depth`` levels deep, a file and an outward symlink at each."""
    fd = os.open(base, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            os.symlink("/", "root-link", dir_fd=fd)
            os.close(os.open("f", os.O_WRONLY | os.O_CREAT, 0o444, dir_fd=fd))
            child = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = child
    finally:
        os.close(fd)


class TestRemoveEntry:
    """Iterative removal that never follows a symlink."""

    def test_deep_tree_with_few_descriptors(self, tmp_path: Path) -> None:
        """1,200 levels go with fewer descriptors than a 64-limit, and no recursion."""
        top = tmp_path / "top"
        top.mkdir()
        nest(top, 1200)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        try:
            parent = os.open(tmp_path, os.O_RDONLY)
            try:
                remove_entry(parent, "top")
            finally:
                os.close(parent)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        assert os.listdir(tmp_path) == []

    def test_symlink_is_removed_not_followed(self, tmp_path: Path) -> None:
        """A symlink to a directory is unlinked; the directory keeps its files."""
        keep = tmp_path / "keep"
        keep.mkdir()
        (keep / "canary").write_text("x")
        (tmp_path / "link").symlink_to(keep)
        parent = os.open(tmp_path, os.O_RDONLY)
        try:
            remove_entry(parent, "link")
            remove_entry(parent, "missing")
        finally:
            os.close(parent)
        assert sorted(os.listdir(tmp_path)) == ["keep"]
        assert (keep / "canary").read_text() == "x"


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.access("/usr/bin/python3", os.X_OK) or not os.path.isdir("/proc"),
    reason="needs root to act as another user, and a system python",
)
def test_unlistable_directories_of_ours_are_removed() -> None:
    """A non-root user removes a tree a container made unlistable (mode 0000, 0500)."""
    # A copy of the package the other user can read, wherever this checkout lives.
    src = tempfile.mkdtemp(prefix="podself-safefs-")
    shutil.copytree(
        Path(__file__).resolve().parent.parent / "src" / "podself",
        os.path.join(src, "podself"),
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    for directory, _, _ in os.walk(src):
        os.chmod(directory, 0o755)
    script = (
        "import os, sys, tempfile\n"
        f"sys.path.insert(0, {src!r})\n"
        "from podself._safefs import remove_entry\n"
        "base = tempfile.mkdtemp()\n"
        "os.makedirs(base + '/t/a/b')\n"
        "open(base + '/t/a/b/f', 'w').close()\n"
        "os.chmod(base + '/t/a/b', 0o500)\n"
        "os.chmod(base + '/t/a', 0)\n"
        "fd = os.open(base, os.O_RDONLY)\n"
        "remove_entry(fd, 't')\n"
        "print(os.listdir(base))\n"
        "os.rmdir(base)\n"
    )
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", script],
        user=65534,
        group=65534,
        extra_groups=[],
        cwd="/",
        env={"TMPDIR": "/tmp"},
        capture_output=True,
        text=True,
        check=False,
    )
    shutil.rmtree(src)
    assert (probe.returncode, probe.stdout, probe.stderr) == (0, "[]\n", "")


class TestNames:
    """One plain path component, or an error naming the rule and the value."""

    @pytest.mark.parametrize("value", ["", ".", "..", "a/b", "/", "a\0b", "x" * 256])
    def test_refused(self, value: str) -> None:
        """Each hostile value raises ConfinementError with what, value and rule."""
        with pytest.raises(ConfinementError, match=r"^pod name .*: must "):
            check_name("pod name", value)

    def test_accepted(self) -> None:
        """Ordinary names pass."""
        check_name("pod name", "web-0.example")

    def test_open_beneath_refuses_symlinks(self, tmp_path: Path) -> None:
        """A symlinked component is refused and nothing is created through it."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (tmp_path / "base").mkdir()
        (tmp_path / "base" / "link").symlink_to(outside)
        base = os.open(tmp_path / "base", os.O_RDONLY)
        try:
            with pytest.raises(ConfinementError, match='"link" must be a directory'):
                open_beneath(base, ["link", "new"], "mount", create=0o755)
            os.close(open_beneath(base, ["a", "b"], "mount", create=0o755))
        finally:
            os.close(base)
        assert os.listdir(outside) == []
        assert (tmp_path / "base" / "a" / "b").is_dir()


@pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists("/usr/bin/unshare"), reason="needs root and unshare"
)
def test_mount_points_are_not_crossed(tmp_path: Path) -> None:
    """A filesystem mounted inside the tree stops the removal; its files stay."""
    src = str(Path(__file__).resolve().parent.parent / "src")
    (tmp_path / "top" / "inner").mkdir(parents=True)
    script = (
        f"import os, sys; sys.path.insert(0, {src!r})\n"
        "from podself._safefs import remove_entry\n"
        "from podself.errors import ConfinementError\n"
        f"top = {str(tmp_path / 'top')!r}\n"
        "open(top + '/inner/canary', 'w').write('keep')\n"
        "fd = os.open(os.path.dirname(top), os.O_RDONLY)\n"
        "try:\n"
        "    remove_entry(fd, 'top')\n"
        "except ConfinementError as exc:\n"
        "    print(exc)\n"
        "print(open(top + '/inner/canary').read())\n"
    )
    probe = subprocess.run(
        [
            *("unshare", "-m", "--propagation", "private", "sh", "-c"),
            'mount -t tmpfs tmpfs "$1" && exec "$2" -c "$3"',
            *("sh", str(tmp_path / "top" / "inner"), sys.executable, script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.stdout == '"inner" in the tree of "top" is a mount point: not removed\nkeep\n'

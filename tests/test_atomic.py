"""podself.atomic: the kubelet's ..data writer and the torn-free reader."""

from __future__ import annotations

import ast
import errno
import os
import re
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podself import atomic
from podself.errors import PayloadError

TS_NAME = re.compile(r"^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+$")


def version_of(target: Path) -> str:
    """The current ..data target."""
    return os.readlink(target / atomic.DATA_DIR_NAME)


def ts_dirs(target: Path) -> list[str]:
    """Timestamp directories present in ``target``."""
    return sorted(p.name for p in target.iterdir() if TS_NAME.match(p.name))


@pytest.fixture
def umask_077() -> Iterator[None]:
    """Run with a restrictive umask, restoring the old one afterwards."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


class TestFileProjection:
    """FileProjection values."""

    def test_defaults(self) -> None:
        """Mode defaults to 0644 and data is kept as bytes."""
        projection = atomic.FileProjection(bytearray(b"abc"))
        assert projection.data == b"abc"
        assert projection.mode == 0o644

    def test_immutable(self) -> None:
        """A projection cannot be changed after creation."""
        projection = atomic.FileProjection(b"x")
        with pytest.raises(AttributeError):
            projection.mode = 0o600

    @pytest.mark.parametrize("mode", [-1, 0o10000, "0644", True, 1.5])
    def test_bad_mode(self, mode: object) -> None:
        """Modes outside 0..0o7777 or not ints are refused."""
        with pytest.raises(PayloadError, match="mode"):
            atomic.FileProjection(b"x", mode)  # type: ignore[arg-type]

    def test_bad_data(self) -> None:
        """Data must be bytes-like."""
        with pytest.raises(TypeError, match="must be bytes"):
            atomic.FileProjection("text")  # type: ignore[arg-type]


class TestValidation:
    """Path validation beyond the kubelet's own test vectors."""

    def test_length_counts_utf8_bytes(self) -> None:
        """Like Go's len(), file-name length is measured in UTF-8 bytes."""
        atomic.validate_path("가" * 85)  # 255 bytes
        with pytest.raises(PayloadError, match="filenames must be less than or equal to 255"):
            atomic.validate_path("가" * 86)

    def test_dotdot_prefix_only_first_element(self) -> None:
        """Only the first element is reserved; nested names may start with '..'."""
        atomic.validate_path("dir/..hidden")
        with pytest.raises(PayloadError, match=r"must not start with '\.\.'"):
            atomic.validate_path("...")

    def test_non_str_key(self) -> None:
        """Payload keys must be strings."""
        with pytest.raises(PayloadError, match="must be a str"):
            atomic.validate_payload({b"foo": b"x"})  # type: ignore[dict-item]

    def test_values_normalised(self) -> None:
        """str values become UTF-8 with mode 0644; bytes keep their bytes."""
        clean = atomic.validate_payload(
            {"a": "한", "./b": b"\x00", "c": atomic.FileProjection(b"")}
        )
        assert clean == {
            "a": atomic.FileProjection("한".encode()),
            "b": atomic.FileProjection(b"\x00"),
            "c": atomic.FileProjection(b""),
        }


class TestWrite:
    """The writer's on-disk result and its safety rules."""

    def test_layout(self, tmp_path: Path) -> None:
        """A first write creates a UTC timestamp dir (0755), ..data and per-segment links."""
        assert atomic.write(tmp_path, {"labels": "a", "podinfo/annotations": "b"}) is True
        version = version_of(tmp_path)
        assert TS_NAME.match(version)
        assert stat.S_IMODE((tmp_path / version).stat().st_mode) == 0o755
        assert os.readlink(tmp_path / "labels") == "..data/labels"
        assert os.readlink(tmp_path / "podinfo") == "..data/podinfo"
        assert (tmp_path / "podinfo" / "annotations").read_text() == "b"
        assert not os.path.lexists(tmp_path / atomic.NEW_DATA_DIR_NAME)

    @pytest.mark.usefixtures("umask_077")
    def test_modes_ignore_umask(self, tmp_path: Path) -> None:
        """Files get exactly their mode and the version dir 0755 whatever the umask."""
        atomic.write(tmp_path, {"a": atomic.FileProjection(b"x", 0o664), "d/b": b"y"})
        data = tmp_path / atomic.DATA_DIR_NAME
        assert stat.S_IMODE((data / "a").stat().st_mode) == 0o664
        assert stat.S_IMODE((data / "d" / "b").stat().st_mode) == 0o644
        assert stat.S_IMODE(data.stat().st_mode) == 0o755

    def test_identical_data_is_not_rewritten(self, tmp_path: Path) -> None:
        """Same data again: no new version, write() returns False."""
        atomic.write(tmp_path, {"a": "x"})
        before = version_of(tmp_path)
        assert atomic.write(tmp_path, {"a": "x"}) is False
        assert version_of(tmp_path) == before

    def test_mode_only_change_is_not_rewritten(self, tmp_path: Path) -> None:
        """Step 4 compares data only, so a new mode alone changes nothing."""
        atomic.write(tmp_path, {"a": atomic.FileProjection(b"x", 0o644)})
        assert atomic.write(tmp_path, {"a": atomic.FileProjection(b"x", 0o600)}) is False
        assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o644

    def test_missing_link_recreated_without_new_version(self, tmp_path: Path) -> None:
        """Step 10 runs even when nothing is written (kubernetes#121472)."""
        atomic.write(tmp_path, {"a": "x", "b": "y"})
        before = version_of(tmp_path)
        (tmp_path / "a").unlink()
        assert atomic.write(tmp_path, {"a": "x", "b": "y"}) is False
        assert os.readlink(tmp_path / "a") == "..data/a"
        assert version_of(tmp_path) == before
        assert ts_dirs(tmp_path) == [before]

    def test_update_removes_old_version_and_links(self, tmp_path: Path) -> None:
        """An update leaves one version and prunes links of removed top-level paths."""
        atomic.write(tmp_path, {"a": "1", "d/x": "2"})
        atomic.write(tmp_path, {"a": "3"})
        assert ts_dirs(tmp_path) == [version_of(tmp_path)]
        assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("..")) == ["a"]
        assert (tmp_path / "a").read_text() == "3"

    def test_set_perms_runs_before_publish(self, tmp_path: Path) -> None:
        """set_perms gets the new timestamp dir name while ..data still points elsewhere."""
        atomic.write(tmp_path, {"a": "1"})
        old = version_of(tmp_path)
        seen: list[tuple[str, str, bool]] = []

        def set_perms(name: str) -> None:
            seen.append((name, version_of(tmp_path), (tmp_path / name / "a").is_file()))

        atomic.write(tmp_path, {"a": "2"}, set_perms=set_perms)
        assert seen == [(version_of(tmp_path), old, True)]

    def test_failed_set_perms_leaves_old_version(self, tmp_path: Path) -> None:
        """An error before the swap keeps the old version and removes the new dir."""
        atomic.write(tmp_path, {"a": "1"})
        old = version_of(tmp_path)

        def set_perms(name: str) -> None:
            raise PermissionError(errno.EPERM, "chown refused", name)

        with pytest.raises(PermissionError):
            atomic.write(tmp_path, {"a": "2"}, set_perms=set_perms)
        assert version_of(tmp_path) == old
        assert ts_dirs(tmp_path) == [old]
        assert (tmp_path / "a").read_text() == "1"

    def test_conflicting_paths_leave_nothing_behind(self, tmp_path: Path) -> None:
        """A payload with a file and a directory of the same name fails cleanly."""
        atomic.write(tmp_path, {"a": "1"})
        old = version_of(tmp_path)
        with pytest.raises(OSError, match=r"Not a directory|File exists"):
            atomic.write(tmp_path, {"foo": "x", "foo/bar": "y"})
        assert ts_dirs(tmp_path) == [old]

    def test_stale_tmp_link_is_replaced(self, tmp_path: Path) -> None:
        """A ..data_tmp left by a writer that died is ours to replace."""
        os.symlink("..gone", tmp_path / atomic.NEW_DATA_DIR_NAME)
        atomic.write(tmp_path, {"a": "1"})
        assert (tmp_path / "a").read_text() == "1"
        assert not os.path.lexists(tmp_path / atomic.NEW_DATA_DIR_NAME)

    def test_data_directory_is_replaced(self, tmp_path: Path) -> None:
        """A real DIRECTORY named ..data (with a link out) no longer makes every write fail
        (a file of that name was already replaced); the link's target is untouched."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "canary").write_text("keep")
        volume = tmp_path / "vol"
        (volume / atomic.DATA_DIR_NAME / "deep").mkdir(parents=True)
        (volume / atomic.DATA_DIR_NAME / "deep" / "out").symlink_to(outside)
        assert atomic.write(volume, {"a": "1"})
        assert (volume / "a").read_text() == "1"
        assert os.path.islink(volume / atomic.DATA_DIR_NAME)
        assert atomic.write(volume, {"a": "2"})
        assert (volume / "a").read_text() == "2"
        assert (outside / "canary").read_text() == "keep"

    def test_a_huge_file_in_the_current_version_is_read_bounded(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A huge (sparse) file put in place of a projected file of the current version is
        read only as far as the comparison needs (it was read whole into memory), and the
        new payload is written."""
        volume = tmp_path / "vol"
        volume.mkdir()
        atomic.write(volume, {"data": b"v1"})
        version = volume / os.readlink(volume / atomic.DATA_DIR_NAME)
        (version / "data").unlink()
        with open(version / "data", "wb") as handle:
            handle.truncate(64 << 20)
        real_read = os.read
        read: list[int] = []

        def counting(fd: int, size: int) -> bytes:
            data = real_read(fd, size)
            read.append(len(data))
            return data

        monkeypatch.setattr(os, "read", counting)
        assert atomic.write(volume, {"data": b"v3"})
        monkeypatch.undo()
        assert sum(read) <= 3
        assert (volume / "data").read_bytes() == b"v3"

    def test_leftover_tmp_directory_is_removed(self, tmp_path: Path) -> None:
        """A ..data_tmp DIRECTORY (with a link out) no longer blocks every later write; the
        link's target outside the volume is untouched."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "canary").write_text("keep")
        volume = tmp_path / "vol"
        volume.mkdir()
        atomic.write(volume, {"a": "1"})
        leftover = volume / atomic.NEW_DATA_DIR_NAME
        (leftover / "deep").mkdir(parents=True)
        (leftover / "deep" / "out").symlink_to(outside)
        assert atomic.write(volume, {"a": "2"})
        assert (volume / "a").read_text() == "2"
        assert not os.path.lexists(leftover)
        assert atomic.write(volume, {"a": "3"})
        assert (volume / "a").read_text() == "3"
        assert (outside / "canary").read_text() == "keep"

    def test_stale_versions_are_removed(self, tmp_path: Path) -> None:
        """Timestamp directories of writers that died are removed by the next write; a
        symlink that looks like one is left alone."""
        atomic.write(tmp_path, {"a": "1"})
        (tmp_path / "..2020_01_01_00_00_00.123").mkdir()
        (tmp_path / "..2020_01_01_00_00_00.123" / "a").write_text("old")
        (tmp_path / "..2020_01_01_00_00_00.456").symlink_to(tmp_path / "..data")
        atomic.write(tmp_path, {"a": "2"})
        assert ts_dirs(tmp_path) == ["..2020_01_01_00_00_00.456", version_of(tmp_path)]
        assert os.path.islink(tmp_path / "..2020_01_01_00_00_00.456")

    def test_foreign_top_level_link_is_repointed(self, tmp_path: Path) -> None:
        """A top-level link pointing outside the volume is repointed into ..data."""
        outside = tmp_path / "outside"
        outside.write_text("secret")
        target = tmp_path / "vol"
        target.mkdir()
        os.symlink(outside, target / "a")
        atomic.write(target, {"a": "mine"})
        assert os.readlink(target / "a") == "..data/a"
        assert outside.read_text() == "secret"

    def test_real_file_with_link_name_left_alone(self, tmp_path: Path) -> None:
        """Like the kubelet, a regular file where a link would go is not replaced."""
        (tmp_path / "a").write_text("hand-made")
        atomic.write(tmp_path, {"a": "projected"})
        assert (tmp_path / "a").read_text() == "hand-made"
        assert (tmp_path / atomic.DATA_DIR_NAME / "a").read_text() == "projected"

    @pytest.mark.parametrize("link", ["/etc", "../outside", "..dir/nested", "plain"])
    def test_data_link_outside_target_is_refused(self, tmp_path: Path, link: str) -> None:
        """A ..data that names anything but a timestamp dir inside the target is refused."""
        target = tmp_path / "vol"
        target.mkdir()
        os.symlink(link, target / atomic.DATA_DIR_NAME)
        with pytest.raises(PayloadError, match=r"must name a timestamp directory"):
            atomic.write(target, {"a": "1"})
        assert sorted(p.name for p in target.iterdir()) == [atomic.DATA_DIR_NAME]

    def test_symlinked_version_dir_is_refused(self, tmp_path: Path) -> None:
        """A version dir that is itself a symlink is never walked nor removed."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "keep").write_text("k")
        target = tmp_path / "vol"
        target.mkdir()
        os.symlink(outside, target / "..2020_01_01_00_00_00.1")
        os.symlink("..2020_01_01_00_00_00.1", target / atomic.DATA_DIR_NAME)
        with pytest.raises(PayloadError):
            atomic.write(target, {"keep": "x"})
        assert (outside / "keep").read_text() == "k"

    def test_dangling_data_link_is_a_first_write(self, tmp_path: Path) -> None:
        """..data pointing at a missing timestamp dir is replaced like a first write."""
        os.symlink("..2020_01_01_00_00_00.1", tmp_path / atomic.DATA_DIR_NAME)
        assert atomic.write(tmp_path, {"a": "1"}) is True
        assert (tmp_path / "a").read_text() == "1"

    def test_reserved_name_in_old_version_not_pruned(self, tmp_path: Path) -> None:
        """A '..' name found in an old version never removes the target's own ..data."""
        atomic.write(tmp_path, {"a": "1"})
        (tmp_path / version_of(tmp_path) / atomic.DATA_DIR_NAME).write_text("odd")
        atomic.write(tmp_path, {"a": "2"})
        assert (tmp_path / "a").read_text() == "2"

    def test_dot_path_refused(self, tmp_path: Path) -> None:
        """A path that cleans to '.' names the volume itself and is refused."""
        with pytest.raises(PayloadError, match="must name a file"):
            atomic.write(tmp_path, {"./": "x"})

    def test_item_path_deeper_than_the_recursion_limit(self, tmp_path: Path) -> None:
        """An item path of 1,500 directories (3 KiB, valid for the API server) is written,
        updated and pruned without recursion."""
        deep = "/".join(["d"] * 1500) + "/name"
        assert atomic.write(tmp_path, {deep: b"a", "top": b"t"})
        assert (tmp_path / deep).read_bytes() == b"a"
        assert atomic.write(tmp_path, {"top": b"t2"})
        assert not (tmp_path / "d").exists()
        versions = [p for p in tmp_path.iterdir() if p.name.startswith("..2")]
        assert [list(p.iterdir()) for p in versions] == [[versions[0] / "top"]]

    def test_missing_target(self, tmp_path: Path) -> None:
        """The target directory must exist, as for NewAtomicWriter."""
        with pytest.raises(FileNotFoundError):
            atomic.write(tmp_path / "nope", {"a": "1"})

    def test_target_not_a_directory(self, tmp_path: Path) -> None:
        """A file as target is refused."""
        (tmp_path / "f").write_text("")
        with pytest.raises(NotADirectoryError):
            atomic.write(tmp_path / "f", {"a": "1"})

    def test_empty_payload(self, tmp_path: Path) -> None:
        """An empty payload still commits an (empty) first version."""
        assert atomic.write(tmp_path, {}) is True
        assert os.listdir(tmp_path / atomic.DATA_DIR_NAME) == []


class TestReadSnapshot:
    """read_snapshot and read_text."""

    def test_protocol_directory(self, tmp_path: Path) -> None:
        """Every file of the current version, nested ones with '/', and the version name."""
        atomic.write(tmp_path, {"labels": "a", "d/x": "b", ".dot": "c"})
        snap = atomic.read_snapshot(tmp_path)
        assert snap.version == version_of(tmp_path)
        assert dict(snap.files) == {".dot": b"c", "d/x": b"b", "labels": b"a"}
        assert snap.missing == ()

    def test_selected_names(self, tmp_path: Path) -> None:
        """Only the names asked for; absent ones are listed as missing."""
        atomic.write(tmp_path, {"labels": "a", "annotations": "b"})
        snap = atomic.read_snapshot(tmp_path, ["labels", "nope", "d/nope"])
        assert dict(snap.files) == {"labels": b"a"}
        assert snap.missing == ("nope", "d/nope")
        assert snap.unreadable == ()

    def test_plain_directory(self, tmp_path: Path) -> None:
        """A directory without ..data is read directly, skipping reserved names."""
        (tmp_path / "labels").write_text("a")
        (tmp_path / "sub").mkdir()
        (tmp_path / "sub" / "f").write_text("b")
        (tmp_path / "..hidden").write_text("x")
        snap = atomic.read_snapshot(str(tmp_path))
        assert snap.version is None
        assert dict(snap.files) == {"labels": b"a", "sub/f": b"b"}

    def test_data_that_is_not_a_link_means_plain(self, tmp_path: Path) -> None:
        """A real directory named ..data is not the protocol."""
        (tmp_path / atomic.DATA_DIR_NAME).mkdir()
        (tmp_path / "f").write_text("x")
        assert atomic.read_snapshot(tmp_path) == atomic.Snapshot(None, {"f": b"x"})

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A missing directory raises, with or without names."""
        with pytest.raises(FileNotFoundError):
            atomic.read_snapshot(tmp_path / "nope")
        with pytest.raises(FileNotFoundError):
            atomic.read_snapshot(tmp_path / "nope", ["labels"])

    def test_read_text(self, tmp_path: Path) -> None:
        """One file as text, None when it or the directory is missing."""
        atomic.write(tmp_path, {"labels": 'a="한"'})
        assert atomic.read_text(tmp_path, "labels") == 'a="한"'
        assert atomic.read_text(tmp_path, "nope") is None
        assert atomic.read_text(tmp_path / "nope", "labels") is None

    def test_snapshot_text_replaces_bad_utf8(self) -> None:
        """Snapshot.text never raises on bad bytes."""
        snap = atomic.Snapshot("v", {"a": b"\xff"})
        assert snap.text("a") == "\ufffd"
        assert snap.text("b") is None

    def test_unreadable_file(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A file that exists but cannot be read is missing and unreadable, not an error."""
        atomic.write(tmp_path, {"a": "1", "b": "2"})
        real = atomic._read_file

        def read_file(dir_fd: int, name: str, limit: int, follow: bool) -> bytes:
            if name == "b":
                raise PermissionError(errno.EACCES, "denied", name)
            return real(dir_fd, name, limit, follow)

        monkeypatch.setattr(atomic, "_read_file", read_file)
        snap = atomic.read_snapshot(tmp_path)
        assert dict(snap.files) == {"a": b"1"}
        assert snap.missing == ("b",)
        assert snap.unreadable == ("b",)

    def test_fifo_and_directory_are_unreadable(self, tmp_path: Path) -> None:
        """Asking for a FIFO or a directory never blocks or raises: they are unreadable."""
        os.mkfifo(tmp_path / "fifo")
        (tmp_path / "dir").mkdir()
        snap = atomic.read_snapshot(tmp_path, ["fifo", "dir"])
        assert snap.unreadable == ("fifo", "dir")
        assert atomic.read_snapshot(tmp_path).files == {}

    @pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
    def test_unreadable_file_for_real(self, tmp_path: Path) -> None:
        """A 0000 file is reported as unreadable."""
        atomic.write(tmp_path, {"a": atomic.FileProjection(b"1", 0)})
        assert atomic.read_snapshot(tmp_path).unreadable == ("a",)

    def test_retries_when_version_changes(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If ..data moves during the read, the read starts over on the new version."""
        atomic.write(tmp_path, {"a": "1"})
        first = version_of(tmp_path)
        real = atomic._read_tree
        versions: list[str | None] = []

        def read_tree(dir_fd: int, root: str, version: str | None, *args: Any) -> atomic.Snapshot:
            result = real(dir_fd, root, version, *args)
            versions.append(version)
            if len(versions) == 1:  # a swap lands between the read and the second readlink
                atomic.write(tmp_path, {"a": "2"})
            return result

        monkeypatch.setattr(atomic, "_read_tree", read_tree)
        snap = atomic.read_snapshot(tmp_path)
        assert dict(snap.files) == {"a": b"2"}
        assert versions == [first, version_of(tmp_path)]

    def test_gives_up_rather_than_tear(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A link that changes on every attempt raises EAGAIN instead of mixing versions."""
        atomic.write(tmp_path, {"a": "1"})
        counter = iter(range(10**6))
        monkeypatch.setattr(os, "readlink", lambda *_, **__: f"..v{next(counter)}")
        with pytest.raises(BlockingIOError) as info:
            atomic.read_snapshot(tmp_path, ["a"], retries=2)
        assert info.value.errno == errno.EAGAIN
        assert "changed during each of 3 attempts" in str(info.value)

    @pytest.mark.parametrize("retries", [-1, True, 1.0])
    def test_bad_retries(self, tmp_path: Path, retries: object) -> None:
        """retries must be a non-negative int."""
        with pytest.raises(ValueError, match="retries"):
            atomic.read_snapshot(tmp_path, retries=retries)  # type: ignore[arg-type]

    @pytest.mark.parametrize("name", ["/etc/passwd", "../x", "", "..data/labels"])
    def test_bad_names(self, tmp_path: Path, name: str) -> None:
        """Names follow the payload path rules, so nothing outside the volume is read."""
        with pytest.raises(PayloadError, match="invalid path"):
            atomic.read_snapshot(tmp_path, [name])

    def test_snapshot_value_semantics(self) -> None:
        """Snapshots compare and hash by value and are immutable."""
        one = atomic.Snapshot("v", {"a": b"1"}, ("b",))
        assert one == atomic.Snapshot("v", {"a": b"1"}, ("b",))
        assert hash(one) == hash(atomic.Snapshot("v", {"a": b"1"}, ("b",)))
        with pytest.raises(TypeError):
            one.files["a"] = b"2"  # type: ignore[index]


class TestHostileVolume:
    """A volume directory is input: the reader stays inside it and within its bounds."""

    @pytest.mark.parametrize(
        "target", ["../../../../etc", "/etc", "..x/../../etc", ".", "..", "..data", "x"]
    )
    def test_data_link_outside_is_refused(self, tmp_path: Path, target: str) -> None:
        """..data must name one ..-prefixed directory inside the volume; nothing else is read."""
        volume = tmp_path / "v"
        volume.mkdir()
        (tmp_path / "secret").write_text("s")
        os.symlink(target, volume / atomic.DATA_DIR_NAME)
        snap = atomic.read_snapshot(volume)
        assert snap.files == {}
        assert snap.warnings == (
            f'"{volume}": ..data -> {target!r} is not a timestamp directory inside it; '
            "nothing read",
        )
        assert atomic.read_snapshot(volume, ["passwd"]).missing == ("passwd",)

    def test_symlinked_version_is_refused(self, tmp_path: Path) -> None:
        """A version that is itself a symlink (to /etc, /proc/self…) is not followed."""
        volume = tmp_path / "v"
        volume.mkdir()
        os.symlink("/etc", volume / "..2026_01_01_00_00_00.1")
        os.symlink("..2026_01_01_00_00_00.1", volume / atomic.DATA_DIR_NAME)
        snap = atomic.read_snapshot(volume)
        assert snap.files == {}
        assert "is not a timestamp directory inside it" in snap.warnings[0]
        assert atomic.read_snapshot(volume, ["hostname"]).files == {}

    def test_no_symlink_below_a_version_is_followed(self, tmp_path: Path) -> None:
        """The kubelet writes only regular files into a version: links there are unreadable."""
        atomic.write(tmp_path, {"a": "1"})
        version = tmp_path / version_of(tmp_path)
        (tmp_path / "outside").mkdir()
        (tmp_path / "outside" / "f").write_text("secret")
        os.symlink(tmp_path / "outside", version / "d")
        os.symlink(tmp_path / "outside" / "f", version / "b")
        snap = atomic.read_snapshot(tmp_path)
        assert dict(snap.files) == {"a": b"1"}
        assert snap.unreadable == ("b",)
        assert atomic.read_snapshot(tmp_path, ["d/f"]).files == {}

    def test_file_above_its_limit_is_left_out(self, tmp_path: Path) -> None:
        """A file is read up to its limit, never further; a larger one is reported."""
        atomic.write(tmp_path, {"name": "x" * 300, "ok": "y"})
        snap = atomic.read_snapshot(tmp_path, max_bytes={"name": 255})
        assert dict(snap.files) == {"ok": b"y"}
        assert snap.missing == snap.unreadable == ("name",)
        assert snap.warnings == (f'"{tmp_path}/name": file larger than 255 bytes; ignored',)
        assert atomic.read_snapshot(tmp_path, max_bytes=300).files["name"] == b"x" * 300
        assert atomic.read_text(tmp_path, "name", max_bytes=10) is None

    def test_total_size_is_bounded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past MAX_SNAPSHOT_BYTES in all, the remaining files are left out and reported."""
        monkeypatch.setattr(atomic, "MAX_SNAPSHOT_BYTES", 10)
        atomic.write(tmp_path, {"a": "123456", "b": "123456", "c": "1"})
        snap = atomic.read_snapshot(tmp_path)
        assert dict(snap.files) == {"a": b"123456"}
        assert snap.unreadable == ("b", "c")
        assert "larger than 10 bytes in all; b and the rest ignored" in snap.warnings[0]

    @pytest.mark.parametrize("kind", ["files", "directories"])
    def test_entry_count_is_bounded(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
    ) -> None:
        """A listing looks at MAX_SNAPSHOT_FILES entries at most (empty directories too)."""
        monkeypatch.setattr(atomic, "MAX_SNAPSHOT_FILES", 3)
        for i in range(6):
            if kind == "files":
                (tmp_path / f"f{i}").write_text("x")
            else:
                (tmp_path / f"d{i}").mkdir()
        snap = atomic.read_snapshot(tmp_path)
        assert len(snap.files) == (3 if kind == "files" else 0)
        assert snap.warnings == (f'"{tmp_path}": more than 3 entries; the rest ignored',)

    def test_deep_directory_neither_recurses_nor_raises(
        self, tmp_path: Path, deep_tree: Callable[[Path, int], Path]
    ) -> None:
        """Far deeper than the recursion limit: listed iteratively, cut at MAX_DEPTH."""
        deep_tree(tmp_path, sys.getrecursionlimit() + 100)
        (tmp_path / "b").mkdir()
        deep_tree(tmp_path / "b", atomic.MAX_DEPTH - 2)  # a file just within the bound
        (tmp_path / "top").write_text("t")
        snap = atomic.read_snapshot(tmp_path)
        within = "b/" + "d/" * (atomic.MAX_DEPTH - 2) + "f"
        assert dict(snap.files) == {"top": b"t", within: b""}
        assert len(snap.warnings) == 1
        assert snap.warnings[0].endswith(f"deeper than {atomic.MAX_DEPTH} levels; ignored")

    @pytest.mark.parametrize("kind", ["fifo", "device"])
    def test_special_files_never_block(self, tmp_path: Path, kind: str) -> None:
        """A FIFO or a device under a fake root is unreadable, at once."""
        if kind == "fifo":
            os.mkfifo(tmp_path / "name")
        else:
            os.symlink("/dev/zero", tmp_path / "name")
        assert atomic.read_snapshot(tmp_path, ["name"]).unreadable == ("name",)
        assert atomic.read_text(tmp_path, "name") is None


class TestConcurrency:
    """The reader against a writer that never stops."""

    def test_reader_never_sees_a_torn_snapshot(self, tmp_path: Path) -> None:
        """While a writer commits 500 versions, every snapshot holds one version's files."""
        names = ["a", "b", "d/c", "labels"]
        atomic.write(tmp_path, dict.fromkeys(names, "0"))
        done = threading.Event()
        torn: list[dict[str, bytes]] = []
        reads = 0

        def reader() -> None:
            nonlocal reads
            while not done.is_set():
                snap = atomic.read_snapshot(tmp_path, retries=1000)
                values = set(snap.files.values())
                if len(values) != 1 or len(snap.files) != len(names):
                    torn.append(dict(snap.files))
                reads += 1

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for seq in range(1, 501):
                atomic.write(tmp_path, dict.fromkeys(names, str(seq)))
        finally:
            done.set()
            thread.join()
        assert torn == []
        assert reads > 0
        assert atomic.read_snapshot(tmp_path).files["a"] == b"500"


class TestImportCost:
    """The reader is on the runtime path."""

    def test_import_adds_only_itself(self) -> None:
        """Importing podself.atomic after podself loads no other module."""
        code = (
            "import sys, podself; before = set(sys.modules); import podself.atomic; "
            "print(sorted(set(sys.modules) - before))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        allowed = {"podself.atomic", "errno", "os", "stat", "sys", "types"}
        added = set(ast.literal_eval(out))
        assert added <= allowed, added - allowed

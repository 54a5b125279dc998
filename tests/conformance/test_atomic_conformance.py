"""The kubelet AtomicWriter vectors (atomic_writer.json) against podself.atomic."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from podself import atomic
from podself.errors import PayloadError
from tests.conftest import conformance_params, load_conformance

NAME = "atomic_writer.json"


def expand(value: Any) -> str:
    """A vector path: a plain string or ``{"repeat": c, "count": n}``."""
    if isinstance(value, dict):
        return str(value["repeat"]) * int(value["count"])
    return str(value)


def data_of(value: Any) -> bytes:
    """Vector file data: text or ``{"base64": ...}``."""
    if isinstance(value, dict):
        return base64.b64decode(value["base64"])
    return str(value).encode("utf-8")


def payload_of(items: list[dict[str, Any]]) -> dict[str, atomic.FileProjection]:
    """A vector payload as the writer's mapping."""
    return {
        expand(item["path"]): atomic.FileProjection(data_of(item["data"]), item["mode"])
        for item in items
    }


def timestamp_dirs(target: Path) -> list[str]:
    """Names of the timestamp directories in ``target``."""
    return sorted(
        p.name for p in target.iterdir() if p.name.startswith("..") and p.name[2:3].isdigit()
    )


def check_visible(target: Path, expected: dict[str, Any]) -> None:
    """The files under ..data and the top-level links equal the vector's expectation."""
    data_dir = target / atomic.DATA_DIR_NAME
    found: dict[str, tuple[int, bytes]] = {}
    for dirpath, _dirs, files in os.walk(data_dir):
        for name in files:
            full = Path(dirpath) / name
            rel = full.relative_to(data_dir).as_posix()
            found[rel] = (stat.S_IMODE(full.lstat().st_mode), full.read_bytes())
    want = {
        path: (spec["mode"], data_of(spec["data"]))
        for path, spec in expected["files_under_data_dir"].items()
    }
    assert found == want
    links = {
        p.name: os.readlink(p)
        for p in target.iterdir()
        if not p.name.startswith("..") and p.is_symlink()
    }
    assert links == expected["top_level_symlinks"]
    others = [
        p.name for p in target.iterdir() if not p.name.startswith("..") and not p.is_symlink()
    ]
    assert others == []


class TestLayout:
    """The layout block of the vectors."""

    def test_reserved_names(self) -> None:
        """The data and temporary link names are the kubelet's."""
        layout = load_conformance(NAME)["layout"]
        assert layout["data_dir_symlink"] == atomic.DATA_DIR_NAME
        assert layout["tmp_data_dir_symlink"] == atomic.NEW_DATA_DIR_NAME

    def test_limits(self) -> None:
        """Path and file-name limits are the kubelet's."""
        limits = load_conformance(NAME)["validate_path_limits"]
        assert limits["max_path_length"] == atomic.MAX_PATH_LENGTH
        assert limits["max_file_name_length"] == atomic.MAX_FILE_NAME_LENGTH

    def test_twelve_steps_documented(self) -> None:
        """write() documents and marks as many steps as the vectors list."""
        steps = load_conformance(NAME)["write_steps_in_order"]
        source = Path(atomic.__file__).read_text(encoding="utf-8")
        for number in range(1, len(steps) + 1):
            assert f"# ({number})" in source
        assert len(steps) == 12


class TestValidatePath:
    """TestValidatePath."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "validate_path"))
    def test_vector(self, case: dict[str, Any]) -> None:
        """Each path is accepted or refused with the kubelet's exact message."""
        path = expand(case["path"])
        if case["valid"]:
            atomic.validate_path(path)
        else:
            with pytest.raises(PayloadError) as info:
                atomic.validate_path(path)
            assert str(info.value) == case["error"]


class TestValidatePayload:
    """TestValidatePayload."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "validate_payload"))
    def test_vector(self, case: dict[str, Any]) -> None:
        """Valid payloads come back with cleaned keys; invalid ones raise."""
        payload = {expand(p): b"x" for p in case["paths"]}
        if case["valid"]:
            clean = atomic.validate_payload(payload)
            assert sorted(clean) == sorted(case["cleaned_paths"])
        else:
            with pytest.raises(PayloadError):
                atomic.validate_payload(payload)


class TestWriteOnce:
    """TestWriteOnce."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "write_once"))
    def test_vector(self, case: dict[str, Any], tmp_path: Path) -> None:
        """A first write gives exactly the expected files, modes and links, or nothing."""
        payload = payload_of(case["payload"])
        if not case["success"]:
            with pytest.raises(PayloadError):
                atomic.write(tmp_path, payload)
            assert list(tmp_path.iterdir()) == []
            return
        assert atomic.write(tmp_path, payload) is True
        check_visible(tmp_path, case["expected_visible"])
        assert len(timestamp_dirs(tmp_path)) == 1


class TestUpdate:
    """TestUpdate."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "update"))
    def test_vector(self, case: dict[str, Any], tmp_path: Path) -> None:
        """A second write commits a new version only when data changed or paths went away."""
        assert atomic.write(tmp_path, payload_of(case["first"])) is True
        first_version = os.readlink(tmp_path / atomic.DATA_DIR_NAME)
        wrote = atomic.write(tmp_path, payload_of(case["next"]))
        assert wrote is case["test_should_write_flag"]
        version = os.readlink(tmp_path / atomic.DATA_DIR_NAME)
        assert (version != first_version) is case["test_should_write_flag"]
        check_visible(tmp_path, case["expected_visible_after_next"])
        assert timestamp_dirs(tmp_path) == [version]


class TestMultipleUpdates:
    """TestMultipleUpdates."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "multiple_updates"))
    def test_vector(self, case: dict[str, Any], tmp_path: Path) -> None:
        """After each write the visible state is the vector's, with one timestamp dir."""
        for items, expected in zip(
            case["payloads"], case["expected_visible_after_each"], strict=True
        ):
            atomic.write(tmp_path, payload_of(items))
            check_visible(tmp_path, expected)
            assert len(timestamp_dirs(tmp_path)) == 1


class TestPathsToRemove:
    """TestPathsToRemove."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "paths_to_remove"))
    def test_vector(self, case: dict[str, Any], tmp_path: Path) -> None:
        """The old version minus the new paths and their parents."""
        atomic.write(tmp_path, payload_of(case["payload1"]))
        old_dir = tmp_path / os.readlink(tmp_path / atomic.DATA_DIR_NAME)
        clean = atomic.validate_payload(payload_of(case["payload2"]))
        assert sorted(atomic.paths_to_remove(clean, old_dir)) == case["expected_paths_to_remove"]


class TestCreateUserVisibleFiles:
    """TestCreateUserVisibleFiles."""

    @pytest.mark.parametrize("case", conformance_params(NAME, "create_user_visible_files"))
    def test_vector(self, case: dict[str, Any], tmp_path: Path) -> None:
        """One relative link per first path element, pointing into ..data."""
        atomic._create_user_visible_files(str(tmp_path), case["payload_paths"])
        links = {p.name: os.readlink(p) for p in tmp_path.iterdir()}
        assert links == case["expected_symlinks"]

"""podself.watcher: change sets for ..data volumes and plain directories, with fault injection."""

from __future__ import annotations

import ast
import asyncio
import errno
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podself import _inotify, atomic
from podself.downward import format_map
from podself.errors import WatchError
from podself.watcher import (
    ChangeSet,
    MapDiff,
    Watcher,
    _default_force_polling,
    _Engine,
    awatch,
    watch,
)

WAIT = 30.0  # generous: an upper bound for "eventually", never a latency assertion
LINUX = sys.platform.startswith("linux")

MODES = [
    pytest.param(
        {"force_polling": False},
        id="inotify",
        marks=pytest.mark.skipif(not LINUX, reason="inotify is Linux only"),
    ),
    pytest.param({"force_polling": True, "poll_ms": 10}, id="polling"),
]


class Collector:
    """A Watcher callback that records change sets and lets a test wait for a condition."""

    def __init__(self) -> None:
        self.changes: list[ChangeSet] = []
        self._cond = threading.Condition()

    def __call__(self, change: ChangeSet) -> None:
        with self._cond:
            self.changes.append(change)
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[list[ChangeSet]], bool]) -> list[ChangeSet]:
        """Block until ``predicate(changes)`` holds (fails after WAIT seconds)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: predicate(self.changes), WAIT)
            assert ok, f"condition not reached; changes so far: {self.changes!r}"
            return list(self.changes)


def seq_payload(seq: int) -> dict[str, str]:
    """Every file of version ``seq`` carries ``seq``, so a torn read is detectable."""
    return {
        "labels": format_map({"app": "web", "seq": str(seq)}),
        "annotations": format_map({"seq": str(seq)}),
        "seq": str(seq),
        "nested/seq": str(seq),
    }


def seq_of(change: ChangeSet) -> int:
    """The single sequence number of a change set's files (fails when torn)."""
    values = {change.files["seq"], change.files["nested/seq"]}
    values.add(change.files["annotations"].split(b'"')[1])
    assert len(values) == 1, f"torn change set: {dict(change.files)}"
    return int(values.pop())


def swap_identical(target: Path) -> str:
    """Commit a new version with identical data, as a resync that rewrote files would."""
    old = os.readlink(target / atomic.DATA_DIR_NAME)
    new = old + "0"
    shutil.copytree(target / old, target / new)
    os.symlink(new, target / atomic.NEW_DATA_DIR_NAME)
    os.rename(target / atomic.NEW_DATA_DIR_NAME, target / atomic.DATA_DIR_NAME)
    shutil.rmtree(target / old)
    return new


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """A Downward-API-like volume with labels, annotations and a name."""
    target = tmp_path / "podinfo"
    target.mkdir()
    atomic.write(
        target,
        {
            "labels": format_map({"app": "web", "stage": "alpha"}),
            "annotations": format_map({"team": "core"}),
            "name": "web-0",
        },
    )
    return target


@pytest.fixture
def started() -> Iterator[Callable[..., tuple[Watcher, Collector]]]:
    """Start Watchers with a Collector and stop them all at the end."""
    watchers: list[Watcher] = []

    def start(path: Path, **options: Any) -> tuple[Watcher, Collector]:
        collector = Collector()
        watcher = Watcher(path, collector, **options).start()
        watchers.append(watcher)
        return watcher, collector

    yield start
    for watcher in watchers:
        watcher.stop(timeout=WAIT)


@pytest.mark.parametrize("options", MODES)
class TestChanges:
    """What is reported, in both inotify and polling modes."""

    def test_single_update_reported_once_with_diffs(
        self, volume: Path, started: Any, options: dict[str, Any]
    ) -> None:
        """One label change gives exactly one change set with the right MapDiff."""
        _, collector = started(volume, debounce_ms=5, **options)
        atomic.write(
            volume,
            {
                "labels": format_map({"app": "web", "stage": "beta", "feature": "new-api"}),
                "annotations": format_map({"team": "core"}),
                "name": "web-0",
            },
        )
        first = collector.wait_for(lambda c: len(c) >= 1)[0]
        # A later, different update proves nothing else was reported in between.
        atomic.write(volume, {"name": "web-0"})
        changes = collector.wait_for(lambda c: len(c) >= 2)
        assert len(changes) == 2
        assert changes[0] is first
        assert first.changed == ("labels",)
        assert first.added == first.removed == ()
        assert first.version is not None
        assert first.version != changes[1].version
        assert first.diffs["labels"] == MapDiff(
            added={"feature": "new-api"}, removed={}, changed={"stage": ("alpha", "beta")}
        )
        assert first.summary() == "labels: +feature=new-api ~stage alpha→beta"
        assert first.files["name"] == b"web-0"
        assert changes[1].removed == ("annotations", "labels")
        assert changes[1].summary() == "-annotations; -labels"

    def test_identical_rewrite_not_reported(
        self, volume: Path, started: Any, options: dict[str, Any]
    ) -> None:
        """A new version with the same data, or a no-op write, yields no change set."""
        _, collector = started(volume, debounce_ms=5, **options)
        swap_identical(volume)
        atomic.write(volume, {"name": "web-0", "labels": "", "annotations": ""})
        changes = collector.wait_for(lambda c: len(c) >= 1)
        swap_identical(volume)
        atomic.write(volume, {"name": "web-1", "labels": "", "annotations": ""})
        changes = collector.wait_for(lambda c: len(c) >= 2)
        assert [c.changed for c in changes] == [("annotations", "labels"), ("name",)]
        assert changes[1].version == os.readlink(volume / atomic.DATA_DIR_NAME)

    def test_storm_reports_final_state_never_torn(
        self, volume: Path, started: Any, options: dict[str, Any]
    ) -> None:
        """500 back-to-back swaps: every change set is one version, the last is the final."""
        _, collector = started(volume, debounce_ms=2, **options)
        for seq in range(1, 501):
            atomic.write(volume, seq_payload(seq))
        changes = collector.wait_for(lambda c: bool(c) and c[-1].files.get("seq") == b"500")
        seqs = [seq_of(change) for change in changes]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
        assert seqs[-1] == 500

    def test_plain_directory_edits(
        self, tmp_path: Path, started: Any, options: dict[str, Any]
    ) -> None:
        """A directory without ..data: in-place edits, new and removed files are reported."""
        (tmp_path / "config").write_text("a=1")
        watcher, collector = started(tmp_path, debounce_ms=5, **options)
        with open(tmp_path / "config", "w") as handle:
            handle.write("a=2")
        change = collector.wait_for(lambda c: len(c) >= 1)[-1]
        assert change.changed == ("config",)
        assert change.version is None
        assert change.files == {"config": b"a=2"}
        (tmp_path / "labels").write_text(format_map({"k": "v"}))
        collector.wait_for(lambda c: any(x.added == ("labels",) for x in c))
        (tmp_path / "config").unlink()
        changes = collector.wait_for(lambda c: any(x.removed == ("config",) for x in c))
        added = next(x for x in changes if x.added == ("labels",))
        assert added.diffs["labels"] == MapDiff({"k": "v"}, {}, {})
        assert watcher.changes_seen == len(changes)
        assert watcher.last == changes[-1]

    def test_deep_plain_directory_keeps_watching(
        self,
        tmp_path: Path,
        started: Any,
        options: dict[str, Any],
        deep_tree: Callable[[Path, int], Path],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """A tree far deeper than the recursion limit: bounded, reported once, still watched."""
        (tmp_path / "config").write_text("a=1")
        deep_tree(tmp_path, sys.getrecursionlimit() + 100)
        watcher, collector = started(tmp_path, debounce_ms=5, **options)
        (tmp_path / "config").write_text("a=2")
        change = collector.wait_for(lambda c: len(c) >= 1)[-1]
        assert change.files == {"config": b"a=2"}
        assert watcher.running
        assert caplog.text.count(f"deeper than {atomic.MAX_DEPTH} levels; ignored") == 1

    def test_deleted_directory_ends_the_watch(
        self, volume: Path, options: dict[str, Any], caplog: pytest.LogCaptureFixture
    ) -> None:
        """Removing the watched directory (pod teardown) ends the iteration quietly."""
        caplog.set_level(logging.INFO, logger="podself.watcher")
        iterator = watch(volume, yield_initial=True, **options)
        assert next(iterator).added == ("annotations", "labels", "name")
        shutil.rmtree(volume)
        assert list(iterator) == []
        assert "directory removed, watch ended" in caplog.text

    def test_watcher_ends_when_directory_removed(
        self, volume: Path, options: dict[str, Any]
    ) -> None:
        """A Watcher's thread ends by itself when its directory goes away."""
        watcher = Watcher(volume, **options).start()
        shutil.rmtree(volume)
        assert watcher.join(WAIT) is True
        assert watcher.running is False
        watcher.stop()

    def test_stop_event_stops(self, volume: Path, options: dict[str, Any]) -> None:
        """Setting stop_event ends an idle generator."""
        stop = threading.Event()
        ended = threading.Event()

        def consume() -> None:
            for _ in watch(volume, stop_event=stop, **options):
                pass
            ended.set()

        thread = threading.Thread(target=consume, daemon=True)
        thread.start()
        stop.set()
        assert ended.wait(WAIT)
        thread.join(WAIT)

    def test_unreadable_file_reported_missing(
        self,
        volume: Path,
        started: Any,
        options: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """EACCES on a file: reported as removed and missing, with a warning, no crash."""
        real = atomic._read_file

        def read_file(dir_fd: int, name: str, limit: int, follow: bool) -> bytes:
            if name == "secret":
                raise PermissionError(errno.EACCES, "Permission denied", name)
            return real(dir_fd, name, limit, follow)

        monkeypatch.setattr(atomic, "_read_file", read_file)
        watcher, collector = started(volume, debounce_ms=5, **options)
        atomic.write(volume, {"name": "web-0", "secret": "s"})
        change = collector.wait_for(lambda c: len(c) >= 1)[0]
        assert change.missing == ("secret",)
        assert "secret" not in change.files
        assert change.removed == ("annotations", "labels")
        assert "cannot read secret" in caplog.text
        assert watcher.running


class TestInotifyFaults:
    """Lost events, overflow and unavailable inotify."""

    pytestmark = pytest.mark.skipif(not LINUX, reason="inotify is Linux only")

    def test_queue_overflow_forces_reread(
        self, volume: Path, started: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """IN_Q_OVERFLOW alone (every real event lost) still leads to the new state."""
        real_read = _inotify.Inotify.read

        def overflowed(self: _inotify.Inotify) -> list[_inotify.Event]:
            real_read(self)  # drain and drop everything
            return [_inotify.Event(-1, _inotify.IN_Q_OVERFLOW, 0, "")]

        monkeypatch.setattr(_inotify.Inotify, "read", overflowed)
        watcher, collector = started(volume, debounce_ms=5, poll_ms=3_600_000)
        assert watcher.mode == "inotify"
        atomic.write(volume, {"name": "web-1"})
        change = collector.wait_for(lambda c: len(c) >= 1)[0]
        assert change.files == {"name": b"web-1"}

    def test_safety_net_catches_missed_events(
        self, volume: Path, started: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With every event lost, the periodic check still reports the change."""
        real_read = _inotify.Inotify.read

        def lost(self: _inotify.Inotify) -> list[_inotify.Event]:
            real_read(self)
            return []

        monkeypatch.setattr(_inotify.Inotify, "read", lost)
        watcher, collector = started(volume, debounce_ms=5, poll_ms=20)
        assert watcher.mode == "inotify"
        atomic.write(volume, {"name": "web-1"})
        assert collector.wait_for(lambda c: len(c) >= 1)[0].changed == ("name",)

    @pytest.mark.parametrize("code", [errno.ENOSPC, errno.EMFILE])
    def test_inotify_limits_fall_back_to_polling(
        self,
        volume: Path,
        started: Any,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        code: int,
    ) -> None:
        """max_user_watches / max_user_instances exhausted: poll, warn, still work."""

        def refuse(self: _inotify.Inotify, path: str, mask: int) -> int:
            raise OSError(code, os.strerror(code), path)

        monkeypatch.setattr(_inotify.Inotify, "add_watch", refuse)
        watcher, collector = started(volume, debounce_ms=5, poll_ms=10)
        assert watcher.mode == "polling"
        assert "inotify unavailable" in caplog.text
        atomic.write(volume, {"name": "web-1"})
        assert collector.wait_for(lambda c: len(c) >= 1)[0].changed == ("name",)

    def test_events_of_a_swap_are_seen(self, tmp_path: Path) -> None:
        """The raw binding reports the rename of ..data_tmp over ..data."""
        atomic.write(tmp_path, {"a": "1"})
        with _inotify.Inotify() as notifier:
            notifier.add_watch(str(tmp_path), _inotify.IN_MOVED_TO | _inotify.IN_CREATE)
            atomic.write(tmp_path, {"a": "2"})
            events = notifier.read()
        names = [(e.name, e.mask & (_inotify.IN_MOVED_TO | _inotify.IN_CREATE)) for e in events]
        assert (atomic.DATA_DIR_NAME, _inotify.IN_MOVED_TO) in names
        assert (atomic.NEW_DATA_DIR_NAME, _inotify.IN_CREATE) in names
        assert "Event(" in repr(events[0])


class TestDefaults:
    """debounce_ms=None and poll_ms=None: a ..data swap is reported at once, storms and
    plain directories are coalesced, and the safety net is rare where inotify sees all."""

    pytestmark = pytest.mark.skipif(not LINUX, reason="inotify is Linux only")

    @staticmethod
    def engine(path: Path, **options: Any) -> _Engine:
        engine = _Engine(path, **{"debounce_ms": None, "poll_ms": None, **options})
        engine.open()
        return engine

    def test_data_swap_is_due_at_once(self, volume: Path) -> None:
        """No debounce after a ..data rename: the engine asks for no wait and reports it."""
        engine = self.engine(volume, force_polling=False)
        try:
            atomic.write(volume, {"name": "web-1"})
            engine.read_events()
            now = time.monotonic()
            assert engine.timeout(now) == 0
            change = engine.tick(now)
            assert change is not None
            assert change.files == {"name": b"web-1"}
        finally:
            engine.close()

    def test_explicit_debounce_still_waits(self, volume: Path) -> None:
        """debounce_ms=50 keeps waiting for quiet after the swap."""
        engine = self.engine(volume, force_polling=False, debounce_ms=50)
        try:
            atomic.write(volume, {"name": "web-1"})
            engine.read_events()
            now = time.monotonic()
            assert engine.timeout(now) > 0
            assert engine.tick(now) is None
        finally:
            engine.close()

    def test_storm_after_a_report_is_coalesced(self, volume: Path) -> None:
        """A second swap right after a report waits for the debounce; the last state wins."""
        engine = self.engine(volume, force_polling=False)
        try:
            atomic.write(volume, {"name": "web-1"})
            engine.read_events()
            assert engine.tick(time.monotonic()) is not None
            atomic.write(volume, {"name": "web-2"})
            atomic.write(volume, {"name": "web-3"})
            engine.read_events()
            now = time.monotonic()
            assert engine.timeout(now) > 0
            assert engine.tick(now) is None
            change = engine.tick(now + 1.0)  # once quiet for the debounce
            assert change is not None
            assert change.files == {"name": b"web-3"}
        finally:
            engine.close()

    def test_plain_directory_is_debounced(self, tmp_path: Path) -> None:
        """An in-place edit has no commit point: it is coalesced as before."""
        (tmp_path / "a").write_text("1")
        engine = self.engine(tmp_path, force_polling=False)
        try:
            (tmp_path / "a").write_text("2")
            engine.read_events()
            now = time.monotonic()
            assert engine.timeout(now) > 0
            assert engine.tick(now) is None
        finally:
            engine.close()

    @pytest.mark.parametrize(
        ("layout", "force_polling", "interval"),
        [("data", False, 60.0), ("flat", False, 60.0), ("nested", False, 1.0), ("data", True, 1.0)],
    )
    def test_safety_net_interval(
        self, tmp_path: Path, layout: str, force_polling: bool, interval: float
    ) -> None:
        """Rare with inotify; every second when polling or for plain sub-directories."""
        if layout == "data":
            atomic.write(tmp_path, {"a": "1"})
        else:
            (tmp_path / "a").write_text("1")
            if layout == "nested":
                (tmp_path / "sub").mkdir()
                (tmp_path / "sub" / "b").write_text("1")
        engine = self.engine(tmp_path, force_polling=force_polling)
        try:
            assert engine.timeout(time.monotonic()) == pytest.approx(interval, abs=0.5)
        finally:
            engine.close()


class TestProcessPodinfo:
    """watch() honours PODSELF_ROOT, and podself.current() follows a watched own volume."""

    def test_podself_root_relocates_the_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """watch("/etc/podinfo") in a pod run without mount namespaces finds <root>/etc/podinfo."""
        podinfo = tmp_path / "etc" / "podinfo"
        podinfo.mkdir(parents=True)
        atomic.write(podinfo, {"name": "web-0"})
        monkeypatch.setenv("PODSELF_ROOT", str(tmp_path))
        watcher = Watcher("/etc/podinfo")
        assert watcher.path == str(podinfo)
        first = next(watch("/etc/podinfo", yield_initial=True))
        assert first.files == {"name": b"web-0"}

    def test_current_follows_the_watched_volume(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After the watcher reports a commit, podself.current() (also in the callback) has it."""
        import podself

        podinfo = tmp_path / "etc" / "podinfo"
        podinfo.mkdir(parents=True)
        atomic.write(podinfo, {"labels": format_map({"stage": "alpha"})})
        for key in list(os.environ):
            if key.startswith(("K8S_", "POD_", "PODSELF_")):
                monkeypatch.delenv(key)
        monkeypatch.setenv("PODSELF_ROOT", str(tmp_path))
        monkeypatch.setattr(podself, "_current", None)
        assert podself.current().labels == {"stage": "alpha"}
        seen: list[dict[str, str]] = []
        collector = Collector()
        callback = lambda change: seen.append(dict(podself.current().labels))  # noqa: E731
        with Watcher("/etc/podinfo", callback) as watcher:
            watcher.add_callback(collector)  # runs after the first callback
            atomic.write(podinfo, {"labels": format_map({"stage": "beta"})})
            collector.wait_for(lambda changes: len(changes) >= 1)
        assert seen == [{"stage": "beta"}]
        assert podself.current().labels == {"stage": "beta"}


class TestWatcher:
    """The background-thread API."""

    def test_callback_exception_does_not_kill_thread(
        self, volume: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing callback is logged; later changes still reach every callback."""
        collector = Collector()

        def broken(change: ChangeSet) -> None:
            raise RuntimeError("boom")

        with Watcher(volume, broken, debounce_ms=5) as watcher:
            assert watcher.add_callback(collector) is collector
            atomic.write(volume, {"name": "a"})
            collector.wait_for(lambda c: len(c) >= 1)
            atomic.write(volume, {"name": "b"})
            changes = collector.wait_for(lambda c: len(c) >= 2)
            assert watcher.running
        assert [c.files["name"] for c in changes] == [b"a", b"b"]
        assert "callback" in caplog.text
        assert "boom" in caplog.text
        assert not watcher.running

    def test_stop_is_prompt_and_idempotent(self, volume: Path) -> None:
        """stop() ends an idle watcher (no poll wait) and may be called twice."""
        watcher = Watcher(volume, poll_ms=3_600_000).start()
        assert watcher.running
        watcher.stop(timeout=WAIT)
        assert not watcher.running
        watcher.stop()
        assert "stopped" in repr(watcher)

    def test_stop_event_stops_watcher(self, volume: Path) -> None:
        """A caller's stop_event also ends the thread."""
        stop = threading.Event()
        watcher = Watcher(volume, stop_event=stop).start()
        stop.set()
        assert watcher.join(WAIT)
        watcher.stop()

    def test_stop_from_callback(self, volume: Path) -> None:
        """A callback may stop its own watcher."""
        done = threading.Event()
        holder: list[Watcher] = []

        def stop_self(change: ChangeSet) -> None:
            holder[0].stop()
            done.set()

        watcher = Watcher(volume, stop_self, debounce_ms=5, yield_initial=True)
        holder.append(watcher)
        watcher.start()
        assert done.wait(WAIT)
        assert watcher.join(WAIT)

    def test_yield_initial(self, volume: Path) -> None:
        """yield_initial reports the current state as all added, with label diffs."""
        collector = Collector()
        with Watcher(volume, collector, yield_initial=True):
            first = collector.wait_for(lambda c: len(c) >= 1)[0]
        assert first.added == ("annotations", "labels", "name")
        assert first.diffs["labels"].added == {"app": "web", "stage": "alpha"}
        assert first.version == os.readlink(volume / atomic.DATA_DIR_NAME)

    def test_start_twice(self, volume: Path) -> None:
        """A Watcher starts once."""
        with Watcher(volume) as watcher, pytest.raises(RuntimeError, match="already started"):
            watcher.start()

    @pytest.mark.skipif(not LINUX, reason="inotify is Linux only")
    def test_huge_poll_interval(self, volume: Path) -> None:
        """A safety-net interval longer than poll(2) can take still waits, and reports."""
        collector = Collector()
        with Watcher(volume, collector, debounce_ms=5, poll_ms=10**12, force_polling=False) as w:
            assert w.mode == "inotify"
            atomic.write(volume, {"name": "a"})
            changes = collector.wait_for(lambda c: len(c) >= 1)
            assert w.running
        assert changes[0].files["name"] == b"a"

    @pytest.mark.parametrize("options", MODES)
    def test_start_again_after_stop(self, volume: Path, options: dict[str, Any]) -> None:
        """A stopped Watcher can be started again and reports the changes after that."""
        collector = Collector()
        watcher = Watcher(volume, collector, debounce_ms=5, **options)
        with watcher:
            atomic.write(volume, {"name": "a"})
            collector.wait_for(lambda c: len(c) >= 1)
        atomic.write(volume, {"name": "b"})  # while stopped: not reported
        with watcher:
            assert watcher.running
            atomic.write(volume, {"name": "c"})
            changes = collector.wait_for(lambda c: len(c) >= 2)
        assert [c.files["name"] for c in changes] == [b"a", b"c"]
        assert changes[1].changed == ("name",)

    @pytest.mark.parametrize("options", MODES)
    def test_start_again_after_directory_recreated(
        self, volume: Path, options: dict[str, Any]
    ) -> None:
        """After its directory was removed (watch ended), a Watcher follows the new one."""
        collector = Collector()
        watcher = Watcher(volume, collector, debounce_ms=5, **options).start()
        shutil.rmtree(volume)
        assert watcher.join(WAIT)
        volume.mkdir()
        atomic.write(volume, {"name": "new"})
        with watcher:
            atomic.write(volume, {"name": "newer"})
            changes = collector.wait_for(lambda c: len(c) >= 1)
        assert [c.files["name"] for c in changes] == [b"newer"]


class TestErrors:
    """Paths that cannot be watched and bad options."""

    def test_missing_path_at_construction(self, tmp_path: Path) -> None:
        """Watcher refuses a missing directory at once, naming it."""
        with pytest.raises(WatchError, match=r'watch ".*nope": no such directory'):
            Watcher(tmp_path / "nope")

    def test_missing_path_at_first_iteration(self, tmp_path: Path) -> None:
        """watch() raises when iteration starts, not when called."""
        iterator = watch(tmp_path / "nope")
        with pytest.raises(WatchError, match="no such directory"):
            next(iterator)

    def test_not_a_directory(self, tmp_path: Path) -> None:
        """A file is not watchable."""
        (tmp_path / "f").write_text("")
        with pytest.raises(WatchError, match="not a directory"):
            Watcher(tmp_path / "f")
        with pytest.raises(WatchError, match="not a directory"):
            next(watch(tmp_path / "f", force_polling=True))

    @pytest.mark.parametrize(
        ("option", "value"),
        [("debounce_ms", -1), ("poll_ms", 0), ("poll_ms", 1.5), ("debounce_ms", True)],
    )
    def test_bad_options(self, tmp_path: Path, option: str, value: object) -> None:
        """Timing options are non-negative integers (poll_ms at least 1)."""
        with pytest.raises(ValueError, match=option):
            watch(tmp_path, **{option: value})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=option):
            awatch(tmp_path, **{option: value})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=option):
            Watcher(tmp_path, **{option: value})  # type: ignore[arg-type]


class TestForcePolling:
    """Resolution order of force_polling."""

    def test_argument_wins(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An explicit argument beats the environment."""
        monkeypatch.setenv("PODSELF_FORCE_POLLING", "1")
        assert _default_force_polling(False) is False
        assert _default_force_polling(True) is True

    @pytest.mark.parametrize(
        ("value", "expected"), [("1", True), ("true", True), ("0", False), ("no", False)]
    )
    def test_environment(self, monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
        """PODSELF_FORCE_POLLING decides when no argument is given."""
        monkeypatch.setenv("PODSELF_FORCE_POLLING", value)
        assert _default_force_polling(None) is expected

    def test_detection(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without argument or environment, poll only where inotify is missing."""
        monkeypatch.delenv("PODSELF_FORCE_POLLING", raising=False)
        assert _default_force_polling(None) is (not LINUX)

    def test_environment_reaches_watcher(
        self, volume: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A Watcher started with PODSELF_FORCE_POLLING=1 polls."""
        monkeypatch.setenv("PODSELF_FORCE_POLLING", "1")
        with Watcher(volume) as watcher:
            assert watcher.mode == "polling"


class TestAwatch:
    """The async generator."""

    @pytest.mark.parametrize("options", MODES)
    def test_reports_a_change(self, volume: Path, options: dict[str, Any]) -> None:
        """awatch yields the same change set watch would."""

        async def main() -> ChangeSet:
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, atomic.write, volume, {"name": "web-9"})
            async for change in awatch(volume, debounce_ms=5, **options):
                return change
            raise AssertionError("awatch ended without a change")

        change = asyncio.run(asyncio.wait_for(main(), WAIT))
        assert change.files == {"name": b"web-9"}
        assert change.removed == ("annotations", "labels")

    def test_stop_event_and_initial(self, volume: Path) -> None:
        """yield_initial comes first; a set stop_event then ends the iteration."""

        async def main() -> list[ChangeSet]:
            stop = asyncio.Event()
            seen = []
            async for change in awatch(volume, stop_event=stop, yield_initial=True):
                seen.append(change)
                stop.set()
            return seen

        seen = asyncio.run(asyncio.wait_for(main(), WAIT))
        assert [c.added for c in seen] == [("annotations", "labels", "name")]

    def test_directory_removed_ends(self, volume: Path) -> None:
        """awatch ends when its directory is removed."""

        async def main() -> list[ChangeSet]:
            asyncio.get_running_loop().call_later(0.05, shutil.rmtree, volume)
            return [change async for change in awatch(volume, debounce_ms=5)]

        assert asyncio.run(asyncio.wait_for(main(), WAIT)) == []

    def test_missing_path(self, tmp_path: Path) -> None:
        """awatch raises WatchError at the first iteration."""

        async def main() -> None:
            async for _ in awatch(tmp_path / "nope"):
                pass

        with pytest.raises(WatchError):
            asyncio.run(main())


class TestValues:
    """ChangeSet and MapDiff."""

    def test_mapdiff_between(self) -> None:
        """Added, removed and changed keys, sorted; falsy when nothing differs."""
        diff = MapDiff.between({"a": "1", "b": "2"}, {"b": "3", "c": "4"})
        assert diff == MapDiff({"c": "4"}, {"a": "1"}, {"b": ("2", "3")})
        assert diff.summary() == "+c=4 -a ~b 2→3"
        assert not MapDiff.between({"a": "1"}, {"a": "1"})

    def test_summary_quotes_awkward_values(self) -> None:
        """Spaces, empty strings and long values stay on one readable line."""
        diff = MapDiff({"a": "two words", "b": "", "c": "x" * 100}, {}, {})
        text = diff.summary()
        assert "+a='two words'" in text
        assert "+b=''" in text
        assert "\n" not in text
        assert "…" in text

    def test_change_set_summary(self) -> None:
        """Files with diffs, plain changed files, additions and removals in one line."""
        change = ChangeSet(
            "/etc/podinfo",
            "..v2",
            changed=("config", "labels"),
            added=("new",),
            removed=("old",),
            files={},
            diffs={"labels": MapDiff({}, {"x": "1"}, {})},
        )
        assert change.summary() == "config: changed; labels: -x; +new; -old"
        assert ChangeSet(
            "/p", None, changed=(), added=(), removed=(), files={}, diffs={}
        ).summary() == ("no changes")

    def test_change_set_is_frozen(self) -> None:
        """Change sets are immutable values."""
        change = ChangeSet("/p", None, changed=(), added=(), removed=(), files={"a": b""}, diffs={})
        with pytest.raises(AttributeError):
            change.version = "x"
        with pytest.raises(TypeError):
            change.files["a"] = b"x"  # type: ignore[index]

    def test_malformed_labels_file_has_no_diff(
        self, tmp_path: Path, started: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A labels file that is not in FormatMap form changes without a diff, with a warning."""
        atomic.write(tmp_path, {"labels": 'a="1"', "other": "", "text": "x"})
        _, collector = started(tmp_path, debounce_ms=5)
        atomic.write(tmp_path, {"labels": "not a map", "other": 'k="v"', "text": 'k="v"'})
        change = collector.wait_for(lambda c: len(c) >= 1)[0]
        assert change.changed == ("labels", "other", "text")
        assert "labels" not in change.diffs
        assert "text" not in change.diffs  # was not a map before
        assert change.diffs["other"] == MapDiff({"k": "v"}, {}, {})
        assert "not in the labels/annotations format" in caplog.text

    def test_plain_text_file_has_no_diff(self, tmp_path: Path, started: Any) -> None:
        """Files that are not maps (a pod name) get no diff."""
        atomic.write(tmp_path, {"name": "a"})
        _, collector = started(tmp_path, debounce_ms=5)
        atomic.write(tmp_path, {"name": "b"})
        change = collector.wait_for(lambda c: len(c) >= 1)[0]
        assert change.diffs == {}
        assert change.summary() == "name: changed"


class TestImportCost:
    """podself.watcher is imported by the CLI sidecar: keep it light."""

    def test_no_heavy_imports(self) -> None:
        """Importing podself.watcher loads neither asyncio, logging, threading nor ctypes."""
        code = (
            "import sys, podself; before = set(sys.modules); import podself.watcher; "
            "print(sorted(set(sys.modules) - before))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, text=True
        ).stdout
        added = set(ast.literal_eval(out))
        assert not added & {"asyncio", "logging", "threading", "ctypes", "hashlib"}


class TestPackageExports:
    def test_watch_function_not_shadowed_by_module(self) -> None:
        """podself.watch stays the function even after podself.watcher is imported."""
        code = (
            "import podself, podself.watcher, inspect; "
            "assert inspect.isfunction(podself.watch), podself.watch; "
            "assert podself.Watcher is podself.watcher.Watcher"
        )
        subprocess.run([sys.executable, "-c", code], check=True)

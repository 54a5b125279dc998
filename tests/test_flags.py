"""podself.flags: typed settings from labels/annotations, last good values, live log level."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podself import atomic
from podself.downward import format_map
from podself.flags import Flags, apply_log_level, parse_duration
from podself.testing import FakePod

WAIT = 30.0  # an upper bound for "eventually", never a latency assertion
PREFIX = "config.example.com/"


def project(
    directory: Path,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> None:
    """Write the volume the way the kubelet does (``..data`` swap)."""
    atomic.write(
        directory,
        {
            "labels": format_map(labels or {}),
            "annotations": format_map(annotations or {}),
        },
    )


@pytest.fixture
def podinfo(tmp_path: Path) -> Path:
    """An empty Downward API volume directory."""
    directory = tmp_path / "podinfo"
    directory.mkdir()
    project(directory)
    return directory


@pytest.fixture
def flags_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture the podself.flags logger at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="podself.flags")
    return caplog


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The WARNING messages of podself.flags."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "podself.flags" and r.levelno == logging.WARNING
    ]


class TestTypedAccessors:
    """Typed values, defaults and validation."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("enabled", True),
            ("disabled", False),
            ("true", True),
            ("False", False),
            ("on", True),
            ("OFF", False),
            ("yes", True),
            ("no", False),
            ("1", True),
            ("0", False),
        ],
    )
    def test_bool_spellings(self, podinfo: Path, text: str, expected: bool) -> None:
        """Every documented spelling of a boolean is understood, in any case."""
        project(podinfo, {"feature-x": text})
        assert Flags(podinfo_dir=podinfo).bool("feature-x") is expected

    def test_seed_scenarios(self, podinfo: Path) -> None:
        """The seed's feature-x=enabled, log-level=debug, canary-weight=20 read as typed values."""
        project(podinfo, {"feature-x": "enabled", "log-level": "debug", "canary-weight": "20"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.bool("feature-x") is True
        assert flags.choice("log-level", ("debug", "info", "warning"), default="info") == "debug"
        assert flags.int("canary-weight", default=0, min=0, max=100) == 20

    def test_absent_keys_give_defaults(self, podinfo: Path) -> None:
        """A key that is not there gives the accessor's default."""
        flags = Flags(podinfo_dir=podinfo)
        assert flags.bool("feature-x") is False
        assert flags.bool("feature-x", default=True) is True
        assert flags.int("canary-weight", default=5) == 5
        assert flags.float("ratio", default=0.5) == 0.5
        assert flags.str("mode", default="fast") == "fast"
        assert flags.duration("timeout", default=30.0) == 30.0

    def test_float_int_str(self, podinfo: Path) -> None:
        """Numbers parse strictly; str returns the value as written."""
        project(podinfo, {"ratio": "0.25", "big": "1e3", "count": "-7", "name": "blue green"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.float("ratio") == 0.25
        assert flags.float("big") == 1000.0
        assert flags.int("count") == -7
        assert flags.str("name") == "blue green"

    def test_duration_forms(self, podinfo: Path) -> None:
        """Durations accept Go syntax and bare seconds."""
        project(podinfo, {"a": "300ms", "b": "1m30s", "c": "2", "d": "1.5h"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.duration("a") == pytest.approx(0.3)
        assert flags.duration("b") == 90.0
        assert flags.duration("c") == 2.0
        assert flags.duration("d") == 5400.0

    @pytest.mark.parametrize("text", ["", "ms", "1x", "1m30", "abc", ".s", "1.2.3s"])
    def test_parse_duration_rejects(self, text: str) -> None:
        """Text that is neither seconds nor a Go duration raises ValueError naming it."""
        with pytest.raises(ValueError, match="duration"):
            parse_duration(text)

    @pytest.mark.parametrize("text", ["1e999", "-1e999", "9" * 400 + "h", "1" + "0" * 308 + "h"])
    def test_parse_duration_rejects_overflow(self, text: str) -> None:
        """A duration too large for a float is refused rather than returned as infinity."""
        with pytest.raises(ValueError, match="out of range"):
            parse_duration(text)

    def test_overflowing_duration_keeps_the_default(self, podinfo: Path) -> None:
        """An infinite duration in a label is a bad value: the accessor keeps its default."""
        project(podinfo, {"timeout": "1e999"})
        assert Flags(podinfo_dir=podinfo).duration("timeout", 5.0) == 5.0

    def test_choice_matches_case_insensitively(self, podinfo: Path) -> None:
        """A choice that differs only in case returns the canonical spelling."""
        project(podinfo, {"mode": "FAST"})
        assert Flags(podinfo_dir=podinfo).choice("mode", ["fast", "safe"], "safe") == "fast"

    def test_empty_value_means_unset_for_typed_kinds(self, podinfo: Path) -> None:
        """``kubectl label pod x feature-x=`` (empty) gives the default for typed accessors."""
        project(podinfo, {"feature-x": "", "canary-weight": ""})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.bool("feature-x", default=True) is True
        assert flags.int("canary-weight", default=3) == 3
        assert flags.str("feature-x", default="x") == ""

    def test_bad_default_is_a_programming_error(self, podinfo: Path) -> None:
        """A default outside its own limits or choices raises ValueError at once."""
        flags = Flags(podinfo_dir=podinfo)
        with pytest.raises(ValueError, match="default 500: must be between 0 and 100"):
            flags.int("canary-weight", default=500, min=0, max=100)
        with pytest.raises(ValueError, match="must be one of"):
            flags.choice("mode", ("a", "b"), default="c")


class TestLastGoodValue:
    """A bad value keeps the last good one and warns once."""

    def test_out_of_range_keeps_last_good_and_warns_once(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """canary-weight=150 with max=100 keeps 20 and logs a single warning."""
        project(podinfo, {"canary-weight": "20"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.int("canary-weight", default=0, min=0, max=100) == 20
        project(podinfo, {"canary-weight": "150"})
        flags.refresh()
        for _ in range(3):
            assert flags.int("canary-weight", default=0, min=0, max=100) == 20
        flags.refresh()
        messages = warnings_of(flags_logs)
        assert len(messages) == 1
        assert "canary-weight" in messages[0]
        assert "'150'" in messages[0]
        assert "must be between 0 and 100" in messages[0]
        assert "keeping 20" in messages[0]
        assert str(podinfo / "labels") in messages[0]

    def test_bad_value_before_any_good_gives_default(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """A bad value with no good one before it gives the default, with a warning."""
        project(podinfo, {"feature-x": "maybe"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.bool("feature-x", default=True) is True
        assert len(warnings_of(flags_logs)) == 1

    def test_recovery_then_same_bad_value_warns_again(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """Once a good value has been seen, a later bad value is a new problem worth a warning."""
        project(podinfo, {"ratio": "oops"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.float("ratio", default=1.0) == 1.0
        project(podinfo, {"ratio": "0.5"})
        flags.refresh()
        assert flags.float("ratio", default=1.0) == 0.5
        project(podinfo, {"ratio": "oops"})
        flags.refresh()
        assert flags.float("ratio", default=1.0) == 0.5
        assert len(warnings_of(flags_logs)) == 2

    @pytest.mark.parametrize("text", ["nan", "inf", "1,5", "0x10"])
    def test_non_finite_or_foreign_numbers_are_bad(self, podinfo: Path, text: str) -> None:
        """NaN, infinities, commas and hex are not accepted as numbers."""
        project(podinfo, {"n": text})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.float("n", default=2.0) == 2.0
        assert flags.int("n", default=3) == 3

    def test_removed_key_returns_to_default(self, podinfo: Path) -> None:
        """Removing a key (``kubectl label pod x canary-weight-``) gives the default again."""
        project(podinfo, {"canary-weight": "20"})
        flags = Flags(podinfo_dir=podinfo)
        assert flags.int("canary-weight", default=0) == 20
        project(podinfo, {})
        flags.refresh()
        assert flags.int("canary-weight", default=0) == 0

    def test_malformed_file_keeps_last_content(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """A labels file not in the kubelet's format keeps the last good content, with a warning."""
        project(podinfo, {"feature-x": "on"})
        flags = Flags(podinfo_dir=podinfo)
        atomic.write(podinfo, {"labels": "feature-x=off\n", "annotations": ""})
        flags.refresh()
        assert flags.bool("feature-x") is True
        assert any("not in the labels/annotations format" in m for m in warnings_of(flags_logs))


class TestSources:
    """Prefix handling, labels vs annotations, and running outside a pod."""

    def test_prefix_is_stripped_and_filters(self, podinfo: Path) -> None:
        """With a prefix, only prefixed keys count and the prefix is removed."""
        project(podinfo, {f"{PREFIX}feature-x": "enabled", "feature-x": "disabled", "app": "web"})
        flags = Flags(prefix=PREFIX, podinfo_dir=podinfo)
        assert flags.bool("feature-x") is True
        assert dict(flags.raw) == {"feature-x": "enabled"}
        assert "app" not in flags
        assert flags.origin("feature-x") == f"label {PREFIX}feature-x in {podinfo / 'labels'}"

    def test_annotations_source(self, podinfo: Path) -> None:
        """source='annotations' reads the annotations file only."""
        project(podinfo, {"log-level": "info"}, {"log-level": "debug"})
        assert Flags(source="annotations", podinfo_dir=podinfo).str("log-level") == "debug"
        assert Flags(source="labels", podinfo_dir=podinfo).str("log-level") == "info"

    def test_both_sources_annotation_wins(self, podinfo: Path) -> None:
        """source='both' merges them; an annotation overrides a label of the same key."""
        project(podinfo, {"a": "1", "b": "label"}, {"b": "annotation", "c": "3"})
        flags = Flags(source="both", podinfo_dir=podinfo)
        assert dict(flags.raw) == {"a": "1", "b": "annotation", "c": "3"}
        assert flags.origin("b").startswith("annotation b in ")
        assert flags.origin("a").startswith("label a in ")
        assert flags.origin("zzz") == "default"

    def test_outside_a_pod_gives_defaults(
        self, tmp_path: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """Without the volume everything is a default, start() is a no-op, nothing is raised."""
        flags = Flags(podinfo_dir=tmp_path / "no-such-dir")
        with flags:
            assert flags.bool("feature-x", default=True) is True
            assert flags.int("canary-weight", default=7) == 7
            assert not flags.running
        assert warnings_of(flags_logs) == []

    def test_default_dir_from_environment(
        self, podinfo: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """PODSELF_PODINFO_DIR chooses the directory when none is given."""
        project(podinfo, {"feature-x": "on"})
        monkeypatch.setenv("PODSELF_PODINFO_DIR", str(podinfo))
        flags = Flags()
        assert flags.path == str(podinfo)
        assert flags.bool("feature-x") is True

    def test_fake_pod_volume(self, tmp_path: Path) -> None:
        """Flags read a FakePod's Downward API volume and follow set_labels()."""
        pod = FakePod(tmp_path, labels={"app": "web", "feature-x": "disabled"})
        flags = Flags(podinfo_dir=pod.podinfo_dir)
        assert flags.bool("feature-x") is False
        pod.set_labels({"app": "web", "feature-x": "enabled"})
        flags.refresh()
        assert flags.bool("feature-x") is True

    @pytest.mark.parametrize(
        ("kwargs", "error"),
        [
            ({"source": "env"}, ValueError),
            ({"prefix": 3}, TypeError),
            ({"labels_file": "../labels"}, ValueError),
        ],
    )
    def test_bad_arguments(self, podinfo: Path, kwargs: dict[str, Any], error: type) -> None:
        """Bad constructor arguments raise at once."""
        with pytest.raises(error):
            Flags(podinfo_dir=podinfo, **kwargs)


class TestCallbacks:
    """on_change receives typed old and new values."""

    def test_typed_callback_sequence(self, podinfo: Path) -> None:
        """Callbacks see typed values, only on real changes, and not for bad values."""
        project(podinfo, {"canary-weight": "20"})
        flags = Flags(podinfo_dir=podinfo)
        seen: list[tuple[int, int]] = []
        flags.on_change(
            "canary-weight", lambda o, n: seen.append((o, n)), kind=int, default=0, max=100
        )
        for value in ("20", "40", "040", "oops", "60"):
            project(podinfo, {"canary-weight": value, "unrelated": value})
            flags.refresh()
        project(podinfo, {})
        flags.refresh()
        assert seen == [(20, 40), (40, 60), (60, 0)]

    def test_bool_callback_and_removal(self, podinfo: Path) -> None:
        """A removed callback is not called again."""
        flags = Flags(podinfo_dir=podinfo)
        seen: list[tuple[bool, bool]] = []

        def record(old: bool, new: bool) -> None:
            seen.append((old, new))

        flags.on_change("feature-x", record, kind=bool, default=False)
        project(podinfo, {"feature-x": "enabled"})
        flags.refresh()
        assert flags.remove_callback("feature-x", record) is True
        assert flags.remove_callback("feature-x", record) is False
        project(podinfo, {"feature-x": "disabled"})
        flags.refresh()
        assert seen == [(False, True)]

    def test_failing_callback_is_logged_and_others_run(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """An exception in one callback is logged with its key; the next callback still runs."""
        flags = Flags(podinfo_dir=podinfo)
        seen: list[str | None] = []

        def boom(old: str | None, new: str | None) -> None:
            raise RuntimeError("boom")

        flags.on_change("mode", boom)
        flags.on_change("mode", lambda o, n: seen.append(n))
        project(podinfo, {"mode": "fast"})
        flags.refresh()
        assert seen == ["fast"]
        errors = [r for r in flags_logs.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert '"mode"' in errors[0].getMessage()

    def test_unknown_kind_rejected(self, podinfo: Path) -> None:
        """on_change refuses a kind it cannot parse."""
        with pytest.raises(ValueError, match="kind"):
            Flags(podinfo_dir=podinfo).on_change("x", print, kind=list)


class Waiter:
    """A callback that lets the test wait until it has been called with a given new value."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, old: Any, new: Any) -> None:
        with self.cond:
            self.values.append(new)
            self.cond.notify_all()

    def wait_for(self, value: Any) -> None:
        """Block until ``value`` has been delivered (fails after WAIT seconds)."""
        with self.cond:
            assert self.cond.wait_for(lambda: value in self.values, WAIT), self.values


@pytest.fixture
def live() -> Iterator[Callable[..., Flags]]:
    """Start Flags with a watcher and stop them at the end."""
    started: list[Flags] = []

    def start(**kwargs: Any) -> Flags:
        flags = Flags(debounce_ms=0, **kwargs).start()
        started.append(flags)
        return flags

    yield start
    for flags in started:
        flags.stop()


class TestLiveUpdates:
    """The watcher applies kubelet swaps without any call from the application."""

    @pytest.mark.parametrize("force_polling", [False, True], ids=["inotify", "polling"])
    def test_swap_reaches_callback(
        self, podinfo: Path, live: Callable[..., Flags], force_polling: bool
    ) -> None:
        """A ..data swap changes the value and calls the callback from the watcher thread."""
        flags = live(podinfo_dir=podinfo, force_polling=force_polling, poll_ms=10)
        assert flags.running
        waiter = Waiter()
        flags.on_change("canary-weight", waiter, kind=int, default=0)
        project(podinfo, {"canary-weight": "20"})
        waiter.wait_for(20)
        assert flags.int("canary-weight") == 20
        flags.stop()
        assert not flags.running

    def test_reads_during_a_storm_are_consistent(
        self, podinfo: Path, live: Callable[..., Flags]
    ) -> None:
        """Concurrent readers only ever see whole snapshots: two keys written together agree."""
        flags = live(podinfo_dir=podinfo)
        waiter = Waiter()
        flags.on_change("b", waiter, kind=int, default=-1)
        torn: list[tuple[int, int]] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                raw = flags.raw
                a, b = raw.get("a"), raw.get("b")
                if a != b:
                    torn.append((int(a or -1), int(b or -1)))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for seq in range(200):
                project(podinfo, {"a": str(seq), "b": str(seq)})
            waiter.wait_for(199)
        finally:
            stop.set()
            thread.join()
        assert torn == []
        assert flags.int("a") == 199


class TestLogLevel:
    """apply_log_level changes a logger's level live and says so."""

    def test_applied_now_changed_live_and_restored(
        self, podinfo: Path, flags_logs: pytest.LogCaptureFixture
    ) -> None:
        """The level follows log-level and returns to the original when the label goes."""
        logger = logging.getLogger("podself.tests.app")
        logger.setLevel(logging.WARNING)
        try:
            project(podinfo, {"log-level": "info"})
            flags = Flags(podinfo_dir=podinfo)
            apply_log_level(flags, logger)
            assert logger.level == logging.INFO
            project(podinfo, {"log-level": "DEBUG"})
            flags.refresh()
            assert logger.level == logging.DEBUG
            project(podinfo, {"log-level": "chatty"})
            flags.refresh()
            assert logger.level == logging.DEBUG
            project(podinfo, {})
            flags.refresh()
            assert logger.level == logging.WARNING
        finally:
            logger.setLevel(logging.NOTSET)
        infos = [
            r.getMessage()
            for r in flags_logs.records
            if r.name == "podself.flags" and r.levelno == logging.INFO
        ]
        assert infos[0] == (
            f"log level of podself.tests.app: WARNING → INFO (label log-level in "
            f"{podinfo / 'labels'})"
        )
        assert infos[1].startswith("log level of podself.tests.app: INFO → DEBUG (label")
        assert infos[2] == "log level of podself.tests.app: DEBUG → WARNING (default)"
        assert any("chatty" in m for m in warnings_of(flags_logs))

    def test_live_with_prefix_and_numeric_level(
        self, podinfo: Path, live: Callable[..., Flags]
    ) -> None:
        """A prefixed annotation with a numeric level reaches the logger through the watcher."""
        logger = logging.getLogger("podself.tests.live")
        try:
            flags = live(prefix=PREFIX, source="annotations", podinfo_dir=podinfo)
            apply_log_level(flags, logger.name)
            waiter = Waiter()
            flags.on_change("log-level", waiter)
            project(podinfo, {}, {f"{PREFIX}log-level": "40"})
            waiter.wait_for("40")
            assert logger.level == logging.ERROR
        finally:
            logger.setLevel(logging.NOTSET)

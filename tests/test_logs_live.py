"""Tests for podself.logs.live: log levels that follow a Downward API label or annotation."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podself.logs import LevelFollower, PodIdentityFilter, configure, follow_level, parse_level
from podself.logs.live import base_level, pod_override
from podself.testing import FakePod

WAIT_S = 20.0  # a generous bound for background threads; never a measured threshold


def wait_for(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the background thread got there), or fail."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("the background follower did not apply the change")
        time.sleep(0.01)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every JSON line written to ``stream``."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in ("", "app", "worker", "uvicorn")]
    saved = [(lg, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for logger, level, handlers, propagate in saved:
        for handler in list(logger.handlers):
            if handler not in handlers:
                setup = getattr(handler, "setup", None)
                if setup is not None:
                    setup.close()
                logger.removeHandler(handler)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate


@pytest.fixture(name="pod")
def _pod(tmp_path: Path) -> FakePod:
    return FakePod(tmp_path, name="api-7d4f9c8b6-abcde", labels={"app": "api"})


def capture(logger_name: str = "app") -> tuple[logging.Logger, io.StringIO]:
    """A logger with a JSON handler writing to a buffer, not propagating."""
    from podself.logs import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


class TestParseLevel:
    @pytest.mark.parametrize(
        ("value", "level"),
        [
            ("debug", 10),
            ("INFO", 20),
            (" Warning ", 30),
            ("WARN", 30),
            ("error", 40),
            ("fatal", 50),
            ("critical", 50),
            ("15", 15),
            (25, 25),
            ("0", 0),
        ],
    )
    def test_valid(self, value: object, level: int) -> None:
        """Names in any case, WARN/FATAL aliases and non-negative numbers are levels."""
        assert parse_level(value) == level

    @pytest.mark.parametrize("value", ["verbose", "", "-1", "1.5", -5, True, None, "２０"])
    def test_invalid(self, value: object) -> None:
        """Unknown names, negatives, fractions, booleans and non-ASCII digits are not."""
        assert parse_level(value) is None

    def test_custom_level_names(self) -> None:
        """Levels added with logging.addLevelName are recognised."""
        logging.addLevelName(7, "PODSELF_TEST_TRACE")
        assert parse_level("podself_test_trace") == 7


class TestBaseLevel:
    def test_order(self) -> None:
        """The argument wins over LOG_LEVEL, which wins over the INFO default."""
        assert base_level("error", {"LOG_LEVEL": "debug"}) == (40, "level argument", None)
        assert base_level(None, {"LOG_LEVEL": "debug"}) == (10, "env LOG_LEVEL", None)
        assert base_level(None, {}) == (20, "default", None)
        assert base_level(None, {"LOG_LEVEL": "  "}) == (20, "default", None)

    def test_bad_env_warns(self) -> None:
        """A bad LOG_LEVEL falls back to INFO with a warning naming the value."""
        level, source, warning = base_level(None, {"LOG_LEVEL": "noisy"})
        assert (level, source) == (20, "default")
        assert warning is not None
        assert warning.startswith("env LOG_LEVEL='noisy'")

    def test_override_prefers_annotation(self) -> None:
        """The annotation wins over the label; neither gives None."""
        assert pod_override({"k": "debug"}, {"k": "error"}, "k") == (
            "error",
            "annotation 'k' in annotations",
        )
        assert pod_override({"k": "debug"}, {}, "k") == ("debug", "label 'k' in labels")
        assert pod_override({}, {}, "k") is None


class TestLevelFollower:
    def test_label_change_sets_level_and_says_so(self, pod: FakePod) -> None:
        """A log-level label sets the level and one INFO line says old → new and where."""
        logger, stream = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger], use_watcher=False)
        pod.set_labels({"app": "api", "log-level": "debug"})
        follower.check()
        assert logger.level == logging.DEBUG
        [line] = lines(stream)
        labels_file = pod.podinfo_dir / "labels"
        assert line["message"] == f"log level INFO → DEBUG (label 'log-level' in {labels_file})"
        assert (line["old_level"], line["new_level"]) == ("INFO", "DEBUG")
        assert line["level"] == "INFO"

    def test_change_is_logged_even_when_the_new_level_hides_info(self, pod: FakePod) -> None:
        """Raising the level to ERROR still logs the INFO line announcing it."""
        logger, stream = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger], use_watcher=False)
        pod.set_annotations({"log-level": "error"})
        follower.check()
        assert logger.level == logging.ERROR
        assert lines(stream)[0]["message"].startswith("log level INFO → ERROR (annotation")
        logger.info("hidden")
        assert len(lines(stream)) == 1

    def test_same_level_logs_nothing(self, pod: FakePod) -> None:
        """Re-reading an unchanged level does not log."""
        logger, stream = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger], use_watcher=False)
        follower.check()
        follower.check()
        assert stream.getvalue() == ""

    def test_invalid_value_keeps_level_and_warns_once(self, pod: FakePod) -> None:
        """An invalid value keeps the last good level and warns once per value."""
        logger, stream = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger], use_watcher=False)
        pod.set_labels({"log-level": "debug"})
        follower.check()
        pod.set_labels({"log-level": "chatty"})
        follower.check()
        follower.check()
        assert logger.level == logging.DEBUG
        messages = [line["message"] for line in lines(stream)]
        assert len(messages) == 2
        assert messages[1].startswith("log level 'chatty' from label 'log-level'")
        assert messages[1].endswith("keeping DEBUG")
        assert lines(stream)[1]["level"] == "WARNING"

    def test_removal_returns_to_base(self, pod: FakePod) -> None:
        """Removing the label returns to the base level and says why."""
        logger, stream = capture()
        follower = LevelFollower(
            pod.podinfo_dir, loggers=[logger], base_level="warning", use_watcher=False
        )
        pod.set_labels({"log-level": "debug"})
        follower.check()
        pod.set_labels({})
        follower.check()
        assert logger.level == logging.WARNING
        last = lines(stream)[-1]["message"]
        assert last == "log level DEBUG → WARNING (no 'log-level' label or annotation; default)"

    def test_configurable_key(self, pod: FakePod) -> None:
        """The key can carry a prefix; the bare log-level label is then ignored."""
        logger, _ = capture()
        follower = LevelFollower(
            pod.podinfo_dir, loggers=[logger], key="example.com/log-level", use_watcher=False
        )
        pod.set_labels({"log-level": "debug", "example.com/log-level": "error"})
        follower.check()
        assert logger.level == logging.ERROR

    def test_every_logger_follows(self, pod: FakePod) -> None:
        """All configured loggers get the new level."""
        logger, _ = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger, "uvicorn"], use_watcher=False)
        pod.set_labels({"log-level": "warning"})
        follower.check()
        assert logging.getLogger("uvicorn").level == logging.WARNING

    def test_malformed_labels_file_keeps_everything(self, pod: FakePod) -> None:
        """A labels file FormatMap could not have written is reported once and ignored."""
        logger, stream = capture()
        follower = LevelFollower(pod.podinfo_dir, loggers=[logger], use_watcher=False)
        follower.apply({"labels": b'log-level="debug'})
        follower.apply({"labels": b'log-level="debug'})
        assert logger.level == logging.INFO
        [line] = lines(stream)
        assert line["level"] == "WARNING"
        assert "keeping INFO" in line["message"]

    def test_missing_directory(self, tmp_path: Path) -> None:
        """A directory that is gone is reported once; the level stays."""
        logger, stream = capture()
        follower = LevelFollower(tmp_path / "gone", loggers=[logger], use_watcher=False)
        follower.check()
        follower.check()
        assert len(lines(stream)) == 1
        assert "cannot read" in lines(stream)[0]["message"]

    def test_identity_follows_labels(self, pod: FakePod) -> None:
        """A label change updates the identity fields of the given filters."""
        logger, _ = capture()
        filt = PodIdentityFilter(info=pod.read(), labels=True)
        follower = LevelFollower(
            pod.podinfo_dir, loggers=[logger], filters=[filt], info=filt.info, use_watcher=False
        )
        follower.check()
        assert filt.identity["labels"] == {"app": "api"}
        pod.set_labels({"app": "api", "version": "2.0"})
        follower.check()
        assert filt.identity["labels"] == {"app": "api", "version": "2.0"}

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"loggers": []}, "at least one logger"),
            ({"base_level": "loud"}, "base level 'loud'"),
            ({"key": ""}, "non-empty"),
        ],
    )
    def test_bad_arguments(self, tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
        """Bad constructor arguments raise ValueError naming the problem."""
        with pytest.raises(ValueError, match=message):
            LevelFollower(tmp_path, **kwargs)


class TestBackground:
    def test_polling_thread_follows(self, pod: FakePod) -> None:
        """With polling, a kubelet-style update changes the level in the background."""
        logger, stream = capture()
        with LevelFollower(
            pod.podinfo_dir, loggers=[logger], poll_ms=10, use_watcher=False
        ) as follower:
            assert follower.mode == "polling"
            pod.set_labels({"app": "api", "log-level": "debug"})
            wait_for(lambda: logger.level == logging.DEBUG)
        assert "INFO → DEBUG" in lines(stream)[0]["message"]
        assert "stopped" in repr(follower)

    def test_watcher_follows(self, pod: FakePod) -> None:
        """With the live-reload watcher available, it drives the follower."""
        pytest.importorskip("podself.watcher")
        logger, _ = capture()
        with LevelFollower(pod.podinfo_dir, loggers=[logger], poll_ms=50) as follower:
            assert follower.mode == "watcher"
            pod.set_labels({"app": "api", "log-level": "error"})
            wait_for(lambda: logger.level == logging.ERROR)

    def test_configure_live_end_to_end(self, pod: FakePod) -> None:
        """configure() follows the pod's label and updates label fields in later lines."""
        stream = io.StringIO()
        setup = configure(
            info=pod.read(), stream=stream, labels=["app", "version"], poll_ms=10, logger="app"
        )
        assert setup.follower is not None
        logger = logging.getLogger("app")
        logger.propagate = False
        logger.debug("not yet")
        pod.set_labels({"app": "api", "version": "2", "log-level": "debug"})
        wait_for(lambda: logger.level == logging.DEBUG)
        logger.debug("now visible")
        found = lines(stream)
        assert [line["message"] for line in found][-1] == "now visible"
        assert found[-1]["labels"] == {"app": "api", "version": "2"}
        assert any("INFO → DEBUG" in line["message"] for line in found)
        setup.close()
        assert setup.follower is None

    def test_start_applies_current_state(self, pod: FakePod) -> None:
        """start() applies a label set before it, then stop() is idempotent."""
        logger, _ = capture()
        pod.set_labels({"log-level": "warning"})
        follower = LevelFollower(
            pod.podinfo_dir, loggers=[logger], poll_ms=10, use_watcher=False
        ).start()
        assert follower.start() is follower
        assert logger.level == logging.WARNING
        follower.stop()
        follower.stop()

    def test_follow_level_after_dictconfig(self, pod: FakePod) -> None:
        """follow_level() adds live levels to loggers set up elsewhere and finds their filters."""
        logger, _ = capture("worker")
        filt = PodIdentityFilter(info=pod.read(), labels=True)
        logger.handlers[0].addFilter(filt)
        follower = follow_level(["worker"], info=filt.info, poll_ms=10)
        assert follower is not None
        try:
            assert follower.filters == (filt,)
            pod.set_labels({"app": "web", "log-level": "error"})
            wait_for(lambda: logger.level == logging.ERROR)
            wait_for(lambda: filt.identity.get("labels") == {"app": "web", "log-level": "error"})
        finally:
            follower.stop()

    def test_follow_level_without_volume(self, tmp_path: Path) -> None:
        """follow_level() returns None when there is no Downward API volume."""
        pod = FakePod(tmp_path)
        info = pod.read(podinfo_dirs=[tmp_path / "none"])
        assert follow_level(["worker"], info=info) is None

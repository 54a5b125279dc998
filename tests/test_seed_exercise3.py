"""The seed's exercise 3 (live label updates) against a real ``..data`` volume layout.

The pod starts with ``stage=alpha``; ``kubectl label pod dynamic-update-demo stage=beta
--overwrite`` and then ``kubectl label pod dynamic-update-demo feature=new-api`` are applied
and the kubelet re-projects the volume with its atomic writer. The seed polls ``md5sum`` every
5 s; here each commit is reported as a change set as soon as ``..data`` is swapped.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podself import atomic
from podself.downward import format_map, parse_map
from podself.flags import Flags, apply_log_level
from podself.testing import FakePod
from podself.watcher import ChangeSet, Watcher

WAIT = 30.0  # an upper bound for "eventually", never a latency assertion
LINUX = sys.platform.startswith("linux")
MODES = [
    pytest.param(
        False, id="inotify", marks=pytest.mark.skipif(not LINUX, reason="inotify is Linux only")
    ),
    pytest.param(True, id="polling"),
]


def kubectl_label(labels: dict[str, str], *args: str) -> dict[str, str]:
    """``kubectl label pod NAME ARGS…`` on a label map: ``k=v`` sets (an existing key with a
    different value needs ``--overwrite``), ``k-`` removes."""
    overwrite = "--overwrite" in args
    result = dict(labels)
    for arg in args:
        if arg == "--overwrite":
            continue
        if arg.endswith("-") and "=" not in arg:
            result.pop(arg[:-1], None)
            continue
        key, _, value = arg.partition("=")
        if key in result and result[key] != value and not overwrite:
            msg = f"'{key}' already has a value ({result[key]}), and --overwrite is false"
            raise ValueError(msg)
        result[key] = value
    return result


class Kubelet:
    """Projects the seed's volume (one item: ``labels`` from ``metadata.labels``)."""

    def __init__(self, directory: Path, labels: dict[str, str]) -> None:
        self.directory = directory
        self.labels = labels
        directory.mkdir()
        self.sync()

    def sync(self) -> bool:
        """One pod sync: the atomic writer commits only when the data changed."""
        return atomic.write(self.directory, {"labels": format_map(self.labels)})

    def label(self, *args: str) -> None:
        """``kubectl label pod dynamic-update-demo ARGS…`` followed by the kubelet's sync."""
        self.labels = kubectl_label(self.labels, *args)
        self.sync()


class Changes:
    """A Watcher callback that lets the test wait for the n-th change set."""

    def __init__(self) -> None:
        self.items: list[ChangeSet] = []
        self.cond = threading.Condition()

    def __call__(self, change: ChangeSet) -> None:
        with self.cond:
            self.items.append(change)
            self.cond.notify_all()

    def nth(self, n: int) -> ChangeSet:
        """The n-th change set (1-based), waiting for it."""
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.items) >= n, WAIT), self.items
            return self.items[n - 1]


@pytest.fixture
def kubelet(tmp_path: Path) -> Kubelet:
    """The seed's pod ``dynamic-update-demo`` with ``stage: alpha``."""
    return Kubelet(tmp_path / "podinfo", {"stage": "alpha"})


@pytest.fixture
def watching(kubelet: Kubelet, request: pytest.FixtureRequest) -> Iterator[Changes]:
    """A Watcher on the volume (debounce 0) in the mode given by the test's parameter."""
    changes = Changes()
    force_polling: bool = request.param
    with Watcher(
        kubelet.directory, changes, debounce_ms=0, poll_ms=10, force_polling=force_polling
    ):
        yield changes


class TestExercise3:
    """stage=beta --overwrite, then feature=new-api, seen as change sets."""

    def test_layout_is_the_kubelets(self, kubelet: Kubelet) -> None:
        """The volume has the ..data swap layout and the seed's initial file content."""
        version = os.readlink(kubelet.directory / atomic.DATA_DIR_NAME)
        assert version.startswith("..")
        assert (kubelet.directory / version).is_dir()
        assert os.readlink(kubelet.directory / "labels") == "..data/labels"
        assert (kubelet.directory / "labels").read_text(encoding="utf-8") == 'stage="alpha"'

    @pytest.mark.parametrize("watching", MODES, indirect=True)
    def test_two_label_commands_give_two_change_sets(
        self, kubelet: Kubelet, watching: Changes
    ) -> None:
        """Each kubectl label is one change set with the key-level diff and the seed's text."""
        kubelet.label("stage=beta", "--overwrite")
        first = watching.nth(1)
        assert first.summary() == "labels: ~stage alpha→beta"
        assert first.changed == ("labels",)
        assert dict(first.diffs["labels"].changed) == {"stage": ("alpha", "beta")}
        assert first.files["labels"] == b'stage="beta"'  # the seed's second output block

        kubelet.label("feature=new-api")
        second = watching.nth(2)
        assert second.summary() == "labels: +feature=new-api"
        assert dict(second.diffs["labels"].added) == {"feature": "new-api"}
        assert second.files["labels"] == b'feature="new-api"\nstage="beta"'  # the third block
        assert second.version != first.version
        assert second.version == os.readlink(kubelet.directory / atomic.DATA_DIR_NAME)

    @pytest.mark.parametrize("watching", MODES, indirect=True)
    def test_resync_without_change_is_silent(self, kubelet: Kubelet, watching: Changes) -> None:
        """The kubelet's periodic sync with unchanged labels reports nothing."""
        assert kubelet.sync() is False
        kubelet.label("stage=alpha", "--overwrite")  # same value: nothing to commit
        kubelet.label("feature=new-api")
        only = watching.nth(1)
        assert only.summary() == "labels: +feature=new-api"

    def test_kubectl_refuses_without_overwrite(self, kubelet: Kubelet) -> None:
        """Changing an existing label without --overwrite fails like kubectl and writes nothing."""
        before = os.readlink(kubelet.directory / atomic.DATA_DIR_NAME)
        with pytest.raises(ValueError, match="--overwrite is false"):
            kubelet.label("stage=beta")
        assert os.readlink(kubelet.directory / atomic.DATA_DIR_NAME) == before

    def test_pod_info_follows_the_volume(self, tmp_path: Path) -> None:
        """PodInfo.refreshed() after a change set has the new labels."""
        pod = FakePod(tmp_path, name="dynamic-update-demo", labels={"stage": "alpha"})
        info = pod.read()
        changes = Changes()
        with Watcher(pod.podinfo_dir, changes, debounce_ms=0):
            pod.set_labels(kubectl_label(dict(info.labels), "stage=beta", "--overwrite"))
            assert changes.nth(1).diffs["labels"].summary() == "~stage alpha→beta"
            info = info.refreshed()
            assert dict(info.labels) == {"stage": "beta"}
            pod.set_labels(kubectl_label(dict(info.labels), "feature=new-api"))
            assert changes.nth(2).diffs["labels"].summary() == "+feature=new-api"
        assert dict(info.refreshed().labels) == {"stage": "beta", "feature": "new-api"}

    def test_sidecar_prints_both_changes(self, kubelet: Kubelet) -> None:
        """``podself watch`` prints one line per kubectl label, in order."""
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "podself",
                "watch",
                str(kubelet.directory),
                "--debounce-ms",
                "0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        try:
            assert proc.stderr is not None
            assert proc.stdout is not None
            assert "watching" in proc.stderr.readline()
            kubelet.label("stage=beta", "--overwrite")
            assert proc.stdout.readline().rstrip().endswith("labels: ~stage alpha→beta")
            kubelet.label("feature=new-api")
            assert proc.stdout.readline().rstrip().endswith("labels: +feature=new-api")
        finally:
            proc.terminate()
            assert proc.wait(WAIT) == 0
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]


class Seen:
    """Records typed flag changes and lets the test wait for a value."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.cond = threading.Condition()

    def __call__(self, old: Any, new: Any) -> None:
        with self.cond:
            self.values.append(new)
            self.cond.notify_all()

    def wait_for(self, value: Any) -> None:
        """Block until ``value`` was delivered."""
        with self.cond:
            assert self.cond.wait_for(lambda: value in self.values, WAIT), self.values


class TestUsageScenarios:
    """The seed's scenarios: feature flag toggle, log level, canary weight, all live."""

    def test_flags_follow_kubectl_label(self, kubelet: Kubelet) -> None:
        """feature-x=enabled, log-level=debug and canary-weight=20 take effect without a restart."""
        logger = logging.getLogger("podself.tests.exercise3")
        logger.setLevel(logging.INFO)
        weights, features = Seen(), Seen()
        try:
            with Flags(podinfo_dir=kubelet.directory, debounce_ms=0) as flags:
                assert flags.bool("feature-x") is False
                assert flags.int("canary-weight", min=0, max=100) == 0
                apply_log_level(flags, logger)
                flags.on_change("feature-x", features, kind=bool, default=False)
                flags.on_change("canary-weight", weights, kind=int, default=0, min=0, max=100)

                kubelet.label("feature-x=enabled")
                features.wait_for(True)
                assert flags.bool("feature-x") is True

                kubelet.label("log-level=debug", "canary-weight=20")
                weights.wait_for(20)
                assert logger.level == logging.DEBUG
                assert flags.int("canary-weight", min=0, max=100) == 20

                kubelet.label("canary-weight=250", "--overwrite")  # out of range: keep 20
                kubelet.label("stage=beta", "--overwrite")
                flags.on_change("stage", (stage := Seen()))
                kubelet.label("stage=gamma", "--overwrite")
                stage.wait_for("gamma")
                assert flags.int("canary-weight", min=0, max=100) == 20
                assert weights.values == [20]
        finally:
            logger.setLevel(logging.NOTSET)
        labels = parse_map((kubelet.directory / "labels").read_text(encoding="utf-8"))
        assert labels["canary-weight"] == "250"

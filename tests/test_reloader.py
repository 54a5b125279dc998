"""``podself.reloader``: coalescing, the bounded environment, pidfile safety, the POST
deadline, and the engine driven in-process."""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from podself import atomic, reloader
from podself.downward import format_map
from podself.reloader import (
    Action,
    ActionError,
    Batch,
    Coalescer,
    Post,
    Reloader,
    ReloadMetrics,
    Signal,
    Update,
    printable,
    redact_url,
)
from podself.watcher import ChangeSet, compare_snapshots

WAIT = 30.0  # an upper bound for "eventually", never a latency assertion

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


def change_between(old: dict[str, bytes], new: dict[str, bytes]) -> ChangeSet:
    """The change set the watcher reports for ``old`` -> ``new`` in /etc/podinfo."""
    change = compare_snapshots(
        "/etc/podinfo", atomic.Snapshot(None, old), atomic.Snapshot(None, new)
    )
    assert change is not None
    return change


def batch_of(*changes: ChangeSet) -> Batch:
    """One round of actions for ``changes``."""
    return Batch([Update(c.path, c) for c in changes], show_all=False)


def map_file(mapping: dict[str, str]) -> bytes:
    """An ``annotations`` file as the kubelet writes it."""
    return format_map(mapping).encode("utf-8")


class TestCoalescing:
    """Changes arriving while a round runs: latest state plus one pending round, whatever the
    rate, and the pending round is told the difference from the state last acted on."""

    def test_storm_keeps_one_pending_change_with_the_diff_since_the_last_round(self) -> None:
        """Many updates merge into one item whose diff is old -> latest, not the last step."""
        pending = Coalescer()
        start = {"labels": map_file({"stage": "alpha", "gone": "x"})}
        pending.deliver("/d", change_between({}, start))  # the initial state
        previous = start
        for seq in range(1, 501):
            state = {"labels": map_file({"stage": "alpha", "seq": str(seq)})}
            if seq % 2:
                state["extra"] = b"temporary"
            pending.deliver("/d", change_between(previous, state))
            previous = state
        items, ended = pending.take()
        assert ended == []
        assert len(items) == 1
        change = items[0].change
        assert change.changed == ("labels",)
        assert change.added == ()  # "extra" came and went
        diff = change.diffs["labels"]
        assert dict(diff.added) == {"seq": "500"}
        assert dict(diff.removed) == {"gone": "x"}
        assert dict(diff.changed) == {}

    def test_next_round_starts_from_what_was_acted_on(self) -> None:
        """After a round the base is the state it acted on; a change back to an older state
        is a change, and a change and its undo in one pending round are nothing."""
        pending = Coalescer()
        a = {"labels": map_file({"stage": "alpha"})}
        b = {"labels": map_file({"stage": "beta"})}
        pending.deliver("/d", change_between({}, a))
        pending.deliver("/d", change_between(a, b))
        assert dict(pending.take()[0][0].change.diffs["labels"].changed) == {
            "stage": ("alpha", "beta")
        }
        pending.deliver("/d", change_between(b, a))
        pending.deliver("/d", change_between(a, b))
        pending.end("/d")
        assert pending.take() == ([], ["/d"])

    def test_memory_does_not_grow_with_the_storm(self) -> None:
        """Thousands of 64 KiB updates while no round runs hold about one of them, not all."""
        import tracemalloc

        pending = Coalescer()
        pending.deliver("/d", change_between({}, {"data": b"0"}))
        tracemalloc.start()
        try:
            for seq in range(2000):
                pending.deliver("/d", change_between({"data": b"0"}, {"data": b"%d" % seq * 16384}))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 4 * 1024 * 1024  # 2,000 kept would be over 100 MiB
        items, _ = pending.take()
        assert items[0].change.files["data"] == b"1999" * 16384

    def test_several_directories_one_item_each(self) -> None:
        """Each directory has its own base and pending change."""
        pending = Coalescer()
        for directory in ("/a", "/b"):
            pending.deliver(directory, change_between({}, {"x": b"1"}))
            pending.deliver(directory, change_between({"x": b"1"}, {"x": b"2"}))
        items, _ = pending.take()
        assert [i.directory for i in items] == ["/a", "/b"]


class TestBatch:
    """What one round of actions is told: bounded environment, complete JSON."""

    def test_large_values_never_overflow_the_environment(self) -> None:
        """A 200 KiB annotation and thousands of files: every variable stays within its
        bound, the JSON is whole or empty, and PODSELF_TRUNCATED says which were cut."""
        names = {f"file-{n:05d}-{'x' * 40}": b"1" for n in range(3000)}
        new = {"annotations": map_file({"big": "v" * 200_000}), **names}
        batch = batch_of(change_between({"annotations": map_file({})}, new))
        env = batch.env
        assert all(len(os.fsencode(v)) <= 64 * 1024 for v in env.values())
        assert sum(len(os.fsencode(v)) for v in env.values()) <= 100 * 1024
        assert env["PODSELF_CHANGE_JSON"] == ""
        assert set(env["PODSELF_TRUNCATED"].split()) == {
            "PODSELF_CHANGE_JSON",
            "PODSELF_CHANGED_FILES",
            "PODSELF_CHANGE_SUMMARY",
        }
        # Cut at whole paths only.
        paths = {f"/etc/podinfo/{name}" for name in new}
        assert set(env["PODSELF_CHANGED_FILES"].split(" ")) < paths
        body = json.loads(batch.json)
        assert body["changes"][0]["diffs"]["annotations"]["added"]["big"] == "v" * 200_000
        assert len(body["changes"][0]["added"]) == 3000

    def test_small_change_is_complete_in_the_environment(self) -> None:
        """Nothing is cut when it fits: PODSELF_TRUNCATED is set and empty."""
        batch = batch_of(change_between({}, {"labels": map_file({"stage": "beta"})}))
        assert batch.env["PODSELF_TRUNCATED"] == ""
        assert json.loads(batch.env["PODSELF_CHANGE_JSON"]) == json.loads(batch.json)

    def test_invalid_utf8_and_control_characters(self) -> None:
        """Bytes that are not UTF-8 and control characters, in values, keys and file names:
        the summary escapes them, the JSON is valid UTF-8 with U+FFFD, nothing raises."""
        old = {"annotations": map_file({"a": "x"})}
        new = {
            "annotations": b'a="\\xff"\nk\x1b[31m="v"\n',
            os.fsdecode(b"f\xff\n"): b"1",
        }
        batch = batch_of(change_between(old, new))
        summary = batch.env["PODSELF_CHANGE_SUMMARY"]
        assert summary.isprintable()
        assert "+f\\xff\\n" in summary
        assert "k\\x1b[31m" in summary
        data = batch.json.encode("utf-8")  # raises if a lone surrogate got through
        body = json.loads(data)
        change = body["changes"][0]
        assert change["diffs"]["annotations"]["changed"] == {"a": ["x", "\ufffd"]}
        assert "f\ufffd\n" in change["added"]
        assert not re.search("[\ud800-\udfff]", json.dumps(body, ensure_ascii=False))


class TestPrintable:
    """Report lines cannot be forged, cannot crash a UTF-8 stream and are bounded."""

    def test_escapes(self) -> None:
        """Bytes that are not UTF-8, control characters and line breaks become escapes."""
        assert printable(os.fsdecode(b"a\xff\x1b[2J\nb") + "\u2028") == "a\\xff\\x1b[2J\\nb\\u2028"
        assert printable("labels: ~stage alpha→beta") == "labels: ~stage alpha→beta"

    def test_bounded(self) -> None:
        """A line is cut after 16,384 characters and says how much was left out."""
        assert printable("x" * 20_000) == "x" * 16_384 + "… (3616 more characters)"


class TestSignalSafety:
    """The pidfile is written by another container: it may be a symlink, garbage, pid 1 or a
    pid reused since; none of that is signalled."""

    @pytest.fixture
    def sent(self, monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """Pids signalled, recorded instead of signalled."""
        calls: list[int] = []
        monkeypatch.setattr(reloader.signals, "_pidfd", lambda pid: None)
        monkeypatch.setattr(os, "kill", lambda pid, sig: calls.append(pid))
        return calls

    def test_pid_1_from_a_pidfile_is_refused(self, tmp_path: Path, sent: list[int]) -> None:
        """Pid 1 is the pause process with a shared process namespace: never from a pidfile."""
        pidfile = tmp_path / "app.pid"
        pidfile.write_text("1\n", encoding="utf-8")
        action = Signal(signal.SIGHUP, pidfile=str(pidfile))
        with pytest.raises(ActionError, match="pid 1 is the container's init"):
            action.run(batch_of(change_between({}, {"x": b"1"})))
        assert sent == []

    @pytest.mark.parametrize(
        ("content", "message"),
        [
            (b"root:$6$secret-hash\n", "its content is not a pid"),
            (b"1" * 65, "65 bytes, too large for a pid (64 at most)"),
        ],
    )
    def test_bad_content_is_not_shown(
        self, tmp_path: Path, sent: list[int], content: bytes, message: str
    ) -> None:
        """Content that is not a pid is refused without echoing it into the log."""
        pidfile = tmp_path / "app.pid"
        pidfile.write_bytes(content)
        with pytest.raises(ActionError, match=re.escape(message)) as caught:
            Signal(signal.SIGHUP, pidfile=str(pidfile)).run(
                batch_of(change_between({}, {"x": b"1"}))
            )
        assert "secret" not in str(caught.value)
        assert sent == []

    def test_symlink_pidfile_is_refused(self, tmp_path: Path, sent: list[int]) -> None:
        """A pidfile that is a symlink is not followed."""
        real = tmp_path / "real.pid"
        real.write_text(f"{os.getppid()}\n", encoding="utf-8")
        link = tmp_path / "app.pid"
        link.symlink_to(real)
        with pytest.raises(ActionError, match="is a symbolic link; refusing"):
            Signal(signal.SIGHUP, pidfile=str(link)).run(batch_of(change_between({}, {"x": b"1"})))
        assert sent == []

    @pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
    def test_reused_pid_is_refused(
        self, tmp_path: Path, sent: list[int], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once another process holds the pid first seen (another start time), neither --pid
        nor an unchanged pidfile signals it; a rewritten pidfile is trusted again."""
        pid = os.getppid()
        pidfile = tmp_path / "app.pid"
        pidfile.write_text(f"{pid}\n", encoding="utf-8")
        batch = batch_of(change_between({}, {"x": b"1"}))
        by_pid = Signal(signal.SIGHUP, pid=pid)
        by_file = Signal(signal.SIGHUP, pidfile=str(pidfile))
        assert by_pid.run(batch) == f"sent to pid {pid}"
        assert by_file.run(batch) == f"sent to pid {pid}"
        real = reloader.signals._start_time(pid)
        assert real is not None
        monkeypatch.setattr(reloader.signals, "_start_time", lambda p: real + 1)  # a newer process
        for action in (by_pid, by_file):
            with pytest.raises(ActionError, match="the pid was reused"):
                action.run(batch)
        assert sent == [pid, pid]
        pidfile.write_text(f"{pid}\n\n", encoding="utf-8")  # the app wrote it anew
        assert by_file.run(batch) == f"sent to pid {pid}"

    @pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0 or not Path("/proc/self/status").exists(),
        reason="needs root (to own files and run processes as another user) and /proc",
    )
    def test_pidfile_names_only_its_owners_processes(self, tmp_path: Path, sent: list[int]) -> None:
        """A pidfile written by a user may name that user's processes, not another's: the
        sidecar does not lend it the right to signal them. Root's pidfiles name anything."""
        other = subprocess.Popen(["sleep", "60"], user=12345, start_new_session=True)
        try:
            pidfile = tmp_path / "app.pid"
            batch = batch_of(change_between({}, {"x": b"1"}))
            pidfile.write_text(f"{other.pid}\n", encoding="utf-8")
            os.chown(pidfile, 12345, 12345)
            assert Signal(signal.SIGHUP, pidfile=pidfile).run(batch) == f"sent to pid {other.pid}"
            pidfile.write_text(f"{os.getppid()}\n", encoding="utf-8")  # a root process
            with pytest.raises(
                ActionError, match=r"written by uid 12345, but pid \d+ runs as uid 0"
            ):
                Signal(signal.SIGHUP, pidfile=pidfile).run(batch)
            os.chown(pidfile, 0, 0)
            assert (
                Signal(signal.SIGHUP, pidfile=pidfile).run(batch) == f"sent to pid {os.getppid()}"
            )
            assert sent == [other.pid, os.getppid()]
        finally:
            os.killpg(other.pid, signal.SIGKILL)  # os.kill is the fixture's recorder here
            other.wait(WAIT)

    def test_exactly_one_target(self) -> None:
        """A Signal names one target, and a pid must be a pid."""
        with pytest.raises(ValueError, match="exactly one of"):
            Signal(signal.SIGHUP)
        with pytest.raises(ValueError, match="exactly one of"):
            Signal(signal.SIGHUP, pid=5, process_name="app")
        with pytest.raises(ValueError, match="must be a positive integer"):
            Signal(signal.SIGHUP, pid=0)


class Redirecting:
    """A local HTTP server answering every POST with 307 to another host."""

    def __init__(self) -> None:
        self.requests = 0
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                owner.requests += 1
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(307)
                self.send_header("Location", "http://127.0.0.2:9/steal")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/-/reload"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def redirecting() -> Iterator[Redirecting]:
    """A server that redirects every POST."""
    server = Redirecting()
    yield server
    server.close()


class TestPost:
    """One deadline per request, no redirects, nothing secret in labels."""

    def test_credentials_redacted(self) -> None:
        """User information and query values never appear in messages; keys and path do."""
        assert redact_url("http://u:pw@host:1/x") == "http://***@host:1/x"
        assert redact_url("https://TOKEN@host/x") == "https://***@host/x"
        assert redact_url("http://h/x?token=abc&v=1&bare#frag") == "http://h/x?token=***&v=***&***"
        assert redact_url("http://host/x") == "http://host/x"

    def test_overall_deadline_against_a_dripping_server(self) -> None:
        """A server sending its answer one byte at a time, each well within the socket
        timeout, is cut off at --timeout-s for the whole request."""
        listener = socket.create_server(("127.0.0.1", 0))
        answer = b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 150 + b"\r\nContent-Length: 0\r\n\r\n"

        def drip() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                for byte in answer:  # about 4 s in all if nobody hangs up
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return  # the client gave up, as it should
                    time.sleep(0.02)

        thread = threading.Thread(target=drip, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/-/reload"
            with pytest.raises(ActionError, match=r"timed out after 0\.3 s"):
                Post(url, 0.3).run(batch_of(change_between({}, {"x": b"1"})))
        finally:
            thread.join(WAIT)
            listener.close()

    def test_redirect_is_not_followed(self, redirecting: Redirecting) -> None:
        """A 3xx is a failure: credentials must not travel to wherever it points."""
        with pytest.raises(ActionError, match="HTTP 307"):
            Post(redirecting.url, 5).run(batch_of(change_between({}, {"x": b"1"})))
        assert redirecting.requests == 1

    def test_garbage_answer_is_a_clear_failure(self) -> None:
        """A server answering with something that is not HTTP: a failure saying so, with the
        answer escaped and shortened."""
        listener = socket.create_server(("127.0.0.1", 0))

        def answer() -> None:
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                conn.sendall(b"\x1b[2J" + b"x" * 500 + b"\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        try:
            url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
            with pytest.raises(ActionError, match="bad response") as caught:
                Post(url, 5).run(batch_of(change_between({}, {"x": b"1"})))
        finally:
            thread.join(WAIT)
            listener.close()
        assert "\x1b" not in str(caught.value)
        assert len(str(caught.value)) < 150

    def test_label_is_redacted(self) -> None:
        """The label that every report line carries hides credentials."""
        assert Post("https://u:pw@h/x?token=t", 1).label == "POST https://***@h/x?token=***"


def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll ``predicate`` until it holds (fails after WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Recording(Action):
    """An action that records each batch, and can hold the first round until released."""

    label = "record"

    def __init__(self, hold: bool = False) -> None:
        self.batches: list[Batch] = []
        self.running = threading.Event()
        self.release = threading.Event()
        if not hold:
            self.release.set()

    def run(self, batch: Batch) -> str:
        self.batches.append(batch)
        self.running.set()
        assert self.release.wait(WAIT)
        return "recorded"


class Lines:
    """A Report that keeps every line."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)

    def note(self, line: str) -> None:
        self.lines.append(line)

    def error(self, line: str) -> None:
        self.lines.append(line)


class TestReloader:
    """The engine driven in-process, as a library user would."""

    def test_storm_during_a_round_each_round_diffs_from_the_last(self, tmp_path: Path) -> None:
        """While a round runs, 30 updates arrive: the rounds that follow are fewer than the
        updates, each told the difference from the state the previous round acted on, and
        the last state is acted on."""
        volume = tmp_path / "podinfo"
        volume.mkdir()
        atomic.write(volume, {"labels": format_map({"stage": "alpha"})})
        action, report = Recording(hold=True), Lines()
        engine = Reloader([volume], [action], debounce_ms=0, report=report)
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(engine.run()), daemon=True)
        thread.start()
        wait_for(lambda: any(line.startswith("watching ") for line in report.lines))
        atomic.write(volume, {"labels": format_map({"stage": "beta"})})
        assert action.running.wait(WAIT)
        for seq in range(1, 31):
            atomic.write(volume, {"labels": format_map({"stage": "gamma", "seq": str(seq)})})
        action.release.set()
        final = {"stage": "gamma", "seq": "30"}

        def replayed() -> dict[str, str]:
            state = {"stage": "alpha"}
            for batch in list(action.batches):
                diff = json.loads(batch.json)["changes"][0]["diffs"]["labels"]
                for key, (old, new) in diff["changed"].items():
                    assert state[key] == old  # the old side is what the last round saw
                    state[key] = new
                for key, old in diff["removed"].items():
                    assert state.pop(key) == old
                for key, new in diff["added"].items():
                    assert key not in state
                    state[key] = new
            return state

        wait_for(lambda: replayed() == final)
        assert 2 <= len(action.batches) < 31
        shutil.rmtree(volume)
        thread.join(WAIT)
        assert result == [1]
        assert report.lines[-1].endswith("directory removed; stopping")

    def test_once_exec_gets_the_change_file(self, tmp_path: Path) -> None:
        """With an Exec action the complete JSON is in PODSELF_CHANGE_FILE, removed after."""
        volume = tmp_path / "podinfo"
        volume.mkdir()
        atomic.write(volume, {"labels": format_map({"stage": "alpha"})})
        out = tmp_path / "out.json"
        report = Lines()
        engine = Reloader(
            [volume],
            [
                reloader.Exec(
                    f'cp "$PODSELF_CHANGE_FILE" {out}; echo "$PODSELF_CHANGE_FILE" > {out}.path', 10
                )
            ],
            debounce_ms=0,
            report=report,
        )
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(engine.run(once=True)), daemon=True)
        thread.start()
        wait_for(lambda: any(line.startswith("watching ") for line in report.lines))
        atomic.write(volume, {"labels": format_map({"stage": "beta"})})
        thread.join(WAIT)
        assert result == [0]
        body = json.loads(out.read_text(encoding="utf-8"))
        assert body["changes"][0]["summary"] == "labels: ~stage alpha→beta"
        assert not Path(Path(f"{out}.path").read_text(encoding="utf-8").strip()).parent.exists()

    def test_metrics_count_rounds(self, tmp_path: Path) -> None:
        """ReloadMetrics: one failed round (an action failing after its retry) with the time
        it took, the watched directories, and no success time yet."""

        class Failing(Action):
            label = "fail"

            def run(self, batch: Batch) -> str:
                raise ActionError("no")

        volume = tmp_path / "podinfo"
        volume.mkdir()
        atomic.write(volume, {"labels": format_map({"stage": "alpha"})})
        metrics, report = ReloadMetrics(), Lines()
        engine = Reloader(
            [volume, tmp_path],
            [Recording(), Failing()],
            debounce_ms=0,
            retries=1,
            retry_delay_ms=0,
            report=report,
            metrics=metrics,
        )
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(engine.run(once=True)), daemon=True)
        thread.start()
        wait_for(lambda: any(line.startswith("watching ") for line in report.lines))
        assert metrics.snapshot()["watched"] == 2
        atomic.write(volume, {"labels": format_map({"stage": "beta"})})
        thread.join(WAIT)
        assert result == [1]
        values = metrics.snapshot()
        assert (values["success"], values["failure"], values["last_ok"]) == (0, 1, 0)
        assert values["last_success"] is None
        assert values["last"] is not None
        assert values["duration"] is not None
        assert values["duration"] >= 0

    def test_bad_knobs(self, tmp_path: Path) -> None:
        """Retries and delays are bounded; no directory is an error."""
        with pytest.raises(ValueError, match="retries 1001"):
            Reloader([tmp_path], retries=1001)
        with pytest.raises(ValueError, match="retry_delay_ms -1"):
            Reloader([tmp_path], retry_delay_ms=-1)
        with pytest.raises(ValueError, match="at least one directory"):
            Reloader([])

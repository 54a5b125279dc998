"""``podself watch`` driven as a subprocess: exec, signals, POST with retries, --once, shutdown."""

from __future__ import annotations

import base64
import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from podself import atomic
from podself.downward import format_map

WAIT = 30.0  # an upper bound for "eventually", never a latency assertion

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and /bin/sh")

HUP_APP = """
import os, signal, sys
record, pidfile = sys.argv[1], sys.argv[2]

def on_hup(signum, frame):
    with open(record, "a") as handle:
        handle.write("HUP\\n")

signal.signal(signal.SIGHUP, on_hup)
with open(pidfile + ".tmp", "w") as handle:
    handle.write(str(os.getpid()))
os.rename(pidfile + ".tmp", pidfile)
while True:
    signal.pause()
"""


def labels(mapping: dict[str, str]) -> dict[str, str]:
    """A volume holding only ``labels``, like the seed's exercise 3."""
    return {"labels": format_map(mapping)}


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll ``predicate`` until it holds (fails after WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Running:
    """A ``podself watch`` subprocess whose output lines are collected as they arrive."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podself", "watch", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.out: queue.Queue[str] = queue.Queue()
        self.err: queue.Queue[str] = queue.Queue()
        self.out_lines: list[str] = []
        self.err_lines: list[str] = []
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self.pumps = [
            threading.Thread(target=self._pump, args=(stream, sink), daemon=True)
            for stream, sink in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for pump in self.pumps:
            pump.start()

    @staticmethod
    def _pump(stream: IO[str], sink: queue.Queue[str]) -> None:
        for line in stream:
            sink.put(line.rstrip("\n"))

    def _expect(self, source: queue.Queue[str], seen: list[str], text: str) -> str:
        for line in seen:
            if text in line:
                return line
        deadline = time.monotonic() + WAIT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no line with {text!r}; got {seen!r}"
            try:
                line = source.get(timeout=remaining)
            except queue.Empty:
                continue
            seen.append(line)
            if text in line:
                return line

    def stdout_line(self, text: str) -> str:
        """The first stdout line containing ``text`` (waits for it)."""
        return self._expect(self.out, self.out_lines, text)

    def stderr_line(self, text: str) -> str:
        """The first stderr line containing ``text`` (waits for it)."""
        return self._expect(self.err, self.err_lines, text)

    def ready(self) -> Running:
        """Wait for the start-up line: from then on every change is seen."""
        self.stderr_line("watching ")
        return self

    def wait(self) -> int:
        """Wait for exit and collect the remaining output."""
        code = self.proc.wait(WAIT)
        for pump in self.pumps:  # they end at EOF
            pump.join(WAIT)
        for source, seen in ((self.out, self.out_lines), (self.err, self.err_lines)):
            while not source.empty():
                seen.append(source.get_nowait())
        return code

    def stop(self) -> None:
        """Kill the process if a test left it running."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    """The seed's labels-only Downward API volume with stage=alpha."""
    directory = tmp_path / "podinfo"
    directory.mkdir()
    atomic.write(directory, labels({"stage": "alpha"}))
    return directory


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start ``podself watch`` subprocesses and make sure none outlives its test."""
    started: list[Running] = []

    def start(*args: str | Path) -> Running:
        running = Running([str(a) for a in args], tmp_path)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


@pytest.fixture
def hup_app(tmp_path: Path) -> Iterator[tuple[Path, Path, subprocess.Popen[bytes]]]:
    """A process that appends a line to ``record`` on each SIGHUP, named ``hupapp``."""
    record, pidfile = tmp_path / "hups.txt", tmp_path / "app.pid"
    script = tmp_path / "hup_app.py"
    script.write_text(HUP_APP, encoding="utf-8")
    exe = tmp_path / "hupapp"
    exe.symlink_to(sys.executable)
    proc = subprocess.Popen([str(exe), str(script), str(record), str(pidfile)])
    try:
        wait_until(pidfile.exists, "the app's pidfile")
        yield record, pidfile, proc
    finally:  # also when the app never got going: no process outlives its test
        proc.kill()
        proc.wait(WAIT)


def hups(record: Path) -> int:
    """How many SIGHUPs the app has recorded."""
    return record.read_text(encoding="utf-8").count("HUP") if record.exists() else 0


class TestPrintAndOnce:
    """What is printed, and --once."""

    def test_once_prints_the_change_and_exits_0(
        self, volume: Path, watch: Callable[..., Running]
    ) -> None:
        """--once without actions prints one line for the change and exits 0."""
        running = watch(volume, "--once", "--debounce-ms", "0").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 0
        assert len(running.out_lines) == 1
        assert running.out_lines[0].endswith(f"{volume}: labels: ~stage alpha→beta")

    def test_one_line_per_change(self, volume: Path, watch: Callable[..., Running]) -> None:
        """Successive label changes each print their own line with added/changed keys."""
        running = watch(volume).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        running.stdout_line("labels: ~stage alpha→beta")
        atomic.write(volume, labels({"stage": "beta", "feature": "new-api"}))
        running.stdout_line("labels: +feature=new-api")
        atomic.write(volume, labels({"feature": "new-api"}))
        running.stdout_line("labels: -stage")

    def test_values_of_other_files_hidden_unless_asked(
        self, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """A key="value" file that is not labels/annotations (a Secret, say) shows keys only."""
        secret = tmp_path / "secret"
        secret.mkdir()
        atomic.write(secret, {"creds": format_map({"password": "hunter2"})})
        hidden = watch(secret, "--once").ready()
        shown = watch(secret, "--once", "--show-values").ready()
        atomic.write(secret, {"creds": format_map({"password": "s3cret", "user": "ops"})})
        assert hidden.wait() == 0
        assert shown.wait() == 0
        assert hidden.out_lines[0].endswith("creds: +user ~password")
        assert "s3cret" not in "\n".join(hidden.out_lines + hidden.err_lines)
        assert shown.out_lines[0].endswith("creds: +user=ops ~password hunter2→s3cret")

    def test_several_directories(self, tmp_path: Path, watch: Callable[..., Running]) -> None:
        """With several DIRs, each line names the directory that changed."""
        first, second = tmp_path / "a", tmp_path / "b"
        for directory in (first, second):
            directory.mkdir()
            atomic.write(directory, {"x": "1"})
        running = watch(first, second, "--once").ready()
        atomic.write(second, {"x": "2"})
        assert running.wait() == 0
        assert running.out_lines[0].endswith(f"{second}: x: changed")


class TestExec:
    """--exec runs a shell command with the change in its environment."""

    def test_exec_gets_change_env(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """The command sees PODSELF_* variables describing the change."""
        out = tmp_path / "env.json"
        command = (
            'printf "%s\\n%s\\n%s\\n%s\\n" "$PODSELF_WATCH_DIR" "$PODSELF_CHANGED_FILES" '
            f'"$PODSELF_CHANGE_SUMMARY" "$PODSELF_DATA_VERSION" > {out}; '
            f'printf "%s" "$PODSELF_CHANGE_JSON" > {out}.json'
        )
        running = watch(volume, "--exec", command, "--once").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 0
        lines = out.read_text(encoding="utf-8").splitlines()
        assert lines[0] == str(volume)
        assert lines[1] == str(volume / "labels")
        assert lines[2] == f"{volume}: labels: ~stage alpha→beta"
        assert lines[3] == os.readlink(volume / atomic.DATA_DIR_NAME)
        body = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
        change = body["changes"][0]
        assert change["diffs"]["labels"]["changed"] == {"stage": ["alpha", "beta"]}
        assert change["changed"] == ["labels"]
        assert any("exit status 0" in line for line in running.out_lines)

    def test_failing_command_is_retried_then_reported(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """A non-zero exit is retried; --once exits 1 when every attempt failed."""
        counter = tmp_path / "count"
        running = watch(
            volume,
            "--exec",
            f"echo x >> {counter}; exit 3",
            "--retries",
            "2",
            "--retry-delay-ms",
            "1",
            "--once",
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 1
        assert counter.read_text(encoding="utf-8").count("x") == 3
        assert any("exit status 3; giving up after 3 attempts" in e for e in running.err_lines)

    def test_storm_final_state_is_acted_on(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """Updates arriving while the command runs are coalesced; the last state is acted on."""
        gate, log = tmp_path / "gate", tmp_path / "runs"
        command = (
            f'while [ ! -e {gate} ]; do sleep 0.01; done; printf "%s\\n--\\n" '
            f'"$PODSELF_CHANGE_SUMMARY" >> {log}'
        )
        running = watch(volume, "--exec", command, "--debounce-ms", "0").ready()
        updates = 20
        for seq in range(1, updates + 1):
            atomic.write(volume, labels({"stage": "alpha", "seq": str(seq)}))
        gate.touch()
        running.stdout_line(f"→{updates}")
        wait_until(
            lambda: log.exists() and f"→{updates}" in log.read_text(encoding="utf-8"),
            "the final state to reach the command",
        )
        runs = log.read_text(encoding="utf-8").split("--\n")[:-1]
        assert 1 <= len(runs) <= updates
        assert runs[-1].rstrip().endswith(f"→{updates}")

    def test_command_timeout(self, volume: Path, watch: Callable[..., Running]) -> None:
        """A command running past --timeout-s is killed and counts as a failure."""
        running = watch(
            volume, "--exec", "sleep 60", "--timeout-s", "0.2", "--retries", "0", "--once"
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 1
        assert any("timed out after 0.2 s" in e for e in running.err_lines)


class TestHostileValues:
    """Annotations larger than an environment string, and bytes that are not UTF-8."""

    def test_annotation_over_128_kib_reaches_the_command(
        self, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """The command runs (no "Argument list too long"), is told what was cut, and finds
        the complete change in PODSELF_CHANGE_FILE."""
        volume = tmp_path / "podinfo"
        volume.mkdir()
        atomic.write(volume, {"annotations": format_map({"a": "1"})})
        out = tmp_path / "out"
        command = (
            f'printf "%s\\n" "$PODSELF_TRUNCATED" > {out}; '
            f'printf "%s" "$PODSELF_CHANGE_JSON" >> {out}; '
            f'cp "$PODSELF_CHANGE_FILE" {out}.json; stat -c %a "$PODSELF_CHANGE_FILE" > {out}.mode'
        )
        running = watch(volume, "--exec", command, "--once").ready()
        atomic.write(volume, {"annotations": format_map({"a": "1", "big": "v" * 150_000})})
        assert running.wait() == 0, running.err_lines
        assert out.read_text(encoding="utf-8") == "PODSELF_CHANGE_JSON\n"
        body = json.loads(Path(f"{out}.json").read_text(encoding="utf-8"))
        assert body["changes"][0]["diffs"]["annotations"]["added"] == {"big": "v" * 150_000}
        assert Path(f"{out}.mode").read_text(encoding="utf-8").strip() == "600"

    def test_invalid_utf8_annotation_print_only(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """An annotation holding \\xff and a key with an escape sequence: printed escaped,
        handed on as valid JSON, and the sidecar does not crash."""
        out = tmp_path / "body.json"
        printing = watch(volume, "--once").ready()
        acting = watch(volume, "--once", "--exec", f'printf "%s" "$PODSELF_CHANGE_JSON" > {out}')
        acting.ready()
        atomic.write(
            volume, {**labels({"stage": "alpha"}), "annotations": b'a="\\xff"\nk\x1b[2J="v"\n'}
        )
        assert printing.wait() == 0, printing.err_lines
        assert acting.wait() == 0, acting.err_lines
        line = printing.out_lines[0]
        assert "\x1b" not in line
        assert "k\\x1b[2J=v" in line
        body = json.loads(out.read_bytes().decode("utf-8"))
        assert body["changes"][0]["diffs"]["annotations"]["added"]["a"] == "\ufffd"


class TestClosedOutput:
    """The actions matter more than the log."""

    def test_stdout_closed_at_start(self, volume: Path, tmp_path: Path) -> None:
        """Started with stdout closed, the sidecar still runs its command and exits 0."""
        ran = tmp_path / "ran"
        script = (
            f"exec \"$0\" -m podself watch {volume} --once --debounce-ms 0 --exec 'touch {ran}' >&-"
        )
        proc = subprocess.Popen(["/bin/sh", "-c", script, sys.executable], stderr=subprocess.PIPE)
        try:
            assert proc.stderr is not None
            assert "watching " in proc.stderr.readline().decode("utf-8")
            atomic.write(volume, labels({"stage": "beta"}))
            assert proc.wait(WAIT) == 0
            assert ran.exists()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(WAIT)
            assert proc.stderr is not None
            proc.stderr.close()


class TestSignal:
    """--signal to a pid, a pidfile (re-read each time) or a process name."""

    def test_pidfile_hup(
        self,
        volume: Path,
        watch: Callable[..., Running],
        hup_app: tuple[Path, Path, subprocess.Popen[bytes]],
    ) -> None:
        """Each change sends SIGHUP to the pid in the pidfile, which the app records."""
        record, pidfile, proc = hup_app
        running = watch(volume, "--signal", "HUP", "--pidfile", pidfile).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        wait_until(lambda: hups(record) == 1, "the first SIGHUP")
        running.stdout_line(f"pidfile {pidfile}: sent to pid {proc.pid}")
        atomic.write(volume, labels({"stage": "gamma"}))
        wait_until(lambda: hups(record) == 2, "the second SIGHUP")
        assert proc.poll() is None

    def test_dead_pid_is_an_error_and_watching_goes_on(
        self,
        volume: Path,
        tmp_path: Path,
        watch: Callable[..., Running],
        hup_app: tuple[Path, Path, subprocess.Popen[bytes]],
    ) -> None:
        """A stale pidfile gives a clear error; once it names a live process, signals arrive."""
        record, live_pidfile, proc = hup_app
        dead = subprocess.Popen([sys.executable, "-c", "pass"])
        dead.wait(WAIT)
        pidfile = tmp_path / "stale.pid"
        pidfile.write_text(f"{dead.pid}\n", encoding="utf-8")
        running = watch(volume, "--pidfile", pidfile, "--retries", "0").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        line = running.stderr_line("no such process")
        assert f"pidfile {pidfile}: pid {dead.pid}: no such process" in line
        assert running.proc.poll() is None
        pidfile.write_text(live_pidfile.read_text(encoding="utf-8"), encoding="utf-8")
        atomic.write(volume, labels({"stage": "gamma"}))
        wait_until(lambda: hups(record) == 1, "the SIGHUP after the pidfile was fixed")
        assert proc.poll() is None

    def test_pidfile_with_an_impossible_pid_is_an_error_not_a_crash(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """A pidfile holding a number no pid can have is reported and watching goes on."""
        pidfile = tmp_path / "huge.pid"
        pidfile.write_text("9" * 30 + "\n", encoding="utf-8")
        running = watch(volume, "--pidfile", pidfile, "--retries", "0").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        line = running.stderr_line("is not a pid")
        assert f'pidfile {pidfile}: "{"9" * 30}" is not a pid' in line
        atomic.write(volume, labels({"stage": "gamma"}))
        running.stdout_line("stage beta→gamma")
        assert running.proc.poll() is None

    def test_process_name(
        self,
        volume: Path,
        watch: Callable[..., Running],
        hup_app: tuple[Path, Path, subprocess.Popen[bytes]],
    ) -> None:
        """--process-name finds the target in /proc (as across a shared process namespace)."""
        if not Path("/proc/self/comm").exists():
            pytest.skip("no /proc")
        record, _, proc = hup_app
        running = watch(volume, "--signal", "SIGHUP", "--process-name", "hupapp").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        wait_until(lambda: hups(record) == 1, "the SIGHUP")
        running.stdout_line(f"sent to pid {proc.pid}")

    def test_no_such_process_name(self, volume: Path, watch: Callable[..., Running]) -> None:
        """A name that matches nothing is an error; --once then exits 1."""
        running = watch(
            volume, "--process-name", "no-such-app-xyz", "--retries", "0", "--once"
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 1
        assert any('no process named "no-such-app-xyz"' in e for e in running.err_lines)


class TestSignalSafety:
    """The pidfile is written by another container: it may be a FIFO, a symlink, garbage,
    this process's pid, pid 1 or a pid reused since; none of that is signalled or hangs."""

    def test_fifo_pidfile_does_not_hang(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """A FIFO is refused at once, and the watch goes on."""
        fifo = tmp_path / "app.pid"
        os.mkfifo(fifo)
        running = watch(volume, "--pidfile", fifo, "--retries", "0").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert f"pidfile {fifo}: not a regular file; refusing" in running.stderr_line("regular")
        atomic.write(volume, labels({"stage": "gamma"}))
        running.stdout_line("stage beta→gamma")

    def test_own_pid_is_refused(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """A pidfile naming the sidecar itself does not make it signal itself."""
        pidfile = tmp_path / "app.pid"
        running = watch(volume, "--pidfile", pidfile, "--retries", "0").ready()
        pidfile.write_text(f"{running.proc.pid}\n", encoding="utf-8")
        atomic.write(volume, labels({"stage": "beta"}))
        line = running.stderr_line("refusing")
        assert f"pid {running.proc.pid} is this podself watch process; refusing" in line
        atomic.write(volume, labels({"stage": "gamma"}))
        running.stdout_line("stage beta→gamma")
        assert running.proc.poll() is None


class Server:
    """A local HTTP server answering POSTs with the given status codes in turn."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                owner.bodies.append(json.loads(self.rfile.read(length)))
                owner.headers.append(dict(self.headers))
                owner.paths.append(self.path)
                status = owner.statuses.pop(0) if owner.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/-/reload"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Callable[[list[int]], Server]]:
    """Start local HTTP servers and shut them down afterwards."""
    servers: list[Server] = []

    def start(statuses: list[int]) -> Server:
        servers.append(Server(statuses))
        return servers[-1]

    yield start
    for item in servers:
        item.close()


class TestPost:
    """--post sends the change as JSON, with retries and back-off."""

    def test_failure_then_success(
        self, volume: Path, watch: Callable[..., Running], server: Callable[[list[int]], Server]
    ) -> None:
        """A 500 is retried; the second attempt succeeds and --once exits 0."""
        target = server([500])
        running = watch(
            volume, "--post", target.url, "--retry-delay-ms", "10", "--once", "--timeout-s", "5"
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 0
        assert len(target.bodies) == 2
        assert target.bodies[0] == target.bodies[1]
        change = target.bodies[1]["changes"][0]
        assert change["dir"] == str(volume)
        assert change["summary"] == "labels: ~stage alpha→beta"
        assert change["diffs"]["labels"]["changed"] == {"stage": ["alpha", "beta"]}
        assert target.headers[1]["Content-Type"] == "application/json"
        assert any("HTTP 500" in e and "retry 1/3" in e for e in running.err_lines)
        assert any("HTTP 200" in line for line in running.out_lines)

    def test_gives_up_after_retries(
        self, volume: Path, watch: Callable[..., Running], server: Callable[[list[int]], Server]
    ) -> None:
        """Every attempt failing: --retries N means N + 1 requests, then exit 1 with --once."""
        target = server([503, 503, 503])
        running = watch(
            volume, "--post", target.url, "--retries", "2", "--retry-delay-ms", "1", "--once"
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 1
        assert len(target.bodies) == 3
        assert any("giving up after 3 attempts" in e for e in running.err_lines)

    def test_connection_refused_keeps_watching(
        self, volume: Path, watch: Callable[..., Running]
    ) -> None:
        """An unreachable URL is an error for that change only; the watch goes on."""
        running = watch(
            volume, "--post", "http://127.0.0.1:9/x", "--retries", "0", "--timeout-s", "5"
        ).ready()
        atomic.write(volume, labels({"stage": "beta"}))
        running.stderr_line("giving up after 1 attempt")
        atomic.write(volume, labels({"stage": "gamma"}))
        running.stdout_line("~stage beta→gamma")
        assert running.proc.poll() is None

    def test_basic_auth_from_url_and_nothing_secret_printed(
        self, volume: Path, watch: Callable[..., Running], server: Callable[[list[int]], Server]
    ) -> None:
        """user:password in the URL is sent as Basic auth (percent-decoded), the query is
        sent as given, and neither the password nor the token is ever printed."""
        target = server([])
        url = target.url.replace("http://", "http://ops:p%40ss-w0rd@") + "?token=s3cr3t-t0k3n"
        running = watch(volume, "--post", url, "--once", "--timeout-s", "5").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        assert running.wait() == 0
        expected = base64.b64encode(b"ops:p@ss-w0rd").decode("ascii")
        assert target.headers[0]["Authorization"] == f"Basic {expected}"
        assert target.paths == ["/-/reload?token=s3cr3t-t0k3n"]
        output = "\n".join(running.out_lines + running.err_lines)
        assert "HTTP 200" in output
        assert "?token=***" in output
        for secret in ("p%40ss", "p@ss", "w0rd", "s3cr3t", "ops:"):
            assert secret not in output


def scrape(running: Running) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the sidecar's /metrics (its address from the start-up line), as the
    real ``prometheus_client`` parser reads them."""
    parser = pytest.importorskip("prometheus_client.parser")
    url = running.stderr_line("serving reload metrics on ").rpartition(" ")[2]
    with urllib.request.urlopen(url, timeout=WAIT) as response:
        assert response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
        text = response.read().decode("utf-8")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape_after_round(
    running: Running, rounds: int
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """:func:`scrape` once ``rounds`` rounds are counted: an action's report line is printed
    as it ends, the round's metrics are recorded when the round ends, a moment later."""
    deadline = time.monotonic() + WAIT
    while True:
        samples = scrape(running)
        counted = sum(v for (name, _), v in samples.items() if name == "podself_reloads_total")
        if counted >= rounds or time.monotonic() > deadline:
            return samples
        time.sleep(0.01)


class TestMetrics:
    """--metrics-addr: reload metrics scraped from the running sidecar."""

    def test_counts_successes_and_failures(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """Each round is counted by result; the timestamps and last result follow, and the
        success timestamp stays at the last success after a failure."""
        fail = tmp_path / "fail"
        running = watch(
            volume,
            "--exec",
            f"test ! -e {fail}",
            "--retries",
            "0",
            "--metrics-addr",
            "127.0.0.1:0",
        ).ready()
        before = scrape(running)
        assert before[("podself_reloads_total", (("result", "success"),))] == 0
        assert before[("podself_reloads_total", (("result", "failure"),))] == 0
        assert before[("podself_watched_directories", ())] == 1
        assert ("podself_last_reload_timestamp_seconds", ()) not in before

        atomic.write(volume, labels({"stage": "beta"}))
        running.stdout_line("exit status 0")
        first = scrape_after_round(running, 1)
        assert first[("podself_reloads_total", (("result", "success"),))] == 1
        assert first[("podself_last_reload_successful", ())] == 1
        success_at = first[("podself_last_reload_success_timestamp_seconds", ())]
        assert first[("podself_last_reload_timestamp_seconds", ())] == success_at
        assert first[("podself_last_reload_duration_seconds", ())] >= 0

        fail.touch()
        atomic.write(volume, labels({"stage": "gamma"}))
        running.stderr_line("giving up after 1 attempt")
        second = scrape_after_round(running, 2)
        assert second[("podself_reloads_total", (("result", "success"),))] == 1
        assert second[("podself_reloads_total", (("result", "failure"),))] == 1
        assert second[("podself_last_reload_successful", ())] == 0
        assert second[("podself_last_reload_success_timestamp_seconds", ())] == success_at
        assert second[("podself_last_reload_timestamp_seconds", ())] >= success_at

    def test_only_get_and_only_metrics(self, volume: Path, watch: Callable[..., Running]) -> None:
        """Other paths are 404, other methods 501; a request body is never read."""
        running = watch(volume, "--metrics-addr", "127.0.0.1:0").ready()
        url = running.stderr_line("serving reload metrics on ").rpartition(" ")[2]
        for target, method, status in ((url[: -len("metrics")], "GET", 404), (url, "POST", 501)):
            request = urllib.request.Request(target, data=b"x" * 10, method=method)
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=WAIT)
            caught.value.close()
            assert caught.value.code == status

    def test_address_in_use_exits_2(self, volume: Path, watch: Callable[..., Running]) -> None:
        """A port that cannot be bound is a clear error, exit 2."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            running = watch(volume, "--metrics-addr", f"127.0.0.1:{port}")
            assert running.wait() == 2
        assert any(f"127.0.0.1:{port}: Address already in use" in e for e in running.err_lines)


class TestShutdownAndErrors:
    """Signals end the watch cleanly; bad input exits 2."""

    @pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
    def test_signal_exits_0(
        self, volume: Path, watch: Callable[..., Running], sig: signal.Signals
    ) -> None:
        """SIGTERM and SIGINT stop the watch with exit status 0."""
        running = watch(volume).ready()
        running.proc.send_signal(sig)
        assert running.wait() == 0
        assert any("stopping" in e for e in running.err_lines)

    def test_sigterm_during_a_command(
        self, volume: Path, tmp_path: Path, watch: Callable[..., Running]
    ) -> None:
        """SIGTERM while a command runs stops the command too and exits 0."""
        started = tmp_path / "started"
        running = watch(volume, "--exec", f"touch {started}; sleep 60").ready()
        atomic.write(volume, labels({"stage": "beta"}))
        wait_until(started.exists, "the command to start")
        running.proc.send_signal(signal.SIGTERM)
        assert running.wait() == 0

    def test_directory_removed_exits_1(self, tmp_path: Path, watch: Callable[..., Running]) -> None:
        """When the watched directory goes away the sidecar says so and exits 1."""
        directory = tmp_path / "gone"
        directory.mkdir()
        atomic.write(directory, {"x": "1"})
        running = watch(directory).ready()
        subprocess.run(["rm", "-rf", str(directory)], check=True)
        assert running.wait() == 1
        assert any("directory removed" in e for e in running.err_lines)

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["{tmp}/missing"], "no such directory"),
            (["{tmp}/file"], "not a directory"),
            (["{tmp}", "--signal", "FOO"], 'signal "FOO": not a signal name or number'),
            (["{tmp}", "--signal", "HUP"], "--signal needs a target"),
            (["{tmp}", "--pid", "0"], 'pid "0": must be a positive integer'),
            (["{tmp}", "--pid", "9" * 20], "must be a positive integer (at most 4194304)"),
            (["{tmp}", "--pid", "\u00b2"], "must be a positive integer"),
            (["{tmp}", "--debounce-ms", "-1"], '"-1": must be an integer >= 0'),
            (["{tmp}", "--timeout-s", "0"], '"0": must be a number of seconds > 0'),
            (["{tmp}", "--timeout-s", "1e300"], '"1e300": must be a number of seconds > 0'),
            (["{tmp}", "--post", "ftp://host/x"], "must be http:// or https://"),
            (["{tmp}", "--post", "http://[::1/x"], "Invalid IPv6 URL"),
            (["{tmp}", "--post", "http://h:99999/x"], "out of range"),
            (["{tmp}", "--post", "http://h/x y"], "must not contain spaces"),
            (["{tmp}", "--poll-ms", "9" * 30], "must be an integer >= 1 and <= 3600000"),
            (["{tmp}", "--retry-delay-ms", "9" * 30], "must be an integer >= 0 and <= 3600000"),
            (["{tmp}", "--retries", "1001"], '"1001": must be an integer >= 0 and <= 1000'),
            (["{tmp}", "--metrics-addr", "9533"], 'metrics address "9533": must be HOST:PORT'),
            (["{tmp}", "--metrics-addr", ":65536"], "with a port from 0 to 65535"),
            (["{tmp}", "--metrics-addr", "::1:9533"], "[IPv6]:PORT"),
            (["{tmp}", "--metrics-addr", "h/x:1"], 'metrics address "h/x:1"'),
            (["{tmp}", "--metrics-addr", ":" + "9" * 5000], "with a port from 0 to 65535"),
            ([], "the following arguments are required: DIR"),
        ],
    )
    def test_bad_input_exits_2(
        self, tmp_path: Path, watch: Callable[..., Running], args: list[str], message: str
    ) -> None:
        """A missing or non-directory DIR and bad arguments exit 2 with a clear message."""
        (tmp_path / "file").write_text("x", encoding="utf-8")
        running = watch(*[a.format(tmp=tmp_path) for a in args])
        assert running.wait() == 2
        assert any(message in e for e in running.err_lines), running.err_lines

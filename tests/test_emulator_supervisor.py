"""podself.emulator.supervisor (container processes, output prefixes, stopping) and the process
tracking it relies on (podself.emulator.tracking: cgroups, subreaper, limits)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from podself.cgroups import shares_to_weight
from podself.emulator import tracking as tracking_module
from podself.emulator.resize import cgroup_values
from podself.emulator.supervisor import Supervisor, exit_code
from podself.emulator.tracking import ContainerProcess, ProcessTracker

ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie waiting for its new parent to reap it."""
    if not os.path.isdir("/proc/self"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:  # gone, or going (ESRCH while it is reaped)
        return False


def run_all(supervisor: Supervisor, limit: float = 20.0) -> None:
    """Wait until every process has exited and every pipe is closed."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        supervisor.reap()
        if all(p.returncode is not None for p in supervisor.processes):
            supervisor.drain()
            if not supervisor.pipes_open:
                return
        supervisor.wait(0.05)
    pytest.fail("processes did not finish")


class TestExitCode:
    """Shell-style exit codes."""

    @pytest.mark.parametrize(("returncode", "expected"), [(0, 0), (3, 3), (-9, 137), (-15, 143)])
    def test_values(self, returncode: int, expected: int) -> None:
        """Signal deaths map to 128 + N."""
        assert exit_code(returncode) == expected


class TestOutput:
    """Prefixed and direct output."""

    def test_prefixed_lines(self) -> None:
        """Each line gets [name]; a final partial line is completed at end of file."""
        out = io.BytesIO()
        with Supervisor(prefix=True, out=out) as supervisor:
            supervisor.start(
                ContainerProcess("a", ["sh", "-c", "echo one; echo two >&2; printf tail"], ENV)
            )
            run_all(supervisor)
        assert out.getvalue().splitlines() == [b"[a] one", b"[a] two", b"[a] tail"]

    def test_two_containers(self) -> None:
        """Lines of two containers are never mixed within a line."""
        out = io.BytesIO()
        with Supervisor(prefix=True, out=out) as supervisor:
            for name in ("x", "y"):
                supervisor.start(
                    ContainerProcess(
                        name, ["sh", "-c", f"for i in 1 2 3; do echo {name}$i; done"], ENV
                    )
                )
            run_all(supervisor)
        lines = out.getvalue().decode().splitlines()
        assert sorted(lines) == sorted(f"[{n}] {n}{i}" for n in "xy" for i in (1, 2, 3))

    def test_direct_output(self, capfd: pytest.CaptureFixture[str]) -> None:
        """Without prefixes the container writes to podself's own stdout."""
        with Supervisor(prefix=False, out=io.BytesIO()) as supervisor:
            supervisor.start(ContainerProcess("a", ["sh", "-c", "echo direct"], ENV))
            run_all(supervisor)
        assert capfd.readouterr().out == "direct\n"


class TestLifecycle:
    """Starting, reaping and stopping."""

    def test_exit_codes_and_env(self) -> None:
        """Exit codes are recorded and the given environment is the whole environment."""
        out = io.BytesIO()
        env = {**ENV, "ONLY": "this"}
        with Supervisor(prefix=True, out=out) as supervisor:
            process = ContainerProcess("a", ["sh", "-c", "echo $ONLY ${HOME:-nohome}; exit 3"], env)
            supervisor.start(process)
            run_all(supervisor)
        assert process.returncode == 3
        assert not process.stopped
        assert out.getvalue() == b"[a] this nohome\n"

    def test_start_error(self) -> None:
        """A missing executable is a StartError with code 128."""
        with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
            process = ContainerProcess("a", ["no-such-command-xyz"], ENV)
            assert not supervisor.start(process)
        assert process.returncode == 128
        assert (
            process.start_error == 'exec: "no-such-command-xyz": executable file not found in $PATH'
        )

    def test_stop_reaches_the_whole_group(self) -> None:
        """stop() sends SIGTERM to the group: the shell and its child both end."""
        with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
            process = ContainerProcess("a", ["sh", "-c", "sleep 30; echo never"], ENV)
            supervisor.start(process)
            time.sleep(0.2)
            supervisor.stop(process)
            run_all(supervisor)
        assert process.stopped
        assert exit_code(process.returncode or 0) == 128 + signal.SIGTERM

    def test_kill_after_ignored_term(self) -> None:
        """A container that ignores SIGTERM is killed by kill()."""
        with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
            process = ContainerProcess(
                "a", ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"], ENV
            )
            supervisor.start(process)
            time.sleep(0.3)
            supervisor.stop(process)
            time.sleep(0.3)
            supervisor.reap()
            assert process.running
            supervisor.kill(process)
            run_all(supervisor)
        assert process.returncode == -signal.SIGKILL

    def test_leftover_group_members_are_killed(self) -> None:
        """When the main process exits, background processes in its group are killed."""
        out = io.BytesIO()
        with Supervisor(prefix=True, out=out) as supervisor:
            process = ContainerProcess("a", ["sh", "-c", "sleep 30 & echo $!"], ENV)
            supervisor.start(process)
            run_all(supervisor)
        child = int(out.getvalue().split()[-1])
        deadline = time.monotonic() + 5
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(child)

    def test_signals_are_collected(self) -> None:
        """SIGTERM to podself is recorded (not fatal) while the supervisor runs."""
        with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
            assert supervisor.wakes_on_signals
            os.kill(os.getpid(), signal.SIGTERM)
            supervisor.wait(1.0)
            assert supervisor.signals == [signal.SIGTERM]
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


class TestBackpressure:
    """Prefixed output to a slow reader: containers wait, nothing is lost."""

    def test_slow_reader_gets_everything(self) -> None:
        """A backlog stops reading the containers' pipes instead of buffering without end."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        received = bytearray()
        lines = 40000  # about 4 MB with prefixes: far beyond the pipe and the pause mark
        script = f"i=0; while [ $i -lt {lines} ]; do echo {'y' * 90}; i=$((i+1)); done"
        with os.fdopen(write_fd, "wb") as stream, Supervisor(prefix=True, out=stream) as sup:
            process = ContainerProcess("a", ["sh", "-c", script], ENV)
            sup.start(process)
            deadline = time.monotonic() + 120
            while not sup._paused:  # nobody reads: the backlog grows to the pause mark
                assert time.monotonic() < deadline, "reading never paused"
                sup.reap()
                sup.wait(0.01)
            assert process.running  # waiting to write, as with a full terminal
            assert sup.out.backlog < sup.out.limit
            while process.returncode is None or sup.pipes_open or sup.output_pending:
                assert time.monotonic() < deadline, "the output never finished"
                sup.reap()
                if process.returncode is not None:
                    sup.drain()
                sup.wait(0.01)
                with contextlib.suppress(BlockingIOError):
                    received += os.read(read_fd, 1 << 16)
            assert sup.out.dropped == 0
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(read_fd, 1 << 16):
                received += chunk
        os.close(read_fd)
        assert received.count(b"\n") == lines
        assert set(bytes(received).splitlines()) == {b"[a] " + b"y" * 90}


def marked(marker: str) -> list[int]:
    """Live (not zombie) processes whose argv holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read()
        except OSError:
            continue
        if marker.encode() in argv and running(int(entry)):
            found.append(int(entry))
    return found


def escape_script(marker: str) -> str:
    """A container that leaves its process group twice (setsid, a double fork)."""
    hold = f"sh -c 'while :; do sleep 1; done' {marker}"  # short sleeps: no leak if it fails
    return f"setsid {hold} & ({hold} &); echo ready; sleep 0.2"


def kill_marked(marker: str) -> None:
    """Clean up after a failed test."""
    for pid in marked(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="process tracking needs Linux")
class TestTracking:
    """Every process of a container ends with it, wherever it moved."""

    @pytest.mark.parametrize("cgroups", [True, False], ids=["cgroup", "subreaper"])
    def test_escaped_processes_die(self, cgroups: bool) -> None:
        """setsid and double-forked descendants do not outlive the supervisor."""
        marker = f"podself-escape-{os.getpid()}-{cgroups}"
        out = io.BytesIO()
        own_child: subprocess.Popen[bytes] | None = None
        try:
            with Supervisor(prefix=True, out=out, track=cgroups) as supervisor:
                if cgroups and supervisor.tracker.mode != "cgroup":
                    pytest.skip("no writable cgroup here")
                assert supervisor.tracker.mode in ("cgroup", "subreaper")
                process = ContainerProcess("a", ["sh", "-c", escape_script(marker)], ENV)
                supervisor.start(process)
                if cgroups:  # the container's cgroup goes with its main process
                    run_all(supervisor)
                    assert marked(marker) == []
                else:  # orphans cannot be told apart: they live until the pod ends
                    while process.returncode is None:
                        supervisor.reap()
                        supervisor.wait(0.05)
                    supervisor.drain()
                    supervisor.force_close_pipes()
                # A child of the embedding program itself (in its process group) is no orphan.
                own_child = subprocess.Popen(["sleep", "1000"])
            assert out.getvalue() == b"[a] ready\n"
            assert marked(marker) == []
            assert own_child.poll() is None
        finally:
            kill_marked(marker)
            if own_child is not None:
                own_child.kill()
                own_child.wait()

    def test_cgroup_v1_freezer(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On a v1 freezer hierarchy the container's cgroup is frozen, killed and thawed."""
        own = [line.split(":", 2) for line in Path("/proc/self/cgroup").read_text().splitlines()]
        paths = [path for _, controllers, path in own if "freezer" in controllers.split(",")]
        directory = "/sys/fs/cgroup/freezer" + (paths[0].rstrip("/") if paths else "")
        if not paths or not os.access(os.path.join(directory, "cgroup.procs"), os.W_OK):
            pytest.skip("no writable v1 freezer hierarchy here")
        monkeypatch.setattr(tracking_module, "_own_cgroup", lambda: (directory, 1))
        marker = f"podself-freezer-{os.getpid()}"
        try:
            with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
                assert (supervisor.tracker.mode, supervisor.tracker.version) == ("cgroup", 1)
                supervisor.start(ContainerProcess("a", ["sh", "-c", escape_script(marker)], ENV))
                run_all(supervisor)
                assert marked(marker) == []
            assert not any(name.startswith("podself-") for name in os.listdir(directory))
        finally:
            kill_marked(marker)

    def test_kill_reaches_escaped_processes(self) -> None:
        """kill() of a running container reaches what left its group."""
        marker = f"podself-kill-{os.getpid()}"
        try:
            with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
                if supervisor.tracker.mode == "none":
                    pytest.skip("no process tracking here")
                script = escape_script(marker).replace("sleep 0.2", "exec sleep 1000")
                process = ContainerProcess("a", ["sh", "-c", script], ENV)
                supervisor.start(process)
                deadline = time.monotonic() + 20
                while len(marked(marker)) < 2:
                    assert time.monotonic() < deadline, "the container never started"
                    supervisor.wait(0.05)
                supervisor.kill(process)
                if supervisor.tracker.mode == "cgroup":
                    assert marked(marker) == []
                run_all(supervisor)
            assert marked(marker) == []
        finally:
            kill_marked(marker)

    def test_a_cgroup_that_cannot_be_joined_fails_the_container(self, tmp_path: Path) -> None:
        """The container does not run untracked: it fails with 126 and says why."""
        out = io.BytesIO()
        with Supervisor(prefix=True, out=out, track=False) as supervisor:
            process = ContainerProcess("a", ["sh", "-c", "echo never"], ENV)
            process.preexec = tracking_module._JoinCgroup(
                str(tmp_path / "gone" / "cgroup.procs"), "a", None
            )
            supervisor.start(process)
            run_all(supervisor)
        assert process.returncode == 126
        assert out.getvalue() == b'[a] podself run: container "a": cannot join its cgroup\n'

    def test_stale_run_cgroup_is_removed(self) -> None:
        """A run cgroup whose podself died (guard killed too) is swept by the next run."""
        probe = ProcessTracker()
        try:
            if probe.mode != "cgroup" or probe.run_cgroup is None:
                pytest.skip("no writable cgroup here")
            parent = os.path.dirname(probe.run_cgroup)
        finally:
            probe.close()
        sleeper = subprocess.Popen(["sleep", "1000"])
        stale = os.path.join(parent, "podself-999999999-1-0")
        os.mkdir(stale)
        try:
            with open(os.path.join(stale, "cgroup.procs"), "w", encoding="ascii") as handle:
                handle.write(str(sleeper.pid))
            ProcessTracker().close()
            assert sleeper.wait(timeout=20) == -signal.SIGKILL
            assert not os.path.exists(stale)
        finally:
            sleeper.kill()
            sleeper.wait()
            with contextlib.suppress(OSError):
                os.rmdir(stale)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="cgroups need Linux")
class TestLimits:
    """Each container gets the kubelet's cpu and memory values in its own cgroups."""

    def test_limits_at_start_and_resized(self) -> None:
        """The values are in the cgroup the container runs in before it execs; set_limits
        changes them while it runs; a memory limit below its usage is not written."""
        with Supervisor(prefix=True, out=io.BytesIO()) as supervisor:
            tracker = supervisor.tracker
            if not tracker.limit_roots:
                pytest.skip(f"no cpu and memory cgroups here: {tracker.limits_note}")
            script = "cat /proc/self/cgroup; exec sleep 1000"
            process = ContainerProcess("a", ["sh", "-c", script], ENV)
            process.limits = cgroup_values({"limits": {"cpu": "500m", "memory": "256Mi"}})
            supervisor.start(process)
            assert process.limit_problems == []
            v2 = tracker.limit_version == 2
            cpu, memory = process.limit_dirs["cpu"], process.limit_dirs["memory"]

            def knob(directory: str, v1: str, v2_name: str) -> str:
                return Path(directory, v2_name if v2 else v1).read_text().strip()

            assert knob(cpu, "cpu.cfs_quota_us", "cpu.max") == ("50000 100000" if v2 else "50000")
            assert knob(memory, "memory.limit_in_bytes", "memory.max") == str(256 * 2**20)
            deadline = time.monotonic() + 20
            while str(process.pid) not in Path(cpu, "cgroup.procs").read_text().split():
                assert time.monotonic() < deadline, "the container never joined its cgroup"
                supervisor.wait(0.05)
            bigger = cgroup_values({"limits": {"cpu": "2", "memory": "1Gi"}})
            assert tracker.set_limits(process, bigger) == []
            assert knob(cpu, "cpu.cfs_quota_us", "cpu.max") == ("200000 100000" if v2 else "200000")
            assert knob(memory, "memory.limit_in_bytes", "memory.max") == str(2**30)
            tiny = cgroup_values({"limits": {"cpu": "2", "memory": "1"}})
            problems = tracker.set_limits(process, tiny)
            assert len(problems) == 1
            assert problems[0].startswith("memory limit 1 bytes is below the container's usage")
            assert knob(memory, "memory.limit_in_bytes", "memory.max") == str(2**30)
            supervisor.kill(process)
            run_all(supervisor)
        assert not os.path.exists(cpu)
        assert not os.path.exists(memory)

    def test_without_cgroups_says_why(self) -> None:
        """Untracked by cgroups: nothing is written and set_limits says limits are not
        enforced, with the reason."""
        with Supervisor(prefix=True, out=io.BytesIO(), track=False) as supervisor:
            process = ContainerProcess("a", ["true"], ENV)
            process.limits = cgroup_values({"limits": {"cpu": "1"}})
            supervisor.start(process)
            assert process.limit_dirs == {}
            assert process.limit_problems == []  # nothing was tried before the start
            problems = supervisor.tracker.set_limits(process, process.limits)
            assert problems == [f"limits not enforced: {supervisor.tracker.limits_note}"]
            run_all(supervisor)

    def test_v2_files(self, tmp_path: Path) -> None:
        """On cgroup v2 the same values go to cpu.max, cpu.weight and memory.max ("max" for
        no limit); memory.current guards a decrease."""
        tracker = ProcessTracker(use_cgroups=False)
        try:
            tracker.limit_version = 2
            # Regular files stand in for the kernel's (written without truncation: keep them short).
            for name in ("cpu.max", "cpu.weight", "memory.max"):
                (tmp_path / name).write_text("")
            (tmp_path / "memory.current").write_text("4096\n")
            process = ContainerProcess("a", ["true"], ENV)
            process.limit_dirs = {"cpu": str(tmp_path), "memory": str(tmp_path)}
            values = cgroup_values({"limits": {"cpu": "1500m", "memory": "1Gi"}})
            assert tracker.set_limits(process, values) == []
            assert (tmp_path / "cpu.max").read_text() == "150000 100000"
            assert (tmp_path / "cpu.weight").read_text() == str(shares_to_weight(1536))
            assert (tmp_path / "memory.max").read_text() == str(2**30)
            for name in ("cpu.max", "cpu.weight", "memory.max"):
                (tmp_path / name).write_text("")
            assert tracker.set_limits(process, cgroup_values({})) == []
            assert (tmp_path / "cpu.max").read_text() == "max 100000"
            assert (tmp_path / "memory.max").read_text() == "max"
            problems = tracker.set_limits(process, cgroup_values({"limits": {"memory": "1Ki"}}))
            assert problems == [
                "memory limit 1024 bytes is below the container's usage (4096 bytes): not lowered"
            ]
            assert (tmp_path / "memory.max").read_text() == "max"
        finally:
            tracker.close()  # undoes the subreaper it became

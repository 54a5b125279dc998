"""podself.emulator.supervisor: container processes, output prefixes, stopping."""

from __future__ import annotations

import io
import os
import signal
import time

import pytest

from podself.emulator.supervisor import ContainerProcess, Supervisor, exit_code

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
    except FileNotFoundError:
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

"""Container processes: start, stream output, notice exits, stop with a grace period.

Each container runs in its own process group, so a stop signal reaches the whole container
(``sh -c`` and its children). Output goes straight to podself's stdout and stderr when the pod
has one container, or through pipes with a ``[name] `` prefix per line when it has several.
One thread only: a selector waits on the pipes and on a self-pipe that signal handlers write
to, which also makes ``fork`` before ``exec`` safe for the mount-namespace set-up.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import BinaryIO, Final

__all__ = [
    "ContainerProcess",
    "Supervisor",
    "exit_code",
]

_READ_SIZE: Final = 65536
_MAX_PARTIAL: Final = 65536
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code(returncode: int) -> int:
    """A shell-style exit code: ``128 + N`` for a process killed by signal ``N``."""
    return 128 - returncode if returncode < 0 else returncode


@dataclass
class ContainerProcess:
    """One container's process and what became of it."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    preexec: Callable[[], None] | None = None
    cwd: str | None = None
    popen: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    stopped: bool = False  # podself sent the stop signal (not a failure)
    start_error: str = ""
    started_at: float = 0.0
    finished_at: float = 0.0
    pipe_open: bool = False
    _partial: bytearray = field(default_factory=bytearray)

    @property
    def running(self) -> bool:
        """Started and not yet reaped."""
        return self.popen is not None and self.returncode is None

    @property
    def pid(self) -> int | None:
        """The main process's pid (also the process group id)."""
        return self.popen.pid if self.popen is not None else None


class Supervisor:
    """Runs :class:`ContainerProcess` objects and waits for output, exits and signals.

    ``prefix`` selects pipes with ``[name]`` prefixes; ``out`` receives prefixed output.
    Use as a context manager: it installs SIGINT/SIGTERM/SIGHUP/SIGCHLD handlers (when in
    the main thread) and restores the previous ones on exit.
    """

    def __init__(self, *, prefix: bool, out: BinaryIO) -> None:
        self.prefix = prefix
        self.out = out
        self.processes: list[ContainerProcess] = []
        self.signals: list[int] = []
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._old_handlers: dict[int, object] = {}
        self._old_wakeup: int | None = None
        self._extra: dict[int, Callable[[], None]] = {}

    # -- context ----------------------------------------------------------------------

    def __enter__(self) -> Supervisor:
        try:
            self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        except ValueError:  # not the main thread: poll instead of waking on signals
            self._old_wakeup = None
            return self
        for signum in (*_STOP_SIGNALS, signal.SIGCHLD):
            self._old_handlers[signum] = signal.signal(signum, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._old_handlers.clear()
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            self._old_wakeup = None
        self.close()

    @property
    def wakes_on_signals(self) -> bool:
        """Whether signals (SIGCHLD included) wake :meth:`wait` (only in the main thread)."""
        return bool(self._old_handlers)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGCHLD:
            self.signals.append(signum)

    def close(self) -> None:
        """Close the pipes and the selector (after every process has been reaped)."""
        for process in self.processes:
            self._close_pipe(process)
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(self._wake_r)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._selector.close()

    def add_reader(self, fd: int, callback: Callable[[], None]) -> None:
        """Also wake up when ``fd`` is readable and call ``callback``."""
        self._extra[fd] = callback
        self._selector.register(fd, selectors.EVENT_READ, ("extra", fd))

    # -- processes ----------------------------------------------------------------------

    def start(self, process: ContainerProcess) -> bool:
        """Start ``process``; on failure record ``start_error`` (exit code 128) and return
        False, like a container runtime's StartError."""
        self.processes.append(process)
        pipe = subprocess.PIPE if self.prefix else None
        try:
            popen = subprocess.Popen(
                list(process.argv),
                env=dict(process.env),
                cwd=process.cwd,
                stdin=subprocess.DEVNULL,
                stdout=pipe,
                stderr=subprocess.STDOUT if self.prefix else None,
                close_fds=True,
                process_group=0,
                # Safe: the supervisor is single-threaded (see the module docstring).
                preexec_fn=process.preexec,  # noqa: PLW1509
            )
        except FileNotFoundError:
            process.start_error = f'exec: "{process.argv[0]}": executable file not found in $PATH'
        except PermissionError:
            process.start_error = f'exec: "{process.argv[0]}": permission denied'
        except (OSError, subprocess.SubprocessError) as exc:
            process.start_error = f"exec: {exc}"
        if process.start_error:
            process.returncode = 128
            process.started_at = process.finished_at = time.monotonic()
            return False
        process.popen = popen
        process.started_at = time.monotonic()
        if self.prefix and popen.stdout is not None:
            fd = popen.stdout.fileno()
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ, process)
            process.pipe_open = True
        return True

    def signal_process(self, process: ContainerProcess, signum: int) -> None:
        """Send ``signum`` to the process group of ``process`` (ignored once it is gone)."""
        if process.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.popen.pid, signum)

    def stop(self, process: ContainerProcess) -> None:
        """Ask a running container to stop (SIGTERM to its group); not counted as a failure."""
        if process.running:
            process.stopped = True
            self.signal_process(process, signal.SIGTERM)

    def kill(self, process: ContainerProcess) -> None:
        """SIGKILL the whole group of ``process``."""
        if process.popen is not None:
            if process.running:
                process.stopped = True
            self.signal_process(process, signal.SIGKILL)

    def reap(self) -> list[ContainerProcess]:
        """Collect exited containers; their leftover group members are killed, as when a
        container's main process ends."""
        finished: list[ContainerProcess] = []
        for process in self.processes:
            if process.popen is None or process.returncode is not None:
                continue
            code = process.popen.poll()
            if code is None:
                continue
            process.returncode = code
            process.finished_at = time.monotonic()
            self.signal_process(process, signal.SIGKILL)
            finished.append(process)
        return finished

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for output, a signal, a child exit or a reader."""
        try:
            events = self._selector.select(max(0.0, timeout))
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            return
        for key, _ in events:
            data = key.data
            if data is None:
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    while os.read(self._wake_r, 512):
                        pass
            elif isinstance(data, ContainerProcess):
                self._pump(data)
            elif isinstance(data, tuple) and data[0] == "extra":
                self._extra[data[1]]()

    def drain(self) -> None:
        """Read whatever output is still buffered in the pipes of exited containers."""
        for process in self.processes:
            if process.pipe_open and process.returncode is not None:
                self._pump(process, final=True)

    @property
    def pipes_open(self) -> bool:
        """Whether some container's output pipe has not reached end-of-file."""
        return any(p.pipe_open for p in self.processes)

    def force_close_pipes(self) -> None:
        """Stop waiting for output (a descendant escaped the group and holds the pipe)."""
        for process in self.processes:
            if process.pipe_open:
                self._flush_partial(process)
                self._close_pipe(process)

    def _pump(self, process: ContainerProcess, *, final: bool = False) -> None:
        popen = process.popen
        if popen is None or popen.stdout is None or not process.pipe_open:
            return
        fd = popen.stdout.fileno()
        while True:
            try:
                chunk = os.read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                chunk = b""
            if not chunk:
                self._flush_partial(process)
                self._close_pipe(process)
                return
            self._emit(process, chunk)
            if not final:
                break

    def _emit(self, process: ContainerProcess, chunk: bytes) -> None:
        buffer = process._partial
        buffer.extend(chunk)
        prefix = f"[{process.name}] ".encode()
        lines: list[bytes] = []
        start = 0
        while True:
            newline = buffer.find(b"\n", start)
            if newline < 0:
                break
            lines.append(prefix + bytes(buffer[start : newline + 1]))
            start = newline + 1
        del buffer[:start]
        if len(buffer) > _MAX_PARTIAL:
            lines.append(prefix + bytes(buffer) + b"\n")
            buffer.clear()
        if lines:
            self._write(b"".join(lines))

    def _flush_partial(self, process: ContainerProcess) -> None:
        if process._partial:
            self._write(f"[{process.name}] ".encode() + bytes(process._partial) + b"\n")
            process._partial.clear()

    def _write(self, data: bytes) -> None:
        try:
            self.out.write(data)
            self.out.flush()
        except BrokenPipeError:
            pass

    def _close_pipe(self, process: ContainerProcess) -> None:
        popen = process.popen
        if popen is None or popen.stdout is None:
            process.pipe_open = False
            return
        if process.pipe_open:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(popen.stdout.fileno())
        process.pipe_open = False
        with contextlib.suppress(OSError):
            popen.stdout.close()

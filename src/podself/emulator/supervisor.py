"""Container processes: start, stream output, notice exits, stop with a grace period.

Each container runs in its own process group, so a stop signal reaches the whole container
(``sh -c`` and its children). On Linux every process of a container is also tracked, so one
that leaves the group (``setsid``, a double fork) still dies with the container: a cgroup per
container where the cgroup filesystem is writable, else podself becomes a child subreaper and
sweeps the process tree (``emulator.tracking``).

Output goes straight to podself's stdout and stderr when the pod has one container, or through
pipes with a ``[name] `` prefix per line when it has several. podself never blocks on its own
output: it writes without blocking from a bounded buffer and stops reading the containers'
pipes while that buffer is full (they then wait, as they would writing to the terminal), so
timeouts and signals are always honoured even when nobody reads podself's stdout
(``emulator.output``).
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
from collections.abc import Callable
from types import FrameType
from typing import BinaryIO, Final

from podself.emulator.output import OutputChannel
from podself.emulator.tracking import ContainerProcess, ProcessTracker

__all__ = ["Supervisor", "exit_code"]

# Reads are small enough that one chunk, prefixed line by line, stays far below the limit
# (16 KiB of empty lines with a 66-byte prefix is about 1.1 MB).
_READ_SIZE: Final = 16384
_MAX_PARTIAL: Final = 65536
_MAX_DRAIN_READS: Final = 64  # per drain: a writer that never stops cannot hold podself
_PAUSE_AT: Final = 256 << 10  # stop reading the containers' pipes above this backlog
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def exit_code(returncode: int) -> int:
    """A shell-style exit code: ``128 + N`` for a process killed by signal ``N``."""
    return 128 - returncode if returncode < 0 else returncode


class Supervisor:
    """Runs :class:`ContainerProcess` objects and waits for output, exits and signals.

    ``prefix`` selects pipes with ``[name]`` prefixes; ``out`` receives prefixed output;
    ``err``, when given, is a channel for podself's own messages that :meth:`wait` keeps
    flushing too. Use as a context manager: it installs SIGINT/SIGTERM/SIGHUP/SIGCHLD
    handlers (when in the main thread) and restores the previous ones on exit.
    """

    def __init__(
        self,
        *,
        prefix: bool,
        out: BinaryIO,
        err: OutputChannel | None = None,
        track: bool = True,
    ) -> None:
        self.prefix = prefix
        self.out = OutputChannel(out)
        self.err = err
        self.tracker = ProcessTracker(use_cgroups=track)
        self._paused = False
        self._child_exited = False
        self._writing: set[int] = set()
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
        if self._old_wakeup is not None:
            signal.set_wakeup_fd(self._old_wakeup)
            self._old_wakeup = None
        self.close()  # the clean-up may take a moment: a signal now is only recorded
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._old_handlers.clear()

    @property
    def wakes_on_signals(self) -> bool:
        """Whether signals (SIGCHLD included) wake :meth:`wait` (only in the main thread)."""
        return bool(self._old_handlers)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGCHLD:
            self._child_exited = True
        else:
            self.signals.append(signum)

    def close(self) -> None:
        """Kill what is left of the containers, close the pipes and the selector (after every
        main process has been reaped) and drop output nobody reads."""
        self.tracker.close()
        for process in self.processes:
            self._close_pipe(process)
        self.out.close()
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
        self.tracker.prepare(process)
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
        self.tracker.started(process)
        if self.prefix and popen.stdout is not None:
            fd = popen.stdout.fileno()
            os.set_blocking(fd, False)
            if not self._paused:
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
        """SIGKILL the whole group of ``process`` and every tracked process of it (once
        reaped, :meth:`reap` has done so: its pid may belong to someone else by now)."""
        if process.running:
            process.stopped = True
            self.signal_process(process, signal.SIGKILL)
            self.tracker.kill(process)

    def reap(self) -> list[ContainerProcess]:
        """Collect exited containers; their leftover processes are killed, as when a
        container's main process ends."""
        if self._child_exited or not self.wakes_on_signals:
            self._child_exited = False
            self.tracker.reap_orphans()
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
            self.tracker.kill(process)
            finished.append(process)
        return finished

    def wait(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for output, a signal, a child exit, a reader, or
        room for podself's own output."""
        self._flow()
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
        self._flush_output()

    def _channels(self) -> list[OutputChannel]:
        return [self.out] if self.err is None else [self.out, self.err]

    def _flush_output(self) -> None:
        for channel in self._channels():
            channel.flush()

    def _flow(self) -> None:
        """Watch the outputs that have a backlog; read the containers' pipes only while
        podself's stdout keeps up (backpressure instead of blocking or unbounded memory)."""
        self._flush_output()
        wanted = {c.fd for c in self._channels() if c.backlog and c.fd is not None}
        for fd in self._writing - wanted:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
        for fd in wanted - self._writing:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.register(fd, selectors.EVENT_WRITE, ("write", fd))
        self._writing = wanted & {key.fd for key in self._selector.get_map().values()}
        paused = self.out.backlog >= _PAUSE_AT
        if paused == self._paused:
            return
        self._paused = paused
        for process in self.processes:
            if not process.pipe_open or process.popen is None or process.popen.stdout is None:
                continue
            fd = process.popen.stdout.fileno()
            with contextlib.suppress(KeyError, ValueError):
                if paused:
                    self._selector.unregister(fd)
                else:
                    self._selector.register(fd, selectors.EVENT_READ, process)

    @property
    def output_pending(self) -> bool:
        """Whether container output still waits for podself's stdout to be read."""
        return self.out.backlog > 0

    def drain(self) -> None:
        """Read what is still buffered in the pipes of exited containers (as far as
        podself's stdout keeps up)."""
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
        reads = 0
        while self.out.backlog < _PAUSE_AT and reads < _MAX_DRAIN_READS:
            reads += 1
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
        self.out.write(data)

    def _close_pipe(self, process: ContainerProcess) -> None:
        popen = process.popen
        if popen is None or popen.stdout is None:
            process.pipe_open = False
            return
        if process.pipe_open:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(popen.stdout.fileno())
        process.pipe_open = False
        with contextlib.suppress(OSError):
            popen.stdout.close()

"""Container output: pipes read without blocking, lines prefixed, a bounded buffer towards
podself's own stdout and stderr that never blocks podself (see :class:`OutputChannel`)."""

from __future__ import annotations

import contextlib
import io
import os
import selectors
import stat
import sys
import time
from typing import IO, Any, Final

_MAX_PENDING: Final = 4 << 20  # bytes of podself's output held for a slow reader
_PIPE_BUF: Final = 512  # POSIX: a pipe takes a write of this size whole once poll says so


class OutputChannel:
    """One of podself's own output streams, written without ever blocking.

    On Linux a pipe or terminal is reopened through ``/proc/self/fd`` as a separate open
    file that is non-blocking (setting ``O_NONBLOCK`` on the shared one would leak to the
    shell and the other writers); elsewhere a write waits for ``poll`` to report room and
    writes at most ``PIPE_BUF`` bytes, which a pipe then takes whole. Regular files and
    in-memory streams are written directly. At most ``limit`` bytes wait for the reader;
    more is dropped and counted in :attr:`dropped`.
    """

    def __init__(self, stream: IO[Any], *, limit: int = _MAX_PENDING) -> None:
        self.stream = stream
        self.limit = limit
        self.pending = bytearray()
        self.dropped = 0
        self.fd: int | None = None
        self._own_fd = False
        self._broken = False  # the reader is gone (what it misses is not counted as dropped)
        self._closed = False
        self._direct = True  # written straight to ``stream`` (it cannot make us wait)
        try:
            fd = stream.fileno()
            stream.flush()
            mode = os.fstat(fd).st_mode
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            return
        if stat.S_ISREG(mode):
            return
        self._direct = False
        if sys.platform.startswith("linux") and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
            flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
            try:
                self.fd = os.open(f"/proc/self/fd/{fd}", flags)
                self._own_fd = True
                return
            except OSError:
                pass
        self.fd = fd

    def write(self, data: bytes) -> None:
        """Queue ``data`` (dropping what exceeds the limit) and write what fits now."""
        if self._direct:
            with contextlib.suppress(BrokenPipeError, ValueError):
                if isinstance(self.stream, io.TextIOBase):
                    self.stream.write(data.decode("utf-8", "replace"))
                else:
                    self.stream.write(data)
                self.stream.flush()
            return
        if self._closed:
            self.dropped += len(data)
            return
        if self._broken:
            return
        room = max(0, self.limit - len(self.pending))
        if len(data) > room:
            self.dropped += len(data) - room
            data = data[:room]
        self.pending += data
        self.flush()

    def flush(self) -> bool:
        """Write as much of the queue as the reader takes without waiting; whether any was."""
        fd = self.fd
        progress = False
        while self.pending and fd is not None and not self._broken:
            size = len(self.pending)
            if not self._own_fd:
                if not _writable(fd):
                    break
                size = min(size, _PIPE_BUF)
            try:
                written = os.write(fd, self.pending[:size])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # EPIPE and the like: nobody will read the rest
                self._broken = True
                self.pending.clear()
                break
            del self.pending[:written]
            progress = True
        return progress

    @property
    def backlog(self) -> int:
        """Bytes waiting for the reader."""
        return len(self.pending)

    def finish(self, timeout: float) -> None:
        """Flush for at most ``timeout`` seconds, then drop the rest and close."""
        deadline = time.monotonic() + timeout
        while self.pending and self.fd is not None and not self._broken:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not self.flush():
                _writable(self.fd, min(left, 0.05))
        self.close()

    def close(self) -> None:
        """Drop what is still queued (counted) and close the reopened file; later writes
        are dropped too."""
        self.dropped += len(self.pending)
        self.pending.clear()
        if self._own_fd and self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
        self.fd = None
        self._own_fd = False
        self._direct = False
        self._closed = True


def _writable(fd: int, timeout: float = 0.0) -> bool:
    with selectors.DefaultSelector() as selector:
        try:
            selector.register(fd, selectors.EVENT_WRITE)
        except (OSError, ValueError):
            return True  # not pollable (e.g. a regular file): writes do not wait
        return bool(selector.select(timeout))

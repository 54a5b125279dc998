"""The ``signal`` action: signal a process named by pid, pidfile or name, safely."""

from __future__ import annotations

import os
import signal

from podself.errors import ActionError
from podself.reloader.changes import Batch
from podself.reloader.engine import Action

PID_MAX = 4194304  # PID_MAX_LIMIT on 64-bit Linux: no pid is ever larger
_MAX_PIDFILE = 64  # bytes; a pid and a newline need 8


def is_pid(text: str) -> bool:
    # ASCII digits only ("²".isdigit() is true), and within what os.kill can be given.
    return text.isascii() and text.isdigit() and 1 <= int(text) <= PID_MAX


def signame(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Signal(Action):
    """Send a signal to a pid, the pid in a pidfile, or every process with a name.

    A pid is signalled only while it still names the process first seen there (its start
    time, field 22 of ``/proc/<pid>/stat``, is unchanged), never this process, and pid 1 only
    when given as ``pid=1`` (``--pid 1``). On Linux the check and the signal go through one
    pidfd, so a pid reused in between cannot be hit.
    """

    def __init__(
        self,
        sig: signal.Signals,
        *,
        pid: int | None = None,
        pidfile: str | os.PathLike[str] | None = None,
        process_name: str | None = None,
    ) -> None:
        targets = [
            (kind, target)
            for kind, target in (
                ("pid", None if pid is None else str(pid)),
                ("pidfile", None if pidfile is None else os.fspath(pidfile)),
                ("process", process_name),
            )
            if target is not None
        ]
        if len(targets) != 1:
            msg = "Signal: give exactly one of pid, pidfile and process_name"
            raise ValueError(msg)
        self.sig = sig
        self.kind, self.target = targets[0]
        if self.kind == "pid" and not is_pid(self.target):
            msg = f"pid {self.target}: must be a positive integer (at most {PID_MAX})"
            raise ValueError(msg)
        self.label = f"signal {sig.name} → {self.kind} {self.target}"
        # (pid, pidfile identity) -> start time of the process first seen with them
        self._known: tuple[object, int] | None = None

    def run(self, batch: Batch) -> str:
        if self.kind == "pid":
            pid = int(self.target)
            return self._send(pid, self._remember(pid, _start_time(pid)))
        if self.kind == "pidfile":
            pid, identity, owner = self._read_pidfile()
            if pid == 1:
                msg = (
                    f"pidfile {self.target}: pid 1 is the container's init (with "
                    "shareProcessNamespace: true, the pause process), not the app; refusing "
                    "(give pid 1 itself, --pid 1, to signal it on purpose)"
                )
                raise ActionError(msg)
            uids = _uids(pid)
            if owner != 0 and uids is not None and owner not in uids:
                # Whoever wrote the file could not signal that process itself: the sidecar
                # must not lend it the right (kill(2) compares with the real and saved uid).
                msg = (
                    f"pidfile {self.target}: written by uid {owner}, but pid {pid} runs as "
                    f"uid {uids[0]}; refusing (a pidfile may name only its owner's processes)"
                )
                raise ActionError(msg)
            return self._send(pid, self._remember((pid, identity), _start_time(pid)))
        found = _pids_named(self.target)
        if not found:
            msg = f'no process named "{self.target}"'
            raise ActionError(msg)
        return ", ".join(self._send(pid, start) for pid, start in found)

    def _remember(self, key: object, start: int | None) -> int | None:
        """The start time first seen for ``key`` (recorded now if it is new)."""
        if self._known is not None and self._known[0] == key:
            return self._known[1]
        if start is not None:
            self._known = (key, start)
        return start

    def _read_pidfile(self) -> tuple[int, tuple[int, int, int, int], int]:
        """The pid in the pidfile, the file's identity (device, inode, mtime, size) and owner.

        Opened without blocking (a FIFO would hang) or following a symlink, and read only if
        it is a small regular file: the file is written by another container.
        """
        import stat

        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        try:
            fd = os.open(self.target, flags)
        except FileNotFoundError:
            msg = f"pidfile {self.target}: no such file"
            raise ActionError(msg) from None
        except OSError as err:
            if os.path.islink(self.target):
                msg = (
                    f"pidfile {self.target}: is a symbolic link; refusing (must be a regular file)"
                )
            else:
                msg = f"pidfile {self.target}: {err.strerror or err}"
            raise ActionError(msg) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                msg = f"pidfile {self.target}: not a regular file; refusing"
                raise ActionError(msg)
            if info.st_size > _MAX_PIDFILE:
                msg = (
                    f"pidfile {self.target}: {info.st_size} bytes, too large for a pid "
                    f"({_MAX_PIDFILE} at most)"
                )
                raise ActionError(msg)
            data = os.read(fd, _MAX_PIDFILE + 1)
        except OSError as err:
            msg = f"pidfile {self.target}: {err.strerror or err}"
            raise ActionError(msg) from None
        finally:
            os.close(fd)
        text = data.strip().decode("ascii", "replace")
        if len(data) > _MAX_PIDFILE or not is_pid(text):
            # Shown only when it is digits: the file may not be what it claims to be.
            shown = f'"{text}"' if text.isascii() and text.isdigit() else "its content"
            msg = f"pidfile {self.target}: {shown} is not a pid"
            raise ActionError(msg)
        return int(text), (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size), info.st_uid

    def _send(self, pid: int, start: int | None) -> str:
        if pid == os.getpid():
            msg = f"pid {pid} is this podself watch process; refusing"
            raise ActionError(msg)
        handle = None
        try:
            handle = _pidfd(pid)
            now = _start_time(pid)
            if start is not None and now is not None and now != start:
                msg = (
                    f"pid {pid} now belongs to another process than the one first seen there "
                    "(the pid was reused); refusing"
                )
                raise ActionError(msg)
            if handle is not None:
                signal.pidfd_send_signal(handle, self.sig)
            else:
                os.kill(pid, self.sig)
        except ProcessLookupError:
            msg = f"pid {pid}: no such process"
            raise ActionError(msg) from None
        except PermissionError:
            msg = (
                f"pid {pid}: permission denied (signalling another container's "
                "process needs the same user or CAP_KILL)"
            )
            raise ActionError(msg) from None
        finally:
            if handle is not None:
                os.close(handle)
        return f"sent to pid {pid}"


def _pidfd(pid: int) -> int | None:
    """A pidfd pinning ``pid`` (Linux 5.3+), or ``None`` where there is none."""
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except OSError:  # ENOSYS (old kernel), EMFILE...: plain kill() after the check
        return None


def _uids(pid: int) -> tuple[int, int] | None:
    """The real and saved uid of ``pid`` (``/proc/<pid>/status``), or ``None`` if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle.read(8192).splitlines():
                if line.startswith(b"Uid:"):
                    real, _, saved = line.split()[1:4]
                    return int(real), int(saved)
    except (OSError, ValueError):
        pass
    return None


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22): with
    the pid it names one process for good. ``None`` without ``/proc`` or once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read(4096)
        # The name (field 2) may hold spaces and parentheses: count from its closing one.
        return int(data.rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pids_named(name: str) -> list[tuple[int, int | None]]:
    """Pids whose ``comm`` or ``argv[0]`` base name is ``name`` (not this process), with
    their start times."""
    found: list[tuple[int, int | None]] = []
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        start = _start_time(int(entry))
        try:
            with open(f"/proc/{entry}/comm", "rb") as handle:
                comm = handle.read(64).rstrip(b"\n").decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv0 = handle.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            continue  # exited meanwhile, or not ours to look at
        if name in {comm, os.path.basename(argv0)}:
            found.append((int(entry), start))
    return sorted(found)

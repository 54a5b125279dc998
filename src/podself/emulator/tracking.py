"""Every process of a container, tracked so that none outlives it: a cgroup per container where
the cgroup filesystem is writable (``cgroup.kill`` on v2, the freezer on v1), else podself as a
child subreaper sweeping the process tree; the containers' cpu and memory limits go into the
same cgroups (see :class:`ProcessTracker`)."""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, NamedTuple

from podself.cgroups import shares_to_weight
from podself.emulator.mounts import SETUP_FAILED_EXIT, parse_mountinfo, reap_child
from podself.emulator.resize import CgroupValues
from podself.emulator.state import process_alive, process_token

_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_CHILD_SUBREAPER: Final = 36
PR_GET_CHILD_SUBREAPER: Final = 37
_KILL_WAIT: Final = 2.0  # seconds SIGKILLed processes get to disappear before giving up
_MAX_CGROUPS: Final = 1024  # cgroup directories walked under one run
_RUN_CGROUP: Final = re.compile(r"podself-([0-9]+)-([0-9]+)-[0-9]+")
_RUNS: Final = itertools.count()  # several supervisors may live in one process


# --- process tracking (Linux) -------------------------------------------------------------


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            return handle.read(1 << 20)
    except OSError:
        return None


def _write_text(path: str, text: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        os.write(fd, text.encode())
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


def _own_cgroup() -> tuple[str, int] | None:
    """podself's own cgroup directory and its version (2, or 1 for a v1 freezer hierarchy),
    when this process can create cgroups there; else None."""
    own = _read_text("/proc/self/cgroup")
    mountinfo = _read_text("/proc/self/mountinfo")
    if own is None or mountinfo is None:
        return None
    wanted: list[tuple[int, str]] = []
    for line in own.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            wanted.insert(0, (2, parts[2]))
        elif "freezer" in parts[1].split(","):
            wanted.append((1, parts[2]))
    pid = str(os.getpid())
    mounts = parse_mountinfo(mountinfo)
    for version, path in wanted:
        fs_type = "cgroup2" if version == 2 else "cgroup"
        for mount in mounts:
            if mount.fs_type != fs_type or (version == 1 and "freezer" not in mount.super_options):
                continue
            directory = os.path.join(mount.mount_point, path.lstrip("/")).rstrip("/")
            procs = _read_text(os.path.join(directory, "cgroup.procs"))
            if procs is not None and pid in procs.split() and os.access(directory, os.W_OK):
                return directory, version
    return None


def _own_v1_dirs(controllers: Sequence[str]) -> dict[str, str]:
    """podself's own cgroup directory in the v1 hierarchy of each of ``controllers`` where it
    may create cgroups (``{"cpu": ..., "memory": ...}``; co-mounted ones share a directory)."""
    own = _read_text("/proc/self/cgroup")
    mountinfo = _read_text("/proc/self/mountinfo")
    if own is None or mountinfo is None:
        return {}
    pid = str(os.getpid())
    mounts = [m for m in parse_mountinfo(mountinfo) if m.fs_type == "cgroup"]
    found: dict[str, str] = {}
    for line in own.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in controllers:
            if controller not in parts[1].split(",") or controller in found:
                continue
            for mount in mounts:
                if controller not in mount.super_options:
                    continue
                directory = os.path.join(mount.mount_point, parts[2].lstrip("/")).rstrip("/")
                procs = _read_text(os.path.join(directory, "cgroup.procs"))
                if procs is not None and pid in procs.split() and os.access(directory, os.W_OK):
                    found[controller] = directory
                    break
    return found


def _cgroup_dirs(top: str) -> list[str]:
    """``top`` and the cgroups below it, deepest first (at most ``_MAX_CGROUPS``)."""
    found: list[str] = []
    for current, subdirs, _ in os.walk(top):
        found.append(current)
        if len(found) >= _MAX_CGROUPS:
            subdirs.clear()
    return found[::-1]


def _cgroup_members(top: str) -> set[int]:
    members: set[int] = set()
    for directory in _cgroup_dirs(top):
        text = _read_text(os.path.join(directory, "cgroup.procs")) or ""
        members.update(int(pid) for pid in text.split() if pid.isdigit())
    return members


def _kill_cgroup(top: str, version: int) -> None:
    """SIGKILL every process in ``top`` and below, then remove those cgroups (bounded wait).

    v2 kills atomically with ``cgroup.kill``; otherwise the cgroup is frozen while each
    member gets SIGKILL, so none can fork in between, and thawed so they can die.
    """
    if not os.path.isdir(top):
        return
    if not (version == 2 and _write_text(os.path.join(top, "cgroup.kill"), "1")):
        knob, frozen, thawed = (
            ("cgroup.freeze", "1", "0") if version == 2 else ("freezer.state", "FROZEN", "THAWED")
        )
        _write_text(os.path.join(top, knob), frozen)
        _signal_all(_cgroup_members(top), signal.SIGKILL)
        _write_text(os.path.join(top, knob), thawed)
    deadline = time.monotonic() + _KILL_WAIT
    while True:
        members = _cgroup_members(top)
        if not members or time.monotonic() >= deadline:
            break
        _signal_all(members, signal.SIGKILL)
        time.sleep(0.005)
    for directory in _cgroup_dirs(top):
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def _write_all(directory: str, writes: Sequence[tuple[str, str]]) -> list[str]:
    """Write each ``(file, text)`` in ``directory``; the failures, as messages."""
    problems: list[str] = []
    for name, text in writes:
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            problems.append(f'cannot write "{path}": {exc.strerror or exc}')
            continue
        try:
            os.write(fd, text.encode())
        except OSError as exc:
            problems.append(f'cannot write {text} to "{path}": {exc.strerror or exc}')
        finally:
            os.close(fd)
    return problems


def _signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        if pid > 1 and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)


class _Proc(NamedTuple):
    ppid: int
    pgid: int
    start: int  # clock ticks since boot
    state: str  # "Z" for a zombie


def _proc_table() -> dict[int, _Proc]:
    """Every process, from ``/proc/<pid>/stat``."""
    table: dict[int, _Proc] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                raw = handle.read(4096)
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2 :].split()
        if len(fields) > 19:
            state = fields[0].decode("ascii", "replace")
            table[int(entry)] = _Proc(int(fields[1]), int(fields[2]), int(fields[19]), state)
    return table


def _descendants(roots: Iterable[int], table: Mapping[int, _Proc]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, proc in table.items():
        children.setdefault(proc.ppid, []).append(pid)
    found: set[int] = set()
    stack = [pid for pid in roots if pid in table]
    while stack:
        pid = stack.pop()
        if pid in found:
            continue
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return found


def _now_ticks() -> int:
    """The current time in the unit of ``/proc/<pid>/stat`` start times (0 if unknown)."""
    uptime = _read_text("/proc/uptime")
    try:
        return int(float((uptime or "").split()[0]) * os.sysconf("SC_CLK_TCK"))
    except (IndexError, ValueError, OSError):
        return 0


class _JoinCgroup:
    """A ``preexec_fn``: move the child into its container's cgroup (and its cpu and memory
    cgroups of cgroup v1, ``also``), then run ``then``."""

    def __init__(
        self,
        procs_file: str,
        name: str,
        then: Callable[[], None] | None,
        also: Sequence[str] = (),
    ) -> None:
        self.procs_file = procs_file
        self.name = name
        self.then = then
        self.also = tuple(also)

    def __call__(self) -> None:
        pid = str(os.getpid())
        if not all(_write_text(path, pid) for path in (self.procs_file, *self.also)):
            text = f'podself run: container "{self.name}": cannot join its cgroup\n'
            os.write(2, text.encode("utf-8", "replace"))
            os._exit(SETUP_FAILED_EXIT)
        if self.then is not None:
            self.then()


class ProcessTracker:
    """Finds every process of each container, so a stop leaves none behind.

    ``cgroup`` (Linux, where podself may create cgroups next to its own, e.g. as root): the
    run gets a cgroup ``podself-<pid>-<start time>-<n>`` and each container a cgroup below it,
    joined by the child before ``exec``. ``setsid`` or a double fork does not leave a cgroup,
    and killing it is ``cgroup.kill`` (v2) or freeze, SIGKILL each member, thaw (v1
    freezer). A guard process (a fork of podself that only waits for a pipe to close) kills
    the run's cgroup when podself dies, even by SIGKILL; a run cgroup whose owner is gone is
    also killed and removed by the next ``podself run`` started from the same cgroup.

    ``subreaper`` (other Linux): podself becomes a child subreaper, so orphans of its
    containers are re-parented to it rather than to init; a container's processes are its
    main process and their descendants (``/proc`` parent links), and adopted orphans are
    killed and reaped when the pod ends. A ``kill -9`` of podself leaves them to init.

    ``none`` (macOS, no ``/proc``): process groups only.
    """

    def __init__(self, *, use_cgroups: bool = True) -> None:
        self.mode = "none"
        self.run_cgroup: str | None = None
        self.version = 0
        self._count = 0
        self._guard: int | None = None
        self._guard_fd: int | None = None
        self._since = 0
        self._known: set[int] = set()
        self._unset_subreaper = False
        # Where each container's cpu and memory cgroups go: {controller: the run's directory}.
        self.limit_roots: dict[str, str] = {}
        self.limit_version = 0
        self.limits_note = "no cgroups here (Linux only)"
        if not sys.platform.startswith("linux") or not os.path.isdir("/proc/self"):
            return
        self.limits_note = "podself may not create cgroups here (run as root, or delegate one)"
        own = _own_cgroup() if use_cgroups else None
        if own is not None:
            directory, version = own
            _sweep_stale(directory, version)
            token = process_token(os.getpid()).replace(":", "-")
            name = f"podself-{token}-{next(_RUNS)}"
            try:
                os.mkdir(os.path.join(directory, name))
            except OSError:
                pass
            else:
                self.mode, self.version = "cgroup", version
                self.run_cgroup = os.path.join(directory, name)
                self._start_guard()
                self._limit_roots(directory, name)
                return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            already = ctypes.c_int(0)
            libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(already), 0, 0, 0)
            if already.value or libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
                self.mode = "subreaper"
                self._since = _now_ticks()
                self._unset_subreaper = not already.value
        except (OSError, AttributeError):
            pass

    def _limit_roots(self, own: str, name: str) -> None:
        """Find or make the run's cgroups where containers get their cpu and memory limits:
        the run cgroup itself on v2 (once its cpu and memory controllers are enabled), else
        (v1, or the hybrid layout where those controllers are v1's) a cgroup of the same name
        beside podself's own in the v1 cpu and memory hierarchies."""
        assert self.run_cgroup is not None
        wanted = ("cpu", "memory")
        if self.version == 2:
            controllers = os.path.join(self.run_cgroup, "cgroup.controllers")
            if not set((_read_text(controllers) or "").split()).issuperset(wanted):
                _write_text(os.path.join(own, "cgroup.subtree_control"), "+cpu +memory")
            if set((_read_text(controllers) or "").split()).issuperset(wanted) and _write_text(
                os.path.join(self.run_cgroup, "cgroup.subtree_control"), "+cpu +memory"
            ):
                self.limit_roots = dict.fromkeys(wanted, self.run_cgroup)
                self.limit_version = 2
                return
        dirs = _own_v1_dirs(wanted)
        missing = [c for c in wanted if c not in dirs]
        if missing:
            self.limits_note = (
                f'the cpu and memory controllers cannot be enabled below "{own}" (cgroup v2 '
                "allows it only in a cgroup without processes of its own)"
                if self.version == 2
                else f"no writable cgroup v1 {' and '.join(missing)} hierarchy"
            )
            return
        roots: dict[str, str] = {}
        for controller in wanted:
            root = os.path.join(dirs[controller], name)
            if root not in roots.values():
                _sweep_stale(dirs[controller], 1)
                try:
                    os.mkdir(root)
                except OSError as exc:
                    self.limits_note = f'cannot create "{root}": {exc.strerror or exc}'
                    self._remove_limit_roots(roots)
                    return
            roots[controller] = root
        self.limit_roots = roots
        self.limit_version = 1

    def _remove_limit_roots(self, roots: Mapping[str, str]) -> None:
        if self.limit_version == 1:
            for root in set(roots.values()):
                _kill_cgroup(root, 1)

    def _start_guard(self) -> None:
        assert self.run_cgroup is not None
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no guard: a kill -9 of podself leaves the sweep by the next run
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # pragma: no cover - the guard process
            try:
                os.setsid()  # out of podself's group: a kill of the group spares the guard
                for signum in (*_STOP_SIGNALS, signal.SIGPIPE):
                    signal.signal(signum, signal.SIG_IGN)
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                os.closerange(3, read_fd)
                os.closerange(read_fd + 1, 1 << 16)
                while True:
                    try:
                        if not os.read(read_fd, 64):
                            break
                    except InterruptedError:
                        continue
                _kill_cgroup(self.run_cgroup, self.version)
            finally:
                os._exit(0)
        os.close(read_fd)
        self._guard, self._guard_fd = pid, write_fd

    def prepare(self, process: ContainerProcess) -> None:
        """Give ``process`` its cgroup (before it starts)."""
        if self.mode != "cgroup" or self.run_cgroup is None:
            return
        leaf = str(self._count)
        directory = os.path.join(self.run_cgroup, leaf)
        self._count += 1
        try:
            os.mkdir(directory)
        except OSError:
            return  # tracked by its process group only
        process.cgroup = directory
        also: list[str] = []
        for controller, root in self.limit_roots.items():
            limit_dir = os.path.join(root, leaf)
            if limit_dir != directory and limit_dir not in process.limit_dirs.values():
                try:
                    os.mkdir(limit_dir)
                except OSError:
                    continue  # checked by set_limits
                also.append(os.path.join(limit_dir, "cgroup.procs"))
            process.limit_dirs[controller] = limit_dir
        if process.limits is not None:
            process.limit_problems = self.set_limits(process, process.limits)
        process.preexec = _JoinCgroup(
            os.path.join(directory, "cgroup.procs"), process.name, process.preexec, also
        )

    def set_limits(self, process: ContainerProcess, values: CgroupValues) -> list[str]:
        """Write ``values`` into the container's cpu and memory cgroups, as a container
        runtime's ``UpdateContainerResources`` does; return what could not be done (empty
        when all is written). A memory limit below the container's usage is not written: the
        kubelet checks the same before it lowers a limit, and leaves the resize in progress;
        ``process.limits`` then keeps the memory limit in force."""
        if not process.limit_dirs:
            return [f"limits not enforced: {self.limits_note}"]
        problems: list[str] = []
        applied = values
        v2 = self.limit_version == 2
        cpu_dir = process.limit_dirs.get("cpu")
        if cpu_dir is not None:
            quota = values.cpu_quota_us
            period = values.cpu_period_us
            if v2:
                writes = [
                    ("cpu.max", f"{'max' if quota is None else quota} {period}"),
                    ("cpu.weight", str(shares_to_weight(values.cpu_shares))),
                ]
            else:
                writes = [
                    ("cpu.cfs_period_us", str(period)),
                    ("cpu.cfs_quota_us", str(-1 if quota is None else quota)),
                    ("cpu.shares", str(values.cpu_shares)),
                ]
            problems.extend(_write_all(cpu_dir, writes))
        memory_dir = process.limit_dirs.get("memory")
        if memory_dir is not None:
            limit = values.memory_limit_bytes
            usage_file = "memory.current" if v2 else "memory.usage_in_bytes"
            usage = _read_text(os.path.join(memory_dir, usage_file)) or ""
            if limit is not None and usage.strip().isdigit() and int(usage) > limit:
                problems.append(
                    f"memory limit {limit} bytes is below the container's usage "
                    f"({int(usage)} bytes): not lowered"
                )
                kept = process.limits.memory_limit_bytes if process.limits is not None else None
                applied = values._replace(memory_limit_bytes=kept)
            else:
                knob = "memory.max" if v2 else "memory.limit_in_bytes"
                text = ("max" if v2 else "-1") if limit is None else str(limit)
                problems.extend(_write_all(memory_dir, [(knob, text)]))
        process.limits = applied
        return problems

    def describe_limits(self, process: ContainerProcess) -> str:
        """Where ``process``'s limits live, for messages."""
        if not process.limit_dirs:
            return f"not enforced: {self.limits_note}"
        return ", ".join(sorted(set(process.limit_dirs.values())))

    def started(self, process: ContainerProcess) -> None:
        """Remember a started main process (it is no adopted orphan)."""
        if process.pid is not None:
            self._known.add(process.pid)

    def kill(self, process: ContainerProcess) -> None:
        """SIGKILL every process of ``process``'s container that can still be found."""
        if process.cgroup:
            _kill_cgroup(process.cgroup, self.version)
            for limit_dir in set(process.limit_dirs.values()) - {process.cgroup}:
                _kill_cgroup(limit_dir, self.limit_version)
        elif self.mode == "subreaper" and process.running and process.pid is not None:
            _signal_all(_descendants([process.pid], _proc_table()), signal.SIGKILL)

    def _adopted(self, table: Mapping[int, _Proc]) -> list[int]:
        """Children of podself that it did not start: orphans of its containers. (They
        started after the supervisor, outside podself's process group, so the children of
        a program that embeds the supervisor are left alone.)"""
        me, group = os.getpid(), os.getpgrp()
        return [
            pid
            for pid, proc in table.items()
            if proc.ppid == me
            and proc.pgid != group
            and proc.start >= self._since
            and pid not in self._known
        ]

    def reap_orphans(self) -> None:
        """Reap adopted orphans that have exited (subreaper mode)."""
        if self.mode != "subreaper":
            return
        table = _proc_table()
        for pid in self._adopted(table):
            if table[pid].state == "Z":
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    def close(self) -> None:
        """Kill whatever is left of every container, stop the guard, undo the subreaper."""
        if self.run_cgroup is not None:
            _kill_cgroup(self.run_cgroup, self.version)
            self._remove_limit_roots(self.limit_roots)
            self.limit_roots = {}
            self.run_cgroup = None
        if self._guard_fd is not None:
            os.close(self._guard_fd)
            self._guard_fd = None
        if self._guard is not None:
            reap_child(self._guard, 1.0)
            self._guard = None
        if self.mode == "subreaper":
            self._sweep_orphans()
            if self._unset_subreaper:  # leave a subreaper set by the embedding program alone
                with contextlib.suppress(OSError, AttributeError):
                    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
            self.mode = "none"

    def _sweep_orphans(self) -> None:
        deadline = time.monotonic() + _KILL_WAIT
        while True:
            table = _proc_table()
            adopted = self._adopted(table)
            if not adopted:
                return
            _signal_all(_descendants(adopted, table), signal.SIGKILL)
            for pid in adopted:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
            if time.monotonic() >= deadline:
                return
            time.sleep(0.005)


def _sweep_stale(directory: str, version: int) -> None:
    """Kill and remove run cgroups left by a ``podself run`` that no longer exists."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        match = _RUN_CGROUP.fullmatch(name)
        if match is None:
            continue
        pid, start = match.groups()
        if not process_alive(int(pid), f"{pid}:{start}"):
            _kill_cgroup(os.path.join(directory, name), version)


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
    cgroup: str = ""  # the container's own cgroup, when processes are tracked by cgroup
    limits: CgroupValues | None = None  # cpu and memory limits to set before it starts
    limit_dirs: dict[str, str] = field(default_factory=dict)  # {"cpu": dir, "memory": dir}
    limit_problems: list[str] = field(default_factory=list)  # what set_limits could not do
    _partial: bytearray = field(default_factory=bytearray)

    @property
    def running(self) -> bool:
        """Started and not yet reaped."""
        return self.popen is not None and self.returncode is None

    @property
    def pid(self) -> int | None:
        """The main process's pid (also the process group id)."""
        return self.popen.pid if self.popen is not None else None

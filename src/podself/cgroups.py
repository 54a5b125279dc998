"""The CPU and memory limits the kernel enforces on this process, read from its cgroups.

Finds the cgroup v1, v2 or hybrid hierarchies through ``/proc/self/mountinfo`` and
``/proc/self/cgroup`` and takes the tightest limit along the chain of ancestors.

One module on purpose: v1, v2 and hybrid layouts differ only in file names and formats, and
the walk that finds the tightest limit is the same for all of them.
"""

from __future__ import annotations

import errno
import os
import stat

from podself._record import Record
from podself.errors import CgroupError

__all__ = [
    "CgroupLimits",
    "cpu_affinity_count",
    "machine_memory",
    "millicores_to_shares",
    "read_limits",
    "shares_to_millicores",
    "shares_to_weight",
    "weight_to_millicores",
]

# Fields of a /proc/<pid>/mountinfo line, zero-based (proc_pid_mountinfo(5)).
MOUNTINFO_ROOT = 3  # root of the mount within its filesystem: the cgroup the mount shows
MOUNTINFO_MOUNT_POINT = 4
MOUNTINFO_OPTIONAL_FIELDS = 6  # zero or more "tag[:value]" fields, ended by "-"
MOUNTINFO_SEPARATOR = "-"
# Fields counted from the separator.
MOUNTINFO_FSTYPE_AFTER_SEPARATOR = 1
MOUNTINFO_SUPER_OPTIONS_AFTER_SEPARATOR = 3

# Memory limits at or above this are the kernel's "unlimited" (v1 prints PAGE_COUNTER_MAX pages,
# 9223372036854771712 with 4 KiB pages, a little less with 64 KiB pages).
UNLIMITED_MEMORY = 1 << 62
# cfs_period_us default; also what a one-field cpu.max means (automaxprocs does the same).
DEFAULT_PERIOD_US = 100_000
# Kernel defaults of cgroups nobody configured.
DEFAULT_CPU_SHARES = 1024
DEFAULT_CPU_WEIGHT = 100
# Ranges of cpu.shares (v1) and cpu.weight (v2) in the kernel, and the kubelet's constants.
MIN_SHARES = 2
MAX_SHARES = 262_144
MIN_WEIGHT = 1
MAX_WEIGHT = 10_000
SHARES_PER_CPU = 1024
MILLICORES_PER_CPU = 1000
# The request at which millicores_to_shares reaches MAX_SHARES.
_MAX_MILLICORES = MAX_SHARES * MILLICORES_PER_CPU // SHARES_PER_CPU

WEIGHT_FORMULAS = ("quadratic", "linear")
_CONTROLLERS = ("cpu", "memory")
# O_NONBLOCK: a FIFO planted under a fake root must not hang the reader.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_READ_SIZE = 8192
# Far above any real cgroup or /proc file read here (mountinfo of a node with 10,000 mounts is
# about 1.5 MB); procfs reports st_size 0, so the bound is on bytes read.
_MAX_FILE_BYTES = 4 << 20
_HEX = frozenset("0123456789abcdef")
_ID_LENGTH = 64


class CgroupLimits(Record):
    """Limits of the process's cgroups; ``None`` means "nothing visible limits this"."""

    __slots__ = (  # noqa: RUF023 -- the repr lists fields in this order
        "version",
        "cpu_quota_us",
        "cpu_period_us",
        "cpu_limit_millicores",
        "cpu_source",
        "memory_limit_bytes",
        "memory_source",
        "memory_high_bytes",
        "memory_high_source",
        "cpu_shares",
        "cpu_weight",
        "cpu_request_millicores",
        "cpu_request_formula",
        "pod_uid",
        "container_id",
        "warnings",
    )

    version: int | None
    cpu_quota_us: int | None
    cpu_period_us: int | None
    cpu_limit_millicores: int | None
    cpu_source: str | None
    memory_limit_bytes: int | None
    memory_source: str | None
    memory_high_bytes: int | None
    memory_high_source: str | None
    cpu_shares: int | None
    cpu_weight: int | None
    cpu_request_millicores: int | None
    cpu_request_formula: str | None
    pod_uid: str | None
    container_id: str | None
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        version: int | None = None,
        cpu_quota_us: int | None = None,
        cpu_period_us: int | None = None,
        cpu_limit_millicores: int | None = None,
        cpu_source: str | None = None,
        memory_limit_bytes: int | None = None,
        memory_source: str | None = None,
        memory_high_bytes: int | None = None,
        memory_high_source: str | None = None,
        cpu_shares: int | None = None,
        cpu_weight: int | None = None,
        cpu_request_millicores: int | None = None,
        cpu_request_formula: str | None = None,
        pod_uid: str | None = None,
        container_id: str | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._init(
            version=version,
            cpu_quota_us=cpu_quota_us,
            cpu_period_us=cpu_period_us,
            cpu_limit_millicores=cpu_limit_millicores,
            cpu_source=cpu_source,
            memory_limit_bytes=memory_limit_bytes,
            memory_source=memory_source,
            memory_high_bytes=memory_high_bytes,
            memory_high_source=memory_high_source,
            cpu_shares=cpu_shares,
            cpu_weight=cpu_weight,
            cpu_request_millicores=cpu_request_millicores,
            cpu_request_formula=cpu_request_formula,
            pod_uid=pod_uid,
            container_id=container_id,
            warnings=tuple(warnings),
        )


class _Malformed(Exception):
    """A file's content breaks a rule; carries the rule for the message."""


class _Run:
    """Warnings of one read_limits call; strict mode turns the first one into CgroupError."""

    __slots__ = ("strict", "warnings")

    def __init__(self, strict: bool) -> None:
        self.strict = strict
        self.warnings: list[str] = []

    def problem(self, message: str) -> None:
        if self.strict:
            raise CgroupError(message)
        if message not in self.warnings:  # cpu and memory may trip over the same directory
            self.warnings.append(message)

    def read(self, path: str) -> bytes | None:
        """File content, or None when it is missing (quietly) or unreadable (with a warning)."""
        try:
            return _read(path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.problem(f'cgroup file "{path}": cannot be read ({_errno_text(exc)})')
            return None

    def malformed(self, path: str, rule: str, data: bytes, outcome: str = "level skipped") -> None:
        self.problem(f'cgroup file "{path}": {rule}, got "{_show(data)}"; {outcome}')


def _read(path: str) -> bytes:
    # os.open/os.read: about 8 µs per cgroup file against 20 µs for open().read().
    fd = os.open(path, _OPEN_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        data = os.read(fd, _READ_SIZE)
        if data:  # read to EOF: FUSE and virtualised /proc files may return short reads
            chunk = os.read(fd, _READ_SIZE)
            if chunk:
                chunks = [data, chunk]
                size = len(data) + len(chunk)
                while chunk := os.read(fd, _READ_SIZE):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > _MAX_FILE_BYTES:
                        msg = f"larger than {_MAX_FILE_BYTES} bytes"
                        raise OSError(errno.EFBIG, msg, path)
                data = b"".join(chunks)
    finally:
        os.close(fd)
    return data


def _errno_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0, "error")
    return f"{name}: {exc.strerror}" if exc.strerror else name


def _show(data: bytes | str) -> str:
    if isinstance(data, str):  # decoded with surrogateescape: back to bytes first
        data = data.encode("utf-8", "surrogateescape")
    text = data.decode("utf-8", "replace")
    if len(text) > 60:
        text = text[:60] + "..."
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _int(token: bytes) -> int | None:
    """A decimal integer as the kernel prints it (optional '-', ASCII digits), else None."""
    digits = token[1:] if token[:1] == b"-" else token
    # bytes.isdigit is ASCII-only (int() would also take "1_0" and "+1"); the kernel prints at
    # most 20 digits, and a longer string could exceed int()'s digit limit.
    if not digits.isdigit() or len(digits) > 20:
        return None
    return int(token)


# -- file formats ---------------------------------------------------------------------------


def _parse_cpu_max(data: bytes) -> tuple[int, int] | None:
    """v2 ``cpu.max``: "<quota> <period>" or "max <period>"; None means no limit."""
    fields = data.split()
    if not fields:
        msg = 'expected "<quota> <period>" or "max <period>", the file is empty'
        raise _Malformed(msg)
    if len(fields) > 2:
        msg = f'expected "<quota> <period>" (2 fields), found {len(fields)} fields'
        raise _Malformed(msg)
    period = DEFAULT_PERIOD_US
    if len(fields) == 2:
        value = _int(fields[1])
        if value is None:
            msg = "period must be a whole number of microseconds"
            raise _Malformed(msg)
        if value <= 0:
            msg = "period must be positive"
            raise _Malformed(msg)
        period = value
    if fields[0] == b"max":
        return None
    quota = _int(fields[0])
    if quota is None:
        msg = 'quota must be "max" or a whole number of microseconds'
        raise _Malformed(msg)
    if quota <= 0:
        msg = "quota must be positive"
        raise _Malformed(msg)
    return quota, period


def _parse_v1_quota(data: bytes) -> int | None:
    """v1 ``cpu.cfs_quota_us``: -1 means no limit."""
    value = _int(data.strip())
    if value is None:
        msg = "expected -1 or a whole number of microseconds"
        raise _Malformed(msg)
    if value == -1:
        return None
    if value <= 0:
        msg = "quota must be -1 or positive"
        raise _Malformed(msg)
    return value


def _parse_positive(data: bytes, what: str) -> int:
    value = _int(data.strip())
    if value is None:
        msg = f"expected {what} as a whole number"
        raise _Malformed(msg)
    if value <= 0:
        msg = f"{what} must be positive"
        raise _Malformed(msg)
    return value


def _parse_memory(data: bytes, allow_max: bool) -> int | None:
    """``memory.max`` (v2, may say "max") or ``memory.limit_in_bytes`` (v1); None = no limit."""
    token = data.strip()
    if allow_max and token == b"max":
        return None
    value = _int(token)
    if value is None:
        msg = 'expected "max" or a number of bytes' if allow_max else "expected a number of bytes"
        raise _Malformed(msg)
    if value <= 0:
        msg = "a memory limit must be positive"
        raise _Malformed(msg)
    return None if value >= UNLIMITED_MEMORY else value


def _parse_hierarchical(data: bytes) -> int | None:
    """``hierarchical_memory_limit`` from a v1 ``memory.stat``; None when absent or unlimited."""
    for line in data.split(b"\n"):
        if line.startswith(b"hierarchical_memory_limit "):
            return _parse_memory(line[len(b"hierarchical_memory_limit ") :], allow_max=False)
    return None


def _parse_ranged(data: bytes, what: str, low: int, high: int) -> int:
    value = _int(data.strip())
    if value is None or not low <= value <= high:
        msg = f"expected {what} between {low} and {high}"
        raise _Malformed(msg)
    return value


def _unescape(field: str) -> str:
    """Undo mountinfo's octal escapes (space is ``\\040``, tab ``\\011``, backslash ``\\134``)."""
    if "\\" not in field:
        return field
    out: list[str] = []
    i = 0
    n = len(field)
    while i < n:
        char = field[i]
        code = field[i + 1 : i + 4]
        if char == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(char)
            i += 1
    return "".join(out)


# -- mountinfo and /proc/self/cgroup ------------------------------------------------------------

# A cgroup mount: (version, root, mount point, controllers it carries).
_Mount = tuple[int, str, str, tuple[str, ...]]


def _parse_mountinfo(text: str, path: str, run: _Run) -> list[_Mount]:
    mounts: list[_Mount] = []
    for line in text.split("\n"):
        if "cgroup" not in line:  # cheap filter: most mounts are not cgroups
            continue
        fields = line.split(" ")
        try:
            sep = fields.index(MOUNTINFO_SEPARATOR, MOUNTINFO_OPTIONAL_FIELDS)
        except ValueError:
            run.problem(f'mountinfo "{path}": line has no "-" separator, got "{_show(line)}"')
            continue
        if len(fields) <= sep + MOUNTINFO_SUPER_OPTIONS_AFTER_SEPARATOR:
            run.problem(
                f'mountinfo "{path}": line ends before the super options, got "{_show(line)}"'
            )
            continue
        fstype = fields[sep + MOUNTINFO_FSTYPE_AFTER_SEPARATOR]
        if fstype == "cgroup2":
            version: int = 2
            controllers: tuple[str, ...] = ()
        elif fstype == "cgroup":
            # v1 super options name the controllers ("rw,cpu,cpuacct"); a hierarchy with none
            # of ours, such as "name=systemd", is of no use here.
            options = fields[sep + MOUNTINFO_SUPER_OPTIONS_AFTER_SEPARATOR].split(",")
            controllers = tuple(c for c in _CONTROLLERS if c in options)
            if not controllers:
                continue
            version = 1
        else:
            continue
        root = _unescape(fields[MOUNTINFO_ROOT])
        mounts.append((version, root, _unescape(fields[MOUNTINFO_MOUNT_POINT]), controllers))
    return mounts


def _relative(root: str, path: str) -> str | None:
    """``path`` below the mount ``root`` ("" for the root itself), or None if not below it."""
    if not path.startswith("/") or "/.." in path:
        return None
    path = path.rstrip("/")
    root = root.rstrip("/")
    if not root:
        return path
    if path == root:
        return ""
    if path.startswith(root) and path[len(root)] == "/":
        return path[len(root) :]
    return None


def _pick_mount(candidates: list[_Mount], path: str) -> tuple[_Mount, str | None]:
    """The mount whose root holds ``path`` most closely (first listed wins a tie)."""
    best: _Mount | None = None
    best_rel: str | None = None
    for mount in candidates:
        rel = _relative(mount[1], path)
        if rel is not None and (best_rel is None or len(rel) < len(best_rel)):
            best, best_rel = mount, rel
    if best is None:
        return candidates[0], None
    return best, best_rel


def _is_uid(text: str) -> bool:
    # Pod UIDs are UUIDs (36 chars); static pods' are 32 hex digits (an MD5 of the manifest).
    return len(text) in (32, 36) and all(c in _HEX or c == "-" for c in text)


def _container_id(segment: str) -> str | None:
    name = segment.removesuffix(".scope")
    if len(name) == _ID_LENGTH and all(c in _HEX for c in name):
        return name  # cgroupfs driver: /kubepods/<qos>/pod<uid>/<id>, docker: /docker/<id>
    prefix, dash, cid = name.rpartition("-")
    if (
        dash
        and prefix
        and not prefix.endswith("conmon")  # crio-conmon-<id>.scope holds CRI-O's monitor
        and len(cid) == _ID_LENGTH
        and all(c in _HEX for c in cid)
    ):
        return cid  # cri-containerd-<id>.scope, docker-<id>.scope, crio-<id>.scope
    return None


def _pod_uid(segment: str) -> str | None:
    if segment.endswith(".slice"):
        # systemd driver: kubepods-burstable-pod<uid with "_" for "-">.slice
        at = segment.rfind("-pod")
        if at >= 0:
            uid = segment[at + 4 : -len(".slice")].replace("_", "-")
            return uid if _is_uid(uid) else None
        return None
    if segment.startswith("pod") and _is_uid(segment[3:]):
        return segment[3:]  # cgroupfs driver: pod<uid>
    return None


def _identity(paths: list[str]) -> tuple[str | None, str | None]:
    """Pod UID and container ID named by Kubernetes cgroup paths (v1 or v2, either driver)."""
    for path in paths:
        uid = cid = None
        for segment in path.split("/"):
            if not segment:
                continue
            uid = _pod_uid(segment) or uid
            cid = _container_id(segment) or cid
        if uid or cid:
            return uid, cid
    return None, None


# -- walking the hierarchy --------------------------------------------------------------------


def _levels(base: str, rel: str) -> list[str]:
    """Directories from the process's cgroup up to the mount point, leaf first."""
    out = [base + rel]
    while rel:
        rel = rel[: rel.rfind("/")]
        out.append(base + rel)
    return out


def _check_leaf(run: _Run, leaf: str) -> None:
    if not os.path.isdir(leaf):
        run.problem(
            f'cgroup directory "{leaf}" does not exist (the process may have moved to another '
            "cgroup); its limits are unknown"
        )


def _cpu_walk(run: _Run, levels: list[str], v2: bool) -> tuple[int, int, str] | None:
    """Tightest (quota, period, source) along ``levels``, or None."""
    best: tuple[int, int, str] | None = None
    for depth, directory in enumerate(levels):
        if v2:
            source = directory + "/cpu.max"
            data = run.read(source)
            if data is None:
                if depth == 0:
                    _check_leaf(run, directory)
                continue
            try:
                pair = _parse_cpu_max(data)
            except _Malformed as exc:
                run.malformed(source, str(exc), data)
                continue
        else:
            source = directory + "/cpu.cfs_quota_us"
            data = run.read(source)
            if data is None:
                if depth == 0:
                    _check_leaf(run, directory)
                continue
            try:
                quota = _parse_v1_quota(data)
            except _Malformed as exc:
                run.malformed(source, str(exc), data)
                continue
            if quota is None:
                continue
            period_file = directory + "/cpu.cfs_period_us"
            period_data = run.read(period_file)
            if period_data is None:
                continue
            try:
                period = _parse_positive(period_data, "period")
            except _Malformed as exc:
                run.malformed(period_file, str(exc), period_data)
                continue
            pair = (quota, period)
        # quota/period ratios compared exactly: q1/p1 < q2/p2  <=>  q1*p2 < q2*p1.
        if pair is not None and (best is None or pair[0] * best[1] < best[0] * pair[1]):
            best = (pair[0], pair[1], source)
    return best


def _smallest_memory(
    run: _Run, levels: list[str], name: str, v2: bool, *, check_leaf: bool = False
) -> tuple[int, str] | None:
    """The smallest (bytes, source) of the memory file ``name`` along ``levels``, or None."""
    best: tuple[int, str] | None = None
    for depth, directory in enumerate(levels):
        source = directory + name
        data = run.read(source)
        if data is None:
            if depth == 0 and check_leaf:
                _check_leaf(run, directory)
            continue
        try:
            value = _parse_memory(data, allow_max=v2)
        except _Malformed as exc:
            run.malformed(source, str(exc), data)
            continue
        if value is not None and (best is None or value < best[0]):
            best = (value, source)
    return best


def _memory_walk(run: _Run, levels: list[str], v2: bool) -> tuple[int, str] | None:
    """Tightest (bytes, source) along ``levels``, or None."""
    name = "/memory.max" if v2 else "/memory.limit_in_bytes"
    best = _smallest_memory(run, levels, name, v2, check_leaf=True)
    if not v2:
        # The kernel's own minimum over every ancestor, including those outside this mount
        # (a container sees only its own cgroup, not the pod's or the node allocatable one).
        stat_file = levels[0] + "/memory.stat"
        data = run.read(stat_file)
        if data is not None:
            try:
                value = _parse_hierarchical(data)
            except _Malformed as exc:
                run.malformed(stat_file, "hierarchical_memory_limit: " + str(exc), data)
            else:
                if value is not None and (best is None or value < best[0]):
                    best = (value, stat_file)
    return best


def _memory_high_walk(run: _Run, levels: list[str], v2: bool) -> tuple[int, str] | None:
    """Tightest soft limit (bytes, source) along ``levels``: v2 ``memory.high`` (above it the
    kernel throttles and reclaims) or v1 ``memory.soft_limit_in_bytes``; None when unset."""
    name = "/memory.high" if v2 else "/memory.soft_limit_in_bytes"
    return _smallest_memory(run, levels, name, v2)


def machine_memory(proc: str) -> int | None:
    """Physical memory in bytes of the machine whose ``/proc`` is ``proc``, if known.

    For the real ``/proc``: ``sysconf``; an injected one (fixtures, fake pod trees) describes
    its own machine, if at all, in its ``meminfo`` (read bounded and never blocking).
    """
    if proc == "/proc":
        try:
            total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
        return total if total > 0 else None
    try:
        data = _read(proc + "/meminfo")
    except OSError:
        return None
    for line in data.split(b"\n"):
        if line.startswith(b"MemTotal:"):
            fields = line.split()
            kib = _int(fields[1]) if len(fields) > 1 else None
            return kib * 1024 if kib is not None and kib > 0 else None
    return None


def _resolve(run: _Run, prefix: str, mount: _Mount, rel: str | None, path: str | None) -> list[str]:
    """Levels to read for a process at ``path`` in ``mount`` (its mount point if not below it)."""
    if rel is None:
        if path is not None:
            # automaxprocs fails here ("not a descendant of mount point root"); the mount
            # point is still the closest cgroup this process can see.
            run.problem(
                f'cgroup path "{path}" is not below the root "{mount[1]}" of the cgroup mount '
                f'"{mount[2]}"; reading the mount point itself'
            )
        rel = ""
    return _levels(prefix + mount[2], rel)


def _read_leaf(run: _Run, path: str, what: str, low: int, high: int) -> int | None:
    data = run.read(path)
    if data is None:
        return None
    try:
        return _parse_ranged(data, what, low, high)
    except _Malformed as exc:
        run.malformed(path, str(exc), data, "ignored")
        return None


def _membership(run: _Run, path: str) -> tuple[str | None, dict[str, str]]:
    """The v2 path and the v1 path of each controller from ``/proc/<pid>/cgroup``."""
    v2_path: str | None = None
    v1_paths: dict[str, str] = {}
    try:
        data = _read(path)
    except OSError as exc:
        run.problem(
            f'cgroup membership "{path}": cannot be read ({_errno_text(exc)}); '
            "reading the mount points"
        )
        return v2_path, v1_paths
    for line in data.decode("utf-8", "surrogateescape").split("\n"):
        if not line:
            continue
        parts = line.split(":", 2)  # hierarchy-ID:controller-list:cgroup-path
        if len(parts) != 3:
            run.problem(
                f'cgroup membership "{path}": expected "hierarchy-ID:controllers:path", '
                f'got "{_show(line)}"'
            )
            continue
        if parts[0] == "0" and not parts[1]:
            v2_path = parts[2]
        else:
            for controller in parts[1].split(","):
                v1_paths[controller] = parts[2]
    return v2_path, v1_paths


def _v2_enabled(run: _Run, leaf: str) -> frozenset[str]:
    """Controllers the unified hierarchy serves at ``leaf``."""
    data = run.read(leaf + "/cgroup.controllers")
    if data is not None:
        return frozenset(data.decode("ascii", "replace").split())
    # No cgroup.controllers (gVisor, automemlimit#6): trust the interface files instead.
    files = (("cpu", "/cpu.max"), ("memory", "/memory.max"))
    return frozenset(c for c, name in files if os.path.exists(leaf + name))


def _hierarchies(
    run: _Run,
    prefix: str,
    mounts: list[_Mount],
    v2_path: str | None,
    v1_paths: dict[str, str],
) -> dict[str, tuple[int, list[str]]]:
    """For cpu and memory: the cgroup version serving it and the levels to read, leaf first."""
    chosen: dict[str, tuple[int, list[str]]] = {}
    v2_mounts = [m for m in mounts if m[0] == 2]
    v2_levels: list[str] = []
    if v2_mounts:
        mount, rel = _pick_mount(v2_mounts, v2_path or "/")
        v2_levels = _resolve(run, prefix, mount, rel, v2_path)
    v2_enabled: frozenset[str] | None = None
    for controller in _CONTROLLERS:
        v1_mounts = [m for m in mounts if m[0] == 1 and controller in m[3]]
        if v2_levels:
            if not v1_mounts:
                chosen[controller] = (2, v2_levels)
                continue
            # Hybrid: the unified hierarchy serves a controller only where it is enabled;
            # otherwise v1 does (a controller is bound to one hierarchy at a time).
            if v2_enabled is None:
                v2_enabled = _v2_enabled(run, v2_levels[0])
            if controller in v2_enabled:
                chosen[controller] = (2, v2_levels)
                continue
        if v1_mounts:
            path = v1_paths.get(controller)
            mount, rel = _pick_mount(v1_mounts, path or "/")
            chosen[controller] = (1, _resolve(run, prefix, mount, rel, path))
    return chosen


def read_limits(
    *,
    proc_root: str | os.PathLike[str] = "/proc",
    fs_root: str | os.PathLike[str] = "/",
    pid: str | int = "self",
    strict: bool = False,
    weight_formula: str = "quadratic",
) -> CgroupLimits:
    """Read the limits the kernel enforces on process ``pid``; never raises unless ``strict``.

    ``proc_root`` replaces ``/proc``; ``fs_root`` is prepended to every mount point found in
    mountinfo. ``weight_formula`` ("quadratic" or "linear") names the runtime's shares-to-weight
    conversion used to estimate a v2 CPU request. Malformed or unreadable files skip their
    level with a warning; ``strict=True`` raises :class:`~podself.errors.CgroupError` instead.
    """
    if weight_formula not in WEIGHT_FORMULAS:
        msg = f'weight_formula "{weight_formula}": must be "quadratic" or "linear"'
        raise ValueError(msg)
    run = _Run(strict)
    proc = os.fspath(proc_root).rstrip("/") or "/"
    prefix = os.fspath(fs_root).rstrip("/")
    mountinfo_path = f"{proc}/{pid}/mountinfo"
    data = run.read(mountinfo_path)
    if data is None:  # no /proc (macOS) or no such process: nothing is known, quietly
        return CgroupLimits(warnings=tuple(run.warnings))
    mounts = _parse_mountinfo(data.decode("utf-8", "surrogateescape"), mountinfo_path, run)
    if not mounts:
        return CgroupLimits(warnings=tuple(run.warnings))

    v2_path, v1_paths = _membership(run, f"{proc}/{pid}/cgroup")
    ordered = [p for p in (v2_path, v1_paths.get("memory"), v1_paths.get("cpu")) if p]
    pod_uid, container_id = _identity(ordered)
    chosen = _hierarchies(run, prefix, mounts, v2_path, v1_paths)

    cpu = memory = high = None
    shares = weight = request = None
    formula: str | None = None
    if "cpu" in chosen:
        version, levels = chosen["cpu"]
        cpu = _cpu_walk(run, levels, version == 2)
        # A kernel default (1024 shares, weight 100) says nothing about a request unless the
        # cgroup is a pod's, where the kubelet always writes the value.
        if version == 2:
            weight = _read_leaf(
                run, levels[0] + "/cpu.weight", "cpu.weight", MIN_WEIGHT, MAX_WEIGHT
            )
            if weight is not None and (pod_uid is not None or weight != DEFAULT_CPU_WEIGHT):
                request = weight_to_millicores(weight, weight_formula)
                formula = "weight-" + weight_formula
        else:
            shares = _read_leaf(
                run, levels[0] + "/cpu.shares", "cpu.shares", MIN_SHARES, MAX_SHARES
            )
            if shares is not None and (pod_uid is not None or shares != DEFAULT_CPU_SHARES):
                request = shares_to_millicores(shares)
                formula = "shares"
    if "memory" in chosen:
        version, levels = chosen["memory"]
        memory = _memory_walk(run, levels, version == 2)
        high = _memory_high_walk(run, levels, version == 2)
        if memory is not None or high is not None:
            machine = machine_memory(proc)
            if machine is not None and memory is not None and memory[0] > machine:
                memory = None  # cannot bind before the machine itself runs out: no limit
            if high is not None and (
                (machine is not None and high[0] > machine)
                or (memory is not None and high[0] >= memory[0])
            ):
                high = None  # only a soft limit below the hard one changes anything

    if chosen:
        found: int = 1 if any(v == 1 for v, _ in chosen.values()) else 2
    else:
        found = 2 if any(m[0] == 2 for m in mounts) else 1
    return CgroupLimits(
        version=found,
        cpu_quota_us=cpu[0] if cpu else None,
        cpu_period_us=cpu[1] if cpu else None,
        # ceil, so a limit is never reported smaller than it is (and never as 0).
        cpu_limit_millicores=-(-cpu[0] * MILLICORES_PER_CPU // cpu[1]) if cpu else None,
        cpu_source=cpu[2] if cpu else None,
        memory_limit_bytes=memory[0] if memory else None,
        memory_source=memory[1] if memory else None,
        memory_high_bytes=high[0] if high else None,
        memory_high_source=high[1] if high else None,
        cpu_shares=shares,
        cpu_weight=weight,
        cpu_request_millicores=request,
        cpu_request_formula=formula,
        pod_uid=pod_uid,
        container_id=container_id,
        warnings=tuple(run.warnings),
    )


# -- CPU request conversions ------------------------------------------------------------------


def millicores_to_shares(millicores: int) -> int:
    """The kubelet's ``MilliCPUToShares``: ``millicores*1024/1000`` floored, within [2, 262144]."""
    if millicores <= 0:
        return MIN_SHARES  # the kubelet writes 2 for a zero request, matching the kernel floor
    shares = millicores * SHARES_PER_CPU // MILLICORES_PER_CPU
    return max(MIN_SHARES, min(MAX_SHARES, shares))


def shares_to_weight(shares: int, formula: str = "quadratic") -> int:
    """The OCI runtime's conversion of ``cpu.shares`` to a v2 ``cpu.weight``.

    "linear" is runc < 1.3.2 and crun < 1.23 (and the kubelet's pod cgroups before 1.35):
    ``1 + (shares-2)*9999/262142``. "quadratic" is runc >= 1.3.2 and crun >= 1.23: with
    ``l = log2(shares)``, ``ceil(10 ** ((l*l + 125*l)/612 - 7/34))``, which maps 1024 to 100.
    """
    if shares <= 0:
        return 0  # "unset"
    shares = max(MIN_SHARES, min(MAX_SHARES, shares))
    if formula == "linear":
        return 1 + (shares - MIN_SHARES) * (MAX_WEIGHT - 1) // (MAX_SHARES - MIN_SHARES)
    if formula != "quadratic":
        msg = f'weight formula "{formula}": must be "quadratic" or "linear"'
        raise ValueError(msg)
    if shares == MIN_SHARES:
        return MIN_WEIGHT
    if shares == MAX_SHARES:
        return MAX_WEIGHT
    import math

    log = math.log2(shares)
    exponent = (log * log + 125 * log) / 612.0 - 7.0 / 34.0
    return min(MAX_WEIGHT, math.ceil(math.pow(10, exponent)))


def _roundest(low: int, high: int) -> int:
    """The request a person most likely wrote among ``low..high`` millicores."""
    for step in (1000, 500, 250, 100, 50, 25, 10, 5):
        candidate = -(-low // step) * step
        if candidate <= high:
            return candidate
    return low


def _first_shares(weight: int, formula: str) -> int:
    """Smallest cpu.shares that ``formula`` turns into ``weight`` or more (262145 if none)."""
    if weight <= MIN_WEIGHT:
        return MIN_SHARES
    if weight > MAX_WEIGHT:
        return MAX_SHARES + 1
    if formula == "linear":
        steps = -(-(weight - 1) * (MAX_SHARES - MIN_SHARES) // (MAX_WEIGHT - 1))
        return MIN_SHARES + steps
    import math

    # Solve l*l + 125*l = 612*(log10(weight-1) + 7/34) for l = log2(shares), then settle the
    # last step of floating-point rounding against the forward formula itself.
    target = 612.0 * (math.log10(weight - 1) + 7.0 / 34.0)
    log = (-125.0 + math.sqrt(125.0 * 125.0 + 4.0 * target)) / 2.0
    shares = max(MIN_SHARES, min(MAX_SHARES, int(2.0**log)))
    while shares > MIN_SHARES and shares_to_weight(shares - 1, formula) >= weight:
        shares -= 1
    while shares <= MAX_SHARES and shares_to_weight(shares, formula) < weight:
        shares += 1
    return shares


def shares_to_millicores(shares: int) -> int:
    """Approximate CPU request from a v1 ``cpu.shares`` (inverse of millicores_to_shares).

    Exact up to rounding for shares the kubelet wrote: ``ceil(shares*1000/1024)``, like the
    kubelet's ``sharesToMilliCPU``, except that 2 (the floor, BestEffort) reads as 0.
    """
    if shares <= MIN_SHARES:
        return 0
    shares = min(shares, MAX_SHARES)
    return -(-shares * MILLICORES_PER_CPU // SHARES_PER_CPU)


def weight_to_millicores(weight: int, formula: str = "quadratic") -> int:
    """Approximate CPU request from a v2 ``cpu.weight`` written through ``formula``.

    Many requests share one weight; this returns the roundest of them (a multiple of 1000m,
    500m, 250m, 100m, 50m, 25m, 10m or 5m when the range holds one), since people write
    round requests.
    """
    if formula not in WEIGHT_FORMULAS:
        msg = f'weight formula "{formula}": must be "quadratic" or "linear"'
        raise ValueError(msg)
    weight = max(MIN_WEIGHT, min(MAX_WEIGHT, weight))
    low_shares = _first_shares(weight, formula)
    high_shares = _first_shares(weight + 1, formula) - 1
    # Requests whose floor(m*1024/1000), kept within [2, 262144], falls in that shares range.
    low = 0 if low_shares <= MIN_SHARES else -(-low_shares * MILLICORES_PER_CPU // SHARES_PER_CPU)
    if high_shares >= MAX_SHARES:
        high = _MAX_MILLICORES
    else:
        high = ((high_shares + 1) * MILLICORES_PER_CPU - 1) // SHARES_PER_CPU
    if low > high:  # no whole-millicore request lands on exactly this weight
        return min(low, _MAX_MILLICORES)
    return _roundest(low, high)


def cpu_affinity_count() -> int | None:
    """CPUs this process may run on (``sched_getaffinity``), or None where unsupported (macOS)."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is None:
        return None
    try:
        return len(getaffinity(0))
    except OSError:
        return None

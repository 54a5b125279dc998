"""Putting volumes at their ``mountPath``: a private mount namespace per container, or a
per-container root directory exported as ``PODSELF_ROOT``.

Namespace mode (Linux, ``CAP_SYS_ADMIN``): in the forked child, before ``exec``, the container
gets its own mount and UTS namespaces (``unshare(CLONE_NEWNS | CLONE_NEWUTS)``, propagation
private). The host's root is seen through an overlay whose writable layer is a tmpfs that
exists only inside that namespace; so are the host's scratch filesystems (``/tmp``,
``/dev/shm``, ... when they are mounts of their own); the host's other mounts are bound back in
place, and the podself state root is covered by an empty read-only tmpfs; the process
``chroot``s into it. Mount points that do not exist on the host are then created in the
throw-away layer and the volumes are bound there (read-only where the kubelet mounts them
read-only). Nothing on the host's root filesystem or scratch mounts changes, and every mount
disappears with the container's last process; what the other bound mounts (``/dev``, ``/run``,
``/home`` on a filesystem of its own, ...) let a process do is unchanged.

Root mode (elsewhere, or ``--no-namespace``): ``<root>/<mountPath>`` is a symlink to the
volume directory (a copy for ``subPath``) and ``PODSELF_ROOT=<root>`` tells the podself
library where to look; absolute paths in commands do not resolve there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import selectors
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from podself._safefs import check_name, closing, open_beneath, open_dir
from podself.errors import ConfinementError

__all__ = [
    "ContainerFS",
    "DeathSignal",
    "MountInfo",
    "MountSpec",
    "NamespaceSetup",
    "build_root",
    "container_path",
    "hosts_file_content",
    "namespace_support",
    "parse_mountinfo",
    "probe_namespace",
    "reap_child",
    "working_dir",
]

# <sched.h>, <sys/mount.h>, <sys/prctl.h>
CLONE_NEWNS: Final = 0x00020000
CLONE_NEWUTS: Final = 0x04000000
MS_RDONLY: Final = 0x1
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_REMOUNT: Final = 0x20
MS_BIND: Final = 0x1000
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 0x40000
MS_NOEXEC: Final = 0x8
MNT_DETACH: Final = 0x2
PR_SET_PDEATHSIG: Final = 1
_PROBE_TIMEOUT: Final = 10.0  # seconds the one-time namespace probe may take
_HIDE_FLAGS: Final = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
_CAP_SYS_ADMIN: Final = 21
SETUP_FAILED_EXIT: Final = 126  # the exit status of a container whose mounts failed
_NEW_FILE: Final = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)
# Host scratch filesystems a container must not write through: when one is a mount of its
# own it gets a throw-away layer like the root (``/dev/shm`` also gets the pod's own).
SCRATCH_MOUNTS: Final = ("/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/run/lock")


@dataclass(frozen=True, slots=True)
class MountSpec:
    """Bind ``source`` (a host directory, or a file for a file ``subPath``) at ``target``.

    ``target`` is normalised by :func:`container_path` (relative paths start at ``/``); one
    that climbs out of the container root, or is the root itself, is refused."""

    source: str
    target: str
    read_only: bool = False
    is_file: bool = False

    def __post_init__(self) -> None:
        target = container_path(self.target, "mount target")
        if target == "/":
            msg = f"mount target {self.target!r}: must not be the container root"
            raise ConfinementError(msg)
        object.__setattr__(self, "target", target)


@dataclass(frozen=True, slots=True)
class ContainerFS:
    """Everything a container's filesystem view needs.

    ``scratch`` is an empty per-container directory: the namespace's tmpfs is mounted there
    (namespace mode) or the ``PODSELF_ROOT`` tree is built in it (root mode). ``hidden``
    directories (the state root) are covered by an empty read-only tmpfs in namespace mode.
    """

    mounts: tuple[MountSpec, ...]
    hostname: str
    scratch: str
    workdir: str | None = None
    hosts_file: str | None = None
    hidden: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MountInfo:
    """One line of ``/proc/self/mountinfo``: ids, the mount point (unescaped), the
    filesystem type and its super-block options."""

    mount_id: int
    parent_id: int
    mount_point: str
    fs_type: str = ""
    super_options: tuple[str, ...] = ()  # e.g. ("rw", "freezer") for a cgroup v1 hierarchy
    children: list[MountInfo] = field(default_factory=list, compare=False, repr=False)


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo
    if "\\" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x5C and i + 4 <= len(raw) and raw[i + 1 : i + 4].isdigit():
            out.append(int(raw[i + 1 : i + 4], 8))
            i += 4
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def parse_mountinfo(text: str) -> list[MountInfo]:
    """Parse mountinfo text into records (malformed lines are skipped)."""
    mounts: list[MountInfo] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5:
            continue
        try:
            mount_id, parent_id = int(parts[0]), int(parts[1])
        except ValueError:
            continue
        fs_type = ""
        options: tuple[str, ...] = ()
        if "-" in parts[6:]:
            dash = parts.index("-", 6)
            fs_type = parts[dash + 1] if dash + 1 < len(parts) else ""
            options = tuple(parts[dash + 3].split(",")) if dash + 3 < len(parts) else ()
        mounts.append(MountInfo(mount_id, parent_id, _unescape(parts[4]), fs_type, options))
    return mounts


def _visible_tree(mounts: Sequence[MountInfo]) -> MountInfo | None:
    """Link each visible mount to its visible children; return the visible root mount.

    A mount stacked on the same mount point as its parent hides the parent (and the
    parent's other children), so the walk always continues from the top of a stack.
    """
    by_parent: dict[int, list[MountInfo]] = {}
    for mount in mounts:
        by_parent.setdefault(mount.parent_id, []).append(mount)
    ids = {m.mount_id for m in mounts}
    roots = [m for m in mounts if m.mount_point == "/" and m.parent_id not in ids]
    if not roots:
        roots = [m for m in mounts if m.mount_point == "/"]
    if not roots:
        return None

    def top(mount: MountInfo) -> MountInfo:
        seen = {mount.mount_id}
        while True:
            stacked = [
                c for c in by_parent.get(mount.mount_id, ()) if c.mount_point == mount.mount_point
            ]
            if not stacked or stacked[-1].mount_id in seen:
                return mount
            mount = stacked[-1]
            seen.add(mount.mount_id)

    root = top(roots[-1])
    stack = [root]
    visited: set[int] = set()
    while stack:
        mount = stack.pop()
        if mount.mount_id in visited:
            continue
        visited.add(mount.mount_id)
        mount.children.clear()
        for child in by_parent.get(mount.mount_id, ()):
            if child.mount_point == mount.mount_point:
                continue
            visible = top(child)
            mount.children.append(visible)
            stack.append(visible)
    return root


def _within(path: str, directory: str) -> bool:
    return directory in ("/", path) or path.startswith(directory.rstrip("/") + "/")


def _containing_mount(root: MountInfo, path: str) -> MountInfo:
    best = root
    stack = [root]
    while stack:
        mount = stack.pop()
        for child in mount.children:
            if _within(path, child.mount_point):
                if len(child.mount_point) >= len(best.mount_point):
                    best = child
                stack.append(child)
    return best


def _nearest_existing(path: str) -> str:
    current = os.path.normpath(path)
    while not os.path.lexists(current) and current != "/":
        current = os.path.dirname(current)
    return os.path.realpath(current)


def _overlay_escape(path: str) -> str:
    return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")


def hosts_file_content(ips: Sequence[str], hostname: str, domain: str = "") -> str:
    """The kubelet-managed ``/etc/hosts`` (``managedHostsHeader`` + defaults + pod IPs)."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    for ip in ips:
        if domain:
            lines.append(f"{ip}\t{hostname}.{domain}\t{hostname}")
        else:
            lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"


# --- namespace mode ----------------------------------------------------------------------------


def _effective_caps() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


def namespace_support() -> str | None:
    """``None`` when private mount namespaces can be used here, else the reason why not."""
    if not sys.platform.startswith("linux"):
        return f"mount namespaces need Linux (this is {sys.platform})"
    if not (_effective_caps() >> _CAP_SYS_ADMIN) & 1:
        return "mount namespaces need root (CAP_SYS_ADMIN)"
    try:
        _libc()
    except OSError as exc:
        return f"cannot call unshare/mount: {exc}"
    return None


_LIBC: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    global _LIBC
    if _LIBC is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.unshare.argtypes = [ctypes.c_int]
        lib.mount.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_ulong,
            ctypes.c_char_p,
        ]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong]
        _LIBC = lib
    return _LIBC


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class DeathSignal:
    """A ``preexec_fn`` that has the kernel SIGKILL the child when ``podself run`` dies, so a
    ``kill -9`` of it leaves no container running in root mode either (Linux only)."""

    def __init__(self) -> None:
        self.lib = _libc()  # resolved in the parent: the child only makes system calls
        self.parent = os.getpid()

    @classmethod
    def available(cls) -> bool:
        """Whether ``prctl(PR_SET_PDEATHSIG)`` exists here."""
        return sys.platform.startswith("linux")

    def __call__(self) -> None:
        self.lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != self.parent:  # the parent died before the prctl took effect
            os._exit(SETUP_FAILED_EXIT)


class NamespaceSetup:
    """The ``preexec_fn`` that gives one container its mount namespace (runs in the child).

    Everything that reads the host (mountinfo, which mounts need a writable layer) is worked
    out in the parent at construction; the child only makes system calls. A failure is
    written to the container's stderr and the child exits with status 126.
    """

    def __init__(self, fs: ContainerFS, *, cwd: str | None = None, name: str = "") -> None:
        self.fs = fs
        self.name = name
        self.cwd = cwd or os.getcwd()
        self.lib = _libc()
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            mounts = parse_mountinfo(handle.read())
        root = _visible_tree(mounts)
        if root is None:
            msg = "cannot find the root mount in /proc/self/mountinfo"
            raise OSError(errno.ENOENT, msg)
        self.root = root
        # Mounts that would have to change on the host to create a missing mount point get
        # an overlay instead; the root always does (every container gets a throw-away layer).
        self.overlay_ids = {root.mount_id}
        targets = [m.target for m in fs.mounts]
        if fs.hosts_file is not None:
            targets.append("/etc/hosts")
        if fs.workdir:
            # The child creates a missing workingDir too: on /dev, /sys/fs/cgroup or any
            # other host mount it must land in a throw-away layer, like a mount point.
            targets.append(os.path.normpath(os.path.join("/", fs.workdir)))
        for target in targets:
            if not os.path.lexists(target):
                self.overlay_ids.add(_containing_mount(root, _nearest_existing(target)).mount_id)
        for point in SCRATCH_MOUNTS:
            mount = _containing_mount(root, point)
            if mount.mount_point == point:
                self.overlay_ids.add(mount.mount_id)
        self.scratch = os.path.realpath(fs.scratch)
        self.hidden = [os.path.realpath(path) for path in fs.hidden]

    # -- child side (after fork, before exec) -------------------------------------------

    def __call__(self) -> None:
        try:
            self._setup()
        except BaseException as exc:  # report and fail the container, never the parent
            label = f' "{self.name}"' if self.name else ""
            text = f"podself run: container{label}: cannot set up its mount namespace: {exc}\n"
            try:
                os.write(2, text.encode("utf-8", "replace"))
            finally:
                os._exit(SETUP_FAILED_EXIT)

    def _mount(
        self, source: str | None, target: str, fs_type: str | None, flags: int, data: str | None
    ) -> None:
        enc = os.fsencode
        _check(
            self.lib.mount(
                enc(source) if source is not None else None,
                enc(target),
                enc(fs_type) if fs_type is not None else None,
                flags,
                enc(data) if data is not None else None,
            ),
            f"mount {target}",
        )

    def _overlay(self, lower: str, target: str, layer: str) -> None:
        upper = os.path.join(self.scratch, f"upper-{layer}")
        work = os.path.join(self.scratch, f"work-{layer}")
        os.mkdir(upper, 0o755)
        os.mkdir(work, 0o700)
        options = (
            f"lowerdir={_overlay_escape(lower)},upperdir={_overlay_escape(upper)},"
            f"workdir={_overlay_escape(work)}"
        )
        self._mount("overlay", target, "overlay", 0, options)

    def _needs_overlay_below(self, mount: MountInfo) -> bool:
        return any(
            c.mount_id in self.overlay_ids or self._needs_overlay_below(c) for c in mount.children
        )

    def _graft(self, mount: MountInfo, target: str) -> None:
        # Recreate `mount` (as the host sees it) at `target` inside the new root.
        if mount.mount_id in self.overlay_ids:
            self._overlay(mount.mount_point, target, str(mount.mount_id))
            for child in mount.children:
                self._graft_child(child, target, mount.mount_point)
        elif self._needs_overlay_below(mount):
            self._mount(mount.mount_point, target, None, MS_BIND, None)
            for child in mount.children:
                self._graft_child(child, target, mount.mount_point)
        else:
            self._mount(mount.mount_point, target, None, MS_BIND | MS_REC, None)
            if _within(self.scratch, mount.mount_point):
                # The recursive copy took our own scratch mounts along; drop them there.
                inner = target + self.scratch[len(mount.mount_point.rstrip("/")) :]
                self.lib.umount2(os.fsencode(inner), MNT_DETACH)

    def _graft_child(self, child: MountInfo, parent_target: str, parent_point: str) -> None:
        if _within(child.mount_point, self.scratch):
            return
        relative = child.mount_point[len(parent_point.rstrip("/")) :]
        target = parent_target.rstrip("/") + relative
        if not os.path.lexists(target):
            return  # its mount point is not visible in the lower layer
        self._graft(child, target)

    def _setup(self) -> None:
        lib = self.lib
        lib.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        _check(lib.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare")
        self._mount(None, "/", None, MS_REC | MS_PRIVATE, None)
        # O_PATH descriptors pin each source before anything is mounted over the host's view.
        fds = [os.open(m.source, os.O_PATH | os.O_CLOEXEC) for m in self.fs.mounts]
        hosts_fd = (
            os.open(self.fs.hosts_file, os.O_PATH | os.O_CLOEXEC)
            if self.fs.hosts_file is not None
            else None
        )
        self._mount("tmpfs", self.scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
        new_root = os.path.join(self.scratch, "root")
        os.mkdir(new_root, 0o755)
        self._graft(self.root, new_root)
        for path in self.hidden:
            target = new_root + path
            if os.path.isdir(target):
                self._mount("tmpfs", target, "tmpfs", _HIDE_FLAGS, "mode=0755,size=4k")
        os.chdir(new_root)
        os.chroot(".")
        plan = sorted(
            zip(self.fs.mounts, fds, strict=True), key=lambda pair: pair[0].target.count("/")
        )
        for spec, fd in plan:
            self._bind(f"/proc/self/fd/{fd}", spec.target, spec.is_file, spec.read_only)
        if hosts_fd is not None and not any(m.target == "/etc/hosts" for m in self.fs.mounts):
            self._bind(f"/proc/self/fd/{hosts_fd}", "/etc/hosts", True, False)
        hostname = os.fsencode(self.fs.hostname)
        _check(lib.sethostname(hostname, len(hostname)), "sethostname")
        for directory in (self.fs.workdir, self.cwd, "/"):
            if not directory:
                continue
            try:
                if directory == self.fs.workdir:
                    os.makedirs(directory, exist_ok=True)
                os.chdir(directory)
                break
            except OSError:
                continue

    def _bind(self, source: str, target: str, is_file: bool, read_only: bool) -> None:
        if is_file:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if os.path.isdir(target):
                msg = f"cannot mount a file on directory {target}"
                raise OSError(errno.EISDIR, msg)
            if not os.path.lexists(target):
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        else:
            os.makedirs(target, exist_ok=True)
        self._mount(source, target, None, MS_BIND, None)
        if read_only:
            self._mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY, None)


def probe_namespace(scratch: str) -> str | None:
    """Try the namespace steps once in a throw-away child; ``None`` when they work, else why.

    ``scratch`` is an empty directory (it stays empty on the host).
    """
    reason = namespace_support()
    if reason is not None:
        return reason
    fs = ContainerFS(mounts=(), hostname="probe", scratch=scratch)
    try:
        setup = NamespaceSetup(fs)
    except OSError as exc:
        return str(exc)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.close(read_fd)
        os.dup2(write_fd, 2)
        try:
            setup._setup()
        except BaseException as exc:
            os.write(2, str(exc).encode("utf-8", "replace"))
            os._exit(1)
        os._exit(0)
    os.close(write_fd)
    chunks = []
    deadline = time.monotonic() + _PROBE_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(read_fd, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0 and selector.select(left):
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    os.close(read_fd)
    code = reap_child(pid, max(0.0, deadline - time.monotonic()))
    if code == 0:
        return None
    if code is None:
        return f"namespace setup did not finish within {_PROBE_TIMEOUT:g} s"
    return b"".join(chunks).decode("utf-8", "replace").strip() or "namespace setup failed"


def reap_child(pid: int, timeout: float) -> int | None:
    """Reap child ``pid`` and return its exit code; if it has not exited within ``timeout``
    seconds, SIGKILL it, reap it if it goes within a second more (a process stuck in the
    kernel may not), and return None. -1 when it is not a child of ours."""
    deadline = time.monotonic() + timeout
    killed = False
    pause = 0.0002
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return -1
        if done:
            return None if killed else os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            if killed:
                return None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            killed = True
            deadline = time.monotonic() + 1.0
        time.sleep(pause)
        pause = min(pause * 2, 0.01)


# --- root mode ---------------------------------------------------------------------------------


def container_path(path: str, what: str = "mountPath") -> str:
    """``path`` inside the container as an absolute, normalised path: a relative path starts
    at the container's ``/``; a ``..`` that would climb above ``/`` and a NUL byte are refused
    (:class:`~podself.errors.ConfinementError`)."""
    if "\0" in path:
        msg = f"{what} {path!r}: must not contain a NUL byte"
        raise ConfinementError(msg)
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                msg = (
                    f'{what} {path!r}: must stay inside the container root (".." climbs above "/")'
                )
                raise ConfinementError(msg)
            parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def _parts(target: str, what: str) -> list[str]:
    parts = [p for p in target.split("/") if p]
    for part in parts:
        check_name(what, part)
    return parts


def build_root(fs: ContainerFS, ips: Iterable[str] = (), domain: str = "") -> list[str]:
    """Lay out ``fs.scratch`` as the container's ``PODSELF_ROOT``; return warnings.

    Directories become symlinks to the volume, files (``subPath``) are hard links to the
    file's inode, or copies across filesystems (they never see the kubelet's updates, as on
    a node), and ``etc/hosts`` is the kubelet-managed hosts file. A mount
    nested inside another mount's volume is skipped with a warning rather than written into
    that volume. Everything is created beneath ``fs.scratch`` through descriptors that never
    follow a symlink; only podself's own links and copies (or an empty directory) are
    replaced, anything else in the way raises :class:`~podself.errors.ConfinementError`.
    """
    root = fs.scratch
    warnings: list[str] = []
    with contextlib.suppress(FileExistsError):
        os.mkdir(root, 0o755)
    with closing(open_dir(root, "container root")) as root_fd:
        for spec in sorted(fs.mounts, key=lambda m: m.target.count("/")):
            parts = _parts(spec.target, f"mount {spec.target}")
            try:
                parent = open_beneath(root_fd, parts[:-1], "mount", create=0o755)
            except ConfinementError:
                warnings.append(f"mount {spec.target} inside another volume is not emulated")
                continue
            with closing(parent):
                _make_room(parent, parts[-1], spec.target)
                if spec.is_file:
                    _copy_into(spec.source, parent, parts[-1])
                else:
                    os.symlink(spec.source, parts[-1], dir_fd=parent)
        if fs.hosts_file is not None or ips:
            try:
                etc = open_beneath(root_fd, ["etc"], "hosts file", create=0o755)
            except ConfinementError:
                return warnings  # /etc is a volume: its content is the volume's
            with closing(etc), contextlib.suppress(FileExistsError):
                fd = os.open("hosts", _NEW_FILE, 0o644, dir_fd=etc)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(hosts_file_content(list(ips), fs.hostname, domain))
    return warnings


def working_dir(root: str, workdir: str) -> str:
    """The host directory of ``workingDir`` under the ``PODSELF_ROOT`` tree ``root``, created
    when missing; inside a volume (a symlinked component) nothing is created."""
    parts = _parts(container_path(workdir, "workingDir"), "workingDir")
    with (
        closing(open_dir(root, "container root")) as root_fd,
        contextlib.suppress(ConfinementError),
    ):
        os.close(open_beneath(root_fd, parts, "workingDir", create=0o755))
    return os.path.join(root, *parts)


def _make_room(parent: int, name: str, target: str) -> None:
    try:
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=parent)  # a link or copy of an earlier start
        return
    try:
        os.rmdir(name, dir_fd=parent)
    except OSError:
        msg = (
            f"mount {target}: a non-empty directory is in the way; podself replaces only its "
            "own links, copies and empty directories"
        )
        raise ConfinementError(msg) from None


def _copy_into(source: str, parent: int, name: str) -> None:
    # O_NONBLOCK: a FIFO a container made in its volume must not hang podself run.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    with open(os.open(source, flags), "rb") as src:
        st = os.fstat(src.fileno())
        if not stat.S_ISREG(st.st_mode):
            msg = f'subPath file "{source}": must be a regular file or a directory (it is copied)'
            raise ConfinementError(msg)
        # A hard link pins the inode as the kubelet's bind mount does, at once: copying a
        # 1 TiB sparse file a container left in its emptyDir would fill the disk and hold up
        # podself run (--timeout and signals too). Copied only across filesystems or without
        # /proc (macOS), where a link cannot be made.
        with contextlib.suppress(OSError):
            os.link(f"/proc/self/fd/{src.fileno()}", name, dst_dir_fd=parent)
            return
        mode = stat.S_IMODE(st.st_mode) & 0o777
        fd = os.open(name, _NEW_FILE, 0o600, dir_fd=parent)
        with os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst)
            os.fchmod(dst.fileno(), mode)

"""The per-pod state directory: the running pod's object, its status, and its volumes.

``podself run`` owns ``<root>/<namespace>/<name>/``; ``podself label``/``annotate`` edit its
``pod.json`` (atomically, under a lock) and ``run`` notices and re-projects the volumes;
``podself get pods`` reads ``status.json``. The directory is removed when the pod stops.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself._safefs import (
    check_name,
    check_private,
    closing,
    open_beneath,
    open_dir,
    private_dir,
    remove_entry,
)
from podself.emulator.mounts import parse_mountinfo
from podself.errors import ConfinementError, ManifestError
from podself.validation import name_is_dns_label, name_is_dns_subdomain

__all__ = [
    "STATE_DIR_ENV",
    "PodExistsError",
    "PodState",
    "default_state_root",
    "list_pods",
    "next_resource_version",
    "process_alive",
    "process_token",
]

STATE_DIR_ENV: Final = "PODSELF_STATE_DIR"
_POD_FILE: Final = "pod.json"
_STATUS_FILE: Final = "status.json"
_OWNER_FILE: Final = "owner.json"
_LOCK_FILE: Final = "lock"
_STALE_PREFIX: Final = ".stale."  # a dead run's directory, moved aside to be removed
_O_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC: Final = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK: Final = getattr(os, "O_NONBLOCK", 0)


def default_state_root(environ: Mapping[str, str] | None = None) -> str:
    """Where pod state lives: ``$PODSELF_STATE_DIR``, else ``/run/podself`` for root, else
    ``$XDG_RUNTIME_DIR/podself``, else ``<tmp>/podself-<uid>``."""
    env = os.environ if environ is None else environ
    configured = env.get(STATE_DIR_ENV, "")
    if configured:
        return os.path.abspath(configured)
    if hasattr(os, "geteuid") and os.geteuid() == 0 and os.path.isdir("/run"):
        return "/run/podself"
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "podself")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"podself-{uid}")


_MAX_PID: Final = 2**31 - 1  # pid_t


def process_token(pid: int) -> str:
    """A string that identifies process ``pid`` across pid reuse (its start time on Linux)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return str(pid)
    # Field 22 (starttime) counts from after the ")" that ends the command name.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return f"{pid}:{fields[19].decode()}" if len(fields) > 19 else str(pid)


def process_alive(pid: int, token: str) -> bool:
    """Whether the process that wrote ``token`` (see :func:`process_token`) still runs."""
    if not 0 < pid <= _MAX_PID:  # an owner.json edited by hand: os.kill would overflow
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return process_token(pid) == token


_MAX_STATE_FILE = 16 * 1024 * 1024  # pod.json holds at most a pod object (1.5 MiB on etcd)
_LOCK_ATTEMPTS = 20


class PodExistsError(ManifestError):
    """A live ``podself run`` already owns the pod (the API server's AlreadyExists)."""


class _NamespaceGone(Exception):
    """The namespace directory was removed while its lock was being taken (retried)."""


def _write_json_at(dir_fd: int, name: str, data: Mapping[str, Any], shown: str) -> None:
    """Replace ``name`` in ``dir_fd`` atomically; on failure (a full disk...) the old file
    stays as it was and the temporary file is removed."""
    tmp = f".tmp-{name}-{os.urandom(4).hex()}"
    text = json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
    try:
        fd = os.open(tmp, flags, 0o600, dir_fd=dir_fd)
        try:
            view = memoryview(text.encode("utf-8", "surrogateescape"))
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        error = OSError(f"cannot write {shown}: {exc.strerror or exc}")
        error.errno = exc.errno  # kept for callers, out of the message
        raise error from exc


def _read_json_at(dir_fd: int, name: str, shown: str) -> dict[str, Any]:
    fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | _O_NONBLOCK, dir_fd=dir_fd)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            msg = f"{shown}: must be a regular file"
            raise ManifestError(msg)
        chunks: list[bytes] = []
        size = 0
        while size <= _MAX_STATE_FILE and (chunk := os.read(fd, 1 << 16)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if size > _MAX_STATE_FILE:
        msg = f"{shown}: larger than {_MAX_STATE_FILE} bytes"
        raise ManifestError(msg)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        msg = f"{shown}: not valid JSON: {exc}"
        raise ManifestError(msg) from None
    if not isinstance(data, dict):
        msg = f"{shown}: expected a JSON object"
        raise ManifestError(msg)
    return data


@dataclass(frozen=True, slots=True)
class PodState:
    """The state directory of one emulated pod (nothing is created until :meth:`create`).

    Every create and delete stays inside ``<root>/<namespace>/<name>``: both names must be
    plain path components, no component below the root may be a symlink, the root must be
    private (0700 when podself creates it, owned by this user, never group- or
    world-writable), and only a directory holding podself's owner record is ever deleted.
    """

    root: str
    namespace: str
    name: str

    def __post_init__(self) -> None:
        _check_state_name("namespace", self.namespace)
        _check_state_name("pod name", self.name)
        object.__setattr__(self, "root", os.path.abspath(self.root))

    @property
    def path(self) -> str:
        """``<root>/<namespace>/<name>``."""
        return os.path.join(self.root, self.namespace, self.name)

    @property
    def pod_file(self) -> str:
        """The pod object (``pod.json``), edited by ``podself label``/``annotate``."""
        return os.path.join(self.path, _POD_FILE)

    @property
    def status_file(self) -> str:
        """Container states for ``podself get pods`` (``status.json``)."""
        return os.path.join(self.path, _STATUS_FILE)

    @property
    def volumes_dir(self) -> str:
        """Where each volume's directory lives."""
        return os.path.join(self.path, "volumes")

    @property
    def containers_dir(self) -> str:
        """Per-container scratch space (namespace layers or the ``PODSELF_ROOT`` tree)."""
        return os.path.join(self.path, "containers")

    def exists(self) -> bool:
        """Whether the directory exists (running or left behind by a killed run)."""
        try:
            return stat.S_ISDIR(os.lstat(self.path).st_mode)
        except OSError:
            return False

    def owner(self) -> tuple[int, str] | None:
        """``(pid, token)`` of the ``podself run`` that owns this pod, if recorded."""
        try:
            with self._dir() as fd:
                data = _read_json_at(fd, _OWNER_FILE, _OWNER_FILE)
        except (OSError, ValueError):
            return None
        pid, token = data.get("pid"), data.get("token")
        if isinstance(pid, int) and not isinstance(pid, bool) and isinstance(token, str):
            return pid, token
        return None

    def alive(self) -> bool:
        """Whether the owning ``podself run`` is still running."""
        owner = self.owner()
        return owner is not None and process_alive(*owner)

    def create(self, pod: Mapping[str, Any]) -> list[str]:
        """Create the directory for a new run of this pod and record the owner; return notes.

        A directory left by a run that no longer exists is moved aside and removed first (a
        note says so when it cannot be removed; the name is usable either way); one owned by
        a live run raises :class:`PodExistsError` with the API server's message. A directory
        without podself's owner record is never deleted
        (:class:`~podself.errors.ConfinementError`).
        """
        private_dir(self.root, "state directory")
        for _ in range(_LOCK_ATTEMPTS):
            try:
                with self._namespace_dir(create=True) as ns_fd, self._name_lock(ns_fd):
                    return self._create_locked(ns_fd, pod)
            except _NamespaceGone:
                continue  # a run of another pod removed the empty namespace directory
        msg = f'namespace directory "{os.path.dirname(self.path)}": kept disappearing'
        raise OSError(errno.EAGAIN, msg)

    def _create_locked(self, ns_fd: int, pod: Mapping[str, Any]) -> list[str]:
        notes = self._sweep_stale(ns_fd)
        try:
            st: os.stat_result | None = os.stat(self.name, dir_fd=ns_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if st is not None and not stat.S_ISDIR(st.st_mode):
            os.unlink(self.name, dir_fd=ns_fd)  # a stray link or file: removing it follows nothing
        elif st is not None:
            if self.alive():
                msg = f'pods "{self.name}" already exists'
                raise PodExistsError(msg)
            notes.extend(self._discard_leftover(ns_fd))
        os.mkdir(self.name, 0o700, dir_fd=ns_fd)
        try:
            with closing(open_beneath(ns_fd, [self.name], "pod state directory")) as fd:
                pid = os.getpid()
                owner = {"pid": pid, "token": process_token(pid)}
                _write_json_at(fd, _OWNER_FILE, owner, self._shown(_OWNER_FILE))
                # The pod directory (0700) keeps other users out of the volumes below it,
                # whatever modes the kubelet gives their files (defaultMode 0644).
                os.mkdir("volumes", 0o755, dir_fd=fd)
                os.mkdir("containers", 0o755, dir_fd=fd)
                _write_json_at(fd, _POD_FILE, pod, self._shown(_POD_FILE))
        except BaseException:
            self._move_aside_and_remove(ns_fd)  # a half-made directory helps nobody
            raise
        return notes

    def container_dir(self, container: str) -> str:
        """Create (if missing) and return the scratch directory of ``container``."""
        _check_state_name("container name", container)
        with self._dir(write=True) as fd:
            os.close(open_beneath(fd, ["containers", container], "container name", create=0o700))
        return os.path.join(self.containers_dir, container)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the pod's lock (serialises edits of ``pod.json``)."""
        with self._dir(write=True) as dir_fd:
            flags = os.O_CREAT | os.O_RDWR | _O_NOFOLLOW | _O_CLOEXEC
            fd = os.open(_LOCK_FILE, flags, 0o600, dir_fd=dir_fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
            finally:
                os.close(fd)

    def read_pod(self) -> dict[str, Any]:
        """The pod object as last written (:class:`ManifestError` when it is not JSON, or its
        metadata is not what podself writes)."""
        with self._dir() as fd:
            pod = _read_json_at(fd, _POD_FILE, self._shown(_POD_FILE))
        _check_pod_metadata(pod, self._shown(_POD_FILE))
        return pod

    def write_pod(self, pod: Mapping[str, Any]) -> None:
        """Replace ``pod.json`` atomically (callers hold :meth:`locked`)."""
        with self._dir(write=True) as fd:
            _write_json_at(fd, _POD_FILE, pod, self._shown(_POD_FILE))

    def update_pod(self, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Read, change in place and write back ``pod.json`` under the lock; return it."""
        with self.locked():
            pod = self.read_pod()
            change(pod)
            self.write_pod(pod)
        return pod

    def read_status(self) -> dict[str, Any]:
        """The last status written by ``podself run`` (``{}`` when none)."""
        try:
            with self._dir() as fd:
                return _read_json_at(fd, _STATUS_FILE, self._shown(_STATUS_FILE))
        except (OSError, ValueError):
            return {}

    def write_status(self, status: Mapping[str, Any]) -> None:
        """Replace ``status.json`` atomically."""
        with self._dir(write=True) as fd:
            _write_json_at(fd, _STATUS_FILE, status, self._shown(_STATUS_FILE))

    def remove(self) -> None:
        """Delete the directory of this run; symlinks inside are removed, never followed.

        Only the run that owns it (its owner record names this process) deletes it: a
        directory that another run took over, or one podself did not create, raises
        :class:`~podself.errors.ConfinementError` and is left alone.
        """
        try:
            with self._namespace_dir(create=False) as ns_fd, self._name_lock(ns_fd, unlink=True):
                pid = os.getpid()
                if self.owner() != (pid, process_token(pid)):
                    if not self.exists():
                        return
                    msg = (
                        f'pod state directory "{self.path}": not removed: it must hold the '
                        "owner record of this podself run"
                    )
                    raise ConfinementError(msg)
                notes = self._move_aside_and_remove(ns_fd)
        except (FileNotFoundError, _NamespaceGone):
            return  # no namespace directory: nothing of ours is left
        if notes:
            raise OSError(errno.ENOTEMPTY, notes[0])
        with contextlib.suppress(OSError):
            os.rmdir(os.path.join(self.root, self.namespace))  # once empty

    # -- confined access -------------------------------------------------------------------

    @property
    def _tag(self) -> str:
        # Names of the lock and of directories moved aside: fixed-length, as a 253-byte pod
        # name plus a prefix would pass NAME_MAX (255).
        return hashlib.sha256(self.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]

    def _shown(self, name: str) -> str:
        return f'pod state file "{os.path.join(self.path, name)}"'

    @contextlib.contextmanager
    def _namespace_dir(self, *, create: bool) -> Iterator[int]:
        with closing(open_dir(self.root, "state directory")) as root_fd:
            if create:
                check_private(os.fstat(root_fd), self.root, "state directory")
            mode = 0o700 if create else None
            with closing(open_beneath(root_fd, [self.namespace], "namespace", create=mode)) as fd:
                if create:
                    check_private(os.fstat(fd), os.path.dirname(self.path), "namespace directory")
                yield fd

    @contextlib.contextmanager
    def _dir(self, *, write: bool = False) -> Iterator[int]:
        """The pod directory's descriptor; to ``write``, the root and the pod directory must
        also be private (:func:`~podself._safefs.check_private`)."""
        with (
            closing(open_dir(self.root, "state directory")) as root_fd,
            closing(
                open_beneath(root_fd, [self.namespace, self.name], "pod state directory")
            ) as fd,
        ):
            if write:
                check_private(os.fstat(root_fd), self.root, "state directory")
                check_private(os.fstat(fd), self.path, "pod state directory")
            yield fd

    @contextlib.contextmanager
    def _name_lock(self, ns_fd: int, *, unlink: bool = False) -> Iterator[None]:
        """The per-name lock beside the pod directory; ``unlink`` removes the lock file when
        released. A waiter whose lock file was unlinked meanwhile takes the new one."""
        lock = f".lock.{self._tag}"
        flags = os.O_CREAT | os.O_RDWR | _O_NOFOLLOW | _O_CLOEXEC
        for _ in range(_LOCK_ATTEMPTS):
            try:
                fd = os.open(lock, flags, 0o600, dir_fd=ns_fd)
            except FileNotFoundError:
                raise _NamespaceGone from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.stat(lock, dir_fd=ns_fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if (current.st_dev, current.st_ino) != _identity(os.fstat(fd)):
                    continue
                try:
                    yield
                finally:
                    if unlink:
                        with contextlib.suppress(OSError):
                            os.unlink(lock, dir_fd=ns_fd)
                return
            finally:
                os.close(fd)
        msg = f'pod state lock "{os.path.join(self.root, self.namespace, lock)}": kept changing'
        raise OSError(errno.EAGAIN, msg)

    def _discard_leftover(self, ns_fd: int) -> list[str]:
        """Remove the directory of a dead run (caller holds the name lock)."""
        if self.owner() is None:
            try:
                # A run killed before its owner record was renamed into place leaves at most
                # that record's temporary file: nothing to lose.
                with closing(open_beneath(ns_fd, [self.name], "pod state directory")) as fd:
                    for entry in os.listdir(fd):
                        if entry.startswith(f".tmp-{_OWNER_FILE}-"):
                            os.unlink(entry, dir_fd=fd)
                os.rmdir(self.name, dir_fd=ns_fd)
            except OSError:
                msg = (
                    f'pod state directory "{self.path}": not removed: it has no owner record of '
                    "a podself run, so podself did not create it; remove it yourself"
                )
                raise ConfinementError(msg) from None
            return []
        return self._move_aside_and_remove(ns_fd)

    def _move_aside_and_remove(self, ns_fd: int) -> list[str]:
        inside = _mounts_inside(self.path)
        if inside:
            msg = (
                f'pod state directory "{self.path}": not removed: "{inside[0]}" is mounted '
                "inside it (unmount it first)"
            )
            raise ConfinementError(msg)
        # Renaming first frees the pod name at once, whatever the removal then meets.
        aside = f"{_STALE_PREFIX}{self._tag}.{os.urandom(4).hex()}"
        os.rename(self.name, aside, src_dir_fd=ns_fd, dst_dir_fd=ns_fd)
        return self._remove_aside(ns_fd, aside)

    def _remove_aside(self, ns_fd: int, aside: str) -> list[str]:
        where = os.path.join(self.root, self.namespace, aside)
        try:
            inside = _mounts_inside(where)
            if inside:
                msg = f'"{inside[0]}" is mounted inside it (unmount it first)'
                raise ConfinementError(msg)
            remove_entry(ns_fd, aside)
        except OSError as exc:
            return [f'cannot remove "{where}" (the state of pod "{self.name}"): {exc}']
        return []

    def _sweep_stale(self, ns_fd: int) -> list[str]:
        mine = f"{_STALE_PREFIX}{self._tag}"
        with os.scandir(ns_fd) as entries:
            stale = [e.name for e in entries if e.name.rpartition(".")[0] == mine]
        notes: list[str] = []
        for aside in stale:
            notes.extend(self._remove_aside(ns_fd, aside))
        return notes


_MAX_RESOURCE_VERSION_DIGITS: Final = 19  # an int64, as etcd's revisions


def _check_pod_metadata(pod: Mapping[str, Any], shown: str) -> None:
    """Refuse a pod.json whose metadata the label and sync code could not use (edited by
    hand, or by another tool): an object, string maps, a decimal resourceVersion."""
    meta = pod.get("metadata")
    if not isinstance(meta, dict):
        msg = f"{shown}: metadata must be a JSON object, not {type(meta).__name__}"
        raise ManifestError(msg)
    for key in ("labels", "annotations"):
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, dict)
            and all(isinstance(v, str) for v in value.values())  # keys of JSON objects are str
        ):
            msg = f"{shown}: metadata.{key} must map strings to strings"
            raise ManifestError(msg)
    version = meta.get("resourceVersion")
    if version is not None and not (
        isinstance(version, str)
        and version.isascii()
        and version.isdigit()
        and len(version) <= _MAX_RESOURCE_VERSION_DIGITS
    ):
        msg = f"{shown}: metadata.resourceVersion must be a decimal number, not {version!r}"
        raise ManifestError(msg)


def next_resource_version(meta: Mapping[str, Any]) -> str:
    """The ``resourceVersion`` after one more change of a pod read by :meth:`PodState.read_pod`."""
    return str(int(meta.get("resourceVersion") or "1") + 1)


def _mounts_inside(path: str) -> list[str]:
    """Mount points strictly inside ``path`` (read from /proc/self/mountinfo on Linux: a bind
    mount of a directory of the same filesystem is invisible to ``st_dev``)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as handle:
            text = handle.read()
    except OSError:
        return []
    prefix = os.path.realpath(path).rstrip("/") + "/"
    return [m.mount_point for m in parse_mountinfo(text) if m.mount_point.startswith(prefix)]


def _check_state_name(what: str, value: str) -> None:
    check_name(what, value)
    if value.startswith("."):
        # Names starting with "." are podself's own: locks, probes, directories moved aside.
        msg = f'{what} {value!r}: must not start with "." (reserved for podself\'s own files)'
        raise ConfinementError(msg)


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def list_pods(root: str, namespace: str | None = None) -> list[PodState]:
    """Pods with a live ``podself run`` under ``root`` (one namespace, or all when None)."""
    found: list[PodState] = []
    if namespace is not None:
        _check_state_name("namespace", namespace)
    try:
        namespaces = sorted(os.listdir(root)) if namespace is None else [namespace]
    except FileNotFoundError:
        return found
    for ns in namespaces:
        if ns.startswith(".") or name_is_dns_label(ns):
            continue  # podself's own (or foreign) entries, never a namespace
        try:
            names = sorted(os.listdir(os.path.join(root, ns)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            if name.startswith(".") or name_is_dns_subdomain(name):
                # No pod has a name the API server refuses: such an entry is not one of
                # podself's, and its name (escape sequences...) is not printed.
                continue
            state = PodState(root, ns, name)
            if state.exists() and state.alive():
                found.append(state)
    return found

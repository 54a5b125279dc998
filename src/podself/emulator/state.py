"""The per-pod state directory: the running pod's object, its status, and its volumes.

``podself run`` owns ``<root>/<namespace>/<name>/``; ``podself label``/``annotate`` edit its
``pod.json`` (atomically, under a lock) and ``run`` notices and re-projects the volumes;
``podself get pods`` reads ``status.json``. The directory is removed when the pod stops.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself.errors import ManifestError

__all__ = [
    "STATE_DIR_ENV",
    "PodState",
    "default_state_root",
    "list_pods",
    "process_alive",
    "process_token",
]

STATE_DIR_ENV: Final = "PODSELF_STATE_DIR"
_POD_FILE: Final = "pod.json"
_STATUS_FILE: Final = "status.json"
_OWNER_FILE: Final = "owner.json"
_LOCK_FILE: Final = "lock"


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
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return process_token(pid) == token


def _write_json_atomic(path: str, data: Mapping[str, Any]) -> None:
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False, ensure_ascii=False)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _read_json(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        msg = f"{path}: expected a JSON object"
        raise ManifestError(msg)
    return data


@dataclass(frozen=True, slots=True)
class PodState:
    """The state directory of one emulated pod (nothing is created until :meth:`create`)."""

    root: str
    namespace: str
    name: str

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
        return os.path.isdir(self.path)

    def owner(self) -> tuple[int, str] | None:
        """``(pid, token)`` of the ``podself run`` that owns this pod, if recorded."""
        try:
            data = _read_json(os.path.join(self.path, _OWNER_FILE))
        except (OSError, ValueError, ManifestError):
            return None
        pid, token = data.get("pid"), data.get("token")
        if isinstance(pid, int) and isinstance(token, str):
            return pid, token
        return None

    def alive(self) -> bool:
        """Whether the owning ``podself run`` is still running."""
        owner = self.owner()
        return owner is not None and process_alive(*owner)

    def create(self, pod: Mapping[str, Any]) -> None:
        """Create the directory for a new run of this pod and record the owner.

        A directory left by a run that no longer exists is removed first; one owned by a live
        run raises :class:`~podself.errors.ManifestError` with the API server's message.
        """
        parent = os.path.dirname(self.path)
        os.makedirs(parent, mode=0o755, exist_ok=True)
        lock_fd = os.open(os.path.join(parent, f".{self.name}.lock"), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            if self.exists():
                if self.alive():
                    msg = f'pods "{self.name}" already exists'
                    raise ManifestError(msg)
                self._remove_tree()
            os.mkdir(self.path, 0o755)
            os.mkdir(self.volumes_dir, 0o755)
            os.mkdir(self.containers_dir, 0o755)
            pid = os.getpid()
            _write_json_atomic(
                os.path.join(self.path, _OWNER_FILE), {"pid": pid, "token": process_token(pid)}
            )
            _write_json_atomic(self.pod_file, pod)
        finally:
            os.close(lock_fd)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the pod's lock (serialises edits of ``pod.json``)."""
        fd = os.open(os.path.join(self.path, _LOCK_FILE), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def read_pod(self) -> dict[str, Any]:
        """The pod object as last written."""
        return _read_json(self.pod_file)

    def write_pod(self, pod: Mapping[str, Any]) -> None:
        """Replace ``pod.json`` atomically (callers hold :meth:`locked`)."""
        _write_json_atomic(self.pod_file, pod)

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
            return _read_json(self.status_file)
        except (OSError, ValueError, ManifestError):
            return {}

    def write_status(self, status: Mapping[str, Any]) -> None:
        """Replace ``status.json`` atomically."""
        _write_json_atomic(self.status_file, status)

    def remove(self) -> None:
        """Delete the directory; symlinks inside are removed, never followed."""
        self._remove_tree()
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(os.path.dirname(self.path), f".{self.name}.lock"))
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(self.path))  # the namespace directory, once empty

    def _remove_tree(self) -> None:
        try:
            shutil.rmtree(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EBUSY):
                raise
            # A second attempt covers a volume rewritten while it was being removed.
            shutil.rmtree(self.path, ignore_errors=True)


def list_pods(root: str, namespace: str | None = None) -> list[PodState]:
    """Pods with a live ``podself run`` under ``root`` (one namespace, or all when None)."""
    found: list[PodState] = []
    try:
        namespaces = sorted(os.listdir(root)) if namespace is None else [namespace]
    except FileNotFoundError:
        return found
    for ns in namespaces:
        try:
            names = sorted(os.listdir(os.path.join(root, ns)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            if name.startswith("."):
                continue
            state = PodState(root, ns, name)
            if state.exists() and state.alive():
                found.append(state)
    return found

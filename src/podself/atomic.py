"""The kubelet's ``..data`` volume protocol: the writer (for the emulator and tests) and a
reader that never returns a torn mix of two versions.

Downward API, ConfigMap, Secret and projected volumes are written by the kubelet's
``AtomicWriter`` (``pkg/volume/util/atomic_writer.go``). For the payload ``{"labels": …,
"podinfo/annotations": …}`` the target directory looks like this::

    /etc/podinfo/
    ├── ..2016_02_01_15_04_05.12345678/      the real files of one version (0755)
    │   ├── labels                           regular file, chmod'ed to its mode
    │   └── podinfo/
    │       └── annotations
    ├── ..data -> ..2016_02_01_15_04_05.12345678
    ├── labels -> ..data/labels              one link per FIRST path element
    └── podinfo -> ..data/podinfo

An update writes a new timestamp directory, points ``..data_tmp`` at it and renames
``..data_tmp`` over ``..data`` (atomic on POSIX), then prunes links and the old directory.
Every name starting with ``..`` belongs to the protocol. The twelve steps are listed on
:func:`write` and marked ``# (1)`` … ``# (12)`` in its body, as in the kubelet's source.

Readers: one ``open()`` of ``<dir>/<file>`` resolves ``..data`` once, so it never sees a torn
file; several files are read consistently by :func:`read_snapshot` (readlink ``..data``, read
``<dir>/<target>/…``, readlink again, retry on change or ``ENOENT``).

One module on purpose: the writer and the reader are the two halves of one protocol, and the
writer's steps read best in one place, in the kubelet's order.
"""

from __future__ import annotations

import errno
import os
import stat
import types

from podself._record import Record
from podself.errors import PayloadError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

__all__ = [
    "DATA_DIR_NAME",
    "MAX_DEPTH",
    "MAX_FILE_NAME_LENGTH",
    "MAX_PATH_LENGTH",
    "MAX_READ_BYTES",
    "MAX_SNAPSHOT_BYTES",
    "MAX_SNAPSHOT_FILES",
    "NEW_DATA_DIR_NAME",
    "FileProjection",
    "Snapshot",
    "paths_to_remove",
    "read_file",
    "read_snapshot",
    "read_text",
    "validate_path",
    "validate_payload",
    "write",
]

DATA_DIR_NAME = "..data"
NEW_DATA_DIR_NAME = "..data_tmp"
MAX_FILE_NAME_LENGTH = 255
MAX_PATH_LENGTH = 4096

_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class FileProjection(Record):
    """One file of a payload: its bytes and the mode it gets whatever the umask."""

    __slots__ = ("data", "mode")
    data: bytes
    mode: int

    def __init__(self, data: bytes | bytearray | memoryview, mode: int = 0o644) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            msg = f"file projection data {type(data).__name__}: must be bytes"
            raise TypeError(msg)
        if isinstance(mode, bool) or not isinstance(mode, int) or not 0 <= mode <= 0o7777:
            msg = f"file projection mode {mode!r}: must be an int between 0 and 0o7777"
            raise PayloadError(msg)
        self._init(data=bytes(data), mode=mode)


class Snapshot(Record):
    """Files read from one version of a volume directory, never a mix of two versions.

    ``version`` is the ``..data`` target (``None`` for a plain directory), ``files`` maps each
    name read to its bytes, ``missing`` names what was asked for (or listed) but could not be
    read, ``unreadable`` is the part of ``missing`` that exists but failed (``EACCES``, too
    large…), and ``warnings`` says what was left out and why (a bound, a foreign ``..data``).
    """

    __slots__ = ("files", "missing", "unreadable", "version", "warnings")
    files: Mapping[str, bytes]
    missing: tuple[str, ...]
    unreadable: tuple[str, ...]
    version: str | None
    warnings: tuple[str, ...]

    def __init__(
        self,
        version: str | None,
        files: Mapping[str, bytes],
        missing: tuple[str, ...] = (),
        unreadable: tuple[str, ...] = (),
        warnings: tuple[str, ...] = (),
    ) -> None:
        self._init(
            version=version,
            files=types.MappingProxyType(dict(files)),
            missing=tuple(missing),
            unreadable=tuple(unreadable),
            warnings=tuple(warnings),
        )

    def text(self, name: str) -> str | None:
        """The file ``name`` decoded as UTF-8 (bad bytes replaced), or ``None`` if absent."""
        data = self.files.get(name)
        return None if data is None else data.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------
# Reader (runtime path: os, errno, stat and types only)

# Bounds against a hostile or broken volume, each above anything the API server lets a volume
# hold: a ConfigMap's or Secret's data is at most 1 MiB, a Downward API annotations file at most
# 1.25 MiB (256 KiB of annotations, every byte quoted as \xNN plus four bytes per entry), and
# validatePath allows paths of up to 4096 bytes.
MAX_READ_BYTES = 2 << 20
MAX_SNAPSHOT_BYTES = 32 << 20
MAX_SNAPSHOT_FILES = 10_000
MAX_DEPTH = 64

_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_DIR_FLAGS = os.O_RDONLY | _O_CLOEXEC | _O_NONBLOCK | _O_DIRECTORY
_FILE_FLAGS = os.O_RDONLY | _O_CLOEXEC | _O_NONBLOCK


class _TooLarge(OSError):
    """A file above its byte limit (never read past the limit)."""


def read_snapshot(
    directory: str | os.PathLike[str],
    names: Iterable[str] | None = None,
    *,
    retries: int = 10,
    max_bytes: int | Mapping[str, int] = MAX_READ_BYTES,
) -> Snapshot:
    """Read ``names`` (or every user-visible file) from one version of ``directory``.

    With ``..data`` present: readlink it to get the version T, read ``<directory>/T/<name>``,
    readlink again and start over if it changed or a read hit ``ENOENT`` because the old
    version was being removed. A directory without ``..data`` (hand-made, or a plain copy)
    is read directly, with no consistency guarantee. After ``retries`` restarts (with a short
    back-off) it raises ``OSError(EAGAIN)`` rather than return a torn snapshot. A missing
    ``directory`` raises ``FileNotFoundError``.

    Nothing outside ``directory`` is read: ``..data`` must name a timestamp directory in it
    (one ``..``-prefixed component, as the kubelet writes), and no symlink below it is
    followed (in a plain directory, only a symlinked file itself). Only regular files are
    read, never blocking. Each file is read up to ``max_bytes`` (an int, or a mapping of
    name -> limit with :data:`MAX_READ_BYTES` for other names); a larger one, files past
    :data:`MAX_SNAPSHOT_BYTES` in all or :data:`MAX_SNAPSHOT_FILES` in number, and
    directories deeper than :data:`MAX_DEPTH` are left out. Every such problem is reported
    on ``Snapshot.warnings`` (the files also on ``missing`` and ``unreadable``).
    """
    root = os.fspath(directory)
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        msg = f"retries {retries!r}: must be an int >= 0"
        raise ValueError(msg)
    wanted: tuple[str, ...] | None = None
    if names is not None:
        wanted = tuple(names)
        for name in wanted:
            validate_path(name)
    root_fd = os.open(root, _DIR_FLAGS)
    try:
        for attempt in range(retries + 1):
            if attempt > 1:
                _backoff(attempt)
            version = _readlink(DATA_DIR_NAME, root_fd)
            if version is None:
                return _read_tree(root_fd, root, None, wanted, max_bytes)
            if not _is_version_name(version):
                return _refuse_version(root, version, wanted)
            try:
                version_fd = os.open(version, _DIR_FLAGS | _O_NOFOLLOW, dir_fd=root_fd)
            except FileNotFoundError:
                continue  # the version was removed under us (step 12): start over
            except OSError as err:
                if err.errno in (errno.ELOOP, errno.ENOTDIR):  # a symlink or a file
                    return _refuse_version(root, version, wanted)
                raise
            try:
                snapshot = _read_tree(version_fd, root, version, wanted, max_bytes)
            except FileNotFoundError:
                continue
            finally:
                os.close(version_fd)
            if _readlink(DATA_DIR_NAME, root_fd) != version:
                continue
            return snapshot
    finally:
        os.close(root_fd)
    msg = f'read "{root}": {DATA_DIR_NAME} changed during each of {retries + 1} attempts'
    raise OSError(errno.EAGAIN, msg, root)


def read_text(
    directory: str | os.PathLike[str], name: str, *, max_bytes: int = MAX_READ_BYTES
) -> str | None:
    """One file of ``directory`` as text (UTF-8, bad bytes replaced), or ``None`` when the
    file or the directory is missing or unreadable, or the file is above ``max_bytes``."""
    try:
        snapshot = read_snapshot(directory, (name,), max_bytes=max_bytes)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return snapshot.text(name)


def read_file(path: str | os.PathLike[str], *, max_bytes: int = MAX_READ_BYTES) -> bytes:
    """The bytes of the regular file ``path``, never blocking and never more than
    ``max_bytes``: ``OSError`` ``EINVAL`` for a FIFO, device or directory, ``EFBIG`` for a
    larger file, as well as the usual ``FileNotFoundError``, ``PermissionError``…"""
    fd = os.open(path, _FILE_FLAGS)
    try:
        return _read_regular(fd, max_bytes, os.fspath(path))
    finally:
        os.close(fd)


def _backoff(attempt: int) -> None:
    import time

    time.sleep(min(0.001 * (1 << (attempt - 2)), 0.05))


def _readlink(path: str, dir_fd: int | None = None) -> str | None:
    try:
        return os.readlink(path, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno == errno.EINVAL:  # exists but is not a symlink: not the protocol
            return None
        raise


def _is_version_name(name: str) -> bool:
    """The kubelet links ``..data`` to ``..<timestamp>``: one component inside the volume."""
    return (
        name.startswith("..")
        and "/" not in name
        and "\0" not in name
        and name not in {"..", DATA_DIR_NAME, NEW_DATA_DIR_NAME}
    )


def _refuse_version(root: str, version: str, wanted: tuple[str, ...] | None) -> Snapshot:
    problem = (
        f'"{root}": {DATA_DIR_NAME} -> {version!r} is not a timestamp directory inside it; '
        "nothing read"
    )
    return Snapshot(None, {}, wanted or (), wanted or (), (problem,))


def _limit_of(max_bytes: int | Mapping[str, int], name: str) -> int:
    if isinstance(max_bytes, int):
        return max_bytes
    return max_bytes.get(name, MAX_READ_BYTES)


def _read_tree(
    dir_fd: int,
    root: str,
    version: str | None,
    wanted: tuple[str, ...] | None,
    max_bytes: int | Mapping[str, int],
) -> Snapshot:
    # An ENOENT caused by the writer removing this version (step 12) can only happen after
    # the rename (step 9), so the caller's second readlink always catches it.
    warnings: list[str] = []
    names = wanted if wanted is not None else _list_files(dir_fd, root, warnings)
    # In a plain directory a top-level symlink to a file is the user's own doing; the
    # kubelet never puts a symlink inside a version.
    follow = version is None
    files: dict[str, bytes] = {}
    missing: list[str] = []
    unreadable: list[str] = []
    total = 0
    for name in names:
        if total > MAX_SNAPSHOT_BYTES:
            missing.append(name)
            unreadable.append(name)
            continue
        limit = _limit_of(max_bytes, name)
        try:
            data = _read_file(dir_fd, name, limit, follow)
        except (FileNotFoundError, NotADirectoryError):
            missing.append(name)
            continue
        except _TooLarge:
            warnings.append(f'"{root}/{name}": file larger than {limit} bytes; ignored')
            missing.append(name)
            unreadable.append(name)
            continue
        except OSError:  # EACCES, EISDIR, ELOOP...: there, but not readable
            missing.append(name)
            unreadable.append(name)
            continue
        total += len(data)
        if total > MAX_SNAPSHOT_BYTES:
            warnings.append(
                f'"{root}": files larger than {MAX_SNAPSHOT_BYTES} bytes in all; '
                f"{name} and the rest ignored"
            )
            missing.append(name)
            unreadable.append(name)
            continue
        files[name] = data
    return Snapshot(version, files, tuple(missing), tuple(unreadable), tuple(warnings))


def _list_files(dir_fd: int, root: str, warnings: list[str]) -> list[str]:
    """Every file below ``dir_fd`` (sorted), iteratively and within the bounds above: at most
    ``MAX_SNAPSHOT_FILES`` entries are looked at, directories included."""
    found: list[str] = []
    pending = [""]
    seen = 0
    while pending:
        prefix = pending.pop()
        try:
            fd = _open_dir_at(dir_fd, prefix) if prefix else dir_fd
        except (FileNotFoundError, NotADirectoryError):
            continue  # a subdirectory removed while listing
        except OSError as err:
            warnings.append(f'"{root}/{prefix}": cannot be listed ({err.strerror or err})')
            continue
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    if not prefix and entry.name.startswith(".."):
                        continue  # top-level ".." names are reserved by the protocol
                    seen += 1
                    if seen > MAX_SNAPSHOT_FILES:
                        warnings.append(
                            f'"{root}": more than {MAX_SNAPSHOT_FILES} entries; the rest ignored'
                        )
                        return sorted(found)
                    rel = prefix + entry.name
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if rel.count("/") >= MAX_DEPTH - 1:
                                warnings.append(
                                    f'"{root}/{rel}": deeper than {MAX_DEPTH} levels; ignored'
                                )
                            else:
                                pending.append(rel + "/")
                        elif entry.is_file():
                            found.append(rel)
                    except FileNotFoundError:
                        continue
        finally:
            if fd != dir_fd:
                os.close(fd)
    return sorted(found)


def _open_dir_at(dir_fd: int, rel: str) -> int:
    """Open the directory ``rel`` below ``dir_fd`` without following any symlink."""
    fd = dir_fd
    try:
        for part in rel.rstrip("/").split("/"):
            parent = fd
            fd = os.open(part or ".", _DIR_FLAGS | _O_NOFOLLOW, dir_fd=parent)
            if parent != dir_fd:
                os.close(parent)
    except BaseException:
        if fd != dir_fd:
            os.close(fd)
        raise
    return fd


def _read_file(dir_fd: int, name: str, limit: int, follow: bool) -> bytes:
    """At most ``limit`` bytes of the regular file ``name`` below ``dir_fd``, else _TooLarge.

    No symlinked directory is followed, nor the file itself unless ``follow``; O_NONBLOCK and
    the S_ISREG check: a FIFO or device among the names must not hang us.
    """
    parent, _, base = name.rpartition("/")
    parent_fd = _open_dir_at(dir_fd, parent) if parent else dir_fd
    try:
        fd = os.open(base, _FILE_FLAGS | (0 if follow else _O_NOFOLLOW), dir_fd=parent_fd)
    finally:
        if parent_fd != dir_fd:
            os.close(parent_fd)
    try:
        return _read_regular(fd, limit, name)
    finally:
        os.close(fd)


def _read_regular(fd: int, limit: int, name: str) -> bytes:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", name)
    # st_size is not trusted (procfs reports 0): read at most one byte past the limit.
    chunks = []
    left = limit + 1
    while left > 0 and (chunk := os.read(fd, min(left, 65536))):
        chunks.append(chunk)
        left -= len(chunk)
    if left <= 0:
        raise _TooLarge(errno.EFBIG, f"larger than {limit} bytes", name)
    return b"".join(chunks)


# --------------------------------------------------------------------------------------------
# Validation (kubelet's validatePath / validatePayload, same messages)


def validate_path(target_path: str) -> None:
    """Raise :class:`PayloadError` when the kubelet's ``validatePath`` refuses the path.

    A path must be non-empty, relative, at most 4096 bytes, have no element equal to ``..``
    nor longer than 255 bytes, and its first element must not start with ``..``.
    """
    if target_path == "":
        msg = 'invalid path: must not be empty: ""'
        raise PayloadError(msg)
    if target_path.startswith("/"):
        msg = f"invalid path: must be relative path: {target_path}"
        raise PayloadError(msg)
    if _byte_len(target_path) > MAX_PATH_LENGTH:
        msg = f"invalid path: must be less than or equal to {MAX_PATH_LENGTH} characters"
        raise PayloadError(msg)
    items = target_path.split("/")
    for item in items:
        if item == "..":
            msg = f"invalid path: must not contain '..': {target_path}"
            raise PayloadError(msg)
        if _byte_len(item) > MAX_FILE_NAME_LENGTH:
            msg = (
                "invalid path: filenames must be less than or equal to "
                f"{MAX_FILE_NAME_LENGTH} characters"
            )
            raise PayloadError(msg)
    if items[0].startswith("..") and len(items[0]) > 2:
        msg = f"invalid path: must not start with '..': {target_path}"
        raise PayloadError(msg)


def _byte_len(text: str) -> int:
    # Go's len() counts bytes; ASCII (the common case) needs no encoding.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogateescape"))


def validate_payload(
    payload: Mapping[str, FileProjection | bytes | str],
) -> dict[str, FileProjection]:
    """Validate every path (:func:`validate_path`) and return the payload with clean keys
    (Go's ``filepath.Clean``: ``foo////bar`` becomes ``foo/bar``, ``./bar`` becomes ``bar``).
    ``str`` values are encoded as UTF-8 and get mode 0644."""
    clean: dict[str, FileProjection] = {}
    for key, content in payload.items():
        if not isinstance(key, str):
            msg = f"invalid path: must be a str: {key!r}"
            raise PayloadError(msg)
        validate_path(key)
        clean[os.path.normpath(key)] = _projection(content)
    return clean


def _projection(content: FileProjection | bytes | str) -> FileProjection:
    if isinstance(content, FileProjection):
        return content
    if isinstance(content, str):
        return FileProjection(content.encode("utf-8"))
    return FileProjection(content)


def paths_to_remove(paths: Iterable[str], old_dir: str | os.PathLike[str]) -> set[str]:
    """The kubelet's ``pathsToRemove``: every file and directory under the old version
    ``old_dir`` minus the new (clean) ``paths`` and all their parent directories."""
    return set(_walk_version(os.fspath(old_dir))) - _with_parents(paths)


def _with_parents(paths: Iterable[str]) -> set[str]:
    # parents too, so that non-empty directories are never scheduled for removal
    result: set[str] = set()
    for path in paths:
        sub = path
        while sub:
            result.add(sub)
            sub = sub.rpartition("/")[0]
    return result


def _walk_version(root: str) -> dict[str, bool]:
    """Relative path -> "is a regular file" for everything under ``root`` (no symlink is
    followed; a missing ``root`` is an empty version)."""
    found: dict[str, bool] = {}
    pending = [""]  # iterative: an item path may be 2,000 directories deep
    try:
        while pending:
            prefix = pending.pop()
            with os.scandir(os.path.join(root, prefix) if prefix else root) as entries:
                for entry in entries:
                    rel = prefix + entry.name
                    is_dir = entry.is_dir(follow_symlinks=False)
                    found[rel] = not is_dir and entry.is_file(follow_symlinks=False)
                    if is_dir:
                        pending.append(rel + "/")
    except FileNotFoundError:
        return {}
    return found


# --------------------------------------------------------------------------------------------
# Writer


def write(
    target_dir: str | os.PathLike[str],
    payload: Mapping[str, FileProjection | bytes | str],
    *,
    set_perms: Callable[[str], None] | None = None,
) -> bool:
    """Project ``payload`` into ``target_dir`` atomically; return whether a new version was
    committed (``False`` when the data already on disk is identical).

    The algorithm, numbered as in the kubelet's ``AtomicWriter.Write``:

    1.  Validate the payload and clean its paths; an invalid payload changes nothing.
    2.  Read ``..data`` to find the current timestamp directory (none on the first write).
    3.  If there is one, walk it: the paths to remove are its files and directories minus the
        new paths and their parents.
    4.  Compare only the DATA of each new file with the current version (a missing file
        counts as changed; a mode-only change does not). Nothing changed and nothing to
        remove: skip 5-9 and 12, but still run 10.
    5.  Create the timestamp directory ``..YYYY_MM_DD_HH_MM_SS.<random digits>`` (UTC), 0755.
    6.  Write every file into it, then chmod it to its mode.
    7.  Call ``set_perms(<timestamp dir name>)`` if given (fsGroup ownership, before publish).
    8.  Create the symlink ``..data_tmp`` -> the timestamp directory name (whatever a writer
        that died left under that name is removed first).
    9.  Rename ``..data_tmp`` over ``..data``: the atomic commit.
    10. Create the missing top-level links ``<first element> -> ..data/<first element>``.
    11. Remove the obsolete top-level entries (paths from 3 without ``/``).
    12. Remove the old timestamp directory, and those left by writers that died.

    Like the kubelet's writer it is not safe for concurrent use on one directory: callers
    serialise writes. Nothing is ever written outside ``target_dir``; a ``target_dir`` that
    is a symlink raises :class:`~podself.errors.ConfinementError`.
    """
    import contextlib

    target = os.fspath(target_dir)
    st = os.lstat(target)
    if stat.S_ISLNK(st.st_mode):
        from podself.errors import ConfinementError

        msg = f'atomic write target "{target}": must be a directory, not a symbolic link'
        raise ConfinementError(msg)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), target)

    # (1)
    clean = validate_payload(payload)
    if "." in clean:
        msg = "invalid path: must name a file, not the volume itself: ."
        raise PayloadError(msg)

    # (2)
    data_dir_path = os.path.join(target, DATA_DIR_NAME)
    old_ts_dir = _readlink(data_dir_path) or ""
    old_ts_path = os.path.join(target, old_ts_dir) if old_ts_dir else ""
    if old_ts_dir:
        _check_old_version(target, old_ts_dir)

    to_remove: set[str] = set()
    should_write = True
    if old_ts_dir:
        # (3)
        old_entries = _walk_version(old_ts_path)
        to_remove = set(old_entries) - _with_parents(clean)

        # (4)
        if not _should_write_payload(clean, old_ts_path, old_entries) and not to_remove:
            # Up to date, but the top-level links may have been deleted (kubernetes#121472):
            # step 10 still runs, and the current version must not be removed in step 12.
            should_write = False
            old_ts_dir = ""

    if should_write:
        # (5)
        ts_dir = _new_timestamp_dir(target)
        ts_dir_name = os.path.basename(ts_dir)
        tmp_link = os.path.join(target, NEW_DATA_DIR_NAME)
        try:
            # (6)
            _write_payload_to_dir(clean, ts_dir)

            # (7)
            if set_perms is not None:
                set_perms(ts_dir_name)

            # (8)
            _clear_reserved(target, NEW_DATA_DIR_NAME)  # left by a writer that died
            os.symlink(ts_dir_name, tmp_link)
            if not old_ts_dir and os.path.isdir(data_dir_path):
                # A real directory named ..data (not the protocol's link) would make every
                # rename below fail for ever; the name is reserved, never user data.
                _clear_reserved(target, DATA_DIR_NAME)

            # (9)
            os.rename(tmp_link, data_dir_path)
        except BaseException:
            for leftover in (NEW_DATA_DIR_NAME, ts_dir_name):
                with contextlib.suppress(OSError):
                    _clear_reserved(target, leftover)
            raise

    # (10)
    _create_user_visible_files(target, clean)

    # (11)
    _remove_user_visible_paths(target, to_remove)

    # (12)
    if old_ts_dir and os.path.lexists(old_ts_path):
        _clear_reserved(target, old_ts_dir)
    if should_write:
        _remove_stale_versions(target, ts_dir_name)

    return should_write


def _clear_reserved(target: str, name: str) -> None:
    """Remove the protocol entry ``name`` (``..``-prefixed, so never user data) whatever it
    is: a symlink or file is unlinked, a directory removed without following symlinks."""
    from podself._safefs import open_dir, remove_entry

    fd = open_dir(target, "atomic write target")
    try:
        remove_entry(fd, name)
    finally:
        os.close(fd)


def _remove_stale_versions(target: str, current: str) -> None:
    # Timestamp directories of writers that died before step 12 would pile up forever.
    import re

    version = re.compile(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+")
    with os.scandir(target) as entries:
        stale = [
            e.name
            for e in entries
            if e.name != current and version.fullmatch(e.name) and not e.is_symlink()
        ]
    for name in stale:
        _clear_reserved(target, name)


def _check_old_version(target: str, old_ts_dir: str) -> None:
    # The kubelet trusts ..data; we refuse anything that would make steps 3, 4 or 12 reach
    # outside the target directory (an absolute or nested target, a symlinked version).
    bad = (
        "/" in old_ts_dir
        or not old_ts_dir.startswith("..")
        or old_ts_dir in {"..", DATA_DIR_NAME, NEW_DATA_DIR_NAME}
    )
    if not bad:
        try:
            bad = not stat.S_ISDIR(os.lstat(os.path.join(target, old_ts_dir)).st_mode)
        except FileNotFoundError:
            return  # dangling ..data: treat as no previous data (the kubelet does the same)
    if bad:
        msg = (
            f'atomic write "{target}": {DATA_DIR_NAME} -> {old_ts_dir!r}: '
            "must name a timestamp directory inside the target"
        )
        raise PayloadError(msg)


def _should_write_payload(
    payload: Mapping[str, FileProjection], old_ts_path: str, old_entries: Mapping[str, bool]
) -> bool:
    for path, projection in payload.items():
        if not old_entries.get(path, False):
            return True  # missing (or not a regular file): write
        try:
            old = _read_file_nofollow(os.path.join(old_ts_path, path), len(projection.data))
            if old != projection.data:
                return True
        except (FileNotFoundError, PermissionError):
            return True  # a 0000 file is unreadable to a non-root writer: just rewrite it
    return False


def _read_file_nofollow(path: str, size: int) -> bytes | None:
    """At most ``size + 1`` bytes of ``path`` (enough to compare with ``size`` bytes), None
    when it is not a regular file. Never blocking, so a FIFO or a huge file put in the old
    version (a container without a mount namespace can) cannot hang or exhaust the writer."""
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC | _O_NOFOLLOW | _O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        left = size + 1
        while left > 0 and (chunk := os.read(fd, min(left, 65536))):
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def _new_timestamp_dir(target: str) -> str:
    import time

    # Go's os.MkdirTemp(dir, prefix): prefix + decimal random uint32, created 0700...
    prefix = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    for _ in range(10000):
        name = prefix + str(int.from_bytes(os.urandom(4), "little"))
        path = os.path.join(target, name)
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            continue
        # ...then 0755 so group and other can traverse it whatever the umask.
        os.chmod(path, 0o755)
        return path
    msg = f'atomic write "{target}": no free timestamp directory name for prefix {prefix!r}'
    raise FileExistsError(errno.EEXIST, msg)


def _write_payload_to_dir(payload: Mapping[str, FileProjection], ts_dir: str) -> None:
    for path, projection in payload.items():
        full_path = os.path.join(ts_dir, path)
        parent = os.path.dirname(full_path)
        if parent != ts_dir:
            _make_parents(ts_dir, os.path.relpath(parent, ts_dir))
        # O_EXCL|O_NOFOLLOW: the directory is brand new, so anything already there is foul play.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC
        fd = os.open(full_path, flags, projection.mode)
        try:
            view = memoryview(projection.data)
            while view:
                view = view[os.write(fd, view) :]
            # open(2) applied "mode & ~umask"; the payload's mode must win whatever the umask.
            os.fchmod(fd, projection.mode)
        finally:
            os.close(fd)


def _make_parents(ts_dir: str, rel: str) -> None:
    # MkdirAll, one level at a time: os.makedirs recurses once per level, and an item path
    # of 4,096 bytes holds 2,048 of them. 0777 is subject to the umask, like MkdirAll.
    import contextlib

    path = ts_dir
    for part in rel.split("/"):
        path = os.path.join(path, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o777)


def _create_user_visible_files(target: str, payload: Iterable[str]) -> None:
    # For "bar", "foo/bar", "baz/bar", "foo/baz/blah":
    #     bar -> ..data/bar,  foo -> ..data/foo,  baz -> ..data/baz
    for path in payload:
        link_name = os.path.normpath(path).partition("/")[0]
        link_path = os.path.join(target, link_name)
        wanted = f"{DATA_DIR_NAME}/{link_name}"
        current = _readlink_or_blocked(link_path)
        if current is None:
            os.symlink(wanted, link_path)
        elif current != wanted and current is not _NOT_A_LINK:
            # A link we did not make points elsewhere: repoint it atomically.
            tmp = os.path.join(target, NEW_DATA_DIR_NAME)
            _clear_reserved(target, NEW_DATA_DIR_NAME)
            os.symlink(wanted, tmp)
            os.rename(tmp, link_path)
        # A real file or directory of that name is left alone, as the kubelet does.


_NOT_A_LINK = "\0not-a-link"


def _readlink_or_blocked(path: str) -> str | None:
    try:
        return os.readlink(path)
    except FileNotFoundError:
        return None
    except OSError as err:
        if err.errno == errno.EINVAL:
            return _NOT_A_LINK
        raise


def _remove_user_visible_paths(target: str, paths: Iterable[str]) -> None:
    last_error: OSError | None = None
    for path in sorted(paths):
        # Only top-level entries are links; deeper paths go with the old version (step 12).
        if "/" in path or path.startswith(".."):
            continue
        full_path = os.path.join(target, path)
        try:
            os.unlink(full_path)
        except FileNotFoundError:
            pass  # already gone: the goal of this step is reached
        except (IsADirectoryError, PermissionError) as err:
            try:
                os.rmdir(full_path)  # Go's os.Remove also removes an empty directory
            except OSError:
                last_error = err
        except OSError as err:
            last_error = err
    if last_error is not None:
        raise last_error

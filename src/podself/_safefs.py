"""Confined file operations: podself creates and deletes only inside directories it owns.

The helpers walk directory descriptors opened with ``O_NOFOLLOW``, so a symlink planted in a
path (by a container, a hostile manifest or another user) is refused or removed, never
followed, and a hostile name cannot climb out with ``..`` or an absolute component. Removal is
iterative with a bounded number of open descriptors, so no depth crashes it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator

from podself.errors import ConfinementError

__all__ = [
    "MAX_NAME_BYTES",
    "check_name",
    "check_private",
    "closing",
    "open_beneath",
    "open_dir",
    "private_dir",
    "remove_entry",
]

MAX_NAME_BYTES = 255  # NAME_MAX on Linux and macOS
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC
# Deeper directories are moved up into the top of the removal first: descriptors stay bounded
# and there is no recursion, whatever the depth.
_MAX_OPEN_LEVELS = 32


@contextlib.contextmanager
def closing(fd: int) -> Iterator[int]:
    """``with closing(open_dir(...)) as fd:``: the descriptor is closed on the way out."""
    try:
        yield fd
    finally:
        os.close(fd)


def check_name(what: str, value: str) -> None:
    """Refuse ``value`` unless it is one plain path component (it names a directory podself
    creates): not empty, ``.`` or ``..``, no ``/`` or NUL, at most 255 bytes."""
    if value in ("", ".", ".."):
        problem = 'must not be empty, "." or ".."'
    elif "/" in value or "\0" in value:
        problem = 'must be a single path component (no "/" or NUL byte)'
    elif len(value.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        problem = f"must be at most {MAX_NAME_BYTES} bytes"
    else:
        return
    msg = f"{what} {value!r}: {problem}"
    raise ConfinementError(msg)


def check_private(st: os.stat_result, path: str, what: str) -> None:
    """Refuse a directory another user could change: a symlink, not a directory, owned by
    another user, or writable by group or others."""
    euid = os.geteuid() if hasattr(os, "geteuid") else None
    if stat.S_ISLNK(st.st_mode):
        problem = "must not be a symbolic link"
    elif not stat.S_ISDIR(st.st_mode):
        problem = "must be a directory"
    elif euid is not None and st.st_uid != euid:
        problem = f"must be owned by uid {euid} (the user running podself), not uid {st.st_uid}"
    elif st.st_mode & 0o022:
        problem = f"must not be writable by group or others (mode {stat.S_IMODE(st.st_mode):04o})"
    else:
        return
    msg = f'{what} "{path}": {problem}'
    raise ConfinementError(msg)


def private_dir(path: str, what: str) -> None:
    """Create ``path`` with mode 0700 if it is missing (its parents as usual), then check
    that only this user can change it (:func:`check_private`)."""
    try:
        os.mkdir(path, 0o700)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    check_private(os.lstat(path), path, what)


def open_dir(path: str, what: str) -> int:
    """A descriptor of the directory ``path``; its last component must not be a symlink."""
    try:
        return os.open(path, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            msg = f'{what} "{path}": must be a directory, not a symbolic link or a file'
            raise ConfinementError(msg) from exc
        raise


def open_beneath(base_fd: int, parts: list[str], what: str, *, create: int | None = None) -> int:
    """A descriptor of ``base_fd/parts[0]/parts[1]/...``; each part must be a plain name and a
    real directory (no symlink). Missing parts are created with mode ``create`` when given."""
    fd = os.dup(base_fd)
    try:
        for part in parts:
            check_name(what, part)
            if create is not None:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, create, dir_fd=fd)
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    msg = f'{what}: "{part}" must be a directory, not a symbolic link or a file'
                    raise ConfinementError(msg) from exc
                raise
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def remove_entry(parent_fd: int, name: str) -> None:
    """Delete ``name`` in the directory ``parent_fd`` whatever it is; a symlink is removed,
    never followed, and a directory is emptied iteratively first (any depth). A mount point
    inside raises :class:`~podself.errors.ConfinementError` before anything below it goes."""
    try:
        top = os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return
    except OSError as exc:
        if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        _unlink(parent_fd, name)  # a symlink or a file
        return
    # (descriptor, name in its parent, subdirectories still to remove)
    stack: list[tuple[int, str, list[str]]] = []
    moved = 0
    device = os.fstat(top).st_dev
    try:
        stack.append((top, name, _clear_files(top)))
        while stack:
            fd, entry_name, pending = stack[-1]
            if not pending:
                stack.pop()
                os.close(fd)
                os.rmdir(entry_name, dir_fd=stack[-1][0] if stack else parent_fd)
                continue
            sub = pending.pop()
            if len(stack) >= _MAX_OPEN_LEVELS:
                moved += 1
                up = f".podself-rm-{os.getpid()}-{moved}"
                os.rename(sub, up, src_dir_fd=fd, dst_dir_fd=stack[0][0])
                stack[0][2].append(up)
                continue
            try:
                child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                continue
            except PermissionError:
                _make_listable(fd, sub)
                child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
            if os.fstat(child).st_dev != device:
                # Something mounted inside (a root container can bind the host's /): never
                # delete across it, like rm --one-file-system.
                os.close(child)
                msg = f'"{sub}" in the tree of "{name}" is a mount point: not removed'
                raise ConfinementError(msg)
            stack.append((child, sub, _clear_files(child)))
    finally:
        for fd, _, _ in stack:
            os.close(fd)


def _make_listable(fd: int, name: str) -> None:
    """chmod 0700 a directory of ours that we may not list (a container made it 0000),
    through an ``O_PATH`` descriptor so that a symlink swapped in is never followed."""
    o_path = getattr(os, "O_PATH", 0)
    if not o_path or not os.path.isdir("/proc/self/fd"):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), name)
    handle = os.open(name, o_path | _O_NOFOLLOW | _O_DIRECTORY | _O_CLOEXEC, dir_fd=fd)
    try:
        os.chmod(f"/proc/self/fd/{handle}", 0o700)
    finally:
        os.close(handle)


def _clear_files(fd: int) -> list[str]:
    """Unlink everything but subdirectories in ``fd``; return the subdirectories."""
    subdirs: list[str] = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                subdirs.append(entry.name)
            else:
                _unlink(fd, entry.name)
    return subdirs


def _unlink(fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass
    except PermissionError:
        os.fchmod(fd, 0o700)  # a read-only directory of ours: allow the removal
        os.unlink(name, dir_fd=fd)

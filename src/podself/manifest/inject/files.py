"""Writing an injected manifest back over its file, safely."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile

from podself.errors import ManifestError


def check_writable(path: str | os.PathLike[str]) -> os.stat_result:
    """The file's status if :func:`write_in_place` may replace it; else ``ManifestError``.

    A file whose mode has no write bit is refused even where the directory would allow the
    rename (and even for root): its owner marked it read-only.
    """
    name = os.fspath(path)
    target = os.path.realpath(name)
    try:
        info = os.stat(target)
    except OSError as exc:
        msg = f"cannot write {name}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    if not stat.S_ISREG(info.st_mode):
        msg = f"cannot write {name}: not a regular file"
        raise ManifestError(msg)
    writable = info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if not writable or not os.access(target, os.W_OK):
        msg = f"cannot write {name}: the file is read-only (mode {stat.filemode(info.st_mode)})"
        raise ManifestError(msg)
    return info


def write_in_place(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace the file at ``path`` with ``data`` atomically, keeping its mode (and owner).

    The new content goes to a temporary file in the same directory, which then replaces the
    original with ``os.replace``: readers see the old file or the new one, never half of it,
    and a failure leaves the original untouched. A symlink is followed, so the link stays a
    link. Refusals and failures raise ``ManifestError`` (see :func:`check_writable`).
    """
    name = os.fspath(path)
    info = check_writable(name)
    target = os.path.realpath(name)
    directory = os.path.dirname(target) or "."
    try:
        fd, temp = tempfile.mkstemp(
            prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=directory
        )
    except OSError as exc:
        msg = f"cannot write {name}: {exc.strerror or exc} (creating a file in {directory})"
        raise ManifestError(msg) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, stat.S_IMODE(info.st_mode))
        # Others' files cannot be given back to them: the copy keeps our ownership then.
        with contextlib.suppress(OSError):
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            msg = f"cannot write {name}: {exc.strerror or exc}"
            raise ManifestError(msg) from exc
        raise

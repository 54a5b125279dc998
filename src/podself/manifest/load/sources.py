"""Where manifests come from: files, stdin and pipes (streamed), and folders searched for them.

Every read is bounded by :class:`~.documents.Limits`; YAML is parsed as it is read, so memory
does not grow with the number of documents.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import Final

from podself.errors import ManifestError
from podself.manifest.load.documents import DEFAULT_LIMITS, Document, Limits, LoadIssue, too_large
from podself.manifest.load.jsonscan import _JSON_WHITESPACE, _json_first
from podself.manifest.load.text import _decode, scan_documents
from podself.manifest.load.yamlscan import _scan_yaml, _StopReading

STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")

# Large enough that reading costs nothing next to parsing, small enough to keep memory flat.
_CHUNK: Final = 1 << 20


class _ChunkedText:
    """A file or pipe given to the YAML parser a chunk at a time as UTF-8 text, so that a long
    stream is parsed document by document without ever being held whole. The size bound and
    UTF-8 are checked as it is read: a problem stops the parser with :class:`_StopReading`.

    A pipe cannot be read twice, so what is read from one is also written to ``spool`` (an
    unlinked temporary file): the rare parser error is placed by reading the text again from
    there, as it is from a regular file itself.
    """

    __slots__ = (
        "_decoder",
        "_fd",
        "_head",
        "_limits",
        "_read",
        "_source",
        "_spool",
        "may_alias",
    )

    def __init__(
        self, fd: int, source: str, limits: Limits, head: bytes, spool: int | None = None
    ) -> None:
        import codecs  # only when a file is streamed

        self._fd = fd
        self._source = source
        self._limits = limits
        self._head = head
        self._spool = spool
        self._read = 0
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.may_alias = False  # whether a "*" was read: no alias can exist without one

    def read(self, size: int = -1) -> str:
        text = ""
        while not text:
            data = self._head or os.read(self._fd, _CHUNK)
            self._head = b""
            self._read += len(data)
            if self._read > self._limits.max_bytes:
                raise _StopReading(too_large(self._source, self._limits))
            if self._spool is not None:
                _write_all(self._spool, data)
            try:
                text = self._decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                raise _StopReading(self._issue()) from None
            if not data:
                break
        if "*" in text:
            self.may_alias = True
        return text

    def _read_again(self) -> bytes:
        return os.pread(self._fd if self._spool is None else self._spool, self._read, 0)

    def _issue(self) -> LoadIssue:
        found = _decode(self._read_again(), self._source)
        return found if isinstance(found, LoadIssue) else too_large(self._source, self._limits)

    def reread(self) -> str:
        """The text read so far, read again (only to place a rare parser error)."""
        found = _decode(self._read_again(), self._source)
        return found if isinstance(found, str) else ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class _FoundFile(str):
    """A path :func:`discover` found in a folder: read only if it is a regular file."""

    __slots__ = ()


def _read_bounded(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_source(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """Read a file (or stdin for ``"-"``), at most ``limits.max_bytes``; ``None`` when larger.

    A file found in a folder by :func:`discover` must be a regular file: a FIFO, socket or
    device named ``*.yaml`` would block or never end, so it is refused without waiting. A path
    given explicitly may be a pipe (``<(helm template .)``); it is read up to the limit.
    Raises ``OSError`` when the file cannot be read.
    """
    if os.fspath(path) == STDIN:
        return _size_checked(sys.stdin.buffer.read(limits.max_bytes + 1), limits)
    fd = _open_source(path)
    try:
        return _size_checked(_read_bounded(fd, limits.max_bytes), limits)
    finally:
        os.close(fd)


def _open_source(path: str | os.PathLike[str]) -> int:
    """Open a file for reading; one :func:`discover` found must be a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if not isinstance(path, _FoundFile):
        return os.open(path, flags)
    # Opening a FIFO blocks until a writer comes unless non-blocking.
    fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _size_checked(data: bytes, limits: Limits) -> bytes | None:
    return None if len(data) > limits.max_bytes else data


def source_name(path: str | os.PathLike[str]) -> str:
    """The name findings use for ``path``: ``<stdin>`` for ``"-"``, else the path as given."""
    text = os.fspath(path)
    return STDIN_NAME if text == STDIN else text


def scan_file(
    path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Document | LoadIssue]:
    """:func:`scan_documents` for a file or stdin (``"-"``); ``OSError`` if unreadable.

    YAML is parsed as it is read (with LibYAML), from a regular file, stdin or a pipe alike,
    so memory does not grow with the number of documents. JSON is read whole (within
    ``limits.max_bytes``): its positions need the whole text.
    """
    name = source_name(path)
    stdin = os.fspath(path) == STDIN
    fd = _stdin_fd() if stdin else _open_source(path)
    if fd is None:
        data = read_source(path, limits=limits)
    else:
        try:
            streamed = _scan_streamed(fd, name, limits)
            if not isinstance(streamed, bytes | None):
                yield from streamed
                return
            taken = streamed or b""
            data = _size_checked(taken + _read_bounded(fd, limits.max_bytes - len(taken)), limits)
        finally:
            if not stdin:
                os.close(fd)
    if data is None:
        yield too_large(name, limits)
        return
    yield from scan_documents(data, name, limits=limits)


def _stdin_fd() -> int | None:
    """stdin's descriptor, or None when stdin was replaced by an object without one."""
    try:
        return sys.stdin.buffer.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _scan_streamed(
    fd: int, source: str, limits: Limits
) -> Iterator[Document | LoadIssue] | bytes | None:
    """The documents of ``fd``, parsed as they are read; else what to read whole instead: None
    to read from the start, or the bytes already taken from a pipe (JSON, or no LibYAML)."""
    info = os.fstat(fd)
    regular = stat.S_ISREG(info.st_mode) and os.lseek(fd, 0, os.SEEK_CUR) == 0
    if regular and info.st_size > limits.max_bytes:
        return iter((too_large(source, limits),))
    try:
        import yaml
    except ImportError:
        return None
    if not getattr(yaml, "__with_libyaml__", False) or source.lower().endswith(".json"):
        return None
    head = _read_head(fd)
    # Text that starts like JSON may be JSON: scan_documents decides on the whole text.
    start = head.decode("utf-8-sig", "replace").lstrip(_JSON_WHITESPACE)
    if _json_first(start, source) or (not start and len(head) >= _CHUNK):
        if not regular:
            return head
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    if regular:
        return _scan_yaml("", source, limits, _ChunkedText(fd, source, limits, head))
    return _scan_spooled(fd, source, limits, head)


def _read_head(fd: int) -> bytes:
    """The first chunk; from a pipe, read on until it shows more than white space (or ends)."""
    head = os.read(fd, _CHUNK)
    while head and len(head) < _CHUNK and not head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        more = os.read(fd, _CHUNK - len(head))
        if not more:
            break
        head += more
    return head


def _scan_spooled(
    fd: int, source: str, limits: Limits, head: bytes
) -> Iterator[Document | LoadIssue]:
    import tempfile  # only for a pipe

    with tempfile.TemporaryFile() as spool:
        chunks = _ChunkedText(fd, source, limits, head, spool.fileno())
        yield from _scan_yaml("", source, limits, chunks)


def load_file(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> list[Document]:
    """Every document of a file (or stdin for ``"-"``); raises ``ManifestError`` on any problem."""
    try:
        items = list(scan_file(path, limits=limits))
    except OSError as exc:
        msg = f"cannot read {source_name(path)}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    documents: list[Document] = []
    for item in items:
        if isinstance(item, LoadIssue):
            raise ManifestError(str(item))
        documents.append(item)
    return documents


MAX_FOLDER_DEPTH: Final = 64


def discover(
    paths: Iterable[str | os.PathLike[str]], *, max_depth: int = MAX_FOLDER_DEPTH
) -> Iterator[str]:
    """Expand ``paths``: folders become their ``*.yaml``/``*.yml``/``*.json`` files, recursively.

    Files and ``"-"`` (stdin) pass through as given, in order; a folder's files come sorted.
    Hidden folders (``.git``) are skipped, symlinked folders are not followed (no loops), and
    only regular files are taken (a FIFO named ``*.yaml`` would block the reader). Errors while
    walking a folder, and folders nested more than ``max_depth`` levels, raise ``OSError``.
    """
    for path in paths:
        text = os.fspath(path)
        if text != STDIN and os.path.isdir(text):
            yield from sorted(_walk(text, max_depth))
        else:
            yield text


def _walk(top: str, max_depth: int) -> list[str]:
    found: list[str] = []
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        if depth > max_depth:
            msg = f"folders nested more than {max_depth} levels deep"
            raise OSError(errno.ELOOP, msg, folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append((entry.path, depth + 1))
                elif entry.name.lower().endswith(MANIFEST_SUFFIXES) and _is_regular(entry):
                    found.append(_FoundFile(entry.path))
    return found


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is (or links to) a regular file; a dangling or looping link is kept,
    so that reading it reports why."""
    if entry.is_file():
        return True
    if not entry.is_symlink():
        return False
    try:
        os.stat(entry.path)
    except OSError:
        return True
    return False

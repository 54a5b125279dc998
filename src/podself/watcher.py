"""Change detection for directories written with the kubelet's ``..data`` swap (Downward API,
ConfigMap, Secret, projected volumes) and, as a fallback, plain directories edited in place.

Each committed update is reported once as a :class:`ChangeSet`, read from one consistent
snapshot and compared by content, after a debounce; the final state of a storm is always
reported. Linux uses inotify on the DIRECTORY (never the file, whose inode the swap replaces);
elsewhere, or when inotify is unavailable, it polls.

One module on purpose: the inotify loop, the polling fallback and the threaded and asyncio
faces share one change-detection core (snapshot, compare, coalesce), which reads best whole.
"""

from __future__ import annotations

import errno
import os
import select
import sys
import time

from podself import atomic
from podself._record import Record
from podself.errors import FormatError, WatchError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    import logging
    import threading
    from collections.abc import AsyncIterator, Callable, Iterator, Mapping
    from typing import Protocol

    from podself._inotify import Inotify

    class _StopEvent(Protocol):
        def is_set(self) -> bool: ...


__all__ = ["ChangeSet", "MapDiff", "Watcher", "awatch", "compare_snapshots", "watch"]

_LOGGER_NAME = "podself.watcher"
_logger: logging.Logger | None = None


def _log() -> logging.Logger:
    # logging (with re and traceback) costs ~10 ms to import: only pay when something is said.
    global _logger
    if _logger is None:
        import logging

        _logger = logging.getLogger(_LOGGER_NAME)
    return _logger


_MAX_WAIT_FACTOR = 10  # a storm still reports every 10 x debounce_ms
# debounce_ms=None: a ..data swap is reported at once (it is atomic: nothing to wait for); a
# swap within this long of the last report, and any plain-directory event, is coalesced.
_DEFAULT_DEBOUNCE_MS = 50
# poll_ms=None: the polling interval, and the safety net's where inotify cannot see everything.
_DEFAULT_POLL_MS = 1000
# poll_ms=None with inotify on a ..data or flat directory: inotify reports every commit
# (IN_Q_OVERFLOW forces a re-read, IN_IGNORED ends the watch), so the safety net is rare.
_SAFETY_NET_S = 60.0
_STOP_CHECK_S = 0.1  # how often a caller's stop_event is looked at while idle
_MAP_NAMES = frozenset({"labels", "annotations"})
_OPEN_ATTEMPTS = 5
_MAX_SLEEP_S = 3600.0  # longest single wait; the loop simply waits again


# --------------------------------------------------------------------------------------------
# Values


class MapDiff(Record):
    """Keys added, removed and changed (``old -> new``) in a labels/annotations file."""

    __slots__ = ("added", "changed", "removed")
    added: Mapping[str, str]
    changed: Mapping[str, tuple[str, str]]
    removed: Mapping[str, str]

    def __init__(
        self,
        added: Mapping[str, str],
        removed: Mapping[str, str],
        changed: Mapping[str, tuple[str, str]],
    ) -> None:
        from types import MappingProxyType

        self._init(
            added=MappingProxyType(dict(sorted(added.items()))),
            removed=MappingProxyType(dict(sorted(removed.items()))),
            changed=MappingProxyType(dict(sorted(changed.items()))),
        )

    @classmethod
    def between(cls, old: Mapping[str, str], new: Mapping[str, str]) -> MapDiff:
        """The difference from ``old`` to ``new``."""
        return cls(
            added={k: v for k, v in new.items() if k not in old},
            removed={k: v for k, v in old.items() if k not in new},
            changed={k: (old[k], v) for k, v in new.items() if k in old and old[k] != v},
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def summary(self) -> str:
        """``+key=value`` for each added key, ``-key`` removed, ``~key old→new`` changed."""
        parts = [f"+{k}={_show(v)}" for k, v in self.added.items()]
        parts += [f"-{k}" for k in self.removed]
        parts += [f"~{k} {_show(a)}→{_show(b)}" for k, (a, b) in self.changed.items()]
        return " ".join(parts)


class ChangeSet(Record):
    """One committed change of a watched directory.

    ``version`` is the new ``..data`` target (``None`` for a plain directory); ``changed``,
    ``added`` and ``removed`` are file names (nested ones with ``/``); ``files`` is the whole
    new snapshot; ``diffs`` holds a :class:`MapDiff` for each such file in the
    labels/annotations format; ``missing`` names files present but unreadable (``EACCES``).
    """

    __slots__ = ("added", "changed", "diffs", "files", "missing", "path", "removed", "version")
    path: str
    version: str | None
    changed: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    files: Mapping[str, bytes]
    diffs: Mapping[str, MapDiff]
    missing: tuple[str, ...]

    def __init__(
        self,
        path: str,
        version: str | None,
        *,
        changed: tuple[str, ...],
        added: tuple[str, ...],
        removed: tuple[str, ...],
        files: Mapping[str, bytes],
        diffs: Mapping[str, MapDiff],
        missing: tuple[str, ...] = (),
    ) -> None:
        from types import MappingProxyType

        self._init(
            path=path,
            version=version,
            changed=tuple(changed),
            added=tuple(added),
            removed=tuple(removed),
            files=MappingProxyType(dict(files)),
            diffs=MappingProxyType(dict(diffs)),
            missing=tuple(missing),
        )

    def summary(self) -> str:
        """One line for logs, e.g. ``labels: +feature=new-api ~stage alpha→beta``."""
        parts: list[str] = []
        for name in self.changed:
            diff = self.diffs.get(name)
            parts.append(f"{name}: {diff.summary()}" if diff else f"{name}: changed")
        for name in self.added:
            diff = self.diffs.get(name)
            parts.append(f"+{name}: {diff.summary()}" if diff else f"+{name}")
        parts += [f"-{name}" for name in self.removed]
        return "; ".join(parts) or "no changes"


def _show(value: str, limit: int = 40) -> str:
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    if value == "" or any(c.isspace() or not c.isprintable() or c in "\"'→;" for c in value):
        return repr(value)
    return value


# --------------------------------------------------------------------------------------------
# Options


def _default_force_polling(force_polling: bool | None) -> bool:
    """Explicit argument, then ``PODSELF_FORCE_POLLING``, then detection (no inotify)."""
    if force_polling is not None:
        return bool(force_polling)
    env = os.environ.get("PODSELF_FORCE_POLLING", "").strip().lower()
    if env:
        return env not in {"0", "false", "no", "off"}
    return not sys.platform.startswith("linux")


def _rooted(path: str) -> str:
    """``/etc/podinfo`` as this process sees it: under ``$PODSELF_ROOT`` (a local pod run
    without mount namespaces) when it exists there, as :func:`podself.read` looks it up."""
    root = os.environ.get("PODSELF_ROOT", "").rstrip("/")
    if not root or not os.path.isabs(path) or path == root or path.startswith(root + "/"):
        return path
    candidate = root + path
    return candidate if os.path.isdir(candidate) or not os.path.isdir(path) else path


def _is_own_podinfo(path: str) -> bool:
    """Whether ``path`` is one of the directories ``podself.current()`` reads."""
    from podself.pod import default_podinfo_dirs

    real = os.path.realpath(path)
    return any(os.path.realpath(d) == real for d in default_podinfo_dirs())


def _check_ms(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name} {value!r}: must be an int >= {minimum}"
        raise ValueError(msg)
    return value


def _check_dir(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        msg = f'watch "{path}": no such directory'
        raise WatchError(msg) from None
    except PermissionError:
        msg = f'watch "{path}": permission denied'
        raise WatchError(msg) from None
    except OSError as err:
        msg = f'watch "{path}": {err.strerror or err}'
        raise WatchError(msg) from err
    import stat

    if not stat.S_ISDIR(st.st_mode):
        msg = f'watch "{path}": not a directory'
        raise WatchError(msg)


# --------------------------------------------------------------------------------------------
# The engine: what to look at, when, and what changed. Drivers below decide how to wait.


class _Engine:
    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        debounce_ms: int | None,
        poll_ms: int | None,
        force_polling: bool | None,
    ) -> None:
        self.path = _rooted(os.fspath(path))
        self.own_podinfo = False  # the process's own Downward API volume (podself.current())
        self._auto_debounce = debounce_ms is None
        if debounce_ms is None:
            debounce_ms = _DEFAULT_DEBOUNCE_MS
        self._debounce = _check_ms("debounce_ms", debounce_ms, 0) / 1000
        self._max_wait = self._debounce * _MAX_WAIT_FACTOR
        self._auto_poll = poll_ms is None
        self._poll = (
            _check_ms("poll_ms", _DEFAULT_POLL_MS if poll_ms is None else poll_ms, 1) / 1000
        )
        self._force_polling = force_polling
        self._inotify: Inotify | None = None
        self._snapshot = atomic.Snapshot(None, {})
        self._signature: object = None
        self._first: float | None = None  # first event of the pending burst
        self._last = 0.0  # latest event of the pending burst
        self._commit_due = False  # a ..data swap to report without waiting for the debounce
        self._reported = float("-inf")  # when the last re-read ran
        self._next_check = 0.0
        self._warned: frozenset[str] = frozenset()
        self._noted: frozenset[str] = frozenset()
        self.gone = False

    # -- set-up --------------------------------------------------------------------------

    def open(self) -> None:
        _check_dir(self.path)
        self.own_podinfo = _is_own_podinfo(self.path)
        self.gone = False
        self._first = None
        if not _default_force_polling(self._force_polling):
            self._inotify = self._start_inotify()
        # Watch first, then read: nothing committed after this point can be missed.
        for _ in range(_OPEN_ATTEMPTS):
            try:
                self._signature = self._sign()
                self._snapshot = atomic.read_snapshot(self.path)
                break
            except BlockingIOError:
                continue
            except (FileNotFoundError, NotADirectoryError):
                self.close()
                _check_dir(self.path)
                raise
            except PermissionError:
                self.close()
                msg = f'watch "{self.path}": permission denied'
                raise WatchError(msg) from None
        else:
            self.close()
            msg = f'watch "{self.path}": {atomic.DATA_DIR_NAME} changed on every read'
            raise WatchError(msg)
        self._warn_unreadable(self._snapshot)
        self._commit_due = False
        self._set_safety_net(time.monotonic(), reset=True)

    def _set_safety_net(self, now: float, *, reset: bool = False) -> None:
        """With ``poll_ms=None``: rare where inotify sees every change, else every second."""
        if self._auto_poll:
            nested = self._snapshot.version is None and any("/" in n for n in self._snapshot.files)
            # inotify watches one directory: edits inside plain sub-directories need the check.
            rare = self._inotify is not None and not nested
            self._poll = _SAFETY_NET_S if rare else _DEFAULT_POLL_MS / 1000
        deadline = now + self._poll
        self._next_check = deadline if reset else min(self._next_check, deadline)

    def _start_inotify(self) -> Inotify | None:
        from podself import _inotify as ino

        mask = (
            ino.IN_CREATE
            | ino.IN_MOVED_TO
            | ino.IN_MOVED_FROM
            | ino.IN_DELETE
            | ino.IN_CLOSE_WRITE  # plain directories are edited in place
            | ino.IN_ATTRIB  # a chmod can make a file (un)readable
            | ino.IN_DELETE_SELF
            | ino.IN_MOVE_SELF
            | ino.IN_ONLYDIR
        )
        notifier: Inotify | None = None
        try:
            notifier = ino.Inotify()
            notifier.add_watch(self.path, mask)
        except OSError as err:
            if notifier is not None:
                notifier.close()
            if err.errno in {errno.ENOENT, errno.ENOTDIR, errno.EACCES}:
                _check_dir(self.path)
                msg = f'watch "{self.path}": {os.strerror(err.errno or 0).lower()}'
                raise WatchError(msg) from err
            # EMFILE (max_user_instances), ENOSPC (max_user_watches), ENOSYS...: poll instead.
            _log().warning(
                'watch "%s": inotify unavailable (%s); polling every %d ms',
                self.path,
                err.strerror or err,
                int(self._poll * 1000),
            )
            return None
        return notifier

    @property
    def mode(self) -> str:
        return "inotify" if self._inotify is not None else "polling"

    def fileno(self) -> int | None:
        return self._inotify.fileno() if self._inotify is not None else None

    def close(self) -> None:
        if self._inotify is not None:
            self._inotify.close()
            self._inotify = None

    # -- events and time -----------------------------------------------------------------

    def read_events(self) -> None:
        """Drain the inotify queue and note whether anything worth a re-read happened."""
        if self._inotify is None:
            return
        from podself import _inotify as ino

        now = time.monotonic()
        for event in self._inotify.read():
            if event.mask & ino.IN_Q_OVERFLOW:
                self._mark(now)  # events were lost: a full re-read finds the truth
            elif event.mask & (ino.IN_DELETE_SELF | ino.IN_MOVE_SELF | ino.IN_IGNORED):
                self.gone = True
            elif event.name == atomic.DATA_DIR_NAME or not event.name.startswith(".."):
                # The ..data swap is the commit; other ".." names (timestamp directories,
                # ..data_tmp) are its preparation and clean-up.
                self._mark(now)
                if event.name == atomic.DATA_DIR_NAME:
                    self._commit(now)

    def _commit(self, now: float) -> None:
        """A ``..data`` swap: complete and atomic, so report it now unless a storm is on."""
        if self._auto_debounce and now - self._reported >= self._debounce:
            self._commit_due = True

    def _mark(self, now: float) -> None:
        if self._first is None:
            self._first = now
        self._last = now

    def timeout(self, now: float) -> float:
        """Seconds until :meth:`tick` has something to do."""
        if self._commit_due:
            return 0.0
        deadline = self._next_check
        if self._first is not None:
            deadline = min(deadline, self._last + self._debounce, self._first + self._max_wait)
        return max(0.0, deadline - now)

    def tick(self, now: float) -> ChangeSet | None:
        """Run the safety-net check and the debounced re-read when they are due."""
        if now >= self._next_check:
            self._next_check = now + self._poll
            try:
                signature = self._sign()
                if signature != self._signature:
                    self._mark(now)
                    if isinstance(signature, str):  # a new ..data target
                        self._commit(now)
            except (FileNotFoundError, NotADirectoryError):
                self.gone = True
                return None
            except OSError as err:  # EACCES on the directory: keep waiting, it may come back
                _log().debug('watch "%s": safety-net check failed: %s', self.path, err)
        first = self._first
        if first is None:
            return None
        due = self._commit_due or now - self._last >= self._debounce
        if not due and now - first < self._max_wait:
            return None
        self._first = None
        self._commit_due = False
        self._reported = now
        change = self._flush(now)
        self._set_safety_net(now)
        if change is not None and self.own_podinfo:
            import podself

            podself._forget()  # before any callback: podself.current() shows this commit
        return change

    # -- reading -------------------------------------------------------------------------

    def _sign(self) -> object:
        # Cheap "did anything change" test for the safety net: the ..data target, or for a
        # plain directory the stat of every file (content is compared only after this).
        link = os.path.join(self.path, atomic.DATA_DIR_NAME)
        try:
            return os.readlink(link)
        except FileNotFoundError:
            pass
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
        return _plain_signature(self.path)

    def _flush(self, now: float) -> ChangeSet | None:
        try:
            signature = self._sign()
            snapshot = atomic.read_snapshot(self.path)
        except BlockingIOError:
            self._mark(now)  # a swap storm outran the reader: try again after the debounce
            return None
        except (FileNotFoundError, NotADirectoryError):
            self.gone = True
            return None
        except PermissionError as err:
            _log().warning('watch "%s": cannot read the directory: %s', self.path, err)
            return None
        self._signature = signature
        old, self._snapshot = self._snapshot, snapshot
        self._warn_unreadable(snapshot)
        change = compare_snapshots(self.path, old, snapshot)
        # Nobody can have enabled debug output without importing logging first.
        if change is not None and "logging" in sys.modules and _log().isEnabledFor(10):
            _log().debug('watch "%s": %s', self.path, change.summary())
        return change

    def initial(self) -> ChangeSet:
        """The current state as a change from nothing (``yield_initial``)."""
        return _change_set(self.path, atomic.Snapshot(None, {}), self._snapshot)

    def _warn_unreadable(self, snapshot: atomic.Snapshot) -> None:
        new = frozenset(snapshot.unreadable) - self._warned
        if new:
            _log().warning(
                'watch "%s": cannot read %s (reported as missing)',
                self.path,
                ", ".join(sorted(new)),
            )
        self._warned = frozenset(snapshot.unreadable)
        for problem in sorted(frozenset(snapshot.warnings) - self._noted):
            _log().warning('watch "%s": %s', self.path, problem)
        self._noted = frozenset(snapshot.warnings)


def _plain_signature(root: str) -> tuple[tuple[str, int, int, int, int], ...]:
    # The reader's own listing: iterative, bounded in depth and count, no symlinked directory.
    fd = os.open(root, atomic._DIR_FLAGS)
    try:
        signature = []
        for name in atomic._list_files(fd, root, []):
            try:
                st = os.stat(name, dir_fd=fd)
            except OSError:
                continue
            signature.append((name, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino))
        return tuple(signature)
    finally:
        os.close(fd)


def compare_snapshots(path: str, old: atomic.Snapshot, new: atomic.Snapshot) -> ChangeSet | None:
    """The change from ``old`` to ``new`` snapshots of ``path``, or None when the files'
    bytes are the same."""
    before, after = old.files, new.files
    # Bytes compared directly: cheaper than hashing, and the old bytes are needed for diffs.
    if before.keys() == after.keys() and all(before[n] == after[n] for n in after):
        return None  # a resync that rewrote identical data, or a mode-only change
    return _change_set(path, old, new)


def _change_set(path: str, old: atomic.Snapshot, new: atomic.Snapshot) -> ChangeSet:
    before, after = old.files, new.files
    added = tuple(sorted(n for n in after if n not in before))
    removed = tuple(sorted(n for n in before if n not in after))
    changed = tuple(sorted(n for n in after if n in before and before[n] != after[n]))
    return ChangeSet(
        path,
        new.version,
        changed=changed,
        added=added,
        removed=removed,
        files=after,
        diffs=_map_diffs((*changed, *added, *removed), before, after),
        missing=new.missing,
    )


def _map_diffs(
    names: tuple[str, ...], before: Mapping[str, bytes], after: Mapping[str, bytes]
) -> dict[str, MapDiff]:
    diffs: dict[str, MapDiff] = {}
    for name in names:
        known = name.rpartition("/")[2] in _MAP_NAMES
        old, new = before.get(name), after.get(name)
        if not known and not _looks_like_map(old) and not _looks_like_map(new):
            continue
        old_map, new_map = _as_map(old, name), _as_map(new, name)
        if old_map is None or new_map is None:
            if known:
                _log().warning("%s: not in the labels/annotations format; no diff", name)
            continue
        if known or old_map or new_map:
            diffs[name] = MapDiff.between(old_map, new_map)
    return diffs


def _looks_like_map(data: bytes | None) -> bool:
    return data is not None and b'="' in data and data.rstrip().endswith(b'"')


def _as_map(data: bytes | None, name: str) -> dict[str, str] | None:
    if data is None:
        return {}
    from podself.downward import parse_map

    try:
        return parse_map(data.decode("utf-8"), source=name)
    except (UnicodeDecodeError, FormatError):
        return None


# --------------------------------------------------------------------------------------------
# Drivers


def watch(
    path: str | os.PathLike[str],
    *,
    debounce_ms: int | None = None,
    poll_ms: int | None = None,
    stop_event: _StopEvent | None = None,
    force_polling: bool | None = None,
    yield_initial: bool = False,
) -> Iterator[ChangeSet]:
    """Yield a :class:`ChangeSet` for each committed change of the directory ``path``.

    After the first event the watcher waits until ``debounce_ms`` pass without another (at
    most 10 x ``debounce_ms`` during a storm), then reads one consistent snapshot and
    compares contents: identical rewrites yield nothing, and the final state of a storm is
    always yielded. The default (``None``) reports a ``..data`` swap at once, since it is
    atomic, and coalesces like ``debounce_ms=50`` a swap within 50 ms of the last report and
    any event in a plain directory.

    Every ``poll_ms`` the ``..data`` target (or the stat of plain files) is re-checked as a
    safety net for missed events; with polling that check is the detector. The default
    (``None``) polls every 1000 ms; with inotify it checks every 60 s (inotify reports every
    commit, and a queue overflow forces a re-read), or every 1000 ms for a plain directory
    with sub-directories, whose contents inotify does not see.

    ``stop_event`` (anything with ``is_set()``) ends the iteration; it is looked at every
    0.1 s while idle. ``yield_initial`` yields the current state first, as all ``added``.

    Force polling: the ``force_polling`` argument, else the environment variable
    ``PODSELF_FORCE_POLLING`` (``1``/``0``), else polling only where inotify is missing (not
    Linux) or fails (``EMFILE``, ``ENOSPC``; a warning is logged).

    A path that is missing or not a directory raises :class:`~podself.errors.WatchError` at
    the first iteration. If the directory is removed while watched (the pod is ending), the
    iteration ends with an info log line.
    """
    engine = _Engine(path, debounce_ms=debounce_ms, poll_ms=poll_ms, force_polling=force_polling)
    return _watch(engine, stop_event, yield_initial)


def _watch(
    engine: _Engine, stop_event: _StopEvent | None, yield_initial: bool
) -> Iterator[ChangeSet]:
    engine.open()
    yield from _loop(engine, stop_event, None, yield_initial)


def _loop(
    engine: _Engine, stop_event: _StopEvent | None, wake_fd: int | None, yield_initial: bool
) -> Iterator[ChangeSet]:
    """Drive an opened engine, blocking in poll(2) between deadlines (no busy loop)."""
    fds = [fd for fd in (engine.fileno(), wake_fd) if fd is not None]
    poller = select.poll() if fds and hasattr(select, "poll") else None
    if poller is not None:
        for fd in fds:
            poller.register(fd, select.POLLIN)
    try:
        if yield_initial:
            yield engine.initial()
        while True:
            step = _step(engine, stop_event)
            if step is None:
                return
            if isinstance(step, ChangeSet):
                yield step
                continue
            for fd in _wait(poller, fds, step):
                if fd == wake_fd:
                    return
                engine.read_events()
    finally:
        engine.close()


def _step(engine: _Engine, stop_event: _StopEvent | None) -> ChangeSet | float | None:
    """One turn of the watch loop, shared by :func:`watch` and :func:`awatch`.

    ``None``: stop (asked to, or the directory is gone); a ``ChangeSet``: report it; a float:
    wait that many seconds (or until the inotify descriptor is readable), then call again.
    """
    while True:
        if stop_event is not None and stop_event.is_set():
            return None
        if engine.gone:
            _log().info('watch "%s": directory removed, watch ended', engine.path)
            return None
        change = engine.tick(time.monotonic())
        if change is not None:
            return change
        if engine.gone:
            continue
        timeout = engine.timeout(time.monotonic())
        return min(timeout, _STOP_CHECK_S) if stop_event is not None else timeout


def _wait(poller: select.poll | None, fds: list[int], timeout: float) -> list[int]:
    # poll(2) takes an int of ms and sleep() a time_t: a huge poll_ms must not overflow them.
    timeout = min(timeout, _MAX_SLEEP_S)
    if not fds:
        time.sleep(timeout)
        return []
    if poller is None:  # pragma: no cover - platforms without poll(2)
        return select.select(fds, [], [], timeout)[0]
    # Round up: a 0 ms timeout for a deadline 0.4 ms away would spin.
    return [fd for fd, _ in poller.poll(-int(-timeout * 1000 // 1))]


def awatch(
    path: str | os.PathLike[str],
    *,
    debounce_ms: int | None = None,
    poll_ms: int | None = None,
    stop_event: _StopEvent | None = None,
    force_polling: bool | None = None,
    yield_initial: bool = False,
) -> AsyncIterator[ChangeSet]:
    """The async form of :func:`watch`, with the same arguments and results.

    The inotify descriptor is registered with the running loop (``add_reader``), so no
    thread is used and cancellation is immediate; snapshots are small synchronous reads.
    """
    engine = _Engine(path, debounce_ms=debounce_ms, poll_ms=poll_ms, force_polling=force_polling)
    return _awatch(engine, stop_event, yield_initial)


async def _awatch(
    engine: _Engine, stop_event: _StopEvent | None, yield_initial: bool
) -> AsyncIterator[ChangeSet]:
    import asyncio

    engine.open()
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[None] | None = None

    def wake() -> None:
        engine.read_events()
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    fd = engine.fileno()
    if fd is not None:
        loop.add_reader(fd, wake)
    try:
        if yield_initial:
            yield engine.initial()
        while True:
            step = _step(engine, stop_event)
            if step is None:
                return
            if isinstance(step, ChangeSet):
                yield step
                continue
            waiter = loop.create_future()
            timer = loop.call_later(step, _resolve, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                waiter = None
    finally:
        if fd is not None and not loop.is_closed():
            loop.remove_reader(fd)
        engine.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Watcher:
    """:func:`watch` in a background daemon thread, calling callbacks with each ChangeSet.

    ``Watcher(path, callback=None, **options)`` takes the options of :func:`watch`; a path
    that cannot be watched raises :class:`~podself.errors.WatchError` here. Callbacks run in
    the watcher thread, in the order added; an exception in one is logged on the
    ``podself.watcher`` logger and does not stop the thread. ``last`` is the latest ChangeSet
    and ``changes_seen`` how many there were. Use as a context manager or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        callback: Callable[[ChangeSet], object] | None = None,
        *,
        debounce_ms: int | None = None,
        poll_ms: int | None = None,
        stop_event: _StopEvent | None = None,
        force_polling: bool | None = None,
        yield_initial: bool = False,
    ) -> None:
        self._engine = _Engine(
            path, debounce_ms=debounce_ms, poll_ms=poll_ms, force_polling=force_polling
        )
        self.path = self._engine.path
        _check_dir(self.path)
        self._stop_event = stop_event
        self._yield_initial = yield_initial
        self._callbacks: list[Callable[[ChangeSet], object]] = []
        if callback is not None:
            self._callbacks.append(callback)
        import threading

        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake_w: int | None = None
        self.last: ChangeSet | None = None
        self.changes_seen = 0

    def add_callback(
        self, callback: Callable[[ChangeSet], object]
    ) -> Callable[[ChangeSet], object]:
        """Call ``callback(change_set)`` for each change; returns it (usable as a decorator)."""
        with self._lock:
            self._callbacks.append(callback)
        return callback

    @property
    def running(self) -> bool:
        """Whether the watcher thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def mode(self) -> str:
        """``"inotify"`` or ``"polling"`` (after :meth:`start`)."""
        return self._engine.mode

    def start(self) -> Watcher:
        """Take the initial snapshot and start the thread; changes after this are reported.

        A watcher whose thread has ended (:meth:`stop`, or its directory removed) can be
        started again: it starts from a fresh snapshot.
        """
        if self._thread is not None and self._thread.is_alive():
            msg = f'watch "{self.path}": already started'
            raise RuntimeError(msg)
        self._engine.open()
        wake_r, self._wake_w = os.pipe()
        changes = _loop(self._engine, self._stop_event, wake_r, self._yield_initial)
        import threading

        self._thread = threading.Thread(
            target=self._run, args=(changes, wake_r), name=f"podself-watch:{self.path}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self, changes: Iterator[ChangeSet], wake_r: int) -> None:
        try:
            for change in changes:
                with self._lock:
                    self.last = change
                    self.changes_seen += 1
                    callbacks = list(self._callbacks)
                for callback in callbacks:
                    try:
                        callback(change)
                    except Exception:
                        _log().exception('watch "%s": callback %r failed', self.path, callback)
        except Exception:
            _log().exception('watch "%s": watcher stopped by an unexpected error', self.path)
        finally:
            os.close(wake_r)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread and wait up to ``timeout`` seconds for it (idempotent)."""
        thread, wake_w, self._wake_w = self._thread, self._wake_w, None
        if wake_w is not None:
            try:
                os.write(wake_w, b"x")
            except OSError:
                pass  # the thread already ended and closed its end
            finally:
                os.close(wake_w)
        if thread is not None and thread.ident != _current_thread_id():
            thread.join(timeout)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end by itself (its directory removed, ``stop_event`` set);
        return whether it has ended."""
        if self._thread is not None and self._thread.ident != _current_thread_id():
            self._thread.join(timeout)
        return not self.running

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Watcher {self.path!r} {state} changes_seen={self.changes_seen}>"


def _current_thread_id() -> int:
    import threading

    return threading.get_ident()

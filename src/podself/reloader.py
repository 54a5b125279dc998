"""Reload a program when its volumes change: run a command, signal a process, POST to a URL.

The engine of ``podself watch``, usable on its own (standard library only)::

    from podself.reloader import Post, Reloader, Signal

    Reloader(
        ["/etc/podinfo"],
        [Signal(signal.SIGHUP, pidfile="/run/app/app.pid"), Post("http://127.0.0.1:8080/-/reload")],
    ).run()

On each committed change the actions run in order, each retried on its own with back-off.
Changes that arrive while actions run are coalesced into one more round, never queued one by
one (a storm of updates causes at most one extra reload): per directory only the state last
acted on and the latest state are kept, so memory does not grow with the rate of changes.

Everything a volume, a server or a pidfile holds is untrusted: it reaches reports escaped and
bounded (:func:`printable`), commands through bounded environment variables with the complete
change in a private file (:class:`Batch`), and never decides by itself which process is
signalled (:class:`Signal`); a POST has one deadline for the whole request (:class:`Post`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from podself.downward import go_bytes
from podself.errors import ActionError
from podself.watcher import ChangeSet, Watcher

__all__ = [
    "Action",
    "ActionError",
    "Batch",
    "ChangeFile",
    "Coalescer",
    "Exec",
    "Post",
    "ReloadMetrics",
    "Reloader",
    "Report",
    "Signal",
    "Update",
    "printable",
    "redact_url",
]

_MAP_FILES = frozenset({"labels", "annotations"})
_MAX_BACKOFF_S = 30.0
_TERM_GRACE_S = 2.0
_MAX_RETRIES = 1000
_MAX_DELAY_MS = 3_600_000
_PID_MAX = 4194304  # PID_MAX_LIMIT on 64-bit Linux: no pid is ever larger
# One environment string is limited to 128 KiB (MAX_ARG_STRLEN) and all of argv + env to
# ARG_MAX (often 2 MiB): PODSELF_CHANGE_JSON is complete or empty, the others are cut.
_MAX_ENV_JSON = 64 * 1024
_MAX_ENV_TEXT = 8 * 1024
_MAX_LINE = 16 * 1024  # characters of one reported line
_MAX_PIDFILE = 64  # bytes; a pid and a newline need 8
_MAX_REASON = 100  # characters of an HTTP reason phrase shown


class Action:
    """Something done on each round: :meth:`run` returns what happened (for the report) or
    raises :class:`ActionError`. ``label`` names it in reports."""

    label = ""

    def run(self, batch: Batch) -> str:
        """Do it once for ``batch``."""
        raise NotImplementedError


class Report(Protocol):
    """Where the reloader says what happens: ``info`` for changes and successful actions,
    ``note`` for the start-up line, ``error`` for failures."""

    def info(self, line: str) -> None: ...

    def note(self, line: str) -> None: ...

    def error(self, line: str) -> None: ...


class _LogReport:
    """The default :class:`Report`: the ``podself.reloader`` logger."""

    def __init__(self) -> None:
        self._log = logging.getLogger("podself.reloader")

    def info(self, line: str) -> None:
        self._log.info("%s", printable(line))

    def note(self, line: str) -> None:
        self._log.info("%s", printable(line))

    def error(self, line: str) -> None:
        self._log.error("%s", printable(line))


def _is_pid(text: str) -> bool:
    # ASCII digits only ("²".isdigit() is true), and within what os.kill can be given.
    return text.isascii() and text.isdigit() and 1 <= int(text) <= _PID_MAX


def _check_int(name: str, value: int, maximum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        msg = f"{name} {value!r}: must be an int >= 0 and <= {maximum}"
        raise ValueError(msg)
    return value


class ReloadMetrics:
    """What a :class:`Reloader` has done, for a metrics endpoint: rounds that succeeded and
    failed, when the last one (and the last successful one) ended, how long its actions took,
    and how many directories are watched. Updated by the reloader's loop, read from any thread
    with :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, float | None] = {
            "success": 0,
            "failure": 0,
            "last": None,
            "last_success": None,
            "last_ok": None,
            "duration": None,
            "watched": 0,
        }

    def watching(self, count: int) -> None:
        """``count`` directories are watched now."""
        with self._lock:
            self._values["watched"] = count

    def record(self, succeeded: bool, duration_s: float) -> None:
        """One round of actions ended now, after ``duration_s`` seconds."""
        now = time.time()
        with self._lock:
            values = self._values
            key = "success" if succeeded else "failure"
            values[key] = (values[key] or 0) + 1
            values["last"] = now
            values["last_ok"] = 1 if succeeded else 0
            values["duration"] = duration_s
            if succeeded:
                values["last_success"] = now

    def snapshot(self) -> dict[str, float | None]:
        """The values now: ``success``, ``failure`` (rounds), ``last``, ``last_success``
        (Unix times), ``last_ok`` (1 or 0), ``duration`` (seconds), ``watched``; ``None`` for
        what has not happened yet."""
        with self._lock:
            return dict(self._values)


class Reloader:
    """Watch ``dirs`` and run ``actions`` on each committed change, coalescing storms.

    ``debounce_ms``, ``poll_ms`` and ``force_polling`` are :class:`~podself.watcher.Watcher`'s;
    each action is retried ``retries`` times, the first time after ``retry_delay_ms``, doubled
    each time up to 30 s. Values of files other than ``labels``/``annotations`` are shown only
    with ``show_values``. ``report`` receives every line (default: the ``podself.reloader``
    logger). ``metrics``, if given, is updated after each round.
    """

    def __init__(
        self,
        dirs: Iterable[str | os.PathLike[str]],
        actions: Sequence[Action] = (),
        *,
        debounce_ms: int = 50,
        poll_ms: int = 1000,
        force_polling: bool | None = None,
        retries: int = 3,
        retry_delay_ms: int = 500,
        show_values: bool = False,
        report: Report | None = None,
        metrics: ReloadMetrics | None = None,
    ) -> None:
        self.dirs = list(dict.fromkeys(os.path.abspath(d) for d in dirs))
        if not self.dirs:
            msg = "dirs: at least one directory to watch is needed"
            raise ValueError(msg)
        self.actions = list(actions)
        self.debounce_ms = debounce_ms
        self.poll_ms = poll_ms
        self.force_polling = force_polling
        self.retries = _check_int("retries", retries, _MAX_RETRIES)
        self.retry_delay_ms = _check_int("retry_delay_ms", retry_delay_ms, _MAX_DELAY_MS)
        self.show_values = show_values
        self.report: Report = report if report is not None else _LogReport()
        self.metrics = metrics

    def run(self, *, once: bool = False) -> int:
        """Watch and act until a watched directory is removed (returns 1) or, with ``once``,
        until the first round (0 if every action succeeded, else 1).

        A directory that cannot be watched raises :class:`~podself.errors.WatchError`. An
        exception raised meanwhile (a signal handler's, say) stops the watchers and any
        running command on its way out.
        """
        pending = Coalescer()
        watchers: list[Watcher] = []
        change_file = None
        try:
            for directory in self.dirs:

                def deliver(change: ChangeSet, directory: str = directory) -> None:
                    pending.deliver(directory, change)

                watchers.append(
                    Watcher(
                        directory,
                        deliver,
                        debounce_ms=self.debounce_ms,
                        poll_ms=self.poll_ms,
                        force_polling=self.force_polling,
                        yield_initial=True,  # the base the first change is compared with
                    )
                )
            if any(isinstance(a, Exec) for a in self.actions):
                try:
                    change_file = ChangeFile()
                except OSError as err:
                    self.report.error(
                        "cannot create a directory for PODSELF_CHANGE_FILE "
                        f"({err.strerror or err}); commands get only the bounded environment "
                        "variables"
                    )
            for watcher in watchers:
                watcher.start()
                threading.Thread(
                    target=_report_end,
                    args=(watcher, pending),
                    name="podself-watch-end",
                    daemon=True,
                ).start()
            if self.metrics is not None:
                self.metrics.watching(len(watchers))
            what = ", ".join(a.label for a in self.actions) or "print only"
            modes = ", ".join(f"{w.path} ({w.mode})" for w in watchers)
            self.report.note(f"watching {modes}; debounce {self.debounce_ms} ms; on change: {what}")
            return self._loop(pending, change_file, once)
        finally:
            for watcher in watchers:
                watcher.stop()
            if change_file is not None:
                change_file.close()

    def _loop(self, pending: Coalescer, change_file: ChangeFile | None, once: bool) -> int:
        while True:
            items, ended = pending.take()
            if items:
                for item in items:
                    summary = _summary(item.change, self.show_values)
                    self.report.info(f"{_timestamp()} {item.directory}: {summary}")
                batch = Batch(items, self.show_values)
                if change_file is not None:
                    try:
                        batch.env["PODSELF_CHANGE_FILE"] = change_file.write(
                            batch.json.encode("utf-8")
                        )
                    except OSError as err:
                        self.report.error(
                            f"cannot write PODSELF_CHANGE_FILE: {err.strerror or err}"
                        )
                started = time.monotonic()
                results = [self._attempt(action, batch) for action in self.actions]
                if self.metrics is not None:
                    self.metrics.record(all(results), time.monotonic() - started)
                if once:
                    return 0 if all(results) else 1
            if ended:
                self.report.error(f"{', '.join(ended)}: directory removed; stopping")
                return 1

    def _attempt(self, action: Action, batch: Batch) -> bool:
        """Run one action with retries and exponential back-off; return whether it succeeded."""
        delay = min(self.retry_delay_ms / 1000, _MAX_BACKOFF_S)
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                outcome = action.run(batch)
            except ActionError as err:
                if attempt < attempts:
                    self.report.error(
                        f"{action.label}: {err}; retry {attempt}/{self.retries} in {delay:g} s"
                    )
                    time.sleep(delay)
                    delay = min(delay * 2, _MAX_BACKOFF_S)
                    continue
                tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
                self.report.error(f"{action.label}: {err}; giving up after {tries}")
                return False
            self.report.info(f"{_timestamp()} {action.label}: {outcome}")
            return True
        return False  # pragma: no cover - the loop always returns


def _report_end(watcher: Watcher, pending: Coalescer) -> None:
    """Tell the main loop when a watcher ends by itself (its directory was removed)."""
    watcher.join()
    if watcher.running:  # pragma: no cover - join() without timeout returns when ended
        return
    pending.end(watcher.path)


# --------------------------------------------------------------------------------------------
# Untrusted text in reports and JSON


def redact_url(url: str) -> str:
    """The URL for messages: user information and query values replaced by ``***``.

    Both commonly carry credentials (``https://TOKEN@host/``, ``?token=…``); query keys, the
    host and the path are kept so the target stays recognisable. The fragment is never sent
    and is dropped.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{key}=***" if sep else "***"
        for key, sep, _ in (item.partition("=") for item in parts.query.split("&"))
    )
    return urlunsplit(
        parts._replace(netloc=netloc, query=query if parts.query else "", fragment="")
    )


def printable(text: str) -> str:
    """``text`` made safe for one log line, whatever a volume or a server put in it.

    Bytes that are not UTF-8 (lone surrogates from ``surrogateescape``) become ``\\xHH``,
    control and other non-printable characters their escapes (no forged lines, no terminal
    sequences), and the line is cut at ``_MAX_LINE`` characters.
    """
    if not text.isprintable():
        text = go_bytes(text).decode("utf-8", "backslashreplace")
        text = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
        )
    if len(text) > _MAX_LINE:
        text = f"{text[:_MAX_LINE]}… ({len(text) - _MAX_LINE} more characters)"
    return text


def _unicode(text: str) -> str:
    """``text`` as valid Unicode for JSON: bytes that are not UTF-8 become U+FFFD, as Go's
    ``encoding/json`` does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return go_bytes(text).decode("utf-8", "replace")
    return text


# --------------------------------------------------------------------------------------------
# Describing a change


@dataclass(frozen=True)
class Update:
    """One change of one watched directory (merged when several arrived during a round)."""

    directory: str
    change: ChangeSet


def _shows_values(name: str, show_all: bool) -> bool:
    return show_all or name.rpartition("/")[2] in _MAP_FILES


def _summary(change: ChangeSet, show_all: bool) -> str:
    """``ChangeSet.summary()``, with values hidden for files other than labels/annotations,
    made printable."""
    parts: list[str] = []
    for prefix, names in (("", change.changed), ("+", change.added)):
        for name in names:
            diff = change.diffs.get(name)
            if diff is None or not diff:
                parts.append(f"{prefix}{name}" if prefix else f"{name}: changed")
            elif _shows_values(name, show_all):
                parts.append(f"{prefix}{name}: {diff.summary()}")
            else:
                keys = [f"+{k}" for k in diff.added] + [f"-{k}" for k in diff.removed]
                keys += [f"~{k}" for k in diff.changed]
                parts.append(f"{prefix}{name}: {' '.join(keys)}")
    parts += [f"-{name}" for name in change.removed]
    return printable("; ".join(parts) or "no changes")


def _as_json(item: Update, show_all: bool) -> dict[str, object]:
    change = item.change
    u = _unicode
    diffs: dict[str, object] = {}
    for name, diff in change.diffs.items():
        if _shows_values(name, show_all):
            diffs[u(name)] = {
                "added": {u(k): u(v) for k, v in diff.added.items()},
                "removed": {u(k): u(v) for k, v in diff.removed.items()},
                "changed": {u(k): [u(a), u(b)] for k, (a, b) in diff.changed.items()},
            }
        else:
            diffs[u(name)] = {
                "added": [u(k) for k in diff.added],
                "removed": [u(k) for k in diff.removed],
                "changed": [u(k) for k in diff.changed],
            }
    return {
        "dir": u(item.directory),
        "version": None if change.version is None else u(change.version),
        "changed": [u(n) for n in change.changed],
        "added": [u(n) for n in change.added],
        "removed": [u(n) for n in change.removed],
        "missing": [u(n) for n in change.missing],
        "summary": _summary(change, show_all),
        "diffs": diffs,
    }


class Batch:
    """What one round of actions reacts to (at most one update per directory) and what they
    are told: ``json``, the complete body ``Post`` sends, and ``env``, the variables ``Exec``
    adds (``PODSELF_CHANGE_JSON`` whole or empty, the others cut at 8 KiB, and
    ``PODSELF_TRUNCATED`` naming those cut; ``PODSELF_CHANGE_FILE`` is set by the reloader)."""

    def __init__(self, items: list[Update], show_all: bool) -> None:
        import json

        self.items = items
        self.time = _timestamp()
        body = {"time": self.time, "changes": [_as_json(i, show_all) for i in items]}
        # Valid UTF-8 by construction: every string went through _unicode or printable.
        self.json = json.dumps(body, ensure_ascii=False, sort_keys=True)
        files: dict[str, None] = {}
        dirs: dict[str, None] = {}
        for item in items:
            dirs[item.directory] = None
            for name in (*item.change.changed, *item.change.added, *item.change.removed):
                files[os.path.join(item.directory, name)] = None
        cut: list[str] = []

        def bounded(name: str, value: str, whole_words: bool = False) -> str:
            data = os.fsencode(value)
            if len(data) <= _MAX_ENV_TEXT:
                return value
            cut.append(name)
            if whole_words:  # paths are never cut in the middle
                data = data[: _MAX_ENV_TEXT + 1].rpartition(b" ")[0]
                return os.fsdecode(data)
            return data[: _MAX_ENV_TEXT - 3].decode("utf-8", "ignore") + "…"

        summary = "\n".join(
            f"{printable(i.directory)}: {_summary(i.change, show_all)}" for i in items
        )
        self.env = {
            "PODSELF_WATCH_DIR": bounded("PODSELF_WATCH_DIR", " ".join(dirs), True),
            "PODSELF_CHANGED_FILES": bounded(
                "PODSELF_CHANGED_FILES", " ".join(sorted(files)), True
            ),
            "PODSELF_DATA_VERSION": bounded("PODSELF_DATA_VERSION", items[-1].change.version or ""),
            "PODSELF_CHANGE_SUMMARY": bounded("PODSELF_CHANGE_SUMMARY", summary),
            "PODSELF_CHANGE_JSON": self.json,
            "PODSELF_CHANGE_FILE": "",
        }
        if len(self.json.encode("utf-8")) > _MAX_ENV_JSON:
            self.env["PODSELF_CHANGE_JSON"] = ""  # cut JSON would not parse: all or nothing
            cut.append("PODSELF_CHANGE_JSON")
        self.env["PODSELF_TRUNCATED"] = " ".join(cut)


class Coalescer:
    """Changes not yet acted on, coalesced (thread-safe): for each directory the files as of
    the last round (or the start) and the latest change set. Memory stays at two snapshots per
    directory however fast changes arrive while a round runs."""

    def __init__(self) -> None:
        self._ready = threading.Condition()
        self._base: dict[str, Mapping[str, bytes]] = {}
        self._latest: dict[str, ChangeSet] = {}
        self._count: dict[str, int] = {}
        self._ended: list[str] = []

    def deliver(self, directory: str, change: ChangeSet) -> None:
        """Watcher callback; the first call per directory is its initial state."""
        with self._ready:
            if directory not in self._base:
                self._base[directory] = change.files
                return
            self._latest[directory] = change
            self._count[directory] = self._count.get(directory, 0) + 1
            self._ready.notify()

    def end(self, directory: str) -> None:
        """The watcher of ``directory`` ended by itself (its directory was removed)."""
        with self._ready:
            self._ended.append(directory)
            self._ready.notify()

    def take(self) -> tuple[list[Update], list[str]]:
        """Wait for changes; return one item per changed directory (from the state of the last
        round to the latest) and the directories that ended."""
        from podself.atomic import Snapshot
        from podself.watcher import compare_snapshots

        with self._ready:
            while not self._latest and not self._ended:
                self._ready.wait()
            latest, self._latest = self._latest, {}
            count, self._count = self._count, {}
            base = {d: self._base[d] for d in latest}
            for directory, last in latest.items():
                self._base[directory] = last.files
            ended = list(self._ended)
        items: list[Update] = []
        for directory, last in latest.items():
            merged: ChangeSet | None = last
            if count[directory] > 1:  # several updates: report old -> latest, not the last step
                merged = compare_snapshots(
                    last.path,
                    Snapshot(None, base[directory]),
                    Snapshot(last.version, last.files, last.missing),
                )
            if merged is not None:  # None: changed and changed back, nothing to act on
                items.append(Update(directory, merged))
        return items, ended


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


# --------------------------------------------------------------------------------------------
# Actions


class Exec(Action):
    """Run ``command`` with ``/bin/sh -c`` and the change in its environment (see
    :class:`Batch`); the whole process group is killed after ``timeout`` seconds, and a
    non-zero exit is a failure."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        self.label = f"exec {command!r}"

    def run(self, batch: Batch) -> str:
        import subprocess

        env = {**os.environ, **batch.env}
        for stream in (sys.stdout, sys.stderr):  # our lines first; None when started closed
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
        try:
            # Own session: a timeout or shutdown stops the whole pipeline, not just sh.
            child = subprocess.Popen(
                ["/bin/sh", "-c", self.command], env=env, start_new_session=True
            )
        except OSError as err:
            msg = f"cannot start /bin/sh: {err.strerror or err}"
            raise ActionError(msg) from None
        try:
            code = child.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid, signal.SIGKILL)
            child.wait()
            msg = f"timed out after {self.timeout:g} s (killed)"
            raise ActionError(msg) from None
        except BaseException:
            _kill_group(child.pid, signal.SIGTERM)
            try:
                child.wait(_TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(child.pid, signal.SIGKILL)
                child.wait()
            raise
        if code != 0:
            detail = f"killed by {_signame(-code)}" if code < 0 else f"exit status {code}"
            raise ActionError(detail)
        return "exit status 0"


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(pgid, sig)


def _signame(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class Signal(Action):
    """Send a signal to a pid, the pid in a pidfile, or every process with a name.

    A pid is signalled only while it still names the process first seen there (its start
    time, field 22 of ``/proc/<pid>/stat``, is unchanged), never this process, and pid 1 only
    when given as ``pid=1`` (``--pid 1``). On Linux the check and the signal go through one
    pidfd, so a pid reused in between cannot be hit.
    """

    def __init__(
        self,
        sig: signal.Signals,
        *,
        pid: int | None = None,
        pidfile: str | os.PathLike[str] | None = None,
        process_name: str | None = None,
    ) -> None:
        targets = [
            (kind, target)
            for kind, target in (
                ("pid", None if pid is None else str(pid)),
                ("pidfile", None if pidfile is None else os.fspath(pidfile)),
                ("process", process_name),
            )
            if target is not None
        ]
        if len(targets) != 1:
            msg = "Signal: give exactly one of pid, pidfile and process_name"
            raise ValueError(msg)
        self.sig = sig
        self.kind, self.target = targets[0]
        if self.kind == "pid" and not _is_pid(self.target):
            msg = f"pid {self.target}: must be a positive integer (at most {_PID_MAX})"
            raise ValueError(msg)
        self.label = f"signal {sig.name} → {self.kind} {self.target}"
        # (pid, pidfile identity) -> start time of the process first seen with them
        self._known: tuple[object, int] | None = None

    def run(self, batch: Batch) -> str:
        if self.kind == "pid":
            pid = int(self.target)
            return self._send(pid, self._remember(pid, _start_time(pid)))
        if self.kind == "pidfile":
            pid, identity, owner = self._read_pidfile()
            if pid == 1:
                msg = (
                    f"pidfile {self.target}: pid 1 is the container's init (with "
                    "shareProcessNamespace: true, the pause process), not the app; refusing "
                    "(give pid 1 itself, --pid 1, to signal it on purpose)"
                )
                raise ActionError(msg)
            uids = _uids(pid)
            if owner != 0 and uids is not None and owner not in uids:
                # Whoever wrote the file could not signal that process itself: the sidecar
                # must not lend it the right (kill(2) compares with the real and saved uid).
                msg = (
                    f"pidfile {self.target}: written by uid {owner}, but pid {pid} runs as "
                    f"uid {uids[0]}; refusing (a pidfile may name only its owner's processes)"
                )
                raise ActionError(msg)
            return self._send(pid, self._remember((pid, identity), _start_time(pid)))
        found = _pids_named(self.target)
        if not found:
            msg = f'no process named "{self.target}"'
            raise ActionError(msg)
        return ", ".join(self._send(pid, start) for pid, start in found)

    def _remember(self, key: object, start: int | None) -> int | None:
        """The start time first seen for ``key`` (recorded now if it is new)."""
        if self._known is not None and self._known[0] == key:
            return self._known[1]
        if start is not None:
            self._known = (key, start)
        return start

    def _read_pidfile(self) -> tuple[int, tuple[int, int, int, int], int]:
        """The pid in the pidfile, the file's identity (device, inode, mtime, size) and owner.

        Opened without blocking (a FIFO would hang) or following a symlink, and read only if
        it is a small regular file: the file is written by another container.
        """
        import stat

        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)
        flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
        try:
            fd = os.open(self.target, flags)
        except FileNotFoundError:
            msg = f"pidfile {self.target}: no such file"
            raise ActionError(msg) from None
        except OSError as err:
            if os.path.islink(self.target):
                msg = (
                    f"pidfile {self.target}: is a symbolic link; refusing (must be a regular file)"
                )
            else:
                msg = f"pidfile {self.target}: {err.strerror or err}"
            raise ActionError(msg) from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                msg = f"pidfile {self.target}: not a regular file; refusing"
                raise ActionError(msg)
            if info.st_size > _MAX_PIDFILE:
                msg = (
                    f"pidfile {self.target}: {info.st_size} bytes, too large for a pid "
                    f"({_MAX_PIDFILE} at most)"
                )
                raise ActionError(msg)
            data = os.read(fd, _MAX_PIDFILE + 1)
        except OSError as err:
            msg = f"pidfile {self.target}: {err.strerror or err}"
            raise ActionError(msg) from None
        finally:
            os.close(fd)
        text = data.strip().decode("ascii", "replace")
        if len(data) > _MAX_PIDFILE or not _is_pid(text):
            # Shown only when it is digits: the file may not be what it claims to be.
            shown = f'"{text}"' if text.isascii() and text.isdigit() else "its content"
            msg = f"pidfile {self.target}: {shown} is not a pid"
            raise ActionError(msg)
        return int(text), (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size), info.st_uid

    def _send(self, pid: int, start: int | None) -> str:
        if pid == os.getpid():
            msg = f"pid {pid} is this podself watch process; refusing"
            raise ActionError(msg)
        handle = None
        try:
            handle = _pidfd(pid)
            now = _start_time(pid)
            if start is not None and now is not None and now != start:
                msg = (
                    f"pid {pid} now belongs to another process than the one first seen there "
                    "(the pid was reused); refusing"
                )
                raise ActionError(msg)
            if handle is not None:
                signal.pidfd_send_signal(handle, self.sig)
            else:
                os.kill(pid, self.sig)
        except ProcessLookupError:
            msg = f"pid {pid}: no such process"
            raise ActionError(msg) from None
        except PermissionError:
            msg = (
                f"pid {pid}: permission denied (signalling another container's "
                "process needs the same user or CAP_KILL)"
            )
            raise ActionError(msg) from None
        finally:
            if handle is not None:
                os.close(handle)
        return f"sent to pid {pid}"


def _pidfd(pid: int) -> int | None:
    """A pidfd pinning ``pid`` (Linux 5.3+), or ``None`` where there is none."""
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return None
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise
    except OSError:  # ENOSYS (old kernel), EMFILE...: plain kill() after the check
        return None


def _uids(pid: int) -> tuple[int, int] | None:
    """The real and saved uid of ``pid`` (``/proc/<pid>/status``), or ``None`` if unknown."""
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle.read(8192).splitlines():
                if line.startswith(b"Uid:"):
                    real, _, saved = line.split()[1:4]
                    return int(real), int(saved)
    except (OSError, ValueError):
        pass
    return None


def _start_time(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks since boot (``/proc/<pid>/stat`` field 22): with
    the pid it names one process for good. ``None`` without ``/proc`` or once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            data = handle.read(4096)
        # The name (field 2) may hold spaces and parentheses: count from its closing one.
        return int(data.rpartition(b")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _pids_named(name: str) -> list[tuple[int, int | None]]:
    """Pids whose ``comm`` or ``argv[0]`` base name is ``name`` (not this process), with
    their start times."""
    found: list[tuple[int, int | None]] = []
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        start = _start_time(int(entry))
        try:
            with open(f"/proc/{entry}/comm", "rb") as handle:
                comm = handle.read(64).rstrip(b"\n").decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv0 = handle.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            continue  # exited meanwhile, or not ours to look at
        if name in {comm, os.path.basename(argv0)}:
            found.append((int(entry), start))
    return sorted(found)


class Post(Action):
    """POST the change as JSON, within one deadline for the whole request.

    Socket timeouts bound each read, not the request: a server sending one byte at a time
    would hold a round for ever. A watchdog shuts the socket down at the deadline. Basic
    auth comes from the URL's user information; redirects are not followed (the credentials
    must not travel to another host).
    """

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import unquote_to_bytes, urlsplit

        self.url = url
        self.timeout = timeout
        self.label = f"POST {redact_url(url)}"
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._auth: str | None = None
        if parts.username is not None:
            import base64

            user = unquote_to_bytes(parts.username)
            password = unquote_to_bytes(parts.password or "")
            self._auth = "Basic " + base64.b64encode(user + b":" + password).decode("ascii")

    def run(self, batch: Batch) -> str:
        import http.client
        import socket

        from podself import __version__

        if self._https:
            import ssl

            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        expired = threading.Event()

        def abort() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                # The base class method: an SSLSocket's own would drop its state under the
                # reader's feet. Shutting down wakes a blocked recv() at once.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        headers = {"Content-Type": "application/json", "User-Agent": f"podself/{__version__}"}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        watchdog = threading.Timer(self.timeout, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.connect()
            if expired.is_set():  # the deadline passed while connecting: no socket to shut
                raise TimeoutError
            conn.request("POST", self._target, body=batch.json.encode("utf-8"), headers=headers)
            response = conn.getresponse()
            status, reason = response.status, printable(response.reason)[:_MAX_REASON]
            if expired.is_set():  # the shutdown reads as an early end of the headers
                raise TimeoutError
        except (OSError, http.client.HTTPException) as err:
            if expired.is_set() or isinstance(err, TimeoutError):
                msg = f"timed out after {self.timeout:g} s"
            elif isinstance(err, http.client.HTTPException):
                detail = printable(str(err))[:_MAX_REASON] or type(err).__name__
                msg = f"bad response: {detail}"
            else:
                msg = f"{err.strerror or err}"
            raise ActionError(msg) from None
        finally:
            watchdog.cancel()
            conn.close()
        if not 200 <= status < 300:
            msg = f"HTTP {status} {reason}"
            raise ActionError(msg)
        return f"HTTP {status} {reason}"


# --------------------------------------------------------------------------------------------
# The complete change for commands


class ChangeFile:
    """A private directory (0700) holding ``change.json``, the complete JSON of the current
    round for :class:`Exec` commands (``PODSELF_CHANGE_FILE``); removed at exit."""

    _NAME = "change.json"

    def __init__(self) -> None:
        import tempfile

        self.path = tempfile.mkdtemp(prefix="podself-watch-")

    def write(self, data: bytes) -> str:
        """Replace ``change.json`` (a command still reading the old one keeps it)."""
        final = os.path.join(self.path, self._NAME)
        temporary = final + ".tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(temporary, flags | getattr(os, "O_CLOEXEC", 0), 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temporary, final)
        return final

    def close(self) -> None:
        """Remove the two names it may have created, then the directory (never a tree)."""
        for name in (self._NAME, self._NAME + ".tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.path, name))
        with contextlib.suppress(OSError):
            os.rmdir(self.path)

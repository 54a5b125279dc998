"""The engine: watch directories, run the actions on each committed change, coalesce, count."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol

from podself.errors import ActionError
from podself.reloader.changes import Batch, ChangeFile, Coalescer, change_summary, timestamp
from podself.reloader.text import printable
from podself.watcher import ChangeSet, Watcher

_MAX_BACKOFF_S = 30.0
MAX_RETRIES = 1000
MAX_DELAY_MS = 3_600_000


class Action:
    """Something done on each round: :meth:`run` returns what happened (for the report) or
    raises :class:`ActionError`. ``label`` names it in reports."""

    label = ""
    # Whether its commands read the complete change from a file (PODSELF_CHANGE_FILE).
    needs_change_file = False

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
        self.retries = _check_int("retries", retries, MAX_RETRIES)
        self.retry_delay_ms = _check_int("retry_delay_ms", retry_delay_ms, MAX_DELAY_MS)
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
            if any(a.needs_change_file for a in self.actions):
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
                    summary = change_summary(item.change, self.show_values)
                    self.report.info(f"{timestamp()} {item.directory}: {summary}")
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
            self.report.info(f"{timestamp()} {action.label}: {outcome}")
            return True
        return False  # pragma: no cover - the loop always returns


def _report_end(watcher: Watcher, pending: Coalescer) -> None:
    """Tell the main loop when a watcher ends by itself (its directory was removed)."""
    watcher.join()
    if watcher.running:  # pragma: no cover - join() without timeout returns when ended
        return
    pending.end(watcher.path)

"""Describing a change to actions: per-directory updates, coalesced rounds, the change file."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

from podself.reloader.text import printable, unicode_text
from podself.watcher import ChangeSet

_MAP_FILES = frozenset({"labels", "annotations"})
# One environment string is limited to 128 KiB (MAX_ARG_STRLEN) and all of argv + env to
# ARG_MAX (often 2 MiB): PODSELF_CHANGE_JSON is complete or empty, the others are cut.
_MAX_ENV_JSON = 64 * 1024
_MAX_ENV_TEXT = 8 * 1024


@dataclass(frozen=True)
class Update:
    """One change of one watched directory (merged when several arrived during a round)."""

    directory: str
    change: ChangeSet


def _shows_values(name: str, show_all: bool) -> bool:
    return show_all or name.rpartition("/")[2] in _MAP_FILES


def change_summary(change: ChangeSet, show_all: bool) -> str:
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
    u = unicode_text
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
        "summary": change_summary(change, show_all),
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
        self.time = timestamp()
        body = {"time": self.time, "changes": [_as_json(i, show_all) for i in items]}
        # Valid UTF-8 by construction: every string went through unicode_text or printable.
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
            f"{printable(i.directory)}: {change_summary(i.change, show_all)}" for i in items
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


def timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


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

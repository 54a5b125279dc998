"""Log levels that follow the pod: a ``log-level`` label or annotation in a Downward API volume
changes the level of the configured loggers at run time, and the change is logged."""

from __future__ import annotations

import importlib
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from podself.errors import FormatError
from podself.pod import PodInfo

__all__ = [
    "LEVEL_RULE",
    "LevelFollower",
    "announce",
    "base_level",
    "level_name",
    "parse_level",
    "pod_override",
]

LEVEL_RULE = "a level is a name (DEBUG, INFO, WARNING, ERROR, CRITICAL) or a number >= 0"
_LOGGER_NAME = "podself.logs"


def parse_level(value: object) -> int | None:
    """A logging level from ``"debug"``, ``"WARN"``, ``"20"`` or ``20``; ``None`` if invalid.

    Names are case-insensitive and include levels added with ``logging.addLevelName``.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    return logging.getLevelNamesMapping().get(text.upper())


def level_name(level: int) -> str:
    """``"INFO"`` for 20, ``"Level 15"`` for an unnamed level."""
    return logging.getLevelName(level)


def base_level(level: int | str | None, environ: Mapping[str, str]) -> tuple[int, str, str | None]:
    """(level, where it came from, warning or ``None``): ``level``, else ``$LOG_LEVEL``, else INFO.

    An invalid ``level`` argument raises ``ValueError``; an invalid ``$LOG_LEVEL`` is
    reported in the warning and ignored.
    """
    if level is not None:
        parsed = parse_level(level)
        if parsed is None:
            msg = f"log level {level!r}: {LEVEL_RULE}"
            raise ValueError(msg)
        return parsed, "level argument", None
    raw = environ.get("LOG_LEVEL")
    if raw is not None and raw.strip():
        parsed = parse_level(raw)
        if parsed is not None:
            return parsed, "env LOG_LEVEL", None
        warning = f"env LOG_LEVEL={raw!r}: {LEVEL_RULE}; using INFO"
        return logging.INFO, "default", warning
    return logging.INFO, "default", None


def pod_override(
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    key: str,
    labels_origin: str = "labels",
    annotations_origin: str = "annotations",
) -> tuple[str, str] | None:
    """(raw value, description of where) of the ``key`` annotation, else label, else ``None``."""
    if key in annotations:
        return annotations[key], f"annotation {key!r} in {annotations_origin}"
    if key in labels:
        return labels[key], f"label {key!r} in {labels_origin}"
    return None


def announce(
    target: logging.Logger, level: int, message: str, extra: Mapping[str, object] | None = None
) -> None:
    """Log ``message`` as ``podself.logs`` through ``target``'s handlers, whatever its level.

    A level change must be visible even when the new level hides INFO, so the record skips
    the logger's level check (handler levels and filters still apply).
    """
    record = target.makeRecord(
        _LOGGER_NAME, level, __file__, 0, message, (), None, extra=dict(extra or {})
    )
    target.handle(record)


def _watcher_class() -> Any:
    """The live-reload ``Watcher`` when it is available, else ``None`` (polling is used)."""
    try:
        module = importlib.import_module("podself.watcher")
    except ImportError:
        return None
    return getattr(module, "Watcher", None)


def _watch_dir(
    path: str, on_files: Callable[[Mapping[str, bytes]], None], poll_ms: int, use_watcher: bool
) -> tuple[Callable[[], None], str]:
    """Call ``on_files(files)`` after each committed change of ``path``; (stop, mode).

    The one place that couples to the watcher: it is used when importable and startable,
    and a polling thread (readlink ``..data``, re-read on change) stands in otherwise.
    """
    watcher_class = _watcher_class() if use_watcher else None
    if watcher_class is not None:
        try:
            watcher = watcher_class(
                path, callback=lambda change: on_files(change.files), poll_ms=poll_ms
            )
            watcher.start()
        except Exception as exc:  # any watcher failure falls back to polling, never raises
            logging.getLogger(_LOGGER_NAME).debug(
                "watch %s: %s; polling every %d ms instead", path, exc, poll_ms
            )
        else:
            return watcher.stop, "watcher"
    poller = _Poller(path, on_files, poll_ms)
    poller.start()
    return poller.stop, "polling"


class _Poller:
    """A daemon thread that re-reads ``path`` when its ``..data`` target (or file stats) change."""

    def __init__(
        self, path: str, on_files: Callable[[Mapping[str, bytes]], None], poll_ms: int
    ) -> None:
        self.path = path
        self._on_files = on_files
        self._interval = max(poll_ms, 10) / 1000
        self._stopped = threading.Event()
        self._signature = self._sign()
        self._thread = threading.Thread(
            target=self._run, name=f"podself-logs-poll:{path}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)

    def _sign(self) -> object:
        try:
            return ("..data", os.readlink(os.path.join(self.path, "..data")))
        except OSError:
            pass
        stats: list[tuple[int, int, int] | None] = []
        for name in ("labels", "annotations"):
            try:
                st = os.stat(os.path.join(self.path, name))
            except OSError:
                stats.append(None)
            else:
                stats.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(stats)

    def _run(self) -> None:
        from podself.atomic import read_snapshot  # only once running

        while not self._stopped.wait(self._interval):
            signature = self._sign()
            if signature == self._signature:
                continue
            self._signature = signature
            try:
                snapshot = read_snapshot(self.path)
            except OSError:
                continue  # removed (the pod is ending) or mid-swap: the next tick retries
            try:
                self._on_files(snapshot.files)
            except Exception:  # keep polling whatever a callback does
                logging.getLogger(_LOGGER_NAME).exception("live log level: update failed")


class LevelFollower:
    """Sets the level of ``loggers`` from the ``key`` annotation, else label, of a Downward
    API volume, now and whenever the kubelet updates it.

    A change logs one line through the first logger, e.g. ``log level INFO → DEBUG
    (label 'log-level' in /etc/podinfo/labels)``; removing the label and annotation returns to
    ``base_level``. An invalid value keeps the last good level and warns once per value. When
    the labels or annotations change, ``filters`` (``PodIdentityFilter``) are updated from a
    fresh read of ``info``, so label fields in the logs follow too.

    Uses the live-reload watcher when available and a polling thread (every ``poll_ms``)
    otherwise; ``use_watcher=False`` forces polling. :meth:`check` re-reads synchronously.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        loggers: Iterable[str | logging.Logger] = ("",),
        key: str = "log-level",
        base_level: int | str = logging.INFO,
        base_source: str = "default",
        level: int | None = None,
        source: str | None = None,
        filters: Iterable[Any] = (),
        info: PodInfo | None = None,
        poll_ms: int = 1000,
        use_watcher: bool = True,
    ) -> None:
        self.path = os.fspath(path)
        self.loggers = tuple(
            logging.getLogger(each or None) if isinstance(each, str) else each for each in loggers
        )
        if not self.loggers:
            msg = "LevelFollower: loggers must name at least one logger"
            raise ValueError(msg)
        parsed = parse_level(base_level)
        if parsed is None:
            msg = f"base level {base_level!r}: {LEVEL_RULE}"
            raise ValueError(msg)
        if not key:
            msg = "LevelFollower: key must be a non-empty label/annotation key"
            raise ValueError(msg)
        self.key = key
        self.base_level = parsed
        self.base_source = base_source
        self.level = level if level is not None else self.loggers[0].getEffectiveLevel()
        self.source = source if source is not None else base_source
        self.filters = tuple(filters)
        self.info = info
        self.mode: str | None = None
        self._poll_ms = poll_ms
        self._use_watcher = use_watcher
        self._lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()
        self._maps: tuple[dict[str, str], dict[str, str]] | None = (
            (dict(info.labels), dict(info.annotations)) if info is not None else None
        )
        self._stop: Callable[[], None] | None = None

    def start(self) -> LevelFollower:
        """Apply the volume's current state, then follow it in the background."""
        if self._stop is not None:
            return self
        self.check()
        self._stop, self.mode = _watch_dir(self.path, self.apply, self._poll_ms, self._use_watcher)
        return self

    def stop(self) -> None:
        """Stop following (idempotent); the level stays where it is."""
        stop, self._stop = self._stop, None
        if stop is not None:
            stop()

    def check(self) -> None:
        """Read the volume now and apply it."""
        from podself.atomic import read_snapshot

        try:
            snapshot = read_snapshot(self.path)
        except OSError as exc:
            self._warn_once(("read", str(exc)), f"live log level: cannot read {self.path}: {exc}")
            return
        self.apply(snapshot.files)

    def apply(self, files: Mapping[str, bytes]) -> None:
        """Apply one snapshot of the volume (file name -> bytes)."""
        with self._lock:
            labels = self._parse(files, "labels")
            annotations = self._parse(files, "annotations")
            if labels is None or annotations is None:
                return  # malformed: keep everything as it was (reported once)
            maps = (labels, annotations)
            if maps != self._maps:
                if self._maps is not None:
                    self._refresh_identity()
                self._maps = maps
            override = pod_override(
                labels,
                annotations,
                self.key,
                os.path.join(self.path, "labels"),
                os.path.join(self.path, "annotations"),
            )
            if override is None:
                new = self.base_level
                source = f"no {self.key!r} label or annotation; {self.base_source}"
            else:
                raw, source = override
                parsed = parse_level(raw)
                if parsed is None:
                    self._warn_once(
                        (source, raw),
                        f"log level {raw!r} from {source}: {LEVEL_RULE}; keeping "
                        f"{level_name(self.level)}",
                    )
                    return
                new = parsed
            old = self.level
            self.level, self.source = new, source
            if new == old:
                return
            for each in self.loggers:
                each.setLevel(new)
            announce(
                self.loggers[0],
                logging.INFO,
                f"log level {level_name(old)} → {level_name(new)} ({source})",
                {
                    "old_level": level_name(old),
                    "new_level": level_name(new),
                    "level_source": source,
                },
            )

    def _parse(self, files: Mapping[str, bytes], name: str) -> dict[str, str] | None:
        from podself.downward import parse_map

        data = files.get(name)
        if data is None:
            return {}
        where = os.path.join(self.path, name)
        try:
            return parse_map(data.decode("utf-8"), source=f"{name} file")
        except (UnicodeDecodeError, FormatError) as exc:
            self._warn_once(
                (where, repr(data[:200])),
                f"live log level: {where}: {exc}; keeping {level_name(self.level)}",
            )
            return None

    def _refresh_identity(self) -> None:
        if not self.filters:
            return
        import podself

        try:
            if self.info is None or self.info is podself.current():
                info = podself.refresh()
            else:
                info = self.info.refreshed()
            for each in self.filters:
                each.update(info)
        except Exception as exc:  # never let a re-read stop the follower
            self._warn_once(("refresh", str(exc)), f"live log level: re-read failed: {exc}")
            return
        self.info = info

    def _warn_once(self, what: tuple[str, str], message: str) -> None:
        if what in self._warned:
            return
        self._warned.add(what)
        announce(self.loggers[0], logging.WARNING, message)

    def __enter__(self) -> LevelFollower:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = self.mode if self._stop is not None else "stopped"
        return f"<LevelFollower {self.path!r} {level_name(self.level)} {state}>"

"""Feature flags and settings from the pod's own labels or annotations, updated live.

``Flags`` reads a Downward API volume (``feature-x=enabled``, ``log-level=debug``,
``canary-weight=20``), gives typed values with defaults and validation (a bad value keeps the
last good one and warns once), calls per-key callbacks on change, and follows the kubelet's
``..data`` swaps through :class:`podself.watcher.Watcher`.
"""

from __future__ import annotations

import builtins
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Literal

from podself import atomic
from podself.errors import FormatError, WatchError
from podself.pod import DEFAULT_PODINFO_DIRS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podself.watcher import ChangeSet, Watcher

__all__ = ["BOOL_FALSE", "BOOL_TRUE", "Flags", "apply_log_level", "parse_duration"]

_log = logging.getLogger("podself.flags")

# Builtins under other names: Flags defines methods called bool, int, float and str.
_Bool = bool
_Int = int
_Float = float
_Str = str

BOOL_TRUE = frozenset({"enabled", "true", "on", "yes", "1"})
BOOL_FALSE = frozenset({"disabled", "false", "off", "no", "0"})

_SOURCES = ("labels", "annotations", "both")
_INT_RE = re.compile(r"[+-]?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DURATION_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,  # U+00B5 micro sign
    "μs": 1e-6,  # U+03BC Greek mu
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_LEVELS = {
    "notset": logging.NOTSET,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}
_MISSING: Any = object()

Callback = Callable[[Any, Any], object]


def parse_duration(text: _Str) -> _Float:
    """Seconds in a Go duration (``300ms``, ``1.5s``, ``2m``, ``1h30m``, ``0``); a bare
    number is taken as seconds. Raises ``ValueError`` naming the rule."""
    value = text.strip()
    sign, body = 1.0, value
    if value.startswith(("+", "-")):
        sign, body = (-1.0 if value[0] == "-" else 1.0), value[1:]
    if _FLOAT_RE.fullmatch(body):
        return _finite(text, sign * builtins.float(body))
    total, pos = 0.0, 0
    while pos < len(body):
        match = _DURATION_RE.match(body, pos)
        if match is None or match.group(1) in {"", "."}:
            break
        unit = _DURATION_UNITS.get(match.group(2))
        if unit is None:
            msg = f'duration "{text}": unknown unit "{match.group(2)}"'
            raise ValueError(msg)
        total += builtins.float(match.group(1)) * unit
        pos = match.end()
    else:
        if body:
            return _finite(text, sign * total)
    msg = f'duration "{text}": must be a number of seconds or a Go duration such as 1m30s'
    raise ValueError(msg)


def _finite(text: _Str, seconds: _Float) -> _Float:
    # "1e999" or 400 digits of hours overflow to inf, which sleep() and timeouts refuse.
    if not math.isfinite(seconds):
        msg = f'duration "{text}": out of range'
        raise ValueError(msg)
    return seconds


# --------------------------------------------------------------------------------------------
# What a key is expected to hold


@dataclass(frozen=True)
class _Spec:
    """How to read one key: the kind of value, its default and its limits (hashable)."""

    kind: _Str  # bool | int | float | str | choice | duration | log-level
    default: Any
    minimum: Any = None
    maximum: Any = None
    choices: tuple[_Str, ...] = ()

    def check_default(self) -> None:
        """Programming errors in a default are raised at once, not logged."""
        if self.default is None:
            return
        if self.kind in {"int", "float", "duration"}:
            self._check_range(self.default, "default")
        elif self.kind == "choice" and self.default not in self.choices:
            msg = f"default {self.default!r}: must be one of {', '.join(self.choices)}"
            raise ValueError(msg)

    def parse(self, text: _Str) -> Any:
        """The typed value of ``text``; ``ValueError`` with the rule when it is bad."""
        value = text.strip()
        if self.kind == "str":
            return text
        if self.kind == "bool":
            lowered = value.lower()
            if lowered in BOOL_TRUE:
                return True
            if lowered in BOOL_FALSE:
                return False
            msg = "must be one of enabled/disabled, true/false, on/off, yes/no, 1/0"
            raise ValueError(msg)
        if self.kind == "int":
            if not _INT_RE.fullmatch(value):
                msg = "must be an integer"
                raise ValueError(msg)
            return self._check_range(builtins.int(value))
        if self.kind == "float":
            if not _FLOAT_RE.fullmatch(value):
                msg = "must be a decimal number"
                raise ValueError(msg)
            number = builtins.float(value)
            if not math.isfinite(number):
                msg = "must be a finite number"
                raise ValueError(msg)
            return self._check_range(number)
        if self.kind == "duration":
            try:
                seconds = parse_duration(value)
            except ValueError:
                msg = "must be a number of seconds or a Go duration such as 1m30s"
                raise ValueError(msg) from None
            return self._check_range(seconds)
        if self.kind == "choice":
            if value in self.choices:
                return value
            for choice in self.choices:
                if choice.lower() == value.lower():
                    return choice
            msg = f"must be one of {', '.join(self.choices)}"
            raise ValueError(msg)
        if self.kind == "log-level":
            if _INT_RE.fullmatch(value) and builtins.int(value) >= 0:
                return builtins.int(value)
            level = _LEVELS.get(value.lower())
            if level is None:
                msg = "must be a logging level (debug, info, warning, error, critical)"
                raise ValueError(msg)
            return level
        msg = f"unknown kind {self.kind!r}"  # pragma: no cover - specs are built here
        raise AssertionError(msg)

    def _check_range(self, number: Any, what: _Str = "value") -> Any:
        low, high = self.minimum, self.maximum
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                rule = f"between {low} and {high}"
            elif low is not None:
                rule = f">= {low}"
            else:
                rule = f"<= {high}"
            msg = f"must be {rule}" if what == "value" else f"{what} {number!r}: must be {rule}"
            raise ValueError(msg)
        return number


def _spec_for(
    kind: object,
    default: Any,
    minimum: Any,
    maximum: Any,
    choices: tuple[_Str, ...] | None,
) -> _Spec:
    names: dict[object, _Str] = {_Bool: "bool", _Int: "int", _Float: "float", _Str: "str"}
    name = names.get(kind, kind if isinstance(kind, _Str) else "")
    if choices is not None:
        name = "choice"
    if name not in {"bool", "int", "float", "str", "choice", "duration", "log-level"}:
        msg = f"kind {kind!r}: must be bool, int, float, str or 'duration'"
        raise ValueError(msg)
    spec = _Spec(name, default, minimum, maximum, tuple(choices or ()))
    spec.check_default()
    return spec


@dataclass(frozen=True)
class _State:
    """One immutable generation of values; readers take it with a single attribute load."""

    raw: Mapping[_Str, _Str] = field(default_factory=lambda: MappingProxyType({}))
    origin: Mapping[_Str, _Str] = field(default_factory=lambda: MappingProxyType({}))
    typed: Mapping[tuple[_Str, _Spec], Any] = field(default_factory=lambda: MappingProxyType({}))


# --------------------------------------------------------------------------------------------
# Flags


class Flags:
    """Typed settings read from the pod's labels and/or annotations, updated live.

    Args:
        prefix: only keys starting with it are read, and it is removed: with
            ``"config.example.com/"`` the label ``config.example.com/feature-x`` is ``feature-x``.
        source: ``"labels"`` (default), ``"annotations"``, or ``"both"`` (an annotation wins
            over a label with the same key).
        podinfo_dir: the Downward API volume directory; default ``$PODSELF_PODINFO_DIR`` (its
            first entry), else ``/etc/podinfo`` (under ``$PODSELF_ROOT`` when set).
        labels_file, annotations_file: the ``path`` of the volume items.
        debounce_ms, poll_ms, force_polling: passed to the watcher.

    The files are read once here; :meth:`start` (or ``with flags:``) follows their updates
    and :meth:`refresh` re-reads them on demand. Without the directory (outside a pod) every
    accessor returns its default and nothing fails. Reads take no lock: each update swaps
    one immutable snapshot.
    """

    def __init__(
        self,
        prefix: _Str = "",
        source: Literal["labels", "annotations", "both"] = "labels",
        podinfo_dir: _Str | os.PathLike[_Str] | None = None,
        *,
        labels_file: _Str = "labels",
        annotations_file: _Str = "annotations",
        debounce_ms: _Int = 50,
        poll_ms: _Int = 1000,
        force_polling: _Bool | None = None,
    ) -> None:
        if not isinstance(prefix, _Str):
            msg = f"prefix {prefix!r}: must be a str"
            raise TypeError(msg)
        if source not in _SOURCES:
            msg = f"source {source!r}: must be one of {', '.join(_SOURCES)}"
            raise ValueError(msg)
        for name in (labels_file, annotations_file):
            atomic.validate_path(name)
        self.prefix = prefix
        self.source = source
        self.path = os.fspath(podinfo_dir) if podinfo_dir is not None else _default_dir()
        self._files: tuple[tuple[_Str, _Str], ...] = tuple(
            (kind, name)
            for kind, name in (("label", labels_file), ("annotation", annotations_file))
            if source in {"both", f"{kind}s"}
        )
        self._watch_options: dict[_Str, Any] = {
            "debounce_ms": debounce_ms,
            "poll_ms": poll_ms,
            "force_polling": force_polling,
        }
        self._lock = threading.RLock()  # serialises updates; callbacks may call refresh()
        self._state = _State()
        self._maps: dict[_Str, dict[_Str, _Str]] = {}  # last parsed content of each file
        self._bad_files: dict[_Str, bytes] = {}
        self._warned: dict[tuple[_Str, _Spec], _Str] = {}
        self._callbacks: list[tuple[_Str, _Spec, Callback]] = []
        self._watcher: Watcher | None = None
        self.refresh()

    # -- typed accessors ---------------------------------------------------------------------

    def bool(self, key: _Str, default: _Bool = False) -> _Bool:
        """``enabled``/``disabled``, ``true``/``false``, ``on``/``off``, ``yes``/``no``,
        ``1``/``0`` (any case)."""
        result: _Bool = self._value(key, _spec_for(_Bool, default, None, None, None))
        return result

    def int(
        self, key: _Str, default: _Int = 0, *, min: _Int | None = None, max: _Int | None = None
    ) -> _Int:
        """A decimal integer, optionally within ``min``..``max`` (inclusive)."""
        result: _Int = self._value(key, _spec_for(_Int, default, min, max, None))
        return result

    def float(
        self,
        key: _Str,
        default: _Float = 0.0,
        *,
        min: _Float | None = None,
        max: _Float | None = None,
    ) -> _Float:
        """A finite decimal number (``0.25``, ``1e3``), optionally within ``min``..``max``."""
        result: _Float = self._value(key, _spec_for(_Float, default, min, max, None))
        return builtins.float(result)

    def str(self, key: _Str, default: _Str = "") -> _Str:
        """The value as written (an empty value is returned as ``""``)."""
        result: _Str = self._value(key, _spec_for(_Str, default, None, None, None))
        return result

    def choice(self, key: _Str, choices: tuple[_Str, ...] | list[_Str], default: _Str) -> _Str:
        """One of ``choices``; matched exactly, else ignoring case (the choice is returned)."""
        result: _Str = self._value(key, _spec_for(_Str, default, None, None, tuple(choices)))
        return result

    def duration(
        self,
        key: _Str,
        default: _Float = 0.0,
        *,
        min: _Float | None = None,
        max: _Float | None = None,
    ) -> _Float:
        """Seconds, from a Go duration (``300ms``, ``1m30s``) or a bare number of seconds."""
        result: _Float = self._value(key, _spec_for("duration", default, min, max, None))
        return result

    # -- raw values and provenance ----------------------------------------------------------

    @property
    def raw(self) -> Mapping[_Str, _Str]:
        """Every key (prefix removed) with its value as written, from one snapshot."""
        return self._state.raw

    def __contains__(self, key: object) -> _Bool:
        return key in self._state.raw

    def origin(self, key: _Str) -> _Str:
        """Where ``key``'s value comes from: ``label config.example.com/feature-x in
        /etc/podinfo/labels``, or ``default``."""
        return self._state.origin.get(key, "default")

    # -- callbacks -------------------------------------------------------------------------

    def on_change(
        self,
        key: _Str,
        callback: Callback,
        *,
        kind: object = _Str,
        default: Any = None,
        min: Any = None,
        max: Any = None,
        choices: tuple[_Str, ...] | list[_Str] | None = None,
    ) -> Callback:
        """Call ``callback(old, new)`` when the typed value of ``key`` changes; returns it.

        ``kind`` is ``bool``, ``int``, ``float``, ``str`` (default) or ``"duration"``, with the
        accessor's ``default``, ``min``, ``max`` and ``choices``. A bad value keeps the last
        good one, so it warns but calls nothing. Callbacks run in the thread that applied the
        update (the watcher's, or the caller of :meth:`refresh`), in the order added; an
        exception in one is logged and the others still run.
        """
        spec = _spec_for(kind, default, min, max, None if choices is None else tuple(choices))
        return self._subscribe(key, spec, callback)

    def remove_callback(self, key: _Str, callback: Callback) -> _Bool:
        """Remove a callback added for ``key``; return whether it was there."""
        with self._lock:
            for entry in self._callbacks:
                if entry[0] == key and entry[2] is callback:
                    self._callbacks.remove(entry)
                    return True
        return False

    def _subscribe(self, key: _Str, spec: _Spec, callback: Callback) -> Callback:
        with self._lock:
            self._value(key, spec)  # evaluate now: "old" is known at the first change
            self._callbacks.append((key, spec, callback))
        return callback

    # -- live updates ----------------------------------------------------------------------

    def start(self) -> Flags:
        """Follow updates of the volume in a background thread (no-op outside a pod)."""
        from podself.watcher import Watcher

        with self._lock:
            if self._watcher is not None:
                return self
            if not os.path.isdir(self.path):
                _log.debug('flags: "%s" is not a directory; defaults apply', self.path)
                return self
            try:
                self._watcher = Watcher(self.path, self._on_change_set, **self._watch_options)
                self._watcher.start()
            except WatchError as err:
                self._watcher = None
                _log.warning("flags: live updates disabled: %s", err)
                return self
        self.refresh()  # anything committed between __init__ and the watch
        return self

    def stop(self) -> None:
        """Stop following updates (idempotent); the last values stay."""
        with self._lock:
            watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.stop()

    @property
    def running(self) -> _Bool:
        """Whether a watcher is following the volume."""
        watcher = self._watcher
        return watcher is not None and watcher.running

    def __enter__(self) -> Flags:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def refresh(self) -> None:
        """Re-read the files now and apply any change (callbacks run in this thread)."""
        names = [name for _, name in self._files]
        try:
            snapshot = atomic.read_snapshot(self.path, names)
        except (FileNotFoundError, NotADirectoryError):
            files: Mapping[_Str, bytes] = {}
        except OSError as err:  # EACCES, or a swap storm that outlasted every retry
            _log.warning('flags: cannot read "%s": %s; keeping the current values', self.path, err)
            return
        else:
            files = snapshot.files
        self._apply_files(files)

    def _on_change_set(self, change: ChangeSet) -> None:
        self._apply_files(change.files)

    def __repr__(self) -> _Str:
        state = "live" if self.running else "static"
        return (
            f"<Flags {self.path!r} source={self.source} prefix={self.prefix!r} "
            f"keys={len(self._state.raw)} {state}>"
        )

    # -- internals -------------------------------------------------------------------------

    def _value(self, key: _Str, spec: _Spec) -> Any:
        # Fast path: one attribute load and one dict lookup, no lock.
        value = self._state.typed.get((key, spec), _MISSING)
        if value is not _MISSING:
            return value
        with self._lock:
            state = self._state
            value = state.typed.get((key, spec), _MISSING)
            if value is _MISSING:
                value = self._evaluate(key, spec, state, spec.default)
                typed = {**state.typed, (key, spec): value}
                self._state = replace(state, typed=MappingProxyType(typed))
            return value

    def _evaluate(self, key: _Str, spec: _Spec, state: _State, last_good: Any) -> Any:
        """The typed value of ``key`` in ``state``: absent or empty (for a typed kind) gives
        the default; a bad value keeps ``last_good`` and warns once per bad value."""
        text = state.raw.get(key)
        if text is None or (spec.kind != "str" and not text.strip()):
            self._warned.pop((key, spec), None)
            return spec.default
        try:
            value = spec.parse(text)
        except ValueError as err:
            if self._warned.get((key, spec)) != text:
                self._warned[(key, spec)] = text
                _log.warning(
                    'flag "%s" = %r (%s): %s; keeping %r',
                    key,
                    text,
                    state.origin.get(key, "default"),
                    err,
                    last_good,
                )
            return last_good
        self._warned.pop((key, spec), None)
        return value

    def _read_maps(self, files: Mapping[_Str, bytes]) -> dict[_Str, dict[_Str, _Str]]:
        from podself.downward import parse_map

        maps: dict[_Str, dict[_Str, _Str]] = {}
        for _, name in self._files:
            data = files.get(name)
            if data is None:
                maps[name] = {}
                continue
            try:
                maps[name] = parse_map(data.decode("utf-8"), source=name)
            except (UnicodeDecodeError, FormatError) as err:
                if self._bad_files.get(name) != data:
                    self._bad_files[name] = data
                    _log.warning(
                        'flags: "%s" is not in the labels/annotations format (%s); '
                        "keeping its last good content",
                        os.path.join(self.path, name),
                        err,
                    )
                maps[name] = self._maps.get(name, {})
                continue
            self._bad_files.pop(name, None)
        return maps

    def _apply_files(self, files: Mapping[_Str, bytes]) -> None:
        with self._lock:
            maps = self._read_maps(files)
            self._maps = maps
            raw: dict[_Str, _Str] = {}
            origin: dict[_Str, _Str] = {}
            # Labels first, then annotations: with source="both" an annotation wins.
            for kind, name in self._files:
                where = os.path.join(self.path, name)
                for full_key, value in maps[name].items():
                    if not full_key.startswith(self.prefix) or full_key == self.prefix:
                        continue
                    key = full_key[len(self.prefix) :]
                    raw[key] = value
                    origin[key] = f"{kind} {full_key} in {where}"
            old = self._state
            if raw == old.raw and origin == old.origin:
                return
            new = _State(MappingProxyType(raw), MappingProxyType(origin))
            typed = {
                (key, spec): self._evaluate(key, spec, new, previous)
                for (key, spec), previous in old.typed.items()
            }
            self._state = new = replace(new, typed=MappingProxyType(typed))
            for key, spec, callback in list(self._callbacks):
                before, after = old.typed[(key, spec)], new.typed[(key, spec)]
                if before == after and type(before) is type(after):
                    continue
                try:
                    callback(before, after)
                except Exception:
                    _log.exception('flags: callback %r for "%s" failed', callback, key)


def _default_dir() -> _Str:
    configured = [d for d in os.environ.get("PODSELF_PODINFO_DIR", "").split(os.pathsep) if d]
    if configured:
        return configured[0]
    return os.environ.get("PODSELF_ROOT", "") + DEFAULT_PODINFO_DIRS[0]


# --------------------------------------------------------------------------------------------
# Ready hooks


def apply_log_level(
    flags: Flags,
    logger: logging.Logger | _Str | None = None,
    key: _Str = "log-level",
) -> Callback:
    """Apply the level in ``key`` (``debug``, ``info``, ``warning``, ``error``, ``critical``
    or a number) to ``logger`` (default: the root logger) now and on every change.

    Each change is logged on ``podself.flags`` with the old and new level and where the value
    came from, at INFO while the more verbose of the two levels is in force. When the key is
    removed the logger gets back the level it had before this call. Returns the callback
    (for :meth:`Flags.remove_callback`).
    """
    target = logger if isinstance(logger, logging.Logger) else logging.getLogger(logger)
    spec = _Spec("log-level", target.level)
    name = target.name or "root"

    def apply(old: _Int, new: _Int) -> None:
        message = "log level of %s: %s → %s (%s)"
        args = (name, logging.getLevelName(old), logging.getLevelName(new), flags.origin(key))
        if new > old:
            _log.info(message, *args)  # announce while the old, more verbose level holds
        target.setLevel(new)
        if new <= old:
            _log.info(message, *args)

    with flags._lock:
        current = flags._value(key, spec)
        if current != target.level:
            apply(target.level, current)
        flags._subscribe(key, spec, apply)
    return apply

"""Standard ``logging`` integration: a filter that puts pod identity on every record, a one-line
JSON formatter shaped like the seed's ``K8sLogger``, ``configure()`` for the root logger and
``follow_level()`` for loggers configured elsewhere (both use the engine in ``logs.live``)."""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
import time
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, TYPE_CHECKING, Any

from podself.logs.fields import (
    PRESETS,
    UNKNOWN,
    Preset,
    get_preset,
    identity_fields,
    rename_colliding,
    trace_fields,
)
from podself.pod import PodInfo, Source

if TYPE_CHECKING:
    from podself.logs.live import LevelFollower

__all__ = [
    "RESERVED_ATTRS",
    "JsonFormatter",
    "LogSetup",
    "PodIdentityFilter",
    "configure",
    "follow_level",
]

# The attributes LogRecord.__init__ sets, in the order it sets them: extras come after them.
_STANDARD = tuple(logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__)
_N_STANDARD = len(_STANDARD)
_MARK = "_podself"  # the record attribute holding the identity the filter added

# Record attributes that are not "extra" fields.
_NOT_EXTRA = frozenset({*_STANDARD, "message", "asctime", "taskName", _MARK})
# Those plus every key a JsonFormatter preset writes itself: identity fields with these names
# are renamed ``podself.<name>``.
RESERVED_ATTRS: frozenset[str] = _NOT_EXTRA | frozenset(
    key for preset in PRESETS.values() for key in preset.output_keys()
)


_Prepared = tuple[object, str, Mapping[str, object], frozenset[str], frozenset[str]]


class _Identity:
    """Identity fields computed once: what the filter adds to a record (the fields plus the
    marker), and what the formatter skips when it collects a record's extras."""

    __slots__ = ("added", "fields", "keys", "skip")

    def __init__(self, fields: dict[str, object]) -> None:
        self.fields = fields
        self.added: dict[str, object] = {**fields, _MARK: self}
        self.keys = frozenset(self.added)
        self.skip = _NOT_EXTRA | self.keys


class PodIdentityFilter(logging.Filter):
    """Adds pod identity to every record as attributes (``record.pod``, ``record.namespace``…).

    The fields are computed once, here and on :meth:`update`, never per record. A field whose
    name the record already uses — a ``LogRecord`` attribute (``message``, ``levelname``…), a
    key the JSON formatter writes, or an ``extra=`` field — is added as ``podself.<name>``
    instead: the record's own value is never replaced. A record that already went through a
    ``PodIdentityFilter`` is left as it is.

    Args:
        info: the ``PodInfo`` to describe (default ``podself.current()``).
        preset, labels, annotations, deny, unknown: as for
            :func:`podself.logs.fields.identity_fields`.
    """

    def __init__(
        self,
        *,
        info: PodInfo | None = None,
        preset: str | Preset = "seed",
        labels: bool | Iterable[str] | str | None = None,
        annotations: bool | Iterable[str] | str | None = None,
        deny: Iterable[str] | str = (),
        unknown: str | None = UNKNOWN,
    ) -> None:
        super().__init__()
        self.preset = get_preset(preset)
        self._labels = labels if isinstance(labels, bool | str | None) else tuple(labels)
        self._annotations = (
            annotations if isinstance(annotations, bool | str | None) else tuple(annotations)
        )
        self._deny = deny if isinstance(deny, str) else tuple(deny)
        self._unknown = unknown
        self.info: PodInfo = info if info is not None else _current()
        self._identity = self._build(self.info)

    def _build(self, info: PodInfo) -> _Identity:
        fields = identity_fields(
            info,
            preset=self.preset,
            labels=self._labels,
            annotations=self._annotations,
            deny=self._deny,
            unknown=self._unknown,
        )
        return _Identity(rename_colliding(fields, RESERVED_ATTRS))

    @property
    def identity(self) -> Mapping[str, object]:
        """The fields added to each record (read-only)."""
        return types.MappingProxyType(self._identity.fields)

    def update(self, info: PodInfo | None = None) -> None:
        """Recompute the fields from ``info`` (default: re-read ``self.info``)."""
        new_info = info if info is not None else self.info.refreshed()
        identity = self._build(new_info)
        self.info = new_info
        self._identity = identity  # one assignment: records see the old or the new set

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the identity fields to ``record``; never drops it."""
        attrs = record.__dict__
        identity = self._identity
        # dict_keys.isdisjoint iterates the few identity keys, not the record's attributes.
        if attrs.keys().isdisjoint(identity.keys):
            attrs.update(identity.added)
        elif _MARK not in attrs:
            attrs.update(_Identity(rename_colliding(identity.fields, attrs)).added)
        return True


def _current() -> PodInfo:
    import podself  # keeps `import podself.logs` free of start-up work

    return podself.current()


def _default(value: object) -> object:
    """JSON for values ``json`` does not know: sets as lists, bytes as text, else ``str()``."""
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    try:
        return str(value)
    except Exception:  # a broken __str__ must not lose the log line
        return f"<unprintable {type(value).__name__}>"


class JsonFormatter(logging.Formatter):
    """One JSON object per line, keys in the seed's order.

    ``timestamp`` (UTC, ISO-8601 with milliseconds and ``Z``), ``level``, ``message``, then
    the ``fields`` asked for, then the pod identity, then the record's ``extra=`` fields in
    the order given, then ``exception`` (``type``, ``message``, ``traceback``) and ``stack``
    when present. Presets ``otel``, ``ecs`` and ``gcp`` rename the formatter's own keys and
    may add fixed fields (``ecs.version``) and the source location (see
    :class:`podself.logs.fields.Preset`). Non-ASCII text is written as is.

    The identity is the one a :class:`PodIdentityFilter` put on the record, else the
    formatter's own ``identity``: a ``PodIdentityFilter`` whose fields it reads directly
    (they follow its :meth:`~PodIdentityFilter.update`), or ``True`` for one built here from
    ``podself.current()`` with this preset and the ``labels``/``annotations``/``deny``/
    ``unknown`` options. Reading it directly leaves the record untouched, which is cheaper
    than any filter: adding attributes to a ``LogRecord`` costs more than the rest of the
    identity work.

    Names never collide: an extra field named like one of the formatter's own keys is
    written as ``extra.<name>``; an identity field named like an extra field of the record
    is written as ``podself.<name>``.

    Args:
        preset: ``"seed"``, ``"otel"``, ``"ecs"``, ``"gcp"`` or a ``Preset``.
        fields: more record attributes to write after the message: a list of names
            (``["name", "lineno"]``) or a mapping output key -> attribute
            (``{"logger": "name"}``).
        identity: ``None`` (only what a filter added), ``True`` or a ``PodIdentityFilter``.
        ensure_ascii: escape non-ASCII as ``\\uXXXX`` (default ``False``).
    """

    def __init__(
        self,
        *,
        preset: str | Preset = "seed",
        fields: Sequence[str] | Mapping[str, str] | None = None,
        identity: bool | PodIdentityFilter | None = None,
        labels: bool | Iterable[str] | str | None = None,
        annotations: bool | Iterable[str] | str | None = None,
        deny: Iterable[str] | str = (),
        unknown: str | None = UNKNOWN,
        ensure_ascii: bool = False,
    ) -> None:
        super().__init__()
        self.preset = chosen = get_preset(preset)
        if fields is None:
            pairs: tuple[tuple[str, str], ...] = ()
        elif isinstance(fields, Mapping):
            pairs = tuple(fields.items())
        elif isinstance(fields, str):
            pairs = ((fields, fields),)
        else:
            pairs = tuple((name, name) for name in fields)
        if identity is True:
            identity = PodIdentityFilter(
                preset=chosen, labels=labels, annotations=annotations, deny=deny, unknown=unknown
            )
        elif identity is False:
            identity = None
        elif identity is not None and not isinstance(identity, PodIdentityFilter):
            msg = f"identity {identity!r}: must be None, True or a PodIdentityFilter"
            raise TypeError(msg)
        self.identity_source: PodIdentityFilter | None = identity
        # allow_nan=False: NaN and Infinity are not JSON (Elasticsearch, jq, Loki reject the
        # line); such floats are written as strings instead.
        self._encode = encode = json.JSONEncoder(
            ensure_ascii=ensure_ascii, default=_default, allow_nan=False
        ).encode
        # The C string encoder json itself uses (encode() takes this path for a str too).
        self._encode_str = getattr(
            json.encoder, "encode_basestring_ascii" if ensure_ascii else "encode_basestring", encode
        )
        self._lower = chosen.level_lower
        self._own = frozenset((*chosen.output_keys(), *(key for key, _ in pairs)))
        # The line is assembled from pre-encoded pieces: the keys never change, and the
        # identity is encoded once per identity, not once per record.
        self._head_ts = "{" + encode(chosen.timestamp_key) + ': "'
        self._head_level = '", ' + encode(chosen.level_key) + ": "
        self._head_message = ", " + encode(chosen.message_key) + ": "
        self._constants = "".join(
            ", " + encode(key) + ": " + encode(value) for key, value in chosen.constants.items()
        )
        self._source_head = ", " + encode(chosen.source_key) + ": " if chosen.source_key else ""
        self._trace_keys = chosen.trace_keys
        self._project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        self._field_heads = tuple((", " + encode(key) + ": ", name) for key, name in pairs)
        self._levels: dict[str, str] = {}
        self._keys: dict[str, str] = {}
        self._ts_cache: tuple[int, str] = (-1, "")
        self._bare: _Prepared = (None, "", {}, self._own, _NOT_EXTRA)
        self._on_record: _Prepared = self._bare
        self._embedded: _Prepared = self._bare

    def _second(self, second: int) -> tuple[int, str]:
        # strftime once per second; the tuple swap is thread-safe.
        cache = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        self._ts_cache = cache
        return cache

    def _prepare(self, identity: object, on_record: bool) -> _Prepared:
        """(identity, its encoded ``, "k": v…`` fragment, its fields, keys the line holds
        before the extras, record attributes that are not extras)."""
        if not isinstance(identity, _Identity):
            return (identity, "", {}, self._own, _NOT_EXTRA)
        fields = identity.fields
        if not self._own.isdisjoint(fields):
            fields = rename_colliding(fields, self._own)
        fragment = ", " + self._encode(fields)[1:-1] if fields else ""
        skip = identity.skip if on_record else _NOT_EXTRA
        return (identity, fragment, fields, self._own | frozenset(fields), skip)

    def _key(self, key: str) -> str:
        head = self._keys.get(key)
        if head is None:
            if len(self._keys) > 4096:  # extras with ever-new names must not grow it forever
                self._keys.clear()
            head = self._keys[key] = ", " + self._encode_str(key) + ": "
        return head

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        attrs = record.__dict__
        encode_str = self._encode_str
        level = record.levelname
        level_json = self._levels.get(level)
        if level_json is None:
            level_json = self._levels[level] = encode_str(level.lower() if self._lower else level)
        second = int(record.created)
        ts = self._ts_cache
        if ts[0] != second:
            ts = self._second(second)
        parts = [
            self._head_ts,
            ts[1],
            _MILLIS[int(record.msecs) % 1000],
            self._head_level,
            level_json,
            self._head_message,
            encode_str(record.getMessage()),
            self._constants,
        ]
        if self._source_head:
            source = {"file": record.pathname, "line": str(record.lineno)}
            parts += (self._source_head, self._encode({**source, "function": record.funcName}))
        if self._trace_keys is not None:
            trace = trace_fields(self._trace_keys, self._project)
            if trace:
                parts += (", ", self._encode(trace)[1:-1])
        for head, name in self._field_heads:
            parts += (head, _encode_value(self._encode, attrs.get(name)))
        identity = attrs.get(_MARK)
        if identity is not None:  # a PodIdentityFilter put it on the record
            prepared = self._on_record
            if prepared[0] is not identity:
                prepared = self._on_record = self._prepare(identity, True)
        elif self.identity_source is not None:
            identity = self.identity_source._identity
            prepared = self._embedded
            if prepared[0] is not identity:
                prepared = self._embedded = self._prepare(identity, False)
        else:
            prepared = self._bare
        _, fragment, fields, taken, skip = prepared
        at = len(parts)
        parts.append(fragment)
        collided = False
        # LogRecord.__init__ sets its attributes first, so extras follow them; a record class
        # that sets attributes before that is scanned whole.
        keys: Iterable[str] = attrs
        if next(iter(attrs)) == "name":
            keys = islice(attrs, _N_STANDARD, None)
        for key in keys:
            if key in skip:
                continue
            value = attrs[key]
            cls = value.__class__
            if cls is str:
                text = encode_str(value)
            elif cls is int:
                text = int.__repr__(value)
            elif value is None:
                text = "null"
            elif cls is bool:
                text = "true" if value else "false"
            elif cls is float and value - value == 0:  # finite
                text = float.__repr__(value)
            else:
                text = _encode_value(self._encode, value)
            if key in taken:
                if key in fields:  # the record's own field keeps its name
                    collided = True
                else:  # an extra named like one of the formatter's keys
                    key = _free(key, taken)  # noqa: PLW2901
            parts += (self._key(key), text)
        if collided:
            extras = {key for key in attrs if key not in skip}
            renamed = rename_colliding(fields, self._own | extras)
            parts[at] = ", " + self._encode(renamed)[1:-1]
        if record.exc_info or record.exc_text or record.stack_info:
            # The preset's error keys are in self._own, so extras never hold them.
            errors = self._errors(record)
            if errors:
                parts += (", ", _encode_dict(self._encode, errors)[1:-1])
        parts.append("}")
        line = "".join(parts)
        if not line.isascii():  # O(1) for str; only non-ASCII lines pay the check below
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:
                line = _escape_surrogates(line)
        return line

    def _errors(self, record: logging.LogRecord) -> dict[str, object]:
        """Exception and stack fields of ``record`` under the preset's keys."""
        out: dict[str, object] = {}
        exc_type_name = exc_message = traceback = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, exc_value, _ = record.exc_info
            module = exc_type.__module__
            qualname = exc_type.__qualname__
            exc_type_name = qualname if module == "builtins" else f"{module}.{qualname}"
            exc_message = _default(exc_value) if exc_value is not None else ""
            if not record.exc_text:  # cached on the record like logging.Formatter does
                record.exc_text = self.formatException(record.exc_info)
            traceback = record.exc_text
        elif not record.exc_info:
            # Only the text (a record rebuilt by a SocketHandler receiver). exc_info=True with
            # no exception gives (None, None, None): other formatters then cache "NoneType:
            # None" as exc_text, which is not an exception.
            traceback = record.exc_text
        key = self.preset.exception_key
        if traceback:
            if isinstance(key, str):
                out[key] = {"type": exc_type_name, "message": exc_message, "traceback": traceback}
            else:
                type_key, message_key, trace_key = key
                if exc_type_name is not None:
                    out[type_key] = exc_type_name
                    out[message_key] = exc_message
                out[trace_key] = traceback
        if record.stack_info:
            out[self.preset.stack_key] = self.formatStack(record.stack_info)
        return out


def _escape_surrogates(line: str) -> str:
    """``line`` with lone surrogates (``os.fsdecode`` of non-UTF-8 bytes) as ``\\udcXX``
    escapes: they only occur inside JSON strings, and raw they cannot be written as UTF-8."""
    import re

    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", line)


_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


def _encode_value(encode: Any, value: object) -> str:
    try:
        return str(encode(value))
    except (TypeError, ValueError, RecursionError):
        return str(encode(repr(value)))


def _encode_dict(encode: Any, values: dict[str, object]) -> str:
    try:
        return str(encode(values))
    except (TypeError, ValueError, RecursionError):  # non-string keys, circular values…
        return str(encode({str(k): _safe(v) for k, v in values.items()}))


def _free(key: str, taken: frozenset[str]) -> str:
    """``key``, or ``extra.<key>`` (repeated) when the line already has it."""
    while key in taken:
        key = "extra." + key
    return key


def _safe(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    try:
        json.dumps(value, default=_default)
    except (TypeError, ValueError, RecursionError):
        return repr(value)
    return value


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler ``configure()`` installs; found and replaced by the next ``configure()``."""

    setup: LogSetup | None = None


@dataclass
class LogSetup:
    """What :func:`configure` installed: close it to undo (handler removed, follower stopped).

    ``filter`` holds the identity; the formatter reads it (it is not on the handler, see
    :class:`JsonFormatter`). Add it to other handlers whose formatters need the attributes.
    """

    logger: logging.Logger
    handler: logging.Handler
    filter: PodIdentityFilter
    formatter: JsonFormatter
    level: int
    level_source: str
    follower: Any = None  # a podself.logs.live.LevelFollower when live levels are on
    loggers: tuple[logging.Logger, ...] = field(default=())

    def close(self) -> None:
        """Stop following the level and remove the handler (idempotent)."""
        if self.follower is not None:
            self.follower.stop()
            self.follower = None
        if self.handler in self.logger.handlers:
            self.logger.removeHandler(self.handler)
        self.handler.close()


def configure(
    level: int | str | None = None,
    *,
    preset: str | Preset = "seed",
    stream: IO[str] | None = None,
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    unknown: str | None = UNKNOWN,
    fields: Sequence[str] | Mapping[str, str] | None = None,
    live: bool | None = None,
    podinfo_dir: str | os.PathLike[str] | None = None,
    level_key: str = "log-level",
    logger: str = "",
    level_loggers: Iterable[str] = (),
    info: PodInfo | None = None,
    force: bool = False,
    poll_ms: int = 1000,
) -> LogSetup:
    """Log JSON lines with pod identity to stdout: the one-line setup.

    Installs a ``StreamHandler`` with a :class:`PodIdentityFilter` and a
    :class:`JsonFormatter` on ``logger`` (default the root logger), replacing the one an
    earlier ``configure()`` installed; ``force=True`` removes every other handler there too.

    Level: the pod's ``level_key`` annotation, else its label, overrides the base level; the
    base is ``level``, else ``$LOG_LEVEL``, else ``INFO``. It is set on ``logger`` and on
    ``level_loggers``. Names (``debug``, ``WARNING``) and numbers are accepted; a bad value is
    reported and ignored.

    Live: with a Downward API volume holding ``labels``/``annotations`` (``podinfo_dir``,
    else the directory ``info`` read them from), a change of the level label or annotation
    changes the level at run time and logs one line saying so; the identity fields follow
    label changes too. ``live=None`` follows when such a volume exists, ``True`` also warns
    when it does not, ``False`` never follows.

    Never raises for what it finds in the pod; bad arguments raise ``ValueError``.
    """
    from podself.logs import live as _live  # lazily: the follower costs threads and I/O

    if info is None:
        info = _current()
    filt = PodIdentityFilter(
        info=info,
        preset=preset,
        labels=labels,
        annotations=annotations,
        deny=deny,
        unknown=unknown,
    )
    # The formatter reads the filter's identity directly instead of the filter adding it to
    # each record: same output, less than half the per-record cost (see the class docs).
    formatter = JsonFormatter(preset=preset, fields=fields, identity=filt)
    base_level, base_source, base_warning = _live.base_level(level, os.environ)
    target = logging.getLogger(logger or None)
    for old in list(target.handlers):
        if isinstance(old, _Handler) or force:
            if isinstance(old, _Handler) and old.setup is not None:
                old.setup.close()
            else:
                target.removeHandler(old)
    handler = _Handler(stream if stream is not None else sys.stdout)
    handler.setFormatter(formatter)
    target.addHandler(handler)
    managed = (target, *(logging.getLogger(name) for name in level_loggers))

    directory = os.fspath(podinfo_dir) if podinfo_dir is not None else _podinfo_dir_of(info)
    override = _live.pod_override(
        info.labels,
        info.annotations,
        level_key,
        _origin(info, "labels"),
        _origin(info, "annotations"),
    )
    effective, source = base_level, base_source
    if override is not None:
        raw, where = override
        parsed = _live.parse_level(raw)
        if parsed is None:
            _live.announce(
                target,
                logging.WARNING,
                f"log level {raw!r} from {where}: {_live.LEVEL_RULE}; using "
                f"{_live.level_name(base_level)} ({base_source})",
            )
        else:
            effective, source = parsed, where
    for each in managed:
        each.setLevel(effective)
    if base_warning:
        _live.announce(target, logging.WARNING, base_warning)
    setup = LogSetup(
        logger=target,
        handler=handler,
        filter=filt,
        formatter=formatter,
        level=effective,
        level_source=source,
        loggers=managed,
    )
    handler.setup = setup
    if live is not False:
        if directory is not None and os.path.isdir(directory):
            follower = _live.LevelFollower(
                directory,
                loggers=managed,
                key=level_key,
                base_level=base_level,
                base_source=base_source,
                level=effective,
                source=source,
                filters=(filt,),
                info=info,
                poll_ms=poll_ms,
            )
            setup.follower = follower.start()
        elif live:
            _live.announce(
                target,
                logging.WARNING,
                "live log level: no Downward API volume with labels or annotations "
                f"({directory or 'none found; pass podinfo_dir'}); the level will not follow "
                f"the pod's {level_key!r} label or annotation",
            )
    return setup


def _podinfo_dir_of(info: PodInfo) -> str | None:
    """The Downward API directory ``info`` read its labels or annotations from."""
    for attribute in ("labels", "annotations"):
        source = info.source_of(attribute)
        if source.kind == Source.DOWNWARD and source.origin:
            return os.path.dirname(source.origin)
    return None


def _origin(info: PodInfo, attribute: str) -> str:
    source = info.source_of(attribute)
    return source.origin if source.kind != Source.UNKNOWN and source.origin else attribute


def follow_level(
    loggers: Iterable[str | logging.Logger] = ("",),
    *,
    path: str | os.PathLike[str] | None = None,
    key: str = "log-level",
    level: int | str | None = None,
    info: PodInfo | None = None,
    poll_ms: int = 1000,
) -> LevelFollower | None:
    """Follow the pod's level label/annotation for loggers set up some other way (dictConfig).

    ``path`` defaults to the Downward API directory ``info`` (default ``podself.current()``)
    read its labels or annotations from; ``None`` is returned when there is none. The base
    level is ``level``, else ``$LOG_LEVEL``, else the first logger's current level. Every
    ``PodIdentityFilter`` on the loggers' handlers, or given to their ``JsonFormatter``, is
    kept up to date.
    """
    from podself.logs.live import LevelFollower, announce, base_level

    if info is None:
        info = _current()
    directory = os.fspath(path) if path is not None else _podinfo_dir_of(info)
    if directory is None or not os.path.isdir(directory):
        return None
    chosen = tuple(
        logging.getLogger(each or None) if isinstance(each, str) else each for each in loggers
    )
    if level is None and "LOG_LEVEL" not in os.environ and chosen:
        base, source = chosen[0].getEffectiveLevel(), "configured level"
    else:
        base, source, warning = base_level(level, os.environ)
        if warning and chosen:
            announce(chosen[0], logging.WARNING, warning)
    filters: list[Any] = []
    for each in chosen:
        for handler in each.handlers:
            found = [f for f in handler.filters if isinstance(f, PodIdentityFilter)]
            embedded = getattr(handler.formatter, "identity_source", None)
            if isinstance(embedded, PodIdentityFilter):
                found.append(embedded)
            filters += [f for f in found if all(f is not g for g in filters)]
    follower = LevelFollower(
        directory,
        loggers=chosen,
        key=key,
        base_level=base,
        base_source=source,
        level=chosen[0].getEffectiveLevel() if chosen else None,
        filters=filters,
        info=info,
        poll_ms=poll_ms,
    )
    return follower.start()

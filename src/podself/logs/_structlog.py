"""structlog integration: a processor that adds pod identity, and a processor chain that renders
the seed's JSON line. structlog itself is imported only by ``structlog_processors()``."""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any

from podself.logs.fields import (
    UNKNOWN,
    Preset,
    get_preset,
    identity_fields,
    rename_colliding,
    trace_fields,
)
from podself.pod import PodInfo

__all__ = ["PodIdentityProcessor", "add_pod_identity", "structlog_processors"]

EventDict = MutableMapping[str, Any]


class PodIdentityProcessor:
    """A structlog processor adding pod identity to each event dict.

    The fields are computed once (and on :meth:`update`). Keys the event already has win:
    a colliding identity field is added as ``podself.<key>``.

    Args:
        info: the ``PodInfo`` (default ``podself.current()``).
        preset, labels, annotations, deny, unknown: as for
            :func:`podself.logs.fields.identity_fields`.
    """

    def __init__(
        self,
        info: PodInfo | None = None,
        *,
        preset: str | Preset = "seed",
        labels: bool | Iterable[str] | str | None = None,
        annotations: bool | Iterable[str] | str | None = None,
        deny: Iterable[str] | str = (),
        unknown: str | None = UNKNOWN,
    ) -> None:
        self.preset = get_preset(preset)
        self._options: dict[str, Any] = {
            "preset": self.preset,
            "labels": labels if isinstance(labels, bool | str | None) else tuple(labels),
            "annotations": (
                annotations if isinstance(annotations, bool | str | None) else tuple(annotations)
            ),
            "deny": deny if isinstance(deny, str) else tuple(deny),
            "unknown": unknown,
        }
        if info is None:
            import podself

            info = podself.current()
        self.info = info
        self.fields: dict[str, object] = identity_fields(info, **self._options)

    def update(self, info: PodInfo | None = None) -> None:
        """Recompute the fields from ``info`` (default: re-read ``self.info``)."""
        new_info = info if info is not None else self.info.refreshed()
        self.fields = identity_fields(new_info, **self._options)
        self.info = new_info

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        """Add the identity fields to ``event_dict`` and return it."""
        fields = self.fields
        if fields.keys().isdisjoint(event_dict):
            event_dict.update(fields)
        else:
            event_dict.update(rename_colliding(fields, event_dict))
        return event_dict


_DEFAULT: PodIdentityProcessor | None = None


def add_pod_identity(logger: object, method_name: str, event_dict: EventDict) -> EventDict:
    """structlog processor: the seed's ``pod``, ``namespace``, ``node`` from
    ``podself.current()``, computed on first use."""
    global _DEFAULT
    processor = _DEFAULT
    if processor is None:
        processor = _DEFAULT = PodIdentityProcessor()
    return processor(logger, method_name, event_dict)


class _MoveReserved:
    """Renames event keys the preset's own processors will write (``timestamp``, ``level``…)
    to ``extra.<key>``, before structlog's processors write them: nothing is overwritten."""

    def __init__(self, preset: Preset) -> None:
        # add_log_level always writes "level", whatever the preset calls it in the end.
        self._own = frozenset({*preset.output_keys(), "level"})

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        if self._own.isdisjoint(event_dict):
            return event_dict
        out: EventDict = {}
        for key, value in event_dict.items():
            new = key
            while new in self._own or (new != key and new in event_dict):
                new = "extra." + new
            out[new] = value
        return out


def _exception_fields(exc_info: Any) -> dict[str, str]:
    """``ExceptionRenderer``'s transformer for the text form: type, message and traceback,
    as the stdlib formatter writes them."""
    exc_type, exc_value, tb = exc_info
    module, qualname = exc_type.__module__, exc_type.__qualname__
    return {
        "type": qualname if module == "builtins" else f"{module}.{qualname}",
        "message": str(exc_value),
        "traceback": "".join(traceback.format_exception(exc_type, exc_value, tb)).rstrip("\n"),
    }


class _Shape:
    """Orders what structlog's processors produced into the JSON formatter's shape:
    timestamp, level, message, constants, the active span's trace (presets with trace keys),
    identity, the event's own keys, then the exception and stack under the preset's keys."""

    def __init__(self, identity: PodIdentityProcessor) -> None:
        self.identity = identity
        preset = identity.preset
        self._preset = preset
        self._own = frozenset(preset.output_keys())
        self._project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        preset = self._preset
        level = str(event_dict.pop("level", method_name))
        exception = event_dict.pop("exception", None)
        stack = event_dict.pop("stack", None)
        out: dict[str, Any] = {
            preset.timestamp_key: event_dict.pop(preset.timestamp_key, None),
            preset.level_key: level.lower() if preset.level_lower else level.upper(),
            preset.message_key: event_dict.pop(preset.message_key, ""),
            **preset.constants,
        }
        if preset.trace_keys is not None:
            out.update(trace_fields(preset.trace_keys, self._project))
        fields = self.identity.fields
        if fields.keys().isdisjoint(out) and fields.keys().isdisjoint(event_dict):
            out.update(fields)  # the usual case: no key set built per record
        else:
            out.update(rename_colliding(fields, {*out, *event_dict}))
        for key, value in event_dict.items():
            new = key
            while new in out or new in self._own:
                new = "extra." + new
            out[new] = value
        if exception is not None:
            self._add_exception(out, exception)
        if stack is not None:
            out[preset.stack_key] = stack
        return out

    def _add_exception(self, out: dict[str, Any], exception: Any) -> None:
        key = self._preset.exception_key
        if isinstance(exception, list) and exception and isinstance(exception[0], dict):
            # dict_tracebacks: a list of stacks, the logged exception first
            first = exception[0]
            fields = {"type": first.get("exc_type"), "message": first.get("exc_value")}
            fields["traceback"] = exception
        elif isinstance(exception, dict):
            fields = exception
        else:  # a renderer of your own put text there
            fields = {"type": None, "message": None, "traceback": exception}
        if isinstance(key, str):
            out[key] = fields
        else:
            out[key[0]], out[key[1]], out[key[2]] = (
                fields["type"],
                fields["message"],
                fields["traceback"],
            )


def structlog_processors(
    info: PodInfo | None = None,
    *,
    preset: str | Preset = "seed",
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    unknown: str | None = UNKNOWN,
    renderer: bool = True,
    tracebacks: str = "text",
) -> list[Any]:
    """A structlog processor chain rendering the same JSON line as ``JsonFormatter``.

    Built from structlog's own processors: ``merge_contextvars``, ``add_log_level``,
    ``StackInfoRenderer``, ``TimeStamper`` (ISO-8601, UTC, microseconds), ``EventRenamer``
    (to the preset's message key) and ``ExceptionRenderer``, then podself's identity and
    shape, then ``JSONRenderer``. Event keys named like the preset's own keys are kept as
    ``extra.<key>``. ``tracebacks="text"`` writes the exception as the stdlib formatter does
    (type, message, Python's traceback text); ``"dict"`` uses structlog's ``dict_tracebacks``
    (the traceback as a list of structured stacks). With ``renderer=False`` the last
    processor is left out so you can add your own. The identity processor is
    ``chain[-2].identity`` (``chain[-1]`` without the renderer): give it to
    ``LevelFollower(filters=...)`` to follow label changes. Needs structlog.
    """
    import json

    import structlog  # optional dependency

    if tracebacks not in ("text", "dict"):
        msg = f'tracebacks "{tracebacks}": must be "text" or "dict"'
        raise ValueError(msg)
    identity = PodIdentityProcessor(
        info, preset=preset, labels=labels, annotations=annotations, deny=deny, unknown=unknown
    )
    chosen = identity.preset
    processors = structlog.processors
    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _MoveReserved(chosen),
        processors.add_log_level,
        processors.StackInfoRenderer(),
        processors.TimeStamper(fmt="iso", utc=True, key=chosen.timestamp_key),
        processors.EventRenamer(chosen.message_key),
        processors.dict_tracebacks
        if tracebacks == "dict"
        else processors.ExceptionRenderer(_exception_fields),
        _Shape(identity),
    ]
    if renderer:
        # One encoder for every record: json.dumps with options builds a new one per call.
        encode = json.JSONEncoder(ensure_ascii=False, default=str).encode

        def serialize(obj: Any, **_: Any) -> str:
            return encode(obj)

        chain.append(processors.JSONRenderer(serializer=serialize))
    return chain

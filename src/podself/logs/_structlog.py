"""structlog integration: a processor that adds pod identity, and a processor chain that renders
the seed's JSON line. structlog itself is imported only by ``structlog_processors()``."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Iterable, MutableMapping
from typing import Any

from podself.logs.fields import UNKNOWN, Preset, get_preset, identity_fields, rename_colliding
from podself.pod import PodInfo

__all__ = ["PodIdentityProcessor", "add_pod_identity", "structlog_processors"]

EventDict = MutableMapping[str, Any]

# structlog method names -> level names (as structlog.processors.add_log_level maps them).
_METHOD_LEVELS = {"warn": "warning", "exception": "error", "msg": "info", "fatal": "critical"}


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


class _SeedShape:
    """Reorders an event dict into the JSON formatter's shape: timestamp, level, message,
    identity, the event's own keys, then exception and stack."""

    def __init__(self, identity: PodIdentityProcessor) -> None:
        self.identity = identity
        preset = identity.preset
        self._ts_key = preset.timestamp_key
        self._level_key = preset.level_key
        self._lower = preset.level_lower
        self._message_key = preset.message_key
        self._own = frozenset(preset.output_keys())

    def __call__(self, logger: object, method_name: str, event_dict: EventDict) -> EventDict:
        now = time.time()
        level = _METHOD_LEVELS.get(method_name, method_name)
        level = event_dict.pop("level", level)
        exc_info = event_dict.pop("exc_info", None)
        stack = event_dict.pop("stack", None)
        out: dict[str, Any] = {
            self._ts_key: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
            + f".{int(now % 1 * 1000):03d}Z",
            self._level_key: str(level).lower() if self._lower else str(level).upper(),
            self._message_key: event_dict.pop("event", ""),
        }
        out.update(rename_colliding(self.identity.fields, {*out, *event_dict}))
        for key, value in event_dict.items():
            new = key
            while new in out or new in self._own:
                new = "extra." + new
            out[new] = value
        self._add_errors(out, exc_info, stack, method_name)
        return out

    def _add_errors(
        self, out: dict[str, Any], exc_info: object, stack: object, method_name: str
    ) -> None:
        if exc_info is None and method_name == "exception":
            exc_info = True
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        preset = self.identity.preset
        if isinstance(exc_info, tuple) and len(exc_info) == 3 and exc_info[0] is not None:
            exc_type, exc_value, tb = exc_info
            module, qualname = exc_type.__module__, exc_type.__qualname__
            type_name = qualname if module == "builtins" else f"{module}.{qualname}"
            text = "".join(traceback.format_exception(exc_type, exc_value, tb)).rstrip("\n")
            key = preset.exception_key
            if isinstance(key, str):
                out[key] = {"type": type_name, "message": str(exc_value), "traceback": text}
            else:
                out[key[0]], out[key[1]], out[key[2]] = type_name, str(exc_value), text
        if stack is not None:
            out[preset.stack_key] = stack


def structlog_processors(
    info: PodInfo | None = None,
    *,
    preset: str | Preset = "seed",
    labels: bool | Iterable[str] | str | None = None,
    annotations: bool | Iterable[str] | str | None = None,
    deny: Iterable[str] | str = (),
    unknown: str | None = UNKNOWN,
    renderer: bool = True,
) -> list[Any]:
    """A structlog processor chain rendering the same JSON line as ``JsonFormatter``.

    ``[merge_contextvars, StackInfoRenderer(), <shape with identity>, JSONRenderer]``; with
    ``renderer=False`` the last one is left out so you can add your own. The identity
    processor is ``chain[2].identity`` (give it to ``LevelFollower(filters=...)`` to follow
    label changes). Needs structlog.
    """
    import json

    import structlog  # optional dependency

    identity = PodIdentityProcessor(
        info, preset=preset, labels=labels, annotations=annotations, deny=deny, unknown=unknown
    )
    chain: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.StackInfoRenderer(),
        _SeedShape(identity),
    ]
    if renderer:
        chain.append(
            structlog.processors.JSONRenderer(
                serializer=json.dumps, ensure_ascii=False, default=str
            )
        )
    return chain

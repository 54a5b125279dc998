"""What the integrations share to follow an in-place resize: how often to re-read the pod."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["INTERVAL_ENV", "interval_s"]

INTERVAL_ENV = "PODSELF_RESIZE_INTERVAL"
DEFAULT_INTERVAL_S = 30.0
# Re-reading the pod costs a few file reads: more than 10 a second is waste, and a resize
# noticed after more than an hour is not followed at all.
_MIN_S = 0.1
_MAX_S = 3600.0


def interval_s(environ: Mapping[str, str] | None = None) -> float:
    """Seconds between re-reads: ``$PODSELF_RESIZE_INTERVAL`` (0.1 to 3600), else 30.

    A value outside that range or not a number is logged and the default used.
    """
    env = os.environ if environ is None else environ
    raw = env.get(INTERVAL_ENV, "").strip()
    if not raw:
        return DEFAULT_INTERVAL_S
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if _MIN_S <= value <= _MAX_S:  # also False for nan
        return value
    import logging  # only to warn

    shown = raw if len(raw) <= 40 else raw[:37] + "..."
    logging.getLogger("podself").warning(
        'env %s="%s": must be a number of seconds from %g to %g; using %g',
        INTERVAL_ENV,
        shown,
        _MIN_S,
        _MAX_S,
        DEFAULT_INTERVAL_S,
    )
    return DEFAULT_INTERVAL_S

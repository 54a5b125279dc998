"""uvicorn sized for this pod: ``run("app:app")`` or ``workers()`` for your own call.

uvicorn's command line already reads ``WEB_CONCURRENCY`` for ``--workers``, so
``podself exec -- uvicorn app:app`` needs nothing else; these helpers cover
``uvicorn.run(...)`` from code.
"""

from __future__ import annotations

import os
from typing import Any

from podself.tuning import Plan, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["config", "run", "workers"]


def workers(current: Plan | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Worker processes: ``WEB_CONCURRENCY`` if it is a positive integer, else the plan's."""
    env = os.environ if environ is None else environ
    raw = env.get("WEB_CONCURRENCY", "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return (current if current is not None else plan()).workers


def config(current: Plan | None = None, environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Keyword arguments for ``uvicorn.run``: ``{"workers": n}``."""
    return {"workers": workers(current, environ)}


def run(app: str, **kwargs: Any) -> None:
    """``uvicorn.run(app, workers=<plan>, **kwargs)``; ``app`` must be an import string
    (``"module:attr"``) when there is more than one worker. Explicit ``workers=`` wins.
    """
    import uvicorn  # type: ignore[import-not-found,unused-ignore]  # optional

    kwargs.setdefault("workers", workers())
    uvicorn.run(app, **kwargs)

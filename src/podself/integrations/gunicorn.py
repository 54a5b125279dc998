"""gunicorn settings sized for this pod; made to be star-imported from ``gunicorn.conf.py``.

::

    # gunicorn.conf.py
    from podself.integrations.gunicorn import *  # workers, threads

The star import brings exactly gunicorn's ``workers`` and ``threads`` settings, computed once
when gunicorn loads the file. ``WEB_CONCURRENCY`` wins when set (gunicorn's own default reads it,
and ``podself exec`` sets it from the same plan), and ``PODSELF_*`` env knobs apply
(e.g. ``PODSELF_WORKER_MEMORY_MB=150`` caps workers by memory).
"""

from __future__ import annotations

import os

from podself.tuning import Plan, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["threads", "workers"]


def settings(
    current: Plan | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, int]:
    """gunicorn's ``workers`` and ``threads`` for ``current`` (default: a fresh plan).

    ``WEB_CONCURRENCY`` (a positive integer) overrides ``workers``, as in gunicorn itself.
    With ``threads`` above 1 gunicorn switches the sync worker to ``gthread`` by itself.
    """
    env = os.environ if environ is None else environ
    chosen = current if current is not None else plan()
    result = {"workers": chosen.workers, "threads": chosen.threads}
    raw = env.get("WEB_CONCURRENCY", "").strip()
    if raw:
        if raw.isascii() and raw.isdigit() and int(raw) > 0:
            result["workers"] = int(raw)
        else:
            import logging  # only to warn

            logging.getLogger("podself").warning(
                'env WEB_CONCURRENCY="%s": not a positive integer; using workers=%d from the plan',
                raw,
                chosen.workers,
            )
    return result


def describe(current: Plan | None = None) -> str:
    """The plan's reasons for ``workers`` and ``threads``, e.g. for an ``on_starting`` hook."""
    chosen = current if current is not None else current_plan
    return "; ".join(chosen.reasons[name] for name in ("workers", "threads"))


current_plan: Plan = plan()
_settings = settings(current_plan)
workers: int = _settings["workers"]
threads: int = _settings["threads"]

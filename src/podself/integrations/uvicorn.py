"""uvicorn sized for this pod: ``run("app:app")`` or ``workers()`` for your own call.

uvicorn's command line already reads ``WEB_CONCURRENCY`` for ``--workers``, so
``podself exec -- uvicorn app:app`` needs nothing else, but it is sized once, at start: the
command line has no hook that could follow an in-place resize. ``run()`` does follow one when
uvicorn runs its multiprocess supervisor (2 workers or more at start): it re-reads the pod
every ``$PODSELF_RESIZE_INTERVAL`` seconds and sends the supervisor ``SIGTTIN``/``SIGTTOU``
(uvicorn 0.30 and later add or retire one worker for each) until it runs the plan's number.
"""

from __future__ import annotations

import os
from typing import Any

from podself.integrations._resize import interval_s
from podself.tuning import Plan, PlanWatcher, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["config", "run", "workers"]

# Between two signals of one kind: time for the supervisor's handler to run, so the kernel
# does not merge them into one.
_SIGNAL_GAP_S = 0.1


def _pinned(environ: Mapping[str, str]) -> int | None:
    raw = environ.get("WEB_CONCURRENCY", "").strip()
    if raw.isascii() and raw.isdigit() and int(raw) > 0:
        return int(raw)
    return None


def workers(current: Plan | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Worker processes: ``WEB_CONCURRENCY`` if it is a positive integer, else the plan's."""
    pinned = _pinned(os.environ if environ is None else environ)
    if pinned is not None:
        return pinned
    return (current if current is not None else plan()).workers


def config(current: Plan | None = None, environ: Mapping[str, str] | None = None) -> dict[str, int]:
    """Keyword arguments for ``uvicorn.run``: ``{"workers": n}``."""
    return {"workers": workers(current, environ)}


class _Resizer:
    """Sends this process (uvicorn's supervisor) one TTIN/TTOU per worker to add or retire.

    The supervisor does not say how many workers it runs: the count is the one started with,
    plus or minus the signals sent. A signal sent before uvicorn handles it would stop the
    process (SIGTTIN's default action), so none is sent until its handler is installed.
    """

    def __init__(self, count: int) -> None:
        self.count = count

    def __call__(self, new: Plan, old: Plan) -> None:
        import logging
        import signal
        import time

        logger = logging.getLogger("uvicorn.error")  # with the supervisor's own lines
        if self.count == new.workers:
            return
        handled = all(
            signal.getsignal(s) not in (signal.SIG_DFL, signal.SIG_IGN, None)
            for s in (signal.SIGTTIN, signal.SIGTTOU)
        )
        if not handled:
            logger.warning(
                "uvicorn: resize to %d workers not applied: its supervisor does not handle "
                "SIGTTIN/SIGTTOU (not started yet, or --reload)",
                new.workers,
            )
            return
        logger.info(
            "uvicorn: resize to %d workers (was %d): %s",
            new.workers,
            self.count,
            new.reasons["workers"],
        )
        while self.count != new.workers:
            grow = self.count < new.workers
            os.kill(os.getpid(), signal.SIGTTIN if grow else signal.SIGTTOU)
            self.count += 1 if grow else -1
            time.sleep(_SIGNAL_GAP_S)


def run(app: str, **kwargs: Any) -> None:
    """``uvicorn.run(app, workers=<plan>, **kwargs)``; ``app`` must be an import string
    (``"module:attr"``) when there is more than one worker.

    An explicit ``workers=`` wins and is kept, and so does a ``WEB_CONCURRENCY`` other than
    the plan's (``podself exec`` sets it to the plan's). Otherwise, with 2 workers or more
    (uvicorn runs one process without its supervisor) and without ``reload``, in-place
    resizes are followed while uvicorn runs.
    """
    import uvicorn  # type: ignore[import-not-found,unused-ignore]  # optional

    chosen = plan()
    pinned = _pinned(os.environ)
    follow = "workers" not in kwargs and pinned in (None, chosen.workers)
    kwargs.setdefault("workers", workers(chosen))
    watcher: PlanWatcher | None = None
    if follow and kwargs["workers"] > 1 and not kwargs.get("reload"):
        watcher = PlanWatcher(_Resizer(kwargs["workers"]), interval_s=interval_s())
        watcher.plan = chosen  # a resize since uvicorn was sized is applied at the first check
        watcher.start()
    try:
        uvicorn.run(app, **kwargs)
    finally:
        if watcher is not None:
            watcher.stop()

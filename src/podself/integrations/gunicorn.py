"""gunicorn sized for this pod, following in-place resizes; made to be star-imported from
``gunicorn.conf.py``.

::

    # gunicorn.conf.py
    from podself.integrations.gunicorn import *  # workers, threads and three hooks

The star import brings gunicorn's ``workers`` and ``threads`` settings, computed when gunicorn
loads the file, and three server hooks:

- ``when_ready`` (in the arbiter) re-reads the pod every ``$PODSELF_RESIZE_INTERVAL`` seconds
  (default 30) and, when an in-place resize changes the plan's workers, sends the arbiter
  ``SIGTTIN``/``SIGTTOU`` one at a time until it runs that many: no restart, the arbiter keeps
  its pid. It does so only while gunicorn runs the plan's number: a count set anywhere else
  (``-w``, ``GUNICORN_CMD_ARGS``, ``WEB_CONCURRENCY``, a later ``workers =``) wins and is kept.
- ``pre_fork`` (in the arbiter) and ``post_fork`` (in each worker) give the worker its identity:
  an index unique among the live workers (``PODSELF_WORKER_INDEX`` in its environment,
  ``podself.worker`` on its log records) besides its pid.

Your own hooks of the same names replace these: call ours from yours (see
``docs/integrations.md``). ``when_ready`` also runs podself's ``pre_fork`` and ``post_fork``
when your config replaced them. ``WEB_CONCURRENCY`` wins for ``workers`` (gunicorn's own default
reads it, and ``podself exec`` sets it from the same plan); ``PODSELF_*`` knobs apply
(e.g. ``PODSELF_WORKER_MEMORY_MB=150`` caps workers by memory).
"""

from __future__ import annotations

import os

from podself.integrations._resize import interval_s
from podself.tuning import Plan, PlanWatcher, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["post_fork", "pre_fork", "threads", "when_ready", "workers"]

INDEX_ENV = "PODSELF_WORKER_INDEX"
LOG_FIELD = "podself.worker"
# Set on gunicorn's worker objects in the arbiter (before the fork), read in the worker.
_INDEX_ATTR = "podself_index"
# The process whose index post_fork published (a worker's own pid once it ran there).
_published_pid: int | None = None
# How long the arbiter may take to act on one TTIN/TTOU (its loop wakes at least every second).
_STEP_TIMEOUT_S = 10.0


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


# -- hooks ----------------------------------------------------------------------------------


def worker_index(worker: object) -> int | None:
    """The index podself's ``pre_fork`` gave this gunicorn worker, or ``None`` without it."""
    index = getattr(worker, _INDEX_ATTR, None)
    return index if isinstance(index, int) else None


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in the new worker: publish its index (``PODSELF_WORKER_INDEX``, and
    ``podself.worker`` on every log record of the process). Runs once per worker however
    often it is called; without podself's ``pre_fork`` there is no index and it does nothing.
    """
    global _published_pid
    index = worker_index(worker)
    if index is None or _published_pid == os.getpid():
        return
    _published_pid = os.getpid()
    os.environ[INDEX_ENV] = str(index)
    import logging  # the worker's records carry its index from here on

    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.__dict__[LOG_FIELD] = index
        return record

    logging.setLogRecordFactory(factory)


def _chain(server: Any, name: str, ours: Callable[[Any, Any], None]) -> None:
    """Make gunicorn's ``name`` hook run ``ours`` first, unless it is ours already."""
    setting = server.cfg.settings[name]
    theirs = setting.get()
    if theirs is ours or getattr(theirs, "__wrapped__", None) is ours:
        return

    def both(server: Any, worker: Any) -> None:
        ours(server, worker)
        theirs(server, worker)

    both.__wrapped__ = ours  # type: ignore[attr-defined]
    setting.set(both)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in the arbiter before each fork: give the worker the lowest index no
    live worker holds."""
    used = {worker_index(w) for w in server.WORKERS.values()}
    index = 0
    while index in used:
        index += 1
    setattr(worker, _INDEX_ATTR, index)


class _Resizer:
    """Brings the arbiter's worker count to the plan's, one TTIN/TTOU at a time (signals of one
    kind sent together may merge into one)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def __call__(self, new: Plan, old: Plan) -> None:
        global current_plan, workers, threads
        # A reload (SIGHUP) re-runs the config file: its star import must see the new plan.
        current_plan, workers, threads = new, new.workers, new.threads
        if new.workers != old.workers:
            self.server.log.info(
                "podself: resize to %d workers (was %d): %s",
                new.workers,
                old.workers,
                new.reasons["workers"],
            )
        self.apply(new.workers)

    def apply(self, target: int) -> None:
        import signal
        import time

        server = self.server
        while (have := server.num_workers) != target:
            os.kill(server.pid, signal.SIGTTIN if have < target else signal.SIGTTOU)
            deadline = time.monotonic() + _STEP_TIMEOUT_S
            while server.num_workers == have:
                if time.monotonic() > deadline:
                    server.log.warning(
                        "podself: the arbiter did not act on a worker count change within "
                        "%gs; staying at %d workers (plan: %d)",
                        _STEP_TIMEOUT_S,
                        have,
                        target,
                    )
                    return
                time.sleep(0.02)


def _install(server: Any) -> None:
    _chain(server, "pre_fork", pre_fork)
    _chain(server, "post_fork", post_fork)


class _ArbiterWatcher(PlanWatcher):
    """A plan watcher that also re-installs the worker hooks: a reload (SIGHUP) replaces
    gunicorn's settings with the config file's."""

    def __init__(self, server: Any) -> None:
        self.server = server
        super().__init__(_Resizer(server), interval_s=interval_s())

    def check(self) -> Plan | None:
        _install(self.server)
        return super().check()


def when_ready(server: Any) -> None:
    """gunicorn hook, in the arbiter: number the workers, make sure podself's ``post_fork``
    runs in each, and follow in-place resizes while gunicorn runs the plan's worker count.
    """
    _install(server)
    configured = server.cfg.workers
    if configured != current_plan.workers:
        server.log.info(
            "podself: %d workers set outside the plan (which says %d); in-place resizes "
            "will not change them",
            configured,
            current_plan.workers,
        )
        return
    watcher = _ArbiterWatcher(server)
    # A resize between reading the config and now is applied by the first re-read, from the
    # watcher's thread: this one must return for the arbiter to handle the signals.
    watcher.plan = current_plan
    server.podself_watcher = watcher
    watcher.start()
    server.log.info(
        "podself: following in-place resizes every %gs (%s)",
        watcher.interval_s,
        current_plan.reasons["workers"],
    )


current_plan: Plan = plan()
_settings = settings(current_plan)
workers: int = _settings["workers"]
threads: int = _settings["threads"]

"""Celery workers sized for this pod, following in-place resizes with the prefork pool.

::

    # tasks.py (the module ``celery -A tasks worker`` loads)
    from celery import Celery
    import podself.integrations.celery

    app = Celery("tasks")
    podself.integrations.celery.install(app)

``install(app)`` sets ``worker_concurrency`` when the worker starts, for the pool it really
runs: the plan's ``workers`` for prefork (processes, capped by memory: a prefork child holds
100-170 MiB), ``min(32, cpus + 4)`` for threads (CPython's own rule for I/O threads, with the
pod's CPUs). ``-c``/``--concurrency`` and a ``worker_concurrency`` of your own win. With
prefork it then re-reads the pod every ``$PODSELF_RESIZE_INTERVAL`` seconds and grows or
shrinks the pool as Celery's ``pool_grow``/``pool_shrink`` remote commands do (shrinking needs
the event loop Celery runs with brokers such as Redis and RabbitMQ). ``config()`` is
the same number as settings, for ``app.conf.update(...)``, without following resizes.
"""

from __future__ import annotations

import logging

from podself.integrations._resize import interval_s
from podself.integrations.pools import thread_pool_size
from podself.tuning import Plan, PlanWatcher, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["concurrency", "config", "install", "pool_kind"]

_SIZED = ("prefork", "threads")
# Aliases Celery accepts for its pools (celery.concurrency.ALIASES), by what they run.
_KINDS = {"prefork": "prefork", "processes": "prefork", "threads": "threads"}
# A re-read and one pool change; the worker's shutdown should not wait longer for them.
_STOP_TIMEOUT_S = 5.0
logger = logging.getLogger("podself")


def pool_kind(pool: object) -> str:
    """``"prefork"``, ``"threads"`` or another name for a Celery pool given as an alias,
    a ``"module:Class"`` path or the class (what the worker's command line passes)."""
    if isinstance(pool, type):
        from celery.concurrency import prefork, thread  # type: ignore[import-untyped,unused-ignore]

        if issubclass(pool, prefork.TaskPool):
            return "prefork"
        if issubclass(pool, thread.TaskPool):
            return "threads"
        return f"{pool.__module__}:{pool.__qualname__}"
    name = str(pool)
    return _KINDS.get(name, name)


def concurrency(pool: object = "prefork", current: Plan | None = None) -> int | None:
    """The plan's ``worker_concurrency`` for ``pool``, or ``None`` for a pool podself does not
    size (solo is one; gevent and eventlet run hundreds of green threads by design)."""
    kind = pool_kind(pool)
    if kind not in _SIZED:
        return None
    chosen = current if current is not None else plan()
    return chosen.workers if kind == "prefork" else thread_pool_size(chosen)


def config(pool: object = "prefork", current: Plan | None = None) -> dict[str, int]:
    """``{"worker_concurrency": n}`` for ``app.conf.update(...)``; empty for unsized pools."""
    n = concurrency(pool, current)
    return {} if n is None else {"worker_concurrency": n}


class _PoolResizer(PlanWatcher):
    """Grows or shrinks a running prefork pool to the plan's workers. A shrink retires idle
    processes only (billiard refuses while all are busy), so every re-read tries again.

    Without an event loop (a broker transport Celery cannot poll asynchronously, such as
    ``memory://``) the pool's processes share one task queue and its lock: retiring one that
    holds the lock would stall the others and the worker's shutdown, so that pool only grows.
    """

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.hub = getattr(consumer.controller, "hub", None)
        self._said_no_shrink = False
        super().__init__(self._changed, interval_s=interval_s())
        # The pool was sized a moment ago; a resize since then is applied at the first check.
        self.target = self.plan.workers

    def _changed(self, new: Plan, old: Plan) -> None:
        if new.workers != self.target:
            logger.info(
                "celery: resize to %d pool processes (was %d): %s",
                new.workers,
                self.target,
                new.reasons["workers"],
            )
            self.target = new.workers

    def check(self) -> Plan | None:
        changed = super().check()
        # With an event loop the pool is the loop's to change, as remote commands do.
        if self.hub is not None:
            self.hub.call_soon(self.settle)
        else:
            self.settle()
        return changed

    def settle(self) -> None:
        pool = self.consumer.pool
        diff = self.target - pool.num_processes
        if diff > 0:
            pool.grow(diff)
            self.consumer._update_prefetch_count(diff)
        elif diff < 0 and self.hub is None:
            if not self._said_no_shrink:
                self._said_no_shrink = True
                logger.warning(
                    "celery: pool left at %d processes (plan: %d): without an event loop the "
                    "pool cannot retire a process safely; restart the worker to shrink it",
                    pool.num_processes,
                    self.target,
                )
        elif diff < 0:
            try:
                pool.shrink(-diff)
            except ValueError:  # every process busy: next time
                return
            self.consumer._update_prefetch_count(diff)


def install(app: Any, *, follow_resize: bool = True) -> None:
    """Size ``app``'s workers when they start and, with prefork, follow in-place resizes.

    Connects to Celery's ``celeryd_init`` (before the pool exists), ``worker_ready`` and
    ``worker_shutting_down`` signals, acting for this app only. What it decided is logged
    once the worker is ready (Celery sets up logging in between).
    """
    from celery import signals  # type: ignore[import-untyped,unused-ignore]

    state: dict[str, Any] = {}

    def on_init(sender: object = None, conf: Any = None, options: Any = None, **_: Any) -> None:
        if conf is not app.conf:
            return
        options = options or {}
        pool = options.get("pool_cls") or options.get("pool") or conf.worker_pool
        kind = pool_kind(pool)
        chosen = plan()
        n = concurrency(kind, chosen)
        if n is None:
            return
        why = chosen.reasons["workers" if kind == "prefork" else "cpus"]
        if options.get("concurrency") or conf.worker_concurrency:
            state["message"] = (
                f"celery: worker_concurrency set by the user; the plan would say {n} ({why})"
            )
            return
        conf.worker_concurrency = n
        state["message"] = f"celery: worker_concurrency={n} for the {kind} pool ({why})"
        if kind == "prefork":
            state["follow"] = True

    def on_ready(sender: Any = None, **_: Any) -> None:
        consumer = sender
        if consumer is None or getattr(consumer, "app", None) is not app:
            return
        if "message" in state:
            logger.info("%s", state["message"])
        if not follow_resize or "follow" not in state:
            return
        if consumer.controller.autoscaler:
            logger.info("celery: --autoscale manages the pool; in-place resizes not followed")
            return
        state["resizer"] = _PoolResizer(consumer).start()

    def on_shutting_down(**_: Any) -> None:
        resizer = state.pop("resizer", None)
        if resizer is not None:  # before the pool goes away
            resizer.stop(timeout=_STOP_TIMEOUT_S)

    signals.celeryd_init.connect(on_init, weak=False)
    signals.worker_ready.connect(on_ready, weak=False)
    signals.worker_shutting_down.connect(on_shutting_down, weak=False)

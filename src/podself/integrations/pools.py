"""``concurrent.futures`` pools and ``asyncio``'s default executor sized for this pod.

::

    from podself.integrations.pools import process_pool, install_default_executor

    with process_pool() as pool:          # plan.workers processes, not the node's core count
        results = list(pool.map(crunch, items))

    async def main():
        install_default_executor()        # run_in_executor / to_thread use a sized pool

    pool = resizable_process_pool()       # and its size follows in-place resizes
"""

from __future__ import annotations

import threading
import weakref
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from podself.tuning import Plan, PlanWatcher, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from concurrent.futures import Future
    from typing import Any, ParamSpec, TypeVar

    P = ParamSpec("P")
    T = TypeVar("T")

__all__ = [
    "ResizablePool",
    "install_default_executor",
    "process_pool",
    "process_pool_size",
    "resizable_process_pool",
    "resizable_thread_pool",
    "thread_pool",
    "thread_pool_size",
]

# CPython's own default for ThreadPoolExecutor is min(32, cpu_count + 4): I/O threads, capped.
_THREAD_EXTRA = 4
_THREAD_CAP = 32


def process_pool_size(current: Plan | None = None) -> int:
    """Processes for CPU-bound work: the plan's ``workers`` (CPU, reserve and memory cap)."""
    return (current if current is not None else plan()).workers


def thread_pool_size(current: Plan | None = None) -> int:
    """Threads for I/O-bound work: ``min(32, cpus + 4)``, CPython's rule with the pod's CPUs."""
    return min(_THREAD_CAP, (current if current is not None else plan()).cpus + _THREAD_EXTRA)


def process_pool(
    max_workers: int | None = None, *, current: Plan | None = None, **kwargs: Any
) -> ProcessPoolExecutor:
    """A ``ProcessPoolExecutor`` with :func:`process_pool_size` workers unless given."""
    size = max_workers if max_workers is not None else process_pool_size(current)
    return ProcessPoolExecutor(max_workers=size, **kwargs)


def thread_pool(
    max_workers: int | None = None, *, current: Plan | None = None, **kwargs: Any
) -> ThreadPoolExecutor:
    """A ``ThreadPoolExecutor`` with :func:`thread_pool_size` threads unless given."""
    size = max_workers if max_workers is not None else thread_pool_size(current)
    kwargs.setdefault("thread_name_prefix", "podself")
    return ThreadPoolExecutor(max_workers=size, **kwargs)


def install_default_executor(
    loop: asyncio.AbstractEventLoop | None = None,
    *,
    max_workers: int | None = None,
    current: Plan | None = None,
) -> ThreadPoolExecutor:
    """Make a sized thread pool ``loop``'s default executor (used by ``to_thread`` and
    ``run_in_executor(None, ...)``); ``loop`` defaults to the running loop. Returns the pool;
    ``asyncio.run`` shuts it down at exit.
    """
    if loop is None:
        import asyncio  # only when no loop is given

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            msg = (
                "install_default_executor(): no running event loop; call it inside a "
                "coroutine or pass loop="
            )
            raise RuntimeError(msg) from None
    executor = thread_pool(max_workers, current=current)
    loop.set_default_executor(executor)
    return executor


class ResizablePool(Executor):
    """An executor whose size can change while it runs, e.g. with the pod's plan.

    ``concurrent.futures`` pools cannot change ``max_workers``, so :meth:`resize` starts a new
    pool of the new size from ``factory`` for what is submitted from then on and shuts the old
    one down without waiting: what was already submitted runs to completion there, and its
    workers exit when it is done. A shrink therefore takes effect as the old pool drains;
    for that while both pools run. :meth:`shutdown` shuts down every pool not yet finished.

    With ``sizer`` a :class:`~podself.tuning.PlanWatcher` re-reads the pod every
    ``interval_s`` seconds (default ``$PODSELF_RESIZE_INTERVAL``, else 30) and resizes to
    ``sizer(plan)`` for the plan it reads first and whenever it changes; :meth:`shutdown`
    stops it.
    """

    def __init__(
        self,
        factory: Callable[[int], Executor],
        size: int,
        *,
        sizer: Callable[[Plan], int] | None = None,
        interval_s: float | None = None,
    ) -> None:
        _check_size(size)
        self._factory = factory
        self._lock = threading.Lock()
        self._size = size
        self._executor = factory(size)
        # Pools being drained; one is forgotten once nothing refers to it (its work is done).
        self._retired: weakref.WeakSet[Executor] = weakref.WeakSet()
        self._shutdown = False
        self.watcher: PlanWatcher | None = None
        if sizer is not None:
            from podself.integrations._resize import interval_s as default_interval

            self.watcher = PlanWatcher(
                lambda new, old: self.resize(sizer(new)),
                interval_s=interval_s if interval_s is not None else default_interval(),
            )
            self.resize(sizer(self.watcher.plan))  # the plan it follows from now on
            self.watcher.start()

    @property
    def size(self) -> int:
        """The number of workers new tasks get."""
        return self._size

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Schedule ``fn(*args, **kwargs)`` on the pool of the current size."""
        with self._lock:
            if self._shutdown:
                msg = "cannot schedule new futures after shutdown"
                raise RuntimeError(msg)
            return self._executor.submit(fn, *args, **kwargs)

    def resize(self, size: int) -> bool:
        """Give new tasks ``size`` workers; False when that is the size already."""
        _check_size(size)
        with self._lock:
            if self._shutdown:
                msg = "cannot resize a pool after shutdown"
                raise RuntimeError(msg)
            if size == self._size:
                return False
            old, self._executor, self._size = self._executor, self._factory(size), size
            self._retired.add(old)
        old.shutdown(wait=False)
        return True

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop following the plan and shut down the current pool and any still draining."""
        with self._lock:
            self._shutdown = True
            executors = [*self._retired, self._executor]
        if self.watcher is not None:
            self.watcher.stop()
        for executor in executors:
            executor.shutdown(wait=wait, cancel_futures=cancel_futures)


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        msg = f"pool size {size!r}: must be a whole number of workers, at least 1"
        raise ValueError(msg)


def resizable_process_pool(
    *, current: Plan | None = None, follow: bool = True, **kwargs: Any
) -> ResizablePool:
    """A :class:`ResizablePool` of processes sized :func:`process_pool_size`, following the
    plan unless ``follow=False``; ``kwargs`` go to each ``ProcessPoolExecutor``."""
    return ResizablePool(
        lambda n: ProcessPoolExecutor(max_workers=n, **kwargs),
        process_pool_size(current),
        sizer=process_pool_size if follow else None,
    )


def resizable_thread_pool(
    *, current: Plan | None = None, follow: bool = True, **kwargs: Any
) -> ResizablePool:
    """A :class:`ResizablePool` of threads sized :func:`thread_pool_size`, following the plan
    unless ``follow=False``; ``kwargs`` go to each ``ThreadPoolExecutor``."""
    kwargs.setdefault("thread_name_prefix", "podself")
    return ResizablePool(
        lambda n: ThreadPoolExecutor(max_workers=n, **kwargs),
        thread_pool_size(current),
        sizer=thread_pool_size if follow else None,
    )

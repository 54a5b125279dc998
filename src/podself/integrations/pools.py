"""``concurrent.futures`` pools and ``asyncio``'s default executor sized for this pod.

::

    from podself.integrations.pools import process_pool, install_default_executor

    with process_pool() as pool:          # plan.workers processes, not the node's core count
        results = list(pool.map(crunch, items))

    async def main():
        install_default_executor()        # run_in_executor / to_thread use a sized pool
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from podself.tuning import Plan, plan

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from typing import Any

__all__ = [
    "install_default_executor",
    "process_pool",
    "process_pool_size",
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

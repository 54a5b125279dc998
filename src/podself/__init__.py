"""podself: a Python process on Kubernetes learns who and where it is, and what it may use.

>>> import podself
>>> info = podself.current()          # cached; never raises
>>> info.name, info.namespace, info.resources.memory_limit
>>> info.source_of("resources.memory_limit")

Standard library only. Importing costs well under a millisecond: everything but the core
reader is loaded on first use.
"""

from __future__ import annotations

from podself.errors import PodselfError
from podself.pod import PodInfo, Resources, Source, Workload, read

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podself.atomic import Snapshot
    from podself.flags import Flags
    from podself.watcher import ChangeSet, MapDiff, Watcher, awatch, watch

__version__ = "0.1.0"
__all__ = [
    "ChangeSet",
    "Flags",
    "MapDiff",
    "PodInfo",
    "PodselfError",
    "Resources",
    "Snapshot",
    "Source",
    "Watcher",
    "Workload",
    "__version__",
    "awatch",
    "cpu_count",
    "current",
    "read",
    "refresh",
    "watch",
]

_current: PodInfo | None = None
# podself.cpu_count()'s answer and the PodInfo it was computed for: the policy (PODSELF_* env)
# and the host are read once per process, so a pool sizing itself in a loop pays a lookup, not a
# re-parse. Keyed on the object, so replacing _current (refresh, tests) invalidates it.
_cpu_cache: tuple[PodInfo, int] | None = None


def current() -> PodInfo:
    """This process's ``PodInfo``, read once from the real environment and then cached.

    Never raises: problems are on ``info.warnings`` and the ``podself`` logger.
    """
    info = _current
    if info is None:
        info = refresh()
    return info


def refresh() -> PodInfo:
    """Re-read the real environment (e.g. after labels changed or a resize) and replace the cache.

    Also forgets :func:`cpu_count`'s cached answer, so ``PODSELF_*`` changes count from here.
    """
    global _current, _cpu_cache
    _current = read()
    _cpu_cache = None
    return _current


def _forget() -> None:
    """Drop the cached ``PodInfo``: a watcher saw the process's own volume commit a change, so
    the next :func:`current` re-reads it."""
    global _current, _cpu_cache
    _current = None
    _cpu_cache = None


def cpu_count() -> int:
    """The container-aware replacement for ``os.cpu_count()`` (see ``podself.tuning.cpu_count``).

    CPU limit, else request, else the affinity mask (the seed's 500m default inside Kubernetes
    when nothing is known), less ``PODSELF_RESERVE_MILLICORES``, rounded up, capped by the
    affinity, at least 1.

    Computed once and cached until :func:`refresh` (which ``PlanWatcher`` and ``watch_plan``
    call when the pod is resized).
    """
    global _cpu_cache
    cached = _cpu_cache
    if cached is not None and cached[0] is _current:
        return cached[1]
    from podself.tuning import cpu_count as _compute

    info = current()
    count = _compute(info)
    _cpu_cache = (info, count)
    return count


_LAZY = {
    "watch": "podself.watcher",
    "awatch": "podself.watcher",
    "Watcher": "podself.watcher",
    "ChangeSet": "podself.watcher",
    "MapDiff": "podself.watcher",
    "Flags": "podself.flags",
    "Snapshot": "podself.atomic",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        msg = f"module 'podself' has no attribute {name!r}"
        raise AttributeError(msg)
    import importlib

    return getattr(importlib.import_module(module), name)

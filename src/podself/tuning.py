"""Sizing decisions from the pod's CPU and memory: workers, threads, caches, pools and heaps.

A :class:`~podself.policy.Policy` turns a :class:`~podself.podinfo.PodInfo` into a :class:`Plan`
whose every number carries the reason it was chosen. The default policy reproduces the seed's
exercise 4 and its Java example exactly; knobs come from code, ``PODSELF_*`` env vars or a small
TOML/JSON file (:mod:`podself.policy`, whose names are re-exported here).

This module is one concept, the plan, and reads best whole although it is over 800 lines: the
machine (:class:`Host`), the effective CPU and memory with their fallbacks and traps, the
budgets, :func:`plan` and its reasons, and what re-plans (:func:`cpu_count`, :func:`expand` for
``podself exec``, :class:`PlanWatcher` on a resize). Each step's source and warnings feed the
next step's reasons, so one decision is followed top to bottom here.
"""

from __future__ import annotations

import os
from types import MappingProxyType

import podself
from podself._record import Record
from podself.cgroups import cpu_affinity_count, machine_memory
from podself.errors import SourceError
from podself.pod import PodInfo, Source, read
from podself.policy import DEFAULT_WORKER_MEMORY_MB, ENV_PREFIX, KNOBS, MIB, Knob, Policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping
    from typing import Any, Final, TypeAlias

__all__ = [
    "ENV_PREFIX",
    "KNOBS",
    "PLACEHOLDERS",
    "Host",
    "Knob",
    "Plan",
    "PlanWatcher",
    "Policy",
    "cpu_count",
    "expand",
    "plan",
    "watch_plan",
]

MILLICORES_PER_CPU: Final = 1000

# Value objects here use podself._record.Record, not dataclasses, as in podself.policy: the
# `podself exec` entrypoint's start-up would double.


# -- host -------------------------------------------------------------------------------------


class Host(Record):
    """Facts about the machine whose ``/proc`` was read; ``None`` where unknown.

    ``cpus`` is ``os.cpu_count()`` (the node's CPUs inside a pod), ``affinity`` the CPUs this
    process may run on, ``memory_bytes`` the physical memory.
    """

    __slots__ = ("affinity", "cpus", "memory_bytes")
    cpus: int | None
    affinity: int | None
    memory_bytes: int | None

    def __init__(
        self,
        *,
        cpus: int | None = None,
        affinity: int | None = None,
        memory_bytes: int | None = None,
    ) -> None:
        self._init(cpus=cpus, affinity=affinity, memory_bytes=memory_bytes)

    @classmethod
    def detect(cls, proc_root: str | os.PathLike[str] | None = None) -> Host:
        """This machine (``proc_root`` ``/proc``, the default unless ``$PODSELF_PROC_ROOT``).

        An injected ``/proc`` (a fake pod tree) describes its own machine: only a ``meminfo``
        there is believed, as ``podself.cgroups`` does.
        """
        proc = os.fspath(proc_root) if proc_root is not None else None
        if proc is None:
            proc = os.environ.get(ENV_PREFIX + "PROC_ROOT", "/proc")
        proc = proc.rstrip("/") or "/"
        if proc == "/proc":
            return cls(
                cpus=os.cpu_count(),
                affinity=cpu_affinity_count(),
                memory_bytes=machine_memory(proc),
            )
        return cls(memory_bytes=machine_memory(proc))


# -- plan -------------------------------------------------------------------------------------

# Names `podself exec` fills in, in the order they are listed to users.
PLACEHOLDERS: Final = (
    "workers",
    "threads",
    "cache_mb",
    "connections",
    "heap_mb",
    "gc_threads",
    "nginx_workers",
    "cpus",
    "cpu_count",
    "cpu_millicores",
    "memory_mb",
    "gomemlimit_mb",
    "gpus",
)

# Seed-style shell names (exercise 4 and the Java example) printed by `podself tune --env`.
_SEED_NAMES: Final = (
    ("WORKERS", "workers"),
    ("THREADS", "threads"),
    ("CACHE_SIZE_MB", "cache_mb"),
    ("CONN_POOL_SIZE", "connections"),
    ("HEAP_SIZE", "heap_mb"),
    ("GC_THREADS", "gc_threads"),
    ("NGINX_WORKERS", "nginx_workers"),
    ("CPUS", "cpus"),
    ("CPU_LIMIT_MILLICORES", "cpu_millicores"),
    ("MEMORY_LIMIT_MB", "memory_mb"),
)


class Plan(Record):
    """Sizing decisions; ``reasons[name]`` says how each number was chosen and from what.

    ``cpu_from`` / ``memory_from`` name the input that won: ``"limit"``, ``"request"``,
    ``"affinity"``, ``"cpu_count"``, ``"host"`` or ``"default"``. ``gomemlimit_mb`` is ``None``
    unless memory comes from a limit (a soft Go limit above no ceiling helps nobody).
    """

    __slots__ = (*PLACEHOLDERS, "cpu_from", "memory_from", "reasons", "warnings")
    workers: int
    threads: int
    cache_mb: int
    connections: int
    heap_mb: int
    gc_threads: int
    nginx_workers: int
    cpus: int
    cpu_count: int
    cpu_millicores: int
    memory_mb: int
    gomemlimit_mb: int | None
    gpus: int
    cpu_from: str
    memory_from: str
    reasons: Mapping[str, str]
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        workers: int,
        threads: int,
        cache_mb: int,
        connections: int,
        heap_mb: int,
        gc_threads: int,
        nginx_workers: int,
        cpus: int,
        cpu_count: int,
        cpu_millicores: int,
        memory_mb: int,
        gomemlimit_mb: int | None,
        cpu_from: str,
        memory_from: str,
        reasons: Mapping[str, str],
        warnings: tuple[str, ...] = (),
        gpus: int = 0,
    ) -> None:
        self._init(
            workers=workers,
            threads=threads,
            cache_mb=cache_mb,
            connections=connections,
            heap_mb=heap_mb,
            gc_threads=gc_threads,
            nginx_workers=nginx_workers,
            cpus=cpus,
            cpu_count=cpu_count,
            cpu_millicores=cpu_millicores,
            memory_mb=memory_mb,
            gomemlimit_mb=gomemlimit_mb,
            gpus=gpus,
            cpu_from=cpu_from,
            memory_from=memory_from,
            reasons=MappingProxyType(dict(reasons)),
            warnings=tuple(warnings),
        )

    def numbers(self) -> dict[str, int | None]:
        """The sizing numbers by name (what a watcher compares)."""
        return {name: getattr(self, name) for name in PLACEHOLDERS}

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: the numbers, ``cpu_from``, ``memory_from``, ``reasons``, ``warnings``."""
        return {
            **self.numbers(),
            "cpu_from": self.cpu_from,
            "memory_from": self.memory_from,
            "reasons": dict(self.reasons),
            "warnings": list(self.warnings),
        }

    def placeholders(self) -> dict[str, str]:
        """``{name}`` values for :func:`expand` (``gomemlimit_mb`` only when known)."""
        return {k: str(v) for k, v in self.numbers().items() if v is not None}

    def java_options(self) -> str:
        """The seed's JVM flags: ``-Xmx<heap>m -Xms<heap>m -XX:ParallelGCThreads=<gc>``."""
        return f"-Xmx{self.heap_mb}m -Xms{self.heap_mb}m -XX:ParallelGCThreads={self.gc_threads}"

    def env(self, *, java: bool = False) -> dict[str, str]:
        """Conventional env for a child process, with the plan field each one carries.

        ``WEB_CONCURRENCY`` (gunicorn, uvicorn), ``OMP/MKL/OPENBLAS_NUM_THREADS``,
        ``GOMAXPROCS``, ``PYTHON_CPU_COUNT`` (Python 3.13+: ``os.cpu_count()``,
        ``os.process_cpu_count()``, ``multiprocessing`` and ``ProcessPoolExecutor`` defaults),
        ``LOKY_MAX_CPU_COUNT`` (joblib/loky), ``GOMEMLIMIT`` (memory limit known) and, with
        ``java``, ``JAVA_TOOL_OPTIONS``.
        """
        return {name: value for name, (value, _) in self.env_reasons(java=java).items()}

    def env_reasons(self, *, java: bool = False) -> dict[str, tuple[str, str]]:
        """Like :meth:`env`, each value paired with the plan field it comes from."""
        out: dict[str, tuple[str, str]] = {
            "WEB_CONCURRENCY": (str(self.workers), "workers"),
            "OMP_NUM_THREADS": (str(self.threads), "threads"),
            "MKL_NUM_THREADS": (str(self.threads), "threads"),
            "OPENBLAS_NUM_THREADS": (str(self.threads), "threads"),
            "GOMAXPROCS": (str(self.cpus), "cpus"),
            "PYTHON_CPU_COUNT": (str(self.cpu_count), "cpu_count"),
            "LOKY_MAX_CPU_COUNT": (str(self.cpu_count), "cpu_count"),
        }
        if self.gomemlimit_mb is not None:
            out["GOMEMLIMIT"] = (f"{self.gomemlimit_mb}MiB", "gomemlimit_mb")
        if java:
            out["JAVA_TOOL_OPTIONS"] = (self.java_options(), "heap_mb")
        return out

    def exports(self, *, java: bool = False, prefix: str = "") -> dict[str, str]:
        """Seed-style names (``WORKERS``, ``CACHE_SIZE_MB``, ``CONN_POOL_SIZE``, ``HEAP_SIZE``…,
        each with ``prefix``) followed by :meth:`env`; what ``podself tune --env`` prints.
        """
        out = {prefix + env: str(getattr(self, name)) for env, name in _SEED_NAMES}
        out.update(self.env(java=java))
        return out


class _Amount:
    """One resource input: the amount, which rule produced it and how to say so."""

    __slots__ = ("basis", "text", "value")

    def __init__(self, value: int, basis: str, text: str) -> None:
        self.value = value
        self.basis = basis
        self.text = text


def _describe(source: Source) -> str:
    """``env RESOURCE_CPU_LIMIT_MILLICORES`` from a Source (the divisor note dropped)."""
    origin = source.origin
    if origin.endswith((" units)", " unit)")) and " (" in origin:
        origin = origin[: origin.rindex(" (")]
    return f"{source.kind} {origin}".strip()


def _is_default_fallback(policy: Policy, info: PodInfo) -> bool:
    if policy.fallback == "defaults":
        return True
    return policy.fallback == "auto" and info.in_kubernetes


def _why_defaults(policy: Policy, info: PodInfo) -> str:
    if policy.fallback == "defaults":
        return "fallback=defaults"
    if _is_default_fallback(policy, info):
        return "inside Kubernetes the host is a shared node"
    return "nothing is known about this machine either"


def _trap(
    what: str,
    value: int,
    unit: str,
    source: Source,
    *,
    node_allocatable: int | None,
    host_total: int | None,
    host_text: str,
) -> tuple[str, bool] | None:
    """Why a kubelet-reported limit may really be "no limit set": (warning, discard it), or None.

    Equal to the declared node allocatable, or above this machine (no container can use more
    than the node has): discarded. Exactly this machine's size: only a warning, since a limit
    that large is possible, and sizing from it or from the machine gives the same numbers.
    """
    if source.kind not in (Source.ENV, Source.DOWNWARD):
        return None  # cgroups are what the kernel enforces; arguments are the caller's word
    said = f"{_describe(source)} says {what} limit {value}{unit}"
    if node_allocatable is not None and value == node_allocatable:
        return (
            f"{said}, equal to node allocatable: Kubernetes reports node allocatable when a "
            "container sets no limit; treating it as no limit",
            True,
        )
    if host_total is not None and value > host_total:
        return (
            f"{said}, more than {host_text}: Kubernetes reports node allocatable when a "
            f"container sets no limit; treating it as no limit{_unitless_hint(what, source)}",
            True,
        )
    if host_total is not None and value == host_total:
        return (
            f"{said}, exactly {host_text}: if the container sets no limit, this is node "
            "allocatable (set PODSELF_NODE_ALLOCATABLE_* to tell podself)",
            False,
        )
    return None


def _unitless_hint(what: str, source: Source) -> str:
    """For ``CPU_LIMIT=500`` written with divisor 1m but read as cores: the likelier cause."""
    if not source.origin.endswith(" (1 unit)"):
        return ""
    var = source.origin.removesuffix(" (1 unit)")
    attr = "cpu_limit" if what == "cpu" else "memory_limit"
    divisor, suffix = ("1m", "_MILLICORES") if what == "cpu" else ("1Mi", "_MB")
    return (
        f". Or {var} was written with divisor {divisor}: a name without a unit is read with "
        f"the default divisor 1; map it with --env-map {var}=resources.{attr}@{divisor} or "
        f"rename it {var}{suffix}"
    )


def _effective_cpu(info: PodInfo, policy: Policy, host: Host, warnings: list[str]) -> _Amount:
    """Millicores: limit -> (no limit) request -> affinity -> cpu_count -> default."""
    resources = info.resources
    amount: _Amount | None = None
    limit = resources.cpu_limit
    source = info.source_of("resources.cpu_limit")
    if limit:
        trap = _trap(
            "cpu",
            limit,
            "m",
            source,
            node_allocatable=policy.node_allocatable_millicores,
            host_total=host.cpus * MILLICORES_PER_CPU if host.cpus else None,
            host_text=f"this machine's {host.cpus} CPUs",
        )
        if trap is not None:
            warnings.append(trap[0])
        if trap is None or not trap[1]:
            amount = _Amount(limit, "limit", f"cpu limit {limit}m ({_describe(source)})")
    elif source.kind == Source.CGROUP and source.origin.startswith("no limit"):
        warnings.append(
            "no CPU limit: the pod's cgroup sets none (env/volume values, if any, were node "
            "allocatable)"
        )
    request = resources.cpu_request
    if amount is None and policy.use_requests and request:
        origin = _describe(info.source_of("resources.cpu_request"))
        amount = _Amount(request, "request", f"cpu request {request}m ({origin}, no limit)")
    if amount is None:
        amount = _cpu_fallback(info, policy, host, warnings)
    if policy.respect_affinity and host.affinity and amount.value > host.affinity * 1000:
        capped = host.affinity * MILLICORES_PER_CPU
        amount = _Amount(
            capped,
            amount.basis,
            f"{amount.text} capped at {capped}m by CPU affinity ({host.affinity} CPUs)",
        )
    return amount


def _cpu_fallback(info: PodInfo, policy: Policy, host: Host, warnings: list[str]) -> _Amount:
    default = policy.default_millicores
    if not _is_default_fallback(policy, info):
        if host.affinity:
            m = host.affinity * MILLICORES_PER_CPU
            warnings.append(
                f"no CPU limit or request found; sizing from this machine's {host.affinity} "
                "usable CPUs (sched_getaffinity)"
            )
            return _Amount(m, "affinity", f"CPU affinity {host.affinity} CPUs = {m}m (no limit)")
        if host.cpus:
            m = host.cpus * MILLICORES_PER_CPU
            warnings.append(
                f"no CPU limit or request found; sizing from this machine's {host.cpus} CPUs "
                "(os.cpu_count)"
            )
            return _Amount(m, "cpu_count", f"os.cpu_count() {host.cpus} CPUs = {m}m (no limit)")
    why = _why_defaults(policy, info)
    warnings.append(
        f"no CPU limit or request found ({why}); using default_millicores={default} "
        f"({ENV_PREFIX}DEFAULT_MILLICORES); set resources.limits.cpu or requests.cpu and expose "
        "it with a resourceFieldRef"
    )
    return _Amount(default, "default", f"default {default}m (no limit or request)")


def _effective_memory(info: PodInfo, policy: Policy, host: Host, warnings: list[str]) -> _Amount:
    """MiB (rounded up, like a ``1Mi`` divisor): limit -> request -> host -> default."""
    resources = info.resources
    limit = resources.memory_limit
    source = info.source_of("resources.memory_limit")
    if limit:
        mb = -(-limit // MIB)
        host_mb = -(-host.memory_bytes // MIB) if host.memory_bytes else None
        trap = _trap(
            "memory",
            mb,
            " MB",
            source,
            node_allocatable=policy.node_allocatable_memory_mb,
            host_total=host_mb,
            host_text=f"this machine's {host_mb} MB",
        )
        if trap is not None:
            warnings.append(trap[0])
        if trap is None or not trap[1]:
            return _Amount(mb, "limit", f"memory limit {mb} MB ({_describe(source)})")
    elif source.kind == Source.CGROUP and source.origin.startswith("no limit"):
        warnings.append(
            "no memory limit: the pod's cgroup sets none (env/volume values, if any, were node "
            "allocatable)"
        )
    request = resources.memory_request
    if policy.use_requests and request:
        mb = -(-request // MIB)
        origin = _describe(info.source_of("resources.memory_request"))
        return _Amount(mb, "request", f"memory request {mb} MB ({origin}, no limit)")
    default = policy.default_memory_mb
    if not _is_default_fallback(policy, info) and host.memory_bytes:
        mb = host.memory_bytes // MIB
        warnings.append(
            f"no memory limit or request found; sizing from this machine's {mb} MB (SC_PHYS_PAGES)"
        )
        return _Amount(mb, "host", f"this machine's memory {mb} MB (no limit)")
    why = _why_defaults(policy, info)
    warnings.append(
        f"no memory limit or request found ({why}); using default_memory_mb={default} "
        f"({ENV_PREFIX}DEFAULT_MEMORY_MB); set resources.limits.memory and expose it with a "
        "resourceFieldRef"
    )
    return _Amount(default, "default", f"default {default} MB (no limit or request)")


def _divide(numerator: int, denominator: int, rounding: str) -> int:
    if rounding == "ceil":
        return -(-numerator // denominator)
    return numerator // denominator


def _percent_of(mb: int, percent: int | float) -> int:
    """``mb * percent / 100`` floored, exactly (the seed's shell integer arithmetic)."""
    if isinstance(percent, int):
        return mb * percent // 100
    from fractions import Fraction  # only fractional percentages need it

    return int(mb * Fraction(repr(percent)) // 100)


def _cpu_budget(cpu: _Amount, policy: Policy, warnings: list[str]) -> tuple[int, str]:
    """Millicores left after the reserve, and the words for it."""
    return _budget(cpu, policy.reserve_millicores, "reserve_millicores", "m", warnings)


def _memory_budget(memory: _Amount, policy: Policy, warnings: list[str]) -> tuple[int, str]:
    """MB left after the reserve, and the words for it."""
    return _budget(memory, policy.reserve_memory_mb, "reserve_memory_mb", " MB", warnings)


def _soft_budget(
    info: PodInfo, memory: _Amount, policy: Policy, memory_mb: int, memory_text: str
) -> tuple[int, str]:
    """The memory budget under a soft limit (cgroup ``memory.high``) when it is the lower."""
    high = info.resources.memory_high
    if high is None:
        return memory_mb, memory_text
    high_mb = high // MIB
    reserve = policy.reserve_memory_mb if policy.reserve_memory_mb < high_mb else 0
    if high_mb - reserve >= memory_mb:
        return memory_mb, memory_text
    origin = _describe(info.source_of("resources.memory_high"))
    text = f"memory.high {high_mb} MB ({origin}, below {memory.text})"
    if reserve:
        text = f"({text} - reserve {reserve} MB)"
    return max(1, high_mb - reserve), text


def _budget(
    amount: _Amount, reserve: int, knob: str, unit: str, warnings: list[str]
) -> tuple[int, str]:
    if not reserve:
        return amount.value, amount.text
    if reserve >= amount.value:
        warnings.append(f"{knob}={reserve} leaves nothing of {amount.value}{unit}; reserve ignored")
        return amount.value, amount.text
    return amount.value - reserve, f"({amount.text} - reserve {reserve}{unit})"


def plan(
    info: PodInfo | None = None,
    policy: Policy | None = None,
    *,
    host: Host | None = None,
    log_warnings: bool = True,
) -> Plan:
    """Size workers, threads, cache, connection pool, heap and GC threads for ``info``.

    Args:
        info: the pod (default ``podself.current()``).
        policy: the rules (default ``Policy.from_env(strict=False)``: ``PODSELF_*`` env, bad
            values skipped with a warning).
        host: facts about the machine (default :meth:`Host.detect`).
        log_warnings: also send ``plan.warnings`` to the ``podself`` logger.

    Never raises for missing or odd inputs: every fallback is on ``plan.warnings`` and the
    ``podself`` logger.
    """
    if info is None:
        info = podself.current()
    if policy is None:
        policy = Policy.from_env(strict=False)
    if host is None:
        host = Host.detect()
    warnings: list[str] = list(policy.warnings)
    cpu = _effective_cpu(info, policy, host, warnings)
    memory = _effective_memory(info, policy, host, warnings)
    rounding = policy.rounding
    reasons: dict[str, str] = {}

    millicores, cpu_text = _cpu_budget(cpu, policy, warnings)
    memory_mb, memory_text = _memory_budget(memory, policy, warnings)
    # memory.high below the limit: the kernel throttles and reclaims above it, so what is sized
    # to be held (workers, cache, heap) stays under it; connections and GOMEMLIMIT keep the limit.
    held_mb, held_text = _soft_budget(info, memory, policy, memory_mb, memory_text)
    reasons["cpu_millicores"] = f"cpu_millicores={cpu.value}: {cpu.text}"
    reasons["memory_mb"] = f"memory_mb={memory.value}: {memory.text}"

    cpus = max(1, _divide(millicores, MILLICORES_PER_CPU, rounding))
    reasons["cpus"] = f"cpus={cpus}: {cpu_text} / 1000, {rounding}, min 1"
    # What podself.cpu_count() answers: always rounded up, like the JVM, .NET and loky.
    cpu_count = max(1, _divide(millicores, MILLICORES_PER_CPU, "ceil"))
    reasons["cpu_count"] = f"cpu_count={cpu_count}: {cpu_text} / 1000, ceil, min 1"

    per_worker = policy.millicores_per_worker
    by_cpu = _divide(millicores, per_worker, rounding)
    workers = max(policy.min_workers, by_cpu)
    why = f"{cpu_text} / {per_worker}, {rounding}, min {policy.min_workers}"
    if policy.max_workers is not None and workers > policy.max_workers:
        workers = policy.max_workers
        why += f", max {policy.max_workers}"
    if policy.worker_memory_mb is not None:
        allowed = held_mb // policy.worker_memory_mb
        if workers > allowed:
            uncapped = workers
            workers = max(1, allowed)
            why += f", capped at {workers} by {held_text} / {policy.worker_memory_mb} MB per worker"
            if policy.worker_memory_mb == DEFAULT_WORKER_MEMORY_MB:
                # A budget the user chose is the reason line's business; the default one warns.
                warnings.append(
                    f"workers capped at {workers} (CPU allows {uncapped}) by memory: "
                    f"{held_text} / the default worker_memory_mb={DEFAULT_WORKER_MEMORY_MB}; "
                    f"set {ENV_PREFIX}WORKER_MEMORY_MB to what one worker really needs, or "
                    "none to size by CPU only"
                )
            if allowed < policy.min_workers:
                warnings.append(
                    f"memory {memory_mb} MB allows {allowed} workers of "
                    f"worker_memory_mb={policy.worker_memory_mb}, fewer than min_workers="
                    f"{policy.min_workers}; running {workers}"
                )
    reasons["workers"] = f"workers={workers}: {why}"

    threads = max(1, cpus * policy.threads_per_cpu // workers)
    tpc = "" if policy.threads_per_cpu == 1 else f" * {policy.threads_per_cpu} threads per CPU"
    reasons["threads"] = f"threads={threads}: cpus {cpus}{tpc} // workers {workers}, min 1"

    # Sizes have a floor of 1: to most programs 0 means "unlimited" or "refuse to start".
    cache_mb = max(1, _percent_of(held_mb, policy.cache_percent))
    reasons["cache_mb"] = f"cache_mb={cache_mb}: {held_text} * {policy.cache_percent} / 100, min 1"

    connections = max(policy.min_connections, memory_mb // policy.connection_mb)
    why = f"{memory_text} / {policy.connection_mb} MB per connection, min {policy.min_connections}"
    if policy.max_connections is not None and connections > policy.max_connections:
        connections = policy.max_connections
        why += f", max {policy.max_connections}"
    reasons["connections"] = f"connections={connections}: {why}"

    heap_mb = max(1, _percent_of(held_mb, policy.heap_percent))
    reasons["heap_mb"] = f"heap_mb={heap_mb}: {held_text} * {policy.heap_percent} / 100, min 1"

    gc_threads = max(1, _divide(millicores, MILLICORES_PER_CPU, rounding))
    reasons["gc_threads"] = f"gc_threads={gc_threads}: {cpu_text} / 1000, {rounding}, min 1"
    nginx_workers = gc_threads
    reasons["nginx_workers"] = (
        f"nginx_workers={nginx_workers}: {cpu_text} / 1000, {rounding}, min 1"
    )

    gomemlimit_mb: int | None = None
    if memory.basis == "limit":
        gomemlimit_mb = max(1, _percent_of(memory_mb, policy.gomemlimit_percent))
        reasons["gomemlimit_mb"] = (
            f"gomemlimit_mb={gomemlimit_mb}: {memory_text} * {policy.gomemlimit_percent} "
            "/ 100, min 1"
        )
    else:
        reasons["gomemlimit_mb"] = (
            f"gomemlimit_mb=None: memory comes from the {memory.basis}, not a limit"
        )

    gpus = info.resources.gpus or 0
    if info.resources.gpus is None:
        reasons["gpus"] = "gpus=0: no GPU visible (NVIDIA_VISIBLE_DEVICES, CUDA_VISIBLE_DEVICES)"
    else:
        reasons["gpus"] = f"gpus={gpus}: {_describe(info.source_of('resources.gpus'))}"

    result = Plan(
        gpus=gpus,
        workers=workers,
        threads=threads,
        cache_mb=cache_mb,
        connections=connections,
        heap_mb=heap_mb,
        gc_threads=gc_threads,
        nginx_workers=nginx_workers,
        cpus=cpus,
        cpu_count=cpu_count,
        cpu_millicores=cpu.value,
        memory_mb=memory.value,
        gomemlimit_mb=gomemlimit_mb,
        cpu_from=cpu.basis,
        memory_from=memory.basis,
        reasons=MappingProxyType(reasons),
        warnings=tuple(warnings),
    )
    if warnings and log_warnings:
        _log(warnings)
    return result


def _log(warnings: tuple[str, ...] | list[str]) -> None:
    if warnings:
        import logging  # costs milliseconds; only needed to warn

        logger = logging.getLogger("podself")
        for message in warnings:
            logger.warning("%s", message)


def cpu_count(
    info: PodInfo | None = None,
    *,
    policy: Policy | None = None,
    host: Host | None = None,
    rounding: str = "ceil",
) -> int:
    """The container-aware ``os.cpu_count()``: CPUs this process can keep busy, at least 1.

    The same inputs as :func:`plan` (limit, then request, then affinity or the defaults, less
    ``reserve_millicores``, at most the affinity), rounded up by default like the JVM, .NET and
    loky: a 500m container counts 1 CPU, 1500m counts 2.
    """
    if rounding not in ("floor", "ceil"):
        msg = f'cpu_count rounding "{rounding}": must be "floor" or "ceil"'
        raise ValueError(msg)
    if info is None:
        info = podself.current()
    if policy is None:
        policy = Policy.from_env(strict=False)
    if host is None:
        host = Host.detect()
    cpu = _effective_cpu(info, policy, host, [])
    millicores, _ = _cpu_budget(cpu, policy, [])
    return max(1, _divide(millicores, MILLICORES_PER_CPU, rounding))


# -- exec templates ---------------------------------------------------------------------------


def expand(template: str, values: Mapping[str, str]) -> str:
    """Fill ``{name}`` placeholders from ``values``; ``{{`` and ``}}`` are literal braces, and
    a shell parameter ``${NAME}`` is left as it is.

    Raises ``SourceError`` for an unknown name or a lone brace, listing the known names.
    """
    if "{" not in template and "}" not in template:
        return template
    out: list[str] = []
    i = 0
    n = len(template)
    while i < n:
        char = template[i]
        if char == "{":
            if template.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            end = template.find("}", i + 1)
            if end < 0:
                msg = (
                    f'argument "{template}": "{{" at offset {i} is never closed; write "{{{{" '
                    "for a literal brace"
                )
                raise SourceError(msg)
            if i > 0 and template[i - 1] == "$":
                # ${NAME} is the shell's (sh -c '... ${PORT}'): passed through untouched.
                out.append(template[i : end + 1])
                i = end + 1
                continue
            name = template[i + 1 : end]
            if name not in values:
                known = ", ".join("{" + k + "}" for k in values)
                msg = f'argument "{template}": unknown placeholder {{{name}}}; known: {known}'
                raise SourceError(msg)
            out.append(values[name])
            i = end + 1
        elif char == "}":
            if template.startswith("}}", i):
                out.append("}")
                i += 2
                continue
            msg = (
                f'argument "{template}": single "}}" at offset {i}; write "}}}}" for a literal '
                "brace"
            )
            raise SourceError(msg)
        else:
            nxt = min(
                (p for p in (template.find("{", i), template.find("}", i)) if p >= 0),
                default=n,
            )
            out.append(template[i:nxt])
            i = nxt
    return "".join(out)


# -- limits that change -----------------------------------------------------------------------

PlanCallback: TypeAlias = "Callable[[Plan, Plan], object]"


class PlanWatcher:
    """Re-reads the pod every ``interval_s`` and calls back when the plan's numbers change.

    In-place pod resize rewrites the cgroup limits under a running container (env vars keep
    their start-up values; ``podself.read`` believes the cgroup). Opt-in::

        watcher = PlanWatcher(lambda new, old: pool.resize(new.workers), interval_s=30)
        watcher.start()     # daemon thread; watcher.stop() or use it as a context manager

    ``check()`` runs one re-read synchronously and returns the new plan if it changed.
    ``read_args`` are ``podself.read`` arguments; without them the process's own pod is
    re-read through ``podself.refresh()`` so ``podself.current()`` stays fresh too.
    """

    def __init__(
        self,
        callback: PlanCallback,
        *,
        interval_s: float = 30.0,
        policy: Policy | None = None,
        host: Host | None = None,
        read_args: Mapping[str, Any] | None = None,
    ) -> None:
        if not interval_s > 0:
            msg = f"interval_s={interval_s!r}: must be a positive number of seconds"
            raise ValueError(msg)
        self.callback = callback
        self.interval_s = float(interval_s)
        self.policy = policy if policy is not None else Policy.from_env(strict=False)
        self.host = host
        self.read_args = dict(read_args) if read_args is not None else None
        import threading  # only watchers need it

        self._stop = threading.Event()
        self._thread_class = threading.Thread
        self._thread: threading.Thread | None = None
        self.plan = self._compute(log_warnings=True)

    def _read(self) -> PodInfo:
        if self.read_args is None:
            return podself.refresh()
        return read(**self.read_args)

    def _compute(self, log_warnings: bool) -> Plan:
        return plan(self._read(), self.policy, host=self.host, log_warnings=log_warnings)

    def check(self) -> Plan | None:
        """Re-read once; if any number changed, call back ``(new, old)`` and return ``new``.

        Plan warnings are logged when the plan changes, not on every unchanged re-read.
        """
        new = self._compute(log_warnings=False)
        old = self.plan
        if new.numbers() == old.numbers():
            return None
        self.plan = new
        _log([w for w in new.warnings if w not in old.warnings])
        self.callback(new, old)
        return new

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Check every ``interval_s`` until ``stop_event`` (or :meth:`stop`) is set."""
        stop = stop_event or self._stop
        while not stop.wait(self.interval_s) and not self._stop.is_set():
            try:
                self.check()
            except Exception:  # a failing callback must not end resize handling
                import logging  # only on failure

                logging.getLogger("podself").exception("plan watcher: check failed")

    def start(self) -> PlanWatcher:
        """Run :meth:`run` in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = self._thread_class(target=self.run, name="podself-plan", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop the thread and wait for it (at most ``timeout`` seconds)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> PlanWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def watch_plan(
    callback: PlanCallback,
    *,
    interval_s: float = 30.0,
    stop_event: threading.Event | None = None,
    policy: Policy | None = None,
    host: Host | None = None,
    read_args: Mapping[str, Any] | None = None,
) -> None:
    """Block, calling ``callback(new, old)`` whenever the plan changes, until ``stop_event``.

    A loop around :class:`PlanWatcher`; run it in your own thread or task.
    """
    watcher = PlanWatcher(
        callback, interval_s=interval_s, policy=policy, host=host, read_args=read_args
    )
    watcher.run(stop_event)

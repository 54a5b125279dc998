"""The sizing policy: every knob of the rules :mod:`podself.tuning` applies, with its range.

A :class:`Policy` is built in code, from ``PODSELF_*`` env vars or from a small TOML/JSON file,
or by layering those; each value is checked against its :class:`Knob` (kind, range, choices)
and a bad one raises :class:`~podself.errors.SourceError` naming the knob, the rule and the
value. The defaults reproduce the seed's exercise 4 and its Java example.
"""

from __future__ import annotations

import math
import os
from types import MappingProxyType

from podself._record import Record
from podself.errors import SourceError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, Final

__all__ = [
    "DEFAULT_WORKER_MEMORY_MB",
    "ENV_PREFIX",
    "KNOBS",
    "MIB",
    "Knob",
    "Policy",
]

ENV_PREFIX: Final = "PODSELF_"
MIB: Final = 1 << 20
# A Python web or Celery prefork worker with its app loaded holds 100-170 MiB (gunicorn and
# Celery OOM reports) and grows under load: 256 MiB keeps an 8-CPU / 1 GiB pod at 4 workers.
DEFAULT_WORKER_MEMORY_MB: Final = 256
# Keys of a policy file may sit at the top level or under this table.
_FILE_TABLE = "tuning"
# A policy file is a few dozen lines; this bounds what a wrong path can make us read.
_MAX_POLICY_BYTES: Final = 64 << 10
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_NONE = frozenset({"none", "off", "unset"})


# -- knobs ------------------------------------------------------------------------------------

# Upper bounds of whole-number knobs, far above any real pod and far below what would overflow
# a C int or a JVM flag downstream: 10,000 CPUs, 1 PiB, and counts of 100,000.
_MAX_MILLICORES: Final = 10_000 * 1000
_MAX_MB: Final = 1 << 30
_MAX_COUNT: Final = 100_000
_MAXIMA: Final[Mapping[str, int]] = MappingProxyType({"millicores": _MAX_MILLICORES, "mb": _MAX_MB})


# Value objects here use podself._record.Record, not dataclasses: `podself exec` is a container
# entrypoint, and dataclasses (import + class creation) would double its start-up cost.


class Knob(Record):
    """One policy setting: its kind, default, range and the seed formula it comes from.

    ``kind`` is ``"int"``, ``"millicores"`` or ``"mb"`` (whole numbers from ``minimum`` to
    ``maximum``; the last two also take ``"250m"`` / ``"256Mi"``), ``"percent"``
    (``0 < p <= 100``), ``"bool"`` or ``"choice"``. ``optional`` knobs accept ``None`` (env
    ``none``) meaning "no such limit".
    """

    __slots__ = (
        "choices",
        "default",
        "help",
        "kind",
        "maximum",
        "minimum",
        "name",
        "optional",
        "seed",
    )
    name: str
    kind: str
    default: object
    help: str
    seed: str
    minimum: int
    maximum: int
    optional: bool
    choices: tuple[str, ...]

    def __init__(
        self,
        name: str,
        kind: str,
        default: object,
        help: str,
        seed: str = "",
        *,
        minimum: int = 0,
        maximum: int | None = None,
        optional: bool = False,
        choices: tuple[str, ...] = (),
    ) -> None:
        self._init(
            name=name,
            kind=kind,
            default=default,
            help=help,
            seed=seed,
            minimum=minimum,
            maximum=_MAXIMA.get(kind, _MAX_COUNT) if maximum is None else maximum,
            optional=optional,
            choices=choices,
        )

    @property
    def env(self) -> str:
        """The env var that sets this knob, e.g. ``PODSELF_MIN_WORKERS``."""
        return ENV_PREFIX + self.name.upper()


KNOBS: Final[Mapping[str, Knob]] = MappingProxyType(
    {
        k.name: k
        for k in (
            Knob(
                "rounding",
                "choice",
                "floor",
                "how CPU-derived counts (workers, threads, GC threads, nginx workers, "
                "GOMAXPROCS) round fractional CPUs",
                "WORKERS=$(($CPU_LIMIT_MILLICORES / 1000)) (shell division floors)",
                choices=("floor", "ceil"),
            ),
            Knob(
                "millicores_per_worker",
                "millicores",
                1000,
                "CPU each worker process gets",
                "/ 1000",
                minimum=1,
            ),
            Knob(
                "min_workers",
                "int",
                1,
                "fewest workers (a memory cap may still go lower, never below 1)",
                "else WORKERS=1",
                minimum=1,
            ),
            Knob("max_workers", "int", None, "most workers", minimum=1, optional=True),
            Knob(
                "worker_memory_mb",
                "mb",
                DEFAULT_WORKER_MEMORY_MB,
                "memory one worker needs; workers never exceed (memory - reserve) // this "
                f"(default {DEFAULT_WORKER_MEMORY_MB}: a Python web or Celery prefork worker "
                "with its app loaded holds 100-170 MiB and grows under load); none disables",
                minimum=1,
                optional=True,
            ),
            Knob(
                "threads_per_cpu",
                "int",
                1,
                "threads per CPU; threads per worker = CPUs * this // workers",
                minimum=1,
                maximum=1024,
            ),
            Knob(
                "reserve_millicores",
                "millicores",
                0,
                "CPU kept back for sidecars and forked helpers before anything is divided",
            ),
            Knob(
                "reserve_memory_mb",
                "mb",
                0,
                "memory kept back (interpreter, sidecar, page cache) before ratios apply",
            ),
            Knob(
                "cache_percent",
                "percent",
                25,
                "share of memory for the cache",
                "CACHE_SIZE_MB=$(($MEMORY_LIMIT_MB * 25 / 100))",
            ),
            Knob(
                "connection_mb",
                "mb",
                32,
                "memory per pooled connection",
                "CONN_POOL_SIZE=$(($MEMORY_LIMIT_MB / 32))",
                minimum=1,
            ),
            Knob("min_connections", "int", 1, "smallest connection pool"),
            Knob("max_connections", "int", None, "largest connection pool", optional=True),
            Knob(
                "heap_percent",
                "percent",
                75,
                "share of memory for a JVM heap (-Xmx and -Xms)",
                "HEAP_SIZE=$(($MEMORY_LIMIT_MB * 75 / 100))",
            ),
            Knob(
                "gomemlimit_percent",
                "percent",
                90,
                "share of a memory limit for GOMEMLIMIT (automemlimit's 0.9)",
            ),
            Knob(
                "use_requests",
                "bool",
                True,
                "size from requests when no limit is set",
            ),
            Knob(
                "respect_affinity",
                "bool",
                True,
                "never count more CPUs than the process may run on (sched_getaffinity)",
            ),
            Knob(
                "fallback",
                "choice",
                "auto",
                "with neither limit nor request: 'host' (this machine's CPUs and memory), "
                "'defaults' (the values below) or 'auto' (defaults inside Kubernetes, where "
                "the host is a shared node; the host elsewhere)",
                "get_resource_limits() error handling",
                choices=("auto", "host", "defaults"),
            ),
            Knob(
                "default_millicores",
                "millicores",
                500,
                "CPU assumed when nothing is known",
                "'cpu_millicores': 500",
                minimum=1,
            ),
            Knob(
                "default_memory_mb",
                "mb",
                512,
                "memory assumed when nothing is known",
                "'memory_mb': 512",
                minimum=1,
            ),
            Knob(
                "node_allocatable_millicores",
                "millicores",
                None,
                "the node's allocatable CPU, if known: a CPU limit equal to it is taken as "
                "'no limit set'",
                minimum=1,
                optional=True,
            ),
            Knob(
                "node_allocatable_memory_mb",
                "mb",
                None,
                "the node's allocatable memory, if known: a memory limit equal to it is taken "
                "as 'no limit set'",
                minimum=1,
                optional=True,
            ),
        )
    }
)


class _Invalid(ValueError):
    """A knob value breaks its rule; the caller adds where it came from."""


def _check(knob: Knob, value: object) -> object:
    """``value`` if it satisfies ``knob``'s rule (typed values, as code would pass them)."""
    if value is None:
        if knob.optional:
            return None
        msg = f"{knob.name} must not be None"
        raise _Invalid(msg)
    if knob.kind == "bool":
        if not isinstance(value, bool):
            msg = f"{knob.name} must be true or false"
            raise _Invalid(msg)
        return value
    if knob.kind == "choice":
        if value not in knob.choices:
            msg = f"{knob.name} must be one of {', '.join(knob.choices)}"
            raise _Invalid(msg)
        return value
    if knob.kind == "percent":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 100:
            msg = f"{knob.name} must be a number above 0 and at most 100"
            raise _Invalid(msg)
        return value
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not knob.minimum <= value <= knob.maximum
    ):
        raise _Invalid(_range_rule(knob))
    return value


def _range_rule(knob: Knob, example: str = "") -> str:
    unit = {"millicores": " (millicores", "mb": " (MiB"}.get(knob.kind, "")
    if unit:
        unit += f", or a quantity like {example})" if example else ")"
    return f"{knob.name} must be a whole number from {knob.minimum} to {knob.maximum}{unit}"


def _parse(knob: Knob, raw: object) -> object:
    """A knob value from text (env, ``--set``) or a file's typed value."""
    if not isinstance(raw, str):
        return _check(knob, raw)
    text = raw.strip()
    if knob.optional and text.lower() in _NONE:
        return None
    if knob.kind == "bool":
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        msg = f"{knob.name} must be one of 1/true/yes/on or 0/false/no/off"
        raise _Invalid(msg)
    if knob.kind == "choice":
        return _check(knob, text.lower())
    if knob.kind == "percent":
        try:
            number: float = int(text) if text.isdigit() else float(text)
        except ValueError:
            number = -1.0
        if not math.isfinite(number):
            number = -1.0
        return _check(knob, number)
    if text.isascii() and text.isdigit():
        # int() refuses more than 4300 digits; 20 are already beyond every range.
        digits = text.lstrip("0")
        return _check(knob, int(digits or "0") if len(digits) <= 20 else knob.maximum + 1)
    if knob.kind in ("millicores", "mb") and text:
        amount = _quantity(knob, text)
        if amount is not None:
            return _check(knob, amount)
    raise _Invalid(_range_rule(knob, {"millicores": "250m", "mb": "256Mi"}.get(knob.kind, "")))


def _quantity(knob: Knob, text: str) -> int | None:
    """Millicores or MiB (rounded up, like a ``1Mi`` divisor) of a Kubernetes quantity."""
    from podself.quantity import Quantity  # only for unit-carrying values

    try:
        quantity = Quantity.parse(text)
    except ValueError:
        return None
    if quantity.sign() < 0:
        return None
    if knob.kind == "millicores":
        if quantity > Quantity.from_milli(knob.maximum):
            return knob.maximum + 1  # out of range, without computing a huge number
        return int(quantity.milli_value())
    if quantity > Quantity.from_int(knob.maximum * MIB):
        return knob.maximum + 1
    return -(-int(quantity.value()) // MIB)


def _where_text(where: str, raw: object) -> str:
    shown = raw if isinstance(raw, str) else repr(raw)
    if len(shown) > 60:  # a hostile value stays readable in the message
        shown = shown[:57] + "..."
    return f'{where}="{shown}"' if isinstance(raw, str) else f"{where}={shown}"


# -- policy -----------------------------------------------------------------------------------


class Policy(Record):
    """Every knob of the sizing rules; the defaults reproduce the seed's formulas.

    Build one in code (``Policy(worker_memory_mb=150)``), from env (:meth:`from_env`), from a
    file (:meth:`from_file`) or by layering (:meth:`override`). Invalid values raise
    :class:`~podself.errors.SourceError` naming the knob, the rule and the value. ``warnings``
    holds the problems a non-strict load skipped (not part of equality).
    """

    __slots__ = (*KNOBS, "warnings")
    rounding: str
    millicores_per_worker: int
    min_workers: int
    max_workers: int | None
    worker_memory_mb: int | None
    threads_per_cpu: int
    reserve_millicores: int
    reserve_memory_mb: int
    cache_percent: int | float
    connection_mb: int
    min_connections: int
    max_connections: int | None
    heap_percent: int | float
    gomemlimit_percent: int | float
    use_requests: bool
    respect_affinity: bool
    fallback: str
    default_millicores: int
    default_memory_mb: int
    node_allocatable_millicores: int | None
    node_allocatable_memory_mb: int | None
    warnings: tuple[str, ...]

    def __init__(
        self,
        *,
        rounding: str = "floor",
        millicores_per_worker: int = 1000,
        min_workers: int = 1,
        max_workers: int | None = None,
        worker_memory_mb: int | None = DEFAULT_WORKER_MEMORY_MB,
        threads_per_cpu: int = 1,
        reserve_millicores: int = 0,
        reserve_memory_mb: int = 0,
        cache_percent: int | float = 25,
        connection_mb: int = 32,
        min_connections: int = 1,
        max_connections: int | None = None,
        heap_percent: int | float = 75,
        gomemlimit_percent: int | float = 90,
        use_requests: bool = True,
        respect_affinity: bool = True,
        fallback: str = "auto",
        default_millicores: int = 500,
        default_memory_mb: int = 512,
        node_allocatable_millicores: int | None = None,
        node_allocatable_memory_mb: int | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        values = {
            "rounding": rounding,
            "millicores_per_worker": millicores_per_worker,
            "min_workers": min_workers,
            "max_workers": max_workers,
            "worker_memory_mb": worker_memory_mb,
            "threads_per_cpu": threads_per_cpu,
            "reserve_millicores": reserve_millicores,
            "reserve_memory_mb": reserve_memory_mb,
            "cache_percent": cache_percent,
            "connection_mb": connection_mb,
            "min_connections": min_connections,
            "max_connections": max_connections,
            "heap_percent": heap_percent,
            "gomemlimit_percent": gomemlimit_percent,
            "use_requests": use_requests,
            "respect_affinity": respect_affinity,
            "fallback": fallback,
            "default_millicores": default_millicores,
            "default_memory_mb": default_memory_mb,
            "node_allocatable_millicores": node_allocatable_millicores,
            "node_allocatable_memory_mb": node_allocatable_memory_mb,
        }
        for name, value in values.items():
            try:
                _check(KNOBS[name], value)
            except _Invalid as exc:
                msg = f"policy {_where_text(name, value)}: {exc}"
                raise SourceError(msg) from None
        if max_workers is not None and max_workers < min_workers:
            msg = f"policy max_workers={max_workers}: must be >= min_workers={min_workers}"
            raise SourceError(msg)
        if max_connections is not None and max_connections < min_connections:
            msg = (
                f"policy max_connections={max_connections}: must be >= min_connections="
                f"{min_connections}"
            )
            raise SourceError(msg)
        self._init(**values, warnings=tuple(warnings))

    @classmethod
    def _fields(cls) -> tuple[str, ...]:
        # Equality, hashing and repr cover the knobs, not how they were loaded.
        return tuple(KNOBS)

    def replace(self, **changes: Any) -> Policy:
        """A copy with some knobs changed (validated like the constructor)."""
        values: dict[str, Any] = {**self.to_dict(), "warnings": self.warnings, **changes}
        return Policy(**values)

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        file: str | os.PathLike[str] | None = None,
        strict: bool = True,
    ) -> Policy:
        """Defaults, then a policy file, then each ``PODSELF_<KNOB>`` env var.

        The file is ``file`` if given, else ``$PODSELF_POLICY_FILE`` if set. An empty variable
        counts as unset. ``strict`` (the default) raises ``SourceError`` for a bad value or
        file; otherwise it is skipped and the problem lands on ``warnings``.
        """
        env = os.environ if environ is None else environ
        base = cls()
        warnings: list[str] = []
        path = os.fspath(file) if file is not None else env.get(ENV_PREFIX + "POLICY_FILE", "")
        if path.strip():
            try:
                base = cls.from_file(path, strict=strict)
            except SourceError as exc:
                if strict:
                    raise
                warnings.append(f"{exc}; policy file ignored")
            warnings.extend(base.warnings)
        settings: dict[str, object] = {}
        for name, knob in KNOBS.items():
            raw = env.get(knob.env)
            if raw is None or not raw.strip():
                continue
            try:
                settings[name] = _parse(knob, raw)
            except _Invalid as exc:
                msg = f"{_where_text('env ' + knob.env, raw)}: {exc}"
                if strict:
                    raise SourceError(msg) from None
                warnings.append(f"{msg}; using {name}={getattr(base, name)!r}")
        return base._layer(settings, "env", strict, warnings)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, strict: bool = True) -> Policy:
        """Knobs from a TOML file (or JSON when the name ends in ``.json``).

        Keys are knob names, at the top level or under a ``[tuning]`` table; values are typed
        (``min_workers = 2``, ``use_requests = false``) or strings as in env
        (``reserve_memory_mb = "256Mi"``). Unknown keys and unreadable files raise
        ``SourceError``; bad values too unless ``strict=False`` (then they are skipped with a
        warning).
        """
        where = f'policy file "{os.fspath(path)}"'
        from podself.atomic import read_file

        try:
            data = read_file(path, max_bytes=_MAX_POLICY_BYTES)
        except OSError as exc:
            msg = f"{where}: cannot be read ({exc.strerror or exc})"
            raise SourceError(msg) from None
        table: object
        kind = "JSON" if os.fspath(path).endswith(".json") else "TOML"
        try:
            if kind == "JSON":
                import json  # only policy files need a parser

                table = json.loads(data)
            else:
                import tomllib  # only policy files need a parser

                table = tomllib.loads(data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            msg = f"{where}: not valid {kind} ({exc})"
            raise SourceError(msg) from None
        except RecursionError:
            # Both parsers recurse per level; a policy is a flat table of knob = value.
            msg = f"{where}: not valid {kind} (nested too deeply; expected a table of knob = value)"
            raise SourceError(msg) from None
        if isinstance(table, dict) and isinstance(table.get(_FILE_TABLE), dict):
            table = table[_FILE_TABLE]
        if not isinstance(table, dict):
            msg = f"{where}: expected a table of knob = value"
            raise SourceError(msg)
        unknown = sorted(k for k in table if k not in KNOBS)
        if unknown:
            msg = f"{where}: unknown knob {unknown[0]!r}; known: {', '.join(KNOBS)}"
            raise SourceError(msg)
        return cls()._layer(table, where, strict, [])

    def override(self, settings: Mapping[str, object], *, origin: str = "code") -> Policy:
        """A copy with ``settings`` (knob name or ``PODSELF_*`` name -> value or text) applied.

        Raises ``SourceError`` naming ``origin``, the knob, the rule and the value.
        """
        resolved: dict[str, object] = {}
        for key, value in settings.items():
            name = key.lower().removeprefix(ENV_PREFIX.lower())
            if name not in KNOBS:
                msg = f"{origin} {key!r}: unknown knob; known: {', '.join(KNOBS)}"
                raise SourceError(msg)
            resolved[name] = value
        return self._layer(resolved, origin, True, list(self.warnings))

    def _layer(
        self, settings: Mapping[str, object], origin: str, strict: bool, warnings: list[str]
    ) -> Policy:
        values: dict[str, object] = {}
        for name, raw in settings.items():
            knob = KNOBS[name]
            try:
                values[name] = _parse(knob, raw)
            except _Invalid as exc:
                msg = f"{origin} {_where_text(name, raw)}: {exc}"
                if strict:
                    raise SourceError(msg) from None
                warnings.append(f"{msg}; using {name}={getattr(self, name)!r}")
        try:
            return self.replace(**values, warnings=tuple(warnings))
        except SourceError as exc:
            if strict:
                msg = f"{origin}: {exc}"
                raise SourceError(msg) from None
            warnings.append(f"{origin}: {exc}; those settings ignored")
            return self.replace(warnings=tuple(warnings))

    def to_dict(self) -> dict[str, object]:
        """Knob name -> value."""
        return {name: getattr(self, name) for name in KNOBS}

"""Who and where this pod is, and what it may use, with the provenance of every value.

``read()`` gathers identity and limits from, in order: env vars (every common naming
convention, see ``podself.names``), Downward API volume files (read through ``..data`` so a
concurrent kubelet update is never seen half-written), then fallbacks (the service-account
``namespace`` file and token claims, ``HOSTNAME``, the kubelet-managed ``/etc/hosts``, the pod
UID and limits in cgroups) and finally caller-supplied defaults. It never raises for missing or
malformed data: each problem becomes a warning on the result and on the ``podself`` logger;
``strict=True`` raises instead.

The records it returns are in ``podself.podinfo`` (re-exported here). The reader stays one
module on purpose: precedence and cross-checks span every source (a volume file overrides env
after a resize, the cgroup overrides both beyond rounding, a root file gives way to the
container's own directory), and they read best in one place, in the order they run.
"""

from __future__ import annotations

import os

from podself import names as _names
from podself.errors import CgroupError, FormatError, PodselfError, SourceError
from podself.podinfo import (
    EXTRA_RESOURCES,
    SOURCE_KEYS,
    PodInfo,
    Resources,
    Source,
    Workload,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping
    from typing import TypeVar

    _T = TypeVar("_T")

    from podself.cgroups import CgroupLimits

__all__ = [
    "DEFAULT_PODINFO_DIRS",
    "DEFAULT_SERVICEACCOUNT_DIR",
    "PodInfo",
    "Resources",
    "Source",
    "Workload",
    "default_podinfo_dirs",
    "read",
]

DEFAULT_PODINFO_DIRS = ("/etc/podinfo",)
DEFAULT_SERVICEACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
DEFAULT_HOSTS_FILE = "/etc/hosts"

_INT64_MAX = (1 << 63) - 1
# The safe-encoding alphabet of generated name suffixes and pod-template hashes.
_SAFE_ALPHABET = frozenset("bcdfghjklmnpqrstvwxz2456789")


_MAP_FILES = ("labels", "annotations")
# The largest Downward API file read, by attribute, from the API's rules plus 2 bytes for a
# hand-written line ending: a namespace is a DNS-1123 label (<= 63 bytes), other names are
# DNS-1123 subdomains (<= 253 bytes, also ample for a UID); an int64 amount has <= 19 digits.
# labels and annotations get atomic.MAX_READ_BYTES (annotations total <= 256 KiB, <= 1.25 MiB
# once quoted).
_IDENTITY_FILE_LIMITS = {"namespace": 63 + 2}
_NAME_FILE_LIMIT = 253 + 2
_AMOUNT_FILE_LIMIT = 64
# Container directories read under a volume's containers/: more than any real pod has.
_MAX_CONTAINER_DIRS = 256
_HOSTS_LIMIT = 1 << 20
_FILE_LIMITS: dict[str, int] | None = None


def _file_limits() -> Mapping[str, int]:
    """Podinfo file name -> the most bytes read from it (built once)."""
    global _FILE_LIMITS
    if _FILE_LIMITS is None:
        _FILE_LIMITS = {
            name: (
                _IDENTITY_FILE_LIMITS.get(attr, _NAME_FILE_LIMIT)
                if not divisor
                else _AMOUNT_FILE_LIMIT
            )
            for name, (attr, divisor) in _names.file_table().items()
        }
    return _FILE_LIMITS


def read(
    *,
    environ: Mapping[str, str] | None = None,
    podinfo_dirs: Iterable[str | os.PathLike[str]] | None = None,
    cgroup_root: str | os.PathLike[str] | None = None,
    proc_root: str | os.PathLike[str] | None = None,
    serviceaccount_dir: str | os.PathLike[str] | None = None,
    hosts_file: str | os.PathLike[str] | None = None,
    env_map: Mapping[str, str] | None = None,
    overrides: Mapping[str, object] | None = None,
    defaults: Mapping[str, object] | None = None,
    strict: bool = False,
    override_origins: Mapping[str, str] | None = None,
) -> PodInfo:
    """Read this pod's identity and limits; never raises unless ``strict``.

    Args:
        environ: env vars to read (default ``os.environ``).
        podinfo_dirs: Downward API volume directories (default ``$PODSELF_PODINFO_DIR``
            split on ``os.pathsep``, else ``/etc/podinfo``); earlier directories win.
        cgroup_root: prepended to the cgroup mount points found in mountinfo (default ``/``).
        proc_root: replaces ``/proc``.
        serviceaccount_dir: replaces ``/var/run/secrets/kubernetes.io/serviceaccount``.
        hosts_file: replaces ``/etc/hosts``.
        env_map: extra env names -> target, e.g. ``{"CPU_LIMIT": "resources.cpu_limit@1m"}``;
            the divisor after ``@`` is the one in your manifest. These win over built-in names.
        overrides: attribute path -> value that wins over every source (``Source.ARGUMENT``).
        override_origins: attribute path -> where its override came from, shown as its
            source (e.g. ``{"cpu_limit": "--cpu 2"}``; default ``read(overrides=...)``).
        defaults: attribute path -> value used when no source knows it (``Source.DEFAULT``).
        strict: raise ``podself.errors.SourceError`` / ``FormatError`` / ``CgroupError`` at
            the first malformed value instead of warning and falling back.

    With ``$PODSELF_ROOT`` set (a local emulator without mount namespaces), default paths
    are looked up under that root; ``$PODSELF_PROC_ROOT`` replaces ``/proc`` (and only then
    are cgroup mount points looked up under ``$PODSELF_ROOT`` too).
    """
    args: dict[str, object] = {
        "environ": environ,
        "podinfo_dirs": None if podinfo_dirs is None else tuple(podinfo_dirs),
        "cgroup_root": cgroup_root,
        "proc_root": proc_root,
        "serviceaccount_dir": serviceaccount_dir,
        "hosts_file": hosts_file,
        "env_map": env_map,
        "overrides": overrides,
        "defaults": defaults,
        "strict": strict,
    }
    reader = _Reader(environ if environ is not None else os.environ, strict)
    root = reader.env.get("PODSELF_ROOT", "")
    if podinfo_dirs is None:
        dirs = default_podinfo_dirs(reader.env)
    else:
        dirs = [os.fspath(d) for d in podinfo_dirs]
    sa_dir = (
        os.fspath(serviceaccount_dir)
        if serviceaccount_dir is not None
        else root + DEFAULT_SERVICEACCOUNT_DIR
    )
    hosts = os.fspath(hosts_file) if hosts_file is not None else root + DEFAULT_HOSTS_FILE

    if overrides:
        reader.apply(overrides, Source.ARGUMENT, "read(overrides=...)", origins=override_origins)
    reader.read_env(env_map)
    for directory in dirs:
        reader.guarded(f"podinfo dir {directory}", reader.read_podinfo, directory)
    reader.apply_root_resource_files()
    fake_proc = reader.env.get("PODSELF_PROC_ROOT")
    # A local emulator relocates volumes with PODSELF_ROOT but its containers live in the
    # host's real cgroups; only a fake /proc describes mounts under the fake root.
    limits = reader.guarded(
        "cgroups",
        reader.read_cgroups,
        os.fspath(proc_root) if proc_root is not None else (fake_proc or "/proc"),
        os.fspath(cgroup_root)
        if cgroup_root is not None
        else ((root or "/") if fake_proc else "/"),
    )
    reader.guarded("fallbacks", reader.read_fallbacks, sa_dir, hosts, limits)
    reader.guarded(
        "gpus",
        reader.read_gpus,
        os.fspath(proc_root) if proc_root is not None else (fake_proc or "/proc"),
    )
    if defaults:
        reader.apply(defaults, Source.DEFAULT, "read(defaults=...)", only_missing=True)
    return reader.build(args)


def default_podinfo_dirs(environ: Mapping[str, str] | None = None) -> list[str]:
    """The Downward API directories :func:`read` looks at by default: ``$PODSELF_PODINFO_DIR``
    (``os.pathsep``-separated), else ``/etc/podinfo`` under ``$PODSELF_ROOT``."""
    env = os.environ if environ is None else environ
    configured = env.get("PODSELF_PODINFO_DIR", "")
    root = env.get("PODSELF_ROOT", "")
    return [d for d in configured.split(os.pathsep) if d] or [
        root + d for d in DEFAULT_PODINFO_DIRS
    ]


class _Reader:
    """Accumulates values, sources and warnings for one ``read()``."""

    def __init__(self, env: Mapping[str, str], strict: bool) -> None:
        self.env = env
        self.strict = strict
        self.values: dict[str, object] = {}
        self.sources: dict[str, Source] = {}
        self.warnings: list[str] = []
        self.labels: dict[str, str] | None = None
        self.annotations: dict[str, str] | None = None
        self.limits: CgroupLimits | None = None
        self.otel_workload: tuple[str, str, str] | None = None
        self.app: dict[str, str] = {}
        self.in_kubernetes = False
        # Resource files at a volume's root, which name no container: (attribute, amount,
        # source), applied after every volume was read unless this container's own
        # containers/<name>/ directory was found.
        self.root_resources: list[tuple[str, int, Source]] = []
        self.own_dir_found = False
        # Resource keys whose value came from a root file (the cgroup check explains them).
        self.from_root_file: set[str] = set()
        # container name -> attribute -> (amount, source), from containers/<name>/ files.
        self.containers: dict[str, dict[str, tuple[int, Source]]] = {}
        # (governing service, cluster domain, hosts file) from a kubelet-managed /etc/hosts
        self.hosts_service: tuple[str, str, str] | None = None

    # -- bookkeeping -------------------------------------------------------------------

    def warn(self, message: str, error: type[Exception] = SourceError) -> None:
        if self.strict:  # nothing is ignored in strict mode: the message says what is wrong
            raise error(message.replace("; ignored", "", 1))
        self.warnings.append(message)

    def guarded(self, what: str, step: Callable[..., _T], *args: object) -> _T | None:
        """``step(*args)``; an unexpected failure becomes a warning: ``read()`` never raises."""
        try:
            return step(*args)
        except Exception as exc:
            if self.strict and isinstance(exc, PodselfError):
                raise
            self.warn(f"{what}: {type(exc).__name__}: {exc}; ignored")
            return None

    def set(self, key: str, value: object, source: Source) -> bool:
        """Record ``value`` unless a higher-priority source already set ``key``."""
        if key in self.values:
            return False
        self.values[key] = value
        self.sources[key] = source
        return True

    def apply(
        self,
        values: Mapping[str, object],
        kind: str,
        origin: str,
        only_missing: bool = False,
        origins: Mapping[str, str] | None = None,
    ) -> None:
        for key, value in values.items():
            path = key if key in SOURCE_KEYS else f"resources.{key}"
            if path not in SOURCE_KEYS:
                msg = f"{origin}: unknown attribute {key!r}; known: {', '.join(SOURCE_KEYS)}"
                raise ValueError(msg)
            if only_missing and path in self.values:
                continue
            if path in ("labels", "annotations") and isinstance(value, dict):
                setattr(self, path, dict(value))
            self.values.setdefault(path, value)
            self.sources.setdefault(path, Source(kind, (origins or {}).get(key, origin)))

    # -- env ---------------------------------------------------------------------------

    def read_env(self, env_map: Mapping[str, str] | None) -> None:
        table = _names.env_table()
        hits: dict[str, list[tuple[int, str, str, int]]] = {}
        for var, target in (env_map or {}).items():
            attr, divisor = _names.parse_target(target)
            unit = _unit_of(attr, divisor) if divisor else 1
            hits.setdefault(attr, []).append((-1, var, divisor, unit))
        env = self.env
        for var in env:
            entry = table.get(var)
            if entry is None and not (env_map and var in env_map):
                entry = _names.prefixed_resource(var)
                if entry is None and env[var].strip() and _names.looks_like_resource(var):
                    self._unreadable_resource_name(var)
            if entry is not None:
                attr, rank, divisor, unit = entry
                hits.setdefault(attr, []).append((rank, var, divisor, unit))
        for attr, candidates in hits.items():
            candidates.sort()
            chosen: tuple[str, str, object] | None = None
            for _, var, divisor, unit in candidates:
                if var not in env:
                    continue
                raw = env[var]
                value = self._env_value(attr, var, raw, divisor, unit)
                if value is None:
                    continue
                if chosen is None:
                    chosen = (var, raw, value)
                    key = attr if attr in _names.IDENTITY_ENV else f"resources.{attr}"
                    detail = _unit_note(divisor) if divisor else ""
                    self.set(key, value, Source(Source.ENV, f"{var}{detail}"))
                elif value != chosen[2]:
                    self.warn(
                        f"env {var}={raw!r} disagrees with {chosen[0]}={chosen[1]!r}; "
                        f"using {chosen[0]}"
                    )
        self._read_otel()
        self.app = {k[4:].lower(): v for k, v in env.items() if k.startswith("APP_") and len(k) > 4}

    def _unreadable_resource_name(self, var: str) -> None:
        """A name that reads like a limit or request but names no unit podself knows."""
        if var.startswith("PODSELF_"):
            return  # podself's own knobs
        self.warn(
            f"env {var} looks like a CPU or memory limit or request, but podself cannot tell "
            "which resource and unit it holds; ignored. Name it RESOURCE_<CPU|MEMORY>_<LIMIT|"
            "REQUEST>_<UNIT> (e.g. RESOURCE_CPU_LIMIT_MILLICORES for divisor 1m, "
            "RESOURCE_MEMORY_LIMIT_MB for 1Mi) or map it, e.g. --env-map "
            f"{var}=resources.cpu_limit@1m (read(env_map=...) in code)"
        )

    def _env_value(self, attr: str, var: str, raw: str, divisor: str, unit: int) -> object:
        where = f"env {var}"
        if not divisor:
            return self._identity_value(attr, raw, where)
        return self._resource_value(attr, raw, unit, where)

    def _identity_value(self, attr: str, raw: str, where: str) -> object:
        value = raw.strip()
        if not value:
            hint = ""
            if attr in ("name", "namespace", "uid", "node_name"):
                hint = " (check the fieldRef fieldPath, e.g. metadata.name, not metadata.pod.name)"
            self.warn(f"{where} is set but empty; ignored{hint}")
            return None
        if "$(" in value:
            self.warn(f"{where}={raw!r} holds an unexpanded $(VAR) reference; ignored")
            return None
        if attr in ("pod_ip", "host_ip"):
            if not _is_ip(value):
                self.warn(f"{where}={raw!r} is not an IP address; ignored")
                return None
        elif attr in ("pod_ips", "host_ips"):
            ips = tuple(p.strip() for p in value.split(","))
            bad = [p for p in ips if not _is_ip(p)]
            if bad:
                self.warn(f"{where}={raw!r}: {bad[0]!r} is not an IP address; ignored")
                return None
            return ips
        elif len(value.split(None, 1)) > 1:
            self.warn(
                f"{where}={raw!r} contains whitespace, which no Kubernetes name does; ignored"
            )
            return None
        return value

    def _resource_value(self, attr: str, raw: str, unit: int, where: str) -> int | None:
        """Millicores or bytes from an amount in ``unit``s (what a divisor produces)."""
        text = raw.strip()
        if text.isdigit() and text.isascii():
            digits = text.lstrip("0")
            # int() refuses more than 4300 digits; anything past 20 is beyond int64 anyway.
            amount = int(digits or "0") * unit if len(digits) <= 20 else _INT64_MAX + 1
        elif text[:1] == "-" and text[1:].isdigit():
            self.warn(f"{where}={raw!r} is negative; a resource amount is >= 0; ignored")
            return None
        else:
            quantity_amount = self._quantity_amount(attr, text, unit, where, raw)
            if quantity_amount is None:
                return None
            amount = quantity_amount
        if amount > _INT64_MAX:
            self.warn(f"{where}={raw!r} is larger than any Kubernetes quantity (int64); ignored")
            return None
        return amount

    def _quantity_amount(self, attr: str, text: str, unit: int, where: str, raw: str) -> int | None:
        """A fraction or exponent (``1.5``, ``1e3``) in the name's unit, or a value that
        carries its own unit (``512Mi``), rounded up like a divisor; above int64 is left to
        the caller to report."""
        if not text:
            self.warn(f"{where} is set but empty; expected an integer; ignored")
            return None
        from podself.quantity import Quantity  # only for the rare non-integer value

        try:
            quantity = Quantity.parse(text)
        except ValueError:
            self.warn(f"{where}={raw!r} is not an integer or a Kubernetes quantity; ignored")
            return None
        if quantity.sign() < 0:
            self.warn(f"{where}={raw!r} is negative; a resource amount is >= 0; ignored")
            return None
        if quantity > Quantity.from_int(_INT64_MAX):
            return _INT64_MAX + 1
        if text[-1] in "0123456789.":
            # No unit suffix: a plain number, so the unit is the one the name implies.
            numerator, denominator = quantity.as_integer_ratio()
            return -(-numerator * unit // denominator)
        amount = quantity.milli_value() if attr.startswith("cpu") else quantity.value()
        if amount <= _INT64_MAX:
            self.warn(
                f"{where}={raw!r} carries its own unit; read as {text} although the name "
                "implies a plain number (use the divisor in the manifest instead)"
            )
        return amount

    def _read_otel(self) -> None:
        attributes = self.env.get("OTEL_RESOURCE_ATTRIBUTES")
        if not attributes:
            return
        for item in attributes.split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), _percent_decode(value.strip())
            if not sep or not key:
                continue
            if "$(" in value:
                self.warn(
                    f"env OTEL_RESOURCE_ATTRIBUTES: {key}={value!r} holds an unexpanded "
                    "$(VAR) reference; ignored"
                )
                continue
            attr = _names.OTEL_KEYS.get(key)
            if attr is not None and value:
                where = f"env OTEL_RESOURCE_ATTRIBUTES {key}"
                checked = self._identity_value(attr, value, where)
                if checked is not None:
                    source = Source(Source.ENV, f"OTEL_RESOURCE_ATTRIBUTES {key}")
                    self._set_checked(attr, checked, source)
            elif key.startswith("k8s.") and key.endswith(".name") and value:
                kind = _OTEL_WORKLOADS.get(key[4:-5])
                if kind and self.otel_workload is None:
                    self.otel_workload = (kind, value, key)

    # -- Downward API volume ------------------------------------------------------------

    def read_podinfo(self, directory: str) -> None:
        from podself.atomic import MAX_SNAPSHOT_FILES, read_snapshot

        table = _names.file_table()
        budget = [MAX_SNAPSHOT_FILES]
        try:
            # Only the names podself knows, each within its own bound: a volume may hold
            # anything, and nothing else in it is ever read.
            top = self._list(directory, budget)
            wanted = [n for n in top if n in table or n in _MAP_FILES]
            limits = _file_limits()
            if _names.CONTAINERS_DIR in top:
                per_container = self._container_files(directory, budget)
                wanted += per_container
                limits = {**limits, **dict.fromkeys(per_container, _AMOUNT_FILE_LIMIT)}
            snapshot = read_snapshot(directory, sorted(wanted), max_bytes=limits)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            self.warn(f"podinfo dir {directory}: cannot read: {exc.strerror or exc}")
            return
        for problem in snapshot.warnings:
            self.warn(f"podinfo dir {problem}")
        noted = "\n".join(snapshot.warnings)
        for missing in snapshot.missing:
            if f'/{missing}": ' not in noted:
                self.warn(f"podinfo file {directory}/{missing}: unreadable; ignored")
        for file_name, data in snapshot.files.items():
            where = f"{directory}/{file_name}"
            source = Source(Source.DOWNWARD, where)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self.warn(f"podinfo file {where}: not UTF-8; ignored", FormatError)
                continue
            if file_name in _MAP_FILES:
                self._read_map(file_name, text, where, source)
                continue
            holder, _, base = file_name.rpartition("/")
            attr, divisor = table[base]
            if not divisor:
                value = self._identity_value(attr, text, f"podinfo file {where}")
                if value is not None:
                    self._set_checked(attr, value, source)
                continue
            amount = self._resource_value(
                attr, text, _unit_of(attr, divisor), f"podinfo file {where}"
            )
            if amount is None:
                continue
            if holder:  # containers/<name>
                self._container_value(holder.partition("/")[2], attr, amount, source)
            else:
                self.root_resources.append((attr, amount, source))

    def _list(self, directory: str, budget: list[int]) -> list[str]:
        """The entry names of ``directory``; ``budget[0]`` entries at most in the whole volume
        (``atomic.MAX_SNAPSHOT_FILES``), counted down, and -1 once that was reported."""
        names = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if budget[0] <= 0:
                    if budget[0] == 0:
                        from podself.atomic import MAX_SNAPSHOT_FILES

                        budget[0] = -1
                        self.warn(
                            f"podinfo dir {directory}: more than {MAX_SNAPSHOT_FILES} entries "
                            "in the volume; the rest ignored"
                        )
                    break
                budget[0] -= 1
                names.append(entry.name)
        return names

    def _container_files(self, directory: str, budget: list[int]) -> list[str]:
        """``containers/<name>/<file>`` for every resource file name podself knows, in at
        most ``_MAX_CONTAINER_DIRS`` directories named like containers."""
        table = _names.file_table()
        base = f"{directory}/{_names.CONTAINERS_DIR}"
        own = self.values.get("container")
        found: list[str] = []
        bad: list[str] = []
        dirs = 0
        try:
            names = sorted(self._list(base, budget))
        except OSError as exc:
            self.warn(f"podinfo dir {base}: cannot read: {exc.strerror or exc}")
            return []
        for name in names:
            if not _names.is_container_name(name):
                bad.append(name)
                continue
            dirs += 1
            if dirs > _MAX_CONTAINER_DIRS:
                self.warn(
                    f"podinfo dir {base}: more than {_MAX_CONTAINER_DIRS} container directories; "
                    "the rest ignored"
                )
                break
            try:
                files = self._list(f"{base}/{name}", budget)
            except (FileNotFoundError, NotADirectoryError):
                continue  # removed by a newer version, or a stray file
            except OSError as exc:
                self.warn(f"podinfo dir {base}/{name}: cannot read: {exc.strerror or exc}")
                continue
            if name == own:
                self.own_dir_found = True
            for file_name in files:
                entry = table.get(file_name)
                if entry is not None and entry[1]:
                    found.append(_names.container_file(name, file_name))
        if bad:
            self.warn(
                f"podinfo dir {base}: {len(bad)} entries are not container names "
                f"(DNS-1123 labels), e.g. {bad[0]!r}; ignored"
            )
        return found

    def _container_value(self, container: str, attr: str, amount: int, source: Source) -> None:
        """A value of ``containers/<container>/``: the container's, and this container's own
        when it is this container's name."""
        self.containers.setdefault(container, {}).setdefault(attr, (amount, source))
        if container == self.values.get("container"):
            self._set_resource_from_volume(attr, amount, source)

    def apply_root_resource_files(self) -> None:
        """Resource files at a volume's root name no container: read them as this container's
        own (older ``podself inject`` output, hand-written manifests) unless its own
        ``containers/<name>/`` directory was found; the cgroup check then has the last word."""
        if self.own_dir_found:
            return
        for attr, amount, source in self.root_resources:
            self._set_resource_from_volume(attr, amount, source)
            key = f"resources.{attr}"
            if self.sources.get(key) is source:
                self.from_root_file.add(key)

    def _read_map(self, kind: str, text: str, where: str, source: Source) -> None:
        from podself.downward import parse_map

        if getattr(self, kind) is not None:
            return
        try:
            mapping = parse_map(text, source=f"{kind} file")
        except FormatError as exc:
            self.warn(f"podinfo file {where}: {exc}; ignored", FormatError)
            return
        setattr(self, kind, mapping)
        self.set(kind, mapping, source)

    def _set_checked(self, attr: str, value: object, source: Source) -> None:
        if not self.set(attr, value, source) and self.values[attr] != value:
            first = self.sources[attr]
            self.warn(
                f"{source.origin}={value!r} disagrees with {first.origin}="
                f"{self.values[attr]!r}; using {first.origin}"
            )

    def _set_resource_from_volume(self, attr: str, amount: int, source: Source) -> None:
        # A volume file is refreshed after an in-place resize while env stays as it was at
        # container start, so a disagreeing volume value is the newer one.
        key = f"resources.{attr}"
        previous = self.sources.get(key)
        if previous is None:
            self.set(key, amount, source)
        elif previous.kind == Source.ENV and self.values[key] != amount:
            self.warnings.append(
                f"{source.origin} says {attr}={amount} but {previous.origin} says "
                f"{self.values[key]}; believing the volume (refreshed after an in-place "
                "resize; env is fixed at container start)"
            )
            self.values[key] = amount
            self.sources[key] = source

    # -- cgroups -----------------------------------------------------------------------

    def read_cgroups(self, proc_root: str, fs_root: str) -> CgroupLimits | None:
        from podself.cgroups import read_limits

        try:
            limits = read_limits(proc_root=proc_root, fs_root=fs_root, strict=self.strict)
        except CgroupError:
            raise
        except OSError as exc:  # read_limits reports problems itself; this is a last guard
            self.warn(f"cgroups: {exc}", CgroupError)
            return None
        self.warnings.extend(limits.warnings)
        self.limits = limits
        self._cross_check("cpu_limit", limits.cpu_limit_millicores, limits.cpu_source, "m")
        self._cross_check("memory_limit", limits.memory_limit_bytes, limits.memory_source, "B")
        if limits.memory_high_bytes is not None:
            source = Source(Source.CGROUP, limits.memory_high_source or "memory.high")
            self.set("resources.memory_high", limits.memory_high_bytes, source)
        if limits.cpu_request_millicores is not None and limits.pod_uid is not None:
            self.set(
                "resources.cpu_request",
                limits.cpu_request_millicores,
                Source(Source.CGROUP, "cpu.weight / cpu.shares of the pod's cgroup (approximate)"),
            )
        return limits

    def _cross_check(self, attr: str, kernel: int | None, origin: str | None, unit: str) -> None:
        key = f"resources.{attr}"
        limits = self.limits
        assert limits is not None
        declared = self.values.get(key)
        if declared is None:
            if kernel is not None:
                self.set(key, kernel, Source(Source.CGROUP, origin or "cgroup"))
            return
        source = self.sources[key]
        if source.kind not in (Source.ENV, Source.DOWNWARD):
            return
        assert isinstance(declared, int)
        if kernel is None:
            if limits.pod_uid is not None:
                # In a Kubernetes pod cgroup with no limit anywhere: the kubelet reported node
                # allocatable because the container sets no limit.
                self.warnings.append(
                    f"{source.origin} says {attr}={declared}{unit} but the pod's cgroup sets no "
                    "limit: Kubernetes reports node allocatable when a container has no limit; "
                    f"treating it as unlimited{self._root_file_hint(key, source)}"
                )
                self.values[key] = None
                self.sources[key] = Source(Source.CGROUP, "no limit in the pod's cgroup")
            return
        # Divisors round up, so the declared value may exceed the kernel's by one unit.
        tolerance = _declared_unit(source.origin, attr)
        if abs(declared - kernel) < max(tolerance, 4096 if unit == "B" else 1):
            return
        hint = _divisor_hint(source, attr, declared, kernel) or self._root_file_hint(key, source)
        self.warnings.append(
            f"{source.origin} says {attr}={declared}{unit} but {origin} enforces {kernel}{unit}; "
            "believing the cgroup (the kernel enforces it; env is fixed at container start and "
            f"reports node allocatable when no limit is set){hint}"
        )
        self.values[key] = kernel
        self.sources[key] = Source(Source.CGROUP, origin or "cgroup")

    def _root_file_hint(self, key: str, source: Source) -> str:
        """For a value read from a file at a volume's root, which names no container: the
        likely cause of a disagreement with the cgroup and the fix; else ``""``."""
        if key not in self.from_root_file:
            return ""
        own = self.values.get("container")
        name = own if isinstance(own, str) else "<this container>"
        file_name = source.origin.rpartition("/")[2]
        return (
            f". {source.origin} names no container: if its item's resourceFieldRef.containerName "
            "names another container, it holds that container's value; give each container its "
            f"own item path {_names.container_file(name, file_name)} with containerName: {name} "
            "and its name in K8S_CONTAINER_NAME (podself inject does both)"
        )

    # -- GPUs --------------------------------------------------------------------------

    def read_gpus(self, proc: str) -> None:
        """GPUs visible to this container: the Downward API cannot say (the API server refuses
        ``limits.nvidia.com/gpu`` in a resourceFieldRef), the NVIDIA runtime's env and driver can.
        """
        driver = f"{proc.rstrip('/')}/driver/nvidia/gpus"
        exposed = self._gpu_list("NVIDIA_VISIBLE_DEVICES", driver)
        narrowed = self._gpu_list("CUDA_VISIBLE_DEVICES", driver)
        if exposed is None and narrowed is None:
            found = _count_entries(driver, _MAX_GPUS)
            if found:
                self.set("resources.gpus", found, Source(Source.FALLBACK, driver))
            return
        # CUDA_VISIBLE_DEVICES picks among the devices the runtime exposed.
        if narrowed is not None and (exposed is None or narrowed[0] <= exposed[0]):
            count, origin = narrowed
        else:
            assert exposed is not None
            count, origin = exposed
        self.set("resources.gpus", count, Source(Source.ENV, origin))

    def _gpu_list(self, var: str, driver: str) -> tuple[int, str] | None:
        """(count, origin) from a device list env var, or None when unset or unknown."""
        raw = self.env.get(var)
        if raw is None:
            return None
        text = raw.strip()
        if var == "NVIDIA_VISIBLE_DEVICES":
            if text in ("", "void", "none"):
                return 0, f"{var}={text or '(empty)'}"
            if text == "all":
                found = _count_entries(driver, _MAX_GPUS)
                if found is None:
                    return None  # every GPU of the node: only the driver can count them
                return found, f"{var}=all ({driver})"
        devices: set[str] = set()
        for item in text.split(",", _MAX_GPUS + 1)[: _MAX_GPUS + 1]:
            token = item.strip()
            # CUDA stops at the first entry that names no device ("-1" hides the rest).
            if not (token.isdigit() or token.startswith(("GPU-", "MIG-"))):
                break
            devices.add(token)
        if len(devices) > _MAX_GPUS:
            self.warn(f"env {var} lists more than {_MAX_GPUS} devices; ignored")
            return None
        return len(devices), var

    # -- fallbacks ---------------------------------------------------------------------

    def read_fallbacks(self, sa_dir: str, hosts_file: str, limits: CgroupLimits | None) -> None:
        from podself.atomic import read_text

        self.in_kubernetes = bool(
            self.env.get("KUBERNETES_SERVICE_HOST")
            or (limits is not None and limits.pod_uid)
            or os.path.isdir(sa_dir)
        )
        if "namespace" not in self.values:
            try:
                text = read_text(sa_dir, "namespace", max_bytes=_IDENTITY_FILE_LIMITS["namespace"])
            except OSError as exc:
                self.warn(f"serviceaccount namespace file in {sa_dir}: {exc.strerror or exc}")
                text = None
            if text:
                self._fallback("namespace", text.strip(), f"{sa_dir}/namespace")
        if any(k not in self.values for k in ("name", "uid", "namespace", "service_account")):
            self._read_token_claims(sa_dir)
        if "uid" not in self.values and limits is not None and limits.pod_uid:
            self.set("uid", limits.pod_uid, Source(Source.FALLBACK, "pod UID in /proc/self/cgroup"))
        hostname = self.env.get("HOSTNAME") or (os.uname().nodename if self.in_kubernetes else "")
        if "name" not in self.values and self.in_kubernetes and hostname:
            self._fallback(
                "name",
                hostname,
                "env HOSTNAME (the pod name unless spec.hostname is set)",
            )
        self._read_hosts(hosts_file, hostname)

    def _fallback(self, attr: str, value: str, origin: str) -> None:
        checked = self._identity_value(attr, value, origin)
        if checked is not None:
            self.set(attr, checked, Source(Source.FALLBACK, origin))

    def _read_token_claims(self, sa_dir: str) -> None:
        """Identity claims of the projected service-account token (decoded, not verified)."""
        from podself.atomic import read_text

        try:
            token = read_text(sa_dir, "token")
        except OSError:
            return
        if not token:
            return
        claims = _jwt_claims(token.strip())
        if claims is None:
            self.warnings.append(f"serviceaccount token in {sa_dir}: not a readable JWT; ignored")
            return
        origin = f"{sa_dir}/token claims"
        k8s = claims.get("kubernetes.io")
        if isinstance(k8s, dict):
            found = {
                "namespace": k8s.get("namespace"),
                "name": _claim(k8s, "pod", "name"),
                "uid": _claim(k8s, "pod", "uid"),
                "service_account": _claim(k8s, "serviceaccount", "name"),
                "node_name": _claim(k8s, "node", "name"),
            }
        else:
            sub = claims.get("sub")
            parts = sub.split(":") if isinstance(sub, str) else []
            found = {
                "namespace": claims.get("kubernetes.io/serviceaccount/namespace"),
                "service_account": claims.get("kubernetes.io/serviceaccount/service-account.name")
                or (parts[3] if len(parts) == 4 and parts[1] == "serviceaccount" else None),
            }
        for attr, value in found.items():
            if isinstance(value, str) and value and attr not in self.values:
                self._fallback(attr, value, origin)

    def _read_hosts(self, hosts_file: str, hostname: str) -> None:
        """The kubelet-managed /etc/hosts names the pod IPs and, with a subdomain, the FQDN."""
        if not hostname:
            return
        from podself.atomic import read_file

        try:
            text = read_file(hosts_file, max_bytes=_HOSTS_LIMIT).decode("utf-8", "replace")
        except OSError:
            return
        if "Kubernetes-managed hosts file" not in text:
            return
        ips: list[str] = []
        fqdn = None
        for line in text.splitlines():
            fields = line.split("#", 1)[0].split()
            if len(fields) >= 2 and hostname in fields[1:] and _is_ip(fields[0]):
                if fields[0] not in ips:
                    ips.append(fields[0])
                for name in fields[1:]:
                    if name.startswith(hostname + ".") and ".svc." in name:
                        fqdn = name
        if ips and "pod_ip" not in self.values:
            self.set("pod_ip", ips[0], Source(Source.FALLBACK, f"{hosts_file} (kubelet-managed)"))
        if ips and "pod_ips" not in self.values:
            self.set(
                "pod_ips", tuple(ips), Source(Source.FALLBACK, f"{hosts_file} (kubelet-managed)")
            )
        if fqdn:
            # <hostname>.<subdomain>.<namespace>.svc.<cluster domain>
            rest = fqdn[len(hostname) + 1 :]
            subdomain, _, rest = rest.partition(".")
            _namespace, _, rest = rest.partition(".svc.")
            self.hosts_service = (subdomain, rest, hosts_file)

    # -- result ------------------------------------------------------------------------

    def build(self, args: Mapping[str, object]) -> PodInfo:
        values = self.values
        if "pod_ips" in values and "pod_ip" not in values:
            ips = values["pod_ips"]
            assert isinstance(ips, tuple)
            self.set("pod_ip", ips[0], self.sources["pod_ips"])
        if "host_ips" in values and "host_ip" not in values:
            ips = values["host_ips"]
            assert isinstance(ips, tuple)
            self.set("host_ip", ips[0], self.sources["host_ips"])
        for single, plural in (("pod_ip", "pod_ips"), ("host_ip", "host_ips")):
            if single in values and plural not in values:
                self.set(plural, (values[single],), self.sources[single])
            elif single in values and values[plural] and values[single] != values[plural][0]:  # type: ignore[index]
                self.warnings.append(
                    f"{self.sources[single].origin}={values[single]!r} is not the first of "
                    f"{self.sources[plural].origin}={values[plural]!r}; Kubernetes lists "
                    f"{single} first"
                )
        workload = self._workload()
        if self.warnings:
            _log_warnings(self.warnings)
        resources = Resources(
            **{  # type: ignore[arg-type]
                a: values.get(f"resources.{a}")
                for a in (*_names.RESOURCE_ATTRIBUTES, *EXTRA_RESOURCES)
            }
        )
        containers = {
            name: Resources(**{a: v for a, (v, _) in found.items()})
            for name, found in sorted(self.containers.items())
        }
        for name, found in self.containers.items():
            for attr, (_, source) in found.items():
                self.sources[f"containers.{name}.{attr}"] = source
        return PodInfo(
            name=values.get("name"),  # type: ignore[arg-type]
            namespace=values.get("namespace"),  # type: ignore[arg-type]
            uid=values.get("uid"),  # type: ignore[arg-type]
            pod_ip=values.get("pod_ip"),  # type: ignore[arg-type]
            pod_ips=values.get("pod_ips", ()),  # type: ignore[arg-type]
            host_ip=values.get("host_ip"),  # type: ignore[arg-type]
            host_ips=values.get("host_ips", ()),  # type: ignore[arg-type]
            node_name=values.get("node_name"),  # type: ignore[arg-type]
            service_account=values.get("service_account"),  # type: ignore[arg-type]
            container=values.get("container"),  # type: ignore[arg-type]
            labels=self.labels or values.get("labels"),  # type: ignore[arg-type]
            annotations=self.annotations or values.get("annotations"),  # type: ignore[arg-type]
            resources=resources,
            containers=containers,
            workload=workload,
            app=self.app,
            in_kubernetes=self.in_kubernetes,
            warnings=tuple(self.warnings),
            sources=self.sources,
            read_args=args,
        )

    def _workload(self) -> Workload:
        name = self.values.get("name")
        labels = self.labels or {}
        annotations = self.annotations or {}
        service, domain = None, None
        if self.hosts_service is not None:
            service, domain, _ = self.hosts_service
        kind, owner, ordinal, index, origin = _infer_workload(
            name if isinstance(name, str) else None, labels, annotations, self.env
        )
        if kind is None and self.otel_workload is not None:
            kind, owner, key = self.otel_workload
            origin = f"env OTEL_RESOURCE_ATTRIBUTES {key}"
        if kind is None and self.labels is not None and isinstance(name, str):
            kind, owner, origin = "Pod", name, "no controller labels"
        if kind is not None:
            self.sources.setdefault("workload", Source(Source.FALLBACK, origin))
        return Workload(
            kind=kind,
            name=owner,
            ordinal=ordinal,
            index=index,
            service=service,
            cluster_domain=domain or None,
        )


_OTEL_WORKLOADS = {
    "deployment": "Deployment",
    "statefulset": "StatefulSet",
    "daemonset": "DaemonSet",
    "job": "Job",
    "replicaset": "ReplicaSet",
    "cronjob": "CronJob",
}


def _infer_workload(
    name: str | None,
    labels: Mapping[str, str],
    annotations: Mapping[str, str],
    env: Mapping[str, str],
) -> tuple[str | None, str | None, int | None, int | None, str]:
    """(kind, name, ordinal, index, how) from controller labels, then name patterns."""
    index_text = (
        labels.get("batch.kubernetes.io/job-completion-index")
        or annotations.get("batch.kubernetes.io/job-completion-index")
        or env.get("JOB_COMPLETION_INDEX")
    )
    job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
    if job or index_text is not None:
        index = _small_int(index_text)
        return "Job", job, None, index, "job labels / JOB_COMPLETION_INDEX"
    sts_pod = labels.get("statefulset.kubernetes.io/pod-name")
    if sts_pod:
        sts, _, ordinal_text = sts_pod.rpartition("-")
        pod_index = labels.get("apps.kubernetes.io/pod-index", ordinal_text)
        ordinal = _small_int(pod_index)
        return "StatefulSet", sts or None, ordinal, None, "statefulset.kubernetes.io/pod-name"
    if "pod-template-generation" in labels and "controller-revision-hash" in labels:
        daemonset = name.rpartition("-")[0] if name else None
        return "DaemonSet", daemonset or None, None, None, "pod-template-generation label"
    template_hash = labels.get("pod-template-hash")
    if template_hash:
        deployment = None
        if name:
            prefix = name.rpartition("-")[0]
            if prefix.endswith("-" + template_hash):
                deployment = prefix[: -len(template_hash) - 1]
        return "Deployment", deployment, None, None, "pod-template-hash label"
    if name and not labels:
        # <deployment>-<pod-template-hash>-<5 chars>, both parts from the safe alphabet.
        parts = name.rsplit("-", 2)
        if (
            len(parts) == 3
            and len(parts[2]) == 5
            and 6 <= len(parts[1]) <= 10
            and set(parts[1] + parts[2]) <= _SAFE_ALPHABET
        ):
            return "Deployment", parts[0], None, None, "name pattern <deployment>-<hash>-<xxxxx>"
    return None, None, None, None, ""


def _small_int(text: str | None) -> int | None:
    """A non-negative decimal like an ordinal or index; ``None`` for anything else.

    ``str.isdigit`` alone also accepts ``"²"`` and other Unicode digits, which ``int()``
    refuses or reads as a number Kubernetes never writes.
    """
    if not text or len(text) > 18 or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


_ONE_UNIT = " (1 unit)"  # the note of a value read with the default divisor 1


def _unit_note(divisor: str) -> str:
    """How a value's source names its divisor: ``" (1Mi units)"``, ``" (1 unit)"``."""
    return _ONE_UNIT if divisor == "1" else f" ({divisor} units)"


def _unit_of(attr: str, divisor: str) -> int:
    return _names.DIVISOR_UNITS["cpu" if attr.startswith("cpu") else "bytes"][divisor]


# More GPUs than any machine holds: bounds what a hostile env var or /proc tree makes us count.
_MAX_GPUS = 1024


def _count_entries(directory: str, limit: int) -> int | None:
    """Entries of ``directory`` (at most ``limit + 1`` looked at), or None when it is absent."""
    try:
        with os.scandir(directory) as entries:
            count = 0
            for _ in entries:
                count += 1
                if count > limit:
                    return None
            return count
    except OSError:
        return None


def _divisor_hint(source: Source, attr: str, declared: int, kernel: int) -> str:
    """For a value read with the default divisor 1 (``CPU_LIMIT=500``): the divisor that makes
    it agree with the cgroup, as the fix to write; else ``""``."""
    if not source.origin.endswith(_ONE_UNIT):
        return ""
    family = "cpu" if attr.startswith("cpu") else "bytes"
    count = declared // _names.DIVISOR_UNITS[family]["1"]
    for divisor, multiplier in _names.DIVISOR_UNITS[family].items():
        if divisor != "1" and abs(count * multiplier - kernel) < multiplier:
            var = source.origin.removesuffix(_ONE_UNIT)
            return (
                f". {var} has no unit in its name, so it is read with the default divisor 1; "
                f"the value matches divisor {divisor}: map it with --env-map "
                f"{var}=resources.{attr}@{divisor} (read(env_map=...)) or rename it with the "
                "unit (e.g. _MILLICORES, _MB)"
            )
    return ""


def _declared_unit(origin: str, attr: str) -> int:
    """The rounding unit of a declared value, from its origin's divisor note or file name."""
    for divisor in ("1Ei", "1Pi", "1Ti", "1Gi", "1Mi", "1Ki", "1E", "1P", "1T", "1G", "1M", "1k"):
        if f"({divisor} units)" in origin:
            return _unit_of(attr, divisor)
    if attr.startswith("cpu") and origin.endswith(_ONE_UNIT):
        return 1000
    entry = _names.file_table().get(origin.rpartition("/")[2])
    if entry is not None and entry[1]:
        return _unit_of(attr, entry[1])
    return 1


def _is_ip(text: str) -> bool:
    """A cheap IPv4/IPv6 literal check (``ipaddress`` costs milliseconds to import)."""
    if ":" not in text:
        parts = text.split(".")
        if len(parts) != 4:
            return False
        for part in parts:
            if not (part.isascii() and part.isdigit() and len(part) <= 3 and int(part) <= 255):
                return False
        return True
    head, sep, tail = text.partition("::")
    if "::" in tail:
        return False
    groups = (head.split(":") if head else []) + (tail.split(":") if sep and tail else [])
    if groups and "." in groups[-1]:
        if not _is_ip(groups[-1]):
            return False
        groups[-1:] = ["0", "0"]
    if not sep and len(groups) != 8:
        return False
    if sep and len(groups) > 7:
        return False
    hexdigits = "0123456789abcdefABCDEF"
    return all(0 < len(g) <= 4 and all(c in hexdigits for c in g) for g in groups)


def _percent_decode(text: str) -> str:
    """W3C baggage-style %XX decoding for OTEL_RESOURCE_ATTRIBUTES values."""
    if "%" not in text:
        return text
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw) + 0 and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


def _jwt_claims(token: str) -> dict[str, object] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    # Lazily: json costs about 1 ms at start-up, paid only in pods with a mounted token.
    import binascii
    import json

    payload = parts[1].replace("-", "+").replace("_", "/")
    payload += "=" * (-len(payload) % 4)
    try:
        claims = json.loads(
            binascii.a2b_base64(payload).decode("utf-8"), parse_constant=_no_constant
        )
    except (ValueError, binascii.Error, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return claims if isinstance(claims, dict) else None


def _no_constant(name: str) -> object:
    # NaN and Infinity are not JSON: a token holding them is not one the API server made.
    msg = f"JSON: {name} is not a JSON value"
    raise ValueError(msg)


def _claim(claims: Mapping[str, object], section: str, key: str) -> object:
    part = claims.get(section)
    return part.get(key) if isinstance(part, dict) else None


_LOGGED: set[str] = set()


def _log_warnings(warnings: Iterator[str] | list[str]) -> None:
    """Log each distinct warning once per process: re-reads (refresh loops) stay quiet."""
    fresh = [w for w in warnings if w not in _LOGGED]
    if not fresh:
        return
    import logging

    logger = logging.getLogger("podself")
    for message in fresh:
        if len(_LOGGED) < 1024:
            _LOGGED.add(message)
        logger.warning("%s", message)

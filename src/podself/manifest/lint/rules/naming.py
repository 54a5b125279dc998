"""Naming advice: env var names whose unit suffix or words disagree with the field, resource
or divisor they read, and names that do not follow the ``K8S_`` / ``RESOURCE_<...>_<UNIT>``
convention."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Final

from podself.downward import (
    CPU_DIVISORS,
    ENV_FIELD_PATHS,
    MEMORY_DIVISORS,
)
from podself.manifest.inject.fields import FIELDS
from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import (
    Env,
    Pod,
    as_quantity,
    divisor_shown,
    subscript,
    valid_resource,
)
from podself.names import IDENTITY_ENV, RESOURCE_ENV_STEMS, env_table

_RULES: Final = (
    make_rule(
        "env-name-mismatch",
        "warning",
        "advice",
        "The env var's name promises a different field, resource or unit than it gets.",
        """Names carry meaning: `K8S_POD_NAME` should hold `metadata.name`,
        `RESOURCE_MEMORY_LIMIT_MB` the memory limit in MiB (divisor `1Mi`),
        `RESOURCE_CPU_LIMIT_MILLICORES` the cpu limit in millicores (divisor `1m`). podself
        reads these names with the unit their suffix states, and so do people. A name whose
        unit suffix disagrees with the divisor (`_MB` with divisor `1`, so bytes) or that reads
        another field or resource misleads every reader. Fix the divisor, the reference or the
        name.""",
        fix="make the name, the reference and the divisor agree",
    ),
    make_rule(
        "naming-convention",
        "info",
        "advice",
        "The env var does not follow the `K8S_` / `RESOURCE_<...>_<UNIT>` naming convention.",
        """The Self Awareness pattern names Downward API variables by where they come from:
        `K8S_` for pod metadata (`K8S_POD_NAME`, `K8S_NAMESPACE`, `K8S_POD_IP`), `RESOURCE_`
        plus the resource, limit or request, and the unit for resources
        (`RESOURCE_MEMORY_LIMIT_MB` with divisor `1Mi`, `RESOURCE_CPU_LIMIT_MILLICORES` with
        `1m`), and `APP_` for the app's own settings. Consistent names make an app portable
        and are what `podself` looks for first. Only names that already look like identity or
        resource variables are judged (upper case, and `POD_`/`NODE_`/`HOST_` or `_NAME`,
        `_NAMESPACE`, `_IP`, `_UID` for metadata; a word such as `CPU`, `MEMORY`, `LIMIT` or a
        unit suffix for resources): other names are the app's own business. Rename the
        variable as suggested (or disable this rule when another convention, such as
        OpenTelemetry's, is in use).""",
        fix="rename the variable as suggested",
    ),
)

# PodInfo attribute -> the field or resource that fills it: inject's table of what it adds.
_ATTR_FIELD: Final[Mapping[str, str]] = {
    f.key: f.field_path for f in FIELDS.values() if f.kind == "identity" and f.field_path
}
_FIELD_ATTR: Final = {path: attr for attr, path in _ATTR_FIELD.items()}
_ATTR_RESOURCE: Final[Mapping[str, str]] = {
    f.key: f.resource for f in FIELDS.values() if f.kind == "resource"
}
_RESOURCE_ATTR: Final = {resource: attr for attr, resource in _ATTR_RESOURCE.items()}
_UNIT_WORDS: Final[Mapping[str, str]] = {
    "1m": "millicores",
    "1": "bytes",
    "1k": "kB",
    "1M": "MB",
    "1G": "GB",
    "1T": "TB",
    "1P": "PB",
    "1E": "EB",
    "1Ki": "KiB",
    "1Mi": "MiB",
    "1Gi": "GiB",
    "1Ti": "TiB",
    "1Pi": "PiB",
    "1Ei": "EiB",
}
# Decimal divisors a reader may mean by KB/MB/GB/TB outside podself's own names.
_DECIMAL_TWINS: Final[Mapping[str, str]] = {"1Ki": "1k", "1Mi": "1M", "1Gi": "1G", "1Ti": "1T"}


@lru_cache(maxsize=1)
def _unit_suffixes() -> tuple[tuple[str, str, str], ...]:
    """(suffix, ``cpu``/``bytes``, divisor) from podself's name table, in its order."""
    table = env_table()
    found: dict[str, tuple[str, str]] = {}
    for attr, (stems, _) in RESOURCE_ENV_STEMS.items():
        family = "cpu" if attr.startswith("cpu") else "bytes"
        for stem in stems:
            for name, (owner, _rank, divisor, _mult) in table.items():
                if owner == attr and name.startswith(stem + "_"):
                    found.setdefault(name[len(stem) :], (family, divisor))
    return tuple((suffix, family, divisor) for suffix, (family, divisor) in found.items())


@lru_cache(maxsize=1)
def _suffixes_longest_first() -> tuple[tuple[str, str, str], ...]:
    return tuple(sorted(_unit_suffixes(), key=lambda entry: -len(entry[0])))


def _suffix_of(name: str) -> tuple[str, str, str] | None:
    for suffix, family, divisor in _suffixes_longest_first():
        if name.endswith(suffix):
            return suffix, family, divisor
    return None


def _unit_word(family: str, divisor: str) -> str:
    if family == "cpu":
        return "cores" if divisor == "1" else "millicores"
    return _UNIT_WORDS.get(divisor, divisor)


def _canonical_divisor(value: object) -> str | None:
    if value is None:
        return "1"
    quantity = as_quantity(value)
    if quantity is None:
        return None
    return "1" if quantity.is_zero() else str(quantity)


def _recommended_resource_name(resource: str, divisor: str) -> str | None:
    attr = _RESOURCE_ATTR.get(resource)
    if attr is None:
        return None
    stem = RESOURCE_ENV_STEMS[attr][0][0]
    family = "cpu" if attr.startswith("cpu") else "bytes"
    for suffix, owner_family, suffix_divisor in _unit_suffixes():
        if owner_family == family and suffix_divisor == divisor:
            return stem + suffix
    return None


# naming-convention only speaks about names that already look like identity or resource
# variables (POD_NAME, NODE_IP, MEMORY_LIMIT...): other names are the app's own choice.
_UPPER_NAME: Final = re.compile(r"[A-Z][A-Z0-9_]*[A-Z0-9]")
_IDENTITY_PREFIXES: Final = ("POD_", "NODE_", "HOST_", "MY_POD_", "MY_NODE_")
_IDENTITY_SUFFIXES: Final = ("_NAME", "_NAMESPACE", "_IP", "_IPS", "_UID", "_ACCOUNT")
_RESOURCE_WORDS: Final = frozenset(
    {"CPU", "CPUS", "CORES", "MEMORY", "MEM", "HEAP", "STORAGE", "EPHEMERAL", "LIMIT",
     "LIMITS", "REQUEST", "REQUESTS"}
)  # fmt: skip


def _identity_shaped(name: str) -> bool:
    return _UPPER_NAME.fullmatch(name) is not None and (
        name.startswith(_IDENTITY_PREFIXES) or name.endswith(_IDENTITY_SUFFIXES)
    )


def _resource_shaped(name: str) -> bool:
    if _UPPER_NAME.fullmatch(name) is None:
        return False
    words = name.split("_")
    if any(w in _RESOURCE_WORDS or w.startswith("HUGEPAGES") for w in words):
        return True
    return _suffix_of(name) is not None  # a unit: JVM_HEAP_MB


def _divisor_fix(name: str, family: str, divisor: str, expected_divisor: str) -> str:
    """Set the divisor the name promises; a name without a unit can instead say the unit."""
    fix = f'set divisor: "{expected_divisor}"'
    if _suffix_of(name) is None:  # CPU_LIMIT: read with the default divisor 1
        for suffix, suffix_family, suffix_divisor in _unit_suffixes():
            if suffix_family == family and suffix_divisor == divisor:
                return f"rename {name} to {name}{suffix}, or {fix}"
    return fix


# Names a runtime, pool or agent reads (Python 3.13, Go, the JVM, OpenMP/BLAS, loky, tracers):
# they are fixed by that program, so the naming convention never asks to rename them.
_OTHER_PROGRAMS_NAMES: Final = frozenset(
    {"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG", "NODE_OPTIONS", "WEB_CONCURRENCY",
     "UVICORN_WORKERS"}
)  # fmt: skip
_OTHER_PROGRAMS_PREFIXES: Final = (
    *("PYTHON", "JAVA_", "JDK_", "DOTNET_", "UV_", "MALLOC_", "LOKY_"),
    *("OMP_", "MKL_", "OPENBLAS_", "NUMEXPR_", "VECLIB_", "GUNICORN_", "CELERY"),
    *("OTEL_", "DD_", "NEW_RELIC_", "ELASTIC_APM_", "SENTRY_"),
)


def _read_by_another_program(name: str) -> bool:
    return name in _OTHER_PROGRAMS_NAMES or name.startswith(_OTHER_PROGRAMS_PREFIXES)


def _not_for_renaming(name: str) -> bool:
    """Names the naming advice leaves alone: read by other programs, or the application's
    own (``APP_``, the prefix the convention itself gives an app's settings)."""
    return name.startswith("APP_") or _read_by_another_program(name)


def _check_names(pod: Pod) -> None:
    if not pod.wants("env-name-mismatch", "naming-convention"):
        return
    table = env_table()
    for container in pod.containers:
        for env in container.env:
            name = env.name
            if not name:
                continue
            if env.field_ref is not None:
                _field_ref_name(pod, env, name, table.get(name))
            elif env.resource_ref is not None:
                other = env.resource_ref.get("containerName")
                # Another container's value: a RESOURCE_* name would read as this container's
                # own (other-container-resource suggests a neutral name instead).
                foreign = other in pod.container_names and other != container.name
                _resource_ref_name(pod, env, name, table.get(name), foreign=foreign)


def _field_ref_name(pod: Pod, env: Env, name: str, entry: tuple[str, int, str, int] | None) -> None:
    assert env.field_ref is not None
    path = env.field_ref.get("fieldPath")
    if not isinstance(path, str):
        return
    if path == "spec.host":
        path = "spec.nodeName"  # converted by the API server
    if path not in ENV_FIELD_PATHS and subscript(env.field_ref) is None:
        return  # an invalid path: the API error says it
    where = f"{env.path}.valueFrom.fieldRef.fieldPath"
    if entry is not None:
        attr = entry[0]
        expected = _ATTR_FIELD.get(attr) or _ATTR_RESOURCE.get(attr)
        if attr == "container":
            pod.report(
                "env-name-mismatch",
                where,
                f"{name} reads {path}, but its name promises the container's name, which the "
                "Downward API does not provide",
                f'set {name} with value: "<container name>" instead',
            )
        elif expected != path:
            pod.report(
                "env-name-mismatch",
                where,
                f"{name} reads {path}, but its name promises {expected}",
                f"read {expected}, or rename the variable",
            )
    # Names other programs read (OTEL_, DD_, PYTHON_CPU_COUNT...) and the app's own (APP_)
    # are never renamed.
    if not name.startswith("K8S_") and not _not_for_renaming(name) and _identity_shaped(name):
        field_attr = _FIELD_ATTR.get(path)
        suggestion = IDENTITY_ENV[field_attr][0] if field_attr is not None else f"K8S_{name}"
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} holds pod metadata ({path}): the convention names it with the K8S_ "
            f"prefix, e.g. {suggestion}",
            f"rename {name} to {suggestion}",
        )


def _resource_ref_name(
    pod: Pod, env: Env, name: str, entry: tuple[str, int, str, int] | None, *, foreign: bool
) -> None:
    assert env.resource_ref is not None
    resource = env.resource_ref.get("resource")
    if not valid_resource(resource):
        return
    assert isinstance(resource, str)
    divisor = _canonical_divisor(env.resource_ref.get("divisor"))
    allowed = CPU_DIVISORS if resource.endswith(".cpu") else MEMORY_DIVISORS
    if divisor is None or divisor not in allowed:
        return  # the API error says it
    family = "cpu" if resource.endswith(".cpu") else "bytes"
    where = f"{env.path}.valueFrom.resourceFieldRef"
    reported = False
    if entry is not None and entry[2] and foreign:
        return  # read as this container's own: other-container-resource asks for a new name
    if entry is not None and entry[2]:
        attr, _rank, expected_divisor, _mult = entry
        expected = _ATTR_RESOURCE[attr]
        if expected != resource:
            pod.report(
                "env-name-mismatch",
                f"{where}.resource",
                f"{name} reads {resource}, but its name promises {expected}",
                f"read {expected}, or rename the variable",
            )
            reported = True
        elif expected_divisor != divisor:
            pod.report(
                "env-name-mismatch",
                f"{where}.divisor" if "divisor" in env.resource_ref else f"{where}.resource",
                f"{name} promises {_unit_word(family, expected_divisor)} (divisor "
                f"{expected_divisor}), but the divisor is "
                f"{divisor_shown(env.resource_ref.get('divisor'))}: the value is in "
                f"{_unit_word(family, divisor)}",
                _divisor_fix(name, family, divisor, expected_divisor),
            )
            reported = True
    elif entry is None:
        suffix = _suffix_of(name)
        if suffix is not None:
            text, suffix_family, suffix_divisor = suffix
            accepted = {suffix_divisor, _DECIMAL_TWINS.get(suffix_divisor, suffix_divisor)}
            if suffix_family != family:
                pod.report(
                    "env-name-mismatch",
                    f"{where}.resource",
                    f"{name} ends in {text}, a {suffix_family} unit, but reads {resource}",
                    "make the unit suffix match the resource",
                )
                reported = True
            elif divisor not in accepted:
                pod.report(
                    "env-name-mismatch",
                    f"{where}.divisor" if "divisor" in env.resource_ref else f"{where}.resource",
                    f"{name} promises {_unit_word(family, suffix_divisor)} ({text}), but the "
                    f"divisor is {divisor_shown(env.resource_ref.get('divisor'))}: the value is "
                    f"in {_unit_word(family, divisor)}",
                    f'set divisor: "{suffix_divisor}"',
                )
                reported = True
    if reported or foreign or _not_for_renaming(name) or not _resource_shaped(name):
        return
    recommended = _recommended_resource_name(resource, divisor)
    if not name.startswith("RESOURCE_"):
        suggestion = recommended or "RESOURCE_" + name
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} holds {resource}: the convention names resource values "
            f"RESOURCE_<RESOURCE>_<LIMIT|REQUEST>_<UNIT>, e.g. {suggestion}",
            f"rename {name} to {suggestion}",
        )
    elif entry is None and _suffix_of(name) is None and recommended is not None:
        pod.report(
            "naming-convention",
            f"{env.path}.name",
            f"{name} does not say its unit ({_unit_word(family, divisor)}): e.g. {recommended}",
            f"rename {name} to {recommended}",
        )


FAMILY: Final = Family(_RULES, (PodCheck(_check_names),))

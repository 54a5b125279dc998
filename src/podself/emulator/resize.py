"""In-place pod resize (KEP-1287, GA in Kubernetes 1.35): the API server's ``/resize`` rules
and the kubelet's cgroup values.

``podself resize`` builds the resized pod with :func:`resized_pod` and checks it with
:func:`resize_errors` (``ValidatePodResize``) before it writes ``pod.json``; the running
``podself run`` then actuates it: :func:`cgroup_values` turns a container's resources into
the numbers the kubelet hands the runtime (``calculateLinuxResources``), and the Downward API
volumes are re-projected. Environment variables keep their values from container start.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from podself.cgroups import DEFAULT_PERIOD_US, millicores_to_shares
from podself.errors import QuantityError
from podself.quantity import Quantity
from podself.validation import (
    FORBIDDEN,
    INVALID,
    FieldError,
    api_quantity_string,
    kubernetes_target_version,
)

if TYPE_CHECKING:
    from fractions import Fraction  # imported when used: it imports decimal, slow to load

__all__ = [
    "RESIZABLE",
    "CgroupValues",
    "cgroup_values",
    "find_resizable",
    "infeasible",
    "pod_requests",
    "resize_errors",
    "resized_pod",
    "restart_needed",
    "restart_policies",
]

RESIZABLE: Final = ("cpu", "memory")  # the only resources a resize may change
MIN_QUOTA_US: Final = 1_000  # the kubelet's MinQuotaPeriod
_MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"


def find_resizable(pod: Mapping[str, Any], name: str) -> tuple[str, int] | None:
    """``("containers", i)`` or ``("initContainers", i)`` of container ``name``; None when
    the pod has no container of that name."""
    spec = pod.get("spec") or {}
    for key in ("containers", "initContainers"):
        for index, container in enumerate(spec.get(key) or []):
            if isinstance(container, Mapping) and container.get("name") == name:
                return key, index
    return None


def _is_sidecar(container: Mapping[str, Any]) -> bool:
    return container.get("restartPolicy") == "Always"


def resized_pod(
    pod: Mapping[str, Any],
    container: str,
    limits: Mapping[str, Quantity],
    requests: Mapping[str, Quantity],
    *,
    follow: Mapping[str, Quantity] | None = None,
) -> dict[str, Any]:
    """A copy of ``pod`` whose container ``container`` has the given limits and requests
    (canonical quantity strings, as the API server stores them). ``follow`` are limits whose
    request moves with them when it equalled the old limit (a Guaranteed-shaped resource
    stays so). Raises KeyError for an unknown container."""
    new = copy.deepcopy(dict(pod))
    where = find_resizable(new, container)
    if where is None:
        raise KeyError(container)
    key, index = where
    target = new["spec"][key][index]
    resources = dict(target.get("resources") or {})
    old_limits = dict(resources.get("limits") or {})
    new_limits = dict(old_limits)
    new_requests = dict(resources.get("requests") or {})
    for name, quantity in (follow or {}).items():
        old_limit, old_request = old_limits.get(name), new_requests.get(name)
        if (
            old_limit is not None
            and old_request is not None
            and Quantity.from_json(old_limit).cmp(Quantity.from_json(old_request)) == 0
            and name not in requests
        ):
            new_requests[name] = api_quantity_string(quantity)
        new_limits[name] = api_quantity_string(quantity)
    for name, quantity in limits.items():
        new_limits[name] = api_quantity_string(quantity)
    for name, quantity in requests.items():
        new_requests[name] = api_quantity_string(quantity)
    if new_limits:
        resources["limits"] = new_limits
    if new_requests:
        resources["requests"] = new_requests
    target["resources"] = resources
    return new


def restart_policies(container: Mapping[str, Any]) -> dict[str, str]:
    """``resizePolicy`` as ``{resource: restartPolicy}`` (unset means ``NotRequired``)."""
    policies = dict.fromkeys(RESIZABLE, "NotRequired")
    for entry in container.get("resizePolicy") or []:
        if isinstance(entry, Mapping) and entry.get("resourceName") in RESIZABLE:
            policies[str(entry["resourceName"])] = str(entry.get("restartPolicy") or "NotRequired")
    return policies


def restart_needed(
    container: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[str]:
    """The resources that change from ``old`` to ``new`` (a container's ``resources``) and
    whose ``resizePolicy`` is RestartContainer: the kubelet restarts the container for them
    (RestartContainer wins when both policies apply)."""
    policies = restart_policies(container)
    changed = []
    for name in RESIZABLE:
        if policies[name] != "RestartContainer":
            continue
        for section in ("limits", "requests"):
            before = _quantities(old.get(section)).get(name)
            after = _quantities(new.get(section)).get(name)
            if (before is None) != (after is None) or (
                before is not None and after is not None and before.cmp(after) != 0
            ):
                changed.append(name)
                break
    return changed


def _quantities(section: object) -> dict[str, Quantity | None]:
    """A limits or requests map with each value parsed (None where it does not parse)."""
    result: dict[str, Quantity | None] = {}
    if not isinstance(section, Mapping):
        return result
    for name, raw in section.items():
        try:
            result[str(name)] = Quantity.from_json(raw)
        except (QuantityError, TypeError, ValueError):
            result[str(name)] = None
    return result


def _resource_errors(resources: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateResourceRequirements`` for cpu and memory: non-negative quantities and
    requests no larger than limits."""
    errs: list[FieldError] = []
    limits = _quantities(resources.get("limits"))
    requests = _quantities(resources.get("requests"))
    for section, values in (("limits", limits), ("requests", requests)):
        for name, quantity in values.items():
            if quantity is not None and quantity.sign() < 0:
                errs.append(
                    FieldError(
                        INVALID,
                        f"{path}.{section}[{name}]",
                        api_quantity_string(quantity),
                        "must be greater than or equal to 0",
                    )
                )
    for name, request in requests.items():
        limit = limits.get(name)
        if request is not None and limit is not None and request.cmp(limit) > 0:
            errs.append(
                FieldError(
                    INVALID,
                    f"{path}.requests[{name}]",
                    api_quantity_string(request),
                    f"must be less than or equal to {name} limit of {api_quantity_string(limit)}",
                )
            )
    return errs


def _container_resize_errors(
    new: Mapping[str, Any], old: Mapping[str, Any], path: str
) -> list[FieldError]:
    """``validateContainerResize``: nothing removed; before 1.34, no memory limit decrease
    (or addition) unless the memory resize policy is RestartContainer."""
    errs: list[FieldError] = []
    new_res, old_res = new.get("resources") or {}, old.get("resources") or {}
    for section, noun in (("requests", "requests"), ("limits", "limits")):
        if any(name not in (new_res.get(section) or {}) for name in old_res.get(section) or {}):
            detail = f"resource {noun} cannot be removed"
            errs.append(FieldError(FORBIDDEN, f"{path}.{section}", None, detail))
    minor = int(kubernetes_target_version().partition(".")[2])
    if minor < 34 and restart_policies(new)["memory"] == "NotRequired":
        new_limit = _quantities(new_res.get("limits")).get("memory")
        old_limits = _quantities(old_res.get("limits"))
        field = f"{path}.limits[memory]"
        if "memory" in old_limits and new_limit is not None:
            old_limit = old_limits["memory"]
            if old_limit is not None and new_limit.cmp(old_limit) < 0:
                detail = "memory limits cannot be decreased unless resizePolicy is RestartContainer"
                errs.append(FieldError(FORBIDDEN, field, None, detail))
        elif new_limit is not None:
            detail = "memory limits cannot be added unless resizePolicy is RestartContainer"
            errs.append(FieldError(FORBIDDEN, field, None, detail))
    return errs


def _without_cpu_memory(container: Mapping[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """``dropCPUMemoryResourcesFromContainer``: the container with its cpu and memory taken
    from ``old``, so that any other difference shows."""
    result = dict(container)
    resources: dict[str, Any] = {}
    old_res = old.get("resources") or {}
    new_res = container.get("resources") or {}
    for section in ("limits", "requests"):
        old_section = old_res.get(section)
        if old_section is None:
            continue
        merged = {k: v for k, v in (new_res.get(section) or {}).items() if k not in RESIZABLE}
        merged.update({k: v for k, v in old_section.items() if k in RESIZABLE})
        resources[section] = merged
    for key, value in new_res.items():
        if key not in ("limits", "requests"):
            resources[key] = value
    result["resources"] = resources
    return result


def resize_errors(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``ValidatePodResize`` of the target release for the pod ``old`` resized to ``new``."""
    from podself.emulator.pod import qos_class

    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    pod_resources = [s.get("resources") or {} for s in (old_spec, new_spec)]
    if any(r.get("limits") or r.get("requests") for r in pod_resources):
        return [FieldError(FORBIDDEN, "", None, "pods with pod-level resources cannot be resized")]
    if _MIRROR_ANNOTATION in ((old.get("metadata") or {}).get("annotations") or {}):
        return [FieldError(FORBIDDEN, "", None, "static pods cannot be resized")]
    if (old_spec.get("os") or {}).get("name") == "windows":
        return [FieldError(FORBIDDEN, "", None, "windows pods cannot be resized")]
    errs: list[FieldError] = []
    for key in ("initContainers", "containers"):
        for index, container in enumerate(new_spec.get(key) or []):
            errs.extend(_resource_errors(container.get("resources") or {}, _path(key, index)))
    old_class = str((old.get("status") or {}).get("qosClass") or qos_class(old_spec))
    if qos_class(new_spec) != old_class:
        detail = "Pod QOS Class may not change as a result of resizing"
        errs.append(FieldError(INVALID, "spec", old_class, detail))
    pairs = [
        (key, index, container, (new_spec.get(key) or [])[index])
        for key in ("initContainers", "containers")
        for index, container in enumerate(old_spec.get(key) or [])
    ]
    for key, index, old_c, new_c in pairs:
        if key == "containers" or _is_sidecar(old_c):
            errs.extend(_container_resize_errors(new_c, old_c, _path(key, index)))
    for key, _, old_c, new_c in pairs:
        if key == "initContainers" and not _is_sidecar(old_c):
            if new_c != old_c:
                detail = "resources for non-sidecar init containers are immutable"
                errs.append(FieldError(FORBIDDEN, "spec", None, detail))
        elif _without_cpu_memory(new_c, old_c) != _without_cpu_memory(old_c, old_c):
            detail = (
                "only cpu and memory resources are mutable"
                if key == "containers"
                else "only cpu and memory resources for sidecar containers are mutable"
            )
            errs.append(FieldError(FORBIDDEN, "spec", None, detail))
    return errs


def _path(key: str, index: int) -> str:
    return f"spec.{key}[{index}].resources"


def _amount(value: object) -> Fraction:
    """A quantity's exact value (zero when it does not parse: validation reports it)."""
    from fractions import Fraction

    try:
        numerator, denominator = Quantity.from_json(value).as_integer_ratio()  # type: ignore[arg-type]
    except (QuantityError, TypeError, ValueError):
        return Fraction(0)
    return Fraction(numerator, denominator)


def pod_requests(spec: Mapping[str, Any], resource: str) -> int:
    """``GetResourceRequest``: the pod's request of ``resource`` (millicores for cpu, bytes
    otherwise) as the kubelet counts it (``PodRequests``): the containers and sidecars
    together, or an init container with the sidecars started before it if that is more,
    plus ``overhead``."""
    from fractions import Fraction

    def request(container: object) -> Fraction:
        if not isinstance(container, Mapping):
            return Fraction(0)
        requests = (container.get("resources") or {}).get("requests") or {}
        return _amount(requests.get(resource)) if isinstance(requests, Mapping) else Fraction(0)

    total = sum((request(c) for c in spec.get("containers") or []), Fraction(0))
    sidecars = Fraction(0)
    inits = Fraction(0)
    for container in spec.get("initContainers") or []:
        amount = request(container)
        if isinstance(container, Mapping) and _is_sidecar(container):
            total += amount
            sidecars += amount
            amount = sidecars
        else:
            amount += sidecars
        inits = max(inits, amount)
    total = max(total, inits)
    overhead = spec.get("overhead")
    if isinstance(overhead, Mapping):
        total += _amount(overhead.get(resource))
    return math.ceil(total * 1000) if resource == "cpu" else math.ceil(total)


def infeasible(spec: Mapping[str, Any], allocatable: Mapping[str, Any]) -> str | None:
    """The kubelet's answer (``canResizePod``) when the resized pod's requests exceed node
    allocatable: the ``PodResizePending`` condition's message (reason Infeasible); None
    when it fits."""
    over: dict[str, str] = {}
    for name in ("memory", "cpu"):  # the kubelet names memory first when both are short
        if allocatable.get(name) is None:
            continue  # unknown capacity: nothing to compare with
        available = _amount(allocatable[name])
        available_int = math.ceil(available * 1000) if name == "cpu" else math.ceil(available)
        requested = pod_requests(spec, name)
        if requested > available_int:
            over[name] = f"{name}, requested: {requested}, capacity: {available_int}"
    if not over:
        return None
    return f"Node didn't have enough capacity: {next(iter(over.values()))}"


class CgroupValues(NamedTuple):
    """What the kubelet asks the runtime to set for one container: CFS quota and period
    (quota None: no limit), cpu shares, memory limit in bytes (None: no limit)."""

    cpu_quota_us: int | None
    cpu_period_us: int
    cpu_shares: int
    memory_limit_bytes: int | None


def cgroup_values(resources: Mapping[str, Any]) -> CgroupValues:
    """``calculateLinuxResources``: shares from the cpu request (or the limit when no request
    is set), quota ``limit * period / 1000`` (at least 1 ms; none without a limit), memory
    limit in bytes (none without a limit). Raises ``QuantityError`` for a bad quantity."""
    limits = _quantities(resources.get("limits"))
    requests = _quantities(resources.get("requests"))
    for section, values in (("limits", limits), ("requests", requests)):
        for name, value in values.items():
            if value is None and name in RESIZABLE:
                raw = (resources.get(section) or {}).get(name)
                msg = f"resources.{section}[{name}] {raw!r}: not a quantity"
                raise QuantityError(msg)
    cpu_limit = limits.get("cpu")
    cpu_request = requests.get("cpu")
    limit_milli = cpu_limit.go_milli_value() if cpu_limit is not None else 0
    request_milli = cpu_request.go_milli_value() if cpu_request is not None else 0
    # A request left unset (an old pod) defaults to the limit, as the API server does.
    shares = millicores_to_shares(request_milli or limit_milli)
    quota: int | None = None
    if limit_milli > 0:
        quota = max(MIN_QUOTA_US, limit_milli * DEFAULT_PERIOD_US // 1000)
    memory = limits.get("memory")
    memory_bytes = memory.go_value() if memory is not None and not memory.is_zero() else None
    return CgroupValues(quota, DEFAULT_PERIOD_US, shares, memory_bytes)

"""resourceFieldRef at run time: references to a container that does not exist, resources
that are not set (and what the kubelet writes instead), divisors that round the value, and
divisors that pass the API server's check but overflow in the kubelet."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from podself.downward import (
    CPU_DIVISORS,
    MEMORY_DIVISORS,
    default_requests,
    go_quote,
    resource_value,
)
from podself.errors import PodselfError
from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import (
    MAPS,
    Container,
    Pod,
    as_quantity,
    divisor_shown,
    show,
    valid_resource,
)
from podself.names import DIVISOR_UNITS
from podself.quantity import Quantity
from podself.validation import api_quantity_string

_RULES: Final = (
    make_rule(
        "unknown-container",
        "warning",
        "runtime",
        "`resourceFieldRef.containerName` names no container of the pod.",
        """The API server does not check `containerName` against the pod's containers, so the
        object is accepted, but the kubelet cannot resolve the value: an env var fails with
        `container <name> not found` (CreateContainerConfigError) and a volume never mounts
        (the pod stays in ContainerCreating with a FailedMount event). Name one of the pod's
        containers or init containers, or leave `containerName` out of an env var to mean the
        container itself.""",
        fix="name one of the pod's containers (or omit containerName in env to mean this one)",
    ),
    make_rule(
        "resource-not-set",
        "warning",
        "runtime",
        "A `resourceFieldRef` reads a limit or request the container does not set.",
        """When a container has no cpu, memory or ephemeral-storage *limit*, the kubelet
        reports the node's allocatable amount instead, so an app that sizes itself from the
        value plans for the whole node. A *request* that is not set (and has no limit to be
        defaulted from) reads as `0`, and an unset hugepages limit as `0`. Set the limit or
        request on the container (a LimitRange that sets defaults in the namespace also
        works; disable this rule for such objects with the annotation).""",
        fix="set the limit/request on the container (resources.limits / resources.requests)",
    ),
    make_rule(
        "divisor-rounding",
        "warning",
        "runtime",
        "A divisor that does not divide the quantity, so the value is rounded up.",
        """The kubelet computes `ceil(quantity / divisor)`: cpu `200m` with divisor `1` gives
        `1`, memory `100M` with divisor `1Mi` gives `96` (95.37 rounded up). An app that
        trusts the number uses more than it was given. Pick a divisor that divides the
        quantity exactly (`1m` for cpu; `1M` or `1` for decimal memory sizes), or change the
        quantity.""",
        fix="use a divisor that divides the quantity exactly",
    ),
    make_rule(
        "divisor-overflow",
        "warning",
        "runtime",
        "A divisor past int64 that the API server accepts as if it were 1.",
        """apimachinery prints a quantity past the `E` suffix without its magnitude, so the API
        server's divisor check reads `1000E` (or `1000000000000000000000`) as `1` and accepts
        it. The kubelet then divides by the divisor's int64 value, which overflows (to 0 for
        `1000E`), and writes a meaningless number such as `-9223372036854775808`. Write the
        divisor you mean: `1`, or a listed unit such as `1Mi` or `1E`.""",
        fix='write divisor "1" or another listed unit (1k, 1Mi, 1E...)',
    ),
)
_FIX: Final = {rule.id: rule.fix for rule in _RULES}

_DEFAULTED_LIMITS: Final = ("cpu", "memory", "ephemeral-storage")
_NOUNS: Final = {"cpu": "CPU", "memory": "memory", "ephemeral-storage": "ephemeral storage"}


def _divisor_ok(resource: str, divisor: Quantity) -> bool:
    """Whether the API accepts ``divisor`` with ``resource`` (zero means unset)."""
    if divisor.is_zero():
        return True
    allowed = CPU_DIVISORS if resource.endswith(".cpu") else MEMORY_DIVISORS
    return str(divisor) in allowed


def _resource_refs(pod: Pod) -> Iterator[tuple[str, Mapping[str, Any], Container | None]]:
    """(field path of the resourceFieldRef, the ref, the env's own container or None)."""
    for container in pod.containers:
        for env in container.env:
            if env.resource_ref is not None:
                yield f"{env.path}.valueFrom.resourceFieldRef", env.resource_ref, container
    for volume in pod.volumes:
        for item in volume.items:
            if item.resource_ref is not None:
                yield f"{item.path}.resourceFieldRef", item.resource_ref, None


def _ratio_text(top: int, bottom: int) -> str:
    """``top / bottom`` for a message: three decimals, more when those would hide the rest."""
    whole, rest = divmod(top, bottom)
    if not rest:
        return str(whole)
    text = f"{top / bottom:.3f}".rstrip("0").rstrip(".")
    if text in (str(whole), str(whole + 1)):
        return f"{top / bottom:.6g}"
    return text


def _exact_divisor(resource_kind: str, amount: int, divisor: int) -> str:
    """The largest accepted divisor not above ``divisor`` that divides ``amount`` exactly."""
    if resource_kind == "cpu":
        return "1m"
    best = "1"
    best_value = 1
    for name in MEMORY_DIVISORS:
        unit = DIVISOR_UNITS["bytes"][name]
        if best_value < unit <= divisor and amount % unit == 0:
            best, best_value = name, unit
    return best


def _check_resources(pod: Pod) -> None:
    if not pod.wants("unknown-container", "resource-not-set", "divisor-rounding"):
        return
    spec = pod.workload.spec
    pod_resources = spec.get("resources")
    pod_limits = pod_resources.get("limits") if isinstance(pod_resources, MAPS) else None
    if not isinstance(pod_limits, MAPS):
        pod_limits = {}
    for path, ref, own in _resource_refs(pod):
        resource = ref.get("resource")
        if not valid_resource(resource):
            continue  # the API error says it
        assert isinstance(resource, str)
        name = ref.get("containerName")
        if isinstance(name, str) and name:
            target = pod.by_name.get(name)
            if target is None:
                if own is not None:
                    effect = "so the container is never created (CreateContainerConfigError)"
                else:
                    effect = "so the volume never mounts (the pod stays in ContainerCreating)"
                pod.report(
                    "unknown-container",
                    f"{path}.containerName",
                    f'resourceFieldRef names container "{name}", which is not in the pod: '
                    f'the kubelet fails with "container {name} not found", {effect}',
                    "name one of: " + ", ".join(sorted(pod.container_names))
                    if pod.container_names
                    else _FIX["unknown-container"],
                )
                continue
        elif own is not None:
            target = own
        else:
            continue  # a volume item without containerName: an API error
        _check_resource_value(
            pod, path, ref=ref, resource=resource, target=target, pod_limits=pod_limits
        )


def _check_resource_value(
    pod: Pod,
    path: str,
    *,
    ref: Mapping[str, Any],
    resource: str,
    target: Container,
    pod_limits: Mapping[str, Any],
) -> None:
    section, _, name = resource.partition(".")
    resources = target.data.get("resources")
    resources = resources if isinstance(resources, MAPS) else {}
    limits = resources.get("limits")
    limits = limits if isinstance(limits, MAPS) else {}
    requests = resources.get("requests")
    requests = requests if isinstance(requests, MAPS) else {}
    raw = limits.get(name) if section == "limits" else requests.get(name, limits.get(name))
    quantity = None if raw is None else as_quantity(raw)
    if raw is not None and quantity is None:
        return  # an unparseable quantity: the API rejects the container's resources
    who = f'container "{target.name}"'
    if quantity is None or quantity.is_zero():
        if section == "limits" and name in _DEFAULTED_LIMITS:
            if name in ("cpu", "memory") and pod_limits.get(name) is not None:
                return  # pod-level resources bound the value instead of the node
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}: the kubelet gives the node's allocatable "
                f"{_NOUNS[name]} instead",
                f"set resources.limits.{name} on {who}",
            )
        elif section == "limits":
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}: the value is 0",
                f"set resources.limits.{name} on {who}",
            )
        else:
            pod.report(
                "resource-not-set",
                f"{path}.resource",
                f"{resource} is not set on {who}, nor limits.{name} to default it from: "
                "the value is 0",
                f"set resources.requests.{name} (or limits.{name}) on {who}",
            )
        return
    if "divisor-rounding" not in pod.enabled:
        return
    divisor_raw = ref.get("divisor")
    divisor = Quantity.parse("1") if divisor_raw is None else as_quantity(divisor_raw)
    if divisor is None or not _divisor_ok(resource, divisor):
        return  # the API error says it
    if divisor.is_zero():
        divisor = Quantity.parse("1")
    cpu = name == "cpu"
    top = quantity.milli_value() if cpu else quantity.value()
    bottom = divisor.milli_value() if cpu else divisor.value()
    if bottom <= 0 or top < 0 or top % bottom == 0:
        return
    try:
        value = resource_value(
            resource, default_requests(resources), None if divisor_raw is None else divisor_raw
        )
    except (PodselfError, ValueError):
        return
    shown = divisor_shown(divisor_raw)
    better = _exact_divisor("cpu" if cpu else "bytes", top, bottom)
    better_value = top // (1 if cpu else DIVISOR_UNITS["bytes"][better])
    pod.report(
        "divisor-rounding",
        f"{path}.divisor" if divisor_raw is not None else f"{path}.resource",
        f"{resource} {show(raw)} with divisor {shown} gives {value}, rounded up from "
        f"{_ratio_text(top, bottom)}",
        f'divisor "{better}" gives exactly {better_value}',
    )


def _check_divisor_overflow(pod: Pod) -> None:
    # Accepted because String() drops the magnitude past E (validation.api_quantity_string).
    if "divisor-overflow" not in pod.enabled:
        return
    for path, ref, own in _resource_refs(pod):
        resource, raw = ref.get("resource"), ref.get("divisor")
        divisor = None if raw is None else as_quantity(raw)
        if divisor is None or not isinstance(resource, str) or not valid_resource(resource):
            continue
        seen = api_quantity_string(divisor)
        cpu = resource.endswith(".cpu")
        if seen == str(divisor) or seen not in (CPU_DIVISORS if cpu else MEMORY_DIVISORS):
            continue
        wrapped = divisor.go_milli_value() if cpu else divisor.go_value()
        message = (
            f"divisor {show(raw)} passes the API server's check as {go_quote(seen)} but is "
            f"{divisor}, whose {'MilliValue' if cpu else 'Value'}() overflows int64: the "
            f"kubelet divides by {wrapped}"
        )
        name = ref.get("containerName")
        target = (
            own if own is not None else pod.by_name.get(name) if isinstance(name, str) else None
        )
        resources = target.data.get("resources") if target is not None else None
        section, _, key = resource.partition(".")
        amounts = resources.get(section) if isinstance(resources, MAPS) else None
        if isinstance(amounts, MAPS) and amounts.get(key) is not None:
            try:
                written = resource_value(resource, resources, raw)
            except (PodselfError, ValueError):
                written = None
            if written is not None:
                message += f" and writes {written}"
        pod.report("divisor-overflow", f"{path}.divisor", message, _FIX["divisor-overflow"])


FAMILY: Final = Family(
    _RULES,
    (
        PodCheck(_check_resources),
        PodCheck(_check_divisor_overflow),
    ),
)

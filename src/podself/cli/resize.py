"""``podself resize``: in-place resize of a pod run by ``podself run`` (KEP-1287, GA in 1.35).

What ``kubectl patch pod NAME --subresource resize`` (or ``kubectl set resources``) does on a
cluster: the new cpu and memory limits and requests of one container are checked as the API
server checks a ``/resize`` request, written to the pod, and the running ``podself run``
actuates them as the kubelet does: the container's cgroup (``cpu.max``/``memory.max`` on v2,
``cpu.cfs_quota_us``/``memory.limit_in_bytes`` on v1) at once, the Downward API volumes after
its sync delay. The container keeps running and its environment variables keep their values,
unless its ``resizePolicy`` asks for a restart.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from podself.cli.label import InvalidPod, UsageError

__all__ = ["configure", "run"]

_EPILOG = """\
examples:
  podself resize web --cpu 2 --memory 1Gi   # limits; a request equal to the old limit follows
  podself resize pod/web -c app --limits cpu=2,memory=1Gi --requests cpu=1,memory=512Mi

kubectl: kubectl patch pod web --subresource resize -p '{"spec":{"containers":[{"name":"app",
  "resources":{"limits":{"cpu":"2","memory":"1Gi"}}}]}}'  or  kubectl set resources pod web
  --limits=cpu=2,memory=1Gi.

Only cpu and memory can change; the pod's QoS class must stay the same (a Guaranteed pod
keeps requests equal to limits); requests may not exceed limits nor be removed. The container
keeps running, unless its resizePolicy says RestartContainer for a resource that changes:
podself run then restarts it, as the kubelet does (its env then shows the new values).
"""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``resize``'s options."""
    from podself.cli import add_kubernetes_version, add_state_dir

    parser.usage = "%(prog)s [pod] NAME [-c CONTAINER] [--cpu Q] [--memory Q] [--limits ...]"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = _EPILOG
    parser.add_argument("items", nargs="+", metavar="ARG", help="[pod] NAME (or pod/NAME)")
    parser.set_defaults(intermixed="items")  # flags may follow the pod's name, as in kubectl
    parser.add_argument(
        "-c",
        "--container",
        help="the container to resize (default: the pod's only container, or the one named "
        "by its kubectl.kubernetes.io/default-container annotation)",
    )
    parser.add_argument(
        "--cpu",
        metavar="Q",
        help="new cpu limit (e.g. 2, 500m); a cpu request equal to the old limit follows it",
    )
    parser.add_argument(
        "--memory",
        metavar="Q",
        help="new memory limit (e.g. 1Gi); a memory request equal to the old limit follows it",
    )
    parser.add_argument(
        "--limits",
        metavar="cpu=Q,memory=Q",
        help="new limits, as kubectl set resources --limits (requests are left as they are)",
    )
    parser.add_argument(
        "--requests",
        metavar="cpu=Q,memory=Q",
        help="new requests, as kubectl set resources --requests",
    )
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    add_state_dir(parser)
    add_kubernetes_version(parser)


def _quantity(text: str, what: str) -> Any:
    from podself.errors import QuantityError
    from podself.quantity import Quantity

    try:
        return Quantity.parse(text)
    except QuantityError as exc:
        msg = f"{what}: {exc}"
        raise UsageError(msg) from None


def _pairs(text: str | None, option: str) -> dict[str, Any]:
    """``cpu=2,memory=1Gi`` as ``{name: Quantity}`` (kubectl's ``--limits`` syntax)."""
    result: dict[str, Any] = {}
    for item in (text or "").split(",") if text else []:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            msg = f"{option} {item!r}: expected NAME=QUANTITY pairs separated by commas"
            raise UsageError(msg)
        result[name] = _quantity(value, f"{option} {name}")
    return result


def _choose_container(pod: dict[str, Any], wanted: str | None) -> str:
    from podself.downward import go_quote
    from podself.emulator.resize import find_resizable

    spec = pod.get("spec") or {}
    if wanted is not None:
        if find_resizable(pod, wanted) is None:
            msg = f"unable to find container named {go_quote(wanted)}"
            raise UsageError(msg)
        return wanted
    names = [str(c.get("name")) for c in spec.get("containers") or []]
    default = ((pod.get("metadata") or {}).get("annotations") or {}).get(
        "kubectl.kubernetes.io/default-container"
    )
    if default in names:
        return str(default)
    if len(names) == 1:
        return names[0]
    shown = ", ".join(go_quote(n) for n in names)
    msg = f"the pod has {len(names)} containers ({shown}): choose one with -c"
    raise UsageError(msg)


def run(args: argparse.Namespace) -> int:
    """Check the resize as the API server does, write it to the pod, print kubectl's line."""
    from podself.cli.label import pod_name, running_pod, update_running_pod
    from podself.emulator.state import default_state_root, next_resource_version

    try:
        items = [
            i.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for i in args.items
        ]
        name = pod_name(items)
        limits = _pairs(args.limits, "--limits")
        requests = _pairs(args.requests, "--requests")
        follow = {}
        for option, resource in (("cpu", "cpu"), ("memory", "memory")):
            text = getattr(args, option)
            if text is not None:
                if resource in limits:
                    msg = f"--{option} and --limits {resource}=...: give the {resource} limit once"
                    raise UsageError(msg)
                follow[resource] = _quantity(text, f"--{option}")
        if not (limits or requests or follow):
            msg = "nothing to change: give --cpu, --memory, --limits or --requests"
            raise UsageError(msg)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    state = running_pod(args.state_dir or default_state_root(), args.namespace or "default", name)
    if isinstance(state, int):
        return state
    outcome: dict[str, bool] = {}

    def change(pod: dict[str, Any]) -> None:
        from podself.emulator.pod import invalid_message
        from podself.emulator.resize import resize_errors, resized_pod
        from podself.validation import kubernetes_target

        container = _choose_container(pod, args.container)
        new = resized_pod(pod, container, limits, requests, follow=follow)
        with kubernetes_target(args.kubernetes_version):
            errors = [str(e) for e in resize_errors(new, pod)]
        if errors:
            raise InvalidPod(invalid_message("Pod", name, errors))
        outcome["changed"] = new["spec"] != pod["spec"]
        if outcome["changed"]:
            pod["spec"] = new["spec"]
            meta = pod.setdefault("metadata", {})
            meta["resourceVersion"] = next_resource_version(meta)

    code = update_running_pod(state, name, change)
    if code:
        return code
    print(f"pod/{name} patched" if outcome.get("changed") else f"pod/{name} patched (no change)")
    return 0

"""``podself get pods``: the pods ``podself run`` is running, in kubectl's table.

Columns NAME, READY, STATUS, RESTARTS and AGE (NAMESPACE first with ``-A``; IP, NODE,
NOMINATED NODE and READINESS GATES added by ``-o wide``), STATUS and AGE computed as
``kubectl get pods`` computes them. ``-o yaml``/``-o json`` print the pod object (its
``pod.json`` with the live status) as kubectl prints it: one pod when one name is given,
else a ``List``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "configure",
    "human_duration",
    "pod_object",
    "pod_row",
    "render_table",
    "run",
    "wide_columns",
]

_POD_TYPES = ("pod", "pods", "po")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``get``'s options."""
    from podself.cli import add_state_dir

    parser.add_argument("resource", help="pods (also pod, po, or pod/NAME)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these pods")
    parser.set_defaults(intermixed="names")  # flags may follow the names, as in kubectl
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    parser.add_argument(
        "-A", "--all-namespaces", action="store_true", help="list pods of every namespace"
    )
    parser.add_argument(
        "-o", "--output", choices=("wide", "json", "yaml", "name"), help="output format"
    )
    add_state_dir(parser)


def human_duration(seconds: float) -> str:
    """apimachinery ``duration.HumanDuration`` (the AGE column)."""
    whole = int(seconds)
    if whole < -1:
        return "<invalid>"
    if whole < 0:
        return "0s"
    if whole < 60 * 2:
        return f"{whole}s"
    minutes = whole // 60
    if minutes < 10:
        rest = whole % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = whole // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        years = hours // 24 // 365
        return f"{years}y" if days == 0 else f"{years}y{days}d"
    return f"{hours // 24 // 365}y"


def _state(status: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    state = status.get("state") or {}
    for key in ("waiting", "running", "terminated"):
        if key in state:
            return key, state[key] or {}
    return "waiting", {}


def pod_row(pod: Mapping[str, Any], status: Mapping[str, Any], now: float) -> list[str]:
    """NAME, READY, STATUS, RESTARTS, AGE for one pod (kubectl's ``printPod`` rules)."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    containers = status.get("containerStatuses") or []
    inits = status.get("initContainerStatuses") or []
    total = len(spec.get("containers") or [])
    reason = str(status.get("phase") or "Pending")
    ready = 0
    restarts = 0
    initializing = False
    regular_inits = [
        s
        for s, c in zip(inits, spec.get("initContainers") or [], strict=False)
        if c.get("restartPolicy") != "Always"
    ]
    for index, entry in enumerate(regular_inits):
        kind, detail = _state(entry)
        if kind == "terminated" and detail.get("exitCode") == 0:
            continue
        if kind == "terminated":
            reason = f"Init:{detail.get('reason') or 'ExitCode:' + str(detail.get('exitCode'))}"
        elif kind == "waiting" and detail.get("reason") not in (None, "", "PodInitializing"):
            reason = f"Init:{detail['reason']}"
        else:
            reason = f"Init:{index}/{len(regular_inits)}"
        initializing = True
        break
    if not initializing:
        has_running = False
        for entry in reversed(containers):
            kind, detail = _state(entry)
            if kind in ("waiting", "terminated") and detail.get("reason"):
                reason = str(detail["reason"])
            elif kind == "terminated":
                reason = f"ExitCode:{detail.get('exitCode')}"
            elif kind == "running" and entry.get("ready"):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running"
    if status.get("terminating"):
        reason = "Terminating"
    age = "<unknown>"
    created = meta.get("creationTimestamp")
    if isinstance(created, str):
        try:
            moment = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            age = human_duration(now - moment.timestamp())
        except ValueError:
            pass
    return [str(meta.get("name")), f"{ready}/{total}", reason, str(restarts), age]


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """kubectl's tabwriter layout: min width 6, padding 3, the last column unpadded."""
    if not rows:
        return ""
    columns = len(rows[0])
    widths = [max(6, max(len(row[i]) for row in rows) + 3) for i in range(columns - 1)]
    lines = []
    for row in rows:
        cells = [row[i].ljust(widths[i]) for i in range(columns - 1)] + [row[-1]]
        lines.append("".join(cells))
    return "\n".join(lines)


def _unreadable_pod(namespace: str, name: str, status: Mapping[str, Any]) -> dict[str, Any]:
    """A stand-in for a running pod whose ``pod.json`` cannot be read: its name, and one
    container per container status so READY still counts."""
    containers = [
        {"name": str(entry.get("name"))}
        for entry in status.get("containerStatuses") or []
        if isinstance(entry, Mapping)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": containers},
    }


def _requested(resource: str, words: Sequence[str]) -> tuple[list[str], bool]:
    """The pod names asked for, and whether one object (not a list) is meant: kubectl's
    ``pods [NAME...]`` or ``pod/NAME...`` forms."""
    if "/" not in resource:
        if resource.lower() not in _POD_TYPES:
            msg = f'the server doesn\'t have a resource type "{resource}"'
            raise ValueError(msg)
        if any("/" in word for word in words):
            msg = (
                "there is no need to specify a resource type as a separate argument when "
                "passing arguments in resource/name form (e.g. 'podself get resource/"
                "<resource_name>' instead of 'podself get resource resource/<resource_name>'"
            )
            raise ValueError(msg)
        return list(words), len(words) == 1
    names = []
    for word in (resource, *words):
        kind, _, name = word.partition("/")
        if kind.lower() not in _POD_TYPES:
            msg = f'the server doesn\'t have a resource type "{kind}"'
            raise ValueError(msg)
        if not name:
            msg = f"arguments in resource/name form must have a single resource and name: {word}"
            raise ValueError(msg)
        names.append(name)
    return names, len(names) == 1


def pod_object(pod: Mapping[str, Any], status: Mapping[str, Any]) -> dict[str, Any]:
    """The pod as the API server would return it: ``pod.json`` with the live status (only
    fields of a PodStatus; unset ones omitted, as Go's ``omitempty`` does)."""
    live = {k: v for k, v in status.items() if k != "terminating" and v not in (None, [], {})}
    return {**pod, "status": {**(pod.get("status") or {}), **live}}


def wide_columns(pod: Mapping[str, Any]) -> list[str]:
    """IP, NODE, NOMINATED NODE and READINESS GATES of ``kubectl get pods -o wide``."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ips = [e.get("ip") for e in status.get("podIPs") or [] if isinstance(e, Mapping)]
    ip = (ips[0] if ips else None) or status.get("podIP") or "<none>"
    gates = [g.get("conditionType") for g in spec.get("readinessGates") or []]
    readiness = "<none>"
    if gates:
        true = {
            c.get("type")
            for c in status.get("conditions") or []
            if isinstance(c, Mapping) and c.get("status") == "True"
        }
        readiness = f"{sum(gate in true for gate in gates)}/{len(gates)}"
    node = spec.get("nodeName") or "<none>"
    nominated = status.get("nominatedNodeName") or "<none>"
    return [str(ip), str(node), str(nominated), readiness]


def run(args: argparse.Namespace) -> int:
    """List the emulated pods (one whose state file is unreadable is listed with a warning)."""
    from podself.cli.label import request_error
    from podself.emulator.state import default_state_root, list_pods
    from podself.errors import ConfinementError
    from podself.validation import name_is_dns_label

    try:
        names, single = _requested(args.resource, args.names)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    root = args.state_dir or default_state_root()
    namespace = None if args.all_namespaces else (args.namespace or "default")
    if namespace is not None:
        invalid = request_error(namespace)
        if invalid is not None:
            print(f"error: {invalid}", file=sys.stderr)
            return 1
    # A namespace the API server refuses holds no pods; its name never reaches a path.
    valid = namespace is None or not name_is_dns_label(namespace)
    try:
        states = list_pods(root, namespace) if valid else []
    except ConfinementError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # another user's state directory (0700), say
        print(f'error: cannot list the pods in "{root}": {exc.strerror or exc}', file=sys.stderr)
        return 1
    missing = [n for n in names if n not in {s.name for s in states}]
    if names:
        states = [s for s in states if s.name in names]
        for name in missing:
            print(f'Error from server (NotFound): pods "{name}" not found', file=sys.stderr)
    now = time.time()
    items: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    for state in states:
        status = state.read_status()
        try:
            pod = state.read_pod()
        except (OSError, ValueError) as exc:
            # The pod runs (its owner is alive): show it from what is known, and say why.
            print(f'warning: pod "{state.name}": {exc}', file=sys.stderr)
            pod = _unreadable_pod(state.namespace, state.name, status)
        items.append((pod, status, state.namespace))
    if args.output in ("json", "yaml"):
        from podself.cli.printers import kubectl_json, kubectl_yaml

        objects = [pod_object(pod, status) for pod, status, _ in items]
        printer = kubectl_json if args.output == "json" else kubectl_yaml
        if not single:
            listing = {"apiVersion": "v1", "items": objects, "kind": "List"}
            print(printer({**listing, "metadata": {"resourceVersion": ""}}), end="")
        elif objects:
            print(printer(objects[0]), end="")
        return 1 if missing else 0
    if args.output == "name":
        for pod, _, _ in items:
            print(f"pod/{pod['metadata']['name']}")
        return 1 if missing else 0
    if not items:
        if not names:
            where = "any namespace" if namespace is None else f"{namespace} namespace"
            print(f"No resources found in {where}.", file=sys.stderr)
        return 1 if names else 0
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    if args.output == "wide":
        header += ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
    if args.all_namespaces:
        header = ["NAMESPACE", *header]
    rows = [header]
    for pod, status, ns in items:
        row = pod_row(pod, status, now)
        if args.output == "wide":
            row += wide_columns(pod)
        if args.all_namespaces:
            row = [ns, *row]
        rows.append(row)
    print(render_table(rows))
    return 1 if missing else 0

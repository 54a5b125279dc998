"""``podself label`` / ``podself annotate``: change a pod run by ``podself run``, like kubectl.

``podself label [pod] NAME KEY=VAL... KEY-... [--overwrite]`` (or ``pods --all``, flags
anywhere) takes kubectl's syntax and gives its messages (``pod/NAME labeled``, ``error: 'stage'
already has a value (alpha), and --overwrite is false``); keys and values are checked as the API
server checks them. The running ``podself run`` projects the change into the pod's Downward API
volumes after its sync delay. A pod that a ``podself run`` of the same session is still
creating is waited for (ten seconds at most).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from podself.validation import label_value_errors

if TYPE_CHECKING:
    from collections.abc import Callable

    from podself.emulator.state import PodState

__all__ = [
    "annotation_errors",
    "configure",
    "label_errors",
    "label_value_errors",
    "parse_pairs",
    "pod_name",
    "request_error",
    "run",
    "run_starting",
    "split_resources",
    "wait_until_running",
]

_POD_TYPES = ("pod", "pods", "po")
_STARTING_SECONDS = 10.0  # a `podself run` younger than this may still be creating its pod
_POLL_SECONDS = 0.05


def run_starting(proc: str = "/proc", session: int | None = None) -> bool:
    """Whether a ``podself run`` in this session (this terminal, or the script it runs)
    started less than ten seconds ago: its pod may not exist yet, as when a pasted block
    runs ``podself run ... &`` and then ``podself label`` at once. Reads Linux's ``/proc``;
    elsewhere the answer is no."""
    import itertools
    import os

    session = os.getsid(0) if session is None else session
    try:
        with open(os.path.join(proc, "uptime"), encoding="ascii") as file:
            uptime = float(file.read().split()[0])
        pids = [entry for entry in os.listdir(proc) if entry.isdigit()]
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return False
    for pid in pids:
        base = os.path.join(proc, pid)
        try:
            with open(os.path.join(base, "stat"), "rb") as file:
                # Fields 6 and 22, counted after the command name, which may hold spaces.
                fields = file.read(4096).rsplit(b")", 1)[1].split()
            if int(fields[3]) != session:
                continue
            started = int(fields[19]) / ticks
            with open(os.path.join(base, "cmdline"), "rb") as file:
                argv = file.read(4096).split(b"\0")
            if not any(
                os.path.basename(word) == b"podself" and following == b"run"
                for word, following in itertools.pairwise(argv)
            ):
                continue
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if uptime - started < _STARTING_SECONDS:
            return True
    return False


class UsageError(Exception):
    """A kubectl-style error: printed as ``error: <message>``, exit status 1."""


class InvalidPod(Exception):
    """The API server's "is invalid" answer (printed as it is, like kubectl), exit status 1."""


def split_resources(items: Sequence[str], pair_type: str) -> tuple[list[str], list[str]]:
    """kubectl ``GetResourcesAndPairs``: leading words are resources, the rest ``K=V``/``K-``."""
    resources: list[str] = []
    pairs: list[str] = []
    found_pair = False
    for item in items:
        is_pair = ("=" in item and not item.startswith("=")) or (item.endswith("-") and item != "-")
        if is_pair:
            found_pair = True
            pairs.append(item)
        elif found_pair:
            msg = f"all resources must be specified before {pair_type} changes: {item}"
            raise UsageError(msg)
        else:
            resources.append(item)
    return resources, pairs


def parse_pairs(pairs: Sequence[str], pair_type: str) -> tuple[dict[str, str], list[str]]:
    """kubectl's ``parseLabels`` (labels) or ``ParsePairs`` (annotations): new pairs and
    keys to remove, with kubectl's error messages."""
    new: dict[str, str] = {}
    remove: list[str] = []
    if pair_type == "label":
        for spec in pairs:
            if "=" in spec:
                parts = spec.split("=")
                if len(parts) != 2:
                    msg = f"invalid label spec: {spec}"
                    raise UsageError(msg)
                errs = label_value_errors(parts[1])
                if errs:
                    msg = f'invalid label value: "{spec}": {";".join(errs)}'
                    raise UsageError(msg)
                new[parts[0]] = parts[1]
            elif spec.endswith("-"):
                remove.append(spec[:-1])
            else:
                msg = f"unknown label spec: {spec}"
                raise UsageError(msg)
        if any(key in new for key in remove):
            msg = "can not both modify and remove a label in the same command"
            raise UsageError(msg)
        return new, remove
    invalid: list[str] = []
    for spec in pairs:
        if "=" in spec and not spec.startswith("="):
            key, _, value = spec.partition("=")
            new[key] = value
        elif spec.endswith("-") and spec != "-":
            remove.append(spec[:-1])
        else:
            invalid.append(spec)
    if invalid:
        msg = f"invalid annotation format: {', '.join(invalid)}"
        raise UsageError(msg)
    both = [key for key in remove if key in new]
    if both:
        msg = (
            "can not both modify and remove the following annotation(s) in the same command: "
            + ", ".join(both)
        )
        raise UsageError(msg)
    return new, remove


def label_errors(labels: Mapping[str, str], path: str = "metadata.labels") -> list[str]:
    """The API server's ``ValidateLabels`` errors for the pod's new labels."""
    from podself.validation import validate_labels

    return [str(e) for e in validate_labels(labels, path)]


def annotation_errors(
    annotations: Mapping[str, str], path: str = "metadata.annotations"
) -> list[str]:
    """The API server's ``ValidateAnnotations`` errors (keys lower-cased, 256 KiB in total)."""
    from podself.validation import validate_annotations

    return [str(e) for e in validate_annotations(annotations, path)]


def request_error(namespace: str, name: str | None = None) -> str | None:
    """client-go's refusal of a namespace or pod name that cannot be one path segment (``.``,
    ``..``, ``/`` or ``%``), as kubectl prints it after ``error: ``; None when both are fine."""
    from podself.downward import go_quote
    from podself.validation import path_segment_errors

    for what, value in (("namespace", namespace), ("resource name", name)):
        errors = path_segment_errors(value) if value is not None else []
        if errors:
            return f"invalid {what} {go_quote(value or '')}: [{' '.join(errors)}]"
    return None


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the options of ``label`` and ``annotate`` (the same for both)."""
    from podself.cli import add_state_dir

    noun = "annotation" if parser.prog.endswith("annotate") else "label"
    article = "an" if noun == "annotation" else "a"
    parser.usage = "%(prog)s [--overwrite] [pod] NAME KEY_1=VAL_1 ... KEY_N=VAL_N"
    parser.add_argument(
        "items",
        nargs="+",
        metavar="ARG",
        help=f"[pod] NAME (or pod/NAME), then KEY=VALUE to set {article} {noun} or KEY- to "
        "remove it",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=f"allow {noun}s to be overwritten (otherwise an existing key is an error)",
    )
    parser.set_defaults(intermixed="items")  # flags may follow the pod's name, as in kubectl
    parser.add_argument("--list", action="store_true", help=f"print the pod's {noun}s")
    parser.add_argument(
        "--all", action="store_true", help="change every pod of the namespace (pods --all)"
    )
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    add_state_dir(parser)


def pod_name(resources: Sequence[str]) -> str:
    """The pod named by ``[pod] NAME``, ``pod/NAME`` or ``NAME`` (kubectl's forms)."""
    if not resources:
        msg = "one or more resources must be specified as <resource> <name> or <resource>/<name>"
        raise UsageError(msg)
    if len(resources) == 1 and "/" in resources[0]:
        kind, _, name = resources[0].partition("/")
    elif len(resources) == 1:
        kind, name = "pod", resources[0]
    elif len(resources) == 2:
        kind, name = resources
    else:
        msg = "podself changes one pod at a time: give [pod] NAME"
        raise UsageError(msg)
    if kind.lower() not in _POD_TYPES:
        msg = f'podself runs pods only: cannot change "{kind}" objects'
        raise UsageError(msg)
    if not name:
        msg = "resource name may not be empty"
        raise UsageError(msg)
    return name


def wait_until_running(state: PodState) -> bool:
    """Whether a live ``podself run`` owns ``state``; a pod that a ``podself run`` of this
    session is still creating is waited for, at most ten seconds."""
    deadline = time.monotonic() + _STARTING_SECONDS
    while not (state.exists() and state.alive()):
        if time.monotonic() > deadline or not run_starting():
            return False
        time.sleep(_POLL_SECONDS)
    return True


def not_found(name: str) -> str:
    """kubectl's answer for a pod that does not exist."""
    return f'Error from server (NotFound): pods "{name}" not found'


def running_pod(root: str, namespace: str, name: str) -> PodState | int:
    """The state of the running pod ``namespace/name``, or the exit status after printing
    kubectl's error: names client-go refuses, names no pod can have (nothing is read then),
    a state directory that is not podself's, a pod that is not running."""
    from podself.emulator.state import PodState
    from podself.errors import ConfinementError
    from podself.validation import name_is_dns_label, name_is_dns_subdomain

    invalid = request_error(namespace, name)
    if invalid is not None:
        print(f"error: {invalid}", file=sys.stderr)
        return 1
    if name_is_dns_subdomain(name) or name_is_dns_label(namespace):
        print(not_found(name), file=sys.stderr)
        return 1
    try:
        state = PodState(root, namespace, name)
    except ConfinementError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not wait_until_running(state):
        print(not_found(name), file=sys.stderr)
        return 1
    return state


def update_running_pod(state: PodState, name: str, change: Callable[[dict[str, Any]], None]) -> int:
    """Apply ``change`` to the pod under its lock: 0, or 1 after printing kubectl's error
    (:class:`UsageError`, :class:`InvalidPod`, NotFound) or why the pod was left as it was."""
    from podself.errors import PodselfError

    try:
        state.update_pod(change)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except InvalidPod as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except FileNotFoundError:
        print(not_found(name), file=sys.stderr)
        return 1
    except (OSError, PodselfError) as exc:
        # A full disk, an unreadable pod.json, a value edited into it by hand...: the pod is
        # left exactly as it was.
        print(f'error: pod "{name}" not changed: {exc}', file=sys.stderr)
        return 1
    return 0


def _label_change_message(before: dict[str, str], after: dict[str, str]) -> str:
    """kubectl's ``updateDataChangeMsg``: what ``pod/NAME ...`` says after a label change."""
    added_or_changed = any(
        key not in before or before[key] != value for key, value in after.items()
    )
    removed = any(key not in after for key in before)
    if added_or_changed and removed:
        return "label(s) changed"
    if added_or_changed:
        return "labeled"
    return "unlabeled" if removed else "not labeled"


def run(args: argparse.Namespace) -> int:
    """Apply the change to the running pod's ``pod.json`` (each pod of the namespace with
    ``--all``) and print kubectl's result lines."""
    from podself.emulator.state import default_state_root, list_pods
    from podself.errors import ConfinementError
    from podself.validation import name_is_dns_label

    pair_type = "annotation" if args.command == "annotate" else "label"
    try:
        # Arguments reach kubectl as Go strings and the API server as JSON, which turns
        # bytes that are not UTF-8 into U+FFFD; Python keeps them as lone surrogates.
        items = [
            item.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            for item in args.items
        ]
        resources, pairs = split_resources(items, pair_type)
        names = [] if args.all else [pod_name(resources)]  # --all: listed below
        if args.all:
            _check_all(resources)
        new, remove = parse_pairs(pairs, pair_type)
        if not new and not remove and not args.list:
            msg = f"at least one {pair_type} update is required"
            raise UsageError(msg)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    namespace = args.namespace or "default"
    root = args.state_dir or default_state_root()
    if args.all:
        invalid = request_error(namespace)
        if invalid is not None:
            print(f"error: {invalid}", file=sys.stderr)
            return 1
        # A namespace the API server refuses holds no pods; its name never reaches a path.
        try:
            states = [] if name_is_dns_label(namespace) else list_pods(root, namespace)
        except ConfinementError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        except OSError as exc:
            reason = exc.strerror or exc
            print(f'error: cannot list the pods in "{root}": {reason}', file=sys.stderr)
            return 1
        names = [state.name for state in states]
    codes = [
        _change_pod(args, root, namespace, name, (new, remove), heading=args.all) for name in names
    ]
    return max(codes, default=0)


def _check_all(resources: Sequence[str]) -> None:
    """``--all`` takes the resource type alone (``pods``)."""
    if len(resources) != 1 or resources[0].lower() not in _POD_TYPES:
        msg = "--all selects every pod of the namespace: give the type alone (pods --all)"
        raise UsageError(msg)


def _change_pod(
    args: argparse.Namespace,
    root: str,
    namespace: str,
    name: str,
    changes: tuple[dict[str, str], list[str]],
    *,
    heading: bool,
) -> int:
    """Change one pod; print kubectl's lines (``--list`` under a heading per pod when
    ``heading``); return the exit status."""
    from podself.downward import go_quote
    from podself.emulator.state import next_resource_version

    pair_type = "annotation" if args.command == "annotate" else "label"
    field = f"{pair_type}s"
    new, remove = changes
    state = running_pod(root, namespace, name)
    if isinstance(state, int):
        return state
    outcome: dict[str, Any] = {}

    def change(pod: dict[str, Any]) -> None:
        meta = pod.setdefault("metadata", {})
        current = dict(meta.get(field) or {})
        outcome["before"] = dict(current)
        if not args.overwrite:
            if pair_type == "label":
                # kubectl only objects when the value would actually change.
                errs = [
                    f"'{k}' already has a value ({current[k]}), and --overwrite is false"
                    for k, v in new.items()
                    if k in current and current[k] != v
                ]
                if errs:
                    text = errs[0] if len(errs) == 1 else "[" + ", ".join(errs) + "]"
                    raise UsageError(text)
            else:
                found = [
                    f"'{k}' already has a value ({current[k]})"
                    for k, v in new.items()
                    if k in current and current[k] != v and k != "kubernetes.io/change-cause"
                ]
                if found:
                    msg = (
                        "--overwrite is false but found the following declared annotation(s): "
                        + "; ".join(found)
                    )
                    raise UsageError(msg)
        outcome["missing"] = [k for k in remove if k not in current]
        current.update(new)
        for key in remove:
            current.pop(key, None)
        errs = label_errors(current) if pair_type == "label" else annotation_errors(current)
        if errs:
            prefix = f'The Pod "{name}" is invalid: '
            text = prefix + errs[0] if len(errs) == 1 else prefix + "\n* " + "\n* ".join(errs)
            raise InvalidPod(text)
        outcome["after"] = current
        if args.list or current == outcome["before"]:
            return
        if current:
            meta[field] = current
        else:
            meta.pop(field, None)
        meta["resourceVersion"] = next_resource_version(meta)

    code = update_running_pod(state, name, change)
    if code:
        return code
    if args.list:
        indent = ""
        if heading and pair_type == "label":  # kubectl label's heading (annotate has none)
            indent = " "
            print(f"Listing labels for Pod./{name}:")
        for key, value in sorted(outcome["after"].items()):
            print(f"{indent}{key}={value}")
        return 0
    if pair_type == "label":
        for key in outcome["missing"]:
            print(f"label {go_quote(key)} not found.")
        verb = _label_change_message(outcome["before"], outcome["after"])
    else:
        verb = "annotated"
    print(f"pod/{name} {verb}")
    return 0

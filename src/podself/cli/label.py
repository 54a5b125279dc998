"""``podself label`` / ``podself annotate``: change a pod run by ``podself run``, like kubectl.

``podself label [pod] NAME KEY=VAL... KEY-... [--overwrite]`` takes kubectl's syntax and gives
its messages (``pod/NAME labeled``, ``error: 'stage' already has a value (alpha), and
--overwrite is false``); keys and values are checked as the API server checks them. The running
``podself run`` projects the change into the pod's Downward API volumes after its sync delay.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "annotation_errors",
    "configure",
    "label_errors",
    "label_value_errors",
    "parse_pairs",
    "request_error",
    "run",
    "split_resources",
]

_POD_TYPES = ("pod", "pods", "po")
_LABEL_VALUE_FMT = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    f"'my_value',  or '12345', regex used for validation is '{_LABEL_VALUE_FMT}')"
)
_TOTAL_ANNOTATION_SIZE = 256 * 1024


class UsageError(Exception):
    """A kubectl-style error: printed as ``error: <message>``, exit status 1."""


def _is_label_value(value: str) -> bool:
    if not value:
        return True
    alnum = str.isascii
    if not (alnum(value[0]) and value[0].isalnum() and alnum(value[-1]) and value[-1].isalnum()):
        return False
    return all(c.isascii() and (c.isalnum() or c in "-_.") for c in value)


def label_value_errors(value: str) -> list[str]:
    """apimachinery ``IsValidLabelValue``: at most 63 bytes of ``[-A-Za-z0-9_.]``, starting
    and ending alphanumeric (or empty)."""
    errs: list[str] = []
    if len(value.encode("utf-8", "surrogateescape")) > 63:
        errs.append("must be no more than 63 bytes")
    if not _is_label_value(value):
        errs.append(_LABEL_VALUE_MSG)
    return errs


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
    from podself.downward import go_quote, qualified_name_errors

    errs: list[str] = []
    for key, value in labels.items():
        errs.extend(
            f"{path}: Invalid value: {go_quote(key)}: {msg}" for msg in qualified_name_errors(key)
        )
        errs.extend(
            f"{path}: Invalid value: {go_quote(value)}: {msg}" for msg in label_value_errors(value)
        )
    return errs


def annotation_errors(
    annotations: Mapping[str, str], path: str = "metadata.annotations"
) -> list[str]:
    """The API server's ``ValidateAnnotations`` errors (keys lower-cased, 256 KiB in total)."""
    from podself.downward import go_quote, qualified_name_errors
    from podself.validation import go_lower

    errs: list[str] = []
    total = 0
    for key, value in annotations.items():
        # Lower-cased the Go way: Python's str.lower() turns "İ" into two runes.
        lowered = go_lower(key)
        errs.extend(
            f"{path}: Invalid value: {go_quote(lowered)}: {msg}"
            for msg in qualified_name_errors(lowered)
        )
        total += len(key.encode("utf-8", "surrogateescape"))
        total += len(value.encode("utf-8", "surrogateescape"))
    if total > _TOTAL_ANNOTATION_SIZE:
        errs.append(f"{path}: Too long: may not be more than {_TOTAL_ANNOTATION_SIZE} bytes")
    return errs


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
    parser.add_argument("--list", action="store_true", help=f"print the pod's {noun}s")
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="the state directory podself run uses "
        "(default $PODSELF_STATE_DIR, else /run/podself as root, "
        "$XDG_RUNTIME_DIR/podself or <tmp>/podself-<uid>)",
    )


def _pod_name(resources: Sequence[str]) -> str:
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
    """Apply the change to the running pod's ``pod.json`` and print kubectl's result line."""
    from podself.downward import go_quote
    from podself.emulator.state import PodState, default_state_root, next_resource_version
    from podself.errors import ConfinementError, ManifestError
    from podself.validation import name_is_dns_label, name_is_dns_subdomain

    class InvalidPod(ManifestError):
        """The API server's "is invalid" answer (printed as it is, like kubectl)."""

    pair_type = "annotation" if args.command == "annotate" else "label"
    field = f"{pair_type}s"
    try:
        # Arguments reach kubectl as Go strings and the API server as JSON, which turns
        # bytes that are not UTF-8 into U+FFFD; Python keeps them as lone surrogates.
        items = [
            item.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            for item in args.items
        ]
        resources, pairs = split_resources(items, pair_type)
        name = _pod_name(resources)
        new, remove = parse_pairs(pairs, pair_type)
        if not new and not remove and not args.list:
            msg = f"at least one {pair_type} update is required"
            raise UsageError(msg)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    namespace = args.namespace or "default"
    invalid = request_error(namespace, name)
    if invalid is not None:
        print(f"error: {invalid}", file=sys.stderr)
        return 1
    # No pod can have a name or namespace the API server refuses: NotFound, nothing is read.
    if name_is_dns_subdomain(name) or name_is_dns_label(namespace):
        print(f'Error from server (NotFound): pods "{name}" not found', file=sys.stderr)
        return 1
    try:
        state = PodState(args.state_dir or default_state_root(), namespace, name)
    except ConfinementError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not (state.exists() and state.alive()):
        print(f'Error from server (NotFound): pods "{name}" not found', file=sys.stderr)
        return 1
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

    try:
        state.update_pod(change)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except InvalidPod as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except FileNotFoundError:
        print(f'Error from server (NotFound): pods "{name}" not found', file=sys.stderr)
        return 1
    except (OSError, ManifestError) as exc:
        # A full disk, an unreadable pod.json...: the pod is left exactly as it was.
        print(f'error: pod "{name}" not changed: {exc}', file=sys.stderr)
        return 1
    if args.list:
        for key, value in sorted(outcome["after"].items()):
            print(f"{key}={value}")
        return 0
    if pair_type == "label":
        for key in outcome["missing"]:
            print(f"label {go_quote(key)} not found.")
        verb = _label_change_message(outcome["before"], outcome["after"])
    else:
        verb = "annotated"
    print(f"pod/{name} {verb}")
    return 0

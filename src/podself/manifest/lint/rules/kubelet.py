"""What the kubelet reveals only at run time: labels and annotations that are not there,
metadata read into env vars that never change, subPath mounts of Downward API files that never
update, $(VAR) references that stay literal, and env vars defined twice."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import Final

from podself.downward import go_quote
from podself.expand import references
from podself.manifest.lint.engine import Family, PodCheck, make_rule
from podself.manifest.lint.pod import (
    MAPS,
    Container,
    Item,
    Pod,
    subscript,
)
from podself.manifest.workloads import Workload

_RULES: Final = (
    make_rule(
        "undefined-label",
        "warning",
        "runtime",
        "An env var reads a pod label that the pod template does not set.",
        """`metadata.labels['key']` for a key the pod does not have is not an error: the
        variable is set to the empty string. Labels of pods created from a template are
        exactly the template's labels (plus the few a controller adds, such as
        `pod-template-hash`, and `batch.kubernetes.io/job-completion-index` on the pods of an
        Indexed Job only, which this rule knows), so a missing key is almost always a typo
        or a label set on the wrong object (for example on the Deployment instead of its
        `spec.template`). Add the label to the pod template's metadata or fix the key.""",
        fix="add the label to the pod template's metadata.labels, or fix the key",
    ),
    make_rule(
        "undefined-annotation",
        "info",
        "runtime",
        "An env var reads a pod annotation that the pod template does not set.",
        """`metadata.annotations['key']` for a key the pod does not have gives an empty
        variable. Unlike labels, annotations are often added after the manifest is written
        (by admission webhooks or controllers), so this is only information. Add the
        annotation to the pod template's metadata if the app depends on it.""",
        fix="add the annotation to the pod template's metadata.annotations if the app needs it",
    ),
    make_rule(
        "static-metadata-env",
        "info",
        "runtime",
        "A label or annotation that looks like live configuration is read through an env var.",
        """Env vars are resolved once, when the container starts; `kubectl label` or
        `kubectl annotate` on a running pod changes nothing inside it. When the key or the
        variable name suggests something meant to change at run time (feature flags,
        toggles, log levels, config, rollout weights...), expose it as a file in a
        `downwardAPI` volume instead: the kubelet rewrites it after a change, and
        `podself.watch` reports the update.""",
        fix="use a downwardAPI volume item and re-read the file on change (podself.watch)",
    ),
    make_rule(
        "subpath-never-updates",
        "warning",
        "runtime",
        "A `downwardAPI` or `projected` volume is mounted with `subPath`.",
        """The kubelet updates a `downwardAPI` volume by swapping its `..data` symlink, which
        a `subPath` mount does not follow: files under a `subPath` keep the content they had
        when the container started, so labels, annotations and resource values never update
        there (and a `subPath` naming no item gives an empty directory). Mount the whole volume
        at a directory and read the file inside it.""",
        fix="mount the whole volume at a directory (no subPath) and read the file inside it",
    ),
    make_rule(
        "undefined-env-reference",
        "warning",
        "runtime",
        "A `$(VAR)` reference to a variable that is not defined before it.",
        """Kubernetes expands `$(VAR)` in env values, `command` and `args` only when `VAR` is
        already defined: for an env value, by an earlier entry of the same container's `env`
        or by `envFrom`; for `command` and `args`, by any of the container's variables
        (service link variables such as `X_SERVICE_HOST` count too). Otherwise the text
        `$(VAR)` is passed on unchanged. Define the variable above the one that uses it, fix
        the name, or write `$$(VAR)` for a literal `$(VAR)`.""",
        fix="define the variable earlier in env, or write $$(VAR) for a literal text",
    ),
    make_rule(
        "duplicate-env",
        "warning",
        "runtime",
        "The same env var name is defined twice in a container.",
        """The last definition wins in the container, but `kubectl apply` merges env lists by
        name and may drop one of them, and the API server warns: `hides previous definition`.
        A redefinition that extends the earlier value (`X: "$(X):more"`) is not reported,
        as in Kubernetes. Remove one of the definitions.""",
        fix="remove one of the definitions",
    ),
)
_FIX: Final = {rule.id: rule.fix for rule in _RULES}

# --- fieldRef at run time --------------------------------------------------------------------

# Labels and annotations controllers add to the pods they create, by workload kind.
_CONTROLLER_LABELS: Final[Mapping[str, frozenset[str]]] = {
    "Deployment": frozenset({"pod-template-hash"}),
    "ReplicaSet": frozenset(),
    "StatefulSet": frozenset(
        {
            "controller-revision-hash",
            "statefulset.kubernetes.io/pod-name",
            "apps.kubernetes.io/pod-index",
        }
    ),
    "DaemonSet": frozenset({"controller-revision-hash", "pod-template-generation"}),
    "Job": frozenset(
        {
            "controller-uid",
            "job-name",
            "batch.kubernetes.io/controller-uid",
            "batch.kubernetes.io/job-name",
        }
    ),
}
_CONTROLLER_ANNOTATIONS: Final[Mapping[str, frozenset[str]]] = {}
# The Job controller sets this label and annotation only on the pods of an Indexed Job.
_COMPLETION_INDEX: Final = frozenset({"batch.kubernetes.io/job-completion-index"})


def _indexed_job(workload: Workload) -> bool:
    """Whether ``workload`` is a Job (or a CronJob's job template) with completionMode Indexed."""
    spec = workload.object.get("spec")
    if workload.kind == "CronJob":
        template = spec.get("jobTemplate") if isinstance(spec, MAPS) else None
        spec = template.get("spec") if isinstance(template, MAPS) else None
    elif workload.kind != "Job":
        return False
    return isinstance(spec, MAPS) and spec.get("completionMode") == "Indexed"


# Words in a key or variable name that suggest a value meant to change while the pod runs.
_DYNAMIC_WORDS: Final = frozenset(
    {
        "canary",
        "config",
        "configuration",
        "debug",
        "dynamic",
        "enable",
        "enabled",
        "experiment",
        "experiments",
        "feature",
        "features",
        "flag",
        "flags",
        "live",
        "loglevel",
        "maintenance",
        "reload",
        "rollout",
        "switch",
        "toggle",
        "toggles",
        "traffic",
        "verbosity",
        "weight",
    }
)
_CAMEL: Final = re.compile(r"([a-z0-9])([A-Z])")
_WORD_SPLIT: Final = re.compile(r"[^a-z0-9]+")


def _looks_dynamic(text: str) -> bool:
    words = _WORD_SPLIT.split(_CAMEL.sub(r"\1 \2", text).lower())
    if any(word in _DYNAMIC_WORDS for word in words):
        return True
    return ("log", "level") in pairwise(words)


def _check_metadata_env(pod: Pod) -> None:
    if not pod.wants("undefined-label", "undefined-annotation", "static-metadata-env"):
        return
    workload = pod.workload
    kind = "Job" if workload.kind == "CronJob" else workload.kind
    what = "the pod" if workload.kind == "Pod" else "the pod template"
    indexed = _indexed_job(workload)
    for container in pod.containers:
        for env in container.env:
            if env.field_ref is None or not isinstance(env.value, (str, type(None))):
                continue
            found = subscript(env.field_ref)
            if found is None:
                continue
            which, key = found
            label = "label" if which == "labels" else "annotation"
            where = f"{env.path}.valueFrom.fieldRef.fieldPath"
            name = env.name or f"env[{env.index}]"
            known = pod.labels if which == "labels" else pod.annotations
            added = (_CONTROLLER_LABELS if which == "labels" else _CONTROLLER_ANNOTATIONS).get(
                kind, frozenset()
            )
            if indexed:
                added |= _COMPLETION_INDEX
            if key not in known and key not in added:
                pod.report(
                    f"undefined-{label}",
                    where,
                    f'{name} reads {label} "{key}", which {what} does not set: the variable '
                    + (
                        "will be empty"
                        if which == "labels"
                        else "is empty unless something adds it before the container starts"
                    ),
                    (
                        "the Job controller sets it only on the pods of a Job with "
                        "completionMode: Indexed"
                        if key in _COMPLETION_INDEX and kind == "Job"
                        else f'add "{key}" to {workload.metadata_path}.{which}, or fix the key'
                    ),
                )
            if _looks_dynamic(key) or (env.name is not None and _looks_dynamic(env.name)):
                pod.report(
                    "static-metadata-env",
                    where,
                    f'{name} takes {label} "{key}" once, at container start: a later change '
                    f"to the {label} is not seen by the running container",
                    f"mount it from a downwardAPI volume (fieldRef.fieldPath: "
                    f"metadata.{which}['{key}']) and re-read the file when it changes",
                )


# --- subPath mounts --------------------------------------------------------------------------


def _item_changes(item: Item) -> str:
    """What makes the item's file change at run time ("" for fixed values)."""
    if item.resource_ref is not None:
        return "resource values"
    if item.field_ref is not None:
        path = item.field_ref.get("fieldPath")
        if isinstance(path, str):
            if path.startswith("metadata.labels"):
                return "labels"
            if path.startswith("metadata.annotations"):
                return "annotations"
    return ""


def _check_subpath(pod: Pod) -> None:
    if "subpath-never-updates" not in pod.enabled or not pod.volumes:
        return
    volumes = {volume.name: volume for volume in pod.volumes}
    for container in pod.containers:
        mounts = container.data.get("volumeMounts")
        if not isinstance(mounts, list):
            continue
        for index, mount in enumerate(mounts):
            if not isinstance(mount, MAPS):
                continue
            volume_name = mount.get("name")
            volume = volumes.get(volume_name) if isinstance(volume_name, str) else None
            if volume is None:
                continue
            mount_path = f"{container.path}.volumeMounts[{index}]"
            sub_path = mount.get("subPath")
            expr = mount.get("subPathExpr")
            if isinstance(sub_path, str) and sub_path.strip("./"):
                wanted = sub_path.strip("/").removeprefix("./")
                under = [
                    item
                    for item in volume.items
                    if item.item_path == wanted or item.item_path.startswith(wanted + "/")
                ]
                changes = sorted({c for c in map(_item_changes, under) if c})
                if not under and not volume.has_other_files:
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPath",
                        f'volume "{volume.name}" is mounted with subPath "{sub_path}", which '
                        "names no item of the volume: the container sees an empty directory",
                        _FIX["subpath-never-updates"],
                    )
                elif changes or (not under and volume.has_other_files):
                    what = " and ".join(changes) or "its files"
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPath",
                        f'{volume.kind} volume "{volume.name}" is mounted with subPath '
                        f'"{sub_path}": files under a subPath never update, so changes to '
                        f"{what} are not seen",
                        _FIX["subpath-never-updates"],
                    )
            elif isinstance(expr, str) and expr:
                changes = sorted({c for c in map(_item_changes, volume.items) if c})
                if changes or volume.has_other_files:
                    what = " and ".join(changes) or "its files"
                    pod.report(
                        "subpath-never-updates",
                        f"{mount_path}.subPathExpr",
                        f'{volume.kind} volume "{volume.name}" is mounted with subPathExpr '
                        f'"{expr}": files under a subPath never update, so changes to {what} '
                        "are not seen",
                        _FIX["subpath-never-updates"],
                    )


# --- $(VAR) references and duplicates --------------------------------------------------------

# Service link variables the kubelet adds (<SVC>_SERVICE_HOST, <SVC>_PORT_8080_TCP_ADDR...).
_SERVICE_VAR: Final = re.compile(
    r"[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)"
)
_ENV_REF_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
# In command/args, $(lower case) is usually shell command substitution left for the shell.
_COMMAND_REF_NAME: Final = re.compile(r"[A-Z_][A-Z0-9_]*")


def env_references(text: str) -> list[str]:
    """The names ``$(NAME)`` references in ``text`` would look up, as Kubernetes expands them.

    ``$$`` is an escaped ``$``; an unclosed ``$(`` and ``$`` before any other character are
    kept as they are (see ``podself.expand``, which the emulator uses for the expansion itself).
    """
    if "$" not in text:
        return []
    return list(references(text))


def _check_env_lists(pod: Pod) -> None:
    want_refs = "undefined-env-reference" in pod.enabled
    want_dupes = "duplicate-env" in pod.enabled
    if not (want_refs or want_dupes):
        return
    for container in pod.containers:
        if want_dupes:
            _duplicates(pod, container)
        if want_refs:
            _undefined_references(pod, container)


def _duplicates(pod: Pod, container: Container) -> None:
    # pkg/api/pod/warnings.go: a redefinition warns unless it extends the earlier value.
    seen: set[str] = set()
    for env in container.env:
        name = env.name
        if name is None:
            continue
        if name not in seen:
            seen.add(name)
            continue
        own = f"$({name})"
        value = env.value if isinstance(env.value, str) else ""
        if (
            env.field_ref is not None
            or env.resource_ref is not None
            or value == own
            or (own not in value)
        ):
            pod.report(
                "duplicate-env",
                env.path,
                f"{env.path}: hides previous definition of {go_quote(name)}, which may be "
                "dropped when using apply",
                _FIX["duplicate-env"],
            )


def _undefined_references(pod: Pod, container: Container) -> None:
    env_from = container.data.get("envFrom")
    prefixes: list[str] = []
    if isinstance(env_from, list):
        for source in env_from:
            if not isinstance(source, MAPS):
                continue
            prefix = source.get("prefix")
            if not isinstance(prefix, str) or not prefix:
                return  # any name may come from the config map or secret
            prefixes.append(prefix)
    all_names = {env.name: env.index for env in reversed(container.env) if env.name is not None}

    def known(name: str, defined: Iterable[str]) -> bool:
        return (
            name in defined
            or (bool(prefixes) and name.startswith(tuple(prefixes)))
            or _SERVICE_VAR.fullmatch(name) is not None
        )

    defined: set[str] = set()
    for env in container.env:
        value = env.value
        if isinstance(value, str) and "$(" in value:
            for name in env_references(value):
                if not _ENV_REF_NAME.fullmatch(name) or known(name, defined):
                    continue
                later = all_names.get(name)
                who = env.name or f"env[{env.index}]"
                if later is not None and later >= env.index:
                    message = (
                        f"$({name}) in {who} refers to {name}, which is defined later "
                        f"(env[{later}]): only variables above it are expanded, so the text "
                        f'"$({name})" is kept'
                    )
                    hint = f"move {name} above {who}"
                else:
                    message = (
                        f"$({name}) in {who} refers to a variable that is not defined: the "
                        f'text "$({name})" is kept as it is'
                    )
                    hint = _FIX["undefined-env-reference"]
                pod.report("undefined-env-reference", f"{env.path}.value", message, hint)
        if env.name is not None:
            defined.add(env.name)
    for key in ("command", "args"):
        words = container.data.get(key)
        if not isinstance(words, list):
            continue
        for index, word in enumerate(words):
            if not isinstance(word, str) or "$(" not in word:
                continue
            for name in env_references(word):
                if not _COMMAND_REF_NAME.fullmatch(name) or known(name, all_names):
                    continue
                pod.report(
                    "undefined-env-reference",
                    f"{container.path}.{key}[{index}]",
                    f'$({name}) in {key}[{index}] of container "{container.name}" refers to a '
                    f'variable the container does not define: the text "$({name})" is kept '
                    "as it is",
                    _FIX["undefined-env-reference"],
                )


FAMILY: Final = Family(
    _RULES,
    (
        PodCheck(_check_metadata_env),
        PodCheck(_check_subpath),
        PodCheck(_check_env_lists),
    ),
)

"""Applies a plan to a parsed document: ruamel.yaml nodes (comments kept) or plain data."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any

from podself.errors import ManifestError
from podself.manifest.inject.fields import InjectOptions
from podself.manifest.inject.planner import Note, WorkloadPlan, plan_workload
from podself.manifest.workloads import iter_workloads

# --- YAML node building and comment care ----------------------------------------------------


_RESOLVERS: list[Any] = []


def ambiguous(text: str) -> bool:
    """Whether a plain ``text`` would not read back as a string under YAML 1.1 or 1.2.

    kubectl's YAML reader follows YAML 1.1, where ``yes``, ``on``, ``n`` and ``0o7``-like text
    are booleans or numbers, while ruamel.yaml writes them plain because YAML 1.2 disagrees.
    """
    if not _RESOLVERS:
        from ruamel.yaml.nodes import ScalarNode
        from ruamel.yaml.resolver import VersionedResolver

        _RESOLVERS.extend(
            (ScalarNode, VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))
        )
    node, *resolvers = _RESOLVERS
    str_tag = "tag:yaml.org,2002:str"
    return any(str(r.resolve(node, text, (True, False))) != str_tag for r in resolvers)


def yaml_node(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString

    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, item in value.items():
            out[key] = yaml_node(item)
        return out
    if isinstance(value, list | tuple):
        return CommentedSeq(yaml_node(item) for item in value)
    if isinstance(value, str) and ambiguous(value):
        return DoubleQuotedScalarString(value)
    return value


def _plain_node(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain_node(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_node(item) for item in value]
    return value


def is_block(node: Any) -> bool:
    fa = getattr(node, "fa", None)
    return fa is not None and not fa.flow_style() and bool(node)


def _last_slot(node: Any) -> tuple[Any, Any, int] | None:
    """(collection, key or index, comment index) of the last scalar written in ``node``."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        if not is_block(node):
            return None
        keys = [k for k, _ in node.non_merged_items()]
        if not keys:
            return None
        key = keys[-1]
        value = node[key]
        anchored = getattr(getattr(value, "anchor", None), "value", None)
        if isinstance(value, CommentedMap | CommentedSeq) and is_block(value) and not anchored:
            return _last_slot(value)
        return node, key, 2
    if isinstance(node, CommentedSeq):
        if not is_block(node):
            return None
        index = len(node) - 1
        value = node[index]
        anchored = getattr(getattr(value, "anchor", None), "value", None)
        if isinstance(value, CommentedMap | CommentedSeq) and is_block(value) and not anchored:
            return _last_slot(value)
        return node, index, 0
    return None


def _take_trailing(node: Any) -> str | None:
    """Detach the full-line comments after ``node``'s last scalar; inline ones stay."""
    from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

    slot = _last_slot(node)
    if slot is None:
        return None
    owner, key, index = slot
    entry = owner.ca.items.get(key)
    if not entry or len(entry) <= index or entry[index] is None:
        return None
    token = entry[index]
    text = token.value
    if isinstance(owner[key], LiteralScalarString | FoldedScalarString):
        inline, rest = "", " " * token.column + text  # after a block scalar: own lines
    elif text.startswith("\n"):
        inline, rest = "", text[1:]
    else:
        end = text.find("\n")
        if end < 0:
            return None
        inline, rest = text[: end + 1], text[end + 1 :]
    if not rest:
        return None
    if inline:
        token.value = inline
    else:
        entry[index] = None
    return str(rest)


def _give_trailing(node: Any, rest: str | None) -> None:
    if not rest:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    slot = _last_slot(node)
    if slot is None:
        return
    owner, key, index = slot
    entry = owner.ca.items.setdefault(key, [None, None, None, None])
    entry[index] = CommentToken("\n" + rest, CommentMark(0))


def new_yaml() -> Any:
    try:
        from ruamel.yaml import YAML
    except ImportError as exc:  # pragma: no cover - the yaml extra installs it
        msg = "podself inject needs ruamel.yaml: pip install 'podself[yaml]'"
        raise ManifestError(msg) from exc
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 20  # never re-wrap long lines
    return yaml


class Builder:
    """Adds keys and list items; in YAML, moves trailing comments below what was added."""

    def __init__(self, yaml: bool) -> None:
        self.yaml = yaml
        self.node: Callable[[Any], Any] = yaml_node if yaml else _plain_node

    def set_key(self, mapping: MutableMapping[str, Any], key: str, value: Any) -> None:
        node = self.node(value)
        if key in mapping and mapping[key] is None:
            mapping[key] = node  # "env:" with nothing after it
            return
        rest = _take_trailing(mapping) if self.yaml else None
        mapping[key] = node
        if self.yaml:
            _give_trailing(mapping, rest)

    def extend(self, seq: list[Any], items: Sequence[Any]) -> None:
        if self.yaml and not seq and hasattr(seq, "fa"):
            seq.fa.set_block_style()  # "env: []" grows into a block list, not one long line
        rest = _take_trailing(seq) if self.yaml and is_block(seq) else None
        seq.extend(self.node(item) for item in items)
        if rest is not None:
            _give_trailing(seq, rest)


def apply_plan(plan: WorkloadPlan, spec: MutableMapping[str, Any], builder: Builder) -> None:
    for container_plan in plan.containers:
        container = spec[container_plan.section][container_plan.index]
        if container_plan.env:
            if isinstance(container.get("env"), list):
                builder.extend(container["env"], container_plan.env)
            else:
                builder.set_key(container, "env", list(container_plan.env))
        if container_plan.mount is not None:
            if isinstance(container.get("volumeMounts"), list):
                builder.extend(container["volumeMounts"], [container_plan.mount])
            else:
                builder.set_key(container, "volumeMounts", [container_plan.mount])
    if plan.volumes:
        if isinstance(spec.get("volumes"), list):
            builder.extend(spec["volumes"], plan.volumes)
        else:
            builder.set_key(spec, "volumes", list(plan.volumes))


# --- documents -------------------------------------------------------------------------------


def edit_data(
    data: Any, options: InjectOptions, builder: Builder
) -> tuple[list[WorkloadPlan], bool]:
    plans: list[WorkloadPlan] = []
    changed = False
    for workload in iter_workloads(data):
        plan = plan_workload(workload, options)
        plans.append(plan)
        if plan.changes:
            apply_plan(plan, workload.spec, builder)  # type: ignore[arg-type]
            changed = True
    return plans, changed


def plan_notes(
    plans: Iterable[WorkloadPlan], source: str, locate: Callable[[str], int]
) -> list[Note]:
    return [Note(source, locate(path), message) for plan in plans for path, message in plan.notes]

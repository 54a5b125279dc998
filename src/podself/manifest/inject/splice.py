"""Splicing: additions written into the YAML text at known positions, the rest untouched.

The fast path of ``podself inject``: where the document's shape allows (block style, known
indentation), each addition is rendered as text and inserted after the last line of the list
or mapping it extends; anything unusual returns ``None`` and goes through the ruamel round trip.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from podself.manifest.inject.planner import WorkloadPlan
from podself.manifest.inject.tree import (
    Builder,
    ambiguous,
    apply_plan,
)
from podself.manifest.load import (
    Document,
    Limits,
    scan_documents,
    split_field_path,
)
from podself.manifest.workloads import Workload, iter_workloads

# Scalars written plain: what ruamel.yaml writes plain too (names, paths, quantities).
_PLAIN: Final = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_./-]*")


@functools.lru_cache(maxsize=1024)
def _scalar(value: str | bool) -> str | None:
    """``value`` as ruamel.yaml writes it here, or None when that takes more than this."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not _PLAIN.fullmatch(value):
        return None
    return f'"{value}"' if ambiguous(value) else value


def _render(
    value: Mapping[str, Any], column: int, indent: tuple[int, int, int], out: list[str]
) -> bool:
    """Append block lines for a mapping whose keys start at ``column``, the first one right
    after what ``out`` ends with; False when something needs ruamel.yaml."""
    mapping, sequence, offset = indent
    first = True
    for key, item in value.items():
        name = _scalar(key) if isinstance(key, str) else None
        if name is None:
            return False
        out.append(("" if first else " " * column) + name + ":")
        first = False
        if isinstance(item, Mapping):
            if not item:
                return False
            out.append("\n" + " " * (column + mapping))
            if not _render(item, column + mapping, indent, out):
                return False
            continue
        if isinstance(item, list | tuple):
            out.append("\n")
            if not _render_items(item, column + offset, column + sequence, indent, out):
                return False
            continue
        text = _scalar(item) if isinstance(item, str | bool) else None
        if text is None:
            return False
        out.append(" " + text + "\n")
    return not first


def _render_items(
    items: Sequence[Any], dash: int, column: int, indent: tuple[int, int, int], out: list[str]
) -> bool:
    """Append block list items (mappings): ``-`` at ``dash``, their keys at ``column``."""
    if not items:
        return False
    for item in items:
        if not isinstance(item, Mapping):
            return False
        out.append(" " * dash + "-" + " " * (column - dash - 1))
        if not _render(item, column, indent, out):
            return False
    return True


def _yaml_indent(root: Any, text: str) -> tuple[int, int, int]:
    """:func:`_guess_indent` on PyYAML's node tree: the same counts, in the same order."""
    import yaml

    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    stack = [root]
    seen: set[int] = set()
    mapping_node, sequence_node = yaml.MappingNode, yaml.SequenceNode
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, mapping_node):
            for key, value in node.value:
                if not isinstance(value, mapping_node | sequence_node):
                    continue
                stack.append(value)
                if value.flow_style or not value.value:
                    continue
                key_line, key_col = key.start_mark.line, key.start_mark.column
                if isinstance(value, mapping_node):
                    mark = value.value[0][0].start_mark
                    if mark.line > key_line:
                        maps[mark.column - key_col] += 1
                    continue
                mark = value.value[0].start_mark
                line = text[text.rfind("\n", 0, mark.index) + 1 : mark.index]
                dash = len(line) - len(line.lstrip(" "))
                if mark.line > key_line and line[dash : dash + 1] == "-" and mark.column > dash:
                    seqs[(mark.column - key_col, dash - key_col)] += 1
        elif isinstance(node, sequence_node):
            stack.extend(v for v in node.value if isinstance(v, mapping_node | sequence_node))
    mapping = next((m for m, _ in maps.most_common() if 1 <= m <= 8), 2)
    sequence, offset = next(
        ((s, o) for (s, o), _ in seqs.most_common() if o >= 0 and o + 2 <= s <= 10),
        (mapping, 0),
    )
    return mapping, sequence, offset


def _child(node: Any, segment: str | int) -> Any:
    """The child node at ``segment`` (the last duplicate key wins, as in the data), or None."""
    if node is None:
        return None
    value = node.value
    if not isinstance(value, list):
        return None
    if isinstance(segment, int):
        return value[segment] if 0 <= segment < len(value) else None
    found = None
    for pair in value:
        if isinstance(pair, tuple) and pair[0].value == segment:
            found = pair[1]
    return found


# Where an anchor may start (or text in quotes that looks like one): an alias needs one.
_ANCHOR: Final = re.compile(r"(?:^|[\s\[{,])&", re.MULTILINE)
# Blank and comment lines.
_TRAILING: Final = re.compile(r"(?:[ \t]*(?:#[^\n]*)?\r?\n)*")


def _leaf_end(node: Any, text: str) -> int | None:
    """Where the line of the last thing written in a block collection ends, or None when the
    round trip decides what follows: after a block scalar (whose end PyYAML places past the
    lines that follow it), or after a flow collection followed by comment or blank lines
    (which ruamel.yaml keeps with the collection, not with what is added after it)."""
    while isinstance(node.value, list) and node.value and not node.flow_style:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    if isinstance(node.value, str) and node.style in ("|", ">"):
        return None
    newline = text.find("\n", node.end_mark.index)
    if newline < 0:
        return None
    trailing = _TRAILING.match(text, newline + 1)
    if not isinstance(node.value, str) and trailing is not None and trailing.end() > newline + 1:
        return None
    return newline + 1


def _addition(
    text: str,
    mapping: Any,
    key: str,
    items: Sequence[Mapping[str, Any]],
    indent: tuple[int, int, int],
) -> tuple[int, str] | None:
    """(where, what) to insert in ``text`` so that ``mapping[key]`` (a block list) gets
    ``items``, or the key is added after the mapping's last entry; None when only
    ruamel.yaml can."""
    import yaml

    if not isinstance(mapping, yaml.MappingNode) or mapping.flow_style or not mapping.value:
        return None
    target = _child(mapping, key)
    out: list[str] = []
    owner: Any
    if target is None:
        owner = mapping
        column = mapping.value[0][0].start_mark.column
        out.append(" " * column + key + ":\n")
        _, sequence, offset = indent
        if not _render_items(items, column + offset, column + sequence, indent, out):
            return None
    else:
        if not isinstance(target, yaml.SequenceNode) or target.flow_style or not target.value:
            return None
        owner = target
        mark = target.value[-1].start_mark
        line = text[text.rfind("\n", 0, mark.index) + 1 : mark.index]
        dash = len(line) - len(line.lstrip(" "))
        if line[dash : dash + 1] != "-" or line[dash + 1 :].strip(" "):
            return None
        if not _render_items(items, dash, mark.column, indent, out):
            return None
    end = _leaf_end(owner, text)
    return None if end is None else (end, "".join(out))


def splice(
    text: str,
    begin: int,
    piece: str,
    documents: Sequence[Document],
    planned: Sequence[WorkloadPlan | None],
) -> str | None:
    """``piece`` (at ``begin`` in ``text``, the stream the documents were read from) with
    ``planned`` written into it, or None to leave it to the ruamel.yaml round trip.

    Each addition goes after the line where the collection it extends ends, indented as the
    document is (as ruamel.yaml would guess it), so every other byte stays as it was,
    comments included, and the cost is one more fast read. Anything unusual (anchors, merge
    keys, flow or empty collections where the addition goes, a block scalar at the end, line
    ends other than all LF or all CRLF, a value ruamel.yaml would quote) is left to the round
    trip, and the result must read back as exactly the planned data or it is not used.
    """
    crlf = piece.count("\r\n")
    if (
        len(documents) != 1
        or not piece.endswith("\n")
        or piece.count("\r") != crlf
        or crlf not in (0, piece.count("\n"))
        or "<<" in piece
        or _ANCHOR.search(piece)
    ):
        return None
    document = documents[0]
    root = document.yaml_node
    if root is None:
        return None
    indent = _yaml_indent(root, text)
    inserts: list[tuple[int, str]] = []
    # The plans are made and the round trip reads the text again: the data is free to edit
    # into what the result must read back as.
    expected = document.data
    builder = Builder(yaml=False)
    workloads: list[Workload | None] = [*iter_workloads(expected)] or [None]
    for plan, workload in zip(planned, workloads, strict=True):
        if plan is None or workload is None or not plan.changes:
            continue
        spec = root
        for segment in split_field_path(workload.document_path(workload.spec_path)):
            spec = _child(spec, segment)
        wanted: list[tuple[Any, str, Sequence[Mapping[str, Any]]]] = []
        for container_plan in plan.containers:
            container = _child(_child(spec, container_plan.section), container_plan.index)
            if container_plan.env:
                wanted.append((container, "env", container_plan.env))
            if container_plan.mount is not None:
                wanted.append((container, "volumeMounts", [container_plan.mount]))
        if plan.volumes:
            wanted.append((spec, "volumes", plan.volumes))
        for node, key, items in wanted:
            insert = _addition(text, node, key, items, indent) if node is not None else None
            if insert is None:
                return None
            inserts.append((insert[0], insert[1].replace("\n", "\r\n")) if crlf else insert)
        apply_plan(plan, workload.spec, builder)  # type: ignore[arg-type]
    end = begin + len(piece)
    out: list[str] = []
    at = begin
    for index, addition in sorted(inserts, key=lambda item: item[0]):  # stable: plan order
        if not at <= index <= end:
            return None
        out.append(text[at:index])
        out.append(addition)
        at = index
    out.append(text[at:end])
    result = "".join(out)
    # No alias can be in it, so only the size bound matters, and the result may exceed it.
    check = list(scan_documents(result, document.source, limits=Limits(max_bytes=4 * len(result))))
    if len(check) != 1 or not isinstance(check[0], Document) or check[0].data != expected:
        return None
    return result

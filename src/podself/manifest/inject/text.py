"""Add the recommended Downward API env vars and ``podinfo`` volume to every workload, idempotently.

What a manifest already defines is reported (:class:`Note`, with file:line), never replaced.
The stream is read once, a document at a time; additions are written into the text of the
documents that change (or, for unusual constructs, through a ruamel.yaml round trip that keeps
comments, quoting and separators), and everything else is copied byte for byte.
"""

from __future__ import annotations

import codecs
import difflib
import functools
import io
import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from podself.errors import ManifestError
from podself.manifest.inject.fields import InjectOptions
from podself.manifest.inject.planner import Note, WorkloadPlan, plan_workload
from podself.manifest.inject.splice import splice
from podself.manifest.inject.tree import (
    Builder,
    apply_plan,
    edit_data,
    is_block,
    new_yaml,
    plan_notes,
)
from podself.manifest.load import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    LoadIssue,
    decode_input,
    read_source,
    scan_documents,
    source_name,
    split_field_path,
    too_large,
)
from podself.manifest.workloads import Workload, iter_workloads


@dataclass(frozen=True, slots=True)
class InjectResult:
    """The outcome for one input: its bytes before and after, and the notes.

    ``output`` is ``original`` itself when nothing was added.
    """

    source: str
    original: bytes
    output: bytes
    notes: tuple[Note, ...]
    plans: tuple[WorkloadPlan, ...] = field(default=())

    @property
    def changed(self) -> bool:
        """Whether anything was added."""
        return self.output != self.original

    @property
    def text(self) -> str:
        """``output`` as text (without a byte-order mark)."""
        return self.output.decode("utf-8-sig")

    def diff(self) -> str:
        """A unified diff from ``original`` to ``output`` (empty when nothing changed)."""
        if not self.changed:
            return ""
        name = self.source
        return "".join(
            difflib.unified_diff(
                self.original.decode("utf-8-sig").splitlines(keepends=True),
                self.text.splitlines(keepends=True),
                fromfile=name if name.startswith("<") else f"a/{name.lstrip('/')}",
                tofile=name if name.startswith("<") else f"b/{name.lstrip('/')}",
            )
        )


def _ruamel_line(root: Any, path: str) -> int:
    """0-based line of ``path`` in a ruamel tree: the deepest part of it that exists."""
    line = 0
    node = root
    for segment in split_field_path(path):
        lc = getattr(node, "lc", None)
        try:
            if isinstance(segment, int):
                if not isinstance(node, list) or not 0 <= segment < len(node):
                    break
                if lc is not None:
                    line = lc.item(segment)[0]
            else:
                if not isinstance(node, Mapping) or segment not in node:
                    break
                if lc is not None:
                    line = lc.key(segment)[0]
        except (KeyError, IndexError, TypeError):
            break
        node = node[segment]
    return line


def _yaml_line(root: Any, offset: int, path: str) -> int:
    return offset + _ruamel_line(root, path) + 1


def _json_line(document: Document, path: str) -> int:
    return document.locate(path)[0]


def _guess_indent(root: Any, lines: Sequence[str]) -> tuple[int, int, int]:
    """(mapping, sequence, offset) for ruamel's ``indent()``, as most of the document has it.

    Indented sequences (``- name:`` under the key, as editors write them) are
    ``(2, 4, 2)``; ``kubectl`` writes them flush with the key, ``(2, 2, 0)``.
    """
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    maps: Counter[int] = Counter()
    seqs: Counter[tuple[int, int]] = Counter()
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, CommentedMap):
            for key, value in node.non_merged_items():
                if isinstance(value, CommentedMap | CommentedSeq):
                    stack.append(value)
                if not is_block(value):
                    continue
                try:
                    key_line, key_col = node.lc.key(key)
                    if isinstance(value, CommentedMap):
                        first = next(iter(value))
                        line, col = value.lc.key(first)
                        if line > key_line:
                            maps[col - key_col] += 1
                    else:
                        line, col = value.lc.item(0)
                        text = lines[line] if 0 <= line < len(lines) else ""
                        dash = len(text) - len(text.lstrip(" "))
                        if line > key_line and text[dash : dash + 1] == "-" and col > dash:
                            seqs[(col - key_col, dash - key_col)] += 1
                except (KeyError, IndexError, StopIteration, TypeError):
                    continue
        elif isinstance(node, CommentedSeq):
            stack.extend(v for v in node if isinstance(v, CommentedMap | CommentedSeq))
    mapping = next((m for m, _ in maps.most_common() if 1 <= m <= 8), 2)
    sequence, offset = next(
        ((s, o) for (s, o), _ in seqs.most_common() if o >= 0 and o + 2 <= s <= 10),
        (mapping, 0),
    )
    return mapping, sequence, offset


_DOC_MARKER: Final = re.compile(r"(---|\.\.\.)(?:[ \t]|\r?\n|$)")


def _prelude(lines: Sequence[str]) -> bool:
    """Whether ``lines`` are only directives, comments and blank lines, with a directive."""
    stripped = [line.strip() for line in lines]
    return any(line.startswith("%") for line in lines) and all(
        not line or line.startswith(("#", "%")) for line in stripped
    )


def _lines(text: str) -> Iterator[str]:
    """``text.splitlines(keepends=True)``, a block at a time: a huge stream is never held as a
    list of lines (cutting right after a ``\\n`` splits no line break)."""
    start = 0
    size = len(text)
    while start < size:
        end = text.find("\n", start + (1 << 20))
        end = size if end < 0 else end + 1
        yield from text[start:end].splitlines(keepends=True)
        start = end


def _chunks(text: str) -> Iterator[tuple[int, int, str]]:
    """Split a YAML stream at document markers: (first line, first character, text) per piece,
    losslessly and lazily.

    A ``---`` line starts a piece and a ``...`` line ends one (column-0 markers always end a
    document, even inside block scalars); directives (``%YAML``) stay with the document
    they introduce.
    """
    current: list[str] = []
    start = begin = at = 0
    for number, line in enumerate(_lines(text)):
        match = _DOC_MARKER.match(line) if line[:1] in "-." else None
        if match and match.group(1) == "---":
            if current and not _prelude(current):
                yield start, begin, "".join(current)
                current, start, begin = [], number, at
            current.append(line)
        elif match:
            current.append(line)
            yield start, begin, "".join(current)
            current, start, begin = [], number + 1, at + len(line)
        else:
            current.append(line)
        at += len(line)
    if current:
        yield start, begin, "".join(current)


def _yaml_error(exc: Exception, source: str, offset: int) -> ManifestError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = offset + (mark.line + 1 if mark is not None else 1)
    column = mark.column + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return ManifestError(f"{source}:{line}:{column}: invalid YAML: {problem}")


def _inject_yaml(
    text: str, documents: Iterator[Document], source: str, options: InjectOptions
) -> tuple[str, list[Note], list[WorkloadPlan]]:
    """Plan on PyYAML's reading (YAML 1.1, like kubectl and ``podself lint``), then edit the
    documents that need it; the rest is copied as it was.

    ``documents`` is the stream read once, lazily, alongside its pieces: memory holds one
    document at a time and a piece without content (a bare ``---``) costs a line scan. An
    edit is spliced into the text where it can be (see :func:`splice`), else made through a
    ruamel.yaml round trip.
    """
    out: list[str] = []
    notes: list[Note] = []
    plans: list[WorkloadPlan] = []
    # Offsets count from the stream the loader read: after any byte-order mark.
    base = 1 if text.startswith("\ufeff") else 0
    pending = next(documents, None)
    copied = 0
    for start, begin, piece in _chunks(text):
        end = begin + len(piece)
        mine: list[Document] = []
        while pending is not None and pending.offset + base < end:
            # Empty documents hold no workload; one is placed where the next piece starts.
            if pending.data is not None and pending.offset + base >= begin:
                mine.append(pending)
            pending = next(documents, None)
        if not _has_content(piece):
            continue  # comments, blank lines and markers only
        head, chunk = _split_head(piece)
        offset = start + head.count("\n")
        found: list[WorkloadPlan | None] = []
        owners: list[Document] = []
        for document in mine:
            workloads = list(iter_workloads(document.data))
            owners.extend([document] * max(1, len(workloads)))
            found.extend([plan_workload(w, options) for w in workloads] or [None])
        chunk_notes = [
            Note(source, document.locate(path)[0], message)
            for document, plan in zip(owners, found, strict=True)
            if plan is not None
            for path, message in plan.notes
        ]
        edited = None
        if any(plan is not None and plan.changes for plan in found):
            edited = None if base else splice(text, begin, piece, mine, found)
            if edited is None:
                try:
                    new, found, redone = _edit_chunk(chunk, source, offset, options, found)
                except ManifestError:
                    for _ in documents:  # a reading error of the stream comes first
                        pass
                    raise
                edited = None if new is None else head + new
                chunk_notes = chunk_notes if redone is None else redone
        plans.extend(p for p in found if p is not None)
        notes.extend(chunk_notes)
        if edited is not None:  # unchanged pieces are copied in runs, not one by one
            out.extend((text[copied:begin], edited))
            copied = end
    for _ in documents:  # read to the end: a problem after the last piece still refuses all
        pass
    out.append(text[copied:])
    return "".join(out), notes, plans


def _edit_chunk(
    chunk: str,
    source: str,
    offset: int,
    options: InjectOptions,
    planned: list[WorkloadPlan | None] | None,
) -> tuple[str | None, list[WorkloadPlan | None], list[Note] | None]:
    """Apply ``planned`` (or, when it does not fit, plans made on ruamel's reading) to
    ``chunk``: the new text (None when nothing changed), the plans, and their notes (None
    when ``planned`` was used: the caller has them)."""
    import warnings

    from ruamel.yaml.error import YAMLError, YAMLFutureWarning

    yaml = new_yaml()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", YAMLFutureWarning)
            documents = list(yaml.load_all(chunk))
    except YAMLError as exc:
        raise _yaml_error(exc, source, offset) from exc
    pairs: list[tuple[Any, Workload | None]] = []
    for data in documents:
        workloads = list(iter_workloads(data))
        pairs.extend([(data, w) for w in workloads] or [(data, None)])
    if planned is not None and not _same_shape(pairs, planned):
        planned = None
    found: list[WorkloadPlan | None] = []
    notes: list[Note] = []
    builder = Builder(yaml=True)
    changed = False
    for index, (data, workload) in enumerate(pairs):
        if workload is None:
            found.append(None)
            continue
        plan = planned[index] if planned is not None else plan_workload(workload, options)
        assert plan is not None
        found.append(plan)
        if planned is None:
            notes.extend(plan_notes([plan], source, functools.partial(_yaml_line, data, offset)))
        if plan.changes:
            apply_plan(plan, workload.spec, builder)  # type: ignore[arg-type]
            changed = True
    text = _dump_chunk(yaml, chunk, documents) if changed else None
    return text, found, None if planned is not None else notes


def _same_shape(pairs: Sequence[tuple[Any, Workload | None]], plans: Sequence[Any]) -> bool:
    """Whether plans made on one reading address the same containers in the other."""
    if len(pairs) != len(plans):
        return False
    for (_, workload), plan in zip(pairs, plans, strict=True):
        if (workload is None) != (plan is None):
            return False
        if workload is None:
            continue
        if (workload.kind, workload.object_path) != (plan.kind, plan.object_path):
            return False
        for container in plan.containers:
            items = workload.spec.get(container.section)
            if not isinstance(items, list) or len(items) <= container.index:
                return False
            item = items[container.index]
            if not isinstance(item, Mapping) or item.get("name") != container.name:
                return False
    return True


_BARE_START: Final = re.compile(r"---[ \t]*(?:#.*)?\r?\n?\Z")
_BARE_END: Final = re.compile(r"\.\.\.[ \t]*(?:#.*)?\r?\n?\Z")


def _has_content(chunk: str) -> bool:
    """Whether ``chunk`` holds more than comments, blank lines and bare markers."""
    for line in chunk.splitlines():
        text = line.strip()
        if not text or text.startswith("#") or _BARE_START.match(line) or _BARE_END.match(line):
            continue
        return True
    return False


def _split_head(chunk: str) -> tuple[str, str]:
    """(leading blank lines and a bare ``---`` line, the rest): the head is kept verbatim.

    ruamel.yaml drops blank lines before a document's content and rewrites ``--- # note``,
    so they are set aside; a ``---`` that carries content (``--- !tag``) stays with it.
    """
    lines = chunk.splitlines(keepends=True)
    index = 0
    while index < len(lines) and not lines[index].strip():
        index += 1
    if index < len(lines) and _BARE_START.match(lines[index]):
        index += 1
        while index < len(lines) and not lines[index].strip():
            index += 1
    return "".join(lines[:index]), "".join(lines[index:])


def _dump_chunk(yaml: Any, chunk: str, documents: list[Any]) -> str:
    lines = chunk.splitlines()
    root = next((d for d in documents if d is not None), None)
    mapping, sequence, offset = _guess_indent(root, lines)
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    version = re.search(r"^%YAML[ \t]+(\d+)\.(\d+)", chunk, re.MULTILINE)
    if version:
        yaml.version = (int(version.group(1)), int(version.group(2)))
    yaml.explicit_start = bool(version) or chunk.startswith("---")
    last = next((line for line in reversed(lines) if line.strip()), "")
    yaml.explicit_end = last.startswith("...")
    stream = io.StringIO()
    yaml.dump_all(documents, stream)
    text = stream.getvalue()
    if "\r\n" in chunk:
        # Comments come back with their own "\r"; scalars never hold a raw one.
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    if not chunk.endswith("\n"):
        text = text.rstrip("\r\n")
    return _restore_blank_lines(chunk, text)


def _restore_blank_lines(before: str, after: str) -> str:
    """Put back blank lines as they were: the round trip drops one right under ``key:`` and
    writes whitespace-only lines empty.

    Only runs of whitespace-only lines between two unchanged stretches are touched, and they
    come back at the same place: their neighbours are the lines they had, so no block scalar
    gains or loses a line.
    """
    old = before.splitlines(keepends=True)
    new = after.splitlines(keepends=True)
    counts = Counter(old)
    matcher: difflib.SequenceMatcher[Any]
    if sum(counts[line] for line in new) <= _DIFF_BUDGET:
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    else:
        # Lines repeated thousands of times make the matcher quadratic: numbering each
        # repetition makes every line unique, at worst placing a blank line less well.
        matcher = difflib.SequenceMatcher(None, _numbered(old), _numbered(new), autojunk=False)
    out: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        was, now = old[i1:i2], new[j1:j2]
        if op in ("delete", "replace") and all(not line.strip() for line in was):
            if op == "delete":
                now = was
            elif _blank_run(now) >= len(was):  # blank lines moved below an addition
                now = now[: len(now) - len(was)] + was
            elif _blank_run(now[::-1]) >= len(was):
                now = was + now[len(was) :]
            elif not _blank_run(now):
                # Dropped where lines were added at the end of a collection: they followed
                # the collection, so they follow the addition (as a splice places them).
                now = now + was
        out.extend(now)
    return "".join(out)


# Pairs of equal lines (before x after) the exact matcher may compare; a real manifest has a
# few thousand, a list of 20,000 identical items 400 million.
_DIFF_BUDGET: Final = 200_000


def _numbered(lines: Sequence[str]) -> list[tuple[str, int]]:
    """Each line with how many times it came before: (line, n)."""
    seen: Counter[str] = Counter()
    out = []
    for line in lines:
        out.append((line, seen[line]))
        seen[line] += 1
    return out


def _blank_run(lines: Sequence[str]) -> int:
    """How many whitespace-only lines ``lines`` ends with."""
    count = 0
    for line in reversed(lines):
        if line.strip():
            break
        count += 1
    return count


def _json_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each JSON value in ``text``, lazily; ``ValueError`` if one is invalid."""
    decoder = json.JSONDecoder()
    pos = 0
    size = len(text)
    while True:
        while pos < size and text[pos] in " \t\r\n":
            pos += 1
        if pos >= size:
            return
        _, end = decoder.raw_decode(text, pos)
        yield pos, end
        pos = end


def _json_indent(piece: str) -> int | None:
    for line in piece.splitlines()[1:]:
        stripped = line.lstrip(" ")
        if stripped:
            return len(line) - len(stripped) or None
    return None


def _inject_json(
    text: str, documents: Iterable[Document], source: str, options: InjectOptions
) -> tuple[str, list[Note], list[WorkloadPlan]]:
    builder = Builder(yaml=False)
    out: list[str] = []
    notes: list[Note] = []
    plans: list[WorkloadPlan] = []
    copied = 0
    for (start, end), document in zip(_json_spans(text), documents, strict=True):
        found, changed = edit_data(document.data, options, builder)
        plans.extend(found)
        notes.extend(plan_notes(found, source, functools.partial(_json_line, document)))
        if changed:  # unchanged values are copied in runs, not one by one
            piece = text[start:end]
            indent = _json_indent(piece) if "\n" in piece else None
            separators = None if indent else (",", ":")
            edited = json.dumps(
                document.data, indent=indent, ensure_ascii=False, separators=separators
            )
            if "\r\n" in piece:
                edited = edited.replace("\n", "\r\n")  # json.dumps escapes newlines in strings
            out.extend((text[copied:start], edited))
            copied = end
    out.append(text[copied:])
    return "".join(out), notes, plans


def _is_json(text: str, source: str) -> bool:
    stripped = text.lstrip(" \t\r\n")
    if not (source.lower().endswith(".json") or stripped[:1] in ("{", "[")):
        return False
    try:
        for _ in _json_spans(text):
            pass
    except (ValueError, RecursionError):
        return False
    return True


def _documents(items: Iterable[Document | LoadIssue]) -> Iterator[Document]:
    for item in items:
        if isinstance(item, LoadIssue):
            raise ManifestError(str(item))
        yield item


def inject_text(
    text: str | bytes,
    source: str = "<string>",
    *,
    options: InjectOptions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> InjectResult:
    """Add the Downward API stanzas to every workload in ``text`` (YAML or JSON).

    Invalid input (bad syntax, not UTF-8, over ``limits``) raises ``ManifestError`` with
    ``file:line:column``; nothing is half-done. Documents that need nothing come out byte for
    byte as they went in.
    """
    options = options or InjectOptions()
    original = text.encode("utf-8") if isinstance(text, str) else text
    decoded = decode_input(original, source, limits=limits)
    if isinstance(decoded, LoadIssue):
        raise ManifestError(str(decoded))
    documents = _documents(scan_documents(decoded, source, limits=limits))
    bom = original.startswith(codecs.BOM_UTF8)
    if not _is_json(decoded, source):
        output, notes, plans = _inject_yaml(decoded, documents, source, options)
    else:
        output, notes, plans = _inject_json(decoded, documents, source, options)
    notes.sort(key=lambda note: note.line)
    if output == decoded:
        return InjectResult(source, original, original, tuple(notes), tuple(plans))
    data = (codecs.BOM_UTF8 if bom else b"") + output.encode("utf-8")
    return InjectResult(source, original, data, tuple(notes), tuple(plans))


def inject_file(
    path: str | os.PathLike[str],
    *,
    options: InjectOptions | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> InjectResult:
    """:func:`inject_text` for a file, or stdin for ``"-"``; unreadable files raise
    ``ManifestError``. Nothing is written (see :func:`write_in_place`)."""
    name = source_name(path)
    try:
        data = read_source(path, limits=limits)
    except OSError as exc:
        msg = f"cannot read {name}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    if data is None:
        raise ManifestError(str(too_large(name, limits)))
    return inject_text(data, name, options=options, limits=limits)

"""Safe loading of Kubernetes manifests (YAML streams, JSON) with a line and column per field.

Input size, alias expansion and nesting are bounded, and malformed input becomes a
:class:`LoadIssue` at file:line instead of an exception from deep inside a parser.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from podself.errors import ManifestError
from podself.manifest.scalars import (
    JsonScalar,
    json_value,
    map_key,
    plain_scalar,
    resolve_plain,
    typing_note,
)

__all__ = [
    "DEFAULT_LIMITS",
    "MANIFEST_SUFFIXES",
    "MAX_FOLDER_DEPTH",
    "STDIN",
    "STDIN_NAME",
    "Document",
    "Limits",
    "LoadIssue",
    "TypedScalar",
    "decode_input",
    "discover",
    "load_documents",
    "load_file",
    "read_source",
    "scan_documents",
    "scan_file",
    "source_name",
    "split_field_path",
    "too_large",
    "too_many_documents",
    "yaml_available",
]

STDIN: Final = "-"
STDIN_NAME: Final = "<stdin>"
MANIFEST_SUFFIXES: Final = (".yaml", ".yml", ".json")
_INSTALL_HINT: Final = "YAML input needs PyYAML: pip install 'podself[yaml]'"

_STR: Final = "tag:yaml.org,2002:str"
_INT: Final = "tag:yaml.org,2002:int"
_FLOAT: Final = "tag:yaml.org,2002:float"
_BOOL: Final = "tag:yaml.org,2002:bool"
_NULL: Final = "tag:yaml.org,2002:null"
_MAP: Final = "tag:yaml.org,2002:map"
_SEQ: Final = "tag:yaml.org,2002:seq"
_MERGE: Final = "tag:yaml.org,2002:merge"
# Untagged plain scalars get this tag from the resolver; the builder types them as go-yaml v2
# does (scalars.plain_scalar), not by PyYAML's YAML 1.1 rules.
_PLAIN: Final = "tag:podself,2026:plain"
# Kept as their text: Kubernetes reads YAML into JSON, where a date or !!binary is a string.
_TEXT_TAGS: Final = frozenset({_STR, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"})
# go-yaml v2 resolves an explicitly tagged scalar and refuses it when the type differs.
_TYPED_TAGS: Final = {_INT: "!!int", _FLOAT: "!!float", _BOOL: "!!bool", _NULL: "!!null"}
_INT64: Final = 1 << 63
# kubectl cannot convert NaN, infinities or a null key to JSON: quoting makes them text.
_QUOTE_IT: Final = "quote the value if text is meant"


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied to untrusted input.

    ``max_bytes`` caps one input (file or stdin); ``max_documents`` caps the documents of one
    input (empty ones included: a stream of bare ``---`` lines is cheap to write and each one
    is a document); ``max_alias_nodes`` caps how many nodes YAML aliases may add to a document
    once expanded (a "billion laughs" document adds billions).
    """

    max_bytes: int = 64 * 1024 * 1024
    max_documents: int = 100_000
    max_alias_nodes: int = 100_000


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True, slots=True)
class LoadIssue:
    """Why (part of) an input could not be loaded, and where.

    ``kind`` is ``"syntax"`` (invalid YAML or JSON), ``"encoding"`` (not UTF-8), ``"limit"``
    (size, alias expansion or nesting over the bounds) or ``"dependency"`` (YAML input without
    PyYAML installed). ``line`` and ``column`` are 1-based.
    """

    source: str
    line: int
    column: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}: {self.message}"


@dataclass(frozen=True, slots=True)
class TypedScalar:
    """A plain (unquoted) scalar that Kubernetes reads as something other than its text.

    ``path`` is where it sits in the document's data, ``line`` and ``column`` (1-based) where it
    is written, ``text`` how it is written and ``value`` what kubectl sends: a bool or a number
    for a value, the resulting string for a mapping ``key`` (``y:`` is the key ``"true"``).
    """

    path: tuple[str | int, ...]
    line: int
    column: int
    text: str
    value: JsonScalar
    key: bool = False

    @property
    def note(self) -> str:
        """Why it matters, as a sentence (``y`` is the boolean true ...)."""
        if self.key:
            return (
                f"the key `{self.text}` is read as the string {json.dumps(self.value)} in "
                "Kubernetes YAML; quote it if the text is meant"
            )
        return typing_note(self.text) or ""


class Document:
    """One document of a stream: its ``data`` and where each of its fields was written.

    ``index`` counts documents from 0 in their stream (empty documents included); ``line`` and
    ``column`` (1-based) are where its content starts, ``offset`` the index of that character
    in the text (after a byte-order mark). ``locate(path)`` returns the position of
    a Kubernetes field path such as ``spec.containers[0].env[1].valueFrom`` (or a sequence of
    keys and indexes); a path that does not exist resolves to its nearest existing ancestor.
    ``typed_scalars`` lists the plain YAML scalars that are not the text they look like
    (:class:`TypedScalar`; always empty for JSON).
    """

    __slots__ = (
        "_locator",
        "column",
        "data",
        "index",
        "line",
        "offset",
        "source",
        "typed_scalars",
    )

    def __init__(
        self,
        source: str,
        index: int,
        line: int,
        column: int,
        data: Any,
        *,
        locator: _Locator | None = None,
        offset: int = 0,
        typed_scalars: tuple[TypedScalar, ...] = (),
    ) -> None:
        self.source = source
        self.typed_scalars = typed_scalars
        self.index = index
        self.line = line
        self.column = column
        self.data = data
        self.offset = offset
        self._locator = locator

    @property
    def yaml_node(self) -> Any:
        """The PyYAML node tree the document was built from (with its marks); None for JSON."""
        return self._locator.root if isinstance(self._locator, _YamlLocator) else None

    def locate(self, path: str | Sequence[str | int]) -> tuple[int, int]:
        """Return the 1-based (line, column) of ``path``, or of its nearest existing ancestor."""
        segments = split_field_path(path) if isinstance(path, str) else tuple(path)
        if self._locator is None or not segments:
            return self.line, self.column
        try:
            return self._locator.locate(segments)
        except RecursionError:
            return self.line, self.column

    def __repr__(self) -> str:
        return f"Document({self.source!r}, index={self.index}, line={self.line})"


class _Locator:
    def locate(self, segments: Sequence[str | int]) -> tuple[int, int]:
        raise NotImplementedError


@lru_cache(maxsize=2048)
def split_field_path(path: str) -> tuple[str | int, ...]:
    """Split ``a.b[0].c`` into ``("a", "b", 0, "c")``; ``[key]`` with a non-number is a key."""
    out: list[str | int] = []
    for part in path.split("."):
        if not part:
            continue
        bracket = part.find("[")
        if bracket < 0:
            out.append(part)
            continue
        if bracket:
            out.append(part[:bracket])
        for piece in part[bracket + 1 :].split("["):
            text = piece.rstrip("]")
            out.append(int(text) if text.isdigit() else text)
    return tuple(out)


# --- YAML ------------------------------------------------------------------------------------


def yaml_available() -> bool:
    """Whether PyYAML can be imported (YAML input needs it; JSON does not)."""
    try:
        import yaml  # noqa: F401 - an optional dependency, imported only when needed
    except ImportError:
        return False
    return True


class _YamlLocator(_Locator):
    # Each mapping's keys are indexed once, so locating many findings stays linear.
    __slots__ = ("_mappings", "root")

    def __init__(self, root: Any) -> None:
        self.root = root
        self._mappings: dict[int, dict[str, tuple[Any, Any]]] = {}

    def locate(self, segments: Sequence[str | int]) -> tuple[int, int]:
        node = self.root
        mark = node.start_mark
        for segment in segments:
            value = node.value
            if isinstance(segment, int):
                if not isinstance(value, list) or not 0 <= segment < len(value):
                    break
                node = value[segment]
                mark = node.start_mark
                continue
            if not isinstance(value, list) or not value or not isinstance(value[0], tuple):
                break
            keys = self._mappings.get(id(node))
            if keys is None:
                # The last duplicate wins, as in the data.
                keys = {key: (k, c) for k, c in value if (key := _key_text(k)) is not None}
                self._mappings[id(node)] = keys
            found = keys.get(segment)
            if found is None:
                break
            key, node = found
            # A scalar is pointed at where its value is written; a block at its key.
            mark = node.start_mark if isinstance(node.value, str) else key.start_mark
        return mark.line + 1, mark.column + 1


class _BuildError(Exception):
    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.mark = mark


def _short_tag(value: JsonScalar) -> str:
    # The tag go-yaml v2 resolves a value to, as its errors name it.
    if value is None:
        return "!!null"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    return "!!float" if isinstance(value, float) else "!!str"


def _explicit(node: Any, short: str) -> JsonScalar:
    """A scalar tagged ``!!int``, ``!!float``, ``!!bool`` or ``!!null``, as go-yaml v2 reads it:
    the text is resolved as if plain and must give that type (an int is fine as a float)."""
    text = node.value
    value = resolve_plain(text)
    found = _short_tag(value)
    if found == short:
        return value
    if (
        short == "!!float"
        and found == "!!int"
        and isinstance(value, int)
        and -_INT64 <= value < _INT64
    ):
        return float(value)
    msg = f"cannot decode {found} `{text}` as a {short}"
    raise _BuildError(msg, node.start_mark)


def _key_text(node: Any) -> str | None:
    """The key string a built scalar key node became (None for a complex key)."""
    value = node.value
    if not isinstance(value, str):
        return None
    if node.tag != _PLAIN:
        return value
    return map_key(resolve_plain(value))


def _node_builder(loader: Any, yaml: Any, typed: list[tuple[Any, bool]]) -> Any:
    """Return a function that turns a composed node tree into plain data, fast.

    Scalars are typed as kubectl types them (go-yaml v2, then JSON): plain ones by
    :func:`~podself.manifest.scalars.plain_scalar`, keys by ``map_key``, quoted and block ones
    are strings, dates and ``!!binary`` stay text, ``!!int``/``!!float``/``!!bool``/``!!null``
    must fit their tag, and other tags are built by node kind. Each plain scalar whose value
    is not the text it looks like is appended to ``typed`` (with whether it is a key).
    """
    scalar_cls = yaml.ScalarNode
    mapping_cls = yaml.MappingNode
    flatten = loader.flatten_mapping

    def scalar(node: Any) -> JsonScalar:
        tag = node.tag
        text: str = node.value
        if tag == _PLAIN:
            value = resolve_plain(text)
            if isinstance(value, str) or value is None:
                return value
            typed.append((node, False))
        elif tag in _TEXT_TAGS:
            return text
        elif tag in _TYPED_TAGS:
            value = _explicit(node, _TYPED_TAGS[tag])
        else:
            return text
        try:
            return json_value(value, text)
        except ManifestError as exc:
            msg = f"{exc}; {_QUOTE_IT}"
            raise _BuildError(msg, node.start_mark) from None

    def key_of(node: Any) -> Any:
        if type(node) is not scalar_cls:
            return build(node)  # a complex key: refused as unhashable below
        try:
            if node.tag == _PLAIN:
                text = node.value
                value = resolve_plain(text)
                if isinstance(value, str):
                    return value
                key = map_key(value)
                if key != text:
                    typed.append((node, True))
                return key
            if node.tag in _TYPED_TAGS:
                return map_key(_explicit(node, _TYPED_TAGS[node.tag]))
        except ManifestError as exc:
            msg = f"{exc}; {_QUOTE_IT}"
            raise _BuildError(msg, node.start_mark) from None
        return node.value

    def build(node: Any) -> Any:
        cls = type(node)
        if cls is scalar_cls:
            return scalar(node)
        if cls is mapping_cls:
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    flatten(node)  # PyYAML's merge-key rules; rewrites node.value in place
                    return build(node)
                key = key_of(key_node)
                try:
                    out[key] = value_node.value if value_node.tag == _STR else build(value_node)
                except TypeError:
                    msg = "found an unhashable mapping key"
                    raise _BuildError(msg, key_node.start_mark) from None
            return out
        return [child.value if child.tag == _STR else build(child) for child in node.value]

    return build


def _typed_scalars(root: Any, typed: Sequence[tuple[Any, bool]]) -> tuple[TypedScalar, ...]:
    """Where each node of ``typed`` sits in the document built from ``root`` (every place,
    when an alias repeats it), in the order of the text."""
    wanted = {id(node): is_key for node, is_key in typed}
    found: list[TypedScalar] = []

    def note(node: Any, path: tuple[str | int, ...], is_key: bool) -> None:
        text = node.value
        resolved = _key_text(node) if is_key else plain_scalar(text)
        mark = node.start_mark
        found.append(TypedScalar(path, mark.line + 1, mark.column + 1, text, resolved, is_key))

    stack: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        value = node.value
        if not isinstance(value, list):
            if wanted.get(id(node)) is False:
                note(node, path, False)
            continue
        if value and isinstance(value[0], tuple):
            for key_node, child in value:
                key = _key_text(key_node)
                if key is None:
                    continue
                if wanted.get(id(key_node)) is True:
                    note(key_node, (*path, key), True)
                stack.append((child, (*path, key)))
        else:
            stack.extend((child, (*path, index)) for index, child in enumerate(value))
    found.sort(key=lambda t: (t.line, t.column, t.path))
    return tuple(found)


_LOADERS: dict[Any, Any] = {}


def _loader_class(yaml: Any) -> Any:
    """PyYAML's safe loader (LibYAML's when built) that leaves plain scalars untyped.

    Every untagged plain scalar is tagged ``_PLAIN`` (``<<`` stays a merge key) and typed by the
    builder as kubectl would; quoted and block scalars are strings. This also skips PyYAML's
    regex tries for each scalar, which cost more than the parse itself.
    """
    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    cls = _LOADERS.get(base)
    if cls is not None:
        return cls
    scalar_node = yaml.ScalarNode
    sequence_node = yaml.SequenceNode

    def resolve(self: Any, kind: Any, value: Any, implicit: Any) -> str:
        if kind is scalar_node:
            if implicit[0]:
                return _MERGE if value == "<<" else _PLAIN
            return _STR
        return _SEQ if kind is sequence_node else _MAP

    cls = type("ManifestLoader", (base,), {"resolve": resolve})
    _LOADERS[base] = cls
    return cls


def _alias_growth(root: Any) -> tuple[int, bool]:
    """(nodes that aliases add once expanded, whether an alias loops back on itself).

    Each distinct node is visited once, so even a "billion laughs" graph costs only its size.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        value = node.value
        children: list[Any] = []
        if isinstance(value, list):
            if value and isinstance(value[0], tuple):
                children = [n for pair in value for n in pair]
            else:
                children = value
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if key in sizes:
            continue
        if key in on_path:
            return 0, True
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)] - len(sizes), False


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _surrogate_scalar(root: Any) -> Any:
    """The first scalar node holding a UTF-16 surrogate (from a ``"\\udcff"`` escape), or None.

    LibYAML refuses such escapes, as Go's YAML reader behind kubectl does; PyYAML's pure-Python
    scanner lets them through, and no UTF-8 text can carry the result.
    """
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        value = node.value
        if isinstance(value, str):
            if _SURROGATE.search(value):
                return node
        elif value and isinstance(value[0], tuple):
            stack.extend(n for pair in value for n in pair)
        else:
            stack.extend(value)
    return None


def _mark_issue(source: str, exc: Any, text: str, fallback_line: int) -> LoadIssue:
    """Turn a PyYAML error into a one-line :class:`LoadIssue`."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        line, column = mark.line + 1, mark.column + 1
    elif isinstance(getattr(exc, "position", None), int):
        position = exc.position
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
    else:
        line, column = fallback_line, 1
    problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc)
    if isinstance(problem, str) and "maximum nesting depth" in problem:
        # LibYAML's own depth guard: the same safety limit the pure-Python parser hits as
        # a RecursionError, so it is reported the same way.
        return LoadIssue(source, line, column, "limit", "YAML nesting is too deep")
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}"
    context_mark = getattr(exc, "context_mark", None)
    if context:
        where = ""
        if context_mark is not None and context_mark is not mark:
            where = f" at line {context_mark.line + 1}, column {context_mark.column + 1}"
        message += f" ({context}{where})"
    return LoadIssue(source, line, column, "syntax", message)


def _scan_yaml(
    text: str, source: str, limits: Limits, chunks: _ChunkedText | None = None
) -> Iterator[Document | LoadIssue]:
    """``chunks``, when given, is read instead of ``text`` (then empty)."""
    try:
        import yaml  # optional dependency, loaded only for YAML input
    except ImportError:
        yield LoadIssue(source, 1, 1, "dependency", _INSTALL_HINT)
        return
    loader = _loader_class(yaml)(text if chunks is None else chunks)
    typed: list[tuple[Any, bool]] = []
    build = _node_builder(loader, yaml, typed)
    may_alias = "*" in text  # no alias can exist without one
    may_surrogate = not getattr(yaml, "__with_libyaml__", False) and (
        "\\u" in text or "\\U" in text
    )
    index = 0
    line = 1
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                node: Any = loader.get_node()
            except yaml.YAMLError as exc:
                yield _mark_issue(source, exc, text if chunks is None else chunks.reread(), line)
                return
            except RecursionError:
                yield LoadIssue(source, line, 1, "limit", "YAML nesting is too deep")
                return
            except _StopReading as stop:
                yield stop.issue
                return
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            if index >= limits.max_documents:
                yield too_many_documents(source, line, limits)
                return
            if may_surrogate:
                bad = _surrogate_scalar(node)
                if bad is not None:
                    yield LoadIssue(
                        source,
                        bad.start_mark.line + 1,
                        bad.start_mark.column + 1,
                        "syntax",
                        "invalid YAML: found invalid Unicode character escape code "
                        "(a UTF-16 surrogate)",
                    )
                    return
            if may_alias or (chunks is not None and chunks.may_alias):
                growth, loops = _alias_growth(node)
                if loops:
                    yield LoadIssue(
                        source, line, column, "limit", "YAML aliases refer to themselves"
                    )
                    return
                if growth > limits.max_alias_nodes:
                    yield LoadIssue(
                        source,
                        line,
                        column,
                        "limit",
                        f"YAML aliases in document {index + 1} expand to {growth:,} extra "
                        f"nodes, over the limit of {limits.max_alias_nodes:,}; refusing a "
                        "possible alias bomb",
                    )
                    return
            typed.clear()
            try:
                data = build(node)
                scalars = _typed_scalars(node, typed) if typed else ()
            except _BuildError as exc:
                yield LoadIssue(
                    source,
                    exc.mark.line + 1,
                    exc.mark.column + 1,
                    "syntax",
                    f"invalid YAML: {exc}",
                )
                return
            except yaml.YAMLError as exc:
                yield _mark_issue(source, exc, text if chunks is None else chunks.reread(), line)
                return
            except RecursionError:
                yield LoadIssue(source, line, column, "limit", "YAML nesting is too deep")
                return
            yield Document(
                source,
                index,
                line,
                column,
                data,
                locator=_YamlLocator(node),
                offset=node.start_mark.index,
                typed_scalars=scalars,
            )
            index += 1
    finally:
        loader.dispose()


class _StopReading(Exception):
    def __init__(self, issue: LoadIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue


# Large enough that reading costs nothing next to parsing, small enough to keep memory flat.
_CHUNK: Final = 1 << 20


class _ChunkedText:
    """A file or pipe given to the YAML parser a chunk at a time as UTF-8 text, so that a long
    stream is parsed document by document without ever being held whole. The size bound and
    UTF-8 are checked as it is read: a problem stops the parser with :class:`_StopReading`.

    A pipe cannot be read twice, so what is read from one is also written to ``spool`` (an
    unlinked temporary file): the rare parser error is placed by reading the text again from
    there, as it is from a regular file itself.
    """

    __slots__ = (
        "_decoder",
        "_fd",
        "_head",
        "_limits",
        "_read",
        "_source",
        "_spool",
        "may_alias",
    )

    def __init__(
        self, fd: int, source: str, limits: Limits, head: bytes, spool: int | None = None
    ) -> None:
        import codecs  # only when a file is streamed

        self._fd = fd
        self._source = source
        self._limits = limits
        self._head = head
        self._spool = spool
        self._read = 0
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.may_alias = False  # whether a "*" was read: no alias can exist without one

    def read(self, size: int = -1) -> str:
        text = ""
        while not text:
            data = self._head or os.read(self._fd, _CHUNK)
            self._head = b""
            self._read += len(data)
            if self._read > self._limits.max_bytes:
                raise _StopReading(too_large(self._source, self._limits))
            if self._spool is not None:
                _write_all(self._spool, data)
            try:
                text = self._decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                raise _StopReading(self._issue()) from None
            if not data:
                break
        if "*" in text:
            self.may_alias = True
        return text

    def _read_again(self) -> bytes:
        return os.pread(self._fd if self._spool is None else self._spool, self._read, 0)

    def _issue(self) -> LoadIssue:
        found = _decode(self._read_again(), self._source)
        return found if isinstance(found, LoadIssue) else too_large(self._source, self._limits)

    def reread(self) -> str:
        """The text read so far, read again (only to place a rare parser error)."""
        found = _decode(self._read_again(), self._source)
        return found if isinstance(found, str) else ""


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


# --- JSON ------------------------------------------------------------------------------------

_JSON_WHITESPACE: Final = " \t\n\r"


class _LineIndex:
    """Offsets of line starts, computed once per text, for offset -> (line, column)."""

    __slots__ = ("_starts", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        if self._starts is None:
            text = self._text
            starts = [0]
            find = text.find
            at = find("\n")
            while at >= 0:
                starts.append(at + 1)
                at = find("\n", at + 1)
            self._starts = starts
        from bisect import bisect_right  # only when a position is asked for

        row = bisect_right(self._starts, offset) - 1
        return row + 1, offset - self._starts[row] + 1


def _skip_ws(text: str, pos: int) -> int:
    size = len(text)
    while pos < size and text[pos] in _JSON_WHITESPACE:
        pos += 1
    return pos


class _JsonLocator(_Locator):
    """Finds a path by re-scanning the document's JSON text; runs only when asked. Each object
    and array on a path is scanned once and its members remembered, so locating many findings
    in one big document stays linear."""

    __slots__ = ("_arrays", "_lines", "_objects", "_start", "_text")

    def __init__(self, text: str, start: int, lines: _LineIndex) -> None:
        self._text = text
        self._start = start
        self._lines = lines
        self._objects: dict[int, dict[str, tuple[int, int]]] = {}
        self._arrays: dict[int, list[int]] = {}

    def locate(self, segments: Sequence[str | int]) -> tuple[int, int]:
        text = self._text
        best = pos = self._start
        for segment in segments:
            pos = _skip_ws(text, pos)
            opener = text[pos : pos + 1]
            found: tuple[int, int] | None = None
            if opener == "{" and isinstance(segment, str):
                members = self._objects.get(pos)
                if members is None:
                    members = self._objects[pos] = _json_members(text, pos)
                found = members.get(segment)
            elif opener == "[" and isinstance(segment, int):
                items = self._arrays.get(pos)
                if items is None:
                    items = self._arrays[pos] = _json_items(text, pos)
                if 0 <= segment < len(items):
                    found = (items[segment], items[segment])
            if found is None:
                break
            best, pos = found
        return self._lines.position(best)


def _json_members(text: str, pos: int) -> dict[str, tuple[int, int]]:
    """name -> (where to point, where the value starts) for the object at ``pos``."""
    members: dict[str, tuple[int, int]] = {}
    pos = _skip_ws(text, pos + 1)
    while text[pos : pos + 1] == '"':
        key_at = pos
        key, pos = json.decoder.scanstring(text, pos + 1)  # type: ignore[attr-defined]
        value_at = _skip_ws(text, _skip_ws(text, pos) + 1)  # past the ':'
        # The last duplicate wins, as in the data.
        members[key] = (key_at if text[value_at] in "{[" else value_at, value_at)
        pos = _skip_ws(text, _DECODER.raw_decode(text, value_at)[1])
        if text[pos : pos + 1] == ",":
            pos = _skip_ws(text, pos + 1)
    return members


def _json_items(text: str, pos: int) -> list[int]:
    """Where each item of the array at ``pos`` starts."""
    starts: list[int] = []
    pos = _skip_ws(text, pos + 1)
    while pos < len(text) and text[pos] != "]":
        starts.append(pos)
        pos = _skip_ws(text, _DECODER.raw_decode(text, pos)[1])
        if text[pos : pos + 1] == ",":
            pos = _skip_ws(text, pos + 1)
    return starts


_DECODER: Final = json.JSONDecoder()


# A "\\ud800"-"\\udfff" escape: JSON allows a lone one, which no UTF-8 text can hold.
_SURROGATE_ESCAPE: Final = re.compile(r"\\u[dD][89a-fA-F]")


def _replace_surrogates(data: Any) -> Any:
    """``data`` with each lone surrogate replaced by U+FFFD, as Go's encoding/json (kubectl)
    decodes an escape that is not half of a valid pair; valid pairs are already joined."""
    if isinstance(data, str):
        return _SURROGATE.sub("\ufffd", data)
    if isinstance(data, dict):
        return {_replace_surrogates(k): _replace_surrogates(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_replace_surrogates(item) for item in data]
    return data


def _scan_json(text: str, source: str, limits: Limits) -> Iterator[Document | LoadIssue]:
    lines = _LineIndex(text)
    pos = _skip_ws(text, 0)
    index = 0
    may_surrogate = _SURROGATE_ESCAPE.search(text) is not None
    while pos < len(text):
        if index >= limits.max_documents:
            yield too_many_documents(source, lines.position(pos)[0], limits)
            return
        try:
            data, end = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield LoadIssue(source, exc.lineno, exc.colno, "syntax", f"invalid JSON: {exc.msg}")
            return
        except RecursionError:
            line, column = lines.position(pos)
            yield LoadIssue(source, line, column, "limit", "JSON nesting is too deep")
            return
        if may_surrogate:
            try:
                data = _replace_surrogates(data)
            except RecursionError:  # raw_decode got this deep, so the walk is the limit here
                line, column = lines.position(pos)
                yield LoadIssue(source, line, column, "limit", "JSON nesting is too deep")
                return
        line, column = lines.position(pos)
        yield Document(
            source, index, line, column, data, locator=_JsonLocator(text, pos, lines), offset=pos
        )
        index += 1
        pos = _skip_ws(text, end)


def _json_valid(text: str, limits: Limits) -> bool:
    """Whether ``text`` reads as JSON values up to the document limit: a check that keeps none
    of them, so that a long stream is then read one document at a time."""
    pos = _skip_ws(text, 0)
    count = 0
    while pos < len(text) and count < limits.max_documents:
        try:
            pos = _skip_ws(text, _DECODER.raw_decode(text, pos)[1])
        except (json.JSONDecodeError, RecursionError):
            return False
        count += 1
    return True


def _json_first(text: str, source: str) -> bool:
    """Whether to read ``text`` as JSON: a ``.json`` name, or a ``{``/``[`` start."""
    if source.lower().endswith(".json"):
        return True
    start = _skip_ws(text, 0)
    return text[start : start + 1] in ("{", "[")


# --- entry points ----------------------------------------------------------------------------


def too_large(source: str, limits: Limits = DEFAULT_LIMITS) -> LoadIssue:
    """The issue reported for an input over ``limits.max_bytes``."""
    return LoadIssue(
        source,
        1,
        1,
        "limit",
        f"input is larger than the limit of {limits.max_bytes} bytes; refusing to read it",
    )


def too_many_documents(source: str, line: int, limits: Limits = DEFAULT_LIMITS) -> LoadIssue:
    """The issue reported at the first document over ``limits.max_documents``."""
    return LoadIssue(
        source,
        line,
        1,
        "limit",
        f"input has more than {limits.max_documents:,} documents, the limit; refusing the rest",
    )


def _decode(data: bytes, source: str) -> str | LoadIssue:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return LoadIssue(
            source,
            line,
            column,
            "encoding",
            f"input is not UTF-8: invalid byte at offset {exc.start}",
        )


def decode_input(
    data: bytes, source: str = "<string>", *, limits: Limits = DEFAULT_LIMITS
) -> str | LoadIssue:
    """One input as text: at most ``limits.max_bytes`` of UTF-8 (a byte-order mark dropped),
    else the :class:`LoadIssue` saying which byte is wrong or that it is too large."""
    if len(data) > limits.max_bytes:
        return too_large(source, limits)
    return _decode(data, source)


def scan_documents(
    text: str | bytes, source: str = "<string>", *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Document | LoadIssue]:
    """Yield each document of ``text``; a problem ends the stream with one :class:`LoadIssue`.

    Documents before the problem are still yielded, so a linter can check them and report the
    problem at its file:line. JSON (one value or several in a row) is read without PyYAML;
    anything else needs it. ``bytes`` must be UTF-8 (a BOM is allowed).
    """
    if isinstance(text, bytes):
        decoded = decode_input(text, source, limits=limits)
        if isinstance(decoded, LoadIssue):
            yield decoded
            return
        text = decoded
    elif len(text) > limits.max_bytes or (
        len(text) * 4 > limits.max_bytes
        and len(text.encode("utf-8", "surrogatepass")) > limits.max_bytes
    ):
        yield too_large(source, limits)
        return
    text = text.removeprefix("\ufeff")
    # Text that only looks like JSON is YAML (flow style), unless named .json.
    if _json_first(text, source) and (
        source.lower().endswith(".json") or not yaml_available() or _json_valid(text, limits)
    ):
        yield from _scan_json(text, source, limits)
        return
    yield from _scan_yaml(text, source, limits)


def load_documents(
    text: str | bytes, source: str = "<string>", *, limits: Limits = DEFAULT_LIMITS
) -> list[Document]:
    """Return every document of ``text``; any problem raises ``ManifestError`` with file:line."""
    documents: list[Document] = []
    for item in scan_documents(text, source, limits=limits):
        if isinstance(item, LoadIssue):
            raise ManifestError(str(item))
        documents.append(item)
    return documents


class _FoundFile(str):
    """A path :func:`discover` found in a folder: read only if it is a regular file."""

    __slots__ = ()


def _read_bounded(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = os.read(fd, min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def read_source(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> bytes | None:
    """Read a file (or stdin for ``"-"``), at most ``limits.max_bytes``; ``None`` when larger.

    A file found in a folder by :func:`discover` must be a regular file: a FIFO, socket or
    device named ``*.yaml`` would block or never end, so it is refused without waiting. A path
    given explicitly may be a pipe (``<(helm template .)``); it is read up to the limit.
    Raises ``OSError`` when the file cannot be read.
    """
    if os.fspath(path) == STDIN:
        return _size_checked(sys.stdin.buffer.read(limits.max_bytes + 1), limits)
    fd = _open_source(path)
    try:
        return _size_checked(_read_bounded(fd, limits.max_bytes), limits)
    finally:
        os.close(fd)


def _open_source(path: str | os.PathLike[str]) -> int:
    """Open a file for reading; one :func:`discover` found must be a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    if not isinstance(path, _FoundFile):
        return os.open(path, flags)
    # Opening a FIFO blocks until a writer comes unless non-blocking.
    fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _size_checked(data: bytes, limits: Limits) -> bytes | None:
    return None if len(data) > limits.max_bytes else data


def source_name(path: str | os.PathLike[str]) -> str:
    """The name findings use for ``path``: ``<stdin>`` for ``"-"``, else the path as given."""
    text = os.fspath(path)
    return STDIN_NAME if text == STDIN else text


def scan_file(
    path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Document | LoadIssue]:
    """:func:`scan_documents` for a file or stdin (``"-"``); ``OSError`` if unreadable.

    YAML is parsed as it is read (with LibYAML), from a regular file, stdin or a pipe alike,
    so memory does not grow with the number of documents. JSON is read whole (within
    ``limits.max_bytes``): its positions need the whole text.
    """
    name = source_name(path)
    stdin = os.fspath(path) == STDIN
    fd = _stdin_fd() if stdin else _open_source(path)
    if fd is None:
        data = read_source(path, limits=limits)
    else:
        try:
            streamed = _scan_streamed(fd, name, limits)
            if not isinstance(streamed, bytes | None):
                yield from streamed
                return
            taken = streamed or b""
            data = _size_checked(taken + _read_bounded(fd, limits.max_bytes - len(taken)), limits)
        finally:
            if not stdin:
                os.close(fd)
    if data is None:
        yield too_large(name, limits)
        return
    yield from scan_documents(data, name, limits=limits)


def _stdin_fd() -> int | None:
    """stdin's descriptor, or None when stdin was replaced by an object without one."""
    try:
        return sys.stdin.buffer.fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _scan_streamed(
    fd: int, source: str, limits: Limits
) -> Iterator[Document | LoadIssue] | bytes | None:
    """The documents of ``fd``, parsed as they are read; else what to read whole instead: None
    to read from the start, or the bytes already taken from a pipe (JSON, or no LibYAML)."""
    info = os.fstat(fd)
    regular = stat.S_ISREG(info.st_mode) and os.lseek(fd, 0, os.SEEK_CUR) == 0
    if regular and info.st_size > limits.max_bytes:
        return iter((too_large(source, limits),))
    try:
        import yaml
    except ImportError:
        return None
    if not getattr(yaml, "__with_libyaml__", False) or source.lower().endswith(".json"):
        return None
    head = _read_head(fd)
    # Text that starts like JSON may be JSON: scan_documents decides on the whole text.
    start = head.decode("utf-8-sig", "replace").lstrip(_JSON_WHITESPACE)
    if _json_first(start, source) or (not start and len(head) >= _CHUNK):
        if not regular:
            return head
        os.lseek(fd, 0, os.SEEK_SET)
        return None
    if regular:
        return _scan_yaml("", source, limits, _ChunkedText(fd, source, limits, head))
    return _scan_spooled(fd, source, limits, head)


def _read_head(fd: int) -> bytes:
    """The first chunk; from a pipe, read on until it shows more than white space (or ends)."""
    head = os.read(fd, _CHUNK)
    while head and len(head) < _CHUNK and not head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        more = os.read(fd, _CHUNK - len(head))
        if not more:
            break
        head += more
    return head


def _scan_spooled(
    fd: int, source: str, limits: Limits, head: bytes
) -> Iterator[Document | LoadIssue]:
    import tempfile  # only for a pipe

    with tempfile.TemporaryFile() as spool:
        chunks = _ChunkedText(fd, source, limits, head, spool.fileno())
        yield from _scan_yaml("", source, limits, chunks)


def load_file(path: str | os.PathLike[str], *, limits: Limits = DEFAULT_LIMITS) -> list[Document]:
    """Every document of a file (or stdin for ``"-"``); raises ``ManifestError`` on any problem."""
    try:
        items = list(scan_file(path, limits=limits))
    except OSError as exc:
        msg = f"cannot read {source_name(path)}: {exc.strerror or exc}"
        raise ManifestError(msg) from exc
    documents: list[Document] = []
    for item in items:
        if isinstance(item, LoadIssue):
            raise ManifestError(str(item))
        documents.append(item)
    return documents


MAX_FOLDER_DEPTH: Final = 64


def discover(
    paths: Iterable[str | os.PathLike[str]], *, max_depth: int = MAX_FOLDER_DEPTH
) -> Iterator[str]:
    """Expand ``paths``: folders become their ``*.yaml``/``*.yml``/``*.json`` files, recursively.

    Files and ``"-"`` (stdin) pass through as given, in order; a folder's files come sorted.
    Hidden folders (``.git``) are skipped, symlinked folders are not followed (no loops), and
    only regular files are taken (a FIFO named ``*.yaml`` would block the reader). Errors while
    walking a folder, and folders nested more than ``max_depth`` levels, raise ``OSError``.
    """
    for path in paths:
        text = os.fspath(path)
        if text != STDIN and os.path.isdir(text):
            yield from sorted(_walk(text, max_depth))
        else:
            yield text


def _walk(top: str, max_depth: int) -> list[str]:
    found: list[str] = []
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        if depth > max_depth:
            msg = f"folders nested more than {max_depth} levels deep"
            raise OSError(errno.ELOOP, msg, folder)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if not entry.name.startswith("."):
                        stack.append((entry.path, depth + 1))
                elif entry.name.lower().endswith(MANIFEST_SUFFIXES) and _is_regular(entry):
                    found.append(_FoundFile(entry.path))
    return found


def _is_regular(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is (or links to) a regular file; a dangling or looping link is kept,
    so that reading it reports why."""
    if entry.is_file():
        return True
    if not entry.is_symlink():
        return False
    try:
        os.stat(entry.path)
    except OSError:
        return True
    return False

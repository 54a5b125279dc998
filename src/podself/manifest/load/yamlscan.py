"""YAML streams read as kubectl reads them: scalars typed by go-yaml v2's rules, then JSON.

PyYAML composes each document's node tree (with LibYAML when built); the builder here types
its scalars (:mod:`podself.manifest.scalars`), bounds alias expansion and nesting, and keeps
the tree so that every field keeps its line and column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Final

from podself.errors import ManifestError
from podself.manifest.load.documents import (
    _SURROGATE,
    Document,
    Limits,
    LoadIssue,
    TypedScalar,
    _Locator,
    too_many_documents,
)
from podself.manifest.scalars import JsonScalar, json_value, map_key, plain_scalar, resolve_plain

if TYPE_CHECKING:
    from typing import Protocol

    class _Chunks(Protocol):
        """A stream read as it is parsed (:class:`.sources._ChunkedText`)."""

        may_alias: bool

        def read(self, size: int = -1) -> str: ...

        def reread(self) -> str: ...


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
    text: str, source: str, limits: Limits, chunks: _Chunks | None = None
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
    # Raised from a streamed reader's read() to end the parse with its issue.
    def __init__(self, issue: LoadIssue) -> None:
        super().__init__(issue.message)
        self.issue = issue

"""What loading produces: documents with the position of each field, and the issues and limits
of untrusted input.

A :class:`Document` finds where a field path is written through a locator of its format
(:mod:`.yamlscan`, :mod:`.jsonscan`); a :class:`LoadIssue` says why an input, or the rest of
it, could not be read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from podself.manifest.scalars import JsonScalar, typing_note


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
        return None if self._locator is None else self._locator.root

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
    # The YAML node tree a YAML document was built from; None for JSON.
    root: Any = None

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


# A UTF-16 surrogate: no UTF-8 text can hold one, from YAML or from JSON.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")

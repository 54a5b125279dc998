"""JSON streams (one value or several in a row), read without PyYAML, with positions.

Positions are found only when asked for, by scanning the document's text again: reading a
large JSON manifest costs what :mod:`json` costs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

from podself.manifest.load.documents import (
    _SURROGATE,
    Document,
    Limits,
    LoadIssue,
    _Locator,
    too_many_documents,
)

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

"""One input's text (``str`` or UTF-8 ``bytes``) read as JSON or YAML documents."""

from __future__ import annotations

from collections.abc import Iterator

from podself.errors import ManifestError
from podself.manifest.load.documents import (
    DEFAULT_LIMITS,
    Document,
    Limits,
    LoadIssue,
    too_large,
)
from podself.manifest.load.jsonscan import _json_first, _json_valid, _scan_json
from podself.manifest.load.yamlscan import _scan_yaml, yaml_available


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

"""Kubernetes ``$(VAR)`` expansion, as in ``env[].value``, ``command`` and ``args``.

A byte-for-byte port of the rules in Kubernetes' ``third_party/forked/golang/expansion``:
``$(NAME)`` is replaced by the variable's value, ``$$`` is an escaped ``$``, a reference to an
unknown variable stays as written, and a ``$`` that starts nothing (``$x``, ``$(`` without a
closing ``)``, a final ``$``) is kept literally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

__all__ = ["Lookup", "expand", "reference_spans", "references"]

# A Mapping of names to values, or a function returning None for an unknown name.
Lookup = Mapping[str, str] | Callable[[str], "str | None"]

_OPERATOR = 0x24  # '$'
_OPENER = 0x28  # '('
_CLOSER = 0x29  # ')'


def _tokens(data: bytes) -> Iterator[tuple[int, int, bytes, bool]]:
    """Yield ``(start, end, read, is_var)`` for every ``$`` expression, as ``Expand`` scans.

    ``start`` is the offset of the ``$``, ``end`` the offset just past the expression; ``read``
    is the variable name (``is_var``) or the bytes to copy through.
    """
    cursor = 0
    size = len(data)
    while cursor < size:
        if data[cursor] == _OPERATOR and cursor + 1 < size:
            following = data[cursor + 1]
            if following == _OPERATOR:
                yield cursor, cursor + 2, b"$", False
                cursor += 2
                continue
            if following == _OPENER:
                closer = data.find(b")", cursor + 2)
                if closer >= 0:
                    yield cursor, closer + 1, data[cursor + 2 : closer], True
                    cursor = closer + 1
                    continue
                # An unterminated reference: "$(" is copied and scanning resumes after it.
                yield cursor, cursor + 2, b"$(", False
                cursor += 2
                continue
            # Go's string(input[0]) converts the BYTE to a rune: for ASCII this is the byte
            # itself; before a multi-byte character it yields U+0080..U+00FF re-encoded, and
            # the rest of that character's bytes follow raw, exactly as Kubernetes emits them.
            yield cursor, cursor + 2, b"$" + chr(following).encode("utf-8"), False
            cursor += 2
            continue
        cursor += 1


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def expand(text: str, lookup: Lookup) -> str:
    """Return ``text`` with each ``$(NAME)`` replaced from ``lookup``, by Kubernetes' rules.

    ``lookup`` is a mapping or a function returning ``None`` for an unknown name; an unknown
    reference is left as ``$(NAME)``. ``$$`` becomes ``$``. Bytes that are not valid UTF-8
    (which the Kubernetes rules can produce after a ``$`` directly before a non-ASCII character)
    are carried as surrogate escapes, so ``os.fsencode`` gives back Kubernetes' exact bytes.
    """
    if "$" not in text:
        return text
    resolve: Callable[[str], str | None] = lookup.get if isinstance(lookup, Mapping) else lookup
    data = _encode(text)
    out: list[bytes] = []
    checkpoint = 0
    for start, end, read, is_var in _tokens(data):
        out.append(data[checkpoint:start])
        if is_var:
            name = _decode(read)
            value = resolve(name)
            out.append(_encode(value) if value is not None else b"$(" + read + b")")
        else:
            out.append(read)
        checkpoint = end
    out.append(data[checkpoint:])
    return _decode(b"".join(out))


def reference_spans(text: str) -> tuple[tuple[str, int, int], ...]:
    """Every ``$(NAME)`` reference in ``text`` as ``(name, start, end)`` character offsets.

    Escaped references (``$$(NAME)``) are not references; ``text[start:end]`` is ``$(NAME)``.
    """
    if "$" not in text:
        return ()
    data = _encode(text)
    spans: list[tuple[str, int, int]] = []
    for start, end, read, is_var in _tokens(data):
        if is_var:
            char_start = len(_decode(data[:start]))
            char_end = char_start + len(_decode(data[start:end]))
            spans.append((_decode(read), char_start, char_end))
    return tuple(spans)


def references(text: str) -> tuple[str, ...]:
    """The names ``text`` refers to with ``$(NAME)``, in order (repeats kept)."""
    return tuple(name for name, _, _ in reference_spans(text))

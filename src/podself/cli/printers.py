"""kubectl's ``-o json`` and ``-o yaml`` printers for JSON-shaped objects.

``-o json`` is Go's ``json.MarshalIndent(obj, "", "    ")`` (keys sorted, ``<``, ``>``, ``&``
escaped); ``-o yaml`` is sigs.k8s.io/yaml on go-yaml v2: the JSON text read back as YAML 1.1
and written with go-yaml's key order, quoting and line folding at 80 columns.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

from podself._gofloat import format_g

__all__ = ["kubectl_json", "kubectl_yaml"]

_BEST_WIDTH: Final = 80
_SIMPLE_KEY_MAX: Final = 128  # libyaml writes a longer key in the "? key" form
_INT64: Final = 1 << 63
_UINT64: Final = 1 << 64
_JSON_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
# go-yaml v2 quotes what its resolver would not read back as the same string.
_TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}"
    r"(?:(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2}))"
    r"| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?"
)
_BASE60_FLOAT: Final = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
_DOUBLE_ESCAPES: Final = {
    "\0": "0",
    "\a": "a",
    "\b": "b",
    "\t": "t",
    "\n": "n",
    "\v": "v",
    "\f": "f",
    "\r": "r",
    "\x1b": "e",
    '"': '"',
    "\\": "\\",
    "\x85": "N",
    "\u2028": "L",
    "\u2029": "P",
}


# -- JSON -----------------------------------------------------------------------------------------


def _json_string(text: str) -> str:
    out = []
    for char in text:
        escaped = _JSON_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _json_number(value: int | float) -> str:
    from podself.quantity import go_json_float

    if isinstance(value, float):
        return go_json_float(value)
    if -_INT64 <= value < _INT64:
        return str(value)
    return go_json_float(float(value))  # beyond int64 the object holds a float64


def _json(value: Any, indent: str) -> str:
    inner = indent + "    "
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        fields = [f"{inner}{_json_string(k)}: {_json(value[k], inner)}" for k in sorted(value)]
        return "{\n" + ",\n".join(fields) + "\n" + indent + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _json(v, inner) for v in value) + "\n" + indent + "]"
    if isinstance(value, str):
        return _json_string(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _json_number(value)
    msg = f"not a JSON value: {type(value).__name__}"
    raise TypeError(msg)


def kubectl_json(obj: Mapping[str, Any]) -> str:
    """What ``kubectl get -o json`` prints for ``obj`` (with the final newline)."""
    return _json(obj, "") + "\n"


# -- YAML -----------------------------------------------------------------------------------------


def _go_float_g(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 64)`` as go-yaml v2 writes it (``.inf``, ``.nan``)."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return format_g(value)


def _yaml_number(value: int | float) -> str:
    # go-yaml reads the JSON text: an integer beyond uint64 becomes a float64.
    text = _json_number(value)
    if re.fullmatch(r"-?[0-9]+", text) and -_INT64 <= int(text) < _UINT64:
        return str(int(text))  # "-0" reads back as the integer 0
    return _go_float_g(float(text))


def _needs_quotes(text: str) -> bool:
    from podself.manifest.scalars import resolve_plain

    return (
        not isinstance(resolve_plain(text), str)
        or _TIMESTAMP.fullmatch(text) is not None
        or _BASE60_FLOAT.fullmatch(text) is not None
    )


def _printable(char: str) -> bool:
    # libyaml's is_printable; go-yaml enables unicode output, so printable non-ASCII stays.
    code = ord(char)
    return (
        code in (0x0A, 0x85)
        or 0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or (0xE000 <= code <= 0xFFFD and code != 0xFEFF)
        or 0x10000 <= code <= 0x10FFFF
    )


def _analyze(text: str) -> tuple[bool, bool, bool]:
    """libyaml's ``yaml_emitter_analyze_scalar`` in block context: whether the plain, single
    quoted and literal styles are allowed."""
    if not text:
        return False, True, False
    block_indicators = text.startswith(("---", "..."))  # document markers
    special = line_breaks = False
    space_break = break_space = False
    previous_space = previous_break = False
    blank = " \t\n\r\x85\u2028\u2029"
    for i, char in enumerate(text):
        following = text[i + 1] if i + 1 < len(text) else ""
        followed_by_blank = following == "" or following in blank
        if i == 0:
            indicator = char in "#,[]{}&*!|>'\"%@`" or (char in "?:-" and followed_by_blank)
        else:
            after_blank = text[i - 1] in blank
            indicator = (char == ":" and followed_by_blank) or (char == "#" and after_blank)
        block_indicators = block_indicators or indicator
        if not _printable(char) or char == "\ufeff":
            special = True
        if char in "\n\r\x85\u2028\u2029":
            line_breaks = True
        if char == " ":
            if previous_break:
                break_space = True
            previous_space, previous_break = True, False
        elif char in "\n\r\x85\u2028\u2029":
            if previous_space:
                space_break = True
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
    leading = text[0] in " \n\r\x85\u2028\u2029"
    trailing = text[-1] in " \n\r\x85\u2028\u2029"
    plain = not (leading or trailing or line_breaks or block_indicators)
    single = not (break_space or space_break or special)
    literal = not (text[-1] == " " or space_break or special)
    return plain and single, single, literal


def _fold(text: str, column: int, indent: int, *, quoted: bool) -> str:
    """Write ``text`` from ``column``, replacing a single space by a line break once past 80
    columns (libyaml's plain and single-quoted writers)."""
    out: list[str] = []
    spaces = False
    for i, char in enumerate(text):
        if char == " ":
            following = text[i + 1] if i + 1 < len(text) else ""
            inside = not quoted or 0 < i < len(text) - 1
            if not spaces and column > _BEST_WIDTH and following != " " and inside:
                out.append("\n" + " " * indent)
                column = indent
            else:
                out.append(" ")
                column += 1
            spaces = True
        else:
            piece = "''" if quoted and char == "'" else char
            out.append(piece)
            column += len(piece)
            spaces = False
    return "".join(out)


def _double_quoted(text: str, column: int, indent: int, *, breaks: bool) -> str:
    """libyaml's double-quoted writer: escapes, and a space past 80 columns turned into a
    line break (a ``\\`` keeps a following space)."""
    out = ['"']
    column += 1
    spaces = False
    for i, char in enumerate(text):
        code = ord(char)
        if not _printable(char) or char in '\ufeff\n\r\x85\u2028\u2029"\\':
            if char in _DOUBLE_ESCAPES:
                piece = "\\" + _DOUBLE_ESCAPES[char]
            elif code <= 0xFF:
                piece = f"\\x{code:02X}"
            elif code <= 0xFFFF:
                piece = f"\\u{code:04X}"
            else:
                piece = f"\\U{code:08X}"
            spaces = False
        elif char == " ":
            inside = 0 < i < len(text) - 1
            if breaks and not spaces and column > _BEST_WIDTH and inside:
                following = "\\" if text[i + 1] == " " else ""
                out.append("\n" + " " * indent + following)
                column = indent + len(following)
                spaces = True
                continue
            piece = " "
            spaces = True
        else:
            piece = char
            spaces = False
        out.append(piece)
        column += len(piece)
    out.append('"')
    return "".join(out)


def _literal(text: str, indent: int) -> str:
    # libyaml's block scalar hints: keep or strip the final breaks, and say the indentation
    # when the text starts with a space or a break.
    chomp = "+" if text.endswith("\n\n") or text == "\n" else ""
    if not text.endswith("\n"):
        chomp = "-"
    hint = "2" if text[0] in " \n" else ""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines = lines[:-1]
    body = "".join("\n" + (" " * indent + line if line else "") for line in lines)
    return f"|{hint}{chomp}{body}"


def _scalar(text: str, column: int, indent: int, *, key: bool) -> str:
    """One string written at ``column``; ``indent`` is where a continuation line starts.
    A simple key (``key``) is never folded nor written as a block."""
    plain, single, literal = _analyze(text)
    if "\n" in text and not key and literal:
        return _literal(text, indent)
    if "\n" in text or _needs_quotes(text):
        return _double_quoted(text, column, indent, breaks=not key)
    if plain:
        return text if key else _fold(text, column, indent, quoted=False)
    if single and key:
        return "'" + text.replace("'", "''") + "'"
    if single:
        return "'" + _fold(text, column + 1, indent, quoted=True) + "'"
    return _double_quoted(text, column, indent, breaks=not key)


def _simple_key(key: str) -> bool:
    # libyaml's check_simple_key: at most 128 bytes and on one line.
    return len(key.encode("utf-8")) <= _SIMPLE_KEY_MAX and not any(
        c in key for c in "\n\r\x85\u2028\u2029"
    )


def _key_order(a: str, b: str) -> int:
    """go-yaml v2's ``keyList.Less`` for string keys: runs of digits compare as numbers and
    letters sort after other characters. Like Go's, the order is not transitive on some
    keys ("017", "0o17", "1"): there Go's result depends on the map's random order."""
    for i, (ca, cb) in enumerate(zip(a, b, strict=False)):
        if ca == cb:
            continue
        la, lb = ca.isalpha(), cb.isalpha()
        if la and lb:
            return -1 if ca < cb else 1
        if la or lb:
            return 1 if la else -1
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and _is_digit(a[j]):
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and _is_digit(a[ai]):
            an = an * 10 + ord(a[ai]) - 48
            ai += 1
        bi = i
        while bi < len(b) and _is_digit(b[bi]):
            bn = bn * 10 + ord(b[bi]) - 48
            bi += 1
        if an != bn:
            return -1 if an < bn else 1
        if ai != bi:
            return -1 if ai < bi else 1
        return -1 if ca < cb else 1
    return (len(a) > len(b)) - (len(a) < len(b))


def _is_digit(char: str) -> bool:
    return unicodedata.category(char) == "Nd"


def _value(value: Any, column: int, indent: int) -> tuple[str, bool]:
    """A scalar or empty collection as written after ``key: `` or ``- `` (and whether it
    was one); collections with items return ``("", False)``."""
    if isinstance(value, Mapping):
        return ("{}", True) if not value else ("", False)
    if isinstance(value, list | tuple):
        return ("[]", True) if not value else ("", False)
    if isinstance(value, str):
        return _scalar(value, column, indent + 2, key=False), True
    if value is None:
        return "null", True
    if isinstance(value, bool):
        return ("true" if value else "false"), True
    return _yaml_number(value), True


def _mapping(value: Mapping[str, Any], indent: int, first_column: int | None) -> list[str]:
    lines: list[str] = []
    for n, key in enumerate(sorted(value, key=functools.cmp_to_key(_key_order))):
        start = first_column if n == 0 and first_column is not None else indent
        prefix = "" if n == 0 and first_column is not None else " " * indent
        item = value[key]
        if not _simple_key(key):
            head = f"{prefix}? {_scalar(key, start + 2, indent + 2, key=False)}"
            text, simple = _value(item, indent + 2, indent)
            # After ": " a collection starts on the same line, indented by two.
            nested = [text] if simple else _block(item, indent + 2, indent + 2)
            lines += [head, f"{' ' * indent}: {nested[0]}", *nested[1:]]
            continue
        shown = _scalar(key, start, indent, key=True)
        column = start + len(shown) + 2
        text, simple = _value(item, column, indent)
        if simple:
            lines.append(f"{prefix}{shown}: {text}")
        else:
            lines.append(f"{prefix}{shown}:")
            # A list under a key is not indented (go-yaml's indentless sequence).
            child = indent if isinstance(item, list | tuple) else indent + 2
            lines += _block(item, child, None)
    return lines


def _sequence(value: Sequence[Any], indent: int, first_column: int | None) -> list[str]:
    lines: list[str] = []
    for n, item in enumerate(value):
        prefix = "" if n == 0 and first_column is not None else " " * indent
        text, simple = _value(item, indent + 2, indent)
        if simple:
            lines.append(f"{prefix}- {text}")
            continue
        nested = _block(item, indent + 2, indent + 2)
        lines.append(f"{prefix}- {nested[0]}")
        lines += nested[1:]
    return lines


def _block(value: Any, indent: int, first_column: int | None) -> list[str]:
    if isinstance(value, Mapping):
        return _mapping(value, indent, first_column)
    return _sequence(value, indent, first_column)


def kubectl_yaml(obj: Mapping[str, Any]) -> str:
    """What ``kubectl get -o yaml`` prints for ``obj`` (with the final newline)."""
    return "\n".join(_mapping(obj, 0, None)) + "\n"

"""The Kubernetes Downward API rules as data and small functions.

Field paths, resource names and divisors the API server accepts, the labels/annotations file
format the kubelet writes (``FormatMap``) and its exact inverse, and the values it computes.
"""

from __future__ import annotations

from podself.errors import FieldPathError, FormatError, ResourceFieldError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = [
    "CPU_DIVISORS",
    "DEFAULT_MODE",
    "ENV_FIELD_PATHS",
    "HUGEPAGES_PREFIXES",
    "MEMORY_DIVISORS",
    "RESOURCE_NAMES",
    "SUBSCRIPTABLE_FIELD_PATHS",
    "VOLUME_FIELD_PATHS",
    "byte_len",
    "default_requests",
    "divisor_error_detail",
    "divisor_for_resource",
    "extract_field_path",
    "format_map",
    "go_bytes",
    "go_lower",
    "go_quote",
    "go_unquote",
    "is_dns1123_subdomain",
    "parse_map",
    "qualified_name_errors",
    "regex_error",
    "resource_value",
    "split_maybe_subscripted_path",
]

# validEnvDownwardAPIFieldPathExpressions, in the sorted order the NotSupported error lists them.
ENV_FIELD_PATHS: tuple[str, ...] = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)

# validVolumeDownwardAPIFieldPathExpressions, sorted.
VOLUME_FIELD_PATHS: tuple[str, ...] = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)

# The only paths that take a ['key'] subscript (in env and in volumes).
SUBSCRIPTABLE_FIELD_PATHS: tuple[str, ...] = ("metadata.annotations", "metadata.labels")

# validContainerResourceFieldPathExpressions, in the sorted order the NotSupported error lists them.
RESOURCE_NAMES: tuple[str, ...] = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)

# validContainerResourceFieldPathPrefixes: any suffix is accepted by the API.
HUGEPAGES_PREFIXES: tuple[str, ...] = ("limits.hugepages-", "requests.hugepages-")

# Canonical divisor strings (Quantity.String()) the API accepts, in the order its errors list them.
CPU_DIVISORS: tuple[str, ...] = ("1m", "1")
MEMORY_DIVISORS: tuple[str, ...] = (
    "1",
    "1k",
    "1M",
    "1G",
    "1T",
    "1P",
    "1E",
    "1Ki",
    "1Mi",
    "1Gi",
    "1Ti",
    "1Pi",
    "1Ei",
)

# DownwardAPIVolumeSourceDefaultMode / ProjectedVolumeSourceDefaultMode.
DEFAULT_MODE = 0o644


def split_maybe_subscripted_path(field_path: str) -> tuple[str, str, bool]:
    """Split ``path['key']`` into ``(path, key, True)``, else ``(field_path, "", False)``.

    Mirrors ``fieldpath.SplitMaybeSubscriptedPath``: the text must end in ``']``, is split at the
    first ``['``, the path must be non-empty, and the key is taken verbatim (no unescaping).
    """
    if not field_path.endswith("']"):
        return field_path, "", False
    path, sep, key = field_path[:-2].partition("['")
    if not sep or not path:
        return field_path, "", False
    return path, key, True


# --- qualified names (apimachinery content.IsLabelKey, a.k.a. IsQualifiedName) -----------------

_QUALIFIED_NAME_MAX_LENGTH = 63
_DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NAME_INNER = _ALNUM | frozenset("-_.")
_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_LABEL_INNER = _LOWER_ALNUM | frozenset("-")


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """apimachinery's ``RegexError`` message, including its doubled space between examples."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


_NAME_REGEX_MSG = regex_error(
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character",
    _QUALIFIED_NAME_FMT,
    "MyName",
    "my.name",
    "123-abc",
)
_SUBDOMAIN_REGEX_MSG = regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT,
    "example.com",
)
_TWO_SLASHES_MSG = (
    "a valid label key "
    + _NAME_REGEX_MSG
    + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
)


def _max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def byte_len(value: str) -> int:
    """Go's ``len()`` of ``value``: UTF-8 bytes (ASCII, the common case, needs no encoding)."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _is_qualified_name_part(name: str) -> bool:
    # ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ without importing re.
    if not name or name[0] not in _ALNUM or name[-1] not in _ALNUM:
        return False
    return all(c in _NAME_INNER for c in name)


def is_dns1123_subdomain(value: str) -> bool:
    """Whether ``value`` matches apimachinery's DNS-1123 subdomain regex (length not checked):
    dot-separated labels of ``[-a-z0-9]``, each starting and ending alphanumeric."""
    if not value:
        return False
    for label in value.split("."):
        if not label or label[0] not in _LOWER_ALNUM or label[-1] not in _LOWER_ALNUM:
            return False
        if not all(c in _LABEL_INNER for c in label):
            return False
    return True


def qualified_name_errors(value: str) -> list[str]:
    """Return apimachinery's ``IsQualifiedName``/``IsLabelKey`` errors for ``value`` ([] if valid).

    An optional DNS-1123 subdomain prefix and ``/``, then a name of at most 63 bytes matching
    ``([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]``; message wording follows apimachinery HEAD.
    """
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            if byte_len(prefix) > _DNS1123_SUBDOMAIN_MAX_LENGTH:
                errs.append("prefix part " + _max_len_error(_DNS1123_SUBDOMAIN_MAX_LENGTH))
            if not is_dns1123_subdomain(prefix):
                errs.append("prefix part " + _SUBDOMAIN_REGEX_MSG)
    else:
        return [_TWO_SLASHES_MSG]
    if not name:
        errs.append("name part must be non-empty")
    elif byte_len(name) > _QUALIFIED_NAME_MAX_LENGTH:
        errs.append("name part " + _max_len_error(_QUALIFIED_NAME_MAX_LENGTH))
    if not _is_qualified_name_part(name):
        errs.append("name part " + _NAME_REGEX_MSG)
    return errs


def go_lower(text: str) -> str:
    """Go's ``strings.ToLower``: rune by rune, simple case mapping (no final sigma, İ -> i)."""
    if text.isascii():
        return text.lower()
    out = []
    for ch in text:
        low = ch.lower()
        out.append(low if len(low) == 1 else ("i" if ch == "\u0130" else ch))
    return "".join(out)


# --- Go strconv.Quote / strconv.Unquote -------------------------------------------------------


def _ascii_escape(code: int) -> str:
    char = chr(code)
    if char in '"\\':
        return "\\" + char
    if 0x20 <= code < 0x7F:
        return char
    named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}
    return named.get(code, f"\\x{code:02x}")


# What Go's Quote writes for each ASCII code point; a translate table for the ASCII fast path.
_ASCII_QUOTED: tuple[str, ...] = tuple(_ascii_escape(c) for c in range(128))
_ASCII_TRANSLATE: dict[int, str] = {c: esc for c, esc in enumerate(_ASCII_QUOTED) if esc != chr(c)}
_SIMPLE_UNESCAPES: dict[str, str] = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
}
_COMMON_UNESCAPES: tuple[tuple[str, str], ...] = (
    ('\\"', '"'),
    ("\\n", "\n"),
    ("\\t", "\t"),
    ("\\r", "\r"),
)
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_ESCAPE_WIDTH = {"x": 2, "u": 4, "U": 8}


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def go_bytes(value: str) -> bytes:
    """The bytes of the Go string a Python ``str`` stands for.

    Lone surrogates U+DC80..U+DCFF are raw bytes 0x80..0xFF (``surrogateescape``, as produced by
    ``os.fsdecode`` or ``errors="surrogateescape"``); any other lone surrogate is its 3-byte
    ``surrogatepass`` encoding. Other text is plain UTF-8.
    """
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return b"".join(
            ch.encode(
                "utf-8", "surrogateescape" if 0xDC80 <= ord(ch) <= 0xDCFF else "surrogatepass"
            )
            for ch in value
        )


def go_quote(value: str) -> str:
    """Return Go's ``strconv.Quote(value)``: the ``%q`` form the kubelet writes for each value.

    Printable runes (per Go's ``strconv.IsPrint``, Unicode 17) are kept; ``"`` and ``\\`` are
    backslashed; ``\\a\\b\\f\\n\\r\\t\\v`` are named; other control bytes become ``\\xHH`` and
    other non-printable runes ``\\uHHHH`` or ``\\UHHHHHHHH``. Lone surrogates stand for bytes
    that are not UTF-8 and are written ``\\xHH`` byte by byte, as Go writes invalid UTF-8.
    """
    if value.isascii():
        if value.isprintable() and '"' not in value and "\\" not in value:
            return f'"{value}"'
        return '"' + value.translate(_ASCII_TRANSLATE) + '"'
    if _has_surrogates(value):
        # Re-read the Go bytes so valid sequences become runes and the rest single bytes.
        value = go_bytes(value).decode("utf-8", "surrogateescape")
    return '"' + value.translate(_QUOTE_TABLE) + '"'


class _QuoteTable(dict[int, str]):
    """``str.translate`` table from code point to its quoted form, filled in on first use."""

    def __missing__(self, code: int) -> str:
        from podself._goprint import is_print  # lazily: only non-ASCII text needs the table

        if len(self) >= 4096:  # bound the memory an adversarial value can take
            self.clear()
        if code < 0x80:
            quoted = _ASCII_QUOTED[code]
        elif 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
            quoted = f"\\x{code - 0xDC00:02x}"
        elif is_print(code):
            quoted = chr(code)
        elif code < 0x10000:
            quoted = f"\\u{code:04x}"
        else:
            quoted = f"\\U{code:08x}"
        self[code] = quoted
        return quoted


_QUOTE_TABLE = _QuoteTable()


def _show(text: str, limit: int = 60) -> str:
    # Offending input in messages: repr, truncated so a huge annotation stays readable.
    if len(text) > limit:
        return repr(text[: limit - 3]) + "..."
    return repr(text)


def _literal(run: str) -> str:
    # Go's Unquote turns each byte that is not valid UTF-8 into U+FFFD.
    if run.isascii() or not _has_surrogates(run):
        return run
    return go_bytes(run).decode("utf-8", "replace")


def _unquote_common(body: str) -> str | None:
    """Decode the text between the quotes when it uses only the common escapes, else ``None``.

    Splitting at escaped backslashes leaves pieces in which every backslash starts a two-character
    escape, so plain ``str.replace`` decodes them exactly; this keeps long JSON annotations (full
    of ``\\"``) at C speed. Anything unusual goes to the general parser, which also words errors.
    """
    if "\n" in body:
        return None
    if "\\" not in body:
        if '"' in body:
            return None
        return _literal(body)
    pieces = body.split("\\\\")
    for index, piece in enumerate(pieces):
        if "\\" in piece:
            if piece.count('"') != piece.count('\\"'):
                return None
            decoded = piece
            for escape, char in _COMMON_UNESCAPES:
                if escape in decoded:
                    decoded = decoded.replace(escape, char)
            if "\\" in decoded:
                return None
            pieces[index] = decoded
        elif '"' in piece:
            return None
    return _literal("\\".join(pieces))


def _unquote(quoted: str) -> tuple[str | None, str]:
    """Go ``strconv.Unquote`` for a double-quoted string: ``(value, "")`` or ``(None, reason)``."""
    if len(quoted) >= 2 and quoted[0] == '"' and quoted[-1] == '"':
        common = _unquote_common(quoted[1:-1])
        if common is not None:
            return common, ""
    return _unquote_general(quoted)


def _unquote_general(quoted: str) -> tuple[str | None, str]:
    # Escape by escape, like Go's UnquoteChar loop; slower, but handles and words everything.
    size = len(quoted)
    if size < 2 or quoted[0] != '"':
        return None, "must start and end with a double quote"
    parts: list[str] = []
    raw_bytes = False  # True once a \xHH escape >= 0x80 has been written
    pos = 1
    close = quoted.find('"', pos)
    while True:
        if 0 <= close < pos:  # that quote was escaped: look past it, never twice over
            close = quoted.find('"', pos)
        slash = quoted.find("\\", pos, close if close >= 0 else size)
        stop = slash if slash >= 0 else close
        if stop < 0:
            return None, "missing closing double quote"
        run = quoted[pos:stop]
        if "\n" in run:
            return None, "unescaped newline"
        parts.append(_literal(run))
        if slash < 0:
            break
        # One escape sequence at `slash`.
        if slash + 1 >= size:
            return None, "missing closing double quote"
        kind = quoted[slash + 1]
        pos = slash + 2
        simple = _SIMPLE_UNESCAPES.get(kind)
        if simple is not None:
            parts.append(simple)
            continue
        width = _ESCAPE_WIDTH.get(kind)
        if width is not None:
            digits = quoted[pos : pos + width]
            if len(digits) < width or not all(d in _HEX_DIGITS for d in digits):
                return None, f"invalid escape {_show(quoted[slash : pos + width])}"
            code = int(digits, 16)
            pos += width
            if kind == "x":
                if code >= 0x80:
                    raw_bytes = True
                    parts.append(chr(0xDC00 + code))
                else:
                    parts.append(chr(code))
            elif code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                return (
                    None,
                    f"invalid escape {_show(quoted[slash:pos])}: not a Unicode scalar value",
                )
            else:
                parts.append(chr(code))
            continue
        if "0" <= kind <= "7":
            digits = quoted[slash + 1 : slash + 4]
            if len(digits) < 3 or not all("0" <= d <= "7" for d in digits):
                return None, f"invalid escape {_show(quoted[slash : slash + 4])}"
            code = int(digits, 8)
            if code > 255:
                return None, f"invalid escape {_show(quoted[slash : slash + 4])}: above \\377"
            pos = slash + 4
            if code >= 0x80:
                raw_bytes = True
                parts.append(chr(0xDC00 + code))
            else:
                parts.append(chr(code))
            continue
        return None, f"invalid escape {_show(quoted[slash : slash + 2])}"
    if close != size - 1:
        return None, "text after the closing double quote"
    value = "".join(parts)
    if raw_bytes:
        # \xHH bytes may join into UTF-8 runes (Go strings are bytes); the rest stay single.
        value = value.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")
    return value, ""


def go_unquote(quoted: str) -> str:
    """Invert :func:`go_quote`: Go's ``strconv.Unquote`` for a double-quoted string.

    Accepts every escape Go accepts (``\\xHH``, ``\\uHHHH``, ``\\UHHHHHHHH``, octal ``\\NNN``
    and the named ones); ``\\xHH`` bytes that are not UTF-8 come back as lone surrogates
    (``surrogateescape``). Raises :class:`~podself.errors.FormatError` on malformed input.
    """
    value, reason = _unquote(quoted)
    if value is None:
        msg = f"quoted string {_show(quoted)}: {reason}"
        raise FormatError(msg)
    return value


# --- FormatMap and its inverse -----------------------------------------------------------------


def format_map(mapping: Mapping[str, str] | None) -> str:
    """Return the text the kubelet writes for ``metadata.labels``/``metadata.annotations``.

    Mirrors ``fieldpath.FormatMap``: keys in Go's bytewise UTF-8 order, one ``key="value"`` line
    each (key raw, value quoted with Go's ``%q``), joined by ``\\n`` with no trailing newline;
    ``""`` for ``None`` or an empty mapping.
    """
    if not mapping:
        return ""
    keys = sorted(mapping)
    # Code-point order equals UTF-8 byte order except for lone surrogates (raw bytes in Go).
    if not all(k.isascii() for k in keys) and any(_has_surrogates(k) for k in keys):
        keys.sort(key=go_bytes)
    return "\n".join([f"{key}={go_quote(mapping[key])}" for key in keys])


def parse_map(text: str, *, source: str = "labels file") -> dict[str, str]:
    """Parse :func:`format_map` text back into a dict; ``parse_map(format_map(m)) == m``.

    Each line is split at the first ``="`` whose remainder is exactly one Go double-quoted
    string; since a quoted value never holds an unescaped ``"``, that is the only possible split,
    so keys may even contain ``="`` (only keys holding ``\\n`` cannot round-trip). Leniently,
    empty lines (such as a final newline) are skipped and one ``\\r`` before each ``\\n`` is
    ignored: ``FormatMap`` never writes either. Anything else, including a duplicate key,
    raises :class:`~podself.errors.FormatError` naming ``source`` and the 1-based line.
    """
    result: dict[str, str] = {}
    if not text:
        return result
    for number, raw_line in enumerate(text.split("\n"), 1):
        line = raw_line[:-1] if raw_line.endswith("\r") else raw_line
        if not line:
            continue
        split = line.find('="')
        if split < 0:
            msg = f'{source} line {number}: expected key="value", got {_show(line)}'
            raise FormatError(msg)
        rest = line[split + 1 :]
        if rest.isascii() and "\\" not in rest and rest.find('"', 1) == len(rest) - 1:
            value = rest[1:-1]
        else:
            split, value = _split_slow(line, split, source, number)
        key = line[:split]
        if key in result:
            msg = f"{source} line {number}: duplicate key {key!r}"
            raise FormatError(msg)
        result[key] = value
    return result


def _split_slow(line: str, split: int, source: str, number: int) -> tuple[int, str]:
    # A quoted value holds no unescaped '"', so its opening quote can only be the last
    # unescaped '"' before the closing one: every other '="' leaves a stray quote or none.
    # Finding it takes one backward pass and one unquote, however many '="' the line holds.
    # A '"' is escaped when an odd run of backslashes precedes it (no escape consumes a
    # backslash as its payload, so runs pair up from their start).
    quote = line.rfind('"', 0, len(line) - 1) if line.endswith('"') else -1
    while quote >= 0:
        run = quote
        while run > 0 and line[run - 1] == "\\":
            run -= 1
        if (quote - run) % 2 == 0:
            break
        quote = line.rfind('"', 0, run)
    if quote > split and line[quote - 1] == "=":
        value, _ = _unquote(line[quote:])
        if value is not None:
            return quote - 1, value
    _, reason = _unquote(line[split + 1 :])  # no split works: say why the first one fails
    msg = f"{source} line {number}: value {reason}, got {_show(line)}"
    raise FormatError(msg)


# --- ExtractFieldPathAsString ------------------------------------------------------------------

_NOT_AN_OBJECT = "object does not implement the Object interfaces"


def _metadata(pod: object) -> Mapping[str, Any]:
    if not hasattr(pod, "get") or not hasattr(pod, "__getitem__"):
        raise FieldPathError(_NOT_AN_OBJECT)
    metadata = pod.get("metadata")
    if metadata is None:
        return {}
    if not hasattr(metadata, "get"):
        raise FieldPathError(_NOT_AN_OBJECT)
    return metadata  # type: ignore[no-any-return]


def _string_field(value: object, field_path: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        msg = f"fieldPath {field_path}: expected a string, got {type(value).__name__} {value!r}"
        raise FieldPathError(msg)
    return value


def _string_map(value: object, field_path: str) -> Mapping[str, str]:
    if value is None:
        return {}
    if not hasattr(value, "items"):
        msg = f"fieldPath {field_path}: expected a map of strings, got {type(value).__name__}"
        raise FieldPathError(msg)
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            msg = f"fieldPath {field_path}: expected a map of strings, got {key!r}: {item!r}"
            raise FieldPathError(msg)
    return value  # type: ignore[return-value]


def extract_field_path(pod: Mapping[str, Any], field_path: str) -> str:
    """Return the string the kubelet writes for ``field_path`` of ``pod`` (v1 JSON shape).

    Mirrors ``fieldpath.ExtractFieldPathAsString``: ``metadata.name|namespace|uid`` raw,
    ``metadata.labels``/``metadata.annotations`` through :func:`format_map`, and
    ``metadata.labels['k']``/``metadata.annotations['k']`` as the value (``""`` when absent) after
    checking the key as a qualified name (lower-cased first for annotations). Anything else
    raises :class:`~podself.errors.FieldPathError` with Go's message.
    """
    metadata = _metadata(pod)
    path, key, subscripted = split_maybe_subscripted_path(field_path)
    if subscripted:
        if path == "metadata.annotations":
            errs = qualified_name_errors(go_lower(key))
        elif path == "metadata.labels":
            errs = qualified_name_errors(key)
        else:
            msg = f"fieldPath {go_quote(field_path)} does not support subscript"
            raise FieldPathError(msg)
        if errs:
            msg = f"invalid key subscript in {field_path}: {';'.join(errs)}"
            raise FieldPathError(msg)
        entries = _string_map(metadata.get(path[9:]), path)
        return entries.get(key, "")
    if field_path in ("metadata.annotations", "metadata.labels"):
        return format_map(_string_map(metadata.get(field_path[9:]), field_path))
    if field_path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return _string_field(metadata.get(field_path[9:]), field_path)
    msg = f"unsupported fieldPath: {field_path}"
    raise FieldPathError(msg)


# --- resourceFieldRef --------------------------------------------------------------------------

_CPU_RESOURCES = ("limits.cpu", "requests.cpu")
_MEMORY_RESOURCES = ("limits.memory", "requests.memory")
_STORAGE_RESOURCES = ("limits.ephemeral-storage", "requests.ephemeral-storage")
# MergeContainerResourceLimits: missing or zero limits fall back to node allocatable.
_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")
# Pod-level resources (PodLevelResources gate) cover cpu and memory only.
_POD_LEVEL_LIMITS = ("cpu", "memory")
_INT64_MIN = -(2**63)


def _resource_kind(resource: str) -> str | None:
    if resource in _CPU_RESOURCES:
        return "cpu"
    if resource in _MEMORY_RESOURCES:
        return "memory"
    if resource in _STORAGE_RESOURCES:
        return "ephemeral-storage"
    if resource.startswith(HUGEPAGES_PREFIXES):
        return "hugepages"
    return None


def _unsupported_resource(resource: str) -> FieldPathError:
    supported = ", ".join(go_quote(r) for r in RESOURCE_NAMES)
    msg = (
        f"resource {go_quote(resource)}: Unsupported value: supported values: {supported} "
        f"(or a {' or '.join(repr(p + '<size>') for p in HUGEPAGES_PREFIXES)} name)"
    )
    return FieldPathError(msg)


def divisor_for_resource(resource: str) -> tuple[str, ...]:
    """Return the canonical divisors the API accepts for ``resource`` (e.g. ``limits.cpu``).

    ``CPU_DIVISORS`` for cpu, ``MEMORY_DIVISORS`` for memory, ephemeral-storage and
    ``hugepages-*``; an unsupported resource raises :class:`~podself.errors.FieldPathError`.
    """
    kind = _resource_kind(resource)
    if kind is None:
        raise _unsupported_resource(resource)
    return CPU_DIVISORS if kind == "cpu" else MEMORY_DIVISORS


def divisor_error_detail(resource: str) -> str:
    """Return the API's error detail for a divisor not allowed with ``resource``."""
    kind = _resource_kind(resource)
    if kind is None:
        raise _unsupported_resource(resource)
    if kind == "cpu":
        return "only divisor's values 1m and 1 are supported with the cpu resource"
    noun = {"memory": "memory", "ephemeral-storage": "local ephemeral storage"}.get(
        kind, "hugepages"
    )
    values = ", ".join(MEMORY_DIVISORS)
    return f"only divisor's values {values} are supported with the {noun} resource"


def _go_int64(number: float) -> int:
    # int64(math.Ceil(f)) as compiled for amd64: NaN, +-Inf and out-of-range values all become
    # the "integer indefinite" value -2^63 (CVTTSD2SI); other architectures saturate instead.
    from math import ceil, isfinite  # lazily: keep `import podself` lean

    if not isfinite(number):
        return _INT64_MIN
    result = ceil(number)
    return result if _INT64_MIN <= result < -_INT64_MIN else _INT64_MIN


def resource_value(
    resource: str,
    container_resources: Mapping[str, Mapping[str, Any]] | None,
    divisor: str | float | None = None,
    node_allocatable: Mapping[str, Any] | None = None,
    *,
    pod_limits: Mapping[str, Any] | None = None,
) -> str:
    """Return the exact string the kubelet writes for a ``resourceFieldRef``.

    ``container_resources`` is the container's ``{"limits": {...}, "requests": {...}}`` with
    quantity strings (or YAML numbers). An unset or zero ``divisor`` means ``1``. cpu is computed
    from milli-values, everything else from values (as Go's int64 ``MilliValue()``/``Value()``,
    wrap-around included) and the float64 ratio is rounded up. A missing or zero cpu, memory or
    ephemeral-storage *limit* falls back to ``node_allocatable``, where a non-zero cpu/memory
    entry of ``pod_limits`` (PodLevelResources) replaces the allocatable entry that exists;
    requests are not defaulted here (see :func:`default_requests`). Unknown resources raise
    :class:`~podself.errors.ResourceFieldError`; bad quantities raise ``QuantityError``.
    """
    from podself.quantity import Quantity  # lazily: only resource values need it

    kind = _resource_kind(resource)
    if kind is None:
        msg = f"Unsupported container resource : {resource}"
        raise ResourceFieldError(msg)
    div = None if divisor is None else Quantity.from_json(divisor)
    if div is None or div.is_zero():
        div = Quantity.parse("1")
    section, _, name = resource.partition(".")
    entries = (container_resources or {}).get(section) or {}
    raw = entries.get(name)
    quantity = None if raw is None else Quantity.from_json(raw)
    if (
        section == "limits"
        and name in _DEFAULTED_LIMITS
        and (quantity is None or quantity.is_zero())
        and node_allocatable is not None
        and node_allocatable.get(name) is not None
    ):
        # MergeContainerResourceLimits: a missing or zero limit takes node allocatable, which
        # a non-zero pod-level limit replaces where allocatable has that resource
        # (defaultPodLimitsForDownwardAPI).
        fallback = Quantity.from_json(node_allocatable[name])
        if pod_limits is not None and name in _POD_LEVEL_LIMITS:
            pod_limit = pod_limits.get(name)
            pod_quantity = None if pod_limit is None else Quantity.from_json(pod_limit)
            if pod_quantity is not None and not pod_quantity.is_zero():
                fallback = pod_quantity
        quantity = fallback
    if quantity is None:
        return "0"
    # The kubelet divides float64 values (math.Ceil(float64(a) / float64(b))), so results
    # above 2**53 are rounded exactly as it rounds them; exact integer math would differ.
    if kind == "cpu":
        top, bottom = quantity.go_milli_value(), div.go_milli_value()
    else:
        top, bottom = quantity.go_value(), div.go_value()
    numerator, denominator = float(top), float(bottom)
    if denominator == 0.0:
        # Go's float division by zero gives NaN or an infinity, never a panic.
        ratio = float("nan") if numerator == 0.0 else numerator * float("inf")
    else:
        ratio = numerator / denominator
    return str(_go_int64(ratio))


def default_requests(container_resources: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return a copy of ``container_resources`` with requests defaulted from limits.

    Mirrors the API server's ``SetDefaults_Pod``: each limit whose key is missing from
    ``requests`` is copied there (Pods only; pod templates are not defaulted until a Pod is
    created from them). Other keys (e.g. ``claims``) are kept as they are.
    """
    result: dict[str, Any] = dict(container_resources or {})
    limits = result.get("limits")
    if limits:
        requests = dict(result.get("requests") or {})
        for key, value in limits.items():
            requests.setdefault(key, value)
        result["limits"] = dict(limits)
        result["requests"] = requests
    return result

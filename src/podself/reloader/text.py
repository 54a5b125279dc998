"""Untrusted text (volume contents, URLs, server replies) made safe to report."""

from __future__ import annotations

from podself.downward import go_bytes

_MAX_LINE = 16 * 1024  # characters of one reported line


def redact_url(url: str) -> str:
    """The URL for messages: user information and query values replaced by ``***``.

    Both commonly carry credentials (``https://TOKEN@host/``, ``?token=…``); query keys, the
    host and the path are kept so the target stays recognisable. The fragment is never sent
    and is dropped.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    query = "&".join(
        f"{key}=***" if sep else "***"
        for key, sep, _ in (item.partition("=") for item in parts.query.split("&"))
    )
    return urlunsplit(
        parts._replace(netloc=netloc, query=query if parts.query else "", fragment="")
    )


def printable(text: str) -> str:
    """``text`` made safe for one log line, whatever a volume or a server put in it.

    Bytes that are not UTF-8 (lone surrogates from ``surrogateescape``) become ``\\xHH``,
    control and other non-printable characters their escapes (no forged lines, no terminal
    sequences), and the line is cut at ``_MAX_LINE`` characters.
    """
    if not text.isprintable():
        text = go_bytes(text).decode("utf-8", "backslashreplace")
        text = "".join(
            c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
        )
    if len(text) > _MAX_LINE:
        text = f"{text[:_MAX_LINE]}… ({len(text) - _MAX_LINE} more characters)"
    return text


def unicode_text(text: str) -> str:
    """``text`` as valid Unicode for JSON: bytes that are not UTF-8 become U+FFFD, as Go's
    ``encoding/json`` does."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return go_bytes(text).decode("utf-8", "replace")
    return text

"""The ``post`` action: POST the change as JSON to a URL, with one deadline."""

from __future__ import annotations

import contextlib
import threading

from podself.errors import ActionError
from podself.reloader.changes import Batch
from podself.reloader.engine import Action
from podself.reloader.text import printable, redact_url

_MAX_REASON = 100  # characters of an HTTP reason phrase shown


class Post(Action):
    """POST the change as JSON, within one deadline for the whole request.

    Socket timeouts bound each read, not the request: a server sending one byte at a time
    would hold a round for ever. A watchdog shuts the socket down at the deadline. Basic
    auth comes from the URL's user information; redirects are not followed (the credentials
    must not travel to another host).
    """

    def __init__(self, url: str, timeout: float) -> None:
        from urllib.parse import unquote_to_bytes, urlsplit

        self.url = url
        self.timeout = timeout
        self.label = f"POST {redact_url(url)}"
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._auth: str | None = None
        if parts.username is not None:
            import base64

            user = unquote_to_bytes(parts.username)
            password = unquote_to_bytes(parts.password or "")
            self._auth = "Basic " + base64.b64encode(user + b":" + password).decode("ascii")

    def run(self, batch: Batch) -> str:
        import http.client
        import socket

        from podself import __version__

        if self._https:
            import ssl

            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        expired = threading.Event()

        def abort() -> None:
            expired.set()
            sock = conn.sock
            if sock is not None:
                # The base class method: an SSLSocket's own would drop its state under the
                # reader's feet. Shutting down wakes a blocked recv() at once.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

        headers = {"Content-Type": "application/json", "User-Agent": f"podself/{__version__}"}
        if self._auth is not None:
            headers["Authorization"] = self._auth
        watchdog = threading.Timer(self.timeout, abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            conn.connect()
            if expired.is_set():  # the deadline passed while connecting: no socket to shut
                raise TimeoutError
            conn.request("POST", self._target, body=batch.json.encode("utf-8"), headers=headers)
            response = conn.getresponse()
            status, reason = response.status, printable(response.reason)[:_MAX_REASON]
            if expired.is_set():  # the shutdown reads as an early end of the headers
                raise TimeoutError
        except (OSError, http.client.HTTPException) as err:
            if expired.is_set() or isinstance(err, TimeoutError):
                msg = f"timed out after {self.timeout:g} s"
            elif isinstance(err, http.client.HTTPException):
                detail = printable(str(err))[:_MAX_REASON] or type(err).__name__
                msg = f"bad response: {detail}"
            else:
                msg = f"{err.strerror or err}"
            raise ActionError(msg) from None
        finally:
            watchdog.cancel()
            conn.close()
        if not 200 <= status < 300:
            msg = f"HTTP {status} {reason}"
            raise ActionError(msg)
        return f"HTTP {status} {reason}"

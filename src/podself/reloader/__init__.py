"""Reload a program when its volumes change: run a command, signal a process, POST to a URL.

The engine of ``podself watch``, usable on its own (standard library only)::

    from podself.reloader import Post, Reloader, Signal

    Reloader(
        ["/etc/podinfo"],
        [Signal(signal.SIGHUP, pidfile="/run/app/app.pid"), Post("http://127.0.0.1:8080/-/reload")],
    ).run()

On each committed change the actions run in order, each retried on its own with back-off.
Changes that arrive while actions run are coalesced into one more round, never queued one by
one (a storm of updates causes at most one extra reload): per directory only the state last
acted on and the latest state are kept, so memory does not grow with the rate of changes.

Everything a volume, a server or a pidfile holds is untrusted: it reaches reports escaped and
bounded (:func:`printable`), commands through bounded environment variables with the complete
change in a private file (:class:`Batch`), and never decides by itself which process is
signalled (:class:`Signal`); a POST has one deadline for the whole request (:class:`Post`).
"""

from __future__ import annotations

from podself.errors import ActionError
from podself.reloader.changes import Batch, ChangeFile, Coalescer, Update
from podself.reloader.engine import Action, Reloader, ReloadMetrics, Report
from podself.reloader.exec import Exec
from podself.reloader.post import Post
from podself.reloader.signals import Signal
from podself.reloader.text import printable, redact_url

__all__ = [
    "Action",
    "ActionError",
    "Batch",
    "ChangeFile",
    "Coalescer",
    "Exec",
    "Post",
    "ReloadMetrics",
    "Reloader",
    "Report",
    "Signal",
    "Update",
    "printable",
    "redact_url",
]

"""The ``exec`` action: run a command with the change in its environment."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

from podself.errors import ActionError
from podself.reloader.changes import Batch
from podself.reloader.engine import Action
from podself.reloader.signals import signame

_TERM_GRACE_S = 2.0


class Exec(Action):
    """Run ``command`` with ``/bin/sh -c`` and the change in its environment (see
    :class:`Batch`); the whole process group is killed after ``timeout`` seconds, and a
    non-zero exit is a failure."""

    needs_change_file = True

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        self.label = f"exec {command!r}"

    def run(self, batch: Batch) -> str:
        import subprocess

        env = {**os.environ, **batch.env}
        for stream in (sys.stdout, sys.stderr):  # our lines first; None when started closed
            if stream is not None:
                with contextlib.suppress(OSError, ValueError):
                    stream.flush()
        try:
            # Own session: a timeout or shutdown stops the whole pipeline, not just sh.
            child = subprocess.Popen(
                ["/bin/sh", "-c", self.command], env=env, start_new_session=True
            )
        except OSError as err:
            msg = f"cannot start /bin/sh: {err.strerror or err}"
            raise ActionError(msg) from None
        try:
            code = child.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid, signal.SIGKILL)
            child.wait()
            msg = f"timed out after {self.timeout:g} s (killed)"
            raise ActionError(msg) from None
        except BaseException:
            _kill_group(child.pid, signal.SIGTERM)
            try:
                child.wait(_TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(child.pid, signal.SIGKILL)
                child.wait()
            raise
        if code != 0:
            detail = f"killed by {signame(-code)}" if code < 0 else f"exit status {code}"
            raise ActionError(detail)
        return "exit status 0"


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(pgid, sig)

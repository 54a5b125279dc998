"""``podself watch DIR…``: the reloader sidecar. On each committed change of a volume, print
what changed and run a command, signal a process or POST to a URL, with retries.

Actions may be combined and run in the order exec, signal, post; each is retried on its own.
Changes that arrive while actions run are coalesced into one more round, never queued one
by one (a storm of updates causes at most one extra reload).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from podself.watcher import ChangeSet, Watcher

__all__ = ["configure", "main", "run"]

_PROG = "podself watch"
_MAP_FILES = frozenset({"labels", "annotations"})
_MAX_BACKOFF_S = 30.0
_TERM_GRACE_S = 2.0
_MAX_JSON_BYTES = 64 * 1024
_MAX_TIMEOUT_S = 2**31 - 1  # what socket and poll timeouts accept, with room to spare
_PID_MAX = 4194304  # PID_MAX_LIMIT on 64-bit Linux: no pid is ever larger


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``watch``'s options."""
    parser.description = (
        "Watch Downward API, ConfigMap or Secret volume directories and act on each committed "
        "change (the kubelet's ..data swap): print it, run a command, signal a process, POST "
        "to a URL. Exits 0 on SIGTERM/SIGINT."
    )
    parser.epilog = (
        "Actions may be combined; on each change they run in the order exec, signal, post, "
        "each retried on its own. --exec gets PODSELF_WATCH_DIR, PODSELF_CHANGED_FILES, "
        "PODSELF_DATA_VERSION, PODSELF_CHANGE_SUMMARY and PODSELF_CHANGE_JSON in its "
        "environment; --post sends the same JSON."
    )
    parser.add_argument("dirs", nargs="+", metavar="DIR", help="directory to watch")
    acts = parser.add_argument_group("actions (combinable)")
    acts.add_argument(
        "--exec",
        dest="exec_cmds",
        action="append",
        default=[],
        metavar="CMD",
        help="run CMD with /bin/sh -c (repeatable)",
    )
    acts.add_argument(
        "--signal",
        type=_signal_arg,
        metavar="SIG",
        help="send SIG (HUP, SIGUSR1, 1…) to the targets below; default HUP when a target is given",
    )
    acts.add_argument(
        "--pid",
        dest="pids",
        action="append",
        default=[],
        type=_pid_arg,
        metavar="PID",
        help="target pid (repeatable)",
    )
    acts.add_argument(
        "--pidfile",
        dest="pidfiles",
        action="append",
        default=[],
        metavar="FILE",
        help="file holding the target pid, re-read on each change",
    )
    acts.add_argument(
        "--process-name",
        dest="process_names",
        action="append",
        default=[],
        metavar="NAME",
        help="every process whose name (comm or argv[0] base name) is NAME, found in /proc "
        "on each change (with shareProcessNamespace: true, other containers' too)",
    )
    acts.add_argument(
        "--post",
        dest="urls",
        action="append",
        default=[],
        type=_url_arg,
        metavar="URL",
        help="POST the change as JSON to URL; any 2xx is success (repeatable)",
    )
    opts = parser.add_argument_group("watch options")
    opts.add_argument("--once", action="store_true", help="exit after the first change")
    opts.add_argument(
        "--debounce-ms",
        type=_int_arg(0),
        default=50,
        metavar="N",
        help="wait until no event for N ms before reading (default 50)",
    )
    opts.add_argument(
        "--poll-ms",
        type=_int_arg(1),
        default=1000,
        metavar="N",
        help="polling interval, and safety-net check with inotify (default 1000)",
    )
    opts.add_argument(
        "--polling", action="store_true", help="poll instead of using inotify (odd filesystems)"
    )
    opts.add_argument(
        "--timeout-s",
        type=_float_arg,
        default=30.0,
        metavar="N",
        help="time limit of each POST and each --exec command (default 30)",
    )
    opts.add_argument(
        "--retries",
        type=_int_arg(0),
        default=3,
        metavar="N",
        help="retries of a failed action (default 3)",
    )
    opts.add_argument(
        "--retry-delay-ms",
        type=_int_arg(0),
        default=500,
        metavar="N",
        help="first retry delay, doubled each time up to 30 s (default 500)",
    )
    opts.add_argument(
        "--show-values",
        action="store_true",
        help="show changed values of every key=value file, not only labels/annotations "
        "(which may print Secret values)",
    )
    opts.add_argument("-q", "--quiet", action="store_true", help="print only errors (on stderr)")


# --------------------------------------------------------------------------------------------
# Argument types (argparse turns ArgumentTypeError into exit 2 with the message)


def _signal_arg(text: str) -> signal.Signals:
    name = text.strip().upper()
    try:
        if name.isdigit():
            return signal.Signals(int(name))
        return signal.Signals[name if name.startswith("SIG") else "SIG" + name]
    except (KeyError, ValueError):
        msg = f'signal "{text}": not a signal name or number (e.g. HUP, SIGUSR1, 1)'
        raise argparse.ArgumentTypeError(msg) from None


def _pid_arg(text: str) -> int:
    if not _is_pid(text):
        msg = f'pid "{text}": must be a positive integer (at most {_PID_MAX})'
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _is_pid(text: str) -> bool:
    # ASCII digits only ("²".isdigit() is true), and within what os.kill can be given.
    return text.isascii() and text.isdigit() and 1 <= int(text) <= _PID_MAX


def _int_arg(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            msg = f'"{text}": must be an integer >= {minimum}'
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _float_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= _MAX_TIMEOUT_S:
        msg = f'"{text}": must be a number of seconds > 0 (at most {_MAX_TIMEOUT_S})'
        raise argparse.ArgumentTypeError(msg)
    return value


def _url_arg(text: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        msg = f'URL "{_redact(text)}": must be http:// or https:// with a host'
        raise argparse.ArgumentTypeError(msg)
    return text


def _redact(url: str) -> str:
    """The URL with any password replaced, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


# --------------------------------------------------------------------------------------------
# Describing a change


@dataclass(frozen=True)
class _Item:
    """One change set of one watched directory."""

    directory: str
    change: ChangeSet


def _shows_values(name: str, show_all: bool) -> bool:
    return show_all or name.rpartition("/")[2] in _MAP_FILES


def _summary(change: ChangeSet, show_all: bool) -> str:
    """``ChangeSet.summary()``, with values hidden for files other than labels/annotations."""
    parts: list[str] = []
    for prefix, names in (("", change.changed), ("+", change.added)):
        for name in names:
            diff = change.diffs.get(name)
            if diff is None or not diff:
                parts.append(f"{prefix}{name}" if prefix else f"{name}: changed")
            elif _shows_values(name, show_all):
                parts.append(f"{prefix}{name}: {diff.summary()}")
            else:
                keys = [f"+{k}" for k in diff.added] + [f"-{k}" for k in diff.removed]
                keys += [f"~{k}" for k in diff.changed]
                parts.append(f"{prefix}{name}: {' '.join(keys)}")
    parts += [f"-{name}" for name in change.removed]
    return "; ".join(parts) or "no changes"


def _as_json(item: _Item, show_all: bool) -> dict[str, object]:
    change = item.change
    diffs: dict[str, object] = {}
    for name, diff in change.diffs.items():
        if _shows_values(name, show_all):
            diffs[name] = {
                "added": dict(diff.added),
                "removed": dict(diff.removed),
                "changed": {k: list(v) for k, v in diff.changed.items()},
            }
        else:
            diffs[name] = {
                "added": list(diff.added),
                "removed": list(diff.removed),
                "changed": list(diff.changed),
            }
    return {
        "dir": item.directory,
        "version": change.version,
        "changed": list(change.changed),
        "added": list(change.added),
        "removed": list(change.removed),
        "missing": list(change.missing),
        "summary": _summary(change, show_all),
        "diffs": diffs,
    }


class _Batch:
    """The change sets one round of actions reacts to, and what they are told about them."""

    def __init__(self, items: list[_Item], show_all: bool) -> None:
        import json

        self.items = items
        self.time = _timestamp()
        # A coalesced storm can hold many change sets: keep the latest ones that fit, since
        # one environment string is limited (MAX_ARG_STRLEN, 128 KiB on Linux).
        kept = items
        while True:
            body: dict[str, object] = {
                "time": self.time,
                "changes": [_as_json(i, show_all) for i in kept],
            }
            if len(kept) < len(items):
                body["omitted"] = len(items) - len(kept)
            self.json = json.dumps(body, ensure_ascii=False, sort_keys=True)
            if len(self.json.encode()) <= _MAX_JSON_BYTES or len(kept) == 1:
                break
            kept = kept[len(kept) // 2 :]
        files: dict[str, None] = {}
        dirs: dict[str, None] = {}
        for item in items:
            dirs[item.directory] = None
            for name in (*item.change.changed, *item.change.added, *item.change.removed):
                files[os.path.join(item.directory, name)] = None
        self.env = {
            "PODSELF_WATCH_DIR": " ".join(dirs),
            "PODSELF_CHANGED_FILES": " ".join(sorted(files)),
            "PODSELF_DATA_VERSION": items[-1].change.version or "",
            "PODSELF_CHANGE_SUMMARY": "\n".join(
                f"{i.directory}: {_summary(i.change, show_all)}" for i in kept
            ),
            "PODSELF_CHANGE_JSON": self.json,
        }


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


# --------------------------------------------------------------------------------------------
# Actions: run(batch) returns what happened or raises _Failed


class _Failed(Exception):
    """One attempt of an action failed; the message says why."""


class _Stop(BaseException):
    """SIGTERM or SIGINT: leave the main loop whatever it is doing."""


class _Action:
    label = ""

    def run(self, batch: _Batch) -> str:
        raise NotImplementedError


class _Exec(_Action):
    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        self.label = f"exec {command!r}"

    def run(self, batch: _Batch) -> str:
        import subprocess

        env = {**os.environ, **batch.env}
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            # Own session: a timeout or shutdown stops the whole pipeline, not just sh.
            child = subprocess.Popen(
                ["/bin/sh", "-c", self.command], env=env, start_new_session=True
            )
        except OSError as err:
            msg = f"cannot start /bin/sh: {err.strerror or err}"
            raise _Failed(msg) from None
        try:
            code = child.wait(self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(child.pid, signal.SIGKILL)
            child.wait()
            msg = f"timed out after {self.timeout:g} s (killed)"
            raise _Failed(msg) from None
        except BaseException:
            _kill_group(child.pid, signal.SIGTERM)
            try:
                child.wait(_TERM_GRACE_S)
            except subprocess.TimeoutExpired:
                _kill_group(child.pid, signal.SIGKILL)
                child.wait()
            raise
        if code != 0:
            detail = f"killed by {_signame(-code)}" if code < 0 else f"exit status {code}"
            raise _Failed(detail)
        return "exit status 0"


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(OSError):  # already gone
        os.killpg(pgid, sig)


def _signame(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Signal(_Action):
    """Send a signal to a pid, the pid in a pidfile, or every process with a name."""

    def __init__(self, sig: signal.Signals, kind: str, target: str) -> None:
        self.sig = sig
        self.kind = kind
        self.target = target
        self.label = f"signal {sig.name} → {kind} {target}"

    def run(self, batch: _Batch) -> str:
        if self.kind == "pid":
            return self._send(int(self.target))
        if self.kind == "pidfile":
            return self._send(self._read_pidfile())
        pids = _pids_named(self.target)
        if not pids:
            msg = f'no process named "{self.target}"'
            raise _Failed(msg)
        return ", ".join(self._send(pid) for pid in pids)

    def _read_pidfile(self) -> int:
        try:
            with open(self.target, encoding="utf-8", errors="replace") as handle:
                text = handle.read(64).strip()
        except FileNotFoundError:
            msg = f"pidfile {self.target}: no such file"
            raise _Failed(msg) from None
        except OSError as err:
            msg = f"pidfile {self.target}: {err.strerror or err}"
            raise _Failed(msg) from None
        if not _is_pid(text):
            msg = f'pidfile {self.target}: "{text}" is not a pid'
            raise _Failed(msg)
        return int(text)

    def _send(self, pid: int) -> str:
        try:
            os.kill(pid, self.sig)
        except ProcessLookupError:
            msg = f"pid {pid}: no such process"
            raise _Failed(msg) from None
        except PermissionError:
            msg = (
                f"pid {pid}: permission denied (signalling another container's "
                "process needs the same user or CAP_KILL)"
            )
            raise _Failed(msg) from None
        return f"sent to pid {pid}"


def _pids_named(name: str) -> list[int]:
    """Pids whose ``comm`` or ``argv[0]`` base name is ``name`` (not this process)."""
    found: list[int] = []
    me = os.getpid()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/comm", "rb") as handle:
                comm = handle.read().rstrip(b"\n").decode("utf-8", "replace")
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv0 = handle.read(4096).split(b"\0", 1)[0].decode("utf-8", "replace")
        except OSError:
            continue  # exited meanwhile, or not ours to look at
        if name in {comm, os.path.basename(argv0)}:
            found.append(int(entry))
    return sorted(found)


class _Post(_Action):
    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self.label = f"POST {_redact(url)}"

    def run(self, batch: _Batch) -> str:
        import urllib.error
        import urllib.request

        from podself import __version__

        request = urllib.request.Request(
            self.url,
            data=batch.json.encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": f"podself/{__version__}"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = int(response.status)
                reason = str(response.reason)
        except urllib.error.HTTPError as err:
            msg = f"HTTP {err.code} {err.reason}"
            raise _Failed(msg) from None
        except urllib.error.URLError as err:
            msg = f"{err.reason}"
            raise _Failed(msg) from None
        except TimeoutError:
            msg = f"timed out after {self.timeout:g} s"
            raise _Failed(msg) from None
        except OSError as err:
            msg = f"{err.strerror or err}"
            raise _Failed(msg) from None
        if not 200 <= status < 300:
            msg = f"HTTP {status} {reason}"
            raise _Failed(msg)
        return f"HTTP {status} {reason}"


def _actions(args: argparse.Namespace) -> list[_Action]:
    actions: list[_Action] = [_Exec(cmd, args.timeout_s) for cmd in args.exec_cmds]
    sig = args.signal or signal.SIGHUP
    actions += [_Signal(sig, "pid", str(pid)) for pid in args.pids]
    actions += [_Signal(sig, "pidfile", path) for path in args.pidfiles]
    actions += [_Signal(sig, "process", name) for name in args.process_names]
    actions += [_Post(url, args.timeout_s) for url in args.urls]
    return actions


# --------------------------------------------------------------------------------------------
# Main loop


class _Output:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet

    def info(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def note(self, line: str) -> None:
        if not self.quiet:
            print(f"{_PROG}: {line}", file=sys.stderr, flush=True)

    def error(self, line: str) -> None:
        print(f"{_PROG}: {line}", file=sys.stderr, flush=True)


def _attempt(action: _Action, batch: _Batch, args: argparse.Namespace, out: _Output) -> bool:
    """Run one action with retries and exponential back-off; return whether it succeeded."""
    delay = min(args.retry_delay_ms / 1000, _MAX_BACKOFF_S)
    attempts = args.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            outcome = action.run(batch)
        except _Failed as err:
            if attempt < attempts:
                out.error(f"{action.label}: {err}; retry {attempt}/{args.retries} in {delay:g} s")
                time.sleep(delay)
                delay = min(delay * 2, _MAX_BACKOFF_S)
                continue
            tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
            out.error(f"{action.label}: {err}; giving up after {tries}")
            return False
        out.info(f"{_timestamp()} {action.label}: {outcome}")
        return True
    return False  # pragma: no cover - the loop always returns


def _on_signal(signum: int, frame: object) -> None:
    # Ignore further signals while shutting down, then unwind the main loop.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop


def run(args: argparse.Namespace) -> int:
    """Watch, act, repeat; returns 0 on SIGTERM/SIGINT, 2 for bad input."""
    out = _Output(args.quiet)
    if args.signal is not None and not (args.pids or args.pidfiles or args.process_names):
        out.error("--signal needs a target: --pid PID, --pidfile FILE or --process-name NAME")
        return 2
    actions = _actions(args)
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _on_signal)
    watchers: list[Watcher] = []
    try:
        return _serve(args, actions, watchers, out)
    except _Stop:
        out.note("stopping (signal received)")
        return 0
    finally:
        for watcher in watchers:
            watcher.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]


def _serve(
    args: argparse.Namespace, actions: list[_Action], watchers: list[Watcher], out: _Output
) -> int:
    from podself.errors import WatchError

    changes: queue.Queue[_Item | str] = queue.Queue()
    dirs = list(dict.fromkeys(os.path.abspath(d) for d in args.dirs))
    for directory in dirs:

        def deliver(change: ChangeSet, directory: str = directory) -> None:
            changes.put(_Item(directory, change))

        try:
            watcher = Watcher(
                directory,
                deliver,
                debounce_ms=args.debounce_ms,
                poll_ms=args.poll_ms,
                force_polling=True if args.polling else None,
            )
        except WatchError as err:
            out.error(str(err))
            return 2
        watchers.append(watcher)
    for watcher in watchers:
        watcher.start()
        threading.Thread(
            target=_report_end, args=(watcher, changes), name="podself-watch-end", daemon=True
        ).start()
    what = ", ".join(a.label for a in actions) or "print only"
    modes = ", ".join(f"{w.path} ({w.mode})" for w in watchers)
    out.note(f"watching {modes}; debounce {args.debounce_ms} ms; on change: {what}")

    while True:
        first = changes.get()
        pending = [first]
        while True:  # coalesce whatever else is already waiting
            try:
                pending.append(changes.get_nowait())
            except queue.Empty:
                break
        ended = [p for p in pending if isinstance(p, str)]
        items = [p for p in pending if isinstance(p, _Item)]
        ok = True
        if items:
            for item in items:
                out.info(
                    f"{_timestamp()} {item.directory}: {_summary(item.change, args.show_values)}"
                )
            batch = _Batch(items, args.show_values)
            results = [_attempt(action, batch, args, out) for action in actions]
            ok = all(results)
            if args.once:
                return 0 if ok else 1
        if ended:
            out.error(f"{', '.join(ended)}: directory removed; stopping")
            return 1


def _report_end(watcher: Watcher, changes: queue.Queue[_Item | str]) -> None:
    """Tell the main loop when a watcher ends by itself (its directory was removed)."""
    watcher.join()
    if watcher.running:  # pragma: no cover - join() without timeout returns when ended
        return
    changes.put(watcher.path)


def main(argv: Sequence[str] | None = None) -> int:
    """``podself watch`` on its own (``python -m podself.cli.watch DIR …``)."""
    parser = argparse.ArgumentParser(prog=_PROG)
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

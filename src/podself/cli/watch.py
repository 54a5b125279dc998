"""``podself watch DIR…``: the reloader sidecar. On each committed change of a volume, print
what changed and run a command, signal a process or POST to a URL, with retries.

A command-line wrapper of :mod:`podself.reloader`, which does the watching, coalescing and
acting; this module adds the options, printing (every line escaped and bounded) and a clean
exit on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from podself.reloader import (
    Action,
    Exec,
    Post,
    Reloader,
    ReloadMetrics,
    Signal,
    printable,
    redact_url,
)
from podself.reloader.engine import MAX_DELAY_MS, MAX_RETRIES
from podself.reloader.signals import PID_MAX, is_pid

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

__all__ = ["configure", "main", "run"]

_PROG = "podself watch"
_MAX_TIMEOUT_S = 2**31 - 1  # what socket and poll timeouts accept, with room to spare
_MAX_MS = MAX_DELAY_MS  # debounce and poll too: at most an hour


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
        "PODSELF_DATA_VERSION, PODSELF_CHANGE_SUMMARY and PODSELF_CHANGE_JSON (bounded; "
        "PODSELF_TRUNCATED names those cut) and PODSELF_CHANGE_FILE (the complete JSON) in "
        "its environment; --post sends the same JSON."
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
        type=_int_arg(0, _MAX_MS),
        default=50,
        metavar="N",
        help="wait until no event for N ms before reading (default 50)",
    )
    opts.add_argument(
        "--poll-ms",
        type=_int_arg(1, _MAX_MS),
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
        type=_int_arg(0, MAX_RETRIES),
        default=3,
        metavar="N",
        help="retries of a failed action (default 3)",
    )
    opts.add_argument(
        "--retry-delay-ms",
        type=_int_arg(0, _MAX_MS),
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
    opts.add_argument(
        "--metrics-addr",
        type=_addr_arg,
        metavar="HOST:PORT",
        help="serve Prometheus reload metrics on http://HOST:PORT/metrics (:9533 for every IPv4 "
        "address, [::]:9533 for IPv6, port 0 for a free one)",
    )


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
    if not is_pid(text):
        msg = f'pid "{text}": must be a positive integer (at most {PID_MAX})'
        raise argparse.ArgumentTypeError(msg)
    return int(text)


def _int_arg(minimum: int, maximum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            msg = f'"{text}": must be an integer >= {minimum} and <= {maximum}'
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

    problem = None
    if any(c.isspace() or not c.isprintable() for c in text):
        problem = "must not contain spaces or control characters (percent-encode them)"
    else:
        try:
            parts = urlsplit(text)
            _ = parts.port  # raises ValueError for a port out of range
        except ValueError as err:
            problem = str(err)
        else:
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                problem = "must be http:// or https:// with a host"
    if problem is not None:
        msg = f'URL "{redact_url(text)}": {problem}'
        raise argparse.ArgumentTypeError(msg)
    return text


def _addr_arg(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        host_ok = ":" in host  # brackets hold an IPv6 address
    else:
        host_ok = ":" not in host  # an IPv6 address needs brackets
    host_ok = host_ok and all(c.isascii() and (c.isalnum() or c in ".-:%") for c in host)
    port_ok = port.isascii() and port.isdigit() and len(port) <= 5 and int(port) <= 65535
    if not (sep and host_ok and port_ok):
        msg = (
            f'metrics address "{printable(text)}": must be HOST:PORT, :PORT or [IPv6]:PORT '
            "with a port from 0 to 65535"
        )
        raise argparse.ArgumentTypeError(msg)
    return host, int(port)


def _actions(args: argparse.Namespace) -> list[Action]:
    actions: list[Action] = [Exec(cmd, args.timeout_s) for cmd in args.exec_cmds]
    sig = args.signal or signal.SIGHUP
    actions += [Signal(sig, pid=pid) for pid in args.pids]
    actions += [Signal(sig, pidfile=path) for path in args.pidfiles]
    actions += [Signal(sig, process_name=name) for name in args.process_names]
    actions += [Post(url, args.timeout_s) for url in args.urls]
    return actions


# --------------------------------------------------------------------------------------------
# Main loop


class _Output:
    """Lines on stdout/stderr, each made printable; a closed or full stream is not fatal
    (the actions matter more than the log)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        for stream in (sys.stdout, sys.stderr):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:  # an ASCII locale must not turn "→" into a crash
                with contextlib.suppress(ValueError, OSError):
                    reconfigure(errors="backslashreplace")

    def info(self, line: str) -> None:
        if not self.quiet:
            self._write(sys.stdout, line)

    def note(self, line: str) -> None:
        if not self.quiet:
            self._write(sys.stderr, f"{_PROG}: {line}")

    def error(self, line: str) -> None:
        self._write(sys.stderr, f"{_PROG}: {line}")

    @staticmethod
    def _write(stream: object, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):
            print(printable(line), file=stream, flush=True)  # type: ignore[call-overload]


class _Stop(BaseException):
    """SIGTERM or SIGINT: leave the main loop whatever it is doing."""


def _on_signal(signum: int, frame: object) -> None:
    # Ignore further signals while shutting down, then unwind the main loop.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise _Stop


def run(args: argparse.Namespace) -> int:
    """Watch, act, repeat; returns 0 on SIGTERM/SIGINT, 2 for bad input."""
    from podself.errors import WatchError

    out = _Output(args.quiet)
    if args.signal is not None and not (args.pids or args.pidfiles or args.process_names):
        out.error("--signal needs a target: --pid PID, --pidfile FILE or --process-name NAME")
        return 2
    metrics = ReloadMetrics() if args.metrics_addr is not None else None
    reloader = Reloader(
        args.dirs,
        _actions(args),
        debounce_ms=args.debounce_ms,
        poll_ms=args.poll_ms,
        force_polling=True if args.polling else None,
        retries=args.retries,
        retry_delay_ms=args.retry_delay_ms,
        show_values=args.show_values,
        report=out,
        metrics=metrics,
    )
    server = None
    if metrics is not None:
        try:
            server = _serve_metrics(args.metrics_addr, metrics)
        except OSError as err:
            host, port = args.metrics_addr
            out.error(f"metrics address {host}:{port}: {err.strerror or err}")
            return 2
        host, port = server.server_address[:2]
        out.note(f"serving reload metrics on http://{_url_host(str(host))}:{port}/metrics")
    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, _on_signal)
    try:
        return reloader.run(once=args.once)
    except WatchError as err:
        out.error(str(err))
        return 2
    except _Stop:
        out.note("stopping (signal received)")
        return 0
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        if server is not None:
            server.shutdown()
            server.server_close()


def _serve_metrics(address: tuple[str, int], metrics: ReloadMetrics) -> ThreadingHTTPServer:
    """``/metrics`` with the reload metrics, from a daemon thread."""
    from podself.integrations.prometheus import (
        MetricsHandler,
        reload_families,
        render,
        start_http_server,
    )

    class Handler(MetricsHandler):
        @staticmethod
        def exposition() -> str:
            return render(reload_families(metrics))

    host, port = address
    return start_http_server(port, host, Handler)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def main(argv: Sequence[str] | None = None) -> int:
    """``podself watch`` on its own (``python -m podself.cli.watch DIR …``)."""
    parser = argparse.ArgumentParser(prog=_PROG)
    configure(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())

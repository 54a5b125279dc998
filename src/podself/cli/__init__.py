"""The ``podself`` command: one module per subcommand, imported only when it runs.

Exit codes: 0 ok, 1 findings or failure of the wrapped work, 2 usage or input error.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from collections.abc import Sequence

from podself.errors import PodselfError

__all__ = ["COMMANDS", "main"]

# name -> (module, one-line help). Each module has configure(parser) and run(args) -> int.
COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("podself.cli.info", "show who and where this pod is, and where each value came from"),
    "lint": ("podself.cli.lint", "find Downward API mistakes in manifests before kubectl apply"),
    "inject": ("podself.cli.inject", "add the Downward API env and podinfo volume to workloads"),
    "tune": ("podself.cli.tune", "size workers, threads, cache, pools and heap from the limits"),
    "exec": ("podself.cli.exec", "run a command sized for this pod ({workers}, {heap_mb}, env)"),
    "watch": ("podself.cli.watch", "act on each volume update: run, signal or POST (sidecar)"),
    "run": ("podself.cli.run", "run a pod locally with the env and volumes a node gives it"),
    "label": ("podself.cli.label", "update the labels of a pod run by 'podself run'"),
    "annotate": ("podself.cli.label", "update the annotations of a pod run by 'podself run'"),
    "get": ("podself.cli.get", "list the pods 'podself run' is running (get pods)"),
    "resize": ("podself.cli.resize", "change the cpu and memory of a running pod in place"),
    "webhook": (
        "podself.cli.webhook",
        "inject at pod creation in a cluster: serve, certs, manifests",
    ),
}


def add_state_dir(
    parser: argparse.ArgumentParser, what: str = "the state directory podself run uses"
) -> None:
    """``--state-dir``, shared by ``podself run`` and the commands that act on its pods."""
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help=f"{what} (default $PODSELF_STATE_DIR, else /run/podself as root, "
        "$XDG_RUNTIME_DIR/podself or <tmp>/podself-<uid>)",
    )


def add_kubernetes_version(parser: argparse.ArgumentParser) -> None:
    """``--kubernetes-version``, shared by the commands that validate as the API server does."""
    from podself.validation import (
        DEFAULT_KUBERNETES_VERSION,
        SUPPORTED_KUBERNETES_VERSIONS,
        parse_kubernetes_version,
    )

    def version(text: str) -> str:
        from podself.errors import ManifestError

        try:
            return parse_kubernetes_version(text)
        except ManifestError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parser.add_argument(
        "--kubernetes-version",
        type=version,
        default=DEFAULT_KUBERNETES_VERSION,
        metavar="1.N",
        help="validate as this Kubernetes release's API server does "
        f"({SUPPORTED_KUBERNETES_VERSIONS[0]} to {DEFAULT_KUBERNETES_VERSION}; "
        f"default {DEFAULT_KUBERNETES_VERSION})",
    )


def _parser(selected: str | None) -> argparse.ArgumentParser:
    from podself import __version__

    parser = argparse.ArgumentParser(
        prog="podself",
        description="Self-aware Python apps on Kubernetes: pod identity, limits and live "
        "labels from the Downward API and cgroups, without calling the API server.",
        epilog="Run 'podself COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"podself {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        command = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module).configure(command)
    return parser


class OutputError(PodselfError, OSError):
    """podself's own standard output could not be written (a full disk, an I/O error)."""


class _Output(io.RawIOBase):
    """The process's stdout descriptor; a failed write raises :class:`OutputError`, so that
    it is told apart from the failures of the work itself."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data: bytes) -> int:  # type: ignore[override]
        try:
            return os.write(self._fd, data)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None


def _guard_streams() -> None:
    """Started with stdin, stdout or stderr closed (``<&-``, ``>&-``), Python leaves None in
    sys: point that descriptor at the null device (stdin reads as empty). Output written to
    the real stdout goes through :class:`_Output`."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is None:
            flags = os.O_RDONLY if mode == "r" else os.O_WRONLY
            null = os.open(os.devnull, flags)  # the lowest free descriptor: fd itself
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115
    stdout = sys.stdout
    if stdout is sys.__stdout__ and isinstance(stdout, io.TextIOWrapper):
        stdout.flush()
        raw = _Output(stdout.fileno())
        # Unbuffered (python -u, PYTHONUNBUFFERED) stays unbuffered: a sidecar's lines must
        # reach the log at once.
        unbuffered = isinstance(stdout.buffer, io.RawIOBase)
        sys.stdout = io.TextIOWrapper(
            raw if unbuffered else io.BufferedWriter(raw),
            encoding=stdout.encoding,
            errors=stdout.errors,
            line_buffering=stdout.line_buffering,
            write_through=stdout.write_through,
        )


def _discard_output() -> None:
    # What could not be written is dropped, so the flush at exit does not fail again.
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``podself`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    _guard_streams()
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    parser = _parser(selected if selected in COMMANDS else None)
    args, extras = parser.parse_known_args(args_list)
    # kubectl reads flags anywhere (``label pod X --overwrite k=v``); argparse ends a
    # positional list at the first option, so the words after it come back as extras. A
    # command that takes them names its list in ``intermixed``; options stay errors.
    target: str | None = getattr(args, "intermixed", None)
    if extras:
        if target is None or any(e.startswith("-") and e != "-" for e in extras):
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
        setattr(args, target, [*(getattr(args, target) or []), *extras])
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        code: int = module.run(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return 1
    except OutputError as exc:
        _discard_output()
        print(f"podself {args.command}: cannot write to stdout: {exc.strerror}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code

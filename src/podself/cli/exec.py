"""``podself exec -- CMD…``: run CMD sized for this pod, as the same process.

Fills ``{workers}``, ``{heap_mb}``… in each argument, adds conventional env (``WEB_CONCURRENCY``,
``OMP_NUM_THREADS``, ``GOMAXPROCS``…) the user has not set, then ``exec``s the command so it keeps
the PID and receives signals directly. Used as a container entrypoint, so it imports little.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``exec``'s options."""
    from podself.cli.tune import add_plan_options

    add_plan_options(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say on stderr which env vars were set, kept and why",
    )
    parser.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- CMD ...",
        help="the command and its arguments; {workers}, {heap_mb}… are filled in "
        "({{ and }} are literal braces; ${NAME} is left to the shell)",
    )


def run(args: argparse.Namespace) -> int:
    """Build the plan, fill the command, set env, ``execvpe``; returns only on failure."""
    from podself.errors import PodselfError

    command = list(args.argv)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print(
            "podself exec: no command given; usage: podself exec [OPTIONS] -- CMD ...",
            file=sys.stderr,
        )
        return 2
    from podself.cli.tune import load
    from podself.tuning import expand, plan

    try:
        info, policy = load(args)
        result = plan(info, policy)
        values = result.placeholders()
        argv = [expand(arg, values) for arg in command]
    except PodselfError as exc:
        print(f"podself exec: {exc}", file=sys.stderr)
        return 2

    env = dict(os.environ)
    for name, (value, field) in result.env_reasons(java=args.java).items():
        if name in env:
            if args.verbose:
                print(
                    f"podself exec: keeping {name}={env[name]} (already set; plan says {value})",
                    file=sys.stderr,
                )
            continue
        env[name] = value
        if args.verbose:
            print(f"podself exec: {name}={value}  [{result.reasons[field]}]", file=sys.stderr)
    if args.verbose:
        print(f"podself exec: running {argv!r}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(argv[0], argv, env)
    except FileNotFoundError:
        print(f"podself exec: {argv[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"podself exec: {argv[0]}: permission denied", file=sys.stderr)
        return 126
    except OSError as exc:
        print(f"podself exec: {argv[0]}: cannot run ({exc.strerror or exc})", file=sys.stderr)
        return 126
    return 0  # only reached when execvpe is replaced (tests)

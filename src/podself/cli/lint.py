"""``podself lint``: find Downward API mistakes in Kubernetes manifests before ``kubectl apply``.

Exit codes: 0 clean, 1 findings at or above ``--fail-on``, 2 usage or unreadable input.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from podself.cli import add_kubernetes_version

if TYPE_CHECKING:
    from podself.manifest.load import Limits

__all__ = ["add_input_limits", "configure", "input_limits", "run"]

# The loader's defaults, spelled out so that --help needs no import of it.
_MAX_BYTES_DEFAULT = 64 * 1024 * 1024
_MAX_DOCUMENTS_DEFAULT = 100_000


def add_input_limits(parser: argparse.ArgumentParser) -> None:
    """The bounds on untrusted input that ``lint`` and ``inject`` share."""
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=_MAX_BYTES_DEFAULT,
        metavar="N",
        help=f"refuse inputs larger than N bytes (default {_MAX_BYTES_DEFAULT}: 64 MiB)",
    )
    parser.add_argument(
        "--max-documents",
        type=int,
        default=_MAX_DOCUMENTS_DEFAULT,
        metavar="N",
        help="refuse inputs with more than N YAML or JSON documents, empty ones included "
        f"(default {_MAX_DOCUMENTS_DEFAULT})",
    )


def input_limits(args: argparse.Namespace) -> Limits | str:
    """The :class:`Limits` from :func:`add_input_limits`' options, or why they are wrong."""
    from podself.manifest.load import Limits

    if args.max_bytes <= 0:
        return f"--max-bytes {args.max_bytes}: must be a positive number of bytes"
    if args.max_documents <= 0:
        return f"--max-documents {args.max_documents}: must be a positive number of documents"
    return Limits(max_bytes=args.max_bytes, max_documents=args.max_documents)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``lint``'s arguments and options."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files, folders (searched for *.yaml, *.yml, *.json) or - for stdin",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "sarif", "github", "markdown"),
        default="text",
        help="report format (default text; markdown only with --list-rules)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning", "info", "never"),
        default="error",
        help="exit 1 when a finding is at or above this severity (default error)",
    )
    parser.add_argument(
        "--disable",
        action="append",
        default=[],
        metavar="RULE[,RULE]",
        help="turn rules off (repeatable); objects can also use the annotation "
        "podself.dev/lint-disable",
    )
    parser.add_argument(
        "--list-rules",
        action="store_true",
        help="print the rule reference (--format text, json or markdown) and exit",
    )
    add_input_limits(parser)
    add_kubernetes_version(parser)


def _usage(message: str) -> int:
    print(f"podself lint: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """Lint the given inputs and print the report; returns the exit code."""
    from podself.manifest.lint import RULES, lint_paths
    from podself.manifest.report import (
        exit_code,
        github_finding,
        printable,
        render,
        render_rules,
        text_finding,
    )
    from podself.validation import kubernetes_target

    if args.list_rules:
        if args.format not in ("text", "json", "markdown"):
            return _usage(f"--list-rules prints text, json or markdown, not {args.format}")
        sys.stdout.write(render_rules(args.format))
        return 0
    if args.format == "markdown":
        return _usage("--format markdown is only for --list-rules")
    if not args.paths:
        return _usage("no input: give manifest files, folders, or - for stdin")
    disabled = {part.strip() for value in args.disable for part in value.split(",") if part.strip()}
    unknown = sorted(disabled - set(RULES))
    if unknown:
        return _usage(
            f"unknown rule {', '.join(unknown)} in --disable (see podself lint --list-rules)"
        )
    limits = input_limits(args)
    if isinstance(limits, str):
        return _usage(limits)
    # Text and GitHub reports are printed as findings are found (the summary comes last), so
    # a long stream is linted in constant memory; JSON and SARIF are one object each.
    line_format = {"text": text_finding, "github": github_finding}.get(args.format)
    emit = None if line_format is None else (lambda f: sys.stdout.write(line_format(f)))
    with kubernetes_target(args.kubernetes_version):
        result = lint_paths(args.paths, disabled=disabled, limits=limits, emit=emit)
    for message in result.input_errors:
        print(f"podself lint: {printable(message)}", file=sys.stderr)
    sys.stdout.write(render(result, args.format, fail_on=args.fail_on))
    return exit_code(result, args.fail_on)

"""``podself inject``: add the Downward API env vars and ``podinfo`` volume to workloads.

Exit codes: 0 done (notes about what was left as is go to stderr), 2 usage error or input
that cannot be read or parsed; then nothing is written.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from podself.cli.lint import add_input_limits, input_limits

if TYPE_CHECKING:
    from podself.manifest.inject import InjectOptions, InjectResult
    from podself.manifest.load import Limits

__all__ = ["add_inject_options", "configure", "inject_options", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``inject``'s arguments and options."""
    parser.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="manifest files, folders (searched for *.yaml, *.yml, *.json) or - for stdin",
    )
    out = parser.add_argument_group("output")
    out.add_argument(
        "-i",
        "--in-place",
        action="store_true",
        help="rewrite the files (atomically, keeping their mode) instead of printing them",
    )
    out.add_argument("--diff", action="store_true", help="print a unified diff and change nothing")
    out.add_argument(
        "--emit",
        choices=("kustomize", "helm"),
        help="print a Kustomize component or a Helm _podself.tpl instead of editing manifests "
        "(kustomize: from the given manifests, or generic with --containers)",
    )
    add_inject_options(parser)
    add_input_limits(parser)


def add_inject_options(parser: argparse.ArgumentParser) -> None:
    """The "what to add" options, shared with ``podself webhook serve``."""
    what = parser.add_argument_group("what to add")
    what.add_argument(
        "--env",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="identity and resource env vars (default: on)",
    )
    what.add_argument(
        "--volume",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the podinfo downwardAPI volume: labels, annotations, each container's resource "
        "files under containers/<name>/ (default: on)",
    )
    what.add_argument(
        "--fields",
        action="append",
        metavar="LIST",
        help="comma-separated fields or groups (default, identity, metadata, resources, all; "
        "name, namespace, uid, pod_ip, pod_ips, host_ip, host_ips, node_name, "
        "service_account, container, labels, annotations, cpu_limit, cpu_request, "
        "memory_limit, memory_request, ephemeral_storage_limit, ephemeral_storage_request)",
    )
    what.add_argument(
        "--prefix",
        default="K8S_",
        help="prefix of the identity env vars (default K8S_; resource vars keep RESOURCE_)",
    )
    what.add_argument(
        "--mount-path",
        default="/etc/podinfo",
        metavar="DIR",
        help="where the volume is mounted (default /etc/podinfo; another path also sets "
        "PODSELF_PODINFO_DIR so podself finds it)",
    )
    what.add_argument(
        "--containers",
        action="append",
        metavar="NAMES",
        help="only these containers or init containers (comma-separated, repeatable; default: all)",
    )
    what.add_argument(
        "--otel",
        action="store_true",
        help="also the OpenTelemetry Operator's OTEL_RESOURCE_ATTRIBUTES_* vars and "
        "OTEL_RESOURCE_ATTRIBUTES composed from them",
    )
    what.add_argument(
        "--datadog",
        action="store_true",
        help="also DD_ENV, DD_SERVICE and DD_VERSION from the pod's tags.datadoghq.com/* "
        "labels, DD_AGENT_HOST (the node's IP) and DD_ENTITY_ID (the pod UID)",
    )
    what.add_argument(
        "--all-resources",
        action="store_true",
        help="add resource fields even for limits/requests a container does not set",
    )


def _say(message: str) -> None:
    from podself.manifest.report import printable  # names and values come from manifests

    print(f"podself inject: {printable(message)}", file=sys.stderr)


def _usage(message: str) -> int:
    _say(message)
    return 2


def inject_options(args: argparse.Namespace) -> InjectOptions:
    """:class:`InjectOptions` from :func:`add_inject_options`'s options; raises ValueError."""
    from podself.manifest.inject import DEFAULT_FIELDS, InjectOptions, parse_fields

    containers = None
    if args.containers:
        containers = frozenset(
            name.strip() for value in args.containers for name in value.split(",") if name.strip()
        )
    return InjectOptions(
        env=args.env,
        volume=args.volume,
        fields=parse_fields(args.fields) if args.fields else DEFAULT_FIELDS,
        prefix=args.prefix,
        mount_path=args.mount_path,
        containers=containers,
        otel=args.otel,
        all_resources=args.all_resources,
        datadog=args.datadog,
    )


def _load(paths: list[str], options: InjectOptions, limits: Limits) -> list[InjectResult] | int:
    """Every input's result, or 2 after printing why some could not be read."""
    from podself.errors import ManifestError
    from podself.manifest.inject import inject_file
    from podself.manifest.load import discover

    try:
        files = list(discover(paths))
    except OSError as exc:
        return _usage(f"cannot read {exc.filename}: {exc.strerror or exc}")
    if not files:
        return _usage("no manifest files found in " + ", ".join(paths))
    results: list[InjectResult] = []
    errors: list[str] = []
    for path in files:
        try:
            results.append(inject_file(path, options=options, limits=limits))
        except ManifestError as exc:
            errors.append(str(exc))
    if errors:
        for message in errors:
            _say(message)
        print("podself inject: nothing written", file=sys.stderr)
        return 2
    return results


def _report(results: list[InjectResult], options: InjectOptions) -> None:
    from podself.manifest.report import printable

    for result in results:
        for note in result.notes:
            print(printable(str(note)), file=sys.stderr)
    if options.env:
        for name in options.unrecognised_names():
            _say(
                f"{name} is not a name podself.read() recognises; read it with env_map, or "
                "keep the default --prefix K8S_"
            )
    if options.containers:
        seen = {name for r in results for plan in r.plans for name in plan.considered}
        for name in sorted(options.containers - seen):
            _say(f'--containers: no container named "{name}"')


def _emit(args: argparse.Namespace, options: InjectOptions, limits: Limits) -> int:
    from podself.manifest.inject import emit_helm, emit_kustomize

    if args.in_place or args.diff:
        return _usage("--emit prints a snippet; it cannot be combined with --in-place or --diff")
    if args.emit == "helm":
        if args.paths:
            return _usage("--emit helm takes no PATH: the chart's templates use the snippet")
        sys.stdout.write(emit_helm(options))
        return 0
    if not args.paths:
        try:
            sys.stdout.write(emit_kustomize(options))
        except ValueError as exc:
            return _usage(str(exc))
        return 0
    loaded = _load(args.paths, options, limits)
    if isinstance(loaded, int):
        return loaded
    _report(loaded, options)
    sys.stdout.write(emit_kustomize(options, [plan for r in loaded for plan in r.plans]))
    return 0


def _write_all(results: list[InjectResult]) -> int:
    from podself.errors import ManifestError
    from podself.manifest.inject import check_writable, write_in_place

    changed = [r for r in results if r.changed]
    problems = []
    for result in changed:  # refuse before writing anything
        try:
            check_writable(result.source)
        except ManifestError as exc:
            problems.append(str(exc))
    if problems:
        for message in problems:
            _say(message)
        print("podself inject: nothing written", file=sys.stderr)
        return 2
    for result in changed:
        try:
            write_in_place(result.source, result.output)
        except ManifestError as exc:
            _say(str(exc))
            return 2
        _say(f"updated {result.source}")
    return 0


def _print_all(results: list[InjectResult]) -> None:
    sys.stdout.flush()
    out = sys.stdout.buffer
    for number, result in enumerate(results):
        data = result.output
        # Keep the files' documents apart when their streams are concatenated.
        if number and not data.lstrip(b"\xef\xbb\xbf").startswith(b"---"):
            out.write(b"---\n")
        out.write(data)
        if number < len(results) - 1 and data and not data.endswith(b"\n"):
            out.write(b"\n")
    out.flush()


def run(args: argparse.Namespace) -> int:
    """Edit, preview or print; returns the exit code."""
    limits = input_limits(args)
    if isinstance(limits, str):
        return _usage(limits)
    try:
        options = inject_options(args)
    except ValueError as exc:
        return _usage(str(exc))
    if args.emit:
        return _emit(args, options, limits)
    if not args.paths:
        return _usage("no input: give manifest files, folders, or - for stdin")
    if args.in_place and args.diff:
        return _usage("--diff previews the change; drop it to write with --in-place")
    if args.in_place and "-" in args.paths:
        return _usage("--in-place cannot rewrite stdin; drop - or --in-place")
    loaded = _load(args.paths, options, limits)
    if isinstance(loaded, int):
        return loaded
    _report(loaded, options)
    if args.diff:
        for result in loaded:
            sys.stdout.write(result.diff())
        return 0
    if args.in_place:
        return _write_all(loaded)
    _print_all(loaded)
    return 0

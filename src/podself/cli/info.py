"""``podself info``: what this process knows about its pod, and where each value came from."""

from __future__ import annotations

import argparse
import json
import sys

from podself.pod import PodInfo, Source, read

__all__ = ["configure", "render", "run"]

_IDENTITY_ROWS = (
    ("Pod Name", "name"),
    ("Namespace", "namespace"),
    ("Pod UID", "uid"),
    ("Pod IP", "pod_ip"),
    ("Pod IPs", "pod_ips"),
    ("Host IP", "host_ip"),
    ("Host IPs", "host_ips"),
    ("Node Name", "node_name"),
    ("Service Account", "service_account"),
    ("Container", "container"),
)
_RESOURCE_ROWS = (
    ("Memory Limit", "memory_limit"),
    ("CPU Limit", "cpu_limit"),
    ("Memory Request", "memory_request"),
    ("CPU Request", "cpu_request"),
    ("Ephemeral Storage Limit", "ephemeral_storage_limit"),
    ("Ephemeral Storage Request", "ephemeral_storage_request"),
)


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``info``'s options."""
    parser.add_argument("--json", action="store_true", help="print JSON (PodInfo attribute names)")
    parser.add_argument(
        "--otel",
        action="store_true",
        help="print the OTEL_RESOURCE_ATTRIBUTES value (OpenTelemetry semantic conventions), "
        "keeping entries already in $OTEL_RESOURCE_ATTRIBUTES",
    )
    parser.add_argument(
        "--podinfo-dir",
        action="append",
        metavar="DIR",
        help="Downward API volume directory to read (repeatable; default /etc/podinfo)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail (exit 1) on the first malformed value instead of warning",
    )


def run(args: argparse.Namespace) -> int:
    """Print the pod's view of itself."""
    from podself.errors import PodselfError

    try:
        info = read(podinfo_dirs=args.podinfo_dir, strict=args.strict)
    except PodselfError as exc:
        print(f"podself info: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "otel", False):
        from podself.logs.otel import otel_resource_attributes

        print(otel_resource_attributes(info, keep_existing=True))
        return 0
    if args.json:
        text = json.dumps(info.to_dict(), indent=2, ensure_ascii=False)
        try:
            text.encode(sys.stdout.encoding or "utf-8")
        except UnicodeEncodeError:  # a non-UTF-8 locale, or a lone surrogate from a \x escape
            text = json.dumps(info.to_dict(), indent=2)
        print(text)
    else:
        reconfigure = getattr(sys.stdout, "reconfigure", None)
        if reconfigure is not None:  # Hangul labels on an ASCII terminal must not crash
            reconfigure(errors="backslashreplace")
        print(render(info))
    return 0


def render(info: PodInfo) -> str:
    """The human-readable report: the seed's three blocks plus the other containers' limits
    found in the podinfo volume, workload, sources and warnings."""
    lines = ["=== Self Awareness: what this pod knows about itself ===", "", "Pod Information:"]
    rows: list[tuple[str, str, Source]] = []
    for label, attr in _IDENTITY_ROWS:
        value = getattr(info, attr)
        text = ",".join(value) if isinstance(value, tuple) else value
        rows.append((label, _show(text) if text else "(unknown)", info.source_of(attr)))
    lines += _table(rows)
    lines += ["", "Resource Information:"]
    rows = []
    for label, attr in _RESOURCE_ROWS:
        amount = getattr(info.resources, attr)
        rows.append((label, _amount(attr, amount), info.source_of(f"resources.{attr}")))
    # Shown only when known: no Downward API field carries them.
    for label, attr in (("Memory High (soft)", "memory_high"), ("GPUs", "gpus")):
        amount = getattr(info.resources, attr)
        if amount is not None:
            shown = str(amount) if attr == "gpus" else _amount(attr, amount)
            rows.append((label, shown, info.source_of(f"resources.{attr}")))
    lines += _table(rows)
    for container, resources in info.containers.items():
        own = " (this container)" if container == info.container else ""
        lines += ["", f"Container {container!r} (from the podinfo volume){own}:"]
        rows = [
            (label, _amount(attr, amount), info.source_of(f"containers.{container}.{attr}"))
            for label, attr in _RESOURCE_ROWS
            if (amount := getattr(resources, attr)) is not None
        ]
        lines += _table(rows)
    workload = info.workload
    lines += ["", "Workload:"]
    parts = [
        ("Kind", workload.kind),
        ("Name", workload.name),
        ("Ordinal", workload.ordinal),
        ("Index", workload.index),
        ("Service", workload.service),
        ("DNS Name", info.dns_name()),
    ]
    source = info.source_of("workload")
    lines += _table(
        [(k, "(unknown)" if v is None else str(v), source) for k, v in parts if v is not None]
        or [("Kind", "(unknown)", source)]
    )
    for title, mapping, attr in (
        ("Labels", info.labels, "labels"),
        ("Annotations", info.annotations, "annotations"),
    ):
        origin = info.source_of(attr)
        suffix = f"  [{origin}]" if origin.kind != Source.UNKNOWN else "  (unknown)"
        lines += ["", f"{title}:{suffix}"]
        lines += [f"  {_show(k)}: {_show(v)}" for k, v in sorted(mapping.items())]
    if info.app:
        lines += ["", "Application (APP_* env):"]
        lines += [f"  {_show(k)}: {_show(v)}" for k, v in sorted(info.app.items())]
    lines += ["", f"In Kubernetes: {'yes' if info.in_kubernetes else 'no'}"]
    if info.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  - {w}" for w in info.warnings]
    return "\n".join(lines)


def _show(text: str) -> str:
    """``text`` as is when printable, else Go-quoted as in the labels file.

    Annotation values may hold newlines or terminal escape sequences; printed raw they would
    break the report's layout or drive the terminal.
    """
    if text.isprintable():
        return text
    from podself.downward import go_quote

    return go_quote(text)


def _table(rows: list[tuple[str, str, Source]]) -> list[str]:
    width = max(len(f"{label}: {value}") for label, value, _ in rows)
    out = []
    for label, value, source in rows:
        cell = f"{label}: {value}"
        note = "" if source.kind == Source.UNKNOWN else f"[{source}]"
        out.append(f"  {cell.ljust(width)}  {note}".rstrip())
    return out


def _amount(attr: str, amount: int | None) -> str:
    if amount is None:
        return "(unknown)"
    if attr.startswith("cpu"):
        return f"{amount} milliCPU"
    mib, rest = divmod(amount, 1 << 20)
    return f"{mib} MB" if rest == 0 else f"{amount} bytes ({amount / (1 << 20):.1f} MB)"

"""``podself tune``: the sizing plan for this pod, with the reason for every number."""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from podself.pod import PodInfo
    from podself.tuning import Plan, Policy

__all__ = ["add_plan_options", "configure", "load", "render", "run"]


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``tune`` and ``exec``: policy, overrides and where to read from."""
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KNOB=VALUE",
        help="set a policy knob, e.g. --set worker_memory_mb=150 (repeatable; wins over "
        "PODSELF_* env and --policy)",
    )
    parser.add_argument(
        "--policy",
        metavar="FILE",
        help="policy file (TOML, or JSON by extension); default $PODSELF_POLICY_FILE",
    )
    parser.add_argument(
        "--env-map",
        action="append",
        default=[],
        metavar="NAME=TARGET",
        help="read env var NAME as TARGET, e.g. CPU_LIMIT=resources.cpu_limit@1m "
        "(the seed's exercise 5 name); repeatable",
    )
    parser.add_argument(
        "--podinfo-dir",
        action="append",
        metavar="DIR",
        help="Downward API volume directory (repeatable; default /etc/podinfo)",
    )
    parser.add_argument("--java", action="store_true", help="include JAVA_TOOL_OPTIONS")


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``tune``'s options."""
    form = parser.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print the plan as JSON")
    form.add_argument(
        "--env", action="store_true", help="print KEY=VALUE lines (seed names + conventional env)"
    )
    form.add_argument(
        "--shell",
        action="store_true",
        help="print export KEY='VALUE' lines for eval \"$(podself tune --shell)\"",
    )
    parser.add_argument(
        "--prefix", default="", metavar="P", help="prefix for the seed-style names (--env/--shell)"
    )
    parser.add_argument("--cpu", metavar="QUANTITY", help="size for this CPU limit (e.g. 2, 500m)")
    parser.add_argument(
        "--memory", metavar="QUANTITY", help="size for this memory limit (e.g. 512Mi, 2Gi)"
    )
    add_plan_options(parser)


def load(
    args: argparse.Namespace,
    overrides: dict[str, object] | None = None,
    origins: dict[str, str] | None = None,
) -> tuple[PodInfo, Policy]:
    """The pod and the policy the options describe; raises ``PodselfError`` for bad input."""
    from podself.errors import SourceError
    from podself.pod import read
    from podself.tuning import Policy

    env_map: dict[str, str] = {}
    for item in args.env_map:
        name, sep, target = item.partition("=")
        if not sep or not name or not target:
            msg = f'--env-map "{item}": expected NAME=TARGET, e.g. CPU_LIMIT=resources.cpu_limit@1m'
            raise SourceError(msg)
        env_map[name] = target
    policy = Policy.from_env(file=args.policy)
    settings: dict[str, object] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            msg = f'--set "{item}": expected KNOB=VALUE, e.g. --set min_workers=2'
            raise SourceError(msg)
        settings[key.strip()] = value
    if settings:
        policy = policy.override(settings, origin="--set")
    try:
        info = read(
            podinfo_dirs=args.podinfo_dir,
            env_map=env_map or None,
            overrides=overrides,
            override_origins=origins,
        )
    except ValueError as exc:  # a bad --env-map target
        msg = f"--env-map: {exc}"
        raise SourceError(msg) from None
    return info, policy


def _check_prefix(prefix: str) -> None:
    """The prefix makes variable names that ``eval`` runs: only a shell name may pass."""
    import re

    if prefix and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", prefix):
        from podself.errors import SourceError

        msg = (
            f"--prefix {prefix!r}: must start a shell variable name (letters, digits and _, "
            "not starting with a digit)"
        )
        raise SourceError(msg)


def _limits(args: argparse.Namespace) -> dict[str, object] | None:
    """``read(overrides=...)`` for --cpu/--memory."""
    if not (args.cpu or args.memory):
        return None
    from podself.errors import SourceError
    from podself.quantity import Quantity

    out: dict[str, object] = {}
    for option, text, key in (
        ("--cpu", args.cpu, "cpu_limit"),
        ("--memory", args.memory, "memory_limit"),
    ):
        if not text:
            continue
        try:
            quantity = Quantity.parse(text)
        except ValueError as exc:
            msg = f"{option}: {exc}"
            raise SourceError(msg) from None
        amount = quantity.milli_value() if key == "cpu_limit" else quantity.value()
        if quantity.sign() <= 0:
            msg = f'{option} "{text}": must be a positive quantity'
            raise SourceError(msg)
        out[key] = int(amount)
    return out


def run(args: argparse.Namespace) -> int:
    """Print the plan."""
    from podself.errors import PodselfError
    from podself.tuning import Host, plan

    try:
        _check_prefix(args.prefix)
        limits = _limits(args)
        # Each value explained by the option that gave it: "cpu limit 2000m (argument --cpu 2)".
        origins = {"cpu_limit": f"--cpu {args.cpu}", "memory_limit": f"--memory {args.memory}"}
        info, policy = load(args, limits, origins)
    except PodselfError as exc:
        print(f"podself tune: {exc}", file=sys.stderr)
        return 2
    # --cpu/--memory describe some pod, not this machine: no affinity cap or host checks.
    # Warnings go to stderr only where stdout has no place for them (--env, --shell).
    result = plan(
        info, policy, host=Host() if limits else None, log_warnings=args.env or args.shell
    )
    if args.json:
        import json

        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    elif args.env or args.shell:
        import os
        import shlex

        conventional = result.env(java=args.java)
        for key, value in result.exports(java=args.java, prefix=args.prefix).items():
            if key in conventional and key in os.environ:
                # As `podself exec` does: a runtime variable the user set is theirs to keep.
                continue
            if args.shell:
                print(f"export {key}={shlex.quote(value)}")
            else:
                print(f"{key}={value}")
    else:
        print(render(result, java=args.java))
    return 0


def render(result: Plan, *, java: bool = False) -> str:
    """The human-readable plan: inputs, each number with its reason, env, warnings."""
    reasons = result.reasons
    lines = ["=== Resource-aware tuning ===", "", "Inputs:"]
    for name in ("cpu_millicores", "memory_mb"):
        lines.append(f"  {reasons[name]}")
    lines += ["", "Plan:"]
    names = (
        "workers",
        "threads",
        "cache_mb",
        "connections",
        "heap_mb",
        "gc_threads",
        "nginx_workers",
        "cpus",
        "cpu_count",
        "gomemlimit_mb",
        "gpus",
    )
    width = max(len(n) for n in names)
    for name in names:
        value = getattr(result, name)
        reason = reasons[name].partition(": ")[2]
        shown = "-" if value is None else str(value)
        lines.append(f"  {name.ljust(width)}  {shown.rjust(6)}  {reason}")
    lines += ["", "Child env (podself exec):"]
    lines += [f"  {k}={v}" for k, v in result.env(java=java).items()]
    if result.warnings:
        lines += ["", "Warnings:"]
        lines += [f"  - {w}" for w in result.warnings]
    return "\n".join(lines)

"""``podself run -f FILE``: run a pod's containers locally with the env and volumes a node gives.

Exit status: 0 when every container succeeded or was stopped by podself (``--timeout``,
SIGINT/SIGTERM); the first failed container's exit code (``128 + N`` for signal ``N``);
1 when the pod could not start; 2 for an invalid manifest or usage.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys

from podself.cli import add_kubernetes_version, add_state_dir

__all__ = ["configure", "run"]


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f'"{text}": not a number of seconds'
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value) or value < 0:
        msg = f'"{text}": must be a number of seconds >= 0'
        raise argparse.ArgumentTypeError(msg)
    return value


def _entrypoint(text: str) -> tuple[str, str]:
    name, sep, command = text.partition("=")
    if not sep or not name or not command.strip():
        msg = f'"{text}": expected NAME=COMMAND'
        raise argparse.ArgumentTypeError(msg)
    try:
        shlex.split(command)  # split again when the container starts; fail here, not there
    except ValueError as exc:
        msg = f'"{text}": COMMAND is split like a shell word list: {exc}'
        raise argparse.ArgumentTypeError(msg) from None
    return name, command


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``run``'s options."""
    parser.description = (
        "Run a Pod (or the pod template of a Deployment, StatefulSet, DaemonSet, ReplicaSet, "
        "Job or CronJob) as local processes, with the env vars and downwardAPI/projected/"
        "emptyDir volumes a node would give them. Images are not pulled: command and args run "
        "on this machine."
    )
    parser.add_argument(
        "-f",
        "--filename",
        dest="files",
        action="append",
        required=True,
        metavar="FILE",
        help="manifest file (- for stdin); repeat for files holding ConfigMaps and Secrets",
    )
    parser.add_argument("--name", help="pick the workload with this name")
    parser.add_argument("--kind", help="pick the workload of this kind (Pod, Deployment...)")
    parser.add_argument(
        "-n", "--namespace", help="namespace (default: the manifest's, else default)"
    )
    parser.add_argument(
        "--timeout", type=_seconds, metavar="S", help="stop the pod after S seconds (exit 0)"
    )
    parser.add_argument(
        "--grace",
        type=_seconds,
        metavar="S",
        help="seconds between SIGTERM and SIGKILL (default: terminationGracePeriodSeconds, 30)",
    )
    parser.add_argument(
        "--pod-ip",
        action="append",
        default=[],
        metavar="IP",
        help="pod IP (repeat for dual-stack; default 127.0.0.1)",
    )
    parser.add_argument(
        "--host-ip",
        action="append",
        default=[],
        metavar="IP",
        help="node IP (repeat for dual-stack; default 127.0.0.1)",
    )
    parser.add_argument("--node-name", metavar="N", help="node name (default: this hostname)")
    parser.add_argument(
        "--node-cpu", metavar="Q", help="node allocatable CPU (default: this machine's CPUs)"
    )
    parser.add_argument(
        "--node-memory",
        metavar="Q",
        help="node allocatable memory (default: this machine's memory)",
    )
    parser.add_argument(
        "--entrypoint",
        action="append",
        type=_entrypoint,
        default=[],
        metavar="NAME=CMD",
        help="the image entrypoint of container NAME (containers without command are skipped)",
    )
    parser.add_argument(
        "--sync-delay",
        type=_seconds,
        default=1.0,
        metavar="S",
        help="seconds before a label/annotation change or a resize reaches the volumes "
        "(default 1; the real kubelet takes up to 60-90; a resize reaches the cgroups at once)",
    )
    add_state_dir(parser, "where running pods keep their state")
    parser.add_argument(
        "--no-namespace",
        action="store_true",
        help="do not use a mount namespace: volumes go under $PODSELF_ROOT",
    )
    parser.add_argument(
        "--host-env",
        action="store_true",
        help="start containers with this shell's environment (default: PATH and HOME only)",
    )
    parser.add_argument(
        "--prefix",
        choices=("auto", "always", "never"),
        default="auto",
        help="prefix output lines with [container] (auto: when the pod has several containers)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="report what the kubelet does")
    add_kubernetes_version(parser)


def run(args: argparse.Namespace) -> int:
    """Run the pod and return its exit status."""
    from podself.emulator.kubelet import Kubelet, RunOptions
    from podself.validation import kubernetes_target

    entrypoints = dict(args.entrypoint)
    options = RunOptions(
        files=args.files,
        name=args.name,
        kind=args.kind,
        namespace=args.namespace,
        timeout=args.timeout,
        grace=args.grace,
        pod_ips=args.pod_ip,
        host_ips=args.host_ip,
        node_name=args.node_name,
        node_cpu=args.node_cpu,
        node_memory=args.node_memory,
        entrypoints=entrypoints,
        sync_delay=args.sync_delay,
        state_dir=args.state_dir,
        no_namespace=args.no_namespace,
        host_env=args.host_env,
        prefix=args.prefix,
        verbose=args.verbose,
    )
    if sys.stdout is not None:  # None when started with stdout closed
        sys.stdout.flush()
    with kubernetes_target(args.kubernetes_version):
        return Kubelet(options).run()

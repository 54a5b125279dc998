"""``podself webhook``: a mutating admission webhook that injects what ``podself inject`` adds.

- ``serve``: the HTTPS server (run in the cluster by the Deployment ``manifests`` renders);
- ``certs``: a CA and a serving certificate for the webhook's Service (needs the ``webhook``
  extra: ``pip install 'podself[webhook]'``);
- ``manifests``: the objects to ``kubectl apply``.

Exit codes: 0 done (``serve``: drained after SIGTERM or SIGINT), 1 the server could not start
or certificates could not be written, 2 usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

__all__ = ["configure", "run"]

_DESCRIPTION = """\
A mutating admission webhook: pods of namespaces labelled podself.dev/inject=true, and pods
annotated podself.dev/inject: "true" elsewhere, get at creation what 'podself inject' would
add to their manifest; a pod annotated podself.dev/inject: "false" is left alone."""

_EPILOG = """\
Install (docs/webhook.md):
  1. podself webhook certs --out certs/
  2. podself webhook manifests --image IMAGE --certs certs/ > webhook.yaml
  3. kubectl apply -f webhook.yaml
then opt a namespace in: kubectl label namespace NAME podself.dev/inject=true
"""


def _positive(kind: type[int] | type[float], low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            msg = f"{text!r}: not a number"
            raise argparse.ArgumentTypeError(msg) from None
        if not low <= value <= high:
            msg = f"{text}: must be from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return parse


def _dns_label(text: str) -> str:
    """A namespace or Service name: what the API server accepts (IsDNS1123Label)."""
    from podself.validation import dns1123_label_errors

    errors = dns1123_label_errors(text)
    if errors:
        msg = f"{text!r}: {'; '.join(errors)}"
        raise argparse.ArgumentTypeError(msg)
    return text


def _image(text: str) -> str:
    if not text.strip() or text != text.strip():
        msg = f"{text!r}: an image reference, without spaces around it"
        raise argparse.ArgumentTypeError(msg)
    return text


def _configure_serve(parser: argparse.ArgumentParser) -> None:
    from podself.cli.inject import add_inject_options

    parser.add_argument(
        "--cert-dir",
        required=True,
        metavar="DIR",
        help="the serving certificate and key (tls.crt, tls.key: a mounted kubernetes.io/tls "
        "Secret, or the folder 'podself webhook certs' wrote); read again when the kubelet "
        "swaps the Secret's ..data, with no restart",
    )
    parser.add_argument(
        "--host",
        help="address to listen on (default: every IPv4 address; :: for IPv6, and IPv4 too "
        "where the node allows it)",
    )
    parser.add_argument(
        "--port", type=_positive(int, 1, 65535), default=8443, help="HTTPS port (default 8443)"
    )
    bounds = parser.add_argument_group("bounds (a client past one is cut off, never waited for)")
    bounds.add_argument(
        "--max-body-bytes",
        type=_positive(int, 1024, 64 << 20),
        default=4 << 20,
        metavar="N",
        help="largest AdmissionReview read; larger ones get HTTP 413 unread (default 4 MiB; "
        "the API server stores objects of up to 1.5 MiB)",
    )
    bounds.add_argument(
        "--max-connections",
        type=_positive(int, 1, 4096),
        default=64,
        metavar="N",
        help="connections served at once (default 64); at the limit, the connection idle the "
        "longest is closed to make room, and with none idle the new one is closed, so the API "
        "server's failurePolicy: Ignore creates that pod without the injection",
    )
    bounds.add_argument(
        "--handshake-timeout",
        type=_positive(float, 0.1, 60),
        default=5.0,
        metavar="S",
        help="seconds for a TLS handshake (default 5)",
    )
    bounds.add_argument(
        "--request-timeout",
        type=_positive(float, 0.1, 60),
        default=10.0,
        metavar="S",
        help="seconds for a request, from its first line to the answer (default 10, the API "
        "server's own webhook timeout)",
    )
    bounds.add_argument(
        "--idle-timeout",
        type=_positive(float, 0.1, 3600),
        default=30.0,
        metavar="S",
        help="seconds a kept-alive connection may wait for its next request (default 30)",
    )
    stop = parser.add_argument_group("stopping (SIGTERM or SIGINT)")
    stop.add_argument(
        "--shutdown-delay",
        type=_positive(float, 0, 300),
        default=5.0,
        metavar="S",
        help="seconds to keep serving after SIGTERM with /readyz failing, while the Service "
        "drops this pod (default 5)",
    )
    stop.add_argument(
        "--drain-timeout",
        type=_positive(float, 0, 300),
        default=15.0,
        metavar="S",
        help="then, seconds to wait for the requests in flight (default 15)",
    )
    add_inject_options(parser)


def _configure_certs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="folder for ca.crt, ca.key, tls.crt and tls.key (keys mode 0600), written with one "
        "..data swap; a CA already there (ca.crt and ca.key) signs the new serving "
        "certificate, so the webhook's caBundle stays valid",
    )
    parser.add_argument(
        "--namespace",
        type=_dns_label,
        default="podself-system",
        help="namespace of the webhook's Service (default podself-system)",
    )
    parser.add_argument(
        "--service",
        type=_dns_label,
        default="podself-webhook",
        help="the Service's name (default podself-webhook, the name manifests gives it)",
    )
    parser.add_argument(
        "--dns-name",
        action="append",
        default=[],
        metavar="NAME",
        help="another name for the certificate (repeatable); the Service's names "
        "SERVICE, SERVICE.NS, SERVICE.NS.svc and SERVICE.NS.svc.cluster.local are always in",
    )
    parser.add_argument(
        "--days",
        type=_positive(int, 1, 3650),
        default=365,
        help="validity of the serving certificate (default 365)",
    )
    parser.add_argument(
        "--ca-days",
        type=_positive(int, 1, 36500),
        default=3650,
        help="validity of a new CA (default 3650)",
    )
    parser.add_argument(
        "--new-ca",
        action="store_true",
        help="make a new CA even if DIR has one (the webhook configuration's caBundle must "
        "then be applied again: podself webhook manifests)",
    )


def _configure_manifests(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--image",
        required=True,
        type=_image,
        help="an image with podself installed ('podself' on its PATH)",
    )
    parser.add_argument(
        "--namespace",
        type=_dns_label,
        default="podself-system",
        help="namespace the webhook runs in; never injected (default podself-system)",
    )
    certs = parser.add_mutually_exclusive_group(required=True)
    certs.add_argument(
        "--certs",
        metavar="DIR",
        help="the folder 'podself webhook certs --out' wrote: adds the Secret and the caBundle",
    )
    certs.add_argument(
        "--cert-manager",
        action="store_true",
        help="let cert-manager make the Secret (a self-signed Issuer and a Certificate) and "
        "fill the caBundle (cert-manager.io/inject-ca-from)",
    )
    parser.add_argument(
        "--replicas", type=_positive(int, 1, 100), default=2, help="webhook pods (default 2)"
    )
    parser.add_argument(
        "--timeout-seconds",
        type=_positive(int, 1, 30),
        default=5,
        help="how long the API server waits for an answer before creating the pod without "
        "the injection (1 to 30; default 5)",
    )
    parser.add_argument(
        "--reinvocation-policy",
        choices=("IfNeeded", "Never"),
        default="IfNeeded",
        help="IfNeeded: called again when a later webhook changed the pod (a sidecar added), "
        "so a new container gets the injection too (default IfNeeded)",
    )
    parser.add_argument(
        "--annotated-pods",
        action=argparse.BooleanOptionalAction,
        default=True,
        help='the webhook for pods annotated podself.dev/inject: "true" in namespaces not '
        "labelled; it is called for every new pod of those namespaces (default: on)",
    )
    parser.add_argument(
        "--serve-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an argument for 'podself webhook serve' in the Deployment, e.g. --serve-arg=--otel "
        "(repeatable)",
    )


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``webhook``'s sub-commands."""
    parser.description = _DESCRIPTION
    parser.epilog = _EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(
        dest="webhook_command",
        metavar="ACTION",
        required=True,
        help="serve, certs or manifests (each has its own --help)",
    )
    for name, help_text, setup in (
        ("serve", "serve AdmissionReviews over HTTPS on /mutate", _configure_serve),
        ("certs", "make a CA and a serving certificate for the Service", _configure_certs),
        ("manifests", "print the objects to kubectl apply", _configure_manifests),
    ):
        setup(sub.add_parser(name, help=help_text, description=help_text))


def _say(message: str) -> None:
    from podself.manifest.report import printable

    print(f"podself webhook: {printable(message)}", file=sys.stderr)


def _serve(args: argparse.Namespace) -> int:
    import logging
    import signal
    import threading

    from podself.cli.inject import inject_options
    from podself.errors import PodselfError
    from podself.webhook.server import CertificateStore, Metrics, ServerConfig, WebhookServer

    try:
        options = inject_options(args)
    except ValueError as exc:
        _say(str(exc))
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    metrics = Metrics()
    certificates = CertificateStore(args.cert_dir, metrics)
    config = ServerConfig(
        host=args.host or "",
        port=args.port,
        options=options,
        max_body=args.max_body_bytes,
        max_connections=args.max_connections,
        handshake_timeout=args.handshake_timeout,
        request_timeout=args.request_timeout,
        idle_timeout=args.idle_timeout,
    )
    try:
        certificates.load()
        certificates.watch()
        server = WebhookServer(config, certificates, metrics)
    except PodselfError as exc:
        _say(str(exc))
        return 1
    except OSError as exc:
        _say(f"cannot listen on {args.host or '*'}:{args.port}: {exc.strerror or exc}")
        certificates.close()
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    _say(f"serving https://{args.host or '*'}:{server.port}/mutate (and /mutate/annotated)")
    while not stop.wait(1.0):
        pass
    _say(f"stopping: not ready now, draining in {args.shutdown_delay:g} s")
    drained = server.drain(args.shutdown_delay, args.drain_timeout)
    if not drained:
        _say(f"requests still in flight after {args.drain_timeout:g} s were cut off")
    return 0


def _certs(args: argparse.Namespace) -> int:
    import os

    from podself import atomic
    from podself.errors import PodselfError
    from podself.webhook.certs import (
        CA_CERT_FILE,
        CA_KEY_FILE,
        issue,
        service_dns_names,
        write_set,
    )

    names = service_dns_names(args.service, args.namespace)
    names += [n for n in args.dns_name if n not in names]
    ca = None
    if not args.new_ca and os.path.isdir(args.out):
        found = atomic.read_snapshot(args.out, [CA_CERT_FILE, CA_KEY_FILE], max_bytes=1 << 20)
        if len(found.files) == 2:
            ca = (found.files[CA_CERT_FILE], found.files[CA_KEY_FILE])
        elif found.files:
            _say(f'"{args.out}": {", ".join(found.missing)} missing; give --new-ca to start over')
            return 1
    try:
        made = issue(names, days=args.days, ca=ca, ca_days=args.ca_days)
        write_set(args.out, made)
    except PodselfError as exc:
        _say(str(exc))
        return 1
    except OSError as exc:
        _say(f'cannot write "{args.out}": {exc.strerror or exc}')
        return 1
    which = "the CA already there" if ca else "a new CA"
    _say(f"wrote {args.out}: a certificate for {', '.join(names)}, signed by {which}")
    return 0


def _manifests(args: argparse.Namespace) -> int:
    from podself.cli.printers import kubectl_yaml
    from podself.errors import PodselfError
    from podself.webhook.certs import check_serving, read_set
    from podself.webhook.manifests import NAME, InstallOptions, render

    certificates = None
    if args.certs:
        try:
            certificates = read_set(args.certs, ca_key=False)
        except PodselfError as exc:
            _say(str(exc))
            return 2
        try:
            check_serving(certificates, f"{NAME}.{args.namespace}.svc")
        except PodselfError as exc:
            _say(f'certificate directory "{args.certs}": {exc}')
            return 2
    options = InstallOptions(
        image=args.image,
        namespace=args.namespace,
        replicas=args.replicas,
        timeout_seconds=args.timeout_seconds,
        reinvocation=args.reinvocation_policy,
        annotated_pods=args.annotated_pods,
        certificates=certificates,
        cert_manager=args.cert_manager,
        serve_args=tuple(args.serve_arg),
    )
    sys.stdout.write("".join(f"---\n{kubectl_yaml(obj)}" for obj in render(options)))
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit code."""
    action = {"serve": _serve, "certs": _certs, "manifests": _manifests}
    return action[args.webhook_command](args)

"""A CA and a serving certificate for the webhook's Service, for clusters without cert-manager.

The crypto is the ``cryptography`` package's (the ``webhook`` extra), imported only here and
only when a certificate is made. Keys are ECDSA P-256; the serving certificate names the
Service's DNS names (``NAME``, ``NAME.NS``, ``NAME.NS.svc``, ``NAME.NS.svc.cluster.local``),
which is what the API server checks when it calls the webhook through its Service.

A directory holds ``ca.crt`` and ``ca.key`` (kept to issue the next serving certificate with
the same CA, so the webhook configuration's ``caBundle`` stays valid) and ``tls.crt`` and
``tls.key`` (what the webhook's Secret carries). It is written with the kubelet's ``..data``
swap (:func:`podself.atomic.write`), so a server reading it sees the old pair or the new one.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from podself import atomic
from podself.errors import WebhookError

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CERT_FILE",
    "KEY_FILE",
    "CertificateSet",
    "check_serving",
    "issue",
    "read_set",
    "service_dns_names",
    "write_set",
]

CA_CERT_FILE: Final = "ca.crt"
CA_KEY_FILE: Final = "ca.key"
CERT_FILE: Final = "tls.crt"  # the keys of a kubernetes.io/tls Secret
KEY_FILE: Final = "tls.key"
_MAX_PEM: Final = 1 << 20
_BACKDATE: Final = datetime.timedelta(minutes=5)  # clocks of nodes and API servers drift


@dataclass(frozen=True, slots=True)
class CertificateSet:
    """PEM text of the CA and of the serving certificate and their keys."""

    ca_cert: bytes
    ca_key: bytes
    cert: bytes
    key: bytes


def _crypto() -> Any:
    try:
        from cryptography import x509
    except ImportError:
        msg = (
            "making certificates needs the cryptography package, which is not installed: "
            "pip install 'podself[webhook]' (or use cert-manager: podself webhook manifests "
            "--cert-manager)"
        )
        raise WebhookError(msg) from None
    return x509


def service_dns_names(service: str, namespace: str) -> list[str]:
    """The names the API server may use for a Service (it uses ``NAME.NS.svc``)."""
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _pem_key(key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    data: bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def issue(
    dns_names: list[str],
    *,
    days: int = 365,
    ca: tuple[bytes, bytes] | None = None,
    ca_days: int = 3650,
    now: datetime.datetime | None = None,
) -> CertificateSet:
    """A serving certificate for ``dns_names`` signed by ``ca`` (``(cert PEM, key PEM)``), or
    by a new CA valid for ``ca_days``; raises :class:`WebhookError`."""
    if not dns_names:
        msg = "dns names: at least one is needed"
        raise WebhookError(msg)
    if not 1 <= days <= 3650 or not 1 <= ca_days <= 36500:
        msg = f"validity: {days} days (1 to 3650) and a CA of {ca_days} days (1 to 36500)"
        raise WebhookError(msg)
    x509 = _crypto()
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key: Any
    start = (now or datetime.datetime.now(datetime.UTC)) - _BACKDATE
    if ca is None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "podself webhook CA")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=ca_days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
            )
            .sign(ca_key, hashes.SHA256())
        )
    else:
        try:
            ca_cert = x509.load_pem_x509_certificate(ca[0])
            ca_key = serialization.load_pem_private_key(ca[1], password=None)
        except (ValueError, TypeError) as exc:
            msg = f"CA: not a PEM certificate and unencrypted PEM key: {exc}"
            raise WebhookError(msg) from None
        if ca_cert.public_key().public_numbers() != ca_key.public_key().public_numbers():
            msg = "CA: the key is not the certificate's key"
            raise WebhookError(msg)
    key = ec.generate_private_key(ec.SECP256R1())
    not_after = min(start + datetime.timedelta(days=days), ca_cert.not_valid_after_utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_names[0][:64])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in dns_names]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return CertificateSet(
        ca_cert=ca_cert.public_bytes(serialization.Encoding.PEM),
        ca_key=_pem_key(ca_key),
        cert=cert.public_bytes(serialization.Encoding.PEM),
        key=_pem_key(key),
    )


def check_serving(files: Mapping[str, bytes], dns_name: str) -> None:
    """Raise :class:`WebhookError` unless ``tls.crt`` names ``dns_name``, is signed by
    ``ca.crt``, is valid now and goes with ``tls.key``: what the API server and the server
    would find out later, as pods created without the injection. Without the ``cryptography``
    package there is nothing to check with, and nothing is checked."""
    try:
        from cryptography import x509
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        return
    try:
        cert = x509.load_pem_x509_certificate(files[CERT_FILE])
        ca = x509.load_pem_x509_certificate(files[CA_CERT_FILE])
        key = serialization.load_pem_private_key(files[KEY_FILE], password=None)
    except (ValueError, TypeError) as exc:
        msg = f"{CA_CERT_FILE}, {CERT_FILE}, {KEY_FILE}: not PEM certificates and key: {exc}"
        raise WebhookError(msg) from None
    problems = []
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    if dns_name not in dns:
        problems.append(f"names {', '.join(dns) or 'nothing'}, not {dns_name}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        problems.append(f"is not signed by {CA_CERT_FILE}")
    now = datetime.datetime.now(datetime.UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        problems.append(f"is valid from {cert.not_valid_before_utc} to {cert.not_valid_after_utc}")
    if cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        problems.append(f"does not go with {KEY_FILE}")
    if problems:
        msg = f"{CERT_FILE} {'; '.join(problems)} (podself webhook certs --namespace NS makes one)"
        raise WebhookError(msg)


def read_set(directory: str | os.PathLike[str], *, ca_key: bool = True) -> dict[str, bytes]:
    """The files of a certificate directory (``ca.key`` only with ``ca_key``), read from one
    version of it; raises :class:`WebhookError` naming what is missing."""
    names = [CA_CERT_FILE, CERT_FILE, KEY_FILE, *([CA_KEY_FILE] if ca_key else [])]
    try:
        snapshot = atomic.read_snapshot(directory, names, max_bytes=_MAX_PEM)
    except OSError as exc:
        msg = f'certificate directory "{os.fspath(directory)}": {exc.strerror or exc}'
        raise WebhookError(msg) from None
    if snapshot.missing:
        msg = (
            f'certificate directory "{os.fspath(directory)}": {", ".join(snapshot.missing)} '
            "missing or unreadable (podself webhook certs --out DIR writes them)"
        )
        raise WebhookError(msg)
    return dict(snapshot.files)


def write_set(directory: str | os.PathLike[str], certificates: CertificateSet) -> None:
    """Write the four files into ``directory`` with one ``..data`` swap; keys are 0600.

    A directory holding anything else (a file of the same name included, which the swap
    would leave in place) is refused: :class:`WebhookError`, nothing written."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    names = (CA_CERT_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE)
    foreign = sorted(
        entry.name
        for entry in os.scandir(directory)
        if not entry.name.startswith("..")  # ..data and the versions it points to
        and not (
            entry.name in names
            and entry.is_symlink()
            and os.readlink(entry.path) == f"..data/{entry.name}"
        )
    )
    if foreign:
        msg = (
            f'"{os.fspath(directory)}": holds {", ".join(foreign[:5])}, not written by podself '
            "webhook certs; give an empty or new folder"
        )
        raise WebhookError(msg)
    atomic.write(
        directory,
        {
            CA_CERT_FILE: atomic.FileProjection(certificates.ca_cert, 0o644),
            CA_KEY_FILE: atomic.FileProjection(certificates.ca_key, 0o600),
            CERT_FILE: atomic.FileProjection(certificates.cert, 0o644),
            KEY_FILE: atomic.FileProjection(certificates.key, 0o600),
        },
    )

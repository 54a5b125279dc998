"""Tests for podself.webhook.certs: a CA and a serving certificate the API server accepts."""

from __future__ import annotations

import datetime
import ssl
import stat
import sys
from pathlib import Path
from unittest import mock

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from podself import atomic
from podself.errors import WebhookError
from podself.webhook.certs import check_serving, issue, read_set, service_dns_names, write_set

NAMES = service_dns_names("hook", "tools")


def test_service_names() -> None:
    assert NAMES == ["hook", "hook.tools", "hook.tools.svc", "hook.tools.svc.cluster.local"]


def test_serving_certificate_verifies_against_its_ca() -> None:
    """What the API server checks: the chain, the name it dials, server auth, the dates."""
    made = issue(NAMES, days=30)
    cert = x509.load_pem_x509_certificate(made.cert)
    ca = x509.load_pem_x509_certificate(made.ca_cert)
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == NAMES
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc
    assert cert.not_valid_after_utc - now < datetime.timedelta(days=31)
    # and the standard library's TLS accepts the pair as a server's
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_verify_locations(cadata=made.ca_cert.decode())


def test_reused_ca_signs_the_next_certificate() -> None:
    first = issue(NAMES)
    second = issue(NAMES, ca=(first.ca_cert, first.ca_key))
    assert second.ca_cert == first.ca_cert
    assert second.cert != first.cert
    x509.load_pem_x509_certificate(second.cert).verify_directly_issued_by(
        x509.load_pem_x509_certificate(first.ca_cert)
    )


def test_ca_key_of_another_ca_is_refused() -> None:
    one, two = issue(NAMES), issue(NAMES)
    with pytest.raises(WebhookError, match="the key is not the certificate's key"):
        issue(NAMES, ca=(one.ca_cert, two.ca_key))
    with pytest.raises(WebhookError, match="CA: not a PEM certificate"):
        issue(NAMES, ca=(b"junk", one.ca_key))


def test_bounds() -> None:
    with pytest.raises(WebhookError, match="at least one"):
        issue([])
    with pytest.raises(WebhookError, match="validity"):
        issue(NAMES, days=0)


def test_written_with_one_swap_and_private_keys(tmp_path: Path) -> None:
    made = issue(NAMES)
    write_set(tmp_path / "certs", made)
    snapshot = atomic.read_snapshot(tmp_path / "certs")
    assert snapshot.version is not None
    assert set(snapshot.files) == {"ca.crt", "ca.key", "tls.crt", "tls.key"}
    for name, mode in (("tls.key", 0o600), ("ca.key", 0o600), ("tls.crt", 0o644)):
        assert stat.S_IMODE((tmp_path / "certs" / name).stat().st_mode) == mode
    assert read_set(tmp_path / "certs", ca_key=False) == {
        "ca.crt": made.ca_cert,
        "tls.crt": made.cert,
        "tls.key": made.key,
    }


def test_a_folder_with_other_files_is_refused(tmp_path: Path) -> None:
    """A tls.crt of the user's would survive the swap and shadow the new one: refused."""
    (tmp_path / "tls.crt").write_text("mine")
    with pytest.raises(WebhookError, match=r"holds tls\.crt, not written by podself"):
        write_set(tmp_path, issue(NAMES))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tls.crt"]
    write_set(tmp_path / "new", issue(NAMES))
    write_set(tmp_path / "new", issue(NAMES))  # its own output is fine


def test_check_serving() -> None:
    """What the API server would reject later is caught before anything is applied."""
    made = issue(NAMES)
    files = {"ca.crt": made.ca_cert, "tls.crt": made.cert, "tls.key": made.key}
    check_serving(files, "hook.tools.svc")
    with pytest.raises(WebhookError, match=r"names hook, .*, not hook\.other\.svc"):
        check_serving(files, "hook.other.svc")
    other = issue(NAMES)
    with pytest.raises(WebhookError, match=r"is not signed by ca\.crt"):
        check_serving({**files, "ca.crt": other.ca_cert}, "hook.tools.svc")
    with pytest.raises(WebhookError, match=r"does not go with tls\.key"):
        check_serving({**files, "tls.key": other.key}, "hook.tools.svc")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=400)
    future = issue(NAMES, ca=(made.ca_cert, made.ca_key), now=later)
    with pytest.raises(WebhookError, match="is valid from"):
        check_serving({**files, "tls.crt": future.cert, "tls.key": future.key}, "hook.tools.svc")
    with pytest.raises(WebhookError, match="not PEM"):
        check_serving({**files, "tls.crt": b"junk"}, "hook.tools.svc")


def test_read_set_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"x")
    with pytest.raises(WebhookError, match=r"tls\.crt, tls\.key missing"):
        read_set(tmp_path, ca_key=False)


def test_without_cryptography_the_error_says_what_to_install() -> None:
    with (
        mock.patch.dict(sys.modules, {"cryptography": None}),
        pytest.raises(WebhookError, match=r"pip install 'podself\[webhook\]'"),
    ):
        issue(NAMES)

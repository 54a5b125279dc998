"""Tests for ``podself webhook certs|manifests|serve`` as a user runs them."""

from __future__ import annotations

import socket
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from podself.cli import main


def run(args: list[str], capfd: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["webhook", *args])
    out, err = capfd.readouterr()
    return code, out, err


def test_install_commands(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """certs, then manifests: a stream that validates, lints clean and names the same CA."""
    certs = tmp_path / "certs"
    code, _, err = run(["certs", "--out", str(certs), "--namespace", "tools"], capfd)
    assert code == 0, err
    assert "podself-webhook.tools.svc" in err
    assert "a new CA" in err
    ca = (certs / "ca.crt").read_bytes()
    code, _, err = run(["certs", "--out", str(certs), "--namespace", "tools"], capfd)
    assert code == 0, err
    assert "the CA already there" in err
    assert (certs / "ca.crt").read_bytes() == ca
    args = ["manifests", "--image", "registry.example/podself:1", "--namespace", "tools"]
    code, out, err = run([*args, "--certs", str(certs), "--serve-arg=--otel"], capfd)
    assert code == 0, err
    objects = [d for d in yaml.safe_load_all(out) if d]
    for obj in objects:
        kubernetes_validate.validate(obj, "1.37", strict=True)
    by_kind = {obj["kind"]: obj for obj in objects}
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][-1] == "--otel"
    path = tmp_path / "webhook.yaml"
    path.write_text(out)
    assert main(["lint", "--fail-on", "info", str(path)]) == 0


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["manifests", "--certs", "x"], "--image"),
        (["manifests", "--image", "i"], "one of the arguments --certs --cert-manager is required"),
        (["manifests", "--image", "i", "--timeout-seconds", "31"], "must be from 1 to 30"),
        (["serve"], "--cert-dir"),
        (["certs", "--out", "d", "--namespace", "Tools"], "a lowercase RFC 1123 label"),
        (["manifests", "--image", " ", "--cert-manager"], "an image reference"),
        (["serve", "--cert-dir", "d", "--port", "x"], "not a number"),
    ],
)
def test_usage_errors(args: list[str], said: str, capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["webhook", *args])
    assert exc.value.code == 2
    assert said in capfd.readouterr().err


def test_input_errors_are_messages(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["manifests", "--image", "i", "--certs", str(tmp_path)], capfd)
    assert (code, out) == (2, "")
    assert "ca.crt, tls.crt, tls.key missing" in err
    made = tmp_path / "made"
    assert run(["certs", "--out", str(made), "--namespace", "tools"], capfd)[0] == 0
    code, out, err = run(["manifests", "--image", "i", "--certs", str(made)], capfd)
    assert (code, out) == (2, "")
    assert "not podself-webhook.podself-system.svc" in err
    code, _, err = run(["serve", "--cert-dir", str(tmp_path), "--prefix", "1X"], capfd)
    assert code == 2
    assert "prefix '1X'" in err
    blocker = tmp_path / "file"
    blocker.write_text("")
    code, _, err = run(["certs", "--out", str(blocker / "certs")], capfd)
    assert code == 1
    assert "cannot write" in err
    assert "Traceback" not in err


def test_port_in_use(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from podself.webhook.certs import issue, write_set

    write_set(tmp_path / "tls", issue(["x"]))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        code, _, err = run(
            ["serve", "--cert-dir", str(tmp_path / "tls"), "--host", "127.0.0.1", "--port", port],
            capfd,
        )
    assert code == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in err


def test_help_names_the_install(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["webhook", "--help"])
    out = capfd.readouterr().out
    assert "1. podself webhook certs --out certs/" in out
    assert "kubectl apply -f webhook.yaml" in out

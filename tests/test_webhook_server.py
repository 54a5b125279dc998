"""Tests for podself.webhook.server: real HTTPS (httpx, the generated CA), real patches."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from podself.cli import main
from podself.webhook.certs import issue, service_dns_names, write_set
from podself.webhook.server import CertificateStore, Metrics, ServerConfig, WebhookServer
from tests.admission_reviews import encode, operations, patched, pod, response
from tests.admission_reviews import review as make_review

HOST = "podself-webhook.podself-system.svc"  # the name the API server calls it by
NAMES = service_dns_names("podself-webhook", "podself-system")


@pytest.fixture(scope="module")
def pair() -> tuple[bytes, bytes]:
    made = issue(NAMES)
    return made.ca_cert, made.ca_key


@pytest.fixture
def cert_dir(tmp_path: Path, pair: tuple[bytes, bytes]) -> Path:
    directory = tmp_path / "tls"
    write_set(directory, issue(NAMES, ca=pair))
    return directory


Start = Callable[..., WebhookServer]


@pytest.fixture
def start(cert_dir: Path) -> Iterator[Start]:
    servers: list[WebhookServer] = []

    def make(**config: Any) -> WebhookServer:
        metrics = Metrics()
        certificates = CertificateStore(cert_dir, metrics)
        certificates.load()
        certificates.watch()
        server = WebhookServer(
            ServerConfig(host="127.0.0.1", port=0, **config), certificates, metrics
        )
        servers.append(server.start())
        return server

    yield make
    for server in servers:
        server.drain(0, 2)


def client(pair: tuple[bytes, bytes], **kwargs: Any) -> httpx.Client:
    context = ssl.create_default_context(cadata=pair[0].decode())
    return httpx.Client(verify=context, timeout=10, **kwargs)


def post(
    http: httpx.Client, server: WebhookServer, body: bytes, path: str = "/mutate"
) -> httpx.Response:
    return http.post(
        f"https://127.0.0.1:{server.port}{path}",
        content=body,
        headers={"Content-Type": "application/json"},
        extensions={"sni_hostname": HOST},
    )


def get(http: httpx.Client, server: WebhookServer, path: str) -> httpx.Response:
    return http.get(f"https://127.0.0.1:{server.port}{path}", extensions={"sni_hostname": HOST})


def tls_socket(server: WebhookServer, pair: tuple[bytes, bytes]) -> ssl.SSLSocket:
    context = ssl.create_default_context(cadata=pair[0].decode())
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    return context.wrap_socket(raw, server_hostname=HOST)


def served_serial(server: WebhookServer, pair: tuple[bytes, bytes]) -> str:
    with tls_socket(server, pair) as sock:
        cert = sock.getpeercert()
    assert cert is not None
    return str(cert["serialNumber"])


def test_patched_pod_lints_clean_and_knows_itself(
    start: Start, pair: tuple[bytes, bytes], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Over HTTPS, the patch makes a pod that podself lint passes and that, run by podself
    run, reports its own name, namespace, IPs and limits."""
    pytest.importorskip("podself.emulator.kubelet", reason="podself run not available")
    server = start()
    container = pod()["spec"]["containers"][0]
    container["command"] = [sys.executable, "-m", "podself", "info", "--json"]
    obj = pod("web-0", containers=[container], labels={"app": "web"})
    with client(pair) as http:
        answer = post(http, server, encode(make_review(obj)))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    result = response(answer.content)
    assert operations(result)
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(patched(obj, result)))
    assert main(["lint", "--fail-on", "info", str(path)]) == 0
    capfd.readouterr()
    assert main(["run", "-f", str(path), "--timeout", "60"]) == 0
    out = capfd.readouterr().out
    info = json.loads(out[out.index("{") :])
    assert info["name"] == "web-0"
    assert info["namespace"] == "shop"
    assert info["pod_ip"]
    assert info["host_ip"]
    assert info["resources"]["cpu_limit"] == 500
    assert info["resources"]["memory_limit"] == 256 << 20
    assert info["annotations"]["podself.dev/injected"] == "true"
    assert info["warnings"] == []


def test_health_ready_and_metrics(start: Start, pair: tuple[bytes, bytes]) -> None:
    server = start()
    with client(pair) as http:
        assert get(http, server, "/healthz").status_code == 200
        assert get(http, server, "/readyz").status_code == 200
        assert get(http, server, "/nothing").status_code == 404
        post(http, server, encode(make_review(pod())))
        post(http, server, encode(make_review(pod(), operation="UPDATE")))
        assert post(http, server, b"{").status_code == 400
        assert post(http, server, b"{}", path="/other").status_code == 404
        text = get(http, server, "/metrics").text
    assert 'podself_webhook_requests_total{outcome="patched"} 1' in text
    assert 'podself_webhook_requests_total{outcome="skipped"} 1' in text
    assert 'podself_webhook_requests_total{outcome="invalid"} 1' in text
    assert "podself_webhook_request_duration_seconds_count 3" in text
    assert "podself_webhook_ready 1" in text


def test_annotated_path_needs_the_annotation(start: Start, pair: tuple[bytes, bytes]) -> None:
    server = start()
    with client(pair) as http:
        plain = response(
            post(http, server, encode(make_review(pod())), "/mutate/annotated").content
        )
        annotated = pod(annotations={"podself.dev/inject": "true"})
        asked = response(
            post(http, server, encode(make_review(annotated)), "/mutate/annotated").content
        )
    assert operations(plain) == []
    assert operations(asked)


def test_oversized_and_unsized_bodies_are_refused_unread(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    server = start(max_body=4096)
    with client(pair) as http:
        big = post(http, server, encode(make_review(pod(annotations={"a": "x" * 5000}))))
        assert big.status_code == 413
        assert post(http, server, encode(make_review(pod()))).status_code == 200
    with tls_socket(server, pair) as sock:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 411")


def test_slow_client_is_cut_off_and_others_are_served(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    """A client that sends a byte now and then is closed at the request deadline."""
    server = start(request_timeout=0.5, idle_timeout=0.5)
    with tls_socket(server, pair) as slow:
        slow.sendall(b"POST /mutate HTTP/1.1\r\n")
        slow.settimeout(0.1)
        began = time.monotonic()
        while True:
            assert time.monotonic() - began < 5, "slow client never cut off"
            try:
                slow.sendall(b"X")
                if slow.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:  # reset, or TLS cut short
                break
        assert time.monotonic() - began >= 0.4
    with client(pair) as http:
        assert post(http, server, encode(make_review(pod()))).status_code == 200


def test_slow_handshake_is_cut_off(start: Start, pair: tuple[bytes, bytes]) -> None:
    """A ClientHello sent a byte at a time cannot hold the connection past the deadline."""
    server = start(handshake_timeout=0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=0.1) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00")  # a handshake record of 512 bytes
        began = time.monotonic()
        while True:
            assert time.monotonic() - began < 5, "slow handshake never cut off"
            try:
                raw.sendall(b"\x01")
                if raw.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
    with client(pair) as http:
        assert 'errors_total{kind="handshake"} 1' in get(http, server, "/metrics").text


def test_concurrent_requests_each_get_their_own_answer(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    server = start()
    uids = [f"uid-{n}" for n in range(24)]
    answers: dict[str, str] = {}

    def one(uid: str) -> None:
        with client(pair) as http:
            answers[uid] = response(
                post(http, server, encode(make_review(pod(), uid=uid))).content
            )["uid"]

    threads = [threading.Thread(target=one, args=(uid,)) for uid in uids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert answers == {uid: uid for uid in uids}


def wait_in_flight(server: WebhookServer, count: int) -> None:
    """Until ``count`` requests are being read (their headers in, their bodies awaited)."""
    deadline = time.monotonic() + 10
    while server.metrics.in_flight < count:
        assert time.monotonic() < deadline, "requests never in flight"
        time.sleep(0.01)


def closed(sock: socket.socket) -> bool:
    """Whether the server has closed ``sock`` (waiting up to 5 s for it)."""
    sock.settimeout(5)
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_at_the_limit_the_longest_idle_connection_makes_room(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    """Kept-alive connections the API server is not using never shut a new one out."""
    server = start(max_connections=2, idle_timeout=30)
    oldest, newer = tls_socket(server, pair), tls_socket(server, pair)
    for sock in (oldest, newer):  # one answer each: then each waits for its next request
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"ok\n"):
            answer += sock.recv(4096)
        time.sleep(0.1)
    with client(pair) as http:
        assert post(http, server, encode(make_review(pod()))).status_code == 200
    assert closed(oldest)
    newer.settimeout(0.3)
    with pytest.raises(TimeoutError):
        newer.recv(1)  # still open
    oldest.close()
    newer.close()


def test_at_the_limit_with_every_connection_busy_the_new_one_is_closed(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    server = start(max_connections=2, request_timeout=30)
    busy = [tls_socket(server, pair) for _ in range(2)]
    for sock in busy:  # a request whose body is still to come
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    wait_in_flight(server, 2)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    assert closed(raw)  # before any handshake
    raw.close()
    assert server.metrics.errors["connection_limit"] == 1
    for sock in busy:
        sock.close()


def test_certificate_swapped_in_the_secret_is_served_without_restart(
    start: Start, pair: tuple[bytes, bytes], cert_dir: Path
) -> None:
    server = start()
    first = served_serial(server, pair)
    write_set(cert_dir, issue(NAMES, ca=pair))  # the kubelet's ..data swap
    deadline = time.monotonic() + 10
    while served_serial(server, pair) == first:
        assert time.monotonic() < deadline, "new certificate not served"
        time.sleep(0.05)
    second = served_serial(server, pair)
    # A key that is not the certificate's: the previous pair stays in use.
    broken = issue(NAMES, ca=pair)
    other = issue(NAMES, ca=pair)
    from podself import atomic

    atomic.write(cert_dir, {"tls.crt": broken.cert, "tls.key": other.key})
    deadline = time.monotonic() + 10
    with client(pair) as http:
        while 'reloads_total{result="failure"} 1' not in get(http, server, "/metrics").text:
            assert time.monotonic() < deadline, "broken pair not noticed"
            time.sleep(0.05)
    assert served_serial(server, pair) == second


def test_drain_finishes_requests_in_flight_and_stops_accepting(
    start: Start, pair: tuple[bytes, bytes]
) -> None:
    server = start()
    body = encode(make_review(pod(), uid="in-flight"))
    sock = tls_socket(server, pair)
    sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    sock.sendall(body[:10])
    wait_in_flight(server, 1)
    done: list[bool] = []
    drainer = threading.Thread(target=lambda: done.append(server.drain(0, 10)))
    drainer.start()
    time.sleep(0.3)
    assert not done  # waiting for the request in flight
    sock.sendall(body[10:])
    answer = b""
    while b"in-flight" not in answer:
        chunk = sock.recv(65536)
        assert chunk
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in answer
    sock.close()
    drainer.join(10)
    assert done == [True]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


def test_sigterm_drains_and_exits_zero(
    cert_dir: Path, pair: tuple[bytes, bytes], tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = ["webhook", "serve", "--cert-dir", str(cert_dir), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--shutdown-delay", "0.2"]
    err_path = tmp_path / "stderr"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "podself", *args], stderr=err_file)
    try:
        deadline = time.monotonic() + 20
        context = ssl.create_default_context(cadata=pair[0].decode())
        while True:
            try:
                with httpx.Client(verify=context) as http:
                    ready = http.get(
                        f"https://127.0.0.1:{port}/readyz", extensions={"sni_hostname": HOST}
                    )
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline
            assert proc.poll() is None
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = err_path.read_text()
    assert "stopping: not ready now" in err
    assert "Traceback" not in err


def test_missing_certificate_is_a_clear_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert main(["webhook", "serve", "--cert-dir", str(tmp_path), "--port", "1"]) == 1
    err = capfd.readouterr().err
    assert "tls.crt, tls.key missing" in err
    assert os.listdir(tmp_path) == []


def test_serving_needs_only_the_standard_library() -> None:
    """The image needs podself alone: cryptography is for ``certs``, YAML for manifests."""
    code = (
        "import json, sys\n"
        "from podself.webhook.admission import review\n"
        "import podself.webhook.server, podself.cli.webhook\n"
        "app = {'name': 'app', 'image': 'i', 'env': [{'name': 'K8S_POD_NAME', 'value': 'x'}]}\n"
        "pod = {'metadata': {}, 'spec': {'containers': [app]}}\n"
        "request = {'uid': 'u', 'kind': {'group': '', 'kind': 'Pod'}, 'operation': 'CREATE',\n"
        "           'object': pod}\n"
        "body = {'apiVersion': 'admission.k8s.io/v1', 'kind': 'AdmissionReview',\n"
        "        'request': request}\n"
        "assert review(json.dumps(body).encode()).outcome == 'patched'\n"
        "top = {m.split('.')[0] for m in sys.modules}\n"
        "ours = {'podself', '__main__', '_distutils_hack'}\n"
        "print(sorted(top - set(sys.stdlib_module_names) - ours))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"

"""The self-aware demo app in ``examples/app``: its manifests lint clean, and the service reports
who it is, sizes its threads, follows label changes and stops on SIGTERM inside a fake pod (and,
when the emulator is available, as a pod under ``podself run``)."""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from podself.testing import FakePod

ROOT = Path(__file__).resolve().parents[1]
APP_DIR = ROOT / "examples" / "app"
MANIFESTS = sorted((APP_DIR / "k8s").glob("*.yaml"))
DOCKERFILE = APP_DIR / "Dockerfile"
WAIT = 20.0  # a deadline for slow machines, not a measurement

# What the manifests set for the policy and the app (kept in step with k8s/*.yaml).
POLICY_ENV = {"PODSELF_MAX_WORKERS": "1", "PODSELF_THREADS_PER_CPU": "4", "APP_VERSION": "0.1.0"}


def app_module() -> Any:
    """``examples/app/app/server.py``, imported the way ``python -m app`` finds it."""
    sys.path.insert(0, str(APP_DIR))
    try:
        return importlib.import_module("app.server")
    finally:
        sys.path.remove(str(APP_DIR))  # the package stays imported; the path does not linger


def fake_pod_env(pod: FakePod, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a process inside ``pod`` sees, as ``examples/fake_pod_info.py`` builds it."""
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        **pod.environ,
        "PODSELF_ROOT": str(pod.root),
        "PODSELF_PROC_ROOT": str(pod.proc_root),
        **POLICY_ENV,
        **(extra or {}),
    }


class AppProcess:
    """``python -m app`` (or any command that ends up running it) with its log lines collected."""

    def __init__(self, argv: list[str], env: Mapping[str, str], cwd: Path = APP_DIR) -> None:
        self.proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.records: list[dict[str, Any]] = []
        self.raw: list[str] = []
        self.err = ""
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.raw.append(line)
                if line.startswith("{"):
                    self.records.append(json.loads(line))
                self._cond.notify_all()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        self.err = self.proc.stderr.read()

    def wait_for(self, what: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first JSON log record ``match`` accepts, or fail saying what was seen."""
        deadline = time.monotonic() + WAIT
        with self._cond:
            while True:
                for record in self.records:
                    if match(record):
                        return record
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    break
                self._cond.wait(0.1)
        pytest.fail(f"no log record for {what}; stdout:\n{''.join(self.raw)}\nstderr:\n{self.err}")

    def port(self) -> int:
        """The port from the app's ``listening on port N`` line."""
        record = self.wait_for("listening", lambda r: "listening on port" in r["message"])
        return int(record["port"])

    def stop(self) -> int:
        """SIGTERM and the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=WAIT)
        self._close()
        return code

    def kill(self) -> None:
        """Make sure nothing is left running (SIGTERM first: podself run stops its containers)
        and the pipes are closed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close()

    def _close(self) -> None:
        for thread in self._threads:
            thread.join(timeout=WAIT)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """GET a JSON answer from the app: (status, body)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=WAIT) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.fixture
def fake_pod(tmp_path: Path) -> FakePod:
    """A pod of the demo Deployment: its labels, 500m/256Mi limits, 250m/128Mi requests."""
    return FakePod(
        tmp_path,
        name="selfaware-79fb957f84-b49vw",
        labels={
            "app": "selfaware",
            "feature-x": "disabled",
            "log-level": "info",
            "pod-template-hash": "79fb957f84",
        },
        annotations={"description": "Self-aware demo web service (podself)"},
        limits={"cpu": "500m", "memory": "256Mi"},
        requests={"cpu": "250m", "memory": "128Mi"},
    )


@pytest.fixture
def running(fake_pod: FakePod) -> Iterator[AppProcess]:
    """``python -m app --port 0`` inside the fake pod, stopped afterwards."""
    app = AppProcess([sys.executable, "-m", "app", "--port", "0"], fake_pod_env(fake_pod))
    try:
        yield app
    finally:
        app.kill()


class TestManifests:
    """``examples/app/k8s``: clean for the linter, and consistent with the app and image."""

    def test_manifests_exist(self) -> None:
        """There is a Deployment manifest and a StatefulSet manifest."""
        assert [p.name for p in MANIFESTS] == ["deployment.yaml", "statefulset.yaml"]

    @pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
    def test_lint_has_no_finding(self, path: Path) -> None:
        """podself lint reports nothing at all, not even info, for each example manifest."""
        pytest.importorskip("podself.manifest.lint", reason="podself lint is not available")
        result = subprocess.run(
            [sys.executable, "-m", "podself", "lint", "--format=json", "--fail-on=info", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        report = json.loads(result.stdout)
        assert report["findings"] == [], report["findings"]
        assert report["summary"]["workloads"] == 1
        assert result.returncode == 0

    def test_lint_sees_a_planted_mistake(self, tmp_path: Path) -> None:
        """The same check fails once a manifest reads status.podIP through the volume."""
        pytest.importorskip("podself.manifest.lint", reason="podself lint is not available")
        text = (APP_DIR / "k8s" / "deployment.yaml").read_text(encoding="utf-8")
        broken = text.replace("fieldPath: metadata.annotations", "fieldPath: status.podIP")
        assert broken != text
        result = subprocess.run(
            [sys.executable, "-m", "podself", "lint", "--format", "json", "-"],
            input=broken,
            capture_output=True,
            text=True,
            check=False,
        )
        rules = [f["rule"] for f in json.loads(result.stdout)["findings"]]
        assert rules == ["invalid-field-ref"]
        assert result.returncode == 1

    @pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
    def test_workload_runs_the_app_through_podself_exec(self, path: Path) -> None:
        """The container command is the image's entrypoint and CMD, and mounts the podinfo
        volume at /etc/podinfo without subPath."""
        yaml = pytest.importorskip("yaml")
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        workload = next(d for d in docs if d["kind"] in {"Deployment", "StatefulSet"})
        container = workload["spec"]["template"]["spec"]["containers"][0]
        dockerfile = DOCKERFILE.read_text(encoding="utf-8")
        entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", dockerfile, re.M)[1])  # type: ignore[index]
        cmd = json.loads(re.search(r"^CMD (.+)$", dockerfile, re.M)[1])  # type: ignore[index]
        assert container["command"] == entrypoint + cmd
        assert {"name": "podinfo", "mountPath": "/etc/podinfo", "readOnly": True} in container[
            "volumeMounts"
        ]
        env = {e["name"]: e.get("value") for e in container["env"]}
        for name, value in POLICY_ENV.items():
            assert env[name] == value

    def test_statefulset_has_a_headless_governing_service(self) -> None:
        """serviceName names a Service with clusterIP None whose selector matches the pods,
        and APP_REPLICAS equals spec.replicas (peers are listed from it)."""
        yaml = pytest.importorskip("yaml")
        path = APP_DIR / "k8s" / "statefulset.yaml"
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        sts = next(d for d in docs if d["kind"] == "StatefulSet")
        service = next(d for d in docs if d["kind"] == "Service")
        assert service["metadata"]["name"] == sts["spec"]["serviceName"]
        assert service["spec"]["clusterIP"] == "None"
        labels = sts["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        env = {
            e["name"]: e.get("value")
            for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["APP_REPLICAS"] == str(sts["spec"]["replicas"])

    def test_dockerfile_is_slim_non_root_with_podself_entrypoint(self) -> None:
        """python slim base, a numeric non-root USER, and podself exec as ENTRYPOINT."""
        text = DOCKERFILE.read_text(encoding="utf-8")
        assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
        user = re.search(r"^USER (\d+):(\d+)$", text, re.M)
        assert user is not None
        assert int(user[1]) != 0
        assert '\nENTRYPOINT ["podself", "exec", "--"]\n' in text


class TestServiceInAFakePod:
    """``python -m app`` inside ``podself.testing.FakePod``."""

    def test_healthz(self, running: AppProcess) -> None:
        """GET /healthz answers 200 {"status": "ok"}."""
        assert get(running.port(), "/healthz") == (200, {"status": "ok"})

    def test_unknown_path_is_404(self, running: AppProcess) -> None:
        """An unknown path is a JSON 404 naming it."""
        assert get(running.port(), "/nope") == (404, {"error": "no route /nope"})

    def test_info_says_who_and_where(self, running: AppProcess, fake_pod: FakePod) -> None:
        """GET /info has the pod's identity, labels, workload and limits."""
        _, info = get(running.port(), "/info")
        assert info["pod"]["name"] == fake_pod.name
        assert info["pod"]["namespace"] == "default"
        assert info["pod"]["node_name"] == "minikube"
        assert info["pod"]["pod_ip"] == "10.244.0.7"
        assert info["pod"]["labels"]["feature-x"] == "disabled"
        assert info["workload"]["kind"] == "Deployment"
        assert info["workload"]["name"] == "selfaware"
        assert info["resources"]["cpu_limit"] == 500
        assert info["resources"]["memory_limit"] == 256 * 2**20
        assert info["app"] == {"version": "0.1.0"}
        assert info["warnings"] == []

    def test_podinfo_is_the_middleware_document(self, running: AppProcess) -> None:
        """/podinfo is podself.integrations.web's document with the app's sections added;
        /info is the same document under its old path."""
        port = running.port()
        _, doc = get(port, "/podinfo")
        assert {"pod", "workload", "resources", "plan", "process", "sources", "warnings"} <= set(
            doc
        )
        assert {"server", "flags"} <= set(doc)
        assert doc["process"]["pid"] == doc["server"]["pid"]
        _, info = get(port, "/info")
        assert set(info) == set(doc)

    def test_info_gives_the_source_of_each_value(self, running: AppProcess) -> None:
        """Each value names where it came from: env, the podinfo volume, a fallback."""
        _, info = get(running.port(), "/info")
        sources = info["sources"]
        assert sources["name"] == {"kind": "env", "origin": "K8S_POD_NAME"}
        assert sources["labels"]["kind"] == "downward"
        assert sources["labels"]["origin"].endswith("/etc/podinfo/labels")
        assert sources["resources.memory_limit"]["origin"].startswith("RESOURCE_MEMORY_LIMIT_MB")
        assert info["flags"]["feature-x"]["value"] is False
        assert info["flags"]["feature-x"]["origin"].startswith("label feature-x in ")

    def test_threads_are_sized_by_the_tuning_plan(self, running: AppProcess) -> None:
        """Without --threads the pool size is plan().threads: 1 CPU * 4 threads per CPU, with
        the plan's reason; the plan and its reasons are in /info."""
        _, info = get(running.port(), "/info")
        plan = info["plan"]
        assert plan["threads"] == 4
        assert plan["workers"] == 1
        assert plan["reasons"]["threads"] == (
            "threads=4: cpus 1 * 4 threads per CPU // workers 1, min 1"
        )
        assert info["server"]["threads"] == 4
        assert (
            info["server"]["threads_from"] == f"podself.tuning plan: {plan['reasons']['threads']}"
        )

    def test_feature_flag_follows_the_label(self, running: AppProcess, fake_pod: FakePod) -> None:
        """feature-x=enabled on the running pod logs the change and switches GET / over."""
        port = running.port()
        assert get(port, "/") == (
            200,
            {"message": f"hello from {fake_pod.name}", "feature-x": False},
        )
        fake_pod.set_labels({**fake_pod.labels, "feature-x": "enabled"})
        record = running.wait_for("feature-x", lambda r: r.get("flag") == "feature-x")
        assert record["message"].startswith("feature-x: disabled → enabled (label feature-x in ")
        assert (record["old"], record["new"]) == (False, True)
        assert record["pod"] == fake_pod.name
        assert get(port, "/")[1]["feature-x"] is True

    def test_info_follows_label_changes(self, running: AppProcess, fake_pod: FakePod) -> None:
        """After a label change /info shows the new labels (the pod is re-read on updates)."""
        port = running.port()
        fake_pod.set_labels({**fake_pod.labels, "stage": "beta"})
        deadline = time.monotonic() + WAIT
        labels: dict[str, str] = {}
        while time.monotonic() < deadline:
            labels = get(port, "/info")[1]["pod"]["labels"]
            if labels.get("stage") == "beta":
                break
            time.sleep(0.05)
        assert labels.get("stage") == "beta"

    def test_log_level_follows_the_label(self, running: AppProcess, fake_pod: FakePod) -> None:
        """log-level=debug turns on the DEBUG request lines; before it none is logged."""
        port = running.port()
        get(port, "/healthz")
        fake_pod.set_labels({**fake_pod.labels, "log-level": "debug"})
        change = running.wait_for("the new level", lambda r: "INFO → DEBUG" in r["message"])
        assert change["message"].startswith("log level of root: INFO → DEBUG (label log-level in ")
        get(port, "/info")
        running.wait_for("a request line", lambda r: r["message"] == "GET /info 200")
        before = running.records[: running.records.index(change)]
        assert [r for r in before if r["level"] == "DEBUG"] == []

    def test_bad_flag_value_keeps_the_last_good_one(
        self, running: AppProcess, fake_pod: FakePod
    ) -> None:
        """feature-x=maybe is refused with a warning; the flag keeps its value."""
        port = running.port()
        fake_pod.set_labels({**fake_pod.labels, "feature-x": "maybe"})
        record = running.wait_for("the warning", lambda r: r["level"] == "WARNING")
        assert "'maybe'" in record["message"]
        assert get(port, "/")[1]["feature-x"] is False

    def test_resize_logs_the_new_plan(self, tmp_path: Path) -> None:
        """New limits in the podinfo volume (an in-place resize; env keeps the old ones) are
        logged as the new plan by the running process."""
        pod = FakePod(tmp_path, limits={"cpu": "500m", "memory": "256Mi"}, cgroup=None)
        app = AppProcess([sys.executable, "-m", "app", "--port", "0"], fake_pod_env(pod))
        try:
            app.port()
            pod.limits = {"cpu": "1500m", "memory": "1Gi"}
            assert pod.write_volume()
            record = app.wait_for("the new plan", lambda r: r["message"].startswith("resized"))
            assert "memory_mb 256 → 1024" in record["message"]
            assert record["plan"]["cpu_millicores"] == 1500
        finally:
            app.kill()

    def test_sigterm_stops_cleanly(self, running: AppProcess) -> None:
        """SIGTERM logs stopping and stopped, and the exit status is 0."""
        running.port()
        assert running.stop() == 0
        messages = [r["message"] for r in running.records]
        assert messages[-2:] == ["stopping on SIGTERM", "stopped"]


class TestStatefulSetPod:
    """The StatefulSet variant's ordinal and peers."""

    def test_ordinal_and_peers(self, tmp_path: Path) -> None:
        """Pod selfaware-sts-1 with APP_REPLICAS=3 knows its ordinal, its DNS name and its peers."""
        pod = FakePod(
            tmp_path,
            name="selfaware-sts-1",
            labels={
                "app": "selfaware-sts",
                "apps.kubernetes.io/pod-index": "1",
                "statefulset.kubernetes.io/pod-name": "selfaware-sts-1",
            },
        )
        # The kubelet-managed /etc/hosts of a pod with a subdomain (the governing service).
        fqdn = "selfaware-sts-1.selfaware-sts.default.svc.cluster.local"
        pod.hosts_file.write_text(
            f"# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n10.244.0.7\t{fqdn}\t"
            "selfaware-sts-1\n",
            encoding="utf-8",
        )
        app = AppProcess(
            [sys.executable, "-m", "app", "--port", "0"], fake_pod_env(pod, {"APP_REPLICAS": "3"})
        )
        try:
            _, info = get(app.port(), "/info")
        finally:
            app.kill()
        workload = info["workload"]
        assert (workload["kind"], workload["name"], workload["ordinal"]) == (
            "StatefulSet",
            "selfaware-sts",
            1,
        )
        assert workload["dns_name"] == fqdn
        assert workload["peers"] == [
            f"selfaware-sts-{i}.selfaware-sts.default.svc.cluster.local" for i in range(3)
        ]

    def test_bad_replicas_is_a_warning_not_a_crash(self, fake_pod: FakePod) -> None:
        """APP_REPLICAS=zero lists no peers and says why in /info's warnings."""
        app = AppProcess(
            [sys.executable, "-m", "app", "--port", "0"],
            fake_pod_env(fake_pod, {"APP_REPLICAS": "zero"}),
        )
        try:
            _, info = get(app.port(), "/info")
        finally:
            app.kill()
        assert info["workload"]["peers"] == []
        assert (
            'APP_REPLICAS "zero": must be a whole number >= 1; peers not listed' in info["warnings"]
        )


class TestCommandLine:
    """``python -m app`` options and ``podself exec`` as the entrypoint."""

    def test_podself_exec_fills_threads(self, fake_pod: FakePod) -> None:
        """podself exec -- python -m app --threads {threads} passes the plan's number."""
        app = AppProcess(
            [
                sys.executable,
                "-m",
                "podself",
                "exec",
                "--",
                sys.executable,
                "-m",
                "app",
                "--threads",
                "{threads}",
                "--port",
                "0",
            ],
            fake_pod_env(fake_pod),
        )
        try:
            _, info = get(app.port(), "/info")
        finally:
            app.kill()
        assert info["server"]["threads"] == 4
        assert info["server"]["threads_from"].startswith("--threads, as planned: threads=4:")

    def test_threads_against_the_plan_is_said(self, fake_pod: FakePod) -> None:
        """--threads 2 is used, and /info says what the plan would have given."""
        app = AppProcess(
            [sys.executable, "-m", "app", "--threads", "2", "--port", "0"], fake_pod_env(fake_pod)
        )
        try:
            _, info = get(app.port(), "/info")
        finally:
            app.kill()
        assert info["server"]["threads"] == 2
        assert info["server"]["threads_from"].startswith("--threads (the plan says threads=4:")

    @pytest.mark.parametrize(
        ("args", "env", "message"),
        [
            (["--threads", "{threads}"], {}, "is a podself exec placeholder"),
            (["--threads", "0"], {}, 'argument --threads: "0": must be a whole number >= 1'),
            ([], {"APP_PORT": "http"}, 'APP_PORT "http": must be a port number 0-65535'),
        ],
        ids=["placeholder", "zero-threads", "bad-port"],
    )
    def test_bad_input_is_a_usage_error(
        self, fake_pod: FakePod, args: list[str], env: dict[str, str], message: str
    ) -> None:
        """Bad options or env exit with status 2 and say what is wrong."""
        result = subprocess.run(
            [sys.executable, "-m", "app", *args],
            cwd=APP_DIR,
            env=fake_pod_env(fake_pod, env),
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert result.returncode == 2
        assert message in result.stderr

    def test_outside_a_pod_defaults_apply(self, tmp_path: Path) -> None:
        """With no pod at all (no env, no volume) the app starts and /info says unknown."""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "PODSELF_ROOT": str(tmp_path),
            "PODSELF_PROC_ROOT": str(tmp_path / "proc"),
        }
        app = AppProcess([sys.executable, "-m", "app", "--port", "0"], env)
        try:
            status, info = get(app.port(), "/info")
        finally:
            app.kill()
        assert status == 200
        assert info["pod"]["name"] is None
        assert info["flags"]["feature-x"] == {"value": False, "origin": "default"}
        assert info["server"]["threads"] >= 1

    def test_pool_needs_a_thread(self) -> None:
        """PooledHTTPServer refuses a pool of 0 threads before binding anything."""
        server = app_module()
        handler = server.WSGIRequestHandler
        with pytest.raises(ValueError, match="threads 0: must be at least 1"):
            server.PooledHTTPServer(("127.0.0.1", 0), handler, threads=0)


class TestUnderTheEmulator:
    """The Deployment manifest itself, run by ``podself run``."""

    def test_deployment_pod_serves_info_and_stops(self, tmp_path: Path) -> None:
        """podself run -f k8s/deployment.yaml serves /info as pod selfaware-…, follows a
        podself label, and exits 0 on SIGTERM."""
        pytest.importorskip("podself.emulator.kubelet", reason="podself run is not available")
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for name, args in (("python", ""), ("podself", " -m podself")):
            launcher = bin_dir / name
            launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}"{args} "$@"\n')
            launcher.chmod(0o755)
        state = tmp_path / "state"
        env = {
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', os.defpath)}",
            "HOME": str(tmp_path),
            "APP_PORT": "0",
        }
        pod = AppProcess(
            [
                sys.executable,
                "-m",
                "podself",
                "run",
                "-f",
                "k8s/deployment.yaml",
                "--host-env",
                "--sync-delay",
                "0.2",
                "--grace",
                "5",
                "--state-dir",
                str(state),
            ],
            env,
        )
        try:
            port = pod.port()
            _, info = get(port, "/info")
            name = info["pod"]["name"]
            assert re.fullmatch(r"selfaware-[a-z0-9]+-[a-z0-9]{5}", name)
            assert info["workload"]["kind"] == "Deployment"
            assert info["plan"]["threads"] == info["server"]["threads"] == 4
            subprocess.run(
                [
                    *(sys.executable, "-m", "podself", "label", "pod", name),
                    *("feature-x=enabled", "--overwrite", "--state-dir", str(state)),
                ],
                check=True,
                capture_output=True,
                timeout=WAIT,
            )
            pod.wait_for("feature-x", lambda r: r.get("flag") == "feature-x")
            # An in-place resize reaches the running process: same pid, the new plan.
            subprocess.run(
                [
                    *(sys.executable, "-m", "podself", "resize", "pod", name),
                    *("--cpu", "1500m", "--memory", "1Gi", "--state-dir", str(state)),
                ],
                check=True,
                capture_output=True,
                timeout=WAIT,
            )
            resized = pod.wait_for("the new plan", lambda r: r["message"].startswith("resized"))
            assert resized["plan"]["cpu_millicores"] == 1500
            assert resized["plan"]["memory_mb"] == 1024
            _, after = get(port, "/info")
            assert after["server"]["pid"] == info["server"]["pid"]
            assert after["resources"]["cpu_limit"] == 1500
            assert pod.stop() == 0
        finally:
            pod.kill()
        assert [r["message"] for r in pod.records][-1] == "stopped"
        assert not state.exists() or list(state.iterdir()) == []

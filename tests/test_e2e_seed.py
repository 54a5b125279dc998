"""End to end: the seed's five exercises run verbatim on ``podself run``, plus its error paths.

The manifests are ``examples/seed/0*.yaml`` exactly as published; busybox commands run on the
host shell inside a private mount namespace, so ``cat /etc/podinfo/labels`` works as written.
The published output is checked line by line; where the published text and a real kubelet
differ (the labels file has no trailing newline, so the next echo continues its last line),
the kubelet's behaviour is expected.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from podself.emulator.mounts import namespace_support

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed"
NAMESPACES = namespace_support()

pytestmark = pytest.mark.skipif(
    NAMESPACES is not None,
    reason=f"the seed's absolute paths need a private mount namespace: {NAMESPACES}",
)


def podself(*args: str) -> list[str]:
    """The command line of the podself CLI."""
    return [sys.executable, "-m", "podself", *args]


class Running:
    """A ``podself run`` in the background whose output is collected as it comes."""

    def __init__(self, *args: str, state_dir: Path) -> None:
        self.proc = subprocess.Popen(
            podself("run", *args, "--state-dir", str(state_dir)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        self.out = ""
        self.err = ""
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read(self, stream: object, name: str) -> None:
        assert hasattr(stream, "read1")
        while chunk := stream.read1(4096):
            with self._lock:
                setattr(self, name, getattr(self, name) + chunk.decode("utf-8", "replace"))

    def wait_for(self, pattern: str, timeout: float) -> None:
        """Wait until stdout matches ``pattern`` (a regex), or fail."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if re.search(pattern, self.out):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"no {pattern!r} in output:\n{self.out}\nstderr:\n{self.err}")

    def finish(self, timeout: float = 30) -> int:
        """Wait for the run to exit; return its status."""
        code = self.proc.wait(timeout=timeout)
        for thread in self._threads:
            thread.join(timeout=5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code


def run(*args: str, state_dir: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run ``podself run`` to completion."""
    return subprocess.run(
        podself("run", *args, "--state-dir", str(state_dir)),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def seed_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[int, str, str]]:
    """Exercises 1, 2, 4 (twice) and 5, run side by side: name -> (status, stdout, stderr)."""
    tmp = tmp_path_factory.mktemp("seed")
    big = tmp / "04-resource-aware-big.yaml"
    text = (SEED / "04-resource-aware.yaml").read_text()
    big.write_text(
        text.replace('memory: "512Mi"', 'memory: "2Gi"').replace('cpu: "500m"', 'cpu: "2000m"')
    )
    jobs = {
        "01": [str(SEED / "01-env-variables.yaml"), "--timeout", "1.5", "--grace", "1"],
        "02": [str(SEED / "02-volume-metadata.yaml"), "--timeout", "1.5", "--grace", "1"],
        "04": [str(SEED / "04-resource-aware.yaml"), "--timeout", "20"],
        "04-big": [str(big), "--timeout", "20"],
        "05": [str(SEED / "05-multi-container.yaml"), "--timeout", "2", "--grace", "1"],
    }
    procs = {
        name: subprocess.Popen(
            podself("run", "-f", *args, "--state-dir", str(tmp / f"state-{name}")),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for name, args in jobs.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60)
        results[name] = (proc.returncode, out, err)
        assert list((tmp / f"state-{name}").iterdir()) == [], f"{name}: state left behind"
    return results


class TestSeedExercises:
    """The published output of each exercise."""

    def test_01_env_variables(self, seed_runs: dict[str, tuple[int, str, str]]) -> None:
        """Exercise 1 prints the pod name and IP from the env (then sleeps until stopped)."""
        code, out, _ = seed_runs["01"]
        assert code == 0
        assert out == "Pod: env-downward-demo, IP: 127.0.0.1\n"

    def test_02_volume_metadata(self, seed_runs: dict[str, tuple[int, str, str]]) -> None:
        """Exercise 2 cats the labels and annotations files from /etc/podinfo."""
        code, out, _ = seed_runs["02"]
        assert code == 0
        # No trailing newline in the files: each next echo continues their last line.
        assert out == (
            "=== All Labels ===\n"
            'app="myapp"\n'
            'environment="production"\n'
            'version="2.0"=== All Annotations ===\n'
            'build-id="build-456"\n'
            'team="platform-team"'
        )

    def test_04_resource_aware(self, seed_runs: dict[str, tuple[int, str, str]]) -> None:
        """Exercise 4 sizes from 512Mi/500m; ./app does not exist, as in busybox (127)."""
        code, out, err = seed_runs["04"]
        assert out.splitlines() == ["Workers: 1", "Cache: 128MB", "Connections: 16"]
        assert code == 127
        assert "./app" in err

    def test_04_resource_aware_big(self, seed_runs: dict[str, tuple[int, str, str]]) -> None:
        """With 2Gi/2000m the same script prints the seed's large configuration."""
        _, out, _ = seed_runs["04-big"]
        assert out.splitlines() == ["Workers: 2", "Cache: 512MB", "Connections: 64"]

    def test_05_multi_container(self, seed_runs: dict[str, tuple[int, str, str]]) -> None:
        """Exercise 5: the init container sizes from main-app; the monitor reads its limits."""
        code, out, err = seed_runs["05"]
        assert code == 0
        lines = out.splitlines()
        assert lines[:4] == [
            "[config-generator] Generated nginx config with 1 workers",
            "[monitor] Monitoring main-app",
            "[monitor] Main Memory: 1024MB",
            "[monitor] Main CPU: 1000m",
        ]
        assert re.fullmatch(r"\[monitor\] \[\d\d:\d\d:\d\d\] Health check", lines[4])
        assert 'container "main-app" has no command' in err

    def test_each_container_reads_its_own_limits(self, tmp_path: Path) -> None:
        """Exercise 5's shape after podself inject: an init container and a sidecar without
        limits report none of their own, and see the main container's as its limits."""
        info = ["sh", "-c", f"{sys.executable} -m podself info --json"]
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "two", "labels": {"app": "x"}},
            "spec": {
                "initContainers": [{"name": "init", "image": "busybox", "command": info}],
                "containers": [
                    {
                        "name": "main",
                        "image": "python",
                        "command": info,
                        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}},
                    },
                    {"name": "side", "image": "busybox", "command": info},
                ],
            },
        }
        manifest = tmp_path / "two.yaml"
        injected = subprocess.run(
            podself("inject", "-"),
            input=json.dumps(pod),
            capture_output=True,
            text=True,
            check=False,
        )
        assert injected.returncode == 0, injected.stderr
        manifest.write_text(injected.stdout)
        result = run("-f", str(manifest), "--timeout", "20", state_dir=tmp_path / "state")
        assert result.returncode == 0, result.stderr
        reports = {}
        for name in ("init", "main", "side"):
            prefix = f"[{name}] "
            text = "\n".join(
                line[len(prefix) :]
                for line in result.stdout.splitlines()
                if line.startswith(prefix)
            )
            reports[name] = json.loads(text)
        main_files = "/etc/podinfo/containers/main"
        for name in ("init", "side"):
            report = reports[name]
            assert report["container"] == name
            assert report["resources"]["cpu_limit"] != 1000
            assert report["sources"].get("resources.cpu_limit", {}).get("kind") != "downward"
            assert report["containers"]["main"]["cpu_limit"] == 1000
            assert report["containers"]["main"]["memory_limit"] == 512 << 20
            assert report["sources"]["containers.main.memory_limit"] == {
                "kind": "downward",
                "origin": f"{main_files}/mem_limit",
            }
        main = reports["main"]
        assert (main["resources"]["cpu_limit"], main["resources"]["memory_limit"]) == (
            1000,
            512 << 20,
        )

    def test_03_dynamic_update(self, tmp_path: Path) -> None:
        """Exercise 3: kubectl's label commands change the mounted labels file."""
        state = tmp_path / "state"
        pod = Running(
            "-f",
            str(SEED / "03-dynamic-update.yaml"),
            "--sync-delay",
            "0.2",
            "--grace",
            "1",
            state_dir=state,
        )
        try:
            pod.wait_for(r'LABELS CHANGED!\nstage="alpha"', timeout=15)
            listing = subprocess.run(
                podself("get", "pods", "--state-dir", str(state)),
                capture_output=True,
                text=True,
                check=True,
            )
            assert re.match(
                r"dynamic-update-demo\s+1/1\s+Running\s+0\s+\d+s$", listing.stdout.splitlines()[1]
            )
            refused = subprocess.run(
                podself(
                    "label", "pod", "dynamic-update-demo", "stage=beta", "--state-dir", str(state)
                ),
                capture_output=True,
                text=True,
                check=False,
            )
            assert refused.returncode == 1
            assert refused.stderr == (
                "error: 'stage' already has a value (alpha), and --overwrite is false\n"
            )
            beta = subprocess.run(
                podself(
                    "label",
                    "pod",
                    "dynamic-update-demo",
                    "stage=beta",
                    "--overwrite",
                    "--state-dir",
                    str(state),
                ),
                capture_output=True,
                text=True,
                check=True,
            )
            assert beta.stdout == "pod/dynamic-update-demo labeled\n"
            pod.wait_for(r'LABELS CHANGED!\nstage="beta"', timeout=15)
            subprocess.run(
                podself(
                    "label",
                    "pod",
                    "dynamic-update-demo",
                    "feature=new-api",
                    "--state-dir",
                    str(state),
                ),
                capture_output=True,
                text=True,
                check=True,
            )
            pod.wait_for(r'LABELS CHANGED!\nfeature="new-api"\nstage="beta"', timeout=15)
        finally:
            pod.proc.send_signal(signal.SIGTERM)
            code = pod.finish()
        assert code == 0
        changes = re.findall(r"\[[^\]]+\] LABELS CHANGED!", pod.out)
        assert len(changes) == 3
        assert list(state.iterdir()) == []


class TestErrorPaths:
    """What the API server or the kubelet would refuse, and clean shutdown."""

    def write(self, tmp_path: Path, obj: dict[str, object]) -> str:
        """Write a manifest (JSON is YAML) and return its path."""
        path = tmp_path / "pod.json"
        path.write_text(json.dumps(obj))
        return str(path)

    def pod(self, containers: list[dict[str, Any]], **spec: object) -> dict[str, object]:
        """A Pod manifest."""
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "err-demo"},
            "spec": {"containers": containers, **spec},
        }

    def test_invalid_field_path(self, tmp_path: Path) -> None:
        """The seed's troubleshooting case 3: the API server's message, status 2."""
        volumes = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]
                },
            }
        ]
        obj = self.pod([{"name": "app", "image": "busybox", "command": ["true"]}], volumes=volumes)
        result = run("-f", self.write(tmp_path, obj), state_dir=tmp_path / "state")
        assert result.returncode == 2
        assert result.stderr == (
            'The Pod "err-demo" is invalid: spec.volumes[0].downwardAPI.fieldRef.fieldPath: '
            'Unsupported value: "status.podIP": supported values: "metadata.annotations", '
            '"metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"\n'
        )

    def test_env_field_path_typo(self, tmp_path: Path) -> None:
        """The seed's troubleshooting case 1 (metadata.pod.name) is rejected up front."""
        env = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.pod.name"}}}]
        obj = self.pod([{"name": "app", "image": "busybox", "command": ["true"], "env": env}])
        result = run("-f", self.write(tmp_path, obj), state_dir=tmp_path / "state")
        assert result.returncode == 2
        assert result.stderr.startswith(
            'The Pod "err-demo" is invalid: spec.containers[0].env[0].valueFrom.fieldRef.fieldPath'
        )

    def test_path_traversal(self, tmp_path: Path) -> None:
        """An items[].path with '..' is refused and nothing is written."""
        volumes = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [{"path": "../../evil", "fieldRef": {"fieldPath": "metadata.name"}}]
                },
            }
        ]
        obj = self.pod([{"name": "app", "image": "busybox", "command": ["true"]}], volumes=volumes)
        result = run("-f", self.write(tmp_path, obj), state_dir=tmp_path / "state")
        assert result.returncode == 2
        assert (
            "spec.volumes[0].downwardAPI.path: Invalid value: \"../../evil\": must not contain '..'"
            in result.stderr
        )
        assert not (tmp_path / "state").exists() or list((tmp_path / "state").rglob("*")) == []
        assert not (tmp_path / "evil").exists()

    def test_missing_config_map_key(self, tmp_path: Path) -> None:
        """A missing ConfigMap key: the kubelet's CreateContainerConfigError, status 1."""
        config = tmp_path / "config.yaml"
        config.write_text(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  mode: fast\n"
        )
        env = [
            {
                "name": "LEVEL",
                "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "level"}},
            }
        ]
        obj = self.pod(
            [{"name": "app", "image": "busybox", "command": ["echo", "ran"], "env": env}]
        )
        result = run(
            "-f", self.write(tmp_path, obj), "-f", str(config), state_dir=tmp_path / "state"
        )
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            'podself run: container "app": CreateContainerConfigError: '
            "couldn't find key level in ConfigMap default/app-config\n"
        )

    def test_failing_init_container(self, tmp_path: Path) -> None:
        """A failing init container stops the pod with its exit code."""
        obj = self.pod(
            [{"name": "app", "image": "busybox", "command": ["echo", "app ran"]}],
            initContainers=[
                {"name": "migrate", "image": "busybox", "command": ["sh", "-c", "exit 3"]}
            ],
        )
        result = run("-f", self.write(tmp_path, obj), state_dir=tmp_path / "state")
        assert result.returncode == 3
        assert "app ran" not in result.stdout
        assert 'init container "migrate" failed with exit code 3' in result.stderr

    def test_container_killed_by_signal(self, tmp_path: Path) -> None:
        """A container that dies of SIGKILL makes podself run exit 137."""
        obj = self.pod(
            [{"name": "app", "image": "busybox", "command": ["sh", "-c", "kill -KILL $$$$"]}]
        )
        result = run("-f", self.write(tmp_path, obj), state_dir=tmp_path / "state")
        assert result.returncode == 137

    def test_sigterm_cleans_up_everything(self, tmp_path: Path) -> None:
        """SIGTERM stops every container; no process, mount or file is left behind."""
        marker = f"podself-e2e-{uuid.uuid4().hex}"
        mount_path = f"/etc/{marker}"
        volumes = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
                },
            },
            {"name": "scratch", "emptyDir": {}},
        ]
        script = f"sleep 3600 & echo up; cat {mount_path}/labels; wait; echo {marker}"
        containers = [
            {
                "name": name,
                "image": "busybox",
                "command": ["sh", "-c", script],
                "volumeMounts": [
                    {"name": "podinfo", "mountPath": mount_path},
                    {"name": "scratch", "mountPath": "/scratch"},
                ],
            }
            for name in ("one", "two")
        ]
        obj = self.pod(containers, volumes=volumes)
        obj["metadata"] = {"name": "err-demo", "labels": {"run": marker}}
        state = tmp_path / "state"
        mounts_before = Path("/proc/self/mountinfo").read_text()
        pod = Running("-f", self.write(tmp_path, obj), "--grace", "5", state_dir=state)
        try:
            pod.wait_for(r"\[one\] up", timeout=15)
            pod.wait_for(r"\[two\] up", timeout=15)
            assert list(state.rglob("pod.json"))
        finally:
            pod.proc.send_signal(signal.SIGTERM)
            code = pod.finish()
        assert code == 0
        assert f'run="{marker}"' in pod.out
        assert not os.path.exists(mount_path)
        assert not os.path.exists("/scratch")
        assert list(state.iterdir()) == []
        assert Path("/proc/self/mountinfo").read_text() == mounts_before
        leftovers = []
        for proc_dir in Path("/proc").iterdir():
            if proc_dir.name.isdigit():
                try:
                    cmdline = (proc_dir / "cmdline").read_bytes()
                except OSError:
                    continue
                if marker.encode() in cmdline:
                    leftovers.append(proc_dir.name)
        assert leftovers == []

"""podself.emulator.kubelet: running a pod in-process, from manifest to exit status."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podself.emulator import kubelet as kubelet_module
from podself.emulator import tracking as tracking_module
from podself.emulator.kubelet import (
    Kubelet,
    RunOptions,
    load_manifests,
    merge_applied,
    select_workload,
)
from podself.emulator.mounts import namespace_support
from podself.emulator.state import PodState
from podself.emulator.supervisor import Supervisor
from podself.emulator.tracking import ContainerProcess, ProcessTracker
from podself.emulator.volumes import VolumeSet
from podself.errors import ManifestError
from tests.test_emulator_supervisor import marked, running

NAMESPACES = namespace_support()
needs_namespaces = pytest.mark.skipif(
    NAMESPACES is not None, reason=f"no mount namespaces here: {NAMESPACES}"
)


def manifest(tmp_path: Path, text: str, name: str = "pod.yaml") -> str:
    """Write a manifest and return its path."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def pod_json(
    command: str,
    *,
    name: str = "demo",
    container: dict[str, Any] | None = None,
    spec: dict[str, Any] | None = None,
) -> str:
    """A one-container pod running ``sh -c command``, as JSON text."""
    obj = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "busybox:1.36",
                    "command": ["sh", "-c", command],
                    **(container or {}),
                }
            ],
            **(spec or {}),
        },
    }
    return json.dumps(obj)


PODINFO = {
    "volumes": [
        {
            "name": "podinfo",
            "downwardAPI": {
                "items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]
            },
        }
    ]
}


class Run:
    """The result of an in-process run."""

    def __init__(self, code: int, out: bytes, err: str) -> None:
        self.code = code
        self.out = out.decode()
        self.err = err


def run_pod(
    tmp_path: Path, files: list[str], capfd: pytest.CaptureFixture[str], **options: Any
) -> Run:
    """Run a pod with a private state directory; collect its exit status and output."""
    out = io.BytesIO()
    err = io.StringIO()
    options.setdefault("state_dir", str(tmp_path / "state"))
    options.setdefault("grace", 2.0)
    options.setdefault("timeout", 20.0)
    code = Kubelet(RunOptions(files=files, **options), out=out, err=err).run()
    captured = capfd.readouterr()
    state_root = Path(options["state_dir"])
    if state_root.exists():
        assert list(state_root.iterdir()) == [], "the pod's state directory is left behind"
    return Run(code, out.getvalue() + captured.out.encode(), err.getvalue() + captured.err)


class TestManifests:
    """Reading and choosing what to run."""

    def test_lists_and_objects(self, tmp_path: Path) -> None:
        """List items are opened; ConfigMaps and workloads are both collected."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}, data: {a: "1"}}
            - {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {containers: []}}
            """,
        )
        loaded = load_manifests([path])
        assert [w.ref for _, w in loaded.workloads] == ["Pod/p"]
        assert [o["kind"] for o in loaded.objects_raw] == ["ConfigMap", "Pod"]

    def test_select(self, tmp_path: Path) -> None:
        """One workload is chosen by name and kind; ambiguity and absence are errors."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: v1
            kind: Pod
            metadata: {name: a}
            spec: {containers: []}
            ---
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: a}
            spec: {template: {spec: {containers: []}}}
            """,
        )
        workloads = load_manifests([path]).workloads
        assert select_workload(workloads, None, "deployments")[1].kind == "Deployment"
        assert select_workload(workloads, "a", "Pod")[1].kind == "Pod"
        with pytest.raises(ManifestError, match="several workloads: Pod/a, Deployment/a"):
            select_workload(workloads, None, None)
        with pytest.raises(ManifestError, match=r'no workload named "b" \(found: Pod/a'):
            select_workload(workloads, "b", None)
        with pytest.raises(ManifestError, match="no Pod or workload"):
            select_workload([], None, None)

    def test_merge_applied(self) -> None:
        """kubectl apply's merge keeps keys added by others and drops keys removed here."""
        live = {"app": "web", "stage": "beta", "extra": "1"}
        assert merge_applied(live, {"app": "web", "extra": "1"}, {"app": "api"}) == {
            "app": "api",
            "stage": "beta",
        }


class TestExitStatus:
    """What podself run returns."""

    def test_success(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A container that succeeds gives 0, with its output on stdout."""
        result = run_pod(tmp_path, [manifest(tmp_path, pod_json("echo hello"))], capfd)
        assert (result.code, result.out) == (0, "hello\n")

    def test_failure_code(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A failed container's exit code is returned."""
        result = run_pod(tmp_path, [manifest(tmp_path, pod_json("exit 7"))], capfd)
        assert result.code == 7

    def test_signal_death(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A container killed by a signal gives 128 + N ($$$$ is $$ after expansion)."""
        result = run_pod(tmp_path, [manifest(tmp_path, pod_json("kill -KILL $$$$"))], capfd)
        assert result.code == 137

    def test_timeout_stops_and_returns_zero(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """--timeout stops a long-running pod; being stopped is not a failure."""
        path = manifest(tmp_path, pod_json("echo up; sleep 60"))
        start = time.monotonic()
        result = run_pod(tmp_path, [path], capfd, timeout=0.5)
        assert (result.code, result.out) == (0, "up\n")
        assert time.monotonic() - start < 15

    def test_invalid_manifest(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """An API validation error prints kubectl's message and returns 2."""
        volumes = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [{"path": "ip", "fieldRef": {"fieldPath": "status.podIP"}}]
                },
            }
        ]
        text = pod_json("true", spec={"volumes": volumes})
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert result.code == 2
        assert result.err.startswith(
            'The Pod "demo" is invalid: spec.volumes[0].downwardAPI.fieldRef.fieldPath: '
            'Unsupported value: "status.podIP"'
        )

    def test_label_value_that_is_not_a_string(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An unquoted number as a label value fails to decode, as on the API server."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: v1
            kind: Pod
            metadata: {name: p, labels: {version: 1.0}}
            spec: {containers: [{name: app, image: busybox, command: ["true"]}]}
            """,
        )
        result = run_pod(tmp_path, [path], capfd)
        assert result.code == 2
        assert result.err == (
            f'Error from server (BadRequest): error when creating "{path}": Pod in version "v1" '
            "cannot be handled as a Pod: json: cannot unmarshal number into Go struct field "
            "ObjectMeta.metadata.labels of type string\n"
        )

    def test_yaml_boolean_in_env_value(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """`value: y` is a boolean to kubectl: the API server refuses the Deployment while
        decoding it, with its own message, and nothing else is reported."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              selector: {matchLabels: {app: web}}
              template:
                metadata: {labels: {app: web}}
                spec:
                  containers:
                  - name: app
                    image: busybox
                    env: [{name: VERBOSE, value: y}, {name: "bad=name", value: "x"}]
            """,
        )
        result = run_pod(tmp_path, [path], capfd)
        assert result.code == 2
        assert result.err == (
            f'Error from server (BadRequest): error when creating "{path}": Deployment in version '
            '"v1" cannot be handled as a Deployment: json: cannot unmarshal bool into Go struct '
            "field EnvVar.spec.template.spec.containers.env.value of type string\n"
        )

    def test_invalid_label_value(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A label value the API server would refuse stops the run with its message."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            spec:
              template:
                metadata: {labels: {app: "Bad Value"}}
                spec: {containers: [{name: app, image: busybox, command: ["true"]}]}
            """,
        )
        result = run_pod(tmp_path, [path], capfd)
        assert result.code == 2
        assert result.err.startswith(
            'The Deployment "web" is invalid: spec.template.labels: Invalid value: '
            '"Bad Value": a valid label must be an empty string'
        )

    @pytest.mark.parametrize(
        ("namespace", "name", "flag"),
        [
            ("../../outside", "victim", None),
            ("/", "victim", None),
            ("default", "..", None),
            ("default", "../outside/victim", None),
            ("default", "victim", "../../outside"),
        ],
    )
    def test_hostile_names_touch_nothing(
        self,
        tmp_path: Path,
        capfd: pytest.CaptureFixture[str],
        namespace: str,
        name: str,
        flag: str | None,
    ) -> None:
        """A name or namespace that would leave the state directory is refused with the API
        server's message before anything is created or deleted."""
        victim = tmp_path / "outside" / "victim"
        victim.mkdir(parents=True)
        (victim / "keep").write_text("data")
        path = manifest(
            tmp_path,
            f"""\
            apiVersion: v1
            kind: Pod
            metadata: {{name: "{name}", namespace: "{namespace}"}}
            spec: {{containers: [{{name: app, image: busybox, command: ["true"]}}]}}
            """,
        )
        state = tmp_path / "state" / "deep"
        result = run_pod(tmp_path, [path], capfd, namespace=flag, state_dir=str(state))
        assert result.code == 2
        assert result.err.startswith(f'The Pod "{name}" is invalid: metadata.')
        assert (victim / "keep").read_text() == "data"
        assert not (tmp_path / "state").exists()

    def test_config_map_key_that_leaves_the_volume(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A ConfigMap key that is not a config key is refused as the API server refuses the
        ConfigMap, before any volume is written."""
        path = manifest(
            tmp_path,
            """\
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: cfg}
            data: {"../../evil": "x"}
            ---
            apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              containers: [{name: app, image: busybox, command: ["true"]}]
            """,
        )
        result = run_pod(tmp_path, [path], capfd)
        assert result.code == 2
        assert result.err.startswith(
            'The ConfigMap "cfg" is invalid: \n* data[../../evil]: Invalid value: "../../evil": '
            "a valid config key must consist of"
        )
        assert not (tmp_path / "state").exists()
        assert not list(tmp_path.rglob("evil"))

    def test_unreadable_manifest(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A missing file or bad YAML returns 2 with file and reason."""
        result = run_pod(tmp_path, [str(tmp_path / "absent.yaml")], capfd)
        assert result.code == 2
        assert "cannot read" in result.err
        bad = manifest(tmp_path, "kind: Pod\n  bad: [", "bad.yaml")
        result = run_pod(tmp_path, [bad], capfd)
        assert result.code == 2
        assert "bad.yaml:" in result.err

    def test_config_error(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A missing ConfigMap key stops the pod before it starts (exit 1)."""
        env = [
            {
                "name": "LEVEL",
                "valueFrom": {"configMapKeyRef": {"name": "app-config", "key": "level"}},
            }
        ]
        cfg = manifest(
            tmp_path,
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app-config}\ndata: {mode: x}\n",
            "cfg.yaml",
        )
        path = manifest(tmp_path, pod_json("echo started", container={"env": env}))
        result = run_pod(tmp_path, [path, cfg], capfd)
        assert result.code == 1
        assert (
            'container "app": CreateContainerConfigError: couldn\'t find key level in '
            "ConfigMap default/app-config"
        ) in result.err
        assert "started" not in result.out

    def test_start_error(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A command that does not exist is a StartError (128)."""
        text = pod_json("x", container={"command": ["no-such-binary-xyz"]})
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert result.code == 128
        assert 'StartError: exec: "no-such-binary-xyz"' in result.err

    def test_already_running(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A pod name already in use by a live run is refused."""
        state = PodState(str(tmp_path / "state"), "default", "demo")
        state.create({"metadata": {"name": "demo"}})
        out, err = io.BytesIO(), io.StringIO()
        options = RunOptions(
            files=[manifest(tmp_path, pod_json("true"))], state_dir=str(tmp_path / "state")
        )
        assert Kubelet(options, out=out, err=err).run() == 1
        assert err.getvalue() == ('Error from server (AlreadyExists): pods "demo" already exists\n')
        assert state.exists()


class TestContainers:
    """Init containers, skipped containers, sidecars and prefixes."""

    TWO = """\
    apiVersion: v1
    kind: Pod
    metadata: {name: two}
    spec:
      initContainers:
      - name: init
        image: busybox
        command: ["sh", "-c", "echo init; exit $(CODE)"]
        env: [{name: CODE, value: "0"}]
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo main"]
      - name: web
        image: nginx
        args: ["--port", "80"]
    """

    def test_order_prefix_and_skip(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """Init runs first; lines are prefixed; a container without command is skipped."""
        result = run_pod(tmp_path, [manifest(tmp_path, self.TWO)], capfd)
        assert result.code == 0
        assert result.out.splitlines() == ["[init] init", "[main] main"]
        assert 'container "web" has no command' in result.err
        assert "--entrypoint web=CMD" in result.err

    def test_init_failure(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """A failing init container stops the pod; the containers never start."""
        text = self.TWO.replace('value: "0"', 'value: "5"')
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert result.code == 5
        assert result.out.splitlines() == ["[init] init"]
        assert 'init container "init" failed with exit code 5' in result.err

    def test_entrypoint(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """--entrypoint gives a command-less container its entrypoint; args are appended."""
        result = run_pod(
            tmp_path,
            [manifest(tmp_path, self.TWO)],
            capfd,
            entrypoints={"web": "echo served"},
        )
        assert "[web] served --port 80" in result.out.splitlines()

    def test_entrypoint_for_unknown_container(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """--entrypoint naming no container is a usage error."""
        result = run_pod(
            tmp_path, [manifest(tmp_path, self.TWO)], capfd, entrypoints={"nope": "true"}
        )
        assert result.code == 2
        assert 'the pod has no container "nope"' in result.err

    def test_sidecar_is_stopped_after_main(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An init container with restartPolicy Always runs beside main and is then stopped."""
        text = """\
        apiVersion: v1
        kind: Pod
        metadata: {name: side}
        spec:
          initContainers:
          - name: proxy
            image: busybox
            restartPolicy: Always
            command: ["sh", "-c", "echo proxy up; sleep 60"]
          containers:
          - name: main
            image: busybox
            command: ["sh", "-c", "sleep 0.3; echo main done"]
        """
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, grace=1.0)
        assert result.code == 0
        assert result.out.splitlines() == ["[proxy] proxy up", "[main] main done"]


class TestEnvironment:
    """What a container sees."""

    def test_kubelet_env(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """HOSTNAME is the pod name, fieldRefs resolve, the host env is not inherited."""
        os.environ["PODSELF_TEST_SECRET"] = "leak"
        try:
            env = [
                {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "IPS", "valueFrom": {"fieldRef": {"fieldPath": "status.podIPs"}}},
            ]
            text = pod_json(
                "echo $HOSTNAME $NS $IPS ${PODSELF_TEST_SECRET:-clean}", container={"env": env}
            )
            path = manifest(tmp_path, text)
            result = run_pod(
                tmp_path, [path], capfd, pod_ips=["10.1.0.5", "fd00::5"], namespace="dev"
            )
            assert result.out == "demo dev 10.1.0.5,fd00::5 clean\n"
            result = run_pod(tmp_path, [path], capfd, host_env=True)
            assert result.out.split()[-1] == "leak"
        finally:
            del os.environ["PODSELF_TEST_SECRET"]

    def test_no_namespace_mode(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """Without a namespace, volumes are under $PODSELF_ROOT and a warning is printed."""
        text = pod_json(
            'cat "$PODSELF_ROOT/etc/podinfo/labels"; test -e /etc/podinfo/labels',
            container={"volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}]},
            spec=PODINFO,
        )
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, no_namespace=True)
        assert result.out == 'app="demo"'
        assert result.code == 1  # /etc/podinfo does not exist on the host
        assert "its command names /etc/podinfo" in result.err

    def test_fallback_without_namespaces(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When the namespace probe fails, the run falls back to PODSELF_ROOT and says why."""
        import podself.emulator.kubelet as kubelet_module

        monkeypatch.setattr(kubelet_module, "probe_namespace", lambda _: "needs root (test)")
        text = pod_json(
            'cat "$PODSELF_ROOT/etc/podinfo/labels"',
            container={"volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}]},
            spec=PODINFO,
        )
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert (result.code, result.out) == (0, 'app="demo"')
        assert "no private mount namespace (needs root (test))" in result.err

    @needs_namespaces
    def test_namespace_mode(self, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
        """In a namespace the volume is at its mountPath and the host is untouched."""
        mounts = [{"name": "podinfo", "mountPath": "/etc/podself-kubelet-test"}]
        text = pod_json(
            "cat /etc/podself-kubelet-test/labels; hostname",
            container={"volumeMounts": mounts},
            spec=PODINFO,
        )
        before = Path("/proc/self/mountinfo").read_text()
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert (result.code, result.out) == (0, 'app="demo"demo\n')
        assert not os.path.exists("/etc/podself-kubelet-test")
        assert Path("/proc/self/mountinfo").read_text() == before

    @needs_namespaces
    def test_shm_and_state_root_stay_private(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """/dev/shm is the pod's (shared by its containers), the state root is hidden."""
        marker = f"podself-shm-{os.getpid()}"
        state = tmp_path / "state"
        obj = json.loads(
            pod_json(
                f"echo shared > /dev/shm/{marker}; ls -A {state} | wc -l; "
                f"touch {state}/planted 2>/dev/null || echo refused"
            )
        )
        obj["spec"]["containers"].append(
            {
                "name": "reader",
                "image": "busybox:1.36",
                "command": ["sh", "-c", f"while [ ! -e /dev/shm/{marker} ]; do sleep 0.05; done"],
            }
        )
        try:
            result = run_pod(tmp_path, [manifest(tmp_path, json.dumps(obj))], capfd)
            assert result.code == 0, result.err
            assert result.out.splitlines() == ["[app] 0", "[app] refused"]
            assert not os.path.exists(f"/dev/shm/{marker}")
            assert not (state / "planted").exists()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"/dev/shm/{marker}")

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tracking is Linux")
    @pytest.mark.parametrize("no_namespace", [False, True], ids=["default", "no-namespace"])
    def test_stop_leaves_no_escaped_process(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], no_namespace: bool
    ) -> None:
        """Processes that left the container's group (setsid, double fork) end with the pod."""
        marker = f"podself-stop-{os.getpid()}-{no_namespace}"
        hold = f"sh -c 'while :; do sleep 1; done' {marker}"
        text = pod_json(f"setsid {hold} & ({hold} &); echo ready; sleep 1000")
        try:
            result = run_pod(
                tmp_path, [manifest(tmp_path, text)], capfd, timeout=0.5, no_namespace=no_namespace
            )
            assert (result.code, result.out) == (0, "ready\n")
            assert marked(marker) == []
        finally:
            for pid in marked(marker):
                os.kill(pid, signal.SIGKILL)

    def test_a_container_that_never_exits_does_not_hang_podself(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If SIGKILL does not end a container (stuck in the kernel), podself still ends."""
        killed: list[ContainerProcess] = []
        monkeypatch.setattr(kubelet_module, "_KILL_LINGER", 0.2)
        monkeypatch.setattr(Supervisor, "kill", lambda self, process: killed.append(process))
        text = pod_json("trap '' TERM; echo ready; while :; do sleep 0.05; done")
        try:
            result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, timeout=0.5, grace=0.1)
        finally:
            for process in killed:
                if process.popen is not None and process.popen.poll() is None:
                    os.killpg(process.popen.pid, signal.SIGKILL)
                    process.popen.wait()
        assert killed
        assert 'container "app" did not exit after SIGKILL' in result.err


class TestLiveChanges:
    """Labels changed while the pod runs."""

    WATCH = """\
    apiVersion: v1
    kind: Pod
    metadata:
      name: live
      labels: {stage: alpha}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c"]
        args:
        - |
          last=""
          while :; do
            now=$(cat "$PODSELF_ROOT/etc/podinfo/labels" | tr '\\n' ' ')
            if [ "$now" != "$last" ]; then echo "$now"; last=$now; fi
            case "$now" in *gamma*) exit 0;; esac
            sleep 0.05
          done
        volumeMounts:
        - {name: podinfo, mountPath: /etc/podinfo}
      volumes:
      - name: podinfo
        downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
    """

    def test_label_and_manifest_edits(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """pod.json edits and manifest edits reach the volume; apply's merge keeps others."""
        path = manifest(tmp_path, self.WATCH)
        state = PodState(str(tmp_path / "state"), "default", "live")

        def change_labels() -> None:
            deadline = time.monotonic() + 10
            while not state.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)

            def add(pod: dict[str, Any]) -> None:
                pod["metadata"]["labels"]["feature"] = "new-api"

            state.update_pod(add)
            time.sleep(0.5)
            Path(path).write_text(Path(path).read_text().replace("stage: alpha", "stage: gamma"))

        thread = threading.Thread(target=change_labels)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            thread.join()
        assert result.code == 0
        assert result.out.splitlines() == [
            'stage="alpha"',
            'feature="new-api" stage="alpha"',
            'feature="new-api" stage="gamma"',
        ]

    def test_invalid_manifest_edit_is_ignored(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An edit with a label the API server would refuse changes nothing; a later valid
        edit still applies."""
        path = manifest(tmp_path, self.WATCH)
        state = PodState(str(tmp_path / "state"), "default", "live")

        def edit() -> None:
            deadline = time.monotonic() + 10
            while not state.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            text = Path(path).read_text()
            Path(path).write_text(text.replace("stage: alpha", "stage: 'bad value'"))
            time.sleep(0.5)
            Path(path).write_text(text.replace("stage: alpha", "stage: gamma"))

        thread = threading.Thread(target=edit)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            thread.join()
        assert result.code == 0
        assert result.out.splitlines() == ['stage="alpha"', 'stage="gamma"']
        assert (
            'ignoring the edited manifest: The Pod "live" is invalid: metadata.labels: '
            'Invalid value: "bad value"'
        ) in result.err

    def test_manifest_edit_with_a_hand_edited_pod_json(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A pod.json whose resourceVersion is not a number fails that edit with a message
        naming the file; the pod runs on and takes the next edit."""
        path = manifest(tmp_path, self.WATCH)
        state = PodState(str(tmp_path / "state"), "default", "live")

        def edit() -> None:
            deadline = time.monotonic() + 10
            while not state.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            good = state.read_pod()
            state.write_pod(dict(good, metadata=dict(good["metadata"], resourceVersion="zz")))
            text = Path(path).read_text()
            Path(path).write_text(text.replace("stage: alpha", "stage: gamma"))
            time.sleep(0.5)
            state.write_pod(good)
            Path(path).write_text(text.replace("stage: alpha", "stage: gamma") + "# again\n")

        thread = threading.Thread(target=edit)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            thread.join()
        assert result.code == 0
        assert result.out.splitlines() == ['stage="alpha"', 'stage="gamma"']
        assert "cannot apply the edited manifest: pod state file" in result.err
        assert "metadata.resourceVersion must be a decimal number, not 'zz'" in result.err
        assert "Traceback" not in result.err

    def test_manifest_replaced_by_a_fifo(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A FIFO put in the manifest's place is not opened for reading (the open blocked
        the whole run: --timeout and signals with it); the pod runs to its end."""
        path = manifest(tmp_path, pod_json("sleep 1", name="fifo"))
        state = PodState(str(tmp_path / "state"), "default", "fifo")
        finished = threading.Event()

        def replace() -> None:
            deadline = time.monotonic() + 10
            while not state.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            os.unlink(path)
            os.mkfifo(path)
            # Without the fix the run waits in open(): let it go once the pod should be over.
            if not finished.wait(10):
                with contextlib.suppress(OSError):
                    os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

        thread = threading.Thread(target=replace)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            finished.set()
            thread.join()
        assert result.code == 0
        assert f"ignoring the edited manifest: {path}: not a regular file any more" in result.err


def wait_running(state: PodState) -> None:
    """Until the pod's first container runs (its env and first volume read are done)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        statuses = state.read_status().get("containerStatuses") or [{}]
        if "running" in statuses[0].get("state", {}):
            return
        time.sleep(0.02)


class TestResize:
    """cpu and memory resources changed in pod.json while the pod runs (podself resize)."""

    POD = """\
    apiVersion: v1
    kind: Pod
    metadata: {name: resized}
    spec:
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c"]
        args:
        - |
          last=""
          while :; do
            now="$(cat "$PODSELF_ROOT/etc/podinfo/cpu") env=$CPU"
            if [ "$now" != "$last" ]; then echo "$now"; last=$now; fi
            case "$now" in 3000*) exit 0;; esac
            sleep 0.05
          done
        env:
        - name: CPU
          valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
        resources:
          limits: {cpu: 500m, memory: 64Mi}
        volumeMounts:
        - {name: podinfo, mountPath: /etc/podinfo}
      volumes:
      - name: podinfo
        downwardAPI:
          items:
          - {path: cpu, resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
    """

    def test_resize_without_cgroups(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without cgroups the volume still follows and podself run says the limits are not
        enforced; a value pod.json cannot hold as a quantity is ignored with a message."""
        monkeypatch.setattr(tracking_module, "_own_cgroup", lambda: None)
        path = manifest(tmp_path, self.POD)
        state = PodState(str(tmp_path / "state"), "default", "resized")

        def resize(cpu: str) -> None:
            def change(pod: dict[str, Any]) -> None:
                limits = pod["spec"]["containers"][0]["resources"]["limits"]
                limits["cpu"] = cpu

            state.update_pod(change)
            time.sleep(0.4)

        def resizes() -> None:
            wait_running(state)
            for cpu in ("2", "lots", "3"):
                resize(cpu)

        thread = threading.Thread(target=resizes)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            thread.join()
        assert result.code == 0, result.err
        assert result.out.splitlines() == ["500 env=500", "2000 env=500", "3000 env=500"]
        assert 'container "app" resized in place: limits cpu=2,memory=64Mi' in result.err
        assert 'container "app": cpu and memory limits not enforced: ' in result.err
        assert (
            "container \"app\": resize ignored: resources.limits[cpu] 'lots': not a quantity"
            in result.err
        )

    ONCE = """\
    apiVersion: v1
    kind: Pod
    metadata: {name: resized}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, 'echo "$(cat "$PODSELF_ROOT/etc/podinfo/cpu") env=$CPU"; sleep 3']
        env:
        - name: CPU
          valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
        resources:
          limits: {cpu: 500m, memory: 64Mi}
        volumeMounts:
        - {name: podinfo, mountPath: /etc/podinfo}
      volumes:
      - name: podinfo
        downwardAPI:
          items:
          - {path: cpu, resourceFieldRef: {containerName: app, resource: limits.cpu, divisor: 1m}}
    """

    def test_cgroups_at_once_volumes_after_the_sync_delay(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A resize is actuated as soon as pod.json changes (the status says so); the volume
        follows only after --sync-delay, as label changes do."""
        path = manifest(tmp_path, self.ONCE)
        state = PodState(str(tmp_path / "state"), "default", "resized")
        seen: list[tuple[Any, str]] = []

        def resize() -> None:
            wait_running(state)

            def change(pod: dict[str, Any]) -> None:
                pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "2"

            state.update_pod(change)
            deadline = time.monotonic() + 5
            limits: Any = None
            while time.monotonic() < deadline:
                statuses = state.read_status().get("containerStatuses") or [{}]
                limits = statuses[0].get("resources", {}).get("limits")
                if limits and limits["cpu"] == "2":
                    break
                time.sleep(0.02)
            volume = Path(state.volumes_dir, "podinfo", "cpu").read_text()
            seen.append((limits, volume))

        thread = threading.Thread(target=resize)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=60.0)
        finally:
            thread.join()
        assert result.code == 0, result.err
        assert seen == [({"cpu": "2", "memory": "64Mi"}, "500")]
        assert result.out.splitlines() == ["500 env=500"]

    def test_resize_before_the_watches(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A change of pod.json while podself run is still setting the pod up (its state
        exists, so podself resize or label accept it) is not lost: here the container starts
        with the new resources."""
        setup = Kubelet._setup_watches

        def change(pod: dict[str, Any]) -> None:
            pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "2"

        def late(kubelet: Kubelet) -> None:
            assert kubelet.state is not None
            kubelet.state.update_pod(change)  # lands just before the watches are set up
            setup(kubelet)

        monkeypatch.setattr(Kubelet, "_setup_watches", late)
        path = manifest(tmp_path, self.ONCE.replace("sleep 3", "true"))
        result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        assert result.code == 0, result.err
        assert result.out.splitlines() == ["2000 env=2000"]

    def test_memory_below_usage_stays_in_progress_and_is_retried(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A limit the container's cgroup refuses (below its usage) leaves the resize in
        progress, with the kubelet's condition and the old limit in the status; the next
        change of the pod tries again."""
        refuse = threading.Event()
        refuse.set()
        prepare = ProcessTracker.prepare

        def fake_prepare(self: ProcessTracker, process: ContainerProcess) -> None:
            prepare(self, process)
            process.limit_dirs = {"memory": str(tmp_path / "no-such-cgroup")}

        def fake_set_limits(self: ProcessTracker, process: ContainerProcess, values: Any) -> Any:
            if values.memory_limit_bytes == 1024 and refuse.is_set():
                usage = "is below the container's usage (4096 bytes): not lowered"
                return [f"memory limit 1024 bytes {usage}"]
            return []

        monkeypatch.setattr(ProcessTracker, "prepare", fake_prepare)
        monkeypatch.setattr(ProcessTracker, "set_limits", fake_set_limits)
        path = manifest(tmp_path, self.POD)
        state = PodState(str(tmp_path / "state"), "default", "resized")
        seen: list[Any] = []

        def status_when(check: Any) -> dict[str, Any]:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                status = state.read_status()
                if check(status):
                    return status
                time.sleep(0.02)
            return {}

        def steps() -> None:
            wait_running(state)

            def memory(pod: dict[str, Any]) -> None:
                pod["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1Ki"

            state.update_pod(memory)
            seen.append(status_when(lambda s: s.get("conditions")))
            refuse.clear()
            state.update_pod(lambda pod: pod["metadata"].setdefault("labels", {}).update(a="b"))
            seen.append(status_when(lambda s: s and not s.get("conditions")))

            def finish(pod: dict[str, Any]) -> None:
                pod["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "3"

            state.update_pod(finish)

        thread = threading.Thread(target=steps)
        thread.start()
        try:
            result = run_pod(tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0)
        finally:
            thread.join()
        assert result.code == 0, result.err
        assert result.out.splitlines() == ["500 env=500", "3000 env=500"]
        pending, done = seen
        assert pending["conditions"] == [
            {
                "type": "PodResizeInProgress",
                "status": "True",
                "reason": "Error",
                "message": 'container "app": memory limit 1024 bytes is below the container\'s '
                "usage (4096 bytes): not lowered",
            }
        ]
        status = pending["containerStatuses"][0]
        assert status["resources"]["limits"] == {"cpu": "500m", "memory": "64Mi"}
        assert status["allocatedResources"] == {"cpu": "500m", "memory": "64Mi"}
        assert done["containerStatuses"][0]["resources"]["limits"]["memory"] == "1Ki"
        assert 'container "app": resize in progress: memory limit 1024 bytes' in result.err
        assert 'container "app": resize completed' in result.err

    RESTART = """\
    apiVersion: v1
    kind: Pod
    metadata: {name: restarted}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: app
        image: busybox
        command: ["sh", "-c", "echo start $MEM; [ $MEM = 128 ] && exit 0; trap '' TERM; sleep 1000"]
        env:
        - name: MEM
          valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
        resources:
          limits: {cpu: 500m, memory: 64Mi}
        resizePolicy:
        - {resourceName: memory, restartPolicy: RestartContainer}
    """

    def test_restart_container_policy(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A changed resource whose resizePolicy is RestartContainer restarts the container
        (SIGKILL after the grace period when it ignores SIGTERM) with env from the new
        resources; a cpu change with NotRequired does not."""
        path = manifest(tmp_path, self.RESTART)
        state = PodState(str(tmp_path / "state"), "default", "restarted")
        statuses: list[dict[str, Any]] = []

        def change(pod: dict[str, Any], name: str, value: str) -> None:
            pod["spec"]["containers"][0]["resources"]["limits"][name] = value

        def resizes() -> None:
            wait_running(state)
            state.update_pod(lambda pod: change(pod, "cpu", "1"))
            time.sleep(0.4)
            statuses.append(state.read_status())
            state.update_pod(lambda pod: change(pod, "memory", "128Mi"))

        thread = threading.Thread(target=resizes)
        thread.start()
        try:
            result = run_pod(
                tmp_path, [path], capfd, no_namespace=True, sync_delay=0.0, grace=None, verbose=True
            )
        finally:
            thread.join()
        assert result.code == 0, result.err
        assert result.out.splitlines() == ["start 64", "start 128"]
        assert statuses[0]["containerStatuses"][0]["restartCount"] == 0
        assert 'container "app" resized in place: limits cpu=1,memory=64Mi' in result.err
        assert (
            'container "app" resized: limits cpu=1,memory=128Mi requests cpu=500m,memory=64Mi '
            "(was limits cpu=1,memory=64Mi requests cpu=500m,memory=64Mi); restarting it "
            "(resizePolicy RestartContainer for memory)"
        ) in result.err
        assert 'container "app" stopped (exit code 137); restarting' in result.err


class TestMessages:
    """podself's own lines on stderr."""

    def test_manifest_strings_cannot_drive_the_terminal(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """An escape sequence in a ConfigMap name or a command is shown escaped in podself's
        messages (it changed the terminal's title and colours)."""
        hostile = "\x1b]0;TITLE\x07\x1b[31mRED\x9b2J"
        text = pod_json(
            "true",
            container={"volumeMounts": [{"name": "v", "mountPath": "/v"}]},
            spec={"volumes": [{"name": "v", "configMap": {"name": hostile}}]},
        )
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, no_namespace=True)
        assert result.code == 1
        assert 'configmap "\\x1b]0;TITLE\\x07\\x1b[31mRED\\x9b2J" not found' in result.err
        text = pod_json("true", container={"command": [hostile]})
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, no_namespace=True)
        assert 'StartError: exec: "\\x1b]0;TITLE' in result.err
        assert not any(c in result.err for c in "\x1b\x07\x9b")


class TestStopDuringSetup:
    """A stop signal before the containers start (while volumes are being written)."""

    @pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
    def test_state_is_removed(
        self,
        tmp_path: Path,
        capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
        signum: signal.Signals,
    ) -> None:
        """The run ends with exit 1 and a message, and the state directory, Secret files
        included, is removed (the default action of SIGTERM left it all behind); no
        container starts."""
        real_setup = VolumeSet.setup
        written: list[Path] = []

        def setup_then_signal(self: Any) -> None:
            real_setup(self)
            written.extend(Path(self.base_dir).iterdir())
            os.kill(os.getpid(), signum)

        monkeypatch.setattr(VolumeSet, "setup", setup_then_signal)
        marker = tmp_path / "started"
        text = pod_json(f"touch {marker}", spec=PODINFO)
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd)
        assert result.code == 1
        assert f"podself run: stopped by {signum.name} before the pod started" in result.err
        assert written  # the volume was there; run_pod checks that the state is gone
        assert not marker.exists()


class TestCrash:
    """``podself run`` killed with SIGKILL, which it cannot handle."""

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux")
    def test_root_mode_container_dies_with_podself(self, tmp_path: Path) -> None:
        """Without a mount namespace, the container's process is still killed by the kernel."""
        pid_file = tmp_path / "pid"
        path = manifest(tmp_path, pod_json(f"echo $$$$ > {pid_file}; exec sleep 1000"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "podself", "run", "-f", path, "--no-namespace"],
            env={**os.environ, "PODSELF_STATE_DIR": str(tmp_path / "state")},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while not pid_file.exists() or not pid_file.read_text().strip():
                assert time.monotonic() < deadline, "the container never started"
                time.sleep(0.05)
            container = int(pid_file.read_text())
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            while running(container) and time.monotonic() < deadline:
                time.sleep(0.05)
            alive = running(container)
            if alive:
                os.kill(container, signal.SIGKILL)
            assert not alive, "the container outlived podself run"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    @pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process tracking is Linux")
    @pytest.mark.parametrize("mode", [[], ["--no-namespace"]], ids=["default", "no-namespace"])
    def test_escaped_processes_die_with_podself(self, tmp_path: Path, mode: list[str]) -> None:
        """setsid and double-forked processes die too, through the container's cgroup."""
        tracker = ProcessTracker()
        tracked = tracker.mode == "cgroup"
        tracker.close()
        if not tracked:
            pytest.skip("no writable cgroup here")
        marker = f"podself-crash-{os.getpid()}-{len(mode)}"
        hold = f"sh -c 'while :; do sleep 1; done' {marker}"  # short sleeps: no leak if it fails
        path = manifest(tmp_path, pod_json(f"setsid {hold} & ({hold} &); echo ready; {hold}"))
        proc = subprocess.Popen(
            [sys.executable, "-m", "podself", "run", "-f", path, *mode],
            env={**os.environ, "PODSELF_STATE_DIR": str(tmp_path / "state")},
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ready\n"
            deadline = time.monotonic() + 20
            while len(marked(marker)) < 3:
                assert time.monotonic() < deadline, "the container never started"
                time.sleep(0.05)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            while marked(marker) and time.monotonic() < deadline:
                time.sleep(0.05)
            left = marked(marker)
            assert left == [], "processes of the container outlived podself run"
        finally:
            for pid in marked(marker):
                os.kill(pid, signal.SIGKILL)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


class TestUnreadOutput:
    """podself never waits for the reader of its own output."""

    def two_containers(self, tmp_path: Path) -> str:
        """A chatty container and a quiet one (so output is prefixed through podself)."""
        obj = json.loads(pod_json("yes chatty-output-line"))
        obj["spec"]["containers"].append(
            {"name": "quiet", "image": "busybox:1.36", "command": ["sleep", "1000"]}
        )
        return manifest(tmp_path, json.dumps(obj))

    def start(self, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
        """Start podself run with a stdout pipe that is never read; return it and the pipe."""
        read_fd, write_fd = os.pipe()
        path = self.two_containers(tmp_path)
        proc = subprocess.Popen(
            [sys.executable, "-m", "podself", "run", "--grace", "1", *extra, "-f", path],
            env={**os.environ, "PODSELF_STATE_DIR": str(tmp_path / "state")},
            stdout=write_fd,
            stderr=subprocess.PIPE,
        )
        os.close(write_fd)
        return proc, read_fd

    def test_timeout_is_honoured(self, tmp_path: Path) -> None:
        """--timeout stops the pod although nobody reads stdout; the loss is reported."""
        proc, read_fd = self.start(tmp_path, "--timeout", "0.5")
        try:
            _, err = proc.communicate(timeout=60)
        finally:
            os.close(read_fd)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0
        assert b"bytes of container output were dropped: stdout was not read" in err
        assert not (tmp_path / "state" / "default").exists()

    def test_message_with_a_lone_surrogate(self) -> None:
        """A message that cannot be UTF-8 is escaped, as Python's stderr does."""
        err = io.StringIO()
        Kubelet(RunOptions(files=[]), out=io.BytesIO(), err=err).say("bad \ud800")
        assert err.getvalue() == "podself run: bad \\ud800\n"

    def test_closed_stdout(self, tmp_path: Path) -> None:
        """Started with stdout closed (``>&-``), podself runs the pod without a traceback."""
        path = self.two_containers(tmp_path)
        result = subprocess.run(
            ["sh", "-c", f'exec "$0" -m podself run --timeout 0.3 -f {path} >&-', sys.executable],
            env={**os.environ, "PODSELF_STATE_DIR": str(tmp_path / "state")},
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert (result.returncode, result.stderr) == (0, "")

    def test_sigterm_is_honoured(self, tmp_path: Path) -> None:
        """SIGTERM stops the pod although nobody reads stdout."""
        proc, read_fd = self.start(tmp_path)
        try:
            deadline = time.monotonic() + 20
            while not (tmp_path / "state" / "default" / "demo" / "status.json").exists():
                assert time.monotonic() < deadline, "the pod never started"
                time.sleep(0.05)
            time.sleep(0.3)  # let the output back up
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        finally:
            os.close(read_fd)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0


class TestConfinement:
    """Hostile mounts and container output never reach outside the pod's directories."""

    def canary(self, tmp_path: Path) -> Path:
        """A host directory with one file, which no run may change."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "authorized_keys").write_text("keep")
        return outside

    def test_subpath_symlink_escape(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A subPath through a symlink a container planted is the kubelet's
        CreateContainerConfigError; nothing is created outside; no traceback."""
        outside = self.canary(tmp_path)
        spec = {
            "volumes": [{"name": "data", "emptyDir": {}}],
            "initContainers": [
                {
                    "name": "plant",
                    "image": "busybox",
                    "command": ["sh", "-c", f'ln -s {outside} "$PODSELF_ROOT/data/link"'],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                }
            ],
        }
        container = {"volumeMounts": [{"name": "data", "mountPath": "/x", "subPath": "link/new"}]}
        text = pod_json("echo started", container=container, spec=spec)
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, no_namespace=True)
        assert result.code == 1
        assert (
            'container "app": CreateContainerConfigError: failed to prepare subPath for '
            'volumeMount "data" of container "app"'
        ) in result.err
        assert "Traceback" not in result.err
        assert "started" not in result.out
        assert sorted(os.listdir(outside)) == ["authorized_keys"]

    @pytest.mark.parametrize("mount_path", ["../../outside", "a/../../../outside", "/.."])
    def test_mount_path_cannot_leave_the_container_root(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str], mount_path: str
    ) -> None:
        """A mountPath climbing above "/" fails the container; the host dir stays."""
        outside = self.canary(tmp_path)
        spec = {"volumes": [{"name": "cfg", "emptyDir": {}}]}
        container = {"volumeMounts": [{"name": "cfg", "mountPath": mount_path}]}
        text = pod_json("echo started", container=container, spec=spec)
        result = run_pod(tmp_path, [manifest(tmp_path, text)], capfd, no_namespace=True)
        assert result.code == 1
        assert "CreateContainerConfigError: " in result.err
        assert "must stay inside the container root" in result.err
        assert (outside / "authorized_keys").read_text() == "keep"
        assert sorted(os.listdir(outside)) == ["authorized_keys"]

    def test_deep_empty_dir_is_cleaned_up(
        self, tmp_path: Path, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """1,200 nested directories in an emptyDir are removed at the end; the name is
        usable again."""
        spec = {"volumes": [{"name": "scratch", "emptyDir": {}}]}
        container = {"volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
        deep = 'cd "$PODSELF_ROOT/scratch" && mkdir -p ' + "d/" * 1200
        path = manifest(tmp_path, pod_json(deep, container=container, spec=spec))
        for _ in range(2):
            result = run_pod(tmp_path, [path], capfd, no_namespace=True)
            assert result.code == 0, result.err
            assert "cannot remove" not in result.err


def tree(base: Path, skip: Path) -> dict[str, str]:
    """Every path under ``base`` except ``skip``, with its content or link target."""
    found: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            if path.is_symlink():
                found[str(path)] = "-> " + os.readlink(path)
            elif path.is_file():
                found[str(path)] = path.read_text()
            else:
                found[str(path)] = "dir"
    return found


HOSTILE = [
    {"metadata": {"name": "alice", "namespace": "../../home"}},
    {"metadata": {"name": "..", "namespace": ".."}},
    {"metadata": {"name": ".", "namespace": "default"}},
    # An absolute namespace replaces the base when joined; {home} is the sandbox's home.
    {"metadata": {"name": "alice", "namespace": "{home}"}},
    {"metadata": {"name": "x\u0000y"}},
    {"spec": {"containers": [{"name": "../../../../../../home"}]}},
    {"spec": {"containers": [{"name": ".probe"}]}},
    {"volumeMounts": [{"name": "v", "mountPath": "../../../../../../../../home/alice/.ssh"}]},
    {"volumeMounts": [{"name": "v", "mountPath": "/"}]},
    {"volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "../../../../home"}]},
    {"volumeMounts": [{"name": "v", "mountPath": "/x", "subPath": "/home/alice"}]},
    {"workingDir": "../../../../../../../home/alice/new"},
]


@pytest.mark.parametrize("no_namespace", [True, False])
@pytest.mark.parametrize("change", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_manifests_change_nothing_outside(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], change: dict[str, Any], no_namespace: bool
) -> None:
    """Names, namespaces, container names, mountPaths, subPaths and workingDirs that try to
    leave the state directory or the container root: the run fails or runs confined, with a
    message and no traceback, and nothing outside the state directory changes."""
    home = tmp_path / "home" / "alice"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "authorized_keys").write_text("keep")
    state_dir = tmp_path / "a" / "b" / "c" / "d" / "e" / "f" / "state"
    state_dir.parent.mkdir(parents=True)
    pod: dict[str, Any] = json.loads(pod_json("true"))
    pod["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    container = pod["spec"]["containers"][0]
    for key, value in change.items():
        if key in ("metadata", "spec"):
            for field, item in value.items():
                if field == "containers":
                    container.update(item[0])
                else:
                    pod[key][field] = item
        else:
            container[key] = value
    text = json.dumps(pod).replace("{home}", str(tmp_path / "home"))
    path = manifest(tmp_path, text, name="hostile.json")
    before = tree(tmp_path, state_dir)
    result = run_pod(
        tmp_path, [path], capfd, state_dir=str(state_dir), no_namespace=no_namespace, timeout=5
    )
    assert "Traceback" not in result.err
    assert result.code != 0 or "workingDir" in change
    after = tree(tmp_path, state_dir)
    assert after == before

"""podself resize: kubectl's syntax, the API server's /resize rules, and a live resize of a
pod run by ``podself run`` (cgroup, volume and status change; env and process stay)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from podself.cli import main
from podself.emulator.state import PodState

WAIT = 20.0
BURSTABLE = {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m"}}
GUARANTEED = {
    "limits": {"cpu": "500m", "memory": "256Mi"},
    "requests": {"cpu": "500m", "memory": "256Mi"},
}


def make_pod(containers: list[dict[str, Any]], qos: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "resourceVersion": "1", **meta},
        "spec": {"nodeName": "node-1", "containers": containers},
        "status": {"qosClass": qos},
    }


POD = make_pod([{"name": "app", "resources": GUARANTEED}], "Guaranteed")


@pytest.fixture
def state(tmp_path: Path) -> PodState:
    """A pod that looks run by this process (so it counts as alive)."""
    pod_state = PodState(str(tmp_path), "default", "web")
    pod_state.create(POD)
    return pod_state


def cli(state: PodState, *argv: str) -> int:
    return main([*argv, "--state-dir", state.root])


def resources(state: PodState, index: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = state.read_pod()["spec"]["containers"][index]["resources"]
    return result


class TestResize:
    def test_limits_with_following_requests(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--cpu/--memory set the limits; requests equal to the old limits follow, so the
        Guaranteed pod stays Guaranteed. kubectl's line; resourceVersion moves on."""
        assert cli(state, "resize", "web", "--cpu", "2000m", "--memory", "1Gi") == 0
        assert capsys.readouterr().out == "pod/web patched\n"
        assert resources(state) == {
            "limits": {"cpu": "2", "memory": "1Gi"},
            "requests": {"cpu": "2", "memory": "1Gi"},
        }
        assert state.read_pod()["metadata"]["resourceVersion"] == "2"

    def test_kubectl_set_resources_syntax(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--limits/--requests as kubectl set resources takes them; flags after the name."""
        argv = ["resize", "pod/web", "--limits", "cpu=1,memory=512Mi", "-c", "app"]
        assert cli(state, *argv, "--requests", "cpu=1,memory=512Mi") == 0
        assert resources(state) == {
            "limits": {"cpu": "1", "memory": "512Mi"},
            "requests": {"cpu": "1", "memory": "512Mi"},
        }
        assert cli(state, "resize", "pod", "web", "--limits", "cpu=1") == 0
        assert capsys.readouterr().out == "pod/web patched\npod/web patched (no change)\n"
        assert state.read_pod()["metadata"]["resourceVersion"] == "2"

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (
                ["--cpu", "1", "--requests", "cpu=2"],
                'The Pod "web" is invalid: \n'
                '* spec.containers[0].resources.requests[cpu]: Invalid value: "2": must be less '
                "than or equal to cpu limit of 1\n"
                '* spec: Invalid value: "Guaranteed": Pod QOS Class may not change as a result '
                "of resizing\n",
            ),
            (
                ["--limits", "cpu=2"],
                'The Pod "web" is invalid: spec: Invalid value: "Guaranteed": Pod QOS Class may '
                "not change as a result of resizing\n",
            ),
            (
                ["--limits", "ephemeral-storage=1Gi"],
                'The Pod "web" is invalid: spec: Forbidden: only cpu and memory resources are '
                "mutable\n",
            ),
            (
                ["--memory", "128Mi", "--kubernetes-version", "1.33"],
                'The Pod "web" is invalid: spec.containers[0].resources.limits[memory]: '
                "Forbidden: memory limits cannot be decreased unless resizePolicy is "
                "RestartContainer\n",
            ),
            (["--cpu", "two"], 'error: --cpu: quantity "two": quantities must match'),
            (["--limits", "cpu"], "error: --limits 'cpu': expected NAME=QUANTITY pairs"),
            (["--cpu", "1", "--limits", "cpu=1"], "error: --cpu and --limits cpu=...: give"),
            ([], "error: nothing to change: give --cpu, --memory, --limits or --requests\n"),
            (["-c", "db", "--cpu", "1"], 'error: unable to find container named "db"\n'),
            (["-c", "\x1b[2J", "--cpu", "1"], 'error: unable to find container named "\\x1b[2J"\n'),
        ],
    )
    def test_refused(
        self,
        state: PodState,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        message: str,
    ) -> None:
        """Each refusal: exit 1, kubectl's or the API server's message, pod.json unchanged."""
        assert cli(state, "resize", "web", *argv) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.startswith(message)
        assert state.read_pod() == POD

    def test_memory_decrease_is_allowed_in_1_35(self, state: PodState) -> None:
        assert cli(state, "resize", "web", "--memory", "128Mi") == 0
        assert resources(state)["limits"]["memory"] == "128Mi"

    def test_restart_container_policy_is_accepted(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A change that needs a restart is the kubelet's business: the API server takes it
        (podself run then restarts the container, see test_emulator_kubelet)."""
        container = {
            "name": "app",
            "resources": copy.deepcopy(BURSTABLE),
            "resizePolicy": [{"resourceName": "memory", "restartPolicy": "RestartContainer"}],
        }
        pod_state = PodState(str(tmp_path), "default", "web")
        pod_state.create(make_pod([container], "Burstable"))
        assert main(["resize", "web", "--memory", "256Mi", "--state-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().out == "pod/web patched\n"
        limits = pod_state.read_pod()["spec"]["containers"][0]["resources"]["limits"]
        assert limits == {"cpu": "1", "memory": "256Mi"}

    def test_choosing_the_container(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Several containers: -c, else kubectl's default-container annotation, else an
        error listing them; a sidecar can be resized, an init container cannot."""
        containers = [
            {"name": "app", "resources": copy.deepcopy(BURSTABLE)},
            {"name": "proxy", "resources": copy.deepcopy(BURSTABLE)},
        ]
        pod = make_pod(containers, "Burstable")
        pod["spec"]["initContainers"] = [
            {"name": "setup", "resources": copy.deepcopy(BURSTABLE)},
            {"name": "logs", "restartPolicy": "Always", "resources": copy.deepcopy(BURSTABLE)},
        ]
        pod_state = PodState(str(tmp_path), "default", "web")
        pod_state.create(pod)
        where = ["--state-dir", str(tmp_path)]
        assert main(["resize", "web", "--cpu", "2", *where]) == 1
        assert capsys.readouterr().err == (
            'error: the pod has 2 containers ("app", "proxy"): choose one with -c\n'
        )
        assert main(["resize", "web", "-c", "proxy", "--cpu", "2", *where]) == 0
        assert main(["resize", "web", "-c", "logs", "--cpu", "3", *where]) == 0
        assert main(["resize", "web", "-c", "setup", "--cpu", "3", *where]) == 1
        assert capsys.readouterr().err == (
            'The Pod "web" is invalid: spec: Forbidden: resources for non-sidecar init '
            "containers are immutable\n"
        )
        spec = pod_state.read_pod()["spec"]
        assert [c["resources"]["limits"]["cpu"] for c in spec["containers"]] == ["1", "2"]
        assert [c["resources"]["limits"]["cpu"] for c in spec["initContainers"]] == ["1", "3"]
        pod_state.update_pod(
            lambda p: p["metadata"].update(
                annotations={"kubectl.kubernetes.io/default-container": "app"}
            )
        )
        assert main(["resize", "web", "--cpu", "4", *where]) == 0
        assert pod_state.read_pod()["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "4"

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["resize", "..", "--cpu", "1"], 'error: invalid resource name "..": [may not '),
            (["resize", "web", "-n", "../..", "--cpu", "1"], 'error: invalid namespace "../..": '),
            (["resize", "a/b/c", "--cpu", "1"], 'podself runs pods only: cannot change "a"'),
            (["resize", "Web_1", "--cpu", "1"], 'Error from server (NotFound): pods "Web_1" not'),
            (["resize", "nope", "--cpu", "1"], 'Error from server (NotFound): pods "nope" not'),
            (["resize", "svc/web", "--cpu", "1"], "error: podself runs pods only: cannot change"),
        ],
    )
    def test_names(
        self,
        state: PodState,
        capsys: pytest.CaptureFixture[str],
        argv: list[str],
        message: str,
    ) -> None:
        """Names that are no pod's are refused before any path is built from them."""
        assert cli(state, *argv) == 1
        assert message in capsys.readouterr().err
        assert state.read_pod() == POD

    def test_pod_json_edited_by_hand(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A quantity pod.json cannot hold is named, not a traceback; nothing is written."""

        def spoil(pod: dict[str, Any]) -> None:
            pod["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "lots"

        state.update_pod(spoil)
        before = state.read_pod()
        assert cli(state, "resize", "web", "--cpu", "2") == 1
        assert capsys.readouterr().err == 'error: pod "web" not changed: quantity "lots": ' + (
            "quantities must match the regular expression "
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'\n"
        )
        assert state.read_pod() == before

    def test_concurrent_resize_and_label(self, state: PodState) -> None:
        """podself resize and podself label at the same time: both changes land (one lock)."""
        base = [sys.executable, "-m", "podself"]
        where = ["--state-dir", state.root]
        commands = [
            [*base, "resize", "web", "--cpu", "2", "--memory", "1Gi", *where],
            [*base, "label", "pod", "web", "stage=beta", *where],
            [*base, "annotate", "pod", "web", "owner=team-a", *where],
        ]
        procs = [
            subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for c in commands
        ]
        outputs = [p.communicate(timeout=WAIT) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outputs
        pod = state.read_pod()
        assert pod["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "1Gi"}
        assert pod["metadata"]["labels"] == {"stage": "beta"}
        assert pod["metadata"]["annotations"] == {"owner": "team-a"}
        assert pod["metadata"]["resourceVersion"] == "4"


# -- a live resize under podself run ----------------------------------------------------------

READER = textwrap.dedent(
    """
    import os, podself
    from podself.cgroups import read_limits
    path = os.environ.get("PODSELF_ROOT", "") + "/etc/podinfo"
    def show(tag):
        info = podself.refresh()
        kernel = read_limits().cpu_limit_millicores
        source = info.source_of("resources.cpu_limit").origin
        print(tag, info.resources.cpu_limit, info.resources.memory_limit, kernel,
              os.environ["CPU"], os.getpid(), source, flush=True)
    show("start")
    for change in podself.watch(path):
        show("changed")
    """
)


def manifest(tmp_path: Path) -> Path:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "resized"},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": "python",
                    "command": [sys.executable, "-c", READER],
                    "env": [
                        {
                            "name": "CPU",
                            "valueFrom": {
                                "resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m"}
                            },
                        }
                    ],
                    "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                    "volumeMounts": [{"name": "podinfo", "mountPath": "/etc/podinfo"}],
                }
            ],
            "volumes": [
                {
                    "name": "podinfo",
                    "downwardAPI": {
                        "items": [
                            {
                                "path": name,
                                "resourceFieldRef": {
                                    "containerName": "app",
                                    "resource": resource,
                                    "divisor": divisor,
                                },
                            }
                            for name, resource, divisor in (
                                ("cpu_limit", "limits.cpu", "1m"),
                                ("mem_limit", "limits.memory", "1Mi"),
                            )
                        ]
                    },
                }
            ],
        },
    }
    path = tmp_path / "pod.json"
    path.write_text(json.dumps(pod))
    return path


class Lines:
    """The output of ``podself run``, line by line, waited for with a deadline."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_for(self, prefix: str) -> str:
        deadline = time.monotonic() + WAIT
        with self._cond:
            while True:
                found = [line for line in self.lines if line.startswith(prefix)]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    pytest.fail(f"no line {prefix!r} in:\n" + "\n".join(self.lines))
                self._cond.wait(min(left, 0.1))


def test_live_resize(tmp_path: Path) -> None:
    """The running container sees the new limit through its podinfo volume (podself.watch
    fires, podself.refresh believes the volume over the start-time env) and, where podself
    run has cgroups, through the kernel; same process; status shows the resize."""
    state_dir = tmp_path / "state"
    run = [sys.executable, "-m", "podself", "run", "-f", str(manifest(tmp_path))]
    proc = subprocess.Popen(
        [
            *run,
            "--sync-delay",
            "0.1",
            "--grace",
            "2",
            "--timeout",
            "60",
            "--node-cpu",
            "4",
            "--state-dir",
            str(state_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Lines(proc)
    try:
        start = output.wait_for("start ").split()
        assert start[1:3] == ["500", str(256 * 2**20)]
        where = ["--state-dir", str(state_dir)]
        resize = [sys.executable, "-m", "podself", "resize", "resized", *where]
        argv = [*resize, "--cpu", "2", "--memory", "1Gi"]
        done = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=WAIT)
        assert (done.returncode, done.stdout) == (0, "pod/resized patched\n"), done.stderr
        note = output.wait_for('podself run: container "app" resized in place: ')
        assert note.endswith("(was limits cpu=500m,memory=256Mi requests cpu=500m,memory=256Mi)")
        changed = output.wait_for("changed ").split()
        assert changed[1:3] == ["2000", str(2**30)]
        assert changed[4:6] == ["500", start[5]]  # env as at start, the same process
        assert changed[6] == "/etc/podinfo/cpu_limit" or changed[6].endswith(
            "/etc/podinfo/cpu_limit"
        )
        enforced = not any("limits not enforced" in line for line in output.lines)
        if enforced:
            assert (start[3], changed[3]) == ("500", "2000")
        get = [sys.executable, "-m", "podself", "get", "pods", "resized", "-o", "json", *where]
        shown = json.loads(
            subprocess.run(get, check=True, capture_output=True, text=True, timeout=WAIT).stdout
        )
        status = shown["status"]["containerStatuses"][0]
        wanted = {"cpu": "2", "memory": "1Gi"}
        assert shown["spec"]["containers"][0]["resources"]["limits"] == wanted
        assert status["allocatedResources"] == wanted
        assert status["resources"] == {"limits": wanted, "requests": wanted}
        # More than the node has: accepted by the API server, not applied by the kubelet.
        done = subprocess.run(
            [*resize, "--cpu", "64"], check=True, capture_output=True, text=True, timeout=WAIT
        )
        assert done.stdout == "pod/resized patched\n"
        note = output.wait_for("podself run: resize not applied")
        assert note == (
            "podself run: resize not applied (PodResizePending, Infeasible): Node didn't have "
            "enough capacity: cpu, requested: 64000, capacity: 4000"
        )
        shown = json.loads(
            subprocess.run(get, check=True, capture_output=True, text=True, timeout=WAIT).stdout
        )
        assert shown["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "64"
        assert shown["status"]["containerStatuses"][0]["resources"]["limits"]["cpu"] == "2"
        assert shown["status"]["conditions"][-1]["type"] == "PodResizePending"
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT)
        if proc.stdout is not None:
            proc.stdout.close()
    if not enforced:
        pytest.skip("podself run has no cpu and memory cgroups here; the kernel side is untested")

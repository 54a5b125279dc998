"""podself label / annotate / get: kubectl's syntax and messages against a running pod."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podself.cli import get as getcmd
from podself.cli import label as labelcmd
from podself.cli import main
from podself.emulator.state import PodState

POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "dynamic-update-demo",
        "namespace": "default",
        "resourceVersion": "1",
        "labels": {"stage": "alpha"},
        "annotations": {"team": "platform-team"},
        "creationTimestamp": "2025-11-08T10:30:45Z",
    },
    "spec": {"nodeName": "node-1", "containers": [{"name": "watcher"}]},
    "status": {"podIP": "127.0.0.1"},
}


@pytest.fixture
def state(tmp_path: Path) -> PodState:
    """A pod that looks run by this process (so it counts as alive)."""
    pod_state = PodState(str(tmp_path), "default", "dynamic-update-demo")
    pod_state.create(POD)
    return pod_state


def cli(state: PodState, *argv: str) -> int:
    """Run the podself CLI against ``state``'s root."""
    return main([*argv, "--state-dir", state.root])


class TestLabel:
    """podself label."""

    def test_overwrite(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """The seed's commands: overwrite a label, then add one."""
        assert cli(state, "label", "pod", "dynamic-update-demo", "stage=beta", "--overwrite") == 0
        assert cli(state, "label", "pod", "dynamic-update-demo", "feature=new-api") == 0
        out = capsys.readouterr().out
        assert out == "pod/dynamic-update-demo labeled\npod/dynamic-update-demo labeled\n"
        labels = state.read_pod()["metadata"]["labels"]
        assert labels == {"stage": "beta", "feature": "new-api"}
        assert state.read_pod()["metadata"]["resourceVersion"] == "3"

    def test_existing_key_without_overwrite(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An existing key needs --overwrite, with kubectl's message; nothing changes."""
        assert cli(state, "label", "dynamic-update-demo", "stage=beta") == 1
        assert capsys.readouterr().err == (
            "error: 'stage' already has a value (alpha), and --overwrite is false\n"
        )
        assert state.read_pod()["metadata"]["labels"] == {"stage": "alpha"}

    def test_remove_and_not_found(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """KEY- removes; removing a missing label says so and changes nothing."""
        assert cli(state, "label", "pod/dynamic-update-demo", "stage-") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo unlabeled\n"
        assert "labels" not in state.read_pod()["metadata"]
        assert cli(state, "label", "po", "dynamic-update-demo", "nope-") == 0
        assert capsys.readouterr().out == (
            'label "nope" not found.\npod/dynamic-update-demo not labeled\n'
        )

    def test_same_value_needs_no_overwrite(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Setting a label to the value it already has is not an overwrite (kubectl)."""
        assert cli(state, "label", "dynamic-update-demo", "stage=alpha") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo not labeled\n"
        assert state.read_pod()["metadata"]["resourceVersion"] == "1"

    def test_add_and_remove_message(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Adding one label and removing another prints kubectl's 'label(s) changed'."""
        assert cli(state, "label", "dynamic-update-demo", "a=b", "stage-") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo label(s) changed\n"
        assert state.read_pod()["metadata"]["labels"] == {"a": "b"}

    def test_invalid_values_and_keys(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Bad values are refused by kubectl, bad keys by the API server."""
        assert cli(state, "label", "dynamic-update-demo", "k=bad value") == 1
        assert capsys.readouterr().err.startswith('error: invalid label value: "k=bad value": ')
        assert cli(state, "label", "dynamic-update-demo", "Bad_Prefix/k=v") == 1
        err = capsys.readouterr().err
        assert err.startswith(
            'The Pod "dynamic-update-demo" is invalid: metadata.labels: Invalid value: '
            '"Bad_Prefix/k": prefix part a lowercase RFC 1123 subdomain'
        )

    def test_not_found(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown pod gives the API server's NotFound."""
        assert cli(state, "label", "ghost", "a=b") == 1
        assert capsys.readouterr().err == 'Error from server (NotFound): pods "ghost" not found\n'

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (
                ["-n", "../outside", "victim"],
                "invalid namespace \"../outside\": [may not contain '/']",
            ),
            (["-n", "..", "victim"], "invalid namespace \"..\": [may not be '..']"),
            (["-n", "/", "victim"], "invalid namespace \"/\": [may not contain '/']"),
            (["pod", "../outside"], "invalid resource name \"../outside\": [may not contain '/']"),
            (["pod", "."], "invalid resource name \".\": [may not be '.']"),
            (["pod", "%2e%2e"], "invalid resource name \"%2e%2e\": [may not contain '%']"),
        ],
    )
    @pytest.mark.parametrize("command", ["label", "annotate"])
    def test_names_that_leave_the_state_dir(
        self,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        command: str,
        argv: list[str],
        message: str,
    ) -> None:
        """A namespace or name that is not one path segment is refused as kubectl refuses it,
        and a pod outside the state directory is left alone."""
        outside = PodState(str(tmp_path), "outside", "victim")
        outside.create(POD)
        before = outside.read_pod()
        root = tmp_path / "state"
        assert main([command, *argv, "a=b", "--state-dir", str(root)]) == 1
        assert capsys.readouterr().err == f"error: {message}\n"
        assert outside.read_pod() == before
        assert not root.exists()

    @pytest.mark.parametrize(
        ("argv", "name"),
        [
            (["-n", "Default", "dynamic-update-demo"], "dynamic-update-demo"),
            (["-n", "a.b", "dynamic-update-demo"], "dynamic-update-demo"),
            (["Dynamic-Update-Demo"], "Dynamic-Update-Demo"),
            (["a\x00b"], "a\x00b"),
            (["-n", "default\x00", "dynamic-update-demo"], "dynamic-update-demo"),
        ],
    )
    def test_names_no_pod_can_have(
        self, state: PodState, capsys: pytest.CaptureFixture[str], argv: list[str], name: str
    ) -> None:
        """A name or namespace the API server refuses cannot name a pod: NotFound, without a
        look at the disk (even where such a directory exists)."""
        PodState(state.root, "Default", "dynamic-update-demo").create(POD)
        assert cli(state, "label", *argv, "a=b") == 1
        assert capsys.readouterr().err == f'Error from server (NotFound): pods "{name}" not found\n'

    def test_list(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """--list prints the labels."""
        assert cli(state, "label", "dynamic-update-demo", "--list") == 0
        assert capsys.readouterr().out == "stage=alpha\n"

    @pytest.mark.parametrize(
        ("items", "message"),
        [
            (["pod", "dynamic-update-demo", "a=b=c"], "invalid label spec: a=b=c"),
            (["pod", "dynamic-update-demo"], "at least one label update is required"),
            (
                ["dynamic-update-demo", "a=b", "a-"],
                "can not both modify and remove a label in the same command",
            ),
            (
                ["dynamic-update-demo", "a=b", "pod2"],
                "all resources must be specified before label changes: pod2",
            ),
            (["deploy", "web", "a=b"], 'podself runs pods only: cannot change "deploy" objects'),
        ],
    )
    def test_usage_errors(
        self,
        state: PodState,
        capsys: pytest.CaptureFixture[str],
        items: list[str],
        message: str,
    ) -> None:
        """kubectl's argument errors, printed as ``error: ...`` with status 1."""
        assert cli(state, "label", *items) == 1
        assert capsys.readouterr().err == f"error: {message}\n"

    @pytest.mark.parametrize(
        ("value", "valid"),
        [("", True), ("2.0", True), ("a_b-c", True), ("-x", False), ("x" * 64, False)],
    )
    def test_label_values(self, value: str, valid: bool) -> None:
        """IsValidLabelValue."""
        assert (labelcmd.label_value_errors(value) == []) is valid


class TestAnnotate:
    """podself annotate."""

    def test_set_and_conflict(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """A new annotation is added; an existing one needs --overwrite."""
        assert cli(state, "annotate", "pod", "dynamic-update-demo", "build-id=build-457") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo annotated\n"
        assert cli(state, "annotate", "dynamic-update-demo", "team=core") == 1
        assert capsys.readouterr().err == (
            "error: --overwrite is false but found the following declared annotation(s): "
            "'team' already has a value (platform-team)\n"
        )
        assert cli(state, "annotate", "dynamic-update-demo", "team=core", "--overwrite") == 0
        annotations = state.read_pod()["metadata"]["annotations"]
        assert annotations == {"team": "core", "build-id": "build-457"}

    def test_same_value_needs_no_overwrite(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Re-declaring an annotation with its current value is not an overwrite (kubectl)."""
        assert cli(state, "annotate", "dynamic-update-demo", "team=platform-team") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo annotated\n"

    def test_value_not_utf8(self, state: PodState) -> None:
        """Bytes that are not UTF-8 become U+FFFD, as JSON on the way to the API server does."""
        value = b"a\xff\xfeb".decode("utf-8", "surrogateescape")
        assert cli(state, "annotate", "dynamic-update-demo", f"raw={value}") == 0
        assert state.read_pod()["metadata"]["annotations"]["raw"] == "a\ufffd\ufffdb"

    def test_values_may_be_anything(self, state: PodState) -> None:
        """Annotation values keep '=' and spaces (only the first '=' splits)."""
        assert cli(state, "annotate", "dynamic-update-demo", "note=a = b, c") == 0
        assert state.read_pod()["metadata"]["annotations"]["note"] == "a = b, c"

    def test_format_errors(self) -> None:
        """Pairs without '=' or '-' are reported together."""
        with pytest.raises(labelcmd.UsageError, match=r"^invalid annotation format: x, y$"):
            labelcmd.parse_pairs(["x", "y"], "annotation")
        with pytest.raises(labelcmd.UsageError, match=r"in the same command: a$"):
            labelcmd.parse_pairs(["a=1", "a-"], "annotation")


class TestGet:
    """podself get pods."""

    def test_table(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """A running pod is listed in kubectl's columns."""
        state.write_status(
            {
                "phase": "Running",
                "containerStatuses": [{"name": "watcher", "ready": True, "state": {"running": {}}}],
            }
        )
        assert cli(state, "get", "pods") == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == "NAME                  READY   STATUS    RESTARTS   AGE"
        assert lines[1].startswith("dynamic-update-demo   1/1     Running   0          ")

    def test_empty(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No pods prints kubectl's note on stderr."""
        assert main(["get", "pods", "--state-dir", str(tmp_path)]) == 0
        assert capsys.readouterr().err == "No resources found in default namespace.\n"

    def test_namespaces_that_leave_the_state_dir(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """-n must be one path segment; a namespace no pod can have lists nothing."""
        PodState(str(tmp_path), "outside", "victim").create(POD)
        root = str(tmp_path / "state")
        assert main(["get", "pods", "-n", "../outside", "--state-dir", root]) == 1
        assert capsys.readouterr().err == (
            "error: invalid namespace \"../outside\": [may not contain '/']\n"
        )
        PodState(root, "UPPER", "victim").create(POD)
        assert main(["get", "pods", "-n", "UPPER", "--state-dir", root]) == 0
        assert capsys.readouterr().err == "No resources found in UPPER namespace.\n"

    def test_other_resource(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Only pods can be listed."""
        assert main(["get", "deployments", "--state-dir", str(tmp_path)]) == 1
        assert 'resource type "deployments"' in capsys.readouterr().err

    def test_all_namespaces_and_name_output(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """-A adds NAMESPACE; -o name prints pod/NAME."""
        assert cli(state, "get", "po", "-A") == 0
        assert capsys.readouterr().out.startswith("NAMESPACE   NAME")
        assert cli(state, "get", "pods", "-o", "name") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo\n"

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ({"initContainerStatuses": [{"state": {"running": {}}}]}, ("0/1", "Init:0/1")),
            (
                {
                    "initContainerStatuses": [
                        {"state": {"terminated": {"exitCode": 1, "reason": "Error"}}}
                    ]
                },
                ("0/1", "Init:Error"),
            ),
            (
                {
                    "containerStatuses": [
                        {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                    ]
                },
                ("0/1", "Completed"),
            ),
            (
                {"containerStatuses": [{"state": {"waiting": {"reason": "NoCommand"}}}]},
                ("0/1", "NoCommand"),
            ),
            (
                {
                    "terminating": True,
                    "containerStatuses": [{"ready": True, "state": {"running": {}}}],
                },
                ("1/1", "Terminating"),
            ),
        ],
    )
    def test_status_column(self, status: dict[str, Any], expected: tuple[str, str]) -> None:
        """READY and STATUS follow kubectl's printPod."""
        pod = {
            "metadata": {"name": "p", "creationTimestamp": "2025-11-08T10:30:45Z"},
            "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
        }
        status = {"phase": "Running", **status}
        if "initContainerStatuses" not in status:
            status["initContainerStatuses"] = [{"state": {"terminated": {"exitCode": 0}}}]
        row = getcmd.pod_row(pod, status, time.time())
        assert (row[1], row[2]) == expected

    def test_age(self) -> None:
        """AGE is measured from creationTimestamp (UTC)."""
        created = datetime(2025, 11, 8, 10, 30, 45, tzinfo=UTC).timestamp()
        pod = {"metadata": {"name": "p", "creationTimestamp": "2025-11-08T10:30:45Z"}, "spec": {}}
        assert getcmd.pod_row(pod, {}, created + 3700)[4] == "61m"

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (-5, "<invalid>"),
            (-0.5, "0s"),
            (59, "59s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60 * 5, "3h5m"),
            (10 * 3600, "10h"),
            (50 * 3600, "2d2h"),
            (10 * 86400, "10d"),
            (800 * 86400, "2y70d"),
            (9 * 365 * 86400, "9y"),
        ],
    )
    def test_human_duration(self, seconds: float, text: str) -> None:
        """duration.HumanDuration."""
        assert getcmd.human_duration(seconds) == text

    def test_render_table(self) -> None:
        """Columns are padded by 3 with a minimum width of 6; the last is not padded."""
        assert (
            getcmd.render_table([["A", "BB"], ["long-name", "x"]])
            == "A           BB\nlong-name   x"
        )


class TestStateErrors:
    """Broken or hostile state gives a clear error, never a traceback or a lost pod."""

    def test_label_on_a_full_disk(
        self,
        state: PodState,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """ENOSPC: exit 1 with the file and the reason; pod.json is unchanged."""
        real_write = os.write

        def full(fd: int, data: Any) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "write", full)
        assert cli(state, "label", "dynamic-update-demo", "stage=beta", "--overwrite") == 1
        monkeypatch.setattr(os, "write", real_write)
        err = capsys.readouterr().err
        assert err.startswith('error: pod "dynamic-update-demo" not changed: cannot write ')
        assert err.endswith('pod.json": No space left on device\n')
        assert state.read_pod() == POD

    def test_label_with_a_corrupt_pod_json(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An unreadable pod.json is named; it is not overwritten."""
        Path(state.pod_file).write_text("{not json")
        assert cli(state, "annotate", "dynamic-update-demo", "a=b") == 1
        err = capsys.readouterr().err
        assert err.startswith('error: pod "dynamic-update-demo" not changed: pod state file "')
        assert 'pod.json": not valid JSON' in err
        assert Path(state.pod_file).read_text() == "{not json"

    @pytest.mark.parametrize(
        "argv",
        [
            ["label", "pod", "..", "a=b"],
            ["label", "-n", "../..", "dynamic-update-demo", "a=b"],
            ["get", "pods", "-n", "/etc"],
        ],
    )
    def test_hostile_names(
        self, state: PodState, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """Names that are not one path component are refused with client-go's message, before
        any path is built (the state layer's own refusal is tested in test_emulator_state)."""
        assert cli(state, *argv) == 1
        assert re.match(
            r'^error: invalid (resource name|namespace) ".*": \[may not ', capsys.readouterr().err
        )

    def test_get_shows_a_pod_whose_state_is_unreadable(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A running pod with a corrupt pod.json is listed, with a warning saying why."""
        state.write_status(
            {
                "phase": "Running",
                "containerStatuses": [{"name": "watcher", "ready": True, "state": {"running": {}}}],
            }
        )
        Path(state.pod_file).write_bytes(b"\x00garbage")
        assert cli(state, "get", "pods") == 0
        captured = capsys.readouterr()
        assert captured.out.splitlines()[1].startswith("dynamic-update-demo   1/1     Running")
        assert captured.err.startswith('warning: pod "dynamic-update-demo": pod state file "')
        assert "not valid JSON" in captured.err
        assert cli(state, "get", "pods", "-o", "name") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo\n"

    def test_get_in_an_unreadable_state_dir(
        self,
        state: PodState,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Another user's (0700) state directory is an error, not a traceback."""

        def denied(path: Any) -> list[str]:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)

        monkeypatch.setattr(os, "listdir", denied)
        assert cli(state, "get", "pods", "-A") == 1
        assert capsys.readouterr().err == (
            f'error: cannot list the pods in "{state.root}": Permission denied\n'
        )


KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None, reason="kubectl is not on PATH: the kubectl oracle tests need it"
)


def kubectl_local(
    tmp_path: Path, verb: str, *argv: str, output: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``kubectl VERB --local -f pod.json ARGV...`` on POD: kubectl's own answer, offline."""
    manifest = tmp_path / "kubectl-pod.json"
    manifest.write_text(json.dumps(POD), encoding="utf-8")
    command = [str(KUBECTL), verb, "--local", "-f", str(manifest), *argv]
    if output:
        command += ["-o", output]
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False, env=env)


# (verb, pairs and flags): kubectl 1.32's answer is the oracle. Left out on purpose, as --local
# answers differently from a change sent to the API server, which podself stands for: "a=b k-"
# (1.32 says "unlabeled" or "labeled" from the objects' byte lengths; newer kubectl and podself
# say "label(s) changed"), "nope-" (only the server path prints 'label "nope" not found.') and
# the API server's own checks of keys and values.
ORACLE_CASES = [
    ("label", ["stage=beta", "--overwrite"]),
    ("label", ["--overwrite", "stage=beta", "new=1"]),
    ("label", ["stage=beta"]),
    ("label", ["stage=alpha"]),
    ("label", ["stage-"]),
    ("label", ["a=b=c"]),
    ("label", ["a=1", "a-"]),
    ("label", ["--list"]),
    ("label", []),
    ("annotate", ["team=core"]),
    ("annotate", ["team=core", "--overwrite"]),
    ("annotate", ["owner=platform"]),
    ("annotate", ["team-"]),
    ("annotate", ["a=1", "a-"]),
]


class TestKubectlOracle:
    """label/annotate answer as kubectl does, whatever the order of the words and flags."""

    @needs_kubectl
    @pytest.mark.parametrize(("verb", "argv"), ORACLE_CASES)
    def test_same_answer_as_kubectl(
        self,
        state: PodState,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        verb: str,
        argv: list[str],
    ) -> None:
        """Exit status, output, message and resulting labels/annotations equal kubectl's, with
        the flags before, between or after the pod's words."""
        expected = kubectl_local(tmp_path, verb, *argv)
        flags = [a for a in argv if a.startswith("-") and not a.endswith("-")]
        pairs = [a for a in argv if a not in flags]
        name = str(POD["metadata"]["name"])
        orders = [
            ["pod", name, *pairs, *flags],
            [*flags, "pods", name, *pairs],
            ["po", *flags, name, "-n", "default", *pairs],
            [f"pod/{name}", *flags, *pairs],
        ]
        for words in orders:
            state.write_pod(POD)
            code = cli(state, verb, *words)
            out, err = capsys.readouterr()
            assert (code, out, err) == (expected.returncode, expected.stdout, expected.stderr)
        if expected.returncode == 0 and "--list" not in argv:
            changed = json.loads(kubectl_local(tmp_path, verb, *argv, output="json").stdout)
            field = "labels" if verb == "label" else "annotations"
            # kubectl --local keeps an emptied map; the API server omits it, as podself does.
            after = state.read_pod()["metadata"].get(field) or {}
            assert after == (changed["metadata"].get(field) or {})

    @needs_kubectl
    def test_get_yaml_and_json_as_kubectl_prints_them(
        self, state: PodState, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """get pod NAME -o yaml|json prints the object byte for byte as kubectl does."""
        name = str(POD["metadata"]["name"])
        for output in ("yaml", "json"):
            expected = kubectl_local(tmp_path, "annotate", "team=platform-team", output=output)
            assert cli(state, "get", "pod", name, "-o", output) == 0
            assert capsys.readouterr().out == expected.stdout


class TestArgumentOrder:
    """kubectl reads flags anywhere; so do label, annotate and get (kubectl not needed)."""

    @pytest.mark.parametrize(
        "argv",
        [
            ["pod", "dynamic-update-demo", "--overwrite", "stage=beta"],
            ["pod", "-n", "default", "dynamic-update-demo", "stage=beta", "--overwrite"],
            ["--overwrite", "dynamic-update-demo", "-n", "default", "stage=beta"],
        ],
    )
    def test_flags_between_words(
        self, state: PodState, capsys: pytest.CaptureFixture[str], argv: list[str]
    ) -> None:
        """--overwrite and -n after the pod's name used to be usage errors."""
        assert cli(state, "label", *argv) == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo labeled\n"
        assert state.read_pod()["metadata"]["labels"] == {"stage": "beta"}

    def test_unknown_flag_is_still_a_usage_error(self, state: PodState) -> None:
        """Only words join the positional list; an unknown option is refused, nothing changes."""
        with pytest.raises(SystemExit) as exit_info:
            cli(state, "label", "dynamic-update-demo", "--bogus", "stage=beta")
        assert exit_info.value.code == 2
        assert state.read_pod()["metadata"]["labels"] == {"stage": "alpha"}

    def test_get_names_after_flags(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """get pods -o name NAME, and the pod/NAME form."""
        assert cli(state, "get", "pods", "-o", "name", "dynamic-update-demo") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo\n"
        assert cli(state, "get", "pod/dynamic-update-demo", "-o", "name") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo\n"
        assert cli(state, "get", "pods", "pod/dynamic-update-demo") == 1
        assert "no need to specify a resource type" in capsys.readouterr().err


class TestGetOutput:
    """get -o yaml|json|wide."""

    def test_one_name_prints_the_pod_else_a_list(
        self, state: PodState, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """One name: the Pod; none or several: a List with kubectl's empty resourceVersion."""
        state.write_status({"phase": "Running", "terminating": False, "startTime": None})
        assert cli(state, "get", "pod", "dynamic-update-demo", "-o", "json") == 0
        pod = json.loads(capsys.readouterr().out)
        assert pod["kind"] == "Pod"
        assert pod["status"] == {"podIP": "127.0.0.1", "phase": "Running"}
        assert cli(state, "get", "pods", "-o", "yaml") == 0
        text = capsys.readouterr().out
        assert text.startswith("apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n")
        assert text.endswith('kind: List\nmetadata:\n  resourceVersion: ""\n')
        assert cli(state, "get", "pods", "dynamic-update-demo", "ghost", "-o", "yaml") == 1
        captured = capsys.readouterr()
        assert "kind: List" in captured.out
        assert captured.err == 'Error from server (NotFound): pods "ghost" not found\n'

    def test_wide_columns(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """IP (the first of podIPs), NODE, NOMINATED NODE and READINESS GATES."""
        pod = {**POD, "status": {"podIPs": [{"ip": "10.0.0.7"}], "conditions": []}}
        pod["spec"] = {**POD["spec"], "readinessGates": [{"conditionType": "x"}]}
        state.write_pod(pod)
        assert cli(state, "get", "pods", "-o", "wide") == 0
        header, row = capsys.readouterr().out.splitlines()
        columns = re.split(r"\s{2,}", header)
        assert columns[-4:] == ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]
        assert row.split()[-4:] == ["10.0.0.7", "node-1", "<none>", "0/1"]


class TestStartingPod:
    """A pod that `podself run` is still creating is waited for, a missing one is not."""

    def fake_proc(self, root: Path, argv: list[str], session: int, age: float) -> str:
        """A /proc with one process of ``argv`` in ``session``, started ``age`` seconds ago."""
        ticks = os.sysconf("SC_CLK_TCK")
        (root / "uptime").write_text("1000.00 10.00\n")
        proc = root / "4242"
        proc.mkdir()
        (proc / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + b"\0")
        fields = ["S", "1", "4242", str(session)] + ["0"] * 15 + [str(int((1000 - age) * ticks))]
        (proc / "stat").write_text(f"4242 (python3 x) {' '.join(fields)} 0 0\n")
        return str(root)

    @pytest.mark.parametrize(
        ("argv", "session", "age", "starting"),
        [
            (["python3", "-m", "podself", "run", "-f", "p.yaml"], 7, 1.0, True),
            (["/venv/bin/python", "/venv/bin/podself", "run", "-f", "p.yaml"], 7, 1.0, True),
            (["python3", "-m", "podself", "run", "-f", "p.yaml"], 8, 1.0, False),
            (["python3", "-m", "podself", "run", "-f", "p.yaml"], 7, 30.0, False),
            (["python3", "-m", "podself", "get", "pods"], 7, 1.0, False),
        ],
    )
    def test_run_starting(
        self, tmp_path: Path, argv: list[str], session: int, age: float, starting: bool
    ) -> None:
        """Only a young `podself run` of this session counts."""
        proc = self.fake_proc(tmp_path, argv, session, age)
        assert labelcmd.run_starting(proc, session=7) is starting

    def test_no_proc(self, tmp_path: Path) -> None:
        """Without /proc (macOS), nothing is starting."""
        assert labelcmd.run_starting(str(tmp_path / "none"), session=7) is False

    @pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
    def test_label_right_after_run_in_the_background(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`podself run ... &` then `podself label` at once: labeled, not NotFound."""
        manifest = tmp_path / "pod.yaml"
        manifest.write_text(
            "apiVersion: v1\nkind: Pod\nmetadata: {name: starting}\nspec:\n  containers:\n"
            f"  - name: c\n    image: x\n    command: [{sys.executable}, -c, "
            "'import time; time.sleep(30)']\n",
            encoding="utf-8",
        )
        root = str(tmp_path / "state")
        command = [sys.executable, "-m", "podself", "run", "-f", str(manifest)]
        with subprocess.Popen(
            [*command, "--state-dir", root, "--timeout", "20", "--no-namespace"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:
            try:
                assert main(["label", "pod", "starting", "a=b", "--state-dir", root]) == 0
            finally:
                process.terminate()
                process.wait(timeout=30)
        assert capsys.readouterr().out == "pod/starting labeled\n"


class TestAll:
    """label/annotate pods --all: every running pod of the namespace."""

    def test_labels_every_pod(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """Each pod is changed and reported; other namespaces are left alone."""
        other = {**POD, "metadata": {**POD["metadata"], "name": "second"}}
        second = PodState(state.root, "default", "second")
        second.create(other)
        elsewhere = PodState(state.root, "other", "third")
        elsewhere.create(other)
        assert cli(state, "label", "pods", "--all", "tier=web") == 0
        assert capsys.readouterr().out == "pod/dynamic-update-demo labeled\npod/second labeled\n"
        assert second.read_pod()["metadata"]["labels"]["tier"] == "web"
        assert "tier" not in elsewhere.read_pod()["metadata"]["labels"]
        assert cli(state, "label", "--list", "pods", "--all") == 0
        assert capsys.readouterr().out == (
            "Listing labels for Pod./dynamic-update-demo:\n stage=alpha\n tier=web\n"
            "Listing labels for Pod./second:\n stage=alpha\n tier=web\n"
        )

    def test_names_with_all(self, state: PodState, capsys: pytest.CaptureFixture[str]) -> None:
        """--all takes the type alone."""
        assert cli(state, "annotate", "pod", "dynamic-update-demo", "--all", "a=b") == 1
        assert capsys.readouterr().err.startswith("error: --all selects every pod")

    def test_no_pods(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """No running pod: nothing to change, nothing printed."""
        assert main(["label", "pods", "--all", "a=b", "--state-dir", str(tmp_path)]) == 0
        assert capsys.readouterr() == ("", "")


def test_run_validates_for_the_chosen_release(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """run --kubernetes-version 1.33 refuses a field that release lacks, before starting."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: envfile}\nspec:\n"
        "  containers:\n  - name: app\n    image: busybox\n    command: [/bin/true]\n"
        "    env:\n    - name: DB\n      valueFrom:\n"
        "        fileKeyRef: {volumeName: config, path: app.env, key: DB}\n"
        "  volumes:\n  - name: config\n    emptyDir: {}\n"
    )
    state_dir = tmp_path / "state"
    argv = ["run", "-f", str(manifest), "--state-dir", str(state_dir), "--no-namespace"]
    assert main([*argv, "--kubernetes-version", "1.33"]) == 2
    assert capsys.readouterr().err == (
        f'Error from server (BadRequest): error when creating "{manifest}": Pod in version "v1" '
        "cannot be handled as a Pod: strict decoding error: unknown field "
        '"spec.containers[0].env[0].valueFrom.fileKeyRef"\n'
    )


class TestRunArguments:
    """``podself run``'s own options."""

    def test_entrypoint_that_does_not_split(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An --entrypoint with an unclosed quote is a usage error naming it, before anything
        runs (it was a ValueError traceback when the container started)."""
        pod = tmp_path / "pod.yaml"
        pod.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
        with pytest.raises(SystemExit) as stopped:
            main(["run", "-f", str(pod), "--entrypoint", 'app=echo "open'])
        assert stopped.value.code == 2
        assert capsys.readouterr().err.endswith(
            'argument --entrypoint: "app=echo "open": COMMAND is split like a shell word list: '
            "No closing quotation\n"
        )

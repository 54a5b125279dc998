"""podself label / annotate / get: kubectl's syntax and messages against a running pod."""

from __future__ import annotations

import errno
import os
import re
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

"""Tests for podself.manifest.lint.rules.gates: feature gates by Kubernetes release."""

from __future__ import annotations

from pathlib import Path

import pytest

from podself.validation import kubernetes_target
from tests.lint_helpers import lint_obj, make_pod

_ENV_FILE_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: envfile}
spec:
  containers:
  - name: app
    image: busybox
    env:
    - name: DB_HOST
      valueFrom:
        fileKeyRef: {volumeName: config, path: app.env, key: DB_HOST}
  volumes:
  - name: config
    emptyDir: {}
"""


class TestKubernetesVersionOption:
    """lint --kubernetes-version validates as that release's API server does."""

    def test_file_key_ref_by_release(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from podself.cli import main

        manifest = tmp_path / "pod.yaml"
        manifest.write_text(_ENV_FILE_POD)
        assert main(["lint", str(manifest)]) == 0
        assert main(["lint", str(manifest), "--kubernetes-version", "1.34"]) == 0
        capsys.readouterr()
        assert main(["lint", str(manifest), "--kubernetes-version", "v1.33"]) == 1
        out = capsys.readouterr().out
        assert 'unknown field "spec.containers[0].env[0].valueFrom.fileKeyRef"' in out
        assert "--kubernetes-version" in out  # the hint names the option

    def test_default_off_gates_follow_the_release(self) -> None:
        """fileKeyRef is off by default in 1.34 only; image volumes before 1.35."""
        spec = {
            "containers": [
                {
                    "name": "c",
                    "image": "i",
                    "env": [
                        {
                            "name": "X",
                            "valueFrom": {
                                "fileKeyRef": {"volumeName": "v", "path": "p", "key": "K"}
                            },
                        }
                    ],
                }
            ],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "i", "image": {"reference": "r"}}],
        }
        found = {}
        for release in ("1.33", "1.34", "1.35"):
            with kubernetes_target(release):
                found[release] = [
                    f.field for f in lint_obj(make_pod(spec)) if f.rule == "feature-gate-off"
                ]
        assert found == {
            "1.33": ["spec.volumes[1].image"],
            "1.34": ["spec.containers[0].env[0].valueFrom.fileKeyRef", "spec.volumes[1].image"],
            "1.35": [],
        }

    def test_unsupported_release_is_a_usage_error(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        from podself.cli import main

        manifest = tmp_path / "pod.yaml"
        manifest.write_text(_ENV_FILE_POD)
        with pytest.raises(SystemExit) as info:
            main(["lint", str(manifest), "--kubernetes-version", "1.29"])
        assert info.value.code == 2
        assert "unsupported Kubernetes version '1.29': podself models 1.30 to 1.35" in (
            capsys.readouterr().err
        )

"""podself.emulator.volumes: kubelet volume payloads and their ..data projection."""

from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest

import podself
from podself import atomic
from podself.atomic import FileProjection
from podself.emulator.env import ObjectStore
from podself.emulator.volumes import (
    VolumeSet,
    config_map_payload,
    downward_payload,
    projected_payload,
    resolve_sub_path,
    secret_payload,
)
from podself.errors import ConfinementError, ManifestError, PayloadError, ResourceFieldError

ALLOCATABLE = {"cpu": "2", "memory": "4Gi"}


def make_pod(volumes: list[dict[str, Any]], labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A pod with ``volumes`` and the seed's multi-container resources."""
    return {
        "metadata": {
            "name": "volume-downward-demo",
            "namespace": "default",
            "uid": "u-1",
            "labels": labels if labels is not None else {"app": "myapp", "version": "2.0"},
            "annotations": {"team": "platform-team", "build-id": "build-456"},
        },
        "spec": {
            "containers": [
                {"name": "main-app", "resources": {"limits": {"memory": "1Gi", "cpu": "1000m"}}},
                {"name": "monitor"},
            ],
            "volumes": volumes,
        },
    }


def item(path: str, field_path: str, mode: int | None = None) -> dict[str, Any]:
    """A downwardAPI fieldRef item."""
    entry: dict[str, Any] = {"path": path, "fieldRef": {"fieldPath": field_path}}
    if mode is not None:
        entry["mode"] = mode
    return entry


def store(*objs: dict[str, Any]) -> ObjectStore:
    """An ObjectStore with ``objs``."""
    objects = ObjectStore()
    for obj in objs:
        objects.add(obj, "default")
    return objects


CONFIG = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "cfg"},
    "data": {"a": "1", "b": "2"},
}
SECRET = {
    "apiVersion": "v1",
    "kind": "Secret",
    "metadata": {"name": "sec"},
    "data": {"token": base64.b64encode(b"s3cr3t").decode()},
}


class TestDownwardPayload:
    """downwardAPI items."""

    def test_seed_exercise_two(self) -> None:
        """Labels and annotations files are FormatMap text without a trailing newline."""
        source = {
            "items": [
                item("labels", "metadata.labels"),
                item("annotations", "metadata.annotations"),
                item("pod-name", "metadata.name"),
            ]
        }
        payload = downward_payload(make_pod([]), source, 0o644, ALLOCATABLE)
        assert payload["labels"].data == b'app="myapp"\nversion="2.0"'
        assert payload["annotations"].data == b'build-id="build-456"\nteam="platform-team"'
        assert payload["pod-name"] == FileProjection(b"volume-downward-demo", 0o644)

    def test_modes_and_clean_paths(self) -> None:
        """An item's mode wins over defaultMode; paths are cleaned; the last item wins."""
        source = {
            "items": [
                item("./a//b", "metadata.name", 0o600),
                item("a/b", "metadata.uid"),
            ]
        }
        payload = downward_payload(make_pod([]), source, 0o640, ALLOCATABLE)
        assert payload == {"a/b": FileProjection(b"u-1", 0o640)}

    def test_resources(self) -> None:
        """resourceFieldRef items use the named container, node allocatable for gaps."""
        source = {
            "items": [
                {
                    "path": "mem",
                    "resourceFieldRef": {
                        "containerName": "main-app",
                        "resource": "limits.memory",
                        "divisor": "1Mi",
                    },
                },
                {
                    "path": "cpu",
                    "resourceFieldRef": {
                        "containerName": "monitor",
                        "resource": "limits.cpu",
                        "divisor": "1m",
                    },
                },
            ]
        }
        payload = downward_payload(make_pod([]), source, 0o644, ALLOCATABLE)
        assert payload["mem"].data == b"1024"
        assert payload["cpu"].data == b"2000"

    def test_missing_container(self) -> None:
        """An unknown containerName fails like the kubelet."""
        source = {
            "items": [
                {"path": "x", "resourceFieldRef": {"containerName": "no", "resource": "limits.cpu"}}
            ]
        }
        with pytest.raises(ResourceFieldError, match="container no not found"):
            downward_payload(make_pod([]), source, 0o644, ALLOCATABLE)

    @pytest.mark.parametrize("path", ["../evil", "/etc/passwd", "..data/x", ""])
    def test_traversal_is_refused(self, path: str) -> None:
        """Paths the atomic writer refuses never reach the disk."""
        with pytest.raises(PayloadError, match="invalid path"):
            downward_payload(make_pod([]), {"items": [item(path, "metadata.name")]}, 0o644, {})


class TestConfigMapAndSecret:
    """configMap and secret payloads."""

    def test_all_keys(self) -> None:
        """Without items every key becomes a file with defaultMode."""
        payload = config_map_payload({"name": "cfg"}, {"a": "1", "b": b"\0"}, 0o600)
        assert payload == {"a": FileProjection(b"1", 0o600), "b": FileProjection(b"\0", 0o600)}

    def test_items(self) -> None:
        """Listed keys go to their paths with their modes."""
        source = {"name": "cfg", "items": [{"key": "a", "path": "x/y", "mode": 0o400}]}
        assert config_map_payload(source, {"a": "1", "b": "2"}, 0o644) == {
            "x/y": FileProjection(b"1", 0o400)
        }

    def test_missing(self) -> None:
        """Missing ConfigMaps and keys fail with the kubelet's messages unless optional."""
        with pytest.raises(ManifestError, match=r'^configmap "cfg" not found$'):
            config_map_payload({"name": "cfg"}, None, 0o644)
        source = {"name": "cfg", "items": [{"key": "z", "path": "z"}]}
        with pytest.raises(
            ManifestError, match=r"^configmap references non-existent config key: z$"
        ):
            config_map_payload(source, {"a": "1"}, 0o644)
        assert config_map_payload({**source, "optional": True}, {"a": "1"}, 0o644) == {}
        assert config_map_payload({"name": "cfg", "optional": True}, None, 0o644) == {}

    def test_root_ca_config_map_is_optional_here(self) -> None:
        """kube-root-ca.crt exists in every cluster; its absence here is not an error."""
        assert config_map_payload({"name": "kube-root-ca.crt"}, None, 0o644) == {}

    def test_secret(self) -> None:
        """Secrets give their bytes; missing ones fail like the kubelet."""
        assert secret_payload({"secretName": "s"}, {"t": b"x"}, 0o400) == {
            "t": FileProjection(b"x", 0o400)
        }
        with pytest.raises(ManifestError, match=r'^secret "s" not found$'):
            secret_payload({"secretName": "s"}, None, 0o644)
        with pytest.raises(ManifestError, match=r"^references non-existent secret key: k$"):
            secret_payload({"secretName": "s", "items": [{"key": "k", "path": "k"}]}, {}, 0o644)


class TestProjected:
    """projected volumes."""

    def test_sources(self) -> None:
        """Each source adds its files with the projected defaultMode; tokens are noted."""
        source = {
            "defaultMode": 0o440,
            "sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"configMap": {"name": "cfg", "items": [{"key": "a", "path": "a"}]}},
                {"secret": {"name": "sec"}},
                {"downwardAPI": {"items": [item("namespace", "metadata.namespace")]}},
            ],
        }
        notes: list[str] = []
        payload = projected_payload(make_pod([]), source, store(CONFIG, SECRET), ALLOCATABLE, notes)
        assert payload == {
            "a": FileProjection(b"1", 0o440),
            "token": FileProjection(b"s3cr3t", 0o440),
            "namespace": FileProjection(b"default", 0o440),
        }
        assert notes == ["projected serviceAccountToken sources are not emulated (no file written)"]

    def test_pod_certificate_writes_nothing_and_says_so(self) -> None:
        """A podCertificate source (1.34+) is validated upstream but not minted here."""
        certificate = {
            "signerName": "example.com/signer",
            "keyType": "ED25519",
            "credentialBundlePath": "bundle.pem",
        }
        source = {"sources": [{"podCertificate": certificate}]}
        notes: list[str] = []
        payload = projected_payload(make_pod([]), source, store(), ALLOCATABLE, notes)
        assert payload == {}
        assert notes == ["projected podCertificate sources are not emulated (no file written)"]


class TestVolumeSet:
    """Volumes on disk and their updates."""

    def test_setup_and_sync(self, tmp_path: Path) -> None:
        """Volumes are written with ..data; a label change rewrites only what changed."""
        volumes = [
            {"name": "podinfo", "downwardAPI": {"items": [item("labels", "metadata.labels")]}},
            {"name": "names", "downwardAPI": {"items": [item("name", "metadata.name")]}},
            {"name": "scratch", "emptyDir": {}},
        ]
        pod = make_pod(volumes, {"stage": "alpha"})
        vset = VolumeSet(pod, str(tmp_path), ObjectStore(), ALLOCATABLE)
        vset.setup()
        labels = tmp_path / "podinfo" / "labels"
        assert labels.read_text() == 'stage="alpha"'
        assert os.path.islink(tmp_path / "podinfo" / "..data")
        assert stat.S_IMODE((tmp_path / "scratch").stat().st_mode) == 0o777
        assert vset.sync(pod) == []
        changed = make_pod(volumes, {"stage": "beta"})
        assert vset.sync(changed) == ["podinfo"]
        assert labels.read_text() == 'stage="beta"'

    def test_per_container_directories_are_projected_and_updated(self, tmp_path: Path) -> None:
        """containers/<name>/ files are written in the ..data layout and follow a resize."""

        def resource(path: str, container: str, divisor: str) -> dict[str, Any]:
            ref = {"containerName": container, "resource": "limits.cpu", "divisor": divisor}
            return {"path": path, "resourceFieldRef": ref}

        volumes = [
            {
                "name": "podinfo",
                "downwardAPI": {
                    "items": [
                        item("labels", "metadata.labels"),
                        resource("containers/main-app/cpu_limit", "main-app", "1m"),
                        resource("containers/monitor/cpu_limit", "monitor", "1m"),
                    ]
                },
            }
        ]
        pod = make_pod(volumes)
        vset = VolumeSet(pod, str(tmp_path), ObjectStore(), ALLOCATABLE)
        vset.setup()
        root = tmp_path / "podinfo"
        assert os.readlink(root / "containers") == "..data/containers"
        assert (root / "containers/main-app/cpu_limit").read_text() == "1000"
        assert (root / "containers/monitor/cpu_limit").read_text() == "2000"  # node allocatable
        resized = make_pod(volumes)
        resized["spec"]["containers"][0]["resources"]["limits"]["cpu"] = "1500m"
        assert vset.sync(resized) == ["podinfo"]
        assert (root / "containers/main-app/cpu_limit").read_text() == "1500"
        env = {"K8S_CONTAINER_NAME": "monitor"}
        info = podself.read(environ=env, podinfo_dirs=[root], proc_root=tmp_path / "no-proc")
        assert info.containers["main-app"].cpu_limit == 1500
        assert info.resources.cpu_limit == 2000
        assert info.source_of("resources.cpu_limit").origin == (
            f"{root}/containers/monitor/cpu_limit"
        )

    def test_failed_write_names_the_volume(self, tmp_path: Path) -> None:
        """A write that fails is an error naming the volume, never silent."""
        volumes = [
            {"name": "podinfo", "downwardAPI": {"items": [item("labels", "metadata.labels")]}}
        ]
        vset = VolumeSet(make_pod(volumes, {"stage": "alpha"}), str(tmp_path), ObjectStore(), {})
        vset.setup()
        # The volume directory replaced by a symlink: the writer refuses to follow it.
        os.rename(tmp_path / "podinfo", tmp_path / "moved")
        os.symlink(tmp_path / "moved", tmp_path / "podinfo")
        before = sorted(os.listdir(tmp_path / "moved"))
        with pytest.raises(ManifestError, match=r'^volume update failed for volume "podinfo" : '):
            vset.sync(make_pod(volumes, {"stage": "beta"}))
        assert (tmp_path / "moved" / "labels").read_text() == 'stage="alpha"'
        assert sorted(os.listdir(tmp_path / "moved")) == before

    def test_missing_config_map_fails_setup(self, tmp_path: Path) -> None:
        """A missing ConfigMap fails with MountVolume.SetUp's message."""
        pod = make_pod([{"name": "cfg", "configMap": {"name": "nope"}}])
        with pytest.raises(
            ManifestError,
            match=re.escape(
                'MountVolume.SetUp failed for volume "cfg" : configmap "nope" not found'
            ),
        ):
            VolumeSet(pod, str(tmp_path), ObjectStore(), ALLOCATABLE).setup()

    def test_traversal_writes_nothing_outside(self, tmp_path: Path) -> None:
        """An items[].path escaping the volume is refused before anything is written."""
        base = tmp_path / "volumes"
        base.mkdir()
        pod = make_pod(
            [{"name": "podinfo", "downwardAPI": {"items": [item("../../evil", "metadata.name")]}}]
        )
        with pytest.raises(ManifestError, match=re.escape("must not contain '..'")):
            VolumeSet(pod, str(base), ObjectStore(), ALLOCATABLE).setup()
        assert sorted(p.name for p in tmp_path.rglob("*")) == ["podinfo", "volumes"]
        assert list((base / "podinfo").iterdir()) == []

    def test_config_map_and_secret_volumes(self, tmp_path: Path) -> None:
        """configMap and secret volumes hold their keys."""
        pod = make_pod(
            [
                {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 0o600}},
                {"name": "sec", "secret": {"secretName": "sec"}},
            ]
        )
        vset = VolumeSet(pod, str(tmp_path), store(CONFIG, SECRET), ALLOCATABLE)
        vset.setup()
        assert atomic.read_snapshot(tmp_path / "cfg").files == {"a": b"1", "b": b"2"}
        assert stat.S_IMODE((tmp_path / "cfg" / "a").stat().st_mode) == 0o600
        assert (tmp_path / "sec" / "token").read_bytes() == b"s3cr3t"
        assert vset.volumes["cfg"].api_data

    def test_host_path(self, tmp_path: Path) -> None:
        """hostPath volumes use the host directory; type checks apply."""
        host = tmp_path / "host"
        pod = make_pod(
            [{"name": "h", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}}]
        )
        vset = VolumeSet(pod, str(tmp_path / "v"), ObjectStore(), ALLOCATABLE)
        vset.setup()
        assert vset.path("h") == str(host)
        assert host.is_dir()
        bad = make_pod([{"name": "h", "hostPath": {"path": str(host), "type": "File"}}])
        with pytest.raises(ManifestError, match="is not a file"):
            VolumeSet(bad, str(tmp_path / "v2"), ObjectStore(), ALLOCATABLE).setup()

    def test_other_volume_types_are_empty_dirs(self, tmp_path: Path) -> None:
        """Unsupported types become empty directories, with a note."""
        pod = make_pod([{"name": "data", "persistentVolumeClaim": {"claimName": "pvc"}}])
        vset = VolumeSet(pod, str(tmp_path), ObjectStore(), ALLOCATABLE)
        vset.setup()
        assert (tmp_path / "data").is_dir()
        assert vset.notes == [
            'volume "data" (persistentVolumeClaim) is emulated as an empty directory'
        ]

    def test_bad_volume_name(self, tmp_path: Path) -> None:
        """A volume name that is not a plain directory name is refused."""
        pod = make_pod([{"name": "../x", "emptyDir": {}}])
        with pytest.raises(ManifestError, match="not a valid directory name"):
            VolumeSet(pod, str(tmp_path), ObjectStore(), ALLOCATABLE).setup()

    def test_unknown_volume(self, tmp_path: Path) -> None:
        """Asking for a volume that does not exist is an error."""
        with pytest.raises(ManifestError, match='volume "x" not found'):
            VolumeSet(make_pod([]), str(tmp_path), ObjectStore(), {}).path("x")


class TestSubPath:
    """subPath resolution."""

    def test_file_inside(self, tmp_path: Path) -> None:
        """A subPath resolves through symlinks to the real file."""
        atomic.write(tmp_path, {"labels": "a"})
        real = resolve_sub_path(str(tmp_path), "labels", create=False)
        assert real.startswith(str(tmp_path.resolve()))
        assert "..20" in real  # inside the timestamp directory: the inode a bind would pin

    def test_created_when_missing(self, tmp_path: Path) -> None:
        """A missing subPath of a writable volume is created as a directory."""
        real = resolve_sub_path(str(tmp_path), "sub/dir", create=True)
        assert os.path.isdir(real)

    def test_missing_in_read_only_volume(self, tmp_path: Path) -> None:
        """A missing subPath of a kubelet-written volume is an error."""
        with pytest.raises(ManifestError, match="does not exist"):
            resolve_sub_path(str(tmp_path), "nope", create=False)

    def test_escape_is_refused(self, tmp_path: Path) -> None:
        """A subPath whose symlink leads outside the volume is refused."""
        volume = tmp_path / "vol"
        volume.mkdir()
        (volume / "out").symlink_to(tmp_path)
        with pytest.raises(ConfinementError, match="not within volume path"):
            resolve_sub_path(str(volume), "out", create=False)

    def test_creation_never_follows_a_symlink_out(self, tmp_path: Path) -> None:
        """A missing subPath below a symlink that leads out is refused before anything is
        created: the host directory it points at stays as it was."""
        outside = tmp_path / "outside"
        outside.mkdir()
        (outside / "canary").write_text("keep")
        volume = tmp_path / "vol"
        volume.mkdir()
        (volume / "link").symlink_to(outside)
        for sub_path in ("link/new", "link/a/b", "link"):
            with pytest.raises(ConfinementError, match="not within volume path"):
                resolve_sub_path(str(volume), sub_path, create=True)
        assert sorted(os.listdir(outside)) == ["canary"]

    def test_symlink_inside_the_volume_is_followed(self, tmp_path: Path) -> None:
        """A symlink that stays inside the volume is resolved, as the kubelet does."""
        volume = tmp_path / "vol"
        (volume / "real").mkdir(parents=True)
        (volume / "alias").symlink_to("real")
        real = resolve_sub_path(str(volume), "alias/made", create=True)
        assert real == str((volume / "real" / "made").resolve())
        assert os.path.isdir(real)

    @pytest.mark.parametrize(
        ("sub_path", "message"),
        [
            ("/etc", "error SubPath `/etc` must not be an absolute path"),
            ("a/../../x", "unable to provision SubPath `a/../../x`: must not contain '..'"),
            ("..", "unable to provision SubPath `..`: must not contain '..'"),
            ("a\0b", "unable to provision SubPath `a\0b`: must not contain a NUL byte"),
        ],
    )
    def test_kubelet_refusals(self, tmp_path: Path, sub_path: str, message: str) -> None:
        """Absolute and backstepping subPaths get the kubelet's messages, nothing is made."""
        with pytest.raises(ManifestError) as info:
            resolve_sub_path(str(tmp_path), sub_path, create=True)
        assert str(info.value) == message
        assert os.listdir(tmp_path) == []


def _oracle_volume_cases() -> list[dict[str, Any]]:
    from tests.conftest import SHARED_CONFORMANCE_DIR

    path = SHARED_CONFORMANCE_DIR / "resource-values-oracle.json"
    if not path.is_file():
        return []
    import json

    cases = json.loads(path.read_text())["cases"]
    return [c for c in cases if c["path"] == "volume" and "pod-level-limits-on-volume" in c["tags"]]


class TestVolumeResourceValuesIgnorePodLimits:
    def test_pod_level_limit_not_used_for_a_volume_file(self) -> None:
        # The kubelet's volume path falls back to node allocatable only (no pod-level limits).
        pod = make_pod([])
        pod["spec"]["containers"][1]["resources"] = {}
        pod["spec"]["resources"] = {"limits": {"cpu": "500m", "memory": "1Gi"}}
        source = {
            "items": [
                {
                    "path": "cpu",
                    "resourceFieldRef": {"containerName": "monitor", "resource": "limits.cpu"},
                },
                {
                    "path": "mem",
                    "resourceFieldRef": {"containerName": "monitor", "resource": "limits.memory"},
                },
            ]
        }
        payload = downward_payload(pod, source, 0o644, ALLOCATABLE)
        assert payload["cpu"].data == b"2"
        assert payload["mem"].data == str(4 * 1024**3).encode()

    def test_oracle_cases_with_pod_level_limits(self) -> None:
        cases = _oracle_volume_cases()
        if not cases:
            from tests.conftest import SHARED_CONFORMANCE_DIR

            pytest.skip(f"no {SHARED_CONFORMANCE_DIR / 'resource-values-oracle.json'}")
        wrong = []
        for case in cases:
            pod: dict[str, Any] = {
                "metadata": {"name": "p", "namespace": "default"},
                "spec": {
                    "containers": [
                        {"name": "c", "resources": case["container_resources"]},
                        {"name": "other"},
                    ],
                },
            }
            if case["pod_level_limits"] is not None:
                pod["spec"]["resources"] = {"limits": case["pod_level_limits"]}
            selector = {"containerName": "c", "resource": case["resource"]}
            if case["divisor"] is not None:
                selector["divisor"] = case["divisor"]
            source = {"items": [{"path": "v", "resourceFieldRef": selector}]}
            expected = case["expected"]
            try:
                got: object = downward_payload(pod, source, 0o644, case["node_allocatable"])[
                    "v"
                ].data.decode()
            except ResourceFieldError as exc:
                got = {"error": str(exc).lower()}
                if isinstance(expected, dict):
                    expected = {"error": expected["error"].lower()}
            if got != expected:
                wrong.append((case["id"], got, expected))
        assert not wrong, wrong[:5]

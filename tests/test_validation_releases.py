"""Tests for podself.validation.releases: the rules of each supported Kubernetes release."""

from __future__ import annotations

from typing import Any

import pytest

from podself.errors import ManifestError
from podself.validation import (
    REQUIRED,
    UNKNOWN_FIELD,
    FieldError,
    kubernetes_target,
    parse_kubernetes_version,
    validate_env,
    validate_pod_spec,
    validate_volume,
)
from tests.validation_helpers import (
    DNS_LABEL_MSG,
    rendered,
)


def _file_env(**ref: Any) -> dict[str, Any]:
    return {"name": "FROM_FILE", "valueFrom": {"fileKeyRef": ref}}


def _env_pod(env: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "initContainers": [{"name": "init", "image": "i", "env": env}],
        "containers": [{"name": "c", "image": "i", "env": env}],
        "volumes": volumes,
    }


class TestKubernetesVersions:
    """Each supported release's rules, chosen with kubernetes_version or kubernetes_target."""

    def test_versions_parse_and_unsupported_ones_are_refused(self) -> None:
        assert parse_kubernetes_version("v1.34") == "1.34"
        assert parse_kubernetes_version("1.33.7") == "1.33"
        for bad in ("1.29", "1.36", "2.0", "1.3x", "", "1.35.", "x" * 100):
            with pytest.raises(ManifestError, match="unsupported Kubernetes version"):
                parse_kubernetes_version(bad)

    def test_file_key_ref_is_accepted_from_1_34(self) -> None:
        env = [_file_env(volumeName="config", path="app.env", key="DB_HOST")]
        spec = _env_pod(env, [{"name": "config", "emptyDir": {}}])
        assert validate_pod_spec(spec) == []
        assert validate_pod_spec(spec, kubernetes_version="1.34") == []

    def test_file_key_ref_before_1_34_is_an_unknown_field(self) -> None:
        env = [_file_env(volumeName="config", path="app.env", key="K")]
        errors = validate_env(env, "spec.containers[0].env", kubernetes_version="1.33")
        assert errors == [
            FieldError(UNKNOWN_FIELD, "spec.containers[0].env[0].valueFrom.fileKeyRef")
        ]
        assert str(errors[0]) == ('unknown field "spec.containers[0].env[0].valueFrom.fileKeyRef"')
        # Only the decoding error: no "more than one field" for a second source.
        env[0]["valueFrom"]["fieldRef"] = {"fieldPath": "metadata.name"}
        assert validate_env(env, "e", kubernetes_version="1.33") == [
            FieldError(UNKNOWN_FIELD, "e[0].valueFrom.fileKeyRef")
        ]

    def test_file_key_selector_rules(self) -> None:
        env = [
            _file_env(volumeName="", path="", key=""),
            _file_env(volumeName="Config", path="/abs/../x.env", key="A=B"),
            _file_env(volumeName="config", path="/abs/app.env", key="ok key"),
        ]
        assert rendered(validate_env(env, "e")) == [
            "e[0].valueFrom.fileKeyRef.key: Required value",
            "e[0].valueFrom.fileKeyRef.volumeName: Required value",
            "e[0].valueFrom.fileKeyRef.path: Required value",
            'e[1].valueFrom.fileKeyRef.key: Invalid value: "A=B": a valid environment variable '
            "name must consist only of printable ASCII characters other than '='",
            f'e[1].valueFrom.fileKeyRef.volumeName: Invalid value: "Config": {DNS_LABEL_MSG}',
            'e[1].valueFrom.fileKeyRef.path: Invalid value: "/abs/../x.env": '
            "must not contain '..'",
        ]

    def test_file_key_ref_with_another_source_or_a_value(self) -> None:
        ref = {"volumeName": "v", "path": "p", "key": "k"}
        both = {
            "name": "X",
            "valueFrom": {"fileKeyRef": ref, "fieldRef": {"fieldPath": "metadata.name"}},
        }
        valued = {"name": "Y", "value": "v", "valueFrom": {"fileKeyRef": ref}}
        assert [e.detail for e in validate_env([both, valued], "e")] == [
            "may not have more than one field specified at a time",
            "may not be specified when `value` is not empty",
        ]

    def test_empty_value_from_message_follows_the_release(self) -> None:
        env = [{"name": "X", "valueFrom": {}}]
        assert validate_env(env, "e", kubernetes_version="1.33")[0].detail == (
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`"
        )
        assert validate_env(env, "e", kubernetes_version="1.34")[0].detail.endswith(
            "`secretKeyRef` or `fileKeyRef`"
        )

    def test_file_key_ref_volume_must_exist_and_be_an_empty_dir(self) -> None:
        env = [
            _file_env(volumeName="missing", path="a.env", key="K"),
            _file_env(volumeName="cfg", path="a.env", key="K"),
        ]
        spec = _env_pod(env, [{"name": "cfg", "configMap": {"name": "c"}}])
        errors = validate_pod_spec(spec)
        assert rendered(errors) == [
            'spec.initContainers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "missing"',
            'spec.initContainers[0].env[1].valueFrom.fileKeyRef.volumeName: Invalid value: "cfg": '
            "referenced volume must be of type emptyDir",
            'spec.containers[0].env[0].valueFrom.fileKeyRef.volumeName: Not found: "missing"',
            'spec.containers[0].env[1].valueFrom.fileKeyRef.volumeName: Invalid value: "cfg": '
            "referenced volume must be of type emptyDir",
        ]

    def test_env_names_are_relaxed_from_1_32(self) -> None:
        env = [{"name": "1 bad name", "value": "x"}]
        assert validate_env(env, "e", kubernetes_version="1.32") == []
        with kubernetes_target("1.31"):
            assert [e.field for e in validate_env(env, "e")] == ["e[0].name"]
        assert validate_env(env, "e") == []  # back to the default release

    def test_image_volumes_exist_from_1_31(self) -> None:
        volume = {"name": "img", "image": {"reference": "registry/x:1"}}
        assert validate_volume(volume, "v") == []
        assert validate_volume(volume, "v", kubernetes_version="1.30") == [
            FieldError(UNKNOWN_FIELD, "v.image"),
            FieldError(REQUIRED, "v", None, "must specify a volume type"),
        ]

    def test_source_kinds_message_before_1_31(self) -> None:
        source = {"secret": {"name": "s"}, "configMap": {"name": "c"}}
        volume = {"name": "p", "projected": {"sources": [source]}}
        details = [e.detail for e in validate_volume(volume, "v", kubernetes_version="1.30")]
        assert details == ["may not specify more than 1 volume type"]

"""Tests for podself.validation.volumes beyond the conformance vectors: downwardAPI, projected
and podCertificate sources, paths and modes."""

from __future__ import annotations

from typing import Any, Final

import pytest

from podself.validation import (
    INVALID,
    REQUIRED,
    TYPE_INVALID,
    UNKNOWN_FIELD,
    FieldError,
    validate_volume,
)
from tests.validation_helpers import (
    DNS_LABEL_MSG,
    MODE_MSG,
    downward_volume,
    field_item,
    rendered,
)

VOLUME_SUPPORTED = (
    'supported values: "metadata.annotations", "metadata.labels", "metadata.name", '
    '"metadata.namespace", "metadata.uid"'
)


class TestValidateVolume:
    """validate_volume reproduces ValidateVolumes for one downwardAPI or projected volume."""

    def test_item_errors_have_no_index(self) -> None:
        """Item errors sit at the downwardAPI path itself, whichever item caused them."""
        volume = downward_volume(
            field_item("ok", "metadata.name"),
            field_item("..data", "metadata.name", mode=0o1000),
            field_item("x", "status.podIP"),
        )
        assert rendered(validate_volume(volume, "spec.volumes[3]")) == [
            "spec.volumes[3].downwardAPI.path: Invalid value: \"..data\": must not start with '..'",
            f"spec.volumes[3].downwardAPI.mode: Invalid value: 512: {MODE_MSG}",
            'spec.volumes[3].downwardAPI.fieldRef.fieldPath: Unsupported value: "status.podIP": '
            f"{VOLUME_SUPPORTED}",
        ]

    @pytest.mark.parametrize(
        ("path", "details"),
        [
            ("...", ["must not start with '..'"]),
            ("a/..", ["must not contain '..'"]),
            ("/..", ["must be a relative path", "must not contain '..'"]),
            ("./a", []),
            ("a/..b/c", []),
            ("a\\..\\b", []),
        ],
    )
    def test_item_paths(self, path: str, details: list[str]) -> None:
        """Item paths follow ValidateLocalNonReservedPath on a Linux API server."""
        errors = validate_volume(downward_volume(field_item(path, "metadata.name")), "v")
        assert [e.detail for e in errors] == details

    def test_modes(self) -> None:
        """Modes 0 and 0777 pass; 0o1000, -1 and non-integers do not."""
        good = downward_volume(
            field_item("a", "metadata.name", mode=0), field_item("b", "metadata.uid", mode=0o777)
        )
        assert validate_volume(good, "v") == []
        bad = downward_volume(
            field_item("a", "metadata.name", mode=True),
            field_item("b", "metadata.name", mode="0644"),
            field_item("c", "metadata.name", mode=2**40),
            defaultMode=-1,
        )
        assert [(e.type, e.field, e.bad_value) for e in validate_volume(bad, "v")] == [
            (INVALID, "v.downwardAPI.defaultMode", -1),
            (TYPE_INVALID, "v.downwardAPI.mode", True),
            (TYPE_INVALID, "v.downwardAPI.mode", "0644"),
            (TYPE_INVALID, "v.downwardAPI.mode", 2**40),
        ]

    def test_volume_resource_ref_needs_container_but_divisor_is_still_checked(self) -> None:
        """A missing containerName hides the resource check, not the divisor check."""
        volume = downward_volume(
            {"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu", "divisor": "2"}}
        )
        assert [(e.type, e.field) for e in validate_volume(volume, "v")] == [
            (REQUIRED, "v.downwardAPI.resourceFieldRef.containerName"),
            (INVALID, "v.downwardAPI.resourceFieldRef.divisor"),
        ]

    def test_hugepages_in_volume(self) -> None:
        """hugepages-* resources with a memory divisor are valid in volumes."""
        volume = downward_volume(
            {
                "path": "hp",
                "resourceFieldRef": {
                    "containerName": "app",
                    "resource": "limits.hugepages-1Gi",
                    "divisor": "1Gi",
                },
            }
        )
        assert validate_volume(volume, "v") == []

    def test_subscripts_in_volume(self) -> None:
        """Volumes accept whole maps and subscripts; keys are checked like in env."""
        volume = downward_volume(
            field_item("labels", "metadata.labels"),
            field_item("app", "metadata.labels['app.kubernetes.io/name']"),
            field_item("bad", "metadata.labels['Www.k8s.io/test']"),
        )
        errors = validate_volume(volume, "v")
        assert [(e.field, e.bad_value) for e in errors] == [
            ("v.downwardAPI.fieldRef", "Www.k8s.io/test")
        ]

    def test_volume_name(self) -> None:
        """The volume name is required and must be a DNS-1123 label."""
        base: dict[str, Any] = {"downwardAPI": {}}
        assert rendered(validate_volume(base, "v")) == ["v.name: Required value"]
        assert [e.detail for e in validate_volume({**base, "name": "a.b"}, "v")] == [
            "must not contain dots"
        ]
        errors = validate_volume({**base, "name": "My_Vol"}, "v")
        assert [e.detail[:40] for e in errors] == ["a lowercase RFC 1123 label must consist "]
        long_name = "a" * 64
        assert [e.detail for e in validate_volume({**base, "name": long_name}, "v")] == [
            "must be no more than 63 characters"
        ]

    def test_volume_types(self) -> None:
        """One volume type exactly; a second one is Forbidden at Kubernetes' (misspelt) child."""
        assert rendered(validate_volume({"name": "v"}, "s.volumes[0]")) == [
            "s.volumes[0]: Required value: must specify a volume type"
        ]
        two = {"name": "v", "emptyDir": {}, "downwardAPI": {"items": []}}
        assert rendered(validate_volume(two, "s.volumes[0]")) == [
            "s.volumes[0].downwarAPI: Forbidden: may not specify more than 1 volume type"
        ]
        null_kind: dict[str, Any] = {"name": "v", "emptyDir": None, "downwardAPI": {}}
        assert validate_volume(null_kind, "s.volumes[0]") == []

    def test_other_volume_types_are_not_inspected(self) -> None:
        """Sources podself does not model (nfs, iscsi...) are not validated field by field."""
        assert validate_volume({"name": "c", "nfs": {"server": "", "path": "rel"}}, "v") == []

    def test_host_path(self) -> None:
        """validateHostPathVolumeSource: a path without '..' elements and a known type."""
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({"path": "/var/log"}, []),
            ({"path": "relative/is/fine", "type": "DirectoryOrCreate"}, []),
            ({"path": ""}, ["v.hostPath.path: Required value"]),
            (
                {"path": "/a/../../etc"},
                ["v.hostPath.path: Invalid value: \"/a/../../etc\": must not contain '..'"],
            ),
            ({"path": "/x", "type": "Socket"}, []),
            (
                {"path": "/x", "type": "Symlink"},
                [
                    'v.hostPath.type: Unsupported value: "Symlink": supported values: "", '
                    '"BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", '
                    '"FileOrCreate", "Socket"'
                ],
            ),
        ]
        for source, expected in cases:
            assert rendered(validate_volume({"name": "h", "hostPath": source}, "v")) == expected

    def test_config_map_and_secret_sources(self) -> None:
        """configMap and secret volumes: the name is required, items need a key and a local
        path, as validateConfigMapVolumeSource/validateSecretVolumeSource and validateKeyToPath
        say."""
        items = [{"key": "", "path": "../x"}, {"key": "k", "path": "/abs"}, {"key": "k"}]
        config_map = {"name": "c", "configMap": {"name": "", "items": items}}
        assert rendered(validate_volume(config_map, "v")) == [
            "v.configMap.name: Required value",
            "v.configMap.items[0].key: Required value",
            "v.configMap.items[0].path: Invalid value: \"../x\": must not contain '..'",
            'v.configMap.items[1].path: Invalid value: "/abs": must be a relative path',
            "v.configMap.items[2].path: Required value",
        ]
        secret = {"name": "s", "secret": {"items": [{"key": "k", "path": "..data"}]}}
        assert rendered(validate_volume(secret, "v")) == [
            "v.secret.secretName: Required value",
            "v.secret.items[0].path: Invalid value: \"..data\": must not start with '..'",
        ]
        good = {"name": "s", "secret": {"secretName": "t", "items": [{"key": "k", "path": "a/b"}]}}
        assert validate_volume(good, "v") == []

    @pytest.mark.parametrize(
        ("mode", "valid"),
        [
            (0, True),
            (0o644, True),
            (0o777, True),
            (0o1000, False),
            (0o4755, False),  # setuid
            (0o2755, False),  # setgid
            (0o1777, False),  # sticky
            (-1, False),
            (2**31 - 1, False),
        ],
    )
    @pytest.mark.parametrize("kind", ["secret", "configMap", "downwardAPI", "projected"])
    def test_file_modes(self, kind: str, mode: int, valid: bool) -> None:
        """defaultMode and every item's mode must lie in 0..0777 on all four file volumes,
        projected sources' items included."""
        item = {"key": "k", "path": "p", "mode": mode}
        sources: dict[str, Any] = {
            "secret": {"secretName": "s", "defaultMode": mode, "items": [item]},
            "configMap": {"name": "c", "defaultMode": mode, "items": [item]},
            "downwardAPI": {
                "defaultMode": mode,
                "items": [{"path": "p", "mode": mode, **field_item("p", "metadata.name")}],
            },
            "projected": {
                "defaultMode": mode,
                "sources": [
                    {"secret": {"name": "s", "items": [{**item, "path": "a"}]}},
                    {"configMap": {"name": "c", "items": [{**item, "path": "b"}]}},
                ],
            },
        }
        errors = validate_volume({"name": "v", kind: sources[kind]}, "v")
        if valid:
            assert errors == []
            return
        assert {(e.type, e.bad_value, e.detail) for e in errors} == {(INVALID, mode, MODE_MSG)}
        fields = [e.field for e in errors]
        assert f"v.{kind}.defaultMode" in fields
        assert len(fields) == (3 if kind == "projected" else 2)

    @pytest.mark.parametrize("mode", [2**31, -(2**31) - 1, "0644", 4.5, True])
    def test_mode_outside_int32_is_a_type_error(self, mode: object) -> None:
        """A mode that does not decode into an int32 is refused before validation."""
        errors = validate_volume(
            {"name": "v", "secret": {"secretName": "s", "defaultMode": mode}}, "v"
        )
        assert [(e.type, e.field) for e in errors] == [(TYPE_INVALID, "v.secret.defaultMode")]

    def test_duplicate_paths_not_checked_in_downward_volume(self) -> None:
        """A downwardAPI volume may repeat a path (the last item wins at run time)."""
        volume = downward_volume(field_item("a", "metadata.name"), field_item("a", "metadata.uid"))
        assert validate_volume(volume, "v") == []


def kube_api_access() -> dict[str, Any]:
    """The projected volume the ServiceAccount admission plugin adds to every pod."""
    return {
        "name": "kube-api-access-x7k2p",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }


class TestProjectedVolume:
    """Projected volumes: several sources, one kind each, unique paths across all of them."""

    def test_service_account_volume_is_valid(self) -> None:
        """The kube-api-access volume (token, CA, namespace) passes."""
        assert validate_volume(kube_api_access(), "spec.volumes[0]") == []

    def test_several_sources_with_errors(self) -> None:
        """Errors from several sources come in source order with source indexes."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"secret": {"name": "s", "items": [{"key": "", "path": "/abs"}]}},
                    {
                        "downwardAPI": {
                            "items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nodeName"}}]
                        }
                    },
                    {"configMap": {"name": "c"}, "downwardAPI": {}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[0].secret.items[0].key: Required value",
            'v.projected.sources[0].secret.items[0].path: Invalid value: "/abs": '
            "must be a relative path",
            "v.projected.sources[1].downwardAPI.fieldRef.fieldPath: Unsupported value: "
            f'"spec.nodeName": {VOLUME_SUPPORTED}',
            "v.projected.sources[2]: Forbidden: may not specify more than 1 volume type per source",
        ]

    def test_duplicate_paths_report_the_source_name_for_secrets(self) -> None:
        """A path repeated by a secret or configMap reports that object's name as bad value."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"downwardAPI": {"items": [field_item("a", "metadata.name")]}},
                    {"secret": {"name": "creds", "items": [{"key": "k", "path": "a"}]}},
                    {"downwardAPI": {"items": [field_item("a", "metadata.uid")]}},
                    {"downwardAPI": {"items": [field_item("./a", "metadata.uid")]}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            'v.projected: Invalid value: "creds": conflicting duplicate paths',
            'v.projected: Invalid value: "a": conflicting duplicate paths',
        ]

    def test_service_account_token_rules(self) -> None:
        """Token expiry bounds apply; a missing path is reported at the projected volume."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 60, "path": ""}},
                    {"serviceAccountToken": {"expirationSeconds": 2**33, "path": "../t"}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[0].serviceAccountToken.expirationSeconds: Invalid value: 60: "
            "may not specify a duration less than 10 minutes",
            "v.projected.path: Required value",
            "v.projected.sources[1].serviceAccountToken.expirationSeconds: Invalid value: "
            "8589934592: may not specify a duration larger than 2^32 seconds",
            "v.projected.path: Invalid value: \"../t\": must not contain '..'",
        ]

    def test_token_expiry_defaults_to_an_hour(self) -> None:
        """An omitted expirationSeconds is defaulted to 3600 for v1 requests only."""
        volume = {"name": "p", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}}
        assert validate_volume(volume, "v") == []
        assert [e.bad_value for e in validate_volume(volume, "v", apply_defaults=False)] == [0]

    def test_cluster_trust_bundle_paths(self) -> None:
        """clusterTrustBundle sources take part in the path and one-of rules."""
        volume = {
            "name": "p",
            "projected": {
                "sources": [
                    {"clusterTrustBundle": {"signerName": "example.com/s", "path": "ca.pem"}},
                    {"clusterTrustBundle": {"path": "ca.pem"}},
                ]
            },
        }
        assert rendered(validate_volume(volume, "v")) == [
            "v.projected.sources[1].clusterTrustBundle: Required value: either name or signerName "
            "must be specified",
            'v.projected: Invalid value: "ca.pem": conflicting duplicate paths',
        ]


def _cert_volume(**certificate: Any) -> dict[str, Any]:
    return {"name": "cert", "projected": {"sources": [{"podCertificate": certificate}]}}


class TestPodCertificate:
    """podCertificate projected sources (1.34+), as validateProjectionSources checks them."""

    VALID: Final = {
        "signerName": "example.com/my-signer",
        "keyType": "ED25519",
        "credentialBundlePath": "bundle.pem",
    }

    def test_valid_source(self) -> None:
        assert validate_volume(_cert_volume(**self.VALID), "v") == []
        assert (
            validate_volume(
                _cert_volume(**self.VALID, maxExpirationSeconds=7862400),
                "v",
                kubernetes_version="1.34",
            )
            == []
        )

    def test_unknown_before_1_34(self) -> None:
        errors = validate_volume(_cert_volume(**self.VALID), "v", kubernetes_version="1.33")
        assert errors == [FieldError(UNKNOWN_FIELD, "v.projected.sources[0].podCertificate")]

    def test_rules(self) -> None:
        src = "v.projected.sources[0].podCertificate"
        errors = validate_volume(
            _cert_volume(
                signerName="kubernetes.io/x", keyType="RSA2048", maxExpirationSeconds=90000
            ),
            "v",
        )
        assert rendered(errors) == [
            f'{src}.keyType: Unsupported value: "RSA2048": supported values: "RSA3072", '
            '"RSA4096", "ECDSAP256", "ECDSAP384", "ECDSAP521", "ED25519"',
            f"{src}.maxExpirationSeconds: Invalid value: 90000: if provided, "
            "maxExpirationSeconds must be <= 86400",
            f"{src}: Required value: specify at least one of credentialBundlePath, keyPath, and "
            "certificateChainPath",
        ]
        errors = validate_volume(
            _cert_volume(**{**self.VALID, "maxExpirationSeconds": 60, "keyPath": "bundle.pem"}),
            "v",
        )
        assert rendered(errors) == [
            f"{src}.maxExpirationSeconds: Invalid value: 60: if provided, "
            "maxExpirationSeconds must be >= 3600",
            'v.projected: Invalid value: "bundle.pem": conflicting duplicate paths',
        ]

    def test_signer_names(self) -> None:
        field = "v.projected.sources[0].podCertificate.signerName"
        cases = {
            "": [f"{field}: Required value"],
            "no-slash": [
                f'{field}: Invalid value: "no-slash": must be a fully qualified domain and path '
                "of the form 'example.com/signer-name'"
            ],
            "Example.com/x": [
                f'{field}: Invalid value: "Example.com": validating label "Example": '
                f"{DNS_LABEL_MSG}"
            ],
            "localhost/x": [
                f'{field}: Invalid value: "localhost": should be a domain with at least two '
                "segments separated by dots"
            ],
        }
        for signer, want in cases.items():
            errors = validate_volume(_cert_volume(**{**self.VALID, "signerName": signer}), "v")
            assert rendered(errors) == want, signer

    def test_user_annotations_from_1_35(self) -> None:
        cert = {**self.VALID, "userAnnotations": {"Example.com/Team": "a", "plain": "b"}}
        field = "v.projected.sources[0].podCertificate.userAnnotations"
        assert rendered(validate_volume(_cert_volume(**cert), "v")) == [
            f'{field}: Invalid value: "plain": must be a domain-prefixed key (such as '
            '"acme.io/foo")'
        ]
        assert validate_volume(_cert_volume(**cert), "v", kubernetes_version="1.34") == [
            FieldError(UNKNOWN_FIELD, "v.projected.sources[0].podCertificate.userAnnotations")
        ]

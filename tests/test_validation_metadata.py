"""Tests for podself.validation.metadata: object names, labels and annotations."""

from __future__ import annotations

import pytest

from podself.validation import (
    INVALID,
    TYPE_INVALID,
    FieldError,
    validate_annotations,
    validate_labels,
    validate_metadata_maps,
    validate_object_meta,
)
from tests.validation_helpers import (
    DNS_LABEL_MSG,
    HOSTILE_NAMES,
    SUBDOMAIN_MSG,
    rendered,
)


class TestValidateObjectMeta:
    """validate_object_meta: ValidateObjectMeta's name, generateName and namespace rules."""

    def test_valid(self) -> None:
        """A DNS subdomain name in a DNS label namespace passes."""
        assert validate_object_meta({"name": "web.v1", "namespace": "team-a"}) == []
        assert validate_object_meta({"generateName": "web-"}, namespace="default") == []

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
    def test_hostile_pod_names(self, name: str) -> None:
        """Each hostile name is refused at metadata.name, with the name shown Go-quoted."""
        errors = validate_object_meta({"name": name}, namespace="default")
        assert errors
        assert {(e.type, e.field, e.bad_value) for e in errors} == {
            (INVALID, "metadata.name", name)
        }

    @pytest.mark.parametrize("namespace", HOSTILE_NAMES, ids=repr)
    def test_hostile_namespaces(self, namespace: str) -> None:
        """Each hostile namespace is refused at metadata.namespace; -n overrides the object's."""
        errors = validate_object_meta({"name": "p", "namespace": namespace})
        assert {(e.field, e.bad_value) for e in errors} == {("metadata.namespace", namespace)}
        overridden = validate_object_meta({"name": "p", "namespace": "ok"}, namespace=namespace)
        assert overridden == errors

    def test_rendering(self) -> None:
        """The full messages, as kubectl prints them."""
        meta = {"name": "../../home", "generateName": "x_", "namespace": "/"}
        assert rendered(validate_object_meta(meta, "metadata")) == [
            f'metadata.generateName: Invalid value: "x_": {SUBDOMAIN_MSG}',
            f'metadata.name: Invalid value: "../../home": {SUBDOMAIN_MSG}',
            f'metadata.namespace: Invalid value: "/": {DNS_LABEL_MSG}',
        ]

    def test_required(self) -> None:
        """A name or a generateName is required, and a namespace."""
        assert rendered(validate_object_meta({"namespace": ""})) == [
            "metadata.name: Required value: name or generateName is required",
            "metadata.namespace: Required value",
        ]

    def test_generated_name(self) -> None:
        """A name still to be generated is the prefix cut to 58 bytes plus five characters."""
        assert validate_object_meta({"generateName": "a" * 300}, namespace="d") == [
            FieldError(
                INVALID, "metadata.generateName", "a" * 300, "must be no more than 253 characters"
            )
        ]
        errors = validate_object_meta({"generateName": "Web-"}, namespace="d")
        assert [(e.field, e.bad_value) for e in errors] == [
            ("metadata.generateName", "Web-"),
            ("metadata.name", "Web-xxxxx"),
        ]

    def test_wrong_types(self) -> None:
        """A name that is not a string is a type error, not a crash."""
        errors = validate_object_meta({"name": 7, "namespace": ["x"]})
        assert [(e.type, e.field) for e in errors] == [
            (TYPE_INVALID, "metadata.name"),
            (TYPE_INVALID, "metadata.namespace"),
        ]
        assert [e.field for e in validate_object_meta("x")] == ["metadata"]  # type: ignore[arg-type]


class TestLabelsAndAnnotations:
    def test_label_keys_and_values(self) -> None:
        """ValidateLabels: qualified-name keys (prefix <= 253, name <= 63), values <= 63."""
        labels = {"a" * 64: "v", "p/" + "n" * 63: "x" * 64, "ok": "-bad"}
        got = [(e.type, e.bad_value, e.detail) for e in validate_labels(labels, "x.labels")]
        assert got == [
            (INVALID, "a" * 64, "name part must be no more than 63 bytes"),
            (INVALID, "x" * 64, "must be no more than 63 bytes"),
            (INVALID, "-bad", got[2][2]),
        ]
        assert got[2][2].startswith("a valid label must be an empty string")
        assert {e.field for e in validate_labels(labels, "x.labels")} == {"x.labels"}

    def test_values_must_be_strings(self) -> None:
        """A boolean or number is refused (the API server cannot decode it), a null is ""."""
        errs = validate_labels({"a": True, "b": None, "c": 1}, "metadata.labels")
        assert [(e.type, e.field) for e in errs] == [
            (TYPE_INVALID, "metadata.labels[a]"),
            (TYPE_INVALID, "metadata.labels[c]"),
        ]
        assert [e.type for e in validate_labels(["a"], "metadata.labels")] == [TYPE_INVALID]

    def test_annotations(self) -> None:
        """ValidateAnnotations: keys lower-cased and checked, 256 KiB in total."""
        errs = validate_annotations({"Bad_/K": "v", "big": "x" * (256 * 1024)}, "m.annotations")
        assert [(e.type, e.bad_value) for e in errs] == [
            (INVALID, "bad_/k"),
            ("FieldValueTooLong", None),
        ]
        assert str(errs[1]) == "m.annotations: Too long: may not be more than 262144 bytes"

    def test_metadata_maps(self) -> None:
        """Both maps of a metadata object, at <path>.labels and <path>.annotations."""
        meta = {"labels": {"-": "v"}, "annotations": {"/x": "v"}}
        fields = [e.field for e in validate_metadata_maps(meta, "spec.template")]
        assert fields[0] == "spec.template.labels"
        assert fields[-1] == "spec.template.annotations"
        assert validate_metadata_maps(None, "metadata") == []

"""Tests for podself.webhook.admission: one AdmissionReview in, one answer out."""

from __future__ import annotations

import copy
import json
from typing import Any
from unittest import mock

import pytest

from podself.manifest.inject import InjectOptions, inject_text
from podself.webhook.admission import (
    INJECT_KEY,
    INJECTED_ANNOTATION,
    MAX_OBJECT_BYTES,
    MAX_WARNING_RUNES,
    MAX_WARNINGS,
    review,
)
from tests.admission_reviews import encode, operations, patched, pod, response
from tests.admission_reviews import review as make_review


def _answer(obj: Any, options: InjectOptions | None = None, **kwargs: Any) -> dict[str, Any]:
    require = kwargs.pop("require_annotation", False)
    request = make_review(obj, **kwargs)
    answer = review(encode(request), options, require_annotation=require)
    assert answer.status == 200
    result = response(answer.body)
    assert result["uid"] == request["request"]["uid"]
    return result


class TestPatch:
    @pytest.mark.parametrize(
        "options", [InjectOptions(), InjectOptions(otel=True, fields=("name", "cpu_limit"))]
    )
    def test_adds_what_inject_writes_and_marks_the_pod(self, options: InjectOptions) -> None:
        """The patched pod is the one podself inject writes, plus the injected annotation."""
        obj = pod(annotations={"team": "payments"})
        result = _answer(obj, options)
        after = patched(obj, result)
        assert after["metadata"]["annotations"] == {"team": "payments", INJECTED_ANNOTATION: "true"}
        del after["metadata"]["annotations"][INJECTED_ANNOTATION]
        assert after == json.loads(inject_text(json.dumps(obj), "pod.json", options=options).text)
        assert "warnings" not in result

    def test_annotations_created_when_the_pod_has_none(self) -> None:
        obj = pod()
        after = patched(obj, _answer(obj))
        assert after["metadata"]["annotations"] == {INJECTED_ANNOTATION: "true"}

    def test_second_pass_is_empty(self) -> None:
        """An injected pod (reinvocation, or created from an injected pod's YAML) gets no patch."""
        obj = pod()
        again = _answer(patched(obj, _answer(obj)))
        assert operations(again) == []

    def test_a_container_added_later_is_injected_on_reinvocation(self) -> None:
        """reinvocationPolicy IfNeeded: a sidecar another webhook added gets its share."""
        obj = patched(pod(), _answer(pod()))
        obj["spec"]["containers"].append({"name": "proxy", "image": "proxy:1"})
        after = patched(obj, _answer(obj))
        names = [v["name"] for v in after["spec"]["containers"][1]["env"]]
        assert "K8S_POD_NAME" in names
        assert after["spec"]["containers"][0] == obj["spec"]["containers"][0]

    def test_dry_run_gets_the_same_answer(self) -> None:
        """sideEffects: None: a server-side dry run shows what creation would do."""
        obj = pod()
        assert operations(_answer(obj, dry_run=True)) == operations(_answer(obj))

    def test_conflicts_are_warnings_not_rejections(self) -> None:
        app = pod()["spec"]["containers"][0]
        app["env"] = [{"name": "K8S_POD_NAME", "value": "fixed"}]
        obj = pod(containers=[app])
        result = _answer(obj)
        after = patched(obj, result)
        assert after["spec"]["containers"][0]["env"][0] == {
            "name": "K8S_POD_NAME",
            "value": "fixed",
        }
        (warning,) = result["warnings"]
        assert warning.startswith("podself: spec.containers[0].env[0]: ")
        assert "K8S_POD_NAME already set, left as is" in warning


class TestWhoIsInjected:
    def test_opt_out_annotation(self) -> None:
        result = _answer(pod(annotations={INJECT_KEY: "false"}))
        assert operations(result) == []
        assert "warnings" not in result

    @pytest.mark.parametrize(
        ("value", "injected"), [("true", True), (None, False), ("false", False)]
    )
    def test_annotated_path_needs_the_annotation(self, value: str | None, injected: bool) -> None:
        annotations = None if value is None else {INJECT_KEY: value}
        result = _answer(pod(annotations=annotations), require_annotation=True)
        assert bool(operations(result)) is injected

    @pytest.mark.parametrize(("require", "injected"), [(False, True), (True, False)])
    def test_other_values_are_reported(self, require: bool, injected: bool) -> None:
        result = _answer(pod(annotations={INJECT_KEY: "yes"}), require_annotation=require)
        assert bool(operations(result)) is injected
        (warning,) = result["warnings"]
        assert '\'yes\' is neither "true" nor "false"' in warning

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"operation": "UPDATE"},
            {"operation": "DELETE"},
            {"kind": "Deployment"},
            {"sub_resource": "ephemeralcontainers"},
        ],
    )
    def test_only_pod_create_is_patched(self, kwargs: dict[str, Any]) -> None:
        result = _answer(pod(), **kwargs)
        assert operations(result) == []
        assert "warnings" not in result

    def test_object_that_is_not_a_pod(self) -> None:
        objects: list[Any] = [None, [], "x", {"metadata": {}}, {"spec": {"containers": "x"}}]
        for obj in objects:
            assert operations(_answer(obj)) == []


class TestBadInput:
    @pytest.mark.parametrize(
        ("body", "said"),
        [
            (b"{", "body: not JSON"),
            (b"\xff\xfe", "body: not JSON"),
            (b"[" * 100_000, "body: not JSON"),
            (b"[]", "not list"),
            (b'{"request": {}}', "request.uid: required"),
            (b'{"request": {"uid": 7}}', "request.uid: required"),
            (b'{"request": []}', "request: required"),
        ],
    )
    def test_without_a_uid_is_400(self, body: bytes, said: str) -> None:
        answer = review(body)
        assert answer.status == 400
        assert answer.outcome == "invalid"
        assert said in answer.body.decode()

    @pytest.mark.parametrize(
        ("field", "value"), [("apiVersion", "admission.k8s.io/v2"), ("kind", "ConversionReview")]
    )
    def test_unknown_api_version_is_allowed_unchanged(self, field: str, value: str) -> None:
        request = make_review(pod())
        request[field] = value
        answer = json.loads(review(encode(request)).body)
        assert answer["apiVersion"] == "admission.k8s.io/v1"
        assert answer["response"]["allowed"] is True
        assert "patch" not in answer["response"]

    def test_v1beta1_answered_in_v1beta1(self) -> None:
        request = make_review(pod(), api_version="admission.k8s.io/v1beta1")
        answer = json.loads(review(encode(request)).body)
        assert answer["apiVersion"] == "admission.k8s.io/v1beta1"
        assert "patch" in answer["response"]

    def test_a_failure_of_ours_allows_the_pod(self) -> None:
        with mock.patch("podself.webhook.admission.json_patch", side_effect=KeyError("x")):
            answer = review(encode(make_review(pod())))
        assert answer.outcome == "error"
        result = response(answer.body)
        assert operations(result) == []
        assert "pod not changed" in result["warnings"][0]

    def test_warnings_are_bounded_and_printable(self) -> None:
        """Many conflicts: few warnings, each one line within the API server's 256 runes."""
        containers = []
        for n in range(40):
            name = f"c{n}-" + "x" * 50 + ("\n\x1b[31m" if n == 0 else "")
            containers.append({"name": name, "image": "i", "env": "not a list"})
        result = _answer(pod(containers=containers))
        warnings = result["warnings"]
        assert len(warnings) == MAX_WARNINGS
        assert all(len(w) <= MAX_WARNING_RUNES and w.isprintable() for w in warnings)
        assert "\\n\\x1b[31m" in warnings[0]
        # two notes a container (env not a list; no resources set): 80, of which 9 shown
        assert warnings[-1].startswith("podself: 71 more notes")

    def test_huge_pod_is_answered(self) -> None:
        """A pod near the API server's object size limit costs time, not a crash."""
        containers = [
            {
                "name": f"c{n}",
                "image": "i",
                "env": [{"name": f"V{i}", "value": "x" * 200} for i in range(50)],
            }
            for n in range(100)
        ]
        obj = pod(containers=containers)
        assert len(json.dumps(obj)) > 1_000_000
        after = patched(obj, _answer(obj))
        assert len(after["spec"]["containers"][99]["env"]) > 50

    def test_pod_the_patch_would_make_too_large_to_store_is_left_alone(self) -> None:
        """Past etcd's 1.5 MiB the pod could not be created at all: better not injected."""
        containers = [{"name": f"c{n}", "image": "i"} for n in range(200)]
        obj = pod(containers=containers, annotations={"big": "x" * (MAX_OBJECT_BYTES - 100_000)})
        result = _answer(obj)
        assert operations(result) == []
        assert "etcd stores in one object" in result["warnings"][0]
        obj["metadata"]["annotations"]["big"] = ""
        assert operations(_answer(obj))

    def test_request_is_not_changed(self) -> None:
        obj = pod()
        before = copy.deepcopy(obj)
        _answer(obj)
        assert obj == before

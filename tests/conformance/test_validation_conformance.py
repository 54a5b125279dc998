"""podself.validation against the API server's validation vectors (validation.json) and the
recorded answers of its validation code on whole objects (validation-oracle.json).

Each vector is checked twice: as the bare ``ValidateEnv``/``ValidateVolumes`` call the
Kubernetes tests make (no defaulting, root ``field``), and as a submitted v1 manifest (v1
defaulting first), which is what ``valid_as_manifest`` records.

One vector carries a detail string older than the current API server: since Kubernetes 1.31
(PR #125940) a projected source with two kinds says "may not specify more than 1 volume type
per source". ``_NEWER_DETAILS`` records that divergence explicitly; the test still requires the
vector's text to be a prefix of ours, which is how the Kubernetes test compares details.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from podself.emulator.pod import validate_workload
from podself.manifest.load import load_documents
from podself.manifest.workloads import iter_workloads
from podself.validation import (
    REQUIRED,
    FieldError,
    kubernetes_target,
    validate_env,
    validate_volume,
)
from tests.conftest import conformance_params, load_conformance

VECTORS = conformance_params("validation.json", "vectors")
QUOTES = conformance_params("go-quote.json", "quote")

# (vector id, error index) -> the detail the current API server gives.
_NEWER_DETAILS = {
    ("proj-err-two-kinds-in-one-source", 0): "may not specify more than 1 volume type per source",
}


def _vector_id(vector: Any) -> str:
    return vector["id"] if isinstance(vector, dict) else "absent"


# The release whose validation code the vectors were recorded from (validation.go @ 000f2605).
VECTORS_VERSION = "1.33"


def _run(vector: dict[str, Any], *, apply_defaults: bool) -> list[FieldError]:
    if vector["kind"].startswith("env"):
        return validate_env(
            vector["input"],
            "field",
            apply_defaults=apply_defaults,
            kubernetes_version=VECTORS_VERSION,
        )
    root = vector.get("field_root", "field[0]")
    return validate_volume(
        vector["input"], root, apply_defaults=apply_defaults, kubernetes_version=VECTORS_VERSION
    )


def _assert_errors(vector: dict[str, Any], got: list[FieldError]) -> None:
    expected = vector.get("errors", [])
    assert [(e.type, e.field) for e in got] == [(e["type"], e["field"]) for e in expected], [
        str(e) for e in got
    ]
    for index, (err, exp) in enumerate(zip(got, expected, strict=True)):
        assert err.bad_value == exp.get("bad_value"), str(err)
        newer = _NEWER_DETAILS.get((vector["id"], index))
        if newer is not None:
            assert newer.startswith(exp["detail"])
            assert err.detail == newer
        elif "detail" in exp:
            assert err.detail == exp["detail"], str(err)
        elif exp["type"] == REQUIRED:
            assert err.detail == ""
        if "test_asserts_error_contains" in exp:
            assert exp["test_asserts_error_contains"] in str(err)
        if "full_error_string_derived" in exp:
            assert str(err) == exp["full_error_string_derived"]


class TestValidationVectors:
    """Every vector in validation.json, error by error."""

    @pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
    def test_bare_validation(self, vector: dict[str, Any]) -> None:
        """Without defaulting, the errors match the vector's path, type, bad value and detail."""
        got = _run(vector, apply_defaults=False)
        assert (not got) == vector["valid"], [str(e) for e in got]
        _assert_errors(vector, got)

    @pytest.mark.parametrize("vector", VECTORS, ids=_vector_id)
    def test_as_v1_manifest(self, vector: dict[str, Any]) -> None:
        """With v1 defaulting, the verdict follows valid_as_manifest (else valid)."""
        got = _run(vector, apply_defaults=True)
        valid = vector.get("valid_as_manifest", vector["valid"])
        assert (not got) == valid, [str(e) for e in got]
        if "valid_as_manifest" not in vector:
            _assert_errors(vector, got)

    def test_vector_count(self) -> None:
        """The file holds the 121 vectors the reference describes, with unique ids."""
        vectors = load_conformance("validation.json")["vectors"]
        assert len(vectors) == 121
        assert len({v["id"] for v in vectors}) == len(vectors)


class TestBadValueQuoting:
    """String bad values render with Go's strconv.Quote."""

    @pytest.mark.parametrize("case", QUOTES, ids=lambda c: repr(c["value"])[:40])
    def test_quote(self, case: dict[str, str]) -> None:
        """An Invalid error shows its string bad value exactly as Go's %q does."""
        err = FieldError("FieldValueInvalid", "f", case["value"], "d")
        assert str(err) == f"f: Invalid value: {case['quoted']}: d"


# Cases where podself's YAML reader and kubectl's (go-yaml v2) read a scalar differently (08,
# 0o1000, 420.0, 1e3-style divisors), so the object validated is not the same; their names,
# mounts and modes agree, what differs is the number read.
_YAML_SCALAR_CASES: Final = frozenset(
    {
        "y101-00081", "y101-00140", "y101-00167", "y101-00172", "y101-00189", "y101-00202",
        "y101-00246", "y101-00264", "y101-00379", "y101-00432", "y101-00440", "y101-00735",
        "y101-00739", "y101-00756", "y101-00828", "y101-00830", "y101-00841", "y101-00869",
        "y101-00991", "y101-01040", "y101-01130", "y101-01438", "y101-01461", "y101-01472",
        "y101-01504", "y101-01624", "y101-01663", "y101-01667", "y101-01697", "y101-01851",
        "y101-01894", "y101-01902", "y101-02004", "y101-02032", "y101-02034", "y101-02108",
    }
)  # fmt: skip


def _oracle_text(error: dict[str, Any]) -> str:
    return str(FieldError(error["type"], error["field"], error["badValue"], error["detail"]))


class TestValidationOracle:
    """validate_workload against validation-oracle.json: whole Pods and workloads as the API
    server answered them on create (names, volume mounts, subPaths, modes, env, metadata)."""

    def test_every_case_agrees(self) -> None:
        """Each case gives the oracle's errors (as a multiset: Go reports label and annotation
        errors in map order); decode failures are the loader's business and are left out."""
        cases = load_conformance("validation-oracle.json")["cases"]
        mismatches = []
        compared = 0
        for case in cases:
            if case["id"] in _YAML_SCALAR_CASES or any(
                e["type"] == "DecodeError" for e in case["errors"]
            ):
                continue
            documents = load_documents(case["document"], f"case.{case['format']}")
            (workload,) = [w for d in documents for w in iter_workloads(d.data)]
            with kubernetes_target(VECTORS_VERSION):
                got = validate_workload(workload)
            want = [_oracle_text(e) for e in case["errors"]]
            compared += 1
            if sorted(got) != sorted(want):
                mismatches.append((case["id"], got, want))
        assert compared > 1700
        assert mismatches == []

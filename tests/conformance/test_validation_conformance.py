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

import io
from pathlib import Path
from typing import Any, Final

import pytest

from podself.emulator.kubelet import Kubelet, RunOptions
from podself.emulator.pod import decode_failure, validate_workload
from podself.manifest.lint import lint_text
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


# ValidateLabels and ValidateAnnotations iterate a Go map; the oracle sorts each such run.
_MAP_ORDER_FIELDS: Final = (".labels", ".annotations")


def _ordered(errors: list[str]) -> list[str]:
    """``errors`` with each run of label or annotation errors (same field, one after another)
    sorted, the order the oracle records them in; every other error keeps its place. Sorting
    the text sorts by type, then bad value, then detail, as the oracle does."""
    out: list[str] = []
    run: list[str] = []
    field = ""
    for error in errors:
        at = error.partition(": ")[0]
        if run and at != field:
            out.extend(sorted(run))
            run = []
        if at.endswith(_MAP_ORDER_FIELDS):
            run.append(error)
            field = at
        else:
            out.append(error)
    return out + sorted(run)


def _decode_detail(detail: str) -> str:
    """The oracle's decoding error as the API server words it: the oracle's build names Go
    structs with their package (``v1EnvVar``), the API server by type name (``EnvVar``), as in
    ``Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal bool
    into Go struct field EnvVar.spec.template.spec.containers.env.value of type string``."""
    return detail.replace("into Go struct field v1", "into Go struct field ")


def _oracle_text(error: dict[str, Any]) -> str:
    return str(FieldError(error["type"], error["field"], error["badValue"], error["detail"]))


class TestValidationOracle:
    """validate_workload against validation-oracle.json: whole Pods and workloads as the API
    server answered them on create (names, volume mounts, subPaths, modes, env, metadata)."""

    def test_every_case_agrees(self) -> None:
        """Each case gives the oracle's errors in the oracle's order (label and annotation runs
        sorted, as the oracle sorts them); where the object does not decode, decode_failure
        gives the API server's one error and nothing else, and it is None everywhere else."""
        cases = load_conformance("validation-oracle.json")["cases"]
        mismatches: list[tuple[str, object, object]] = []
        compared = decoding = 0
        for case in cases:
            documents = load_documents(case["document"], f"case.{case['format']}")
            (workload,) = [w for d in documents for w in iter_workloads(d.data)]
            decoded = decode_failure(workload)
            if case["errors"] and case["errors"][0]["type"] == "DecodeError":
                (error,) = case["errors"]
                want_decode = _decode_detail(error["detail"])
                got_decode = decoded and decoded.split(" cannot be handled as a ", 1)[1]
                if got_decode != f"{workload.kind}: {want_decode}":
                    mismatches.append((case["id"], decoded, want_decode))
                decoding += 1
                continue
            with kubernetes_target(VECTORS_VERSION):
                got = validate_workload(workload)
            want = [_oracle_text(e) for e in case["errors"]]
            compared += 1
            if decoded is not None or _ordered(got) != _ordered(want):
                mismatches.append((case["id"], decoded or got, want))
        assert compared + decoding == len(cases) == 2000
        assert decoding > 150
        assert mismatches == []

    def test_lint_and_run_give_the_verdict(self, tmp_path: Path) -> None:
        """``podself lint`` has an error finding, and ``podself run`` refuses to start, exactly
        for the cases the API server refused (at the release the vectors were recorded from)."""
        cases = load_conformance("validation-oracle.json")["cases"]
        wrong: list[tuple[str, bool, bool, bool]] = []
        with kubernetes_target(VECTORS_VERSION):
            for case in cases:
                source = f"case.{case['format']}"
                lint_refuses = any(
                    f.severity == "error" for f in lint_text(case["document"], source)
                )
                manifest = tmp_path / source
                manifest.write_text(case["document"], encoding="utf-8")
                options = RunOptions(files=[str(manifest)], state_dir=str(tmp_path / "state"))
                run_refuses = Kubelet(options, err=io.StringIO()).prepare() is not None
                refused = not case["accepted"]
                if (lint_refuses, run_refuses) != (refused, refused):
                    wrong.append((case["id"], refused, lint_refuses, run_refuses))
        assert wrong == []

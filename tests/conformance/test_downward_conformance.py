"""Kubernetes and Go vectors for podself.downward: Quote, FormatMap, fieldpath, resources."""

from __future__ import annotations

from typing import Any

import pytest

from podself.downward import (
    extract_field_path,
    format_map,
    go_quote,
    go_unquote,
    parse_map,
    resource_value,
    split_maybe_subscripted_path,
)
from podself.errors import PodselfError
from tests.conftest import conformance_params

QUOTES = conformance_params("go-quote.json", "quote")
FORMATS = conformance_params("go-quote.json", "format")
FORMAT_MAP = conformance_params("formatmap.json", "format_map")
DERIVED = conformance_params("formatmap.json", "derived_not_from_k8s_tests.cases")
EXTRACT = conformance_params("formatmap.json", "extract_field_path_as_string")
SPLIT = conformance_params("formatmap.json", "split_maybe_subscripted_path")
RESOURCES = conformance_params("resource_field_values.json", "cases")
RESOURCE_ORACLE = conformance_params("resource-values-oracle.json", "cases")


def _id(case: Any) -> str:
    if not isinstance(case, dict):
        return "absent"
    for key in ("name", "fieldPath", "value"):
        if key in case:
            return ascii(case[key])[:60]
    return "case"


class TestGoQuoteVectors:
    """Go 1.27 strconv.Quote, recorded from Go itself."""

    @pytest.mark.parametrize("case", QUOTES, ids=_id)
    def test_quote_matches_go(self, case: dict[str, str]) -> None:
        """go_quote writes exactly what strconv.Quote wrote."""
        assert go_quote(case["value"]) == case["quoted"]

    @pytest.mark.parametrize("case", QUOTES, ids=_id)
    def test_unquote_inverts_go(self, case: dict[str, str]) -> None:
        """go_unquote reads Go's quoted text back to the original string."""
        assert go_unquote(case["quoted"]) == case["value"]


class TestLabelFileVectors:
    """Whole label/annotation files as the kubelet writes them."""

    @pytest.mark.parametrize("case", FORMATS, ids=_id)
    def test_format_matches_go_byte_for_byte(self, case: dict[str, Any]) -> None:
        """format_map writes the same text as FormatMap."""
        assert format_map(case["map"]) == case["expected"]

    @pytest.mark.parametrize("case", FORMATS, ids=_id)
    def test_parse_reads_go_output(self, case: dict[str, Any]) -> None:
        """parse_map turns the kubelet's text back into the same map."""
        assert parse_map(case["expected"]) == case["map"]


class TestFormatMapVectors:
    """pkg/fieldpath TestFormatMap plus the derived escaping and sorting cases."""

    @pytest.mark.parametrize("case", FORMAT_MAP, ids=_id)
    def test_format_map(self, case: dict[str, Any]) -> None:
        """format_map reproduces the Kubernetes test expectations."""
        assert format_map(case["input"]) == case["expected"]

    @pytest.mark.parametrize("case", DERIVED, ids=_id)
    def test_derived_format_map(self, case: dict[str, Any]) -> None:
        """format_map agrees with every derived case, and parse_map inverts it."""
        assert format_map(case["input"]) == case["expected"]
        assert parse_map(case["expected"]) == case["input"]


class TestExtractVectors:
    """pkg/fieldpath TestExtractFieldPathAsString."""

    @pytest.mark.parametrize("case", EXTRACT, ids=_id)
    def test_extract(self, case: dict[str, Any]) -> None:
        """extract_field_path returns the expected value or fails with Go's message."""
        if "error_contains" in case:
            with pytest.raises(PodselfError) as info:
                extract_field_path(case["pod"], case["fieldPath"])
            assert case["error_contains"] in str(info.value)
        else:
            assert extract_field_path(case["pod"], case["fieldPath"]) == case["expected"]


class TestSplitVectors:
    """pkg/fieldpath TestSplitMaybeSubscriptedPath."""

    @pytest.mark.parametrize("case", SPLIT, ids=_id)
    def test_split(self, case: dict[str, Any]) -> None:
        """Subscripted paths split at the first [' after a trailing '] is removed."""
        path, subscript, ok = split_maybe_subscripted_path(case["fieldPath"])
        assert ok is case["ok"]
        if ok:
            assert (path, subscript) == (case["path"], case["subscript"])
        else:
            # Go returns the input unchanged and an empty subscript when it does not split.
            assert (path, subscript) == (case["fieldPath"], "")


def _kubelet_answer(case: dict[str, Any], pod_limits: Any) -> tuple[str | None, str]:
    """(the value resource_value writes, or None; its error text, lower-cased, or "")."""
    try:
        value = resource_value(
            case["resource"],
            case["container_resources"],
            case["divisor"],
            case.get("node_allocatable"),
            pod_limits=pod_limits,
        )
    except PodselfError as exc:
        return None, str(exc).lower()
    return value, ""


class TestResourceVectors:
    """pkg/api/v1/resource tests and the kubelet's limit defaulting."""

    @pytest.mark.parametrize("case", RESOURCES, ids=_id)
    def test_resource_value(self, case: dict[str, Any]) -> None:
        """resource_value writes the kubelet's string or raises its error."""
        value, error = _kubelet_answer(case, case.get("pod_level_limits"))
        expected = case["expected"]
        if isinstance(expected, dict):
            assert value is None
            assert expected["error_contains"].lower() in error
        else:
            assert value == expected


class TestResourceValuesOracle:
    """What the kubelet's own code wrote for 3,000 resourceFieldRefs: the downwardAPI volume
    path (node allocatable only) and the env path (non-zero pod-level limits first)."""

    @pytest.mark.parametrize("case", RESOURCE_ORACLE, ids=lambda c: c["id"])
    def test_resource_value(self, case: dict[str, Any]) -> None:
        pod_limits = case["pod_level_limits"] if case["path"] == "env" else None
        value, error = _kubelet_answer(case, pod_limits)
        expected = case["expected"]
        if isinstance(expected, dict):
            assert (value, error) == (None, expected["error"].lower())
        else:
            assert value == expected

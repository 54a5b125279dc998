"""Tests for podself.names: the recognised env and file names and their units."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podself import names

DOC = Path(__file__).resolve().parents[1] / "docs" / "reference" / "podinfo.md"


class TestTables:
    def test_units_follow_the_suffix(self) -> None:
        """A name's suffix decides its unit, matching the manifest divisor."""
        table = names.env_table()
        assert table["RESOURCE_MEMORY_LIMIT_MB"][2:] == ("1Mi", 1 << 20)
        assert table["RESOURCE_CPU_LIMIT_MILLICORES"][2:] == ("1m", 1)
        assert table["CPU_REQUEST_CORES"][2:] == ("1", 1000)
        assert table["MEMORY_LIMIT_BYTES"][2:] == ("1", 1)
        assert table["MY_MEM_LIMIT"][2:] == ("1", 1)

    def test_recommended_names_rank_first(self) -> None:
        """The K8S_/RESOURCE_ convention outranks the short and docs names."""
        table = names.env_table()
        assert table["K8S_POD_NAME"][1] < table["POD_NAME"][1] < table["MY_POD_NAME"][1]
        assert table["RESOURCE_MEMORY_LIMIT_MB"][1] < table["MEMORY_LIMIT_MB"][1]

    def test_unitless_names_take_the_default_divisor(self) -> None:
        """CPU_LIMIT and MEMORY_LIMIT without a unit read as divisor 1, after every unit form."""
        table = names.env_table()
        assert table["CPU_LIMIT"][2:] == ("1", 1000)
        assert table["MEMORY_LIMIT"][2:] == ("1", 1)
        assert table["CPU_LIMIT_MILLICORES"][1] < table["CPU_LIMIT"][1]

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("APP_CPU_LIMIT", ("cpu_limit", "1", 1000)),
            ("APP_CPU_REQUEST_MILLICORES", ("cpu_request", "1m", 1)),
            ("WORKER_MEM_LIMIT_GB", ("memory_limit", "1Gi", 1 << 30)),
            ("APP_MEMORY_REQUEST", ("memory_request", "1", 1)),
            ("APP_CPU_LIMIT_MB", None),
            ("APP_MEMORY_LIMIT_MILLICORES", None),
            ("_CPU_LIMIT", None),
            ("PATH", None),
        ],
    )
    def test_prefixed_resource(self, name: str, expected: tuple[str, str, int] | None) -> None:
        """<PREFIX>_CPU_LIMIT[_UNIT] is a resource name; a unit of the other family is not."""
        entry = names.prefixed_resource(name)
        assert (entry and (entry[0], entry[2], entry[3])) == expected

    def test_looks_like_resource(self) -> None:
        """Word-wise: a resource word and a limit word."""
        assert names.looks_like_resource("LIMITS_CPU")
        assert names.looks_like_resource("APP_RAM_QUOTA")
        assert not names.looks_like_resource("RATE_LIMIT")
        assert not names.looks_like_resource("GOMEMLIMIT")

    def test_file_names(self) -> None:
        """Volume file names follow the docs' divisors and accept suffixed forms."""
        files = names.file_table()
        assert files["mem_limit"] == ("memory_limit", "1Mi")
        assert files["cpu_limit"] == ("cpu_limit", "1m")
        assert files["memory-limit-mb"] == ("memory_limit", "1Mi")
        assert files["cpu_request_cores"] == ("cpu_request", "1")


class TestParseTarget:
    @pytest.mark.parametrize(
        ("target", "expected"),
        [
            ("name", ("name", "")),
            ("resources.cpu_limit@1m", ("cpu_limit", "1m")),
            ("memory_limit@1Gi", ("memory_limit", "1Gi")),
            ("resources.memory_request", ("memory_request", "1")),
        ],
    )
    def test_valid(self, target: str, expected: tuple[str, str]) -> None:
        """Targets name an attribute and, for resources, the manifest's divisor."""
        assert names.parse_target(target) == expected

    @pytest.mark.parametrize(
        ("target", "fragment"),
        [
            ("name@1m", "take no divisor"),
            ("resources.colour", "unknown attribute"),
            ("cpu_limit@1Mi", "divisor must be one of 1m, 1"),
        ],
    )
    def test_invalid(self, target: str, fragment: str) -> None:
        """Bad targets fail with the rule and the offending value."""
        with pytest.raises(ValueError, match=fragment):
            names.parse_target(target)


class TestDocumented:
    def test_every_name_is_documented(self) -> None:
        """docs/reference/podinfo.md lists every identity name, stem and file name."""
        doc = DOC.read_text(encoding="utf-8")
        for env_names in names.IDENTITY_ENV.values():
            for name in env_names:
                assert f"`{name}`" in doc, name
        for stems, bare in names.RESOURCE_ENV_STEMS.values():
            for stem in stems:
                assert f"`{stem}_*`" in doc, stem
            for name in bare:
                assert f"`{name}`" in doc, name
        for file_name in names.FILE_NAMES:
            assert f"`{file_name}`" in doc, file_name


class TestContainerNames:
    @given(st.text(alphabet="abz09-.A_é\n", max_size=70))
    @settings(max_examples=300)
    def test_same_rule_as_the_api_server(self, name: str) -> None:
        """The runtime's cheap check agrees with validation's DNS-1123 label rule."""
        from podself.validation import dns1123_label_errors

        assert names.is_container_name(name) == (not dns1123_label_errors(name))

    def test_edges(self) -> None:
        assert names.is_container_name("a" * 63)
        assert not names.is_container_name("a" * 64)
        assert not names.is_container_name("")
        assert names.container_file("main", "cpu_limit") == "containers/main/cpu_limit"

"""Tests for podself.downward: rule tables, Go quoting, the labels file format and values."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podself import downward
from podself.downward import (
    CPU_DIVISORS,
    DEFAULT_MODE,
    ENV_FIELD_PATHS,
    HUGEPAGES_PREFIXES,
    MEMORY_DIVISORS,
    RESOURCE_NAMES,
    SUBSCRIPTABLE_FIELD_PATHS,
    VOLUME_FIELD_PATHS,
    default_requests,
    divisor_error_detail,
    divisor_for_resource,
    extract_field_path,
    format_map,
    go_lower,
    go_quote,
    go_unquote,
    is_dns1123_subdomain,
    parse_map,
    qualified_name_errors,
    resource_value,
    split_maybe_subscripted_path,
)
from podself.errors import FieldPathError, FormatError, ResourceFieldError

SRC = Path(__file__).resolve().parents[1] / "src"

NAME_REGEX_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


class TestRuleTables:
    """The field paths, resources and divisors the API server accepts."""

    def test_env_field_paths_are_the_nine_sorted_paths(self) -> None:
        """Env fieldRef paths are the nine plain paths, in the sorted order errors list them."""
        assert len(ENV_FIELD_PATHS) == 9
        assert list(ENV_FIELD_PATHS) == sorted(ENV_FIELD_PATHS)
        assert "metadata.labels" not in ENV_FIELD_PATHS
        assert "status.hostIPs" in ENV_FIELD_PATHS

    def test_volume_field_paths_include_whole_maps(self) -> None:
        """Volumes accept the five metadata paths, including whole labels and annotations."""
        assert VOLUME_FIELD_PATHS == (
            "metadata.annotations",
            "metadata.labels",
            "metadata.name",
            "metadata.namespace",
            "metadata.uid",
        )
        assert set(SUBSCRIPTABLE_FIELD_PATHS) <= set(VOLUME_FIELD_PATHS)

    def test_resource_names_and_prefixes(self) -> None:
        """Six fixed resource names (sorted) plus the two hugepages prefixes."""
        assert len(RESOURCE_NAMES) == 6
        assert list(RESOURCE_NAMES) == sorted(RESOURCE_NAMES)
        assert HUGEPAGES_PREFIXES == ("limits.hugepages-", "requests.hugepages-")

    def test_divisor_tables_follow_the_api_order(self) -> None:
        """Divisors are listed in the order of the API's error messages."""
        assert CPU_DIVISORS == ("1m", "1")
        assert (
            ", ".join(MEMORY_DIVISORS) == "1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei"
        )
        assert DEFAULT_MODE == 0o644

    @pytest.mark.parametrize(
        ("resource", "expected"),
        [
            ("limits.cpu", CPU_DIVISORS),
            ("requests.cpu", CPU_DIVISORS),
            ("limits.memory", MEMORY_DIVISORS),
            ("requests.ephemeral-storage", MEMORY_DIVISORS),
            ("limits.hugepages-2Mi", MEMORY_DIVISORS),
            ("requests.hugepages-", MEMORY_DIVISORS),
        ],
    )
    def test_divisor_for_resource(self, resource: str, expected: tuple[str, ...]) -> None:
        """Each resource maps to the divisor set the API checks it against."""
        assert divisor_for_resource(resource) == expected

    @pytest.mark.parametrize("resource", ["cpu", "limits.storage", "", "limits.hugepages"])
    def test_divisor_for_unsupported_resource_raises(self, resource: str) -> None:
        """Resources the API rejects have no divisors and raise FieldPathError."""
        with pytest.raises(FieldPathError, match="Unsupported value"):
            divisor_for_resource(resource)

    @pytest.mark.parametrize(
        ("resource", "tail"),
        [
            ("limits.cpu", "1m and 1 are supported with the cpu resource"),
            ("requests.memory", "1Ei are supported with the memory resource"),
            ("limits.ephemeral-storage", "with the local ephemeral storage resource"),
            ("limits.hugepages-1Gi", "with the hugepages resource"),
        ],
    )
    def test_divisor_error_detail(self, resource: str, tail: str) -> None:
        """The divisor error wording names the resource family like the API does."""
        detail = divisor_error_detail(resource)
        assert detail.startswith("only divisor's values ")
        assert detail.endswith(tail)


class TestSplitSubscript:
    """fieldpath.SplitMaybeSubscriptedPath."""

    def test_splits_at_first_open_bracket(self) -> None:
        """The key runs from the first [' to the final '] and is not unescaped."""
        assert split_maybe_subscripted_path("metadata.annotations['a[b']c']") == (
            "metadata.annotations",
            "a[b']c",
            True,
        )

    @pytest.mark.parametrize("path", ["metadata.labels", "['k']", "a['k']x", "a[k]", ""])
    def test_unsplit_paths_come_back_unchanged(self, path: str) -> None:
        """A path that does not split is returned whole with an empty key."""
        assert split_maybe_subscripted_path(path) == (path, "", False)


class TestQualifiedNameErrors:
    """apimachinery IsQualifiedName / IsLabelKey messages."""

    @pytest.mark.parametrize(
        "key", ["a", "app", "example.com/key", "a.b-c_d", "A1", "k8s.io/" + "x" * 63]
    )
    def test_valid_keys(self, key: str) -> None:
        """Valid qualified names produce no errors."""
        assert qualified_name_errors(key) == []

    def test_empty_name_gives_two_errors(self) -> None:
        """An empty name is both empty and not matching the regex, as in Go."""
        assert qualified_name_errors("") == [
            "name part must be non-empty",
            "name part " + NAME_REGEX_MSG,
        ]

    def test_name_too_long_counts_bytes(self) -> None:
        """The 63 limit counts UTF-8 bytes, and the regex error follows for non-ASCII."""
        assert qualified_name_errors("a" * 64) == ["name part must be no more than 63 bytes"]
        errs = qualified_name_errors("é" * 32)
        assert errs == ["name part must be no more than 63 bytes", "name part " + NAME_REGEX_MSG]

    def test_prefix_errors(self) -> None:
        """Empty and upper-case prefixes are reported with the 'prefix part' wording."""
        assert qualified_name_errors("/a") == ["prefix part must be non-empty"]
        (error,) = qualified_name_errors("Example.com/a")
        assert error.startswith("prefix part a lowercase RFC 1123 subdomain must consist of")
        long_prefix = ".".join(["a" * 63] * 4) + "/a"
        assert qualified_name_errors(long_prefix)[0] == "prefix part must be no more than 253 bytes"

    def test_two_slashes_give_one_error(self) -> None:
        """More than one slash is a single 'a valid label key' error."""
        (error,) = qualified_name_errors("a/b/c")
        assert error.startswith("a valid label key must consist of alphanumeric characters")
        assert error.endswith(
            "with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        )

    @pytest.mark.parametrize("key", ["-a", "a-", "a b", "a\n", "a~b", ".a"])
    def test_bad_name_characters(self, key: str) -> None:
        """Names must start and end alphanumeric and use only [-A-Za-z0-9_.]."""
        assert qualified_name_errors(key) == ["name part " + NAME_REGEX_MSG]


class TestGoQuote:
    """Go strconv.Quote, including the Unicode 17 printability table."""

    @pytest.mark.parametrize(
        ("value", "quoted"),
        [
            ("", '""'),
            ("plain", '"plain"'),
            ('say "hi"\\', '"say \\"hi\\"\\\\"'),
            ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
            ("\x00\x1b\x7f", '"\\x00\\x1b\\x7f"'),
            ("\u00a0\u00ad\u2028\u200b", '"\\u00a0\\u00ad\\u2028\\u200b"'),
            ("한국어 ✓ é", '"한국어 ✓ é"'),
            ("\U0001f600", '"\U0001f600"'),
            ("\U000e0001\U0010ffff", '"\\U000e0001\\U0010ffff"'),
            ("\ufeff\ufffd", '"\\ufeff\ufffd"'),
        ],
    )
    def test_known_quotes(self, value: str, quoted: str) -> None:
        """Escapes follow Go: named controls, \\x for ASCII, \\u/\\U for other non-printables."""
        assert go_quote(value) == quoted

    def test_unicode_17_characters_are_printable(self) -> None:
        """CJK Extension J (Unicode 17) is kept; an unassigned neighbour is escaped."""
        assert go_quote("\U000330a9") == '"\U000330a9"'
        assert go_quote("\U0003347b") == '"\\U0003347b"'

    def test_surrogate_escaped_bytes_are_written_as_hex(self) -> None:
        """Undecodable bytes (surrogateescape) are written \\xHH, like Go's invalid UTF-8."""
        value = b"ok\xff\xc3".decode("utf-8", "surrogateescape")
        assert go_quote(value) == '"ok\\xff\\xc3"'
        assert go_unquote(go_quote(value)) == value

    def test_other_lone_surrogates_are_written_as_their_bytes(self) -> None:
        """A lone surrogate outside the surrogateescape range is its three bytes."""
        assert go_quote("\ud800") == '"\\xed\\xa0\\x80"'

    def test_ascii_path_imports_no_table(self) -> None:
        """Importing the module and quoting ASCII text never loads the Unicode table."""
        code = (
            "import sys, podself.downward as d; d.go_quote('a\\tb'); "
            "print('podself._goprint' in sys.modules, 're' in sys.modules, "
            "'typing' in sys.modules); d.go_quote('é'); print('podself._goprint' in sys.modules)"
        )
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        out = subprocess.run(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(SRC)!r}); {code}"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.split()
        assert out == ["False", "False", "False", "True"]


class TestGoUnquote:
    """Go strconv.Unquote for double-quoted strings."""

    @pytest.mark.parametrize(
        ("quoted", "value"),
        [
            ('""', ""),
            ('"a\\x41\\u00e9\\U0001F600"', "aAé\U0001f600"),
            ('"\\101\\000\\377"', "A\x00" + b"\xff".decode("utf-8", "surrogateescape")),
            ('"\\xc3\\xa9"', "é"),
            ('"tab\there"', "tab\there"),
            ('"\\\\\\""', '\\"'),
        ],
    )
    def test_accepts_every_go_escape(self, quoted: str, value: str) -> None:
        """Hex, octal, \\u and \\U escapes decode as in Go; \\x bytes join into UTF-8."""
        assert go_unquote(quoted) == value

    def test_lone_surrogate_in_literal_text_becomes_replacement(self) -> None:
        """Raw undecodable bytes inside the quotes read as U+FFFD, as in Go."""
        assert go_unquote('"a\udcffb"') == "a\ufffdb"

    @pytest.mark.parametrize(
        ("quoted", "reason"),
        [
            ("", "must start and end with a double quote"),
            ("abc", "must start and end with a double quote"),
            ('"abc', "missing closing double quote"),
            ('"abc\\"', "missing closing double quote"),
            ('"a"b', "text after the closing double quote"),
            ('"a\nb"', "unescaped newline"),
            ('"\\q"', "invalid escape '\\\\q'"),
            ('"\\\'"', "invalid escape"),
            ('"\\x4"', "invalid escape"),
            ('"\\ud800"', "not a Unicode scalar value"),
            ('"\\U00110000"', "not a Unicode scalar value"),
            ('"\\400"', "above \\377"),
            ('"\\12"', "invalid escape"),
        ],
    )
    def test_rejects_what_go_rejects(self, quoted: str, reason: str) -> None:
        """Malformed quoted strings raise FormatError saying why."""
        with pytest.raises(FormatError) as info:
            go_unquote(quoted)
        assert reason in str(info.value)
        assert str(info.value).startswith("quoted string ")


class TestFormatMap:
    """fieldpath.FormatMap."""

    def test_empty_and_none(self) -> None:
        """None and empty maps give the empty string."""
        assert format_map(None) == ""
        assert format_map({}) == ""

    def test_sorted_joined_without_trailing_newline(self) -> None:
        """Lines are sorted by key, joined by newlines, with no final newline."""
        text = format_map({"b": "2", "a": "1", "B": "x"})
        assert text == 'B="x"\na="1"\nb="2"'

    def test_sort_is_bytewise_utf8(self) -> None:
        """Keys order as UTF-8 bytes: U+FFFD before an astral character, ASCII first."""
        text = format_map({"\U0001f600": "x", "\ufffd": "y", "z": "w"})
        assert [line.split("=")[0] for line in text.split("\n")] == ["z", "\ufffd", "\U0001f600"]

    def test_keys_are_written_raw(self) -> None:
        """The key is not quoted or escaped; only the value is."""
        assert format_map({'a"b': 'c"d'}) == 'a"b="c\\"d"'


class TestParseMap:
    """The inverse of FormatMap, with clear errors."""

    def test_round_trip_of_kubelet_text(self) -> None:
        """A typical labels file reads back to its map."""
        labels = {"app": "web", "app.kubernetes.io/version": "1.2", "note": 'a "b"\n'}
        assert parse_map(format_map(labels)) == labels

    def test_empty_text_is_empty_map(self) -> None:
        """An empty file is an empty map."""
        assert parse_map("") == {}

    def test_lenient_about_final_newline_crlf_and_blank_lines(self) -> None:
        """A trailing newline, CRLF endings and blank lines (never written by FormatMap) parse."""
        assert parse_map('a="1"\n') == {"a": "1"}
        assert parse_map('a="1"\r\nb="2"\r\n') == {"a": "1", "b": "2"}
        assert parse_map('\na="1"\n\nb="2"') == {"a": "1", "b": "2"}

    def test_keys_containing_equals_quote(self) -> None:
        """A key holding '="' still round-trips: only the true split leaves one quoted string."""
        mapping = {'a="b': "c", 'x="': '"', "=": "=", "": ""}
        assert parse_map(format_map(mapping)) == mapping

    def test_value_ending_in_equals(self) -> None:
        """A value ending with '=' does not confuse the split."""
        assert parse_map('k="x="') == {"k": "x="}

    @pytest.mark.parametrize(
        ("line", "expected"),
        [
            ('k="\\t' * 5000 + '"', {'k="\\t' * 4999 + "k": "\t"}),
            ('k="\\x41' * 5000, None),
            ('k="' + '\\"="' * 5000 + '"', {'k="' + '\\"="' * 4999 + '\\"': ""}),
        ],
    )
    def test_split_unquotes_a_bounded_number_of_times(
        self, line: str, expected: dict[str, str] | None, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """However many '="' a line holds, at most two unquotes: parsing stays linear."""
        calls: list[int] = []
        real = downward._unquote

        def unquote(quoted: str) -> tuple[str | None, str]:
            calls.append(len(quoted))
            return real(quoted)

        monkeypatch.setattr(downward, "_unquote", unquote)
        if expected is None:
            with pytest.raises(FormatError, match="line 1: value "):
                parse_map(line)
        else:
            assert parse_map(line) == expected
        assert len(calls) <= 2

    def test_escaped_quotes_scan_the_value_once(self) -> None:
        """A value full of escaped quotes decodes like Go (the general path)."""
        assert parse_map('k="' + '\\x41\\"' * 3 + '"') == {"k": 'A"A"A"'}

    def test_missing_quote_names_line(self) -> None:
        """A line without key="value" names its number and content."""
        with pytest.raises(FormatError) as info:
            parse_map('a="1"\nb="2"\napp=myapp')
        assert str(info.value) == "labels file line 3: expected key=\"value\", got 'app=myapp'"

    def test_bad_escape_names_line_and_reason(self) -> None:
        """An invalid escape is reported with the reason and the line."""
        with pytest.raises(FormatError, match=r"^annotations line 1: value invalid escape"):
            parse_map('k="a\\qb"', source="annotations")

    def test_unterminated_value(self) -> None:
        """A value without its closing quote is malformed."""
        with pytest.raises(FormatError, match="line 2: value missing closing double quote"):
            parse_map('a="1"\nb="2')

    def test_text_after_value(self) -> None:
        """Anything after the closing quote is malformed."""
        with pytest.raises(FormatError, match="text after the closing double quote"):
            parse_map('a="1" # comment')

    def test_duplicate_key(self) -> None:
        """FormatMap never repeats a key, so a duplicate is an error."""
        with pytest.raises(FormatError, match="line 2: duplicate key 'a'"):
            parse_map('a="1"\na="2"')

    def test_long_lines_are_truncated_in_messages(self) -> None:
        """Messages show at most about 60 characters of the offending line."""
        with pytest.raises(FormatError) as info:
            parse_map("x" * 500)
        assert len(str(info.value)) < 120
        assert str(info.value).endswith("...")


class TestExtractFieldPath:
    """fieldpath.ExtractFieldPathAsString on v1 JSON pods."""

    POD: dict[str, Any] = {  # noqa: RUF012 - read-only fixture
        "metadata": {
            "name": "web-0",
            "namespace": "prod",
            "uid": "1234",
            "labels": {"app": "web", "tier": "front"},
            "annotations": {"Example.com/Owner": "team-a"},
        }
    }

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            ("metadata.name", "web-0"),
            ("metadata.namespace", "prod"),
            ("metadata.uid", "1234"),
            ("metadata.labels", 'app="web"\ntier="front"'),
            ("metadata.annotations", 'Example.com/Owner="team-a"'),
            ("metadata.labels['app']", "web"),
            ("metadata.labels['missing']", ""),
            ("metadata.annotations['Example.com/Owner']", "team-a"),
        ],
    )
    def test_values(self, path: str, expected: str) -> None:
        """Each supported path yields the kubelet's string; absent keys give ''."""
        assert extract_field_path(self.POD, path) == expected

    def test_missing_metadata_fields_are_empty(self) -> None:
        """Unset name/labels read as empty, as Go's zero values do."""
        assert extract_field_path({}, "metadata.name") == ""
        assert extract_field_path({"metadata": None}, "metadata.labels") == ""

    def test_annotation_key_is_lowercased_for_validation(self) -> None:
        """Annotation keys are checked lower-cased; label keys are checked as written."""
        assert extract_field_path(self.POD, "metadata.annotations['K\u212aY']") == ""
        with pytest.raises(FieldPathError, match=r"invalid key subscript in metadata\.labels"):
            extract_field_path(self.POD, "metadata.labels['Example.com/Owner']")

    @pytest.mark.parametrize(
        ("path", "message"),
        [
            ("spec.nodeName", "unsupported fieldPath: spec.nodeName"),
            ("metadata.name['x']", "fieldPath \"metadata.name['x']\" does not support subscript"),
            (
                "metadata.labels['a/b/c']",
                "invalid key subscript in metadata.labels['a/b/c']: a valid label key",
            ),
        ],
    )
    def test_errors_use_go_messages(self, path: str, message: str) -> None:
        """Unsupported paths and bad subscripts raise FieldPathError with Go's text."""
        with pytest.raises(FieldPathError) as info:
            extract_field_path(self.POD, path)
        assert str(info.value).startswith(message)

    def test_multiple_key_errors_are_joined_with_semicolons(self) -> None:
        """Several key errors are joined with ';' as Go does."""
        with pytest.raises(FieldPathError) as info:
            extract_field_path(self.POD, "metadata.labels['']")
        assert "name part must be non-empty;name part must consist" in str(info.value)

    @pytest.mark.parametrize("pod", ["a string", 42, None, {"metadata": "x"}])
    def test_not_an_object(self, pod: Any) -> None:
        """Something that is not a pod mapping is refused like meta.Accessor refuses it."""
        with pytest.raises(FieldPathError, match="object does not implement the Object interfaces"):
            extract_field_path(pod, "metadata.name")

    def test_non_string_values_are_refused(self) -> None:
        """YAML numbers where the API wants strings are reported, not silently converted."""
        pod = {"metadata": {"name": 5, "labels": {"v": 1.0}}}
        with pytest.raises(FieldPathError, match="expected a string, got int 5"):
            extract_field_path(pod, "metadata.name")
        with pytest.raises(FieldPathError, match="expected a map of strings"):
            extract_field_path(pod, "metadata.labels['v']")


class TestResourceValue:
    """resourceFieldRef values computed like the kubelet."""

    @pytest.mark.parametrize(
        ("resource", "resources", "divisor", "expected"),
        [
            ("limits.cpu", {"limits": {"cpu": "500m"}}, None, "1"),
            ("limits.cpu", {"limits": {"cpu": "500m"}}, "1m", "500"),
            ("limits.cpu", {"limits": {"cpu": 2}}, "1m", "2000"),
            ("limits.cpu", {"limits": {"cpu": 0.25}}, "1m", "250"),
            ("limits.memory", {"limits": {"memory": "100M"}}, "1Mi", "96"),
            ("limits.memory", {"limits": {"memory": "1.5Gi"}}, "1Gi", "2"),
            ("limits.memory", {"limits": {"memory": "1Gi"}}, "0", "1073741824"),
            ("requests.memory", {"requests": {"memory": "64Mi"}}, "1Mi", "64"),
            ("requests.cpu", {"limits": {"cpu": "1"}}, None, "0"),
            ("limits.hugepages-2Mi", {"limits": {"hugepages-2Mi": "4Mi"}}, "1Mi", "4"),
            ("requests.hugepages-1Gi", None, None, "0"),
        ],
    )
    def test_values(
        self, resource: str, resources: Any, divisor: str | None, expected: str
    ) -> None:
        """Values are ceil(quantity / divisor) in milli-units for cpu, units otherwise."""
        assert resource_value(resource, resources, divisor) == expected

    def test_missing_or_zero_limit_falls_back_to_node_allocatable(self) -> None:
        """cpu, memory and ephemeral-storage limits default to node allocatable; hugepages not."""
        node = {"cpu": "8", "memory": "16Gi", "ephemeral-storage": "100Gi", "hugepages-2Mi": "1Gi"}
        assert resource_value("limits.cpu", {}, "1m", node) == "8000"
        assert resource_value("limits.memory", {"limits": {"memory": "0"}}, "1Gi", node) == "16"
        assert resource_value("limits.ephemeral-storage", None, "1Gi", node) == "100"
        assert resource_value("limits.hugepages-2Mi", {}, None, node) == "0"
        assert resource_value("requests.cpu", {}, None, node) == "0"

    def test_pod_level_limits_come_before_node_allocatable(self) -> None:
        """Pod-level cpu/memory limits are used first; ephemeral-storage skips them."""
        node = {"cpu": "8", "ephemeral-storage": "10Gi"}
        pod = {"cpu": "2", "ephemeral-storage": "1Gi"}
        assert resource_value("limits.cpu", {}, None, node, pod_limits=pod) == "2"
        assert resource_value("limits.ephemeral-storage", {}, "1Gi", node, pod_limits=pod) == "10"

    def test_float64_rounding_is_reproduced(self) -> None:
        """Above 2**53 the kubelet's float64 division rounds; podself rounds the same way."""
        resources = {"requests": {"memory": "9007199254740993"}}
        assert resource_value("requests.memory", resources) == "9007199254740992"

    def test_int64_overflow_matches_amd64_kubelet(self) -> None:
        """A ratio of 2**63 or more converts to int64 as amd64 does: -2**63."""
        resources = {"limits": {"memory": "9223372036854775807"}}
        assert resource_value("limits.memory", resources) == "-9223372036854775808"

    @pytest.mark.parametrize("resource", ["limits.storage", "cpu", "limits.", "requests.pods"])
    def test_unsupported_resource(self, resource: str) -> None:
        """Unknown resources raise ResourceFieldError with the kubelet's message."""
        with pytest.raises(ResourceFieldError) as info:
            resource_value(resource, {"limits": {"cpu": "1"}})
        assert str(info.value) == f"Unsupported container resource : {resource}"

    def test_bad_quantity_raises_value_error(self) -> None:
        """A malformed quantity or divisor is a ValueError (QuantityError)."""
        with pytest.raises(ValueError, match="12Q"):
            resource_value("limits.cpu", {"limits": {"cpu": "12Q"}})
        with pytest.raises(ValueError, match="1x"):
            resource_value("requests.cpu", {}, "1x")


class TestDefaultRequests:
    """SetDefaults_Pod: requests default to limits."""

    def test_copies_missing_requests_from_limits(self) -> None:
        """Only keys missing from requests are copied; set requests are kept."""
        resources = {"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "100m"}}
        assert default_requests(resources) == {
            "limits": {"cpu": "1", "memory": "1Gi"},
            "requests": {"cpu": "100m", "memory": "1Gi"},
        }

    def test_input_is_not_modified(self) -> None:
        """The given mapping is left as it was."""
        resources: dict[str, Any] = {"limits": {"cpu": "1"}}
        default_requests(resources)
        assert resources == {"limits": {"cpu": "1"}}

    def test_no_limits_means_nothing_to_copy(self) -> None:
        """Without limits the resources come back unchanged; None gives an empty dict."""
        assert default_requests({"requests": {"cpu": "1"}}) == {"requests": {"cpu": "1"}}
        assert default_requests(None) == {}


# Text with the characters that tend to break line formats: controls, quotes, backslashes,
# U+2028/U+2029, soft hyphen, BOM, Hangul, astral emoji and unassigned code points.
SPECIALS = st.sampled_from(
    ["\n", "\r", '"', "\\", "=", '="', "\u2028", "\u2029", "\u00ad", "\ufeff", "한", "\U0001f600"]
)
# Lone surrogates (category Cs) are not text; bytes that are not UTF-8 have their own property.
CHARS = st.characters(exclude_categories=["Cs"])
TEXT = st.lists(st.one_of(CHARS, SPECIALS)).map("".join)
# Quoted text, valid or not, made from the pieces escapes are built of.
QUOTED = (
    st.lists(st.sampled_from([*'\\"ntrx41u07a=\né', "\udcff"]), max_size=16)
    .map("".join)
    .map(lambda body: f'"{body}"')
)
KEYS = TEXT.filter(lambda key: "\n" not in key)


class TestProperties:
    """Round-trip properties over arbitrary text."""

    @given(TEXT)
    def test_unquote_inverts_quote(self, value: str) -> None:
        """go_unquote(go_quote(s)) == s for every surrogate-free string."""
        quoted = go_quote(value)
        assert "\n" not in quoted
        assert go_unquote(quoted) == value

    @given(st.binary())
    def test_bytes_round_trip_through_surrogateescape(self, raw: bytes) -> None:
        """Arbitrary bytes decoded with surrogateescape survive quoting like Go strings."""
        value = raw.decode("utf-8", "surrogateescape")
        assert go_unquote(go_quote(value)) == value

    @given(st.dictionaries(KEYS, TEXT))
    def test_parse_inverts_format(self, mapping: dict[str, str]) -> None:
        """parse_map(format_map(m)) == m for keys without newlines."""
        assert parse_map(format_map(mapping)) == mapping

    @given(QUOTED)
    def test_common_path_agrees_with_general_parser(self, quoted: str) -> None:
        """The fast decoder for common escapes gives what the escape-by-escape parser gives."""
        assert downward._unquote(quoted)[0] == downward._unquote_general(quoted)[0]

    @given(st.lists(TEXT))
    def test_code_point_order_is_utf8_byte_order(self, keys: list[str]) -> None:
        """Sorting str by code point equals Go's bytewise UTF-8 sort for surrogate-free text."""
        assert sorted(keys) == sorted(keys, key=lambda k: k.encode("utf-8"))

    def test_module_exports(self) -> None:
        """__all__ is sorted and names only real attributes."""
        assert list(downward.__all__) == sorted(downward.__all__)
        assert all(hasattr(downward, name) for name in downward.__all__)


@pytest.mark.parametrize(
    ("text", "lowered"),
    [
        ("Example.COM/Key", "example.com/key"),
        ("ΑΣ", "ασ"),  # Go has no final-sigma rule; Python's str.lower() would give "ας"
        ("İx", "ix"),  # Go maps U+0130 to a plain "i"
        ("ǅ", "ǆ"),
    ],
)
def test_go_lower_maps_rune_by_rune(text: str, lowered: str) -> None:
    assert go_lower(text) == lowered


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("example.com", True),
        ("a", True),
        ("0-9.a-b", True),
        ("", False),
        ("a..b", False),
        ("-a", False),
        ("a-", False),
        ("A.com", False),
        ("a_b", False),
        (".a", False),
    ],
)
def test_is_dns1123_subdomain(value: str, valid: bool) -> None:
    assert is_dns1123_subdomain(value) is valid

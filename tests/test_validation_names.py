"""Tests for podself.validation.names: apimachinery's name rules."""

from __future__ import annotations

import pytest

from podself.validation import (
    dns1123_label_errors,
    dns1123_subdomain_errors,
    name_is_dns_label,
    name_is_dns_subdomain,
    path_segment_errors,
)
from tests.validation_helpers import (
    DNS_LABEL_MSG,
    HOSTILE_NAMES,
    SUBDOMAIN_MSG,
)


class TestNames:
    """The apimachinery name rules, which keep every name a single safe path component."""

    @pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
    def test_hostile_names_are_neither_labels_nor_subdomains(self, name: str) -> None:
        """None of these is a DNS-1123 subdomain (pod names) or label (namespaces, containers,
        volumes)."""
        assert name_is_dns_subdomain(name)
        assert name_is_dns_label(name)
        assert dns1123_label_errors(name) == name_is_dns_label(name)

    def test_messages(self) -> None:
        """The messages are the API server's, the length one first."""
        assert name_is_dns_subdomain("..") == [SUBDOMAIN_MSG]
        assert name_is_dns_subdomain("a" * 254) == ["must be no more than 253 characters"]
        assert name_is_dns_label("a.b") == ["must not contain dots"]
        assert name_is_dns_label("A" * 64) == ["must be no more than 63 characters", DNS_LABEL_MSG]
        assert name_is_dns_subdomain("a.b-c") == []
        assert dns1123_subdomain_errors("a" * 253) == []

    @pytest.mark.parametrize(
        ("prefix", "valid"),
        [
            ("web-", True),
            ("a.b-", True),
            ("web", True),
            ("-", False),
            ("a.-", True),  # maskTrailingDash cuts two bytes: "aa" (the name is refused)
            ("x_", False),
        ],
    )
    def test_generate_name_prefix(self, prefix: str, valid: bool) -> None:
        """A generateName may end in '-' (maskTrailingDash); nothing else is relaxed."""
        assert (name_is_dns_subdomain(prefix, prefix=True) == []) is valid
        assert name_is_dns_subdomain("web-") == [SUBDOMAIN_MSG]

    @pytest.mark.parametrize(
        ("name", "errors"),
        [
            (".", ["may not be '.'"]),
            ("..", ["may not be '..'"]),
            ("../x", ["may not contain '/'"]),
            ("a%2f", ["may not contain '%'"]),
            ("/%", ["may not contain '/'", "may not contain '%'"]),
            ("UPPER", []),
            ("...", []),
        ],
    )
    def test_path_segment(self, name: str, errors: list[str]) -> None:
        """client-go's IsValidPathSegmentName, applied before a request is sent."""
        assert path_segment_errors(name) == errors

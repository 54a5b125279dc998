"""podself.expand: Kubernetes $(VAR) expansion in env values, command and args."""

from __future__ import annotations

import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podself.expand import expand, reference_spans, references

VARS = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}

ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


class TestExpand:
    """The rules of third_party/forked/golang/expansion."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("$(VAR_A)", "A"),
            ("___$(VAR_B)___", "___B___"),
            ("$(VAR_A)-$(VAR_A)", "A-A"),
            ("$(VAR_A)$(VAR_B)$(VAR_C)", "ABC"),
            ("$(VAR_EMPTY)", ""),
            ("$(VAR_REF)", "$(VAR_A)"),
            ("$$(VAR_A)", "$(VAR_A)"),
            ("$$$(VAR_A)", "$A"),
            ("$$$$(VAR_A)", "$$(VAR_A)"),
            ("$(VAR_DNE)", "$(VAR_DNE)"),
            ("$()", "$()"),
            ("$(", "$("),
            ("$(VAR_A", "$(VAR_A"),
            ("$($(VAR_A)", "$($(VAR_A)"),
            ("$(VAR_$(VAR_A))", "$(VAR_$(VAR_A))"),
            ("$VAR_A", "$VAR_A"),
            ("${VAR_A}", "${VAR_A}"),
            ("$", "$"),
            ("$$", "$"),
            ("$$$", "$$"),
            ("foo$", "foo$"),
            ("no refs here", "no refs here"),
            ("", ""),
            ("echo Pod: $POD_NAME", "echo Pod: $POD_NAME"),
            ("kill -KILL $$", "kill -KILL $"),
        ],
    )
    def test_cases(self, text: str, expected: str) -> None:
        """Each input expands to what Kubernetes produces."""
        assert expand(text, VARS) == expected

    def test_callable_lookup(self) -> None:
        """A function returning None for unknown names works like a mapping."""
        seen: list[str] = []

        def lookup(name: str) -> str | None:
            seen.append(name)
            return name.lower() if name.startswith("X") else None

        assert expand("$(XA)/$(YB)", lookup) == "xa/$(YB)"
        assert seen == ["XA", "YB"]

    def test_values_are_not_rescanned(self) -> None:
        """A value that itself contains $(...) is inserted as is."""
        assert expand("<$(VAR_REF)>", VARS) == "<$(VAR_A)>"

    def test_dollar_before_non_ascii_reproduces_go_bytes(self) -> None:
        """``$`` before a multi-byte character yields Go's string(byte) conversion."""
        result = expand("$é", {})
        # Go: "$" + string(rune(0xC3)) + the raw continuation byte 0xA9
        assert os.fsencode(result) == b"$\xc3\x83\xa9"

    def test_non_ascii_values_and_names(self) -> None:
        """Unicode in names, values and surrounding text passes through."""
        assert expand("값=$(이름)!", {"이름": "한글"}) == "값=한글!"

    @given(ASCII_TEXT)
    def test_without_double_dollar_nothing_changes(self, text: str) -> None:
        """With no known variables and no ``$$``, ASCII text is returned unchanged."""
        if "$$" in text:
            text = text.replace("$$", "$")
            if "$$" in text:
                return
        assert expand(text, {}) == text

    @given(ASCII_TEXT)
    def test_doubling_every_dollar_escapes_everything(self, text: str) -> None:
        """Replacing each ``$`` with ``$$`` gives back the original text."""
        assert expand(text.replace("$", "$$"), VARS) == text


class TestReferences:
    """Finding the $(VAR) references in a string."""

    def test_names_in_order(self) -> None:
        """References are listed in order, repeats kept, escapes skipped."""
        assert references("$(A) $$(B) $(C) $(A) $(") == ("A", "C", "A")

    def test_spans(self) -> None:
        """Spans are character offsets of each ``$(NAME)``."""
        text = "é $(NAME) x"
        spans = reference_spans(text)
        assert spans == (("NAME", 2, 9),)
        name, start, end = spans[0]
        assert text[start:end] == f"$({name})"

    def test_none(self) -> None:
        """A string without references has none."""
        assert references("plain $HOME ${X}") == ()
        assert reference_spans("") == ()

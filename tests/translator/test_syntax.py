"""The RFC syntaxes every target shares: the ASCII patterns the IRI tests take for ASCII text
must match exactly what the full patterns match."""

from __future__ import annotations

import random

import pytest

from translator import syntax
from translator.syntax import is_iri, is_irl

# Characters where IRI rules turn: delimiters of the authority, the excluded ASCII, blanks and
# controls, "%" and hex digits, and letters.
_ALPHABET = ":/?#@[]%.-+~!$&'()*,;=_aAzZ09fF \"<>\\^`{|}\t\n\x00\x7f"
_SHAPES = ("http://", "urn:", "HTTPS://", "urn:x:", "mailto:", "http://[", "http://a:", "")


@pytest.mark.parametrize("seed", range(4))
def test_ascii_patterns_match_exactly_what_the_full_patterns_match(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(5_000):
        text = rng.choice(_SHAPES) + "".join(
            rng.choice(_ALPHABET) for _ in range(rng.randint(0, 12))
        )
        assert text.isascii()
        assert (syntax._ASCII_IRI_SHAPE(text) is None) == (syntax._IRI_SHAPE(text) is None), text
        assert (syntax._ASCII_IRL_SHAPE(text) is None) == (syntax._IRL_SHAPE(text) is None), text


def test_ascii_iri_chars_are_the_printable_ascii_rfc_3987_allows() -> None:
    excluded = {chr(c) for c in range(0x80)} - syntax.ASCII_IRI_CHARS
    assert excluded == {chr(c) for c in range(0x21)} | set('"<>[\\]^`{|}') | {"\x7f"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://lms.example.org/xblock/block-v1:Org+C1+2024+type@video+block@0a1b", True),
        ("http://lms.example.org:18000/course/course-v1:Org+C1+2024", True),
        ("http://[2001:db8::1]:80/a", True),
        ("urn:uuid:6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d", True),
        ("http://lms.example.org/caf%C3%A9", True),
        ("http://lms.example.org/café", True),  # an IRI may hold non-ASCII letters
        ("http://lms.example.org/a\u202eb", False),  # not a bidi control
        ("course-v1:Org+C1+2024", False),  # an edX key without the LMS root
        ("http://lms.example.org/a b", False),
        ("http://lms.example.org/100%", False),
        ("http://lms.example.org:port/", False),
        ("http:///path", False),
    ],
)
def test_is_iri(value: str, expected: bool) -> None:
    assert is_iri(value) is expected


def test_is_irl_needs_a_host_to_fetch_from() -> None:
    assert is_irl("https://lms.example.org/")
    assert not is_irl("urn:uuid:6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d")

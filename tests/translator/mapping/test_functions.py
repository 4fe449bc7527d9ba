"""Built-in functions called directly (the README examples run them through mappings)."""

from __future__ import annotations

import pytest

from translator.mapping.functions import FUNCTIONS, FunctionContext
from translator.missing import MISSING

_CONTEXT = FunctionContext(pseudonym_secret=b"test", actor_map={})


def _call(name: str, *args: object) -> object:
    return FUNCTIONS[name].bind(_CONTEXT)(*args)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/courses/course-v1:X+Y+Z/courseware", "/courses/course-v1:X+Y+Z/courseware"),
        ("/a b\tc", "/a%20b%09c"),
        ('<>"{}|\\^`', "%3C%3E%22%7B%7D%7C%5C%5E%60"),
        ("/caf\u00e9/\u00a0", "/caf\u00e9/%C2%A0"),
        ("100%", "100%25"),  # a "%" that starts no %XX is not an IRI's
        ("50%25", "50%25"),  # an encoded octet stays as it is
        ("/a[1]", "/a%5B1%5D"),
        ("a\u202eb\x00", "a%E2%80%AEb%00"),  # a bidi control and NUL
    ],
)
def test_iri_escape_encodes_only_what_an_iri_cannot_hold(text: str, expected: str) -> None:
    assert _call("iri_escape", text) == expected


def test_iri_escape_of_a_non_text_is_missing() -> None:
    assert _call("iri_escape", 3) is MISSING
    assert _call("iri_escape", None) is MISSING


@pytest.mark.parametrize(
    ("raw", "maximum", "expected"),
    [(1, 2, 0.5), (2, 2, 1.0), (0, 3, 0.0), (5, 2, MISSING), (-1, 2, MISSING), (1, 0, MISSING)],
)
def test_ratio_is_missing_for_a_score_xapi_cannot_hold(
    raw: int, maximum: int, expected: object
) -> None:
    assert _call("ratio", raw, maximum) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.5, 50), (1, 100), (0, 0), (0.333, 33), (1.5, MISSING), ("1", MISSING)],
)
def test_percent_gives_a_whole_percentage(share: object, expected: object) -> None:
    assert _call("percent", share) == expected

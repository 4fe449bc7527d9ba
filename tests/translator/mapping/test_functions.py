"""Built-in functions called directly (the README examples run them through mappings)."""

from __future__ import annotations

from typing import Any

import pytest

from translator.errors import TranslationError
from translator.mapping.functions import (
    ACTOR_IDENTITIES,
    FUNCTIONS,
    NOT_IN_ACTOR_MAP,
    FunctionContext,
)
from translator.missing import MISSING
from translator.syntax import DURATION, is_iri

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


def test_iri_escape_returns_every_ascii_text_an_iri_can_hold_as_it_is() -> None:
    # the fast path (printable ASCII an IRI may hold, no "%") changes nothing the escaping would
    for code in range(0x80):
        for text in (chr(code), f"/a{chr(code)}b", f"{chr(code)}41"):
            unchanged = _call("iri_escape", text) == text
            assert unchanged == is_iri(f"http://h/{text}"), repr(text)


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


@pytest.mark.parametrize(
    ("number", "places", "expected"),
    [
        (194.40735897138978, 3, 194.407),
        (195, 3, 195.0),
        (0.03278805340576172, 3, 0.033),
        (2.5, 0, 2.0),  # as Python formats it: half to even, on the binary value
        (0.0005, 3, 0.001),  # 0.0005 is a little above 5e-4 as a double
        (-1.23456, 2, -1.23),
        ("1.5", 3, MISSING),
        (True, 1, MISSING),
        (float("inf"), 3, MISSING),
        (1.0, -1, MISSING),
        (1.0, 16, MISSING),
        (1.0, 2.0, MISSING),
    ],
)
def test_round_reads_back_the_text_python_formats(
    number: object, places: object, expected: object
) -> None:
    result = _call("round", number, places)
    assert result == expected
    assert type(result) is (float if expected is not MISSING else type(MISSING))


@pytest.mark.parametrize("value", [None, False, 0, 0.0, "", [], {}])
def test_truthy_is_missing_for_what_python_counts_false(value: object) -> None:
    assert _call("truthy", value) is MISSING


@pytest.mark.parametrize("value", [True, 5, -0.5, "0", " ", [0], {"a": None}])
def test_truthy_keeps_what_python_counts_true(value: object) -> None:
    assert _call("truthy", value) is value


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (195, "PT03M15S"),
        (195.0, "PT03M15S"),
        (0, "PT00S"),
        (0.5, "PT00.5S"),
        (9, "PT09S"),
        (194.407, "PT03M14.407S"),
        (3600, "PT01H00M00S"),
        (3605.25, "PT01H00M05.25S"),
        (86400, "P1DT00H00M00S"),
        (90061.25, "P1DT01H01M01.25S"),
        (119.9999999, "PT02M00S"),  # kept to the microsecond first, as a timedelta is
        (1e-7, "PT00S"),
    ],
)
def test_tincan_duration_writes_seconds_as_tincan_does(seconds: float, expected: str) -> None:
    assert _call("tincan_duration", seconds) == expected
    assert DURATION(expected) is not None  # and it is an ISO 8601 duration xAPI takes


@pytest.mark.parametrize("seconds", [-1, "195", None, True, float("nan"), 1e300])
def test_tincan_duration_is_missing_for_what_is_no_length(seconds: object) -> None:
    assert _call("tincan_duration", seconds) is MISSING


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (195, "PT3M15S"),
        (195.0, "PT3M15S"),
        (194.381, "PT3M14.381S"),
        (3.093662, "PT3.093662S"),
        (10, "PT10S"),
        (0, "P0D"),
        (0.5, "PT0.5S"),
        (3600, "PT1H"),
        (86400, "P1D"),
        (90061.25, "P1DT1H1M1.25S"),
        (1.23456789, "PT1.234568S"),  # kept to the microsecond, as a timedelta is
        (119.9999999, "PT2M"),
        (1e-7, "P0D"),
        (1e8, "P1157DT9H46M40S"),
    ],
)
def test_isodate_duration_writes_seconds_as_isodate_does(seconds: float, expected: str) -> None:
    assert _call("isodate_duration", seconds) == expected
    assert DURATION(expected) is not None  # and it is an ISO 8601 duration Caliper takes


@pytest.mark.parametrize("seconds", [-1, "195", None, True, [], float("inf"), 1e300])
def test_isodate_duration_is_missing_for_what_is_no_length(seconds: object) -> None:
    assert _call("isodate_duration", seconds) is MISSING


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(0.333, 100, 33.300000000000004), (1, 100, 100), (0.5, 100.0, 50.0), ("1", 100, MISSING),
     (None, 100, MISSING), (True, 100, MISSING), (float("nan"), 1, MISSING)],
)  # fmt: skip
def test_multiply_multiplies_as_python_does(a: object, b: object, expected: object) -> None:
    result = _call("multiply", a, b)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [(1, 1, True), (1.5, 1, True), (0, 0.0, True), (0, 1, False), (-1, 0, False),
     ("2", 1, MISSING), (None, 0, MISSING), (1, False, MISSING)],
)  # fmt: skip
def test_at_least_compares_two_numbers(a: object, b: object, expected: object) -> None:
    assert _call("at_least", a, b) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-22T20:16:25.500832Z", "2023-08-22T20:16:25.500832+00:00"),
        ("2024-03-04T05:06:07.5+00:00", "2024-03-04T05:06:07.500000+00:00"),
        ("2024-03-04T05:06:07.000000+00:00", "2024-03-04T05:06:07+00:00"),
        ("2024-03-04T05:06:07.123456789Z", "2024-03-04T05:06:07.123456+00:00"),  # cut
        ("2024-03-04T05:06:07+0200", "2024-03-04T05:06:07+02:00"),
        ("2024-03-04 05:06:07.123", "2024-03-04T05:06:07.123000+00:00"),
        ("2024-03-04T05:06", "2024-03-04T05:06:00+00:00"),
        ("yesterday", MISSING),
        ("2024-13-04T05:06:07Z", MISSING),
        (1709528767, MISSING),
    ],
)
def test_py_isoformat_writes_the_instant_as_python_does(text: object, expected: object) -> None:
    assert _call("py_isoformat", text) == expected


def test_reject_rejects_the_line_with_its_reason() -> None:
    with pytest.raises(TranslationError, match=r"^no video id$"):
        _call("reject", "no video id")
    with pytest.raises(TranslationError, match=r"^rejected by the mapping$"):
        _call("reject", {"user": "an event value"})  # never written into a reason


def _actor_id(**context: Any) -> Any:
    ctx = FunctionContext(**{"pseudonym_secret": b"test", "actor_map": {}, **context})
    return FUNCTIONS["actor_id"].bind(ctx), ctx


_EVENT = {"context": {"user_id": 42}, "username": "ada_l", "email": "ada@example.edu"}


def test_actor_id_pseudonym_is_a_keyed_uuid_the_same_for_42_and_text_42() -> None:
    actor_id, _ = _actor_id()
    other, _ = _actor_id(pseudonym_secret=b"other")
    assert actor_id(42, _EVENT) == actor_id("42") != other(42)
    assert len(actor_id(42)) == 36


def test_actor_id_user_id_is_the_edx_user_id_as_text() -> None:
    actor_id, _ = _actor_id(actor_identity="user-id")
    assert actor_id(42, _EVENT) == actor_id(" 42") == "42"
    assert actor_id(None) is MISSING


@pytest.mark.parametrize(
    ("identity", "expected"), [("username", "ada_l"), ("email", "ada@example.edu")]
)
def test_actor_id_personal_identity_reads_the_requesters_field(
    identity: str, expected: str
) -> None:
    actor_id, _ = _actor_id(actor_identity=identity)
    assert actor_id(42, _EVENT) == actor_id("42", _EVENT) == expected


@pytest.mark.parametrize(
    ("user_id", "event", "reason"),
    [
        (7, _EVENT, "the event gives no username of this learner"),
        (42, {"context": {"user_id": 42}}, "the event has no username"),
        (42, {"context": {"user_id": 42}, "username": ""}, "the event has no username"),
        (42, MISSING, "this mapping does not give actor_id the event"),
    ],
)
def test_actor_id_username_rejects_an_event_without_the_learners_username(
    user_id: int, event: Any, reason: str
) -> None:
    actor_id, _ = _actor_id(actor_identity="username")
    with pytest.raises(TranslationError, match=reason):
        actor_id(user_id, event)


def test_actor_id_actor_map_is_strict_and_counts_hits_and_misses() -> None:
    actor_id, ctx = _actor_id(actor_identity="actor-map", actor_map={"42": "anon-42"})
    assert actor_id(42) == actor_id("42") == actor_id(42) == "anon-42"  # cached hits count too
    with pytest.raises(TranslationError, match=NOT_IN_ACTOR_MAP):
        actor_id(7)
    assert (ctx.actor_map_counts.hits, ctx.actor_map_counts.misses) == (3, 1)


def test_actor_id_of_username_counts_in_the_same_counter() -> None:
    ctx = FunctionContext(pseudonym_secret=b"t", actor_map={}, actor_usernames={"ada_l": "anon-42"})
    of_username = FUNCTIONS["actor_id_of_username"].bind(ctx)
    assert of_username("ada_l") == "anon-42"
    with pytest.raises(TranslationError, match=NOT_IN_ACTOR_MAP):
        of_username("bob")
    assert (ctx.actor_map_counts.hits, ctx.actor_map_counts.misses) == (1, 1)


def test_actor_identities_are_the_documented_five() -> None:
    assert ACTOR_IDENTITIES == ("pseudonym", "actor-map", "user-id", "username", "email")


def test_a_context_binds_each_function_once_so_every_mapping_shares_its_cache() -> None:
    # Every `!call actor_id` of a plan gets the one binding: a learner whose events are of many
    # kinds is hashed once, not once per event mapping.
    ctx = FunctionContext(pseudonym_secret=b"shared", actor_map={})
    actor_id = ctx.function("actor_id")
    assert ctx.function("actor_id") is actor_id
    assert actor_id(42) == FUNCTIONS["actor_id"].bind(ctx)(42)
    assert FunctionContext(pseudonym_secret=b"other", actor_map={}).function("actor_id")(42) != (
        actor_id(42)
    )

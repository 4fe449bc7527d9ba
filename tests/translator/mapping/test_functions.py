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
from translator.syntax import is_iri

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

"""Syntaxes from RFCs that the mapping functions and every target share (IRIs, UUIDs, ISO 8601
durations), defined once."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Final

Matcher = Callable[[str], re.Match[str] | None]

__all__ = [
    "ASCII_IRI_CHARS",
    "DURATION",
    "NOT_IRI",
    "UUID",
    "is_iri",
    "is_irl",
    "is_real_datetime",
    "uuid_of_digest",
]

# Characters RFC 3987 never allows in an IRI, whatever the component: blanks, the excluded ASCII,
# controls (C0, DEL, C1: a NUL among them), the bidi formatting characters (§4.1), and brackets
# (allowed only around an IP literal host, which the authority pattern below takes apart).
NOT_IRI: Final = (
    r"\s<>\"{}|\\^`\[\]\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
    r"\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
)


def _iri_shapes(iri_char: Callable[[str], str]) -> tuple[Matcher, Matcher]:
    """The IRI and IRL patterns, written with `iri_char(excluded)`: the class of characters an
    IRI may hold, less `excluded`."""
    # A hierarchical IRI's authority: an optional userinfo, a host (an IP literal in brackets,
    # or a name or IPv4 address, which hold no ":"), an optional port of digits, then the path,
    # query or end.
    authority = (
        rf"(?:{iri_char('/?#@')}*@)?(?:\[[0-9A-Fa-f:.]+\]|{iri_char('/?#@:')}+)(?::[0-9]*)?"
        r"(?=[/?#]|$)"
    )
    # An absolute IRI. Hierarchical IRIs must carry an authority (`scheme://host...`); the only
    # other form accepted is a URN. This refuses a bare edX key such as `course-v1:edX+DemoX+Demo`
    # (its "scheme" would be `course-v1`), the usual sign of a mapping that forgot the LMS root.
    iri = re.compile(
        rf"(?:[A-Za-z][A-Za-z0-9+.\-]*://{authority}|[Uu][Rr][Nn]:[A-Za-z0-9][A-Za-z0-9\-]{{0,31}}:"
        rf"{iri_char('')}){iri_char('')}*"
    ).fullmatch
    # An IRL (moreInfo, homePage, fileUrl, openid): an IRI that can be fetched, `scheme://host...`.
    irl = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*://{authority}{iri_char('')}*").fullmatch
    return iri, irl


_IRI_SHAPE, _IRL_SHAPE = _iri_shapes(lambda excluded: f"[^{NOT_IRI}{re.escape(excluded)}]")
# The printable ASCII an IRI may hold. Nearly every IRI is ASCII (str.isascii is a flag, free to
# read), and for ASCII text the same patterns written with this class alone match alike, about
# twice as fast: the engine tests such a class as a bitmap (tests/translator/test_syntax.py).
ASCII_IRI_CHARS: Final = frozenset(map(chr, range(0x21, 0x7F))) - frozenset('"<>[\\]^`{|}')
_ASCII_IRI_SHAPE, _ASCII_IRL_SHAPE = _iri_shapes(
    lambda excluded: "[" + "".join(map(re.escape, sorted(ASCII_IRI_CHARS - set(excluded)))) + "]"
)
# A "%" must start a percent-encoded octet (RFC 3987 pct-encoded).
_BARE_PERCENT: Final = re.compile(r"%(?![0-9A-Fa-f]{2})").search


def is_iri(value: str) -> bool:
    """An absolute IRI (RFC 3987), as the standards' ids and types must be."""
    shape = _ASCII_IRI_SHAPE if value.isascii() else _IRI_SHAPE
    return shape(value) is not None and ("%" not in value or _BARE_PERCENT(value) is None)


def is_irl(value: str) -> bool:
    """An IRI that can be fetched: `scheme://host...`."""
    shape = _ASCII_IRL_SHAPE if value.isascii() else _IRL_SHAPE
    return shape(value) is not None and ("%" not in value or _BARE_PERCENT(value) is None)


def is_real_datetime(text: str) -> bool:
    """A date and time that exists (not February 30, not 24:00), for text a target's pattern
    has already found of ISO 8601 shape."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


# The RFC 4122 variant's hex digit for each digit a digest may hold: its top two bits set to 10.
_VARIANT_DIGIT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid_of_digest(hex_digest: str, version: int) -> str:
    """The UUID text (what uuid.UUID prints) of a name-based or random UUID of `version` made
    from a digest's first 32 hex digits, without building a UUID object: the hot path makes
    one or two per event."""
    variant = _VARIANT_DIGIT[hex_digest[16]]
    head, mid, tail = hex_digest[:8], hex_digest[8:12], hex_digest[13:16]
    return f"{head}-{mid}-{version}{tail}-{variant}{hex_digest[17:20]}-{hex_digest[20:32]}"


# RFC 4122 in its canonical (lowercase) form, as tincan and conforming endpoints require.
UUID: Final = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-5][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
).fullmatch
_AMOUNT = r"[0-9]+(?:[.,][0-9]+)?"
# An ISO 8601 duration (`PT12.5S`, `P1DT2H`, `P3W`).
DURATION: Final = re.compile(
    rf"P(?!$)(?:{_AMOUNT}Y)?(?:{_AMOUNT}M)?(?:{_AMOUNT}D)?"
    rf"(?:T(?=[0-9])(?:{_AMOUNT}H)?(?:{_AMOUNT}M)?(?:{_AMOUNT}S)?)?|P{_AMOUNT}W"
).fullmatch

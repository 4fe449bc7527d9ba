"""The value syntaxes several standards share (IRIs, UUIDs, ISO 8601 durations), defined once."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["DURATION", "IRI", "IRL", "NOT_IRI", "UUID"]

# Characters RFC 3987 never allows in an IRI, whatever the component.
NOT_IRI: Final = r"\s<>\"{}|\\^`"
# An absolute IRI. Hierarchical IRIs must carry an authority (`scheme://host...`); the only other
# form accepted is a URN. This refuses a bare edX key such as `course-v1:edX+DemoX+Demo` (its
# "scheme" would be `course-v1`), the usual sign of a mapping that forgot the LMS root.
IRI: Final = re.compile(
    rf"(?:[A-Za-z][A-Za-z0-9+.\-]*://[^{NOT_IRI}/?#]|[Uu][Rr][Nn]:[A-Za-z0-9][A-Za-z0-9\-]{{0,31}}:"
    rf"[^{NOT_IRI}])[^{NOT_IRI}]*"
).fullmatch
# An IRL (moreInfo, homePage, fileUrl, openid): an IRI that can be fetched, so `scheme://host...`.
IRL: Final = re.compile(rf"[A-Za-z][A-Za-z0-9+.\-]*://[^{NOT_IRI}/?#][^{NOT_IRI}]*").fullmatch
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

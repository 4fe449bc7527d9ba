"""How messages name things: a value's JSON type (never the value itself), the closest known name.

Shared by the intake, the mapping compiler, the targets' checks and the CLI, so one mistake
reads the same wherever it is reported.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "json_kind"]


def json_kind(value: Any) -> str:
    """A value's JSON type with its article ("an object", "an array", ...), for "is X, not Y"
    messages that must not quote learner data."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__} (not JSON)"


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the known name closest to a mistyped one, or ""."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""

"""How messages name things: a value's JSON type (never the value itself), the closest known name.

Shared by the intake, the mapping compiler, the targets' checks and the CLI, so one mistake
reads the same wherever it is reported.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "json_kind", "printable", "printable_json"]

# What a terminal may act on rather than show: C0 controls and DEL (ESC starts a sequence that can
# recolour, retitle or rewrite the screen), C1 controls (U+009B is a CSI on many terminals), and
# the bidirectional controls that make a name read in another order (Trojan Source), with the
# line and paragraph separators.
_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNPRINTABLE = re.compile(f"[\x00-\x1f{_OTHERS}]")
_UNPRINTABLE_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHERS}]")  # keeps \t and \n
_NON_JSON_SAFE = re.compile(f"[{_OTHERS}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, lines: bool = False) -> str:
    """`text` with every control character a terminal could act on shown as an escape (`\\x1b`,
    `\\u202e`), for anything that came from a log or an endpoint and reaches stdout or stderr.
    With `lines`, newlines and tabs are kept (a message of several lines)."""
    pattern = _UNPRINTABLE_IN_LINES if lines else _UNPRINTABLE
    return pattern.sub(_escape, text)


def printable_json(text: str) -> str:
    """JSON text with the controls JSON may carry raw (DEL, C1, bidi) written as `\\uXXXX`: the
    same JSON value, safe on a terminal (orjson already escapes C0 controls)."""
    return _NON_JSON_SAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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

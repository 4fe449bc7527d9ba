"""Decoding: one line's JSON object, normalised from either event shape into one document."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import parse_qs

import orjson

from translator.errors import InputError
from translator.intake.lines import SourceLine
from translator.messages import json_kind
from translator.missing import MISSING

__all__ = ["decode_event", "normalise", "parse_line"]

# Fields a tracking log keeps at the top level and the event bus keeps in `context`.
_IDENTITY_KEYS: Final = (
    "username",
    "email",
    "referer",
    "page",
    "host",
    "ip",
    "agent",
    "accept_language",
    "session",
)


# --- decoding ----------------------------------------------------------------------------------

# orjson reads an integer beyond 64 bits as a float, so two learners whose ids differ only past
# the 17th digit would become one. A line holding a number of 19 digits or more is decoded again
# by the standard library, which keeps every integer exact. The test is one C-speed pass: digits
# become "0", what may precede a number's digits (":", ",", "[", a minus sign, blanks) becomes
# "[", anything else "x"; then one search for "[" and 19 zeros. Text such as "a-<19 digits>"
# inside a string matches too, and only costs that line the slower, still exact, decoding.
_NUMBER_SHAPE: Final = bytes(
    0x30 if 0x30 <= byte <= 0x39 else 0x5B if byte in b":,[- \t\r\n" else 0x78
    for byte in range(256)
)
_LONG_NUMBER: Final = b"[" + b"0" * 19


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _loads(text: bytes) -> Any:
    """orjson's decoding (and its errors), with integers beyond 64 bits kept exact."""
    value = orjson.loads(text)
    if _LONG_NUMBER in text.translate(_NUMBER_SHAPE):
        value = json.loads(text, parse_constant=_refuse_constant)
    return value


def _json_reason(exc: orjson.JSONDecodeError) -> str:
    if exc.msg.startswith("str is not valid UTF-8"):
        return "not valid UTF-8"
    return f"invalid JSON: {exc}"


def decode_event(text: bytes) -> dict[str, Any]:
    """Decode one line into its JSON object, ignoring any logger prefix before the first `{`.

    Raises InputError with a short reason ("empty line", "no JSON object on the line",
    "invalid JSON: ...", "not valid UTF-8", "JSON value is a list, not an object"); the reason
    never quotes the line, which may hold personal data.
    """
    start = text.find(b"{")
    if start == 0:
        try:
            # starts with "{": an object or an error (orjson inline: this is the hot path)
            value: dict[str, Any] = orjson.loads(text)
            if _LONG_NUMBER in text.translate(_NUMBER_SHAPE):
                value = json.loads(text, parse_constant=_refuse_constant)
        except orjson.JSONDecodeError as exc:
            raise InputError(_json_reason(exc)) from None
        return value
    if start < 0:
        if not text.strip():
            raise InputError("empty line")
        try:
            other = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InputError("no JSON object on the line") from None
        raise InputError(f"JSON value is {json_kind(other)}, not an object")
    # Something precedes the first "{": leading blanks, a logger prefix, or a list of objects.
    try:
        whole = _loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if isinstance(whole, dict):
            return whole
        raise InputError(f"JSON value is {json_kind(whole)}, not an object")
    try:
        value = _loads(text[start:])
    except orjson.JSONDecodeError as exc:
        raise InputError(_json_reason(exc)) from None
    return value


# --- normalising -------------------------------------------------------------------------------


def _event_member(value: Any, field: str) -> Any:
    """The event's own data: decoded once if JSON text, parsed if a query string.

    An object is the usual case. A JSON value that is not an object (`problem_graded` logs a
    list) is kept as it is: paths into it find nothing, so a mapping that needs its fields
    rejects the line, and an unmapped event is still counted as skipped, not rejected.
    """
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            decoded = orjson.loads(value)
            # rare: integers beyond 64 bits kept exact (the test of a line, on its bytes)
            if _LONG_NUMBER in value.encode("utf-8", "surrogatepass").translate(_NUMBER_SHAPE):
                decoded = json.loads(value, parse_constant=_refuse_constant)
        except orjson.JSONDecodeError as exc:
            start = value.lstrip()[:1]
            if not start:  # empty or blank: no data
                return {}
            if start in ("{", "["):
                raise InputError(f"'{field}' is not valid JSON: {exc}") from None
            # A browser event (problem_check, problem_save, ...) posts its form as a query string.
            return parse_qs(value, keep_blank_values=True)
        return {} if decoded is None else decoded
    return value


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring both input shapes (tracking log, event bus) to the one document mappings read.

    Returns a new dict holding `name`, `event_type`, `time`, `event_source`, `event` (always an
    object), `context` (always an object) and, where the event has them, `username`, `email`,
    `referer`, `page`, `host`, `ip`, `agent`, `accept_language`, `session` (top level first,
    then context).
    Nested values are shared with `raw`, never copied; `raw` is not changed.

    Raises InputError when the event has no name, or a field has a type no mapping can use.
    """
    out: dict[str, Any] = {}
    name = raw.get("name")
    if isinstance(name, str) and name:
        out["name"] = name
    event_type = raw.get("event_type")
    if isinstance(event_type, str) and event_type:
        out["event_type"] = event_type
    if not out:
        raise InputError("no event name: neither 'name' nor 'event_type'")

    context = raw.get("context")
    if context is None:
        context = {}
    elif not isinstance(context, dict):
        raise InputError(f"'context' is {json_kind(context)}, not an object")

    time = raw.get("time", MISSING)
    if time is MISSING and "timestamp" in raw:
        time = raw["timestamp"]
        if not isinstance(time, str):
            raise InputError(f"'timestamp' is {json_kind(time)}, not a string")
    if time is not MISSING:
        if not isinstance(time, str):
            raise InputError(f"'time' is {json_kind(time)}, not a string")
        out["time"] = time

    source = raw.get("event_source", MISSING)
    if source is MISSING:
        source = context.get("event_source", MISSING)
    if source is not MISSING:
        if not isinstance(source, str):
            raise InputError(f"'event_source' is {json_kind(source)}, not a string")
        out["event_source"] = source

    if "event" in raw:
        out["event"] = _event_member(raw["event"], "event")
    else:
        out["event"] = _event_member(raw.get("data"), "data")
    out["context"] = context

    for key in _IDENTITY_KEYS:
        if key in raw:
            out[key] = raw[key]
        elif key in context:
            out[key] = context[key]
    return out


def parse_line(line: SourceLine) -> dict[str, Any]:
    """Decode and normalise one line. Raises InputError with the reason the line is rejected."""
    if line.over_limit:
        raise InputError(f"line longer than {line.over_limit} bytes")
    if line.unusable:
        raise InputError(line.unusable)
    return normalise(decode_event(line.text))

"""The strict check of an xAPI statement: every rule of ours, then a lossless tincan round trip.

Slow and thorough (tests, `--strict`): tincan alone misses rules such as a missing verb or
`scaled` 1.5 (design §10), so it never replaces the fast checks of `checks`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson

from translator.errors import TranslationError
from translator.targets.xapi.checks import _DURATION_PARTS, _escape, _show, statement_problems

__all__ = ["strict_check"]


def strict_check(statement: dict[str, Any]) -> None:
    """Check thoroughly (--strict, tests): every rule of ours, then a lossless tincan round trip.

    tincan builds the statement, writes it, and the JSON read back must hold every field of the
    input with the same meaning; anything tincan refuses, drops, adds or changes is reported.
    Raises TranslationError naming every problem found.
    """
    problems = statement_problems(statement)
    if problems:
        raise TranslationError("invalid statement: " + "; ".join(problems))
    try:
        encoded = orjson.dumps(statement)
    except TypeError as error:
        raise TranslationError(f"invalid statement: not JSON-serialisable: {error}") from None
    # Two private copies: tincan rewrites the dicts it is given (objectType -> object_type).
    expected = orjson.loads(encoded)
    # Imported here: tincan is slow to import and the hot path never needs it.
    import tincan

    try:
        written = tincan.Statement(orjson.loads(encoded)).to_json()
    except Exception as error:
        # tincan refuses with assorted built-in exceptions (ValueError, TypeError,
        # AttributeError, ...); whichever it raises, it cannot represent this statement.
        reason = str(error).split("\n", 1)[0]
        raise TranslationError(
            f"tincan refused the statement: {type(error).__name__}: {reason}"
        ) from None
    changes: list[str] = []
    _compare(expected, json.loads(written), "", changes, extension=False)
    if changes:
        raise TranslationError("tincan round trip changed the statement: " + "; ".join(changes))


def _compare(ours: Any, theirs: Any, at: str, changes: list[str], *, extension: bool) -> None:
    """Report where tincan's output differs in meaning from ours.

    Tolerated, as the same meaning written differently: an int written as a float, a timestamp
    written with another offset notation or precision of the same instant, a duration re-written
    with the same length, a default objectType made explicit, an empty member list added to an
    identified Group, a lone context activity put in a list. Inside extensions nothing is
    tolerated (tincan must copy them verbatim) but one quirk: tincan's writer leaves out an
    extension whose value is null, which xAPI allows (any JSON value).
    """
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key, value in ours.items():
            key_at = f"{at}/{_escape(key)}"
            if key not in theirs:
                if not (value is None and at.endswith("/extensions")):
                    changes.append(f"{key_at}: tincan dropped it")
            else:
                _compare(
                    value, theirs[key], key_at, changes, extension=extension or key == "extensions"
                )
        for key in sorted(theirs.keys() - ours.keys()):
            added = theirs[key]
            if extension or not _same_without(ours, key, added):
                changes.append(f"{at}/{_escape(key)}: tincan added {_show(added)}")
        return
    if isinstance(ours, list) and isinstance(theirs, list):
        if len(ours) != len(theirs):
            changes.append(f"{at}: tincan changed {_show(ours)} to {_show(theirs)}")
            return
        for index, (mine, its) in enumerate(zip(ours, theirs, strict=True)):
            _compare(mine, its, f"{at}/{index}", changes, extension=extension)
        return
    if not extension and _same_meaning(ours, theirs, at):
        return
    if type(ours) is type(theirs) and ours == theirs:
        return
    changes.append(f"{at}: tincan changed {_show(ours)} to {_show(theirs)}")


def _same_without(ours: dict[str, Any], key: str, added: Any) -> bool:
    """True when tincan added a property whose value is what its absence already meant."""
    if key == "objectType":
        # Only Activities have an id among the objects whose objectType may be left out.
        return bool(added == ("Activity" if "id" in ours else "Agent"))
    return key == "member" and added == [] and ours.get("objectType") == "Group"


def _same_meaning(ours: Any, theirs: Any, at: str) -> bool:
    """The tolerated re-writings of _compare, outside extensions."""
    if isinstance(ours, dict) and isinstance(theirs, list):
        parent = at.rsplit("/", 2)
        if len(parent) == 3 and parent[1] == "contextActivities" and len(theirs) == 1:
            rest: list[str] = []
            _compare(ours, theirs[0], at, rest, extension=False)
            return not rest
        return False
    numbers = (int, float)
    if type(ours) in numbers and type(theirs) in numbers:
        return bool(ours == theirs)
    if not isinstance(ours, str) or not isinstance(theirs, str):
        return False
    key = at.rsplit("/", 1)[-1]
    if key in ("timestamp", "stored"):
        try:
            mine, its = datetime.fromisoformat(ours), datetime.fromisoformat(theirs)
        except ValueError:
            return False
        return mine == its and mine.utcoffset() == its.utcoffset()
    if key == "duration":
        seconds = _duration_seconds(ours)
        return seconds is not None and seconds == _duration_seconds(theirs)
    return False


def _duration_seconds(duration: str) -> float | None:
    """Length in seconds of a duration without years or months (those have no fixed length)."""
    parts = _DURATION_PARTS(duration.replace(",", "."))
    if parts is None:
        return None
    weeks, days, hours, minutes, seconds = (float(part or 0) for part in parts.groups())
    return round((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds, 6)

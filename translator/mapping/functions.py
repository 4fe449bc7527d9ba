"""The closed registry of pure built-in functions that `!call` may use."""

from __future__ import annotations

import csv
import hmac
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

from translator.errors import ConfigError
from translator.missing import MISSING
from translator.syntax import NOT_IRI

__all__ = ["FUNCTIONS", "FunctionContext", "FunctionSpec", "load_actor_map"]


@dataclass(frozen=True, slots=True)
class FunctionContext:
    """What a function may depend on besides its arguments: fixed for the whole run."""

    pseudonym_secret: bytes
    actor_map: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A built-in: how many arguments it takes, and how to bind it to a run's context."""

    min_args: int
    max_args: int
    bind: Callable[[FunctionContext], Callable[..., Any]]


def _plain(fn: Callable[..., Any]) -> Callable[[FunctionContext], Callable[..., Any]]:
    return lambda _ctx: fn


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _ratio(raw: Any, maximum: Any) -> Any:
    """raw / max; MISSING when no score in [0, max] is stated (a score xAPI cannot hold, such as
    a grade above its maximum: the mapping then keeps the raw figure alone)."""
    if not (_is_number(raw) and _is_number(maximum)) or maximum <= 0 or not 0 <= raw <= maximum:
        return MISSING
    return round(raw / maximum, 4)


def _percent(share: Any) -> Any:
    """A share in [0, 1] as a whole percentage (cmi5's progress); MISSING outside that range."""
    if not _is_number(share) or not 0 <= share <= 1:
        return MISSING
    return round(share * 100)


def _iso_duration(seconds: Any) -> Any:
    if not _is_number(seconds) or seconds < 0:
        return MISSING
    text = f"{round(float(seconds), 3):.3f}".rstrip("0").rstrip(".")
    return f"PT{text}S"


def _json(value: Any) -> Any:
    return orjson.dumps(value).decode()


def _to_str(value: Any) -> Any:
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return orjson.dumps(value).decode()
    return MISSING


def _to_int(value: Any) -> Any:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return MISSING
    return MISSING


def _to_float(value: Any) -> Any:
    if type(value) in (int, float):
        return float(value) if math.isfinite(value) else MISSING
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return MISSING
        return number if math.isfinite(number) else MISSING
    return MISSING


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _to_bool(value: Any) -> Any:
    if type(value) is bool:
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return MISSING


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else MISSING


def _join(items: Any, separator: Any = ",") -> Any:
    if not isinstance(items, list) or not isinstance(separator, str):
        return MISSING
    parts = [_to_str(i) for i in items]
    return separator.join(p for p in parts if p is not MISSING)


def _url_quote(value: Any) -> Any:
    text = _to_str(value)
    return MISSING if text is MISSING else quote(text, safe=":@+~-._")


# What an IRI can never hold (translator.syntax.NOT_IRI), and a "%" that starts no %XX.
_NOT_IRI = re.compile(rf"[{NOT_IRI}]|%(?![0-9A-Fa-f]{{2}})")


def _iri_escape(value: Any) -> Any:
    if not isinstance(value, str):
        return MISSING
    return _NOT_IRI.sub(lambda m: quote(m.group(0), safe="", errors="surrogatepass"), value)


_TIMESTAMP = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


def _timestamp(value: Any) -> Any:
    if not isinstance(value, str):
        return MISSING
    if value[10:11] == "T" and value[-6:-5] in ("+", "-") and value[-3:-2] == ":":
        return value  # already written with its offset, as edX writes it; checked as a statement
    match = _TIMESTAMP.fullmatch(value.strip())
    if match is None:
        return MISSING
    text = match.group(0).replace(" ", "T", 1)
    zone = match.group("zone")
    if zone is None:
        return text + "+00:00"
    if zone != "Z" and ":" not in zone:
        return f"{text[: -len(zone)]}{zone[:3]}:{zone[3:]}"
    return text


def _utc_time(value: Any) -> Any:
    """The instant in UTC with milliseconds (`2024-05-01T08:00:00.123Z`), as Caliper writes
    eventTime; a time without an offset is taken as UTC (edX logs UTC)."""
    text = _timestamp(value)
    if text is MISSING:
        return MISSING
    if text[-6:] == "+00:00" and len(text) >= 30 and text[19] == ".":
        return text[:23] + "Z"  # edX's own form, microseconds and +00:00: cut, nothing to shift
    try:
        moment = datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return MISSING
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _last_segment(value: Any, separator: Any) -> Any:
    if not isinstance(value, str) or not isinstance(separator, str) or not separator:
        return MISSING
    return value.rsplit(separator, 1)[-1]


def _not(value: Any) -> Any:
    return (not value) if type(value) is bool else MISSING


_ACTOR_CACHE_SIZE = 65_536  # learners remembered: about 10 MB at most


def _uuid4_text(digest: bytes) -> str:
    """The first 16 bytes of a digest as a version-4 UUID string (what uuid.UUID would print)."""
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _only(collection: Any) -> Any:
    if type(collection) is dict and len(collection) == 1:
        return next(iter(collection.values()))
    if type(collection) is list and len(collection) == 1:
        return collection[0]
    return MISSING


def _get(container: Any, key: Any) -> Any:
    if type(container) is dict and isinstance(key, str):
        return container.get(key, MISSING)
    if type(container) is list and type(key) is int and -len(container) <= key < len(container):
        return container[key]
    return MISSING


def _first_key(mapping: Any) -> Any:
    if type(mapping) is dict and mapping:
        return next(iter(mapping))
    return MISSING


def _split(text: Any, separator: Any, index: Any) -> Any:
    if not isinstance(text, str) or not isinstance(separator, str) or not separator:
        return MISSING
    if type(index) is not int:
        return MISSING
    parts = text.split(separator)
    return parts[index] if -len(parts) <= index < len(parts) else MISSING


def _after(text: Any, separator: Any) -> Any:
    if not isinstance(text, str) or not isinstance(separator, str) or not separator:
        return MISSING
    _head, found, tail = text.partition(separator)
    return tail if found else MISSING


def _nonempty(value: Any) -> Any:
    return MISSING if value is None or value == "" else value


def _bind_actor_id(ctx: FunctionContext) -> Callable[..., Any]:
    secret = ctx.pseudonym_secret
    known = ctx.actor_map
    cache: dict[int | str, str] = {}  # by the id as logged: 42 and "42" are one learner

    def actor_id(user_id: Any) -> Any:
        """The actor map's anonymous id, else a keyed pseudonym shaped as a UUID."""
        kind = type(user_id)
        if kind is not int and kind is not str:  # bool, float, null, objects: not a user id
            return MISSING
        found = cache.get(user_id)
        if found is not None:
            return found
        key = str(user_id).strip()
        if not key:
            return MISSING
        found = known.get(key)
        if found is None:
            found = _uuid4_text(hmac.digest(secret, key.encode(), "sha256"))
        if len(cache) >= _ACTOR_CACHE_SIZE:
            cache.clear()  # bounded: memory stays flat on a log of any number of learners
        cache[user_id] = found
        return found

    return actor_id


FUNCTIONS: Mapping[str, FunctionSpec] = {
    "actor_id": FunctionSpec(1, 1, _bind_actor_id),
    "ratio": FunctionSpec(2, 2, _plain(_ratio)),
    "percent": FunctionSpec(1, 1, _plain(_percent)),
    "iso_duration": FunctionSpec(1, 1, _plain(_iso_duration)),
    "json": FunctionSpec(1, 1, _plain(_json)),
    "str": FunctionSpec(1, 1, _plain(_to_str)),
    "int": FunctionSpec(1, 1, _plain(_to_int)),
    "float": FunctionSpec(1, 1, _plain(_to_float)),
    "bool": FunctionSpec(1, 1, _plain(_to_bool)),
    "lower": FunctionSpec(1, 1, _plain(_lower)),
    "join": FunctionSpec(1, 2, _plain(_join)),
    "url_quote": FunctionSpec(1, 1, _plain(_url_quote)),
    "iri_escape": FunctionSpec(1, 1, _plain(_iri_escape)),
    "timestamp": FunctionSpec(1, 1, _plain(_timestamp)),
    "utc_time": FunctionSpec(1, 1, _plain(_utc_time)),
    "last_segment": FunctionSpec(2, 2, _plain(_last_segment)),
    "not": FunctionSpec(1, 1, _plain(_not)),
    "only": FunctionSpec(1, 1, _plain(_only)),
    "get": FunctionSpec(2, 2, _plain(_get)),
    "first_key": FunctionSpec(1, 1, _plain(_first_key)),
    "split": FunctionSpec(3, 3, _plain(_split)),
    "after": FunctionSpec(2, 2, _plain(_after)),
    "nonempty": FunctionSpec(1, 1, _plain(_nonempty)),
}


def load_actor_map(path: Path) -> dict[str, str]:
    """Read a CSV of `user_id,anonymous_id` rows (a header is allowed), as the LMS exports it.

    Raises ConfigError naming the file and line of a malformed row.
    """
    mapping: dict[str, str] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for number, row in enumerate(csv.reader(handle), start=1):
                if not row or (number == 1 and not row[0].strip().isdigit()):
                    continue
                if len(row) < 2 or not row[0].strip() or not row[1].strip():
                    raise ConfigError(f"{path}:{number}: expected user_id,anonymous_id")
                mapping[row[0].strip()] = row[1].strip()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read actor map: {exc.strerror}") from None
    return mapping

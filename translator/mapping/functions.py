"""The closed registry of pure built-in functions that `!call` may use."""

from __future__ import annotations

import csv
import hmac
import json
import math
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, unquote

import orjson

from translator.errors import ConfigError, TranslationError
from translator.missing import MISSING
from translator.syntax import ASCII_IRI_CHARS, NOT_IRI, uuid_of_digest

__all__ = [
    "ACTOR_IDENTITIES",
    "FUNCTIONS",
    "NOT_IN_ACTOR_MAP",
    "ActorMap",
    "ActorMapCounts",
    "FunctionContext",
    "FunctionSpec",
    "load_actor_map",
    "load_course_names",
]

NOT_IN_ACTOR_MAP = "user not in the actor map"

# How `actor_id` names a learner (the setting actor_identity). `username` and `email` send
# personal data out of the service: an institution must choose them explicitly.
ACTOR_IDENTITIES = ("pseudonym", "actor-map", "user-id", "username", "email")


@dataclass(slots=True)
class ActorMapCounts:
    """How many actor ids the actor map gave (`hits`) and how many users it lacked (`misses`):
    one count per `actor_id` lookup, kept by the run's function context for its summary."""

    hits: int = 0
    misses: int = 0


@dataclass(frozen=True, slots=True)
class ActorMap:
    """An actor map as the LMS exports it: anonymous ids by user id and, when the export has a
    third column, by username (events that name their user by username only)."""

    by_user_id: Mapping[str, str]
    by_username: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FunctionContext:
    """What a function may depend on besides its arguments: fixed for the whole run.

    `actor_identity` (one of ACTOR_IDENTITIES) is how `actor_id` names a learner. `actor_map`
    gives the anonymous ids of learners; when it is used (`actor_identity` "actor-map", or
    `actor_map_given`: a map file was named) it is the whole truth, and a learner it does not
    hold rejects the event rather than get a pseudonym no dashboard knows; `actor_map_counts`
    counts its hits and misses. `course_names` is the course_id -> display name table of
    `--course-names`.
    """

    pseudonym_secret: bytes
    actor_map: Mapping[str, str]
    actor_map_given: bool = False
    actor_usernames: Mapping[str, str] = field(default_factory=dict)
    course_names: Mapping[str, str] = field(default_factory=dict)
    actor_identity: str = "pseudonym"
    actor_map_counts: ActorMapCounts = field(default_factory=ActorMapCounts)
    _bound: dict[str, Callable[..., Any]] = field(default_factory=dict, repr=False, compare=False)

    def function(self, name: str) -> Callable[..., Any]:
        """The built-in `name` bound to this context, once for every call site: a plan's
        mappings then share one binding, and so one cache (actor_id's pseudonyms: a learner's
        events of every kind hash the learner once)."""
        bound = self._bound.get(name)
        if bound is None:
            bound = self._bound[name] = FUNCTIONS[name].bind(self)
        return bound


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


# Text that needs no escaping (nearly all of it): printable ASCII an IRI may hold, no "%".
_CLEAN_ASCII = re.compile(
    "[" + "".join(map(re.escape, sorted(ASCII_IRI_CHARS - {"%"}))) + "]*"
).fullmatch


def _iri_escape(value: Any) -> Any:
    if not isinstance(value, str):
        return MISSING
    if value.isascii() and _CLEAN_ASCII(value) is not None:
        return value
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


def _replace(text: Any, old: Any, new: Any) -> Any:
    if not isinstance(text, str) or not isinstance(old, str) or not old:
        return MISSING
    if not isinstance(new, str):
        return MISSING
    return text.replace(old, new)


def _rstrip(text: Any, characters: Any) -> Any:
    if not isinstance(text, str) or not isinstance(characters, str):
        return MISSING
    return text.rstrip(characters)


def _nonempty(value: Any) -> Any:
    return MISSING if value is None or value == "" else value


def _personal_field(key: str, event: Any, field_name: str) -> str:
    """The `username` or `email` of the learner `key` from the event (`event`, the whole
    normalised event). The log names only its requester (context.user_id) that way, so another
    learner (the subject of a staff action) has none. Raises TranslationError with the reason."""
    if type(event) is not dict:
        raise TranslationError(
            f"actor_identity {field_name}: this mapping does not give actor_id the event"
        )
    context = event.get("context")
    requester = context.get("user_id", MISSING) if type(context) is dict else MISSING
    if type(requester) not in (int, str) or str(requester).strip() != key:
        raise TranslationError(
            f"actor_identity {field_name}: the event gives no {field_name} of this learner "
            "(only of the user who made the request)"
        )
    value = event.get(field_name, MISSING)
    if not isinstance(value, str) or not value.strip():
        raise TranslationError(f"actor_identity {field_name}: the event has no {field_name}")
    return value.strip()


def _bind_actor_id(ctx: FunctionContext) -> Callable[..., Any]:
    # The key's HMAC state, made once: each pseudonym then costs a copy and one message
    # (0.8 µs against hmac.digest's 1.3 µs, which sets the key up again every time).
    keyed = hmac.new(ctx.pseudonym_secret, digestmod="sha256")
    known = ctx.actor_map
    identity = ctx.actor_identity
    from_map = identity == "actor-map" or ctx.actor_map_given
    counts = ctx.actor_map_counts
    cache: dict[int | str, str] = {}  # by the id as logged: 42 and "42" are one learner

    if identity in ("username", "email"):
        field_name = identity

        def actor_id_personal(user_id: Any, event: Any = MISSING) -> Any:
            """The learner's username or email, read from the event (an opt-in of the
            institution: personal data leaves the service)."""
            kind = type(user_id)
            if kind is not int and kind is not str:
                return MISSING
            key = str(user_id).strip()
            if not key:
                return MISSING
            return _personal_field(key, event, field_name)

        return actor_id_personal

    def actor_id(user_id: Any, event: Any = MISSING) -> Any:
        """The learner's id as actor_identity says: the actor map's anonymous id, the edX user
        id, or (the default) a keyed pseudonym shaped as a UUID. `event` is read only by the
        username and email identities."""
        kind = type(user_id)
        if kind is not int and kind is not str:  # bool, float, null, objects: not a user id
            return MISSING
        found = cache.get(user_id)
        if found is not None:
            if from_map:
                counts.hits += 1
            return found
        key = str(user_id).strip()
        if not key:
            return MISSING
        if from_map:
            found = known.get(key)
            if found is None:  # a learner the map lacks is one no dashboard would know
                counts.misses += 1
                raise TranslationError(NOT_IN_ACTOR_MAP)
            counts.hits += 1
        elif identity == "user-id":
            found = key
        else:
            found = known.get(key)  # a table given in code (tests); never with a map file
            if found is None:
                digest = keyed.copy()
                digest.update(key.encode())
                found = uuid_of_digest(digest.hexdigest(), 4)
        if len(cache) >= _ACTOR_CACHE_SIZE:
            cache.clear()  # bounded: memory stays flat on a log of any number of learners
        cache[user_id] = found
        return found

    return actor_id


def _bind_actor_id_of_username(ctx: FunctionContext) -> Callable[..., Any]:
    known = ctx.actor_usernames
    counts = ctx.actor_map_counts

    def actor_id_of_username(username: Any) -> Any:
        """The actor map's anonymous id of a learner the event names by username only."""
        if not isinstance(username, str) or not username.strip():
            return MISSING
        found = known.get(username.strip())
        if found is None:  # never a pseudonym of a username: one learner would get two ids
            counts.misses += 1
            raise TranslationError(NOT_IN_ACTOR_MAP)
        counts.hits += 1
        return found

    return actor_id_of_username


def _bind_course_name(ctx: FunctionContext) -> Callable[..., Any]:
    names = ctx.course_names

    def course_name(course_id: Any) -> Any:
        """The display name of a course from the course names file; MISSING when not there."""
        return names.get(course_id, MISSING) if isinstance(course_id, str) else MISSING

    return course_name


def _py_json(value: Any) -> Any:
    """JSON text as Python's json.dumps writes it (`, ` and `: `; other than ASCII kept), the
    form ERB gives result.response."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return MISSING


def _py_repr(value: Any) -> Any:
    """Python's repr() of a JSON value (`{'a': ['b']}`), the text ERB writes for a submission
    it cannot read."""
    return repr(value)


def _url_unquote(value: Any) -> Any:
    return unquote(value) if isinstance(value, str) else MISSING


def _divide(dividend: Any, divisor: Any) -> Any:
    """dividend / divisor unrounded (ERB's score.scaled); MISSING unless both are numbers and
    the divisor is not 0."""
    if not (_is_number(dividend) and _is_number(divisor)) or divisor == 0:
        return MISSING
    return dividend / divisor


def _round(number: Any, places: Any) -> Any:
    """A number rounded to `places` decimal places, as a float: the text Python's format writes
    with that many places, read back (`194.40736`, 3 -> `194.407`; `195`, 3 -> `195.0`), as ERB
    writes a video's seconds. MISSING unless a finite number and 0 to 15 places."""
    if not _is_number(number) or type(places) is not int or not 0 <= places <= 15:
        return MISSING
    return float(f"{number:.{places}f}")


def _truthy(value: Any) -> Any:
    """The value when Python counts it true; MISSING for null, false, 0, "", [] and {}. First
    in a `!first`, it gives Python's `a or b` (ERB's `current_time or currentTime`)."""
    return value if value else MISSING


def _tincan_duration(seconds: Any) -> Any:
    """A number of seconds as the ISO 8601 duration TinCanPython (the xAPI library ERB writes
    with) makes of it: days, then hours and minutes of two digits once a larger unit is there,
    then seconds, whole ones of two digits, others to 6 places without trailing zeros (`195` ->
    `PT03M15S`, `0.5` -> `PT00.5S`, `3600` -> `PT01H00M00S`). MISSING unless a finite number
    not below 0."""
    if not _is_number(seconds) or seconds < 0:
        return MISSING
    try:
        total = timedelta(seconds=seconds).total_seconds()  # microseconds, as tincan keeps them
    except OverflowError:
        return MISSING
    minutes, rest = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    rest = round(rest, 6)
    date = f"{int(days)}D" if days else ""
    time = "T"
    if date or hours:
        time += f"{int(hours):02}H"
    if date or hours or minutes:
        time += f"{int(minutes):02}M"
    time += f"{int(rest):02}S" if rest.is_integer() else f"{rest:09.6f}".rstrip("0") + "S"
    return f"P{date}{time}"


def _isodate_duration(seconds: Any) -> Any:
    """A number of seconds as the ISO 8601 duration isodate (the library ERB's Caliper events
    are written with) makes of a timedelta: days, hours, minutes and seconds without padding,
    each left out when 0, seconds to the microsecond without trailing zeros, `P0D` for nothing
    (`195` -> `PT3M15S`, `194.381` -> `PT3M14.381S`, `86400` -> `P1D`, `0` -> `P0D`). MISSING
    unless a finite number not below 0."""
    if not _is_number(seconds) or seconds < 0:
        return MISSING
    try:
        delta = timedelta(seconds=seconds)  # rounded to the microsecond, as isodate's input is
    except OverflowError:
        return MISSING
    whole, micro = delta.days * 86400 + delta.seconds, delta.microseconds
    minutes, secs = divmod(whole, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    text = f"{days}D" if days else ""
    if hours or minutes or secs or micro:
        text += "T" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
        if micro:
            text += f"{secs}.{micro:06d}".rstrip("0") + "S"
        elif secs:
            text += f"{secs}S"
    return "P" + (text or "0D")


def _multiply(a: Any, b: Any) -> Any:
    """a * b unrounded, as Python multiplies (`0.333 * 100` is `33.300000000000004`, ERB's
    completion progress); MISSING unless both are numbers."""
    if not (_is_number(a) and _is_number(b)):
        return MISSING
    return a * b


def _at_least(a: Any, b: Any) -> Any:
    """Whether a >= b, a boolean (ERB's `earned >= possible`); MISSING unless both are
    numbers."""
    if not (_is_number(a) and _is_number(b)):
        return MISSING
    return a >= b


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _py_isoformat(value: Any) -> Any:
    """A timestamp as Python's datetime.isoformat writes the instant it reads (TinCanPython
    writes ERB's statement timestamps so): `Z` as `+00:00`, a fraction of a second as 6 digits,
    or none when it is 0, digits past the microsecond cut (`...07.5Z` gives
    `...07.500000+00:00`); a time without offset is taken as UTC. MISSING when unparsable."""
    text = _timestamp(value)
    if text is MISSING:
        return MISSING
    try:
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", text).replace("Z", "+00:00"))
    except ValueError:
        return MISSING
    return moment.isoformat()


def _reject(reason: Any) -> Any:
    """Never a value: the line is rejected with `reason`, a text the mapping writes (never an
    event value: a reason reaches the logs). Last in a `!first`, it makes the options before it
    a value the event cannot do without, as ERB's transform raises without it. Raises
    TranslationError."""
    raise TranslationError(reason if isinstance(reason, str) else "rejected by the mapping")


def _erb_statement_id(verb: Any, actor: Any, timestamp: Any, key: Any = MISSING) -> Any:
    """The statement id event-routing-backends gives a statement, so statements sent again
    dedupe against those it sent:

        uuid5(uuid5(NAMESPACE_DNS, verb_json [+ "-" + key]), actor_json + "-" + timestamp)

    verb_json and actor_json are tincan's `to_json()` text (json.dumps with its default
    separators) in tincan's key order: {"id", "display": {"en"}} and {"objectType": "Agent",
    "account": {"name", "homePage"}}; `timestamp` is the event's raw time; `key`, for the
    child statement of one question, is the submission key.
    """
    if type(verb) is not dict or type(actor) is not dict or not isinstance(timestamp, str):
        return MISSING
    account = actor.get("account")
    if type(account) is not dict or "name" not in account or "homePage" not in account:
        return MISSING
    verb_form: dict[str, Any] = {"id": verb.get("id")}
    if "display" in verb:
        verb_form["display"] = verb["display"]
    actor_form = {
        "objectType": actor.get("objectType", "Agent"),
        "account": {"name": account["name"], "homePage": account["homePage"]},
    }
    namespace = json.dumps(verb_form)
    if key is not MISSING:
        namespace += f"-{key}"
    outer = uuid.uuid5(uuid.NAMESPACE_DNS, namespace)
    return str(uuid.uuid5(outer, f"{json.dumps(actor_form)}-{timestamp}"))


FUNCTIONS: Mapping[str, FunctionSpec] = {
    "actor_id": FunctionSpec(1, 2, _bind_actor_id),
    "actor_id_of_username": FunctionSpec(1, 1, _bind_actor_id_of_username),
    "course_name": FunctionSpec(1, 1, _bind_course_name),
    "erb_statement_id": FunctionSpec(3, 4, _plain(_erb_statement_id)),
    "py_json": FunctionSpec(1, 1, _plain(_py_json)),
    "py_repr": FunctionSpec(1, 1, _plain(_py_repr)),
    "url_unquote": FunctionSpec(1, 1, _plain(_url_unquote)),
    "divide": FunctionSpec(2, 2, _plain(_divide)),
    "round": FunctionSpec(2, 2, _plain(_round)),
    "truthy": FunctionSpec(1, 1, _plain(_truthy)),
    "tincan_duration": FunctionSpec(1, 1, _plain(_tincan_duration)),
    "isodate_duration": FunctionSpec(1, 1, _plain(_isodate_duration)),
    "reject": FunctionSpec(1, 1, _plain(_reject)),
    "multiply": FunctionSpec(2, 2, _plain(_multiply)),
    "at_least": FunctionSpec(2, 2, _plain(_at_least)),
    "py_isoformat": FunctionSpec(1, 1, _plain(_py_isoformat)),
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
    "replace": FunctionSpec(3, 3, _plain(_replace)),
    "rstrip": FunctionSpec(2, 2, _plain(_rstrip)),
}


def _csv_rows(path: Path, what: str) -> list[tuple[int, list[str]]]:
    """The non-empty rows of a CSV file with their line numbers. Raises ConfigError."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return [
                (n, [c.strip() for c in row]) for n, row in enumerate(csv.reader(handle), 1) if row
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ConfigError(f"{path}: cannot read {what}: {reason}") from None


def load_actor_map(path: Path) -> ActorMap:
    """Read a CSV of `user_id,anonymous_id[,username]` rows (a header is allowed), as the LMS
    exports its external user ids (with the username when the export joins it).

    Raises ConfigError naming the file and line of a malformed row.
    """
    by_id: dict[str, str] = {}
    by_name: dict[str, str] = {}
    for number, row in _csv_rows(path, "actor map"):
        if number == 1 and not row[0].isdigit():
            continue
        if len(row) < 2 or not row[0] or not row[1]:
            raise ConfigError(f"{path}:{number}: expected user_id,anonymous_id[,username]")
        by_id[row[0]] = row[1]
        if len(row) > 2 and row[2]:
            by_name[row[2]] = row[1]
    return ActorMap(MappingProxyType(by_id), MappingProxyType(by_name))


def load_course_names(path: Path) -> Mapping[str, str]:
    """Read a CSV of `course_id,display_name` rows (a header `course_id,...` is allowed).

    Raises ConfigError naming the file and line of a malformed row.
    """
    names: dict[str, str] = {}
    for number, row in _csv_rows(path, "course names"):
        if number == 1 and row[0] == "course_id":
            continue
        if len(row) != 2 or not row[0]:
            raise ConfigError(
                f"{path}:{number}: expected course_id,display_name (quote a name with a comma)"
            )
        names[row[0]] = row[1]
    return MappingProxyType(names)

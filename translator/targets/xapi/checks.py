"""Check xAPI 1.0.3 statements: fast rules for every statement, and the rule of each place.

`check_statement` runs on every statement before it is emitted, so it is written for speed: direct
dict access, precompiled regexes, frozensets of allowed keys, and JSON pointers built only when a
rule fails. `statement_problems` is the same walk, returning every broken rule as
`/json/pointer: message`. `place` gives compiled templates the rule of each place an event value
can land in. The slow tincan round trip is in `strict`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson

from translator.errors import TranslationError
from translator.mapping.contract import ABSENT, ConstantAt, LeafRule, Place
from translator.messages import json_kind
from translator.syntax import DURATION, UUID, is_iri, is_irl, is_real_datetime
from translator.targets.target import BrokenRule

__all__ = [
    "RELAXABLE",
    "XAPI_VERSION",
    "check_statement",
    "place",
    "relaxed_rules",
    "score_ok",
    "statement_problems",
]

XAPI_VERSION: Final = "1.0.3"
_MAX_VALUE_DEPTH: Final = 32
"""How deeply an extension value may nest (an edX event rarely goes past 5): a learner's browser
can post a value nested hundreds of levels deep, which no JSON writer or LRS should be asked to
take (orjson refuses past 254 levels)."""

# "Absent" is not "null": a property set to null is a wrong type, not a missing property.
_MISSING: Final[Any] = object()
_INF: Final = float("inf")

# --- value syntax ---------------------------------------------------------------------------------
# IRIs, IRLs, UUIDs and durations: translator.syntax, shared with the other targets.
_iri_syntax: Final = is_iri
_irl_syntax: Final = is_irl
_UUID: Final = UUID
_MBOX: Final = re.compile(r"mailto:[^\s@<>\"]+@[^\s@<>\"]+").fullmatch
_SHA1: Final = re.compile(r"[0-9a-fA-F]{40}").fullmatch
_SHA2: Final = re.compile(
    r"[0-9a-fA-F]{56}(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{40}|[0-9a-fA-F]{72})?"
).fullmatch
# RFC 5646 langtag | privateuse | irregular grandfathered tags (the regular ones match langtag).
# A primary language subtag of 4 to 8 letters is reserved or for future registration (the IANA
# registry holds none), so it is refused: a key such as `english` is a mistake, not a language.
_LANGUAGE_TAG: Final = re.compile(
    r"(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+"
    r"|en-GB-oed|sgn-BE-FR|sgn-BE-NL|sgn-CH-DE"
    r"|i-(?:ami|bnn|default|enochian|hak|klingon|lux|mingo|navajo|pwn|tao|tay|tsu)"
).fullmatch
# ISO 8601 extended date-time WITH an offset; calendar validity is then checked by fromisoformat.
_TIMESTAMP: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
).fullmatch
_DURATION: Final = DURATION
_VERSION: Final = re.compile(r"1\.0\.[0-9]+").fullmatch
# strict_check only: the parts of a duration with a fixed length (no years, no months).
_DURATION_PARTS: Final = re.compile(
    r"P(?:([0-9.]+)W)?(?:([0-9.]+)D)?(?:T(?:([0-9.]+)H)?(?:([0-9.]+)M)?(?:([0-9.]+)S)?)?"
).fullmatch

# --- allowed properties ---------------------------------------------------------------------------
_STATEMENT_KEYS: Final = frozenset(
    {"id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
     "version", "attachments"}
)  # fmt: skip
_SUBSTATEMENT_KEYS: Final = frozenset(
    {"objectType", "actor", "verb", "object", "result", "context", "timestamp", "attachments"}
)
_NOT_IN_SUBSTATEMENT: Final = frozenset({"id", "stored", "version", "authority"})
_AGENT_KEYS: Final = frozenset({"objectType", "name", "mbox", "mbox_sha1sum", "openid", "account"})
_GROUP_KEYS: Final = _AGENT_KEYS | {"member"}
_ACCOUNT_KEYS: Final = frozenset({"homePage", "name"})
_VERB_KEYS: Final = frozenset({"id", "display"})
_ACTIVITY_KEYS: Final = frozenset({"objectType", "id", "definition"})
_DEFINITION_KEYS: Final = frozenset(
    {"name", "description", "type", "moreInfo", "interactionType", "correctResponsesPattern",
     "choices", "scale", "source", "target", "steps", "extensions"}
)  # fmt: skip
_COMPONENT_KEYS: Final = frozenset({"id", "description"})
# Which interactionType may carry which list of interaction components.
_COMPONENT_LISTS: Final[dict[str, frozenset[str]]] = {
    "choices": frozenset({"choice", "sequencing"}),
    "scale": frozenset({"likert"}),
    "source": frozenset({"matching"}),
    "target": frozenset({"matching"}),
    "steps": frozenset({"performance"}),
}
_INTERACTION_TYPES: Final = frozenset(
    {"true-false", "choice", "fill-in", "long-fill-in", "matching", "performance", "sequencing",
     "likert", "numeric", "other"}
)  # fmt: skip
_STATEMENT_REF_KEYS: Final = frozenset({"objectType", "id"})
_RESULT_KEYS: Final = frozenset(
    {"score", "success", "completion", "response", "duration", "extensions"}
)
_SCORE_KEYS: Final = frozenset({"scaled", "raw", "min", "max"})
_CONTEXT_KEYS: Final = frozenset(
    {"registration", "instructor", "team", "contextActivities", "revision", "platform",
     "language", "statement", "extensions"}
)  # fmt: skip
_CONTEXT_ACTIVITIES_KEYS: Final = frozenset({"parent", "grouping", "category", "other"})
_ATTACHMENT_KEYS: Final = frozenset(
    {"usageType", "display", "description", "contentType", "length", "sha2", "fileUrl"}
)
_IDENTIFIERS: Final = "mbox, mbox_sha1sum, openid, account"
# Properties seldom set: one isdisjoint() test skips all their look-ups when none is present.
_RARE_DEFINITION_KEYS: Final = _DEFINITION_KEYS - {
    "name", "description", "type", "extensions", "interactionType"
}  # fmt: skip
_RARE_CONTEXT_KEYS: Final = _CONTEXT_KEYS - {"contextActivities", "extensions", "registration"}


# --- memo of proven strings -----------------------------------------------------------------------
# The same IRIs and language tags recur in statement after statement (verbs, activity types,
# extension keys, the course); a set lookup costs a tenth of a regex match. Only strings that
# matched are kept, and a full set is emptied rather than grown, so memory stays bounded.
_MEMO_LIMIT: Final = 8192
_valid_iris: set[str] = set()
_valid_irls: set[str] = set()
_valid_tags: set[str] = set()


def _learn(value: str, syntax: Callable[[str], object], memo: set[str]) -> bool:
    """True when value matches syntax, remembering it in memo for the next statement."""
    found = syntax(value)
    if found is None or found is False:
        return False
    if len(memo) >= _MEMO_LIMIT:
        memo.clear()
    memo.add(value)
    return True


# --- relaxable rules ------------------------------------------------------------------------------
# The rules an overlay may name in its `relax:` section, for its own plan only, to reproduce
# another translator's output that breaks them (ERB's, in the erb-compat overlay). Every other
# rule holds for every plan. A broken relaxable rule writes its message as a BrokenRule, which
# carries the rule's id, so a relaxed check can leave exactly those messages out.
SCORE_RANGE: Final = "score-min-less-than-max"
GROUP_ACTIVITY: Final = "group-activity"
EMPTY_TEXT: Final = "non-empty-text"
ACTIVITY_ID: Final = "activity-id"
ACTIVITY_IRI: Final = "activity-iri"
RELAXABLE: Final[dict[str, str]] = {
    SCORE_RANGE: "a Score's min is less than its max (xAPI 1.0.3 §4.1.5.1)",
    GROUP_ACTIVITY: 'an Activity (an object or a context activity) has objectType "Activity"; '
    'relaxed, "GroupActivity" is let through and checked as an Activity',
    EMPTY_TEXT: "a text value outside extensions is not empty (an LRS such as ralph refuses one)",
    ACTIVITY_ID: "an Activity has an id (xAPI 1.0.3 Part Two §2.4.4.1); relaxed, the statement's "
    "object may be an Activity without one (a conformant LRS refuses it); an id that "
    "is there, and the id of every other Activity, is still checked",
    ACTIVITY_IRI: "an Activity's id is an absolute IRI (xAPI 1.0.3 Part Two §2.4.4.1); relaxed, an "
    "Activity's id may be any text that is not empty (a conformant LRS refuses it); a missing "
    "id, an empty one or one that is not text is still refused",
}


# --- messages (built only when a rule fails) ------------------------------------------------------
def _show(value: Any) -> str:
    """Quote a value as JSON, cut short so a message never carries a large payload."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _escape(key: Any) -> str:
    """Escape a property name as a JSON pointer token (RFC 6901); extension keys contain '/'."""
    return str(key).replace("~", "~0").replace("/", "~1")


def _unknown(
    obj: dict[str, Any], allowed: frozenset[str], at: str, what: str, out: list[str]
) -> None:
    for key in obj:
        if key not in allowed:
            out.append(f"{at}/{_escape(key)}: is not a property of {what}")


def _wrong(value: Any, expected: str, at: str, out: list[str]) -> None:
    out.append(f"{at}: must be {expected}, not {json_kind(value)}")


# --- checkers -------------------------------------------------------------------------------------
# Pointers cost time to build, so they are built only for a message. A checker of an object that
# can sit at many places (an Agent, an Activity) takes `at`, the pointer of the object itself. A
# checker of a value with one fixed place below such an object (a Verb's display, an Activity's
# definition/name) takes that object's `at` and its fixed relative path `key`, and writes
# f"{at}/{key}" only into a message. So a valid statement builds one pointer per list element.


def _string(value: Any, at: str, key: str, out: list[str]) -> None:
    """A string, not empty: outside extensions an LRS such as ralph refuses an empty value."""
    if not isinstance(value, str):
        _wrong(value, "a string", f"{at}/{key}", out)
    elif not value:
        out.append(BrokenRule(EMPTY_TEXT, f"{at}/{key}: must not be empty"))


def _boolean(value: Any, at: str, key: str, out: list[str]) -> None:
    if value is not True and value is not False:
        _wrong(value, "a boolean", f"{at}/{key}", out)


def _number(value: Any, at: str, key: str, out: list[str]) -> bool:
    """True when value is a finite JSON number (a bool is not one; orjson writes NaN as null)."""
    if (type(value) is int or type(value) is float) and -_INF < value < _INF:
        return True
    if type(value) is float:
        out.append(f"{at}/{key}: {value!r} is not a finite number")
    else:
        _wrong(value, "a number", f"{at}/{key}", out)
    return False


def _iri(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "an IRI string", f"{at}/{key}", out)
    elif value not in _valid_iris and not _learn(value, _iri_syntax, _valid_iris):
        out.append(f"{at}/{key}: {_show(value)} is not an absolute IRI")


def _irl(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "an IRL string", f"{at}/{key}", out)
    elif value not in _valid_irls and not _learn(value, _irl_syntax, _valid_irls):
        out.append(f"{at}/{key}: {_show(value)} is not an absolute IRL (scheme://...)")


def _uuid(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "a UUID string", f"{at}/{key}", out)
    elif _UUID(value) is None:
        out.append(f"{at}/{key}: {_show(value)} is not a UUID (RFC 4122, lowercase 8-4-4-4-12 hex)")


def _language(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "a language tag string", f"{at}/{key}", out)
    elif value not in _valid_tags and not _learn(value, _LANGUAGE_TAG, _valid_tags):
        out.append(f"{at}/{key}: {_show(value)} is not an RFC 5646 language tag")


def _timestamp(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "an ISO 8601 date-time string", f"{at}/{key}", out)
    elif _TIMESTAMP(value) is None:
        out.append(
            f"{at}/{key}: {_show(value)} is not an ISO 8601 date-time with a time zone offset"
            " (Z or +hh:mm)"
        )
    elif value.endswith("-00:00"):
        out.append(f"{at}/{key}: {_show(value)} has the offset -00:00, which xAPI forbids")
    elif not is_real_datetime(value):
        out.append(f"{at}/{key}: {_show(value)} is not a real date and time")


def _duration(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, str):
        _wrong(value, "an ISO 8601 duration string", f"{at}/{key}", out)
    elif _DURATION(value) is None:
        out.append(f"{at}/{key}: {_show(value)} is not an ISO 8601 duration")


def _language_map(value: Any, at: str, key: str, out: list[str]) -> None:
    if not isinstance(value, dict):
        _wrong(value, "a language map object", f"{at}/{key}", out)
        return
    for tag, text in value.items():
        if tag not in _valid_tags and (
            not isinstance(tag, str) or not _learn(tag, _LANGUAGE_TAG, _valid_tags)
        ):
            out.append(
                f"{at}/{key}/{_escape(tag)}: key {_show(tag)} is not an RFC 5646 language tag"
            )
        if not isinstance(text, str):
            _wrong(text, "a string", f"{at}/{key}/{_escape(tag)}", out)
        elif not text:
            out.append(BrokenRule(EMPTY_TEXT, f"{at}/{key}/{_escape(tag)}: must not be empty"))


_INT_LOW: Final = -(1 << 63)
_INT_HIGH: Final = (1 << 64) - 1


def _json_ok(value: Any, depth: int) -> bool:
    """`value` is JSON every writer and LRS takes: finite numbers, 64-bit integers, string keys,
    at most `depth` more levels of nesting."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT_LOW <= value <= _INT_HIGH)
    if kind is float:
        return bool(-_INF < value < _INF)
    if depth <= 0:
        return False
    if kind is dict:
        return all(type(k) is str and _json_ok(v, depth - 1) for k, v in value.items())
    if kind is list:
        return all(_json_ok(v, depth - 1) for v in value)
    return False


def _depth(value: Any, limit: int) -> int:
    """How deeply `value` nests, counted up to `limit + 1`."""
    if limit < 0 or type(value) not in (dict, list):
        return 0
    items = value.values() if type(value) is dict else value
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def _json_value_problem(value: Any) -> str | None:
    """Why an event value may not go into an extension as it is, or None when it may."""
    if _json_ok(value, _MAX_VALUE_DEPTH):
        return None
    if _depth(value, _MAX_VALUE_DEPTH) > _MAX_VALUE_DEPTH:
        return f"nested deeper than {_MAX_VALUE_DEPTH} levels"
    return (
        "holds what no JSON writer takes (a non-finite number, an integer beyond 64 bits, a set...)"
    )


def _json_rule(value: Any) -> bool:
    return type(value) is str or _json_ok(value, _MAX_VALUE_DEPTH)  # most values are text


def _extensions(value: Any, at: str, key: str, out: list[str]) -> None:
    """Extension keys are IRIs; their values may be any JSON a writer and an LRS can take."""
    if not isinstance(value, dict):
        _wrong(value, "an extensions object", f"{at}/{key}", out)
        return
    for name, item in value.items():
        if name not in _valid_iris and (
            not isinstance(name, str) or not _learn(name, _iri_syntax, _valid_iris)
        ):
            out.append(f"{at}/{key}/{_escape(name)}: key {_show(name)} is not an absolute IRI")
        if type(item) is not str and not _json_ok(item, _MAX_VALUE_DEPTH):
            out.append(f"{at}/{key}/{_escape(name)}: {_json_value_problem(item)}")


# --- agents and groups ----------------------------------------------------------------------------
def _identifiers(actor: dict[str, Any], at: str, out: list[str]) -> int:
    """Check each inverse functional identifier present and return how many there are."""
    count = 0
    value = actor.get("account", _MISSING)
    if value is not _MISSING:
        count += 1
        _account(value, at, out)
    value = actor.get("mbox", _MISSING)
    if value is not _MISSING:
        count += 1
        if not isinstance(value, str):
            _wrong(value, "a string", f"{at}/mbox", out)
        elif _MBOX(value) is None:
            out.append(f'{at}/mbox: {_show(value)} is not a "mailto:" IRI')
    value = actor.get("mbox_sha1sum", _MISSING)
    if value is not _MISSING:
        count += 1
        if not isinstance(value, str):
            _wrong(value, "a string", f"{at}/mbox_sha1sum", out)
        elif _SHA1(value) is None:
            out.append(f"{at}/mbox_sha1sum: {_show(value)} is not a SHA-1 hash (40 hex digits)")
    value = actor.get("openid", _MISSING)
    if value is not _MISSING:
        count += 1
        _irl(value, at, "openid", out)
    return count


def _account(account: Any, at: str, out: list[str]) -> None:
    """The Agent's (at) account: homePage IRL and name, both required."""
    if not isinstance(account, dict):
        _wrong(account, "an Account object", f"{at}/account", out)
        return
    if not _ACCOUNT_KEYS.issuperset(account):
        _unknown(account, _ACCOUNT_KEYS, f"{at}/account", "an Account", out)
    home = account.get("homePage", _MISSING)
    if home is _MISSING:
        out.append(f"{at}/account/homePage: is required")
    else:
        _irl(home, at, "account/homePage", out)
    name = account.get("name", _MISSING)
    if name is _MISSING:
        out.append(f"{at}/account/name: is required")
    else:
        _string(name, at, "account/name", out)


def _agent(agent: dict[str, Any], at: str, out: list[str]) -> None:
    """An Agent: objectType "Agent" or absent, and exactly one identifier."""
    if not _AGENT_KEYS.issuperset(agent):
        _unknown(agent, _AGENT_KEYS, at, "an Agent", out)
    count = _identifiers(agent, at, out)
    if count != 1:
        out.append(f"{at}: an Agent must have exactly one of {_IDENTIFIERS}; it has {count}")
    name = agent.get("name", _MISSING)
    if name is not _MISSING:
        _string(name, at, "name", out)


def _group(group: dict[str, Any], at: str, out: list[str]) -> None:
    """A Group: identified (one identifier) or anonymous (no identifier and a list of members)."""
    if not _GROUP_KEYS.issuperset(group):
        _unknown(group, _GROUP_KEYS, at, "a Group", out)
    count = _identifiers(group, at, out)
    members = group.get("member", _MISSING)
    if members is not _MISSING:
        if isinstance(members, list):
            for index, member in enumerate(members):
                member_at = f"{at}/member/{index}"
                if not isinstance(member, dict):
                    _wrong(member, "an Agent object", member_at, out)
                elif member.get("objectType", "Agent") != "Agent":
                    out.append(f"{member_at}/objectType: a Group's member must be an Agent")
                else:
                    _agent(member, member_at, out)
        else:
            _wrong(members, "an array of Agents", f"{at}/member", out)
    if count > 1:
        out.append(f"{at}: a Group must have at most one of {_IDENTIFIERS}; it has {count}")
    elif count == 0 and (members is _MISSING or members == []):
        out.append(f"{at}/member: an anonymous Group (no {_IDENTIFIERS}) must list its members")
    name = group.get("name", _MISSING)
    if name is not _MISSING:
        _string(name, at, "name", out)


def _actor(actor: Any, at: str, out: list[str]) -> None:
    """An Agent or a Group, told apart by objectType ("Agent" when absent)."""
    if not isinstance(actor, dict):
        _wrong(actor, "an Agent or Group object", at, out)
        return
    kind = actor.get("objectType", "Agent")
    if kind == "Agent":
        _agent(actor, at, out)
    elif kind == "Group":
        _group(actor, at, out)
    else:
        out.append(f'{at}/objectType: {_show(kind)} is not "Agent" or "Group"')


# --- verb, activities, objects --------------------------------------------------------------------
def _verb(verb: Any, at: str, out: list[str]) -> None:
    if not isinstance(verb, dict):
        _wrong(verb, "a Verb object", at, out)
        return
    if not _VERB_KEYS.issuperset(verb):
        _unknown(verb, _VERB_KEYS, at, "a Verb", out)
    verb_id = verb.get("id", _MISSING)
    if verb_id is _MISSING:
        out.append(f"{at}/id: is required")
    else:
        _iri(verb_id, at, "id", out)
    display = verb.get("display", _MISSING)
    if display is not _MISSING:
        _language_map(display, at, "display", out)


def _activity(activity: Any, at: str, out: list[str], *, statement_object: bool = False) -> None:
    """An Activity at `at`; `statement_object` when it is the statement's own object (not a
    SubStatement's, not a context activity), the one place a missing id is relaxable."""
    if not isinstance(activity, dict):
        _wrong(activity, "an Activity object", at, out)
        return
    if not _ACTIVITY_KEYS.issuperset(activity):
        _unknown(activity, _ACTIVITY_KEYS, at, "an Activity", out)
    kind = activity.get("objectType", "Activity")
    if kind != "Activity":
        message = f'{at}/objectType: {_show(kind)} is not "Activity"'
        out.append(BrokenRule(GROUP_ACTIVITY, message) if kind == "GroupActivity" else message)
    activity_id = activity.get("id", _MISSING)
    if activity_id is _MISSING:
        message = f"{at}/id: is required"
        out.append(BrokenRule(ACTIVITY_ID, message) if statement_object else message)
    else:
        count = len(out)
        _iri(activity_id, at, "id", out)
        if len(out) > count and type(activity_id) is str and activity_id:
            out[count] = BrokenRule(ACTIVITY_IRI, out[count])
    definition = activity.get("definition", _MISSING)
    if definition is not _MISSING:
        _definition(definition, at, out)


def _definition(definition: Any, at: str, out: list[str]) -> None:
    """The Activity's (at) definition."""
    if not isinstance(definition, dict):
        _wrong(definition, "an Activity Definition object", f"{at}/definition", out)
        return
    if not _DEFINITION_KEYS.issuperset(definition):
        _unknown(definition, _DEFINITION_KEYS, f"{at}/definition", "an Activity Definition", out)
    value = definition.get("name", _MISSING)
    if value is not _MISSING:
        _language_map(value, at, "definition/name", out)
    value = definition.get("description", _MISSING)
    if value is not _MISSING:
        _language_map(value, at, "definition/description", out)
    value = definition.get("type", _MISSING)
    if value is not _MISSING:
        _iri(value, at, "definition/type", out)
    value = definition.get("extensions", _MISSING)
    if value is not _MISSING:
        _extensions(value, at, "definition/extensions", out)
    interaction = definition.get("interactionType", _MISSING)
    if interaction is not _MISSING and (
        not isinstance(interaction, str) or interaction not in _INTERACTION_TYPES
    ):
        out.append(
            f"{at}/definition/interactionType: {_show(interaction)}"
            " is not an xAPI 1.0.3 interaction type"
        )
    if not _RARE_DEFINITION_KEYS.isdisjoint(definition):
        _interaction(definition, interaction, at, out)


def _interaction(definition: dict[str, Any], interaction: Any, at: str, out: list[str]) -> None:
    """moreInfo and the interaction details of the Activity's (at) definition."""
    value = definition.get("moreInfo", _MISSING)
    if value is not _MISSING:
        _irl(value, at, "definition/moreInfo", out)
    value = definition.get("correctResponsesPattern", _MISSING)
    if value is not _MISSING:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            out.append(f"{at}/definition/correctResponsesPattern: must be an array of strings")
        if interaction is _MISSING:
            out.append(
                f"{at}/definition/correctResponsesPattern: is only allowed with an interactionType"
            )
    for key, types in _COMPONENT_LISTS.items():
        value = definition.get(key, _MISSING)
        if value is not _MISSING:
            _components(value, f"{at}/definition/{key}", out)
            if not isinstance(interaction, str) or interaction not in types:
                allowed = " or ".join(f'"{name}"' for name in sorted(types))
                out.append(
                    f"{at}/definition/{key}: is only allowed when interactionType is {allowed}"
                )


def _components(components: Any, at: str, out: list[str]) -> None:
    """A list of interaction components: {id, description}, ids distinct within the list."""
    if not isinstance(components, list):
        _wrong(components, "an array of interaction components", at, out)
        return
    seen: set[str] = set()
    for index, component in enumerate(components):
        item_at = f"{at}/{index}"
        if not isinstance(component, dict):
            _wrong(component, "an interaction component object", item_at, out)
            continue
        if not _COMPONENT_KEYS.issuperset(component):
            _unknown(component, _COMPONENT_KEYS, item_at, "an interaction component", out)
        component_id = component.get("id", _MISSING)
        if component_id is _MISSING:
            out.append(f"{item_at}/id: is required")
        elif not isinstance(component_id, str):
            _wrong(component_id, "a string", f"{item_at}/id", out)
        elif component_id in seen:
            out.append(f"{item_at}/id: {_show(component_id)} is not distinct within the list")
        else:
            seen.add(component_id)
        description = component.get("description", _MISSING)
        if description is not _MISSING:
            _language_map(description, item_at, "description", out)


def _statement_ref(ref: Any, at: str, out: list[str]) -> None:
    if not isinstance(ref, dict):
        _wrong(ref, "a StatementRef object", at, out)
        return
    if not _STATEMENT_REF_KEYS.issuperset(ref):
        _unknown(ref, _STATEMENT_REF_KEYS, at, "a StatementRef", out)
    kind = ref.get("objectType", _MISSING)
    if kind is _MISSING:
        out.append(f'{at}/objectType: is required and must be "StatementRef"')
    elif kind != "StatementRef":
        out.append(f'{at}/objectType: {_show(kind)} is not "StatementRef"')
    ref_id = ref.get("id", _MISSING)
    if ref_id is _MISSING:
        out.append(f"{at}/id: is required")
    else:
        _uuid(ref_id, at, "id", out)


_KINDS: Final = ' "Activity", "Agent", "Group", "StatementRef", "SubStatement"'


def _object(obj: Any, at: str, out: list[str], *, in_substatement: bool) -> None:
    """The statement's object, told apart by objectType ("Activity" when absent)."""
    if not isinstance(obj, dict):
        _wrong(obj, "an object", at, out)
        return
    kind = obj.get("objectType", "Activity")
    if kind == "Activity":
        _activity(obj, at, out, statement_object=not in_substatement)
    elif kind == "Agent":
        _agent(obj, at, out)
    elif kind == "Group":
        _group(obj, at, out)
    elif kind == "StatementRef":
        _statement_ref(obj, at, out)
    elif kind == "GroupActivity":  # not xAPI: ERB's objectType of a multi-question problem
        message = f"{at}/objectType: {_show(kind)} is not one of{_KINDS}"
        out.append(BrokenRule(GROUP_ACTIVITY, message))
        inner: list[str] = []  # the rest of it is checked as an Activity's
        _activity(obj, at, inner, statement_object=not in_substatement)
        out.extend(p for p in inner if not (type(p) is BrokenRule and p.rule == GROUP_ACTIVITY))
    elif kind == "SubStatement":
        if in_substatement:
            out.append(f"{at}/objectType: a SubStatement cannot contain a SubStatement")
        else:
            _substatement(obj, at, out)
    else:
        out.append(f"{at}/objectType: {_show(kind)} is not one of{_KINDS}")


# --- result, context, attachments -----------------------------------------------------------------
def _result(result: Any, at: str, out: list[str]) -> None:
    if not isinstance(result, dict):
        _wrong(result, "a Result object", at, out)
        return
    if not _RESULT_KEYS.issuperset(result):
        _unknown(result, _RESULT_KEYS, at, "a Result", out)
    value = result.get("score", _MISSING)
    if value is not _MISSING:
        _score(value, at, out)
    value = result.get("success", _MISSING)
    if value is not _MISSING:
        _boolean(value, at, "success", out)
    value = result.get("completion", _MISSING)
    if value is not _MISSING:
        _boolean(value, at, "completion", out)
    value = result.get("response", _MISSING)
    if value is not _MISSING:
        _string(value, at, "response", out)
    value = result.get("duration", _MISSING)
    if value is not _MISSING:
        _duration(value, at, "duration", out)
    value = result.get("extensions", _MISSING)
    if value is not _MISSING:
        _extensions(value, at, "extensions", out)


def _score(score: Any, at: str, out: list[str]) -> None:
    """The Result's (at) score: scaled in [-1, 1], min < max, min <= raw <= max.

    tincan checks none of these (design §10).
    """
    if not isinstance(score, dict):
        _wrong(score, "a Score object", f"{at}/score", out)
        return
    if not _SCORE_KEYS.issuperset(score):
        _unknown(score, _SCORE_KEYS, f"{at}/score", "a Score", out)
    scaled = score.get("scaled", _MISSING)
    if (
        scaled is not _MISSING
        and _number(scaled, at, "score/scaled", out)
        and not -1 <= scaled <= 1
    ):
        out.append(f"{at}/score/scaled: {_show(scaled)} is outside [-1, 1]")
    raw = score.get("raw", _MISSING)
    has_raw = raw is not _MISSING and _number(raw, at, "score/raw", out)
    low = score.get("min", _MISSING)
    has_low = low is not _MISSING and _number(low, at, "score/min", out)
    high = score.get("max", _MISSING)
    has_high = high is not _MISSING and _number(high, at, "score/max", out)
    if has_low and has_high and not low < high:
        message = f"{at}/score/min: {_show(low)} is not less than max {_show(high)}"
        out.append(BrokenRule(SCORE_RANGE, message) if low == high else message)
    if has_raw:
        if has_low and raw < low:
            out.append(f"{at}/score/raw: {_show(raw)} is less than min {_show(low)}")
        if has_high and raw > high:
            out.append(f"{at}/score/raw: {_show(raw)} is greater than max {_show(high)}")


def _context(context: Any, at: str, out: list[str], *, object_is_activity: bool) -> None:
    if not isinstance(context, dict):
        _wrong(context, "a Context object", at, out)
        return
    if not _CONTEXT_KEYS.issuperset(context):
        _unknown(context, _CONTEXT_KEYS, at, "a Context", out)
    value = context.get("contextActivities", _MISSING)
    if value is not _MISSING:
        _context_activities(value, at, out)
    value = context.get("extensions", _MISSING)
    if value is not _MISSING:
        _extensions(value, at, "extensions", out)
    value = context.get("registration", _MISSING)
    if value is not _MISSING:
        _uuid(value, at, "registration", out)
    if not _RARE_CONTEXT_KEYS.isdisjoint(context):
        _context_details(context, at, out, object_is_activity=object_is_activity)


def _context_details(
    context: dict[str, Any], at: str, out: list[str], *, object_is_activity: bool
) -> None:
    """The Context's (at) less common properties: instructor, team, revision, platform, ..."""
    value = context.get("instructor", _MISSING)
    if value is not _MISSING:
        _actor(value, f"{at}/instructor", out)
    value = context.get("team", _MISSING)
    if value is not _MISSING:
        if not isinstance(value, dict):
            _wrong(value, "a Group object", f"{at}/team", out)
        elif value.get("objectType", _MISSING) != "Group":
            out.append(f'{at}/team/objectType: a team must be a Group (objectType "Group")')
        else:
            _group(value, f"{at}/team", out)
    for key in ("revision", "platform"):
        value = context.get(key, _MISSING)
        if value is not _MISSING:
            _string(value, at, key, out)
            if not object_is_activity:
                out.append(f"{at}/{key}: is only allowed when the object is an Activity")
    value = context.get("language", _MISSING)
    if value is not _MISSING:
        _language(value, at, "language", out)
    value = context.get("statement", _MISSING)
    if value is not _MISSING:
        _statement_ref(value, f"{at}/statement", out)


def _context_activities(activities: Any, at: str, out: list[str]) -> None:
    """The Context's (at) contextActivities: parent, grouping, category, other.

    Each is an Activity or an array of Activities.
    """
    if not isinstance(activities, dict):
        _wrong(activities, "a ContextActivities object", f"{at}/contextActivities", out)
        return
    for key, value in activities.items():
        if key not in _CONTEXT_ACTIVITIES_KEYS:
            out.append(
                f"{at}/contextActivities/{_escape(key)}: is not a property of a ContextActivities"
            )
        elif isinstance(value, list):
            for index, activity in enumerate(value):
                _activity(activity, f"{at}/contextActivities/{key}/{index}", out)
        elif isinstance(value, dict):
            _activity(value, f"{at}/contextActivities/{key}", out)
        else:
            _wrong(
                value,
                "an Activity or an array of Activities",
                f"{at}/contextActivities/{key}",
                out,
            )


def _attachments(attachments: Any, at: str, out: list[str]) -> None:
    if not isinstance(attachments, list):
        _wrong(attachments, "an array of Attachments", at, out)
        return
    for index, attachment in enumerate(attachments):
        item_at = f"{at}/{index}"
        if not isinstance(attachment, dict):
            _wrong(attachment, "an Attachment object", item_at, out)
            continue
        if not _ATTACHMENT_KEYS.issuperset(attachment):
            _unknown(attachment, _ATTACHMENT_KEYS, item_at, "an Attachment", out)
        for key in ("usageType", "display", "contentType", "length", "sha2"):
            if key not in attachment:
                out.append(f"{item_at}/{key}: is required")
        value = attachment.get("usageType", _MISSING)
        if value is not _MISSING:
            _iri(value, item_at, "usageType", out)
        value = attachment.get("display", _MISSING)
        if value is not _MISSING:
            _language_map(value, item_at, "display", out)
        value = attachment.get("description", _MISSING)
        if value is not _MISSING:
            _language_map(value, item_at, "description", out)
        value = attachment.get("contentType", _MISSING)
        if value is not _MISSING:
            _string(value, item_at, "contentType", out)
        value = attachment.get("length", _MISSING)
        if value is not _MISSING and (type(value) is not int or value < 0):
            out.append(f"{item_at}/length: must be a non-negative integer")
        value = attachment.get("sha2", _MISSING)
        if value is not _MISSING and (not isinstance(value, str) or _SHA2(value) is None):
            out.append(f"{item_at}/sha2: must be a SHA-2 hash in hex")
        value = attachment.get("fileUrl", _MISSING)
        if value is not _MISSING:
            _irl(value, item_at, "fileUrl", out)


# --- statements -----------------------------------------------------------------------------------
def _body(statement: dict[str, Any], at: str, out: list[str], *, in_substatement: bool) -> None:
    """What a Statement and a SubStatement share: actor, verb, object, result, context, ...

    At the top, `at` is "" and `at + "/actor"` costs nothing (CPython returns the right operand).
    """
    value = statement.get("actor", _MISSING)
    if value is _MISSING:
        out.append(f"{at}/actor: is required")
    else:
        _actor(value, at + "/actor", out)
    value = statement.get("verb", _MISSING)
    if value is _MISSING:
        out.append(f"{at}/verb: is required")
    else:
        _verb(value, at + "/verb", out)
    obj = statement.get("object", _MISSING)
    if obj is _MISSING:
        out.append(f"{at}/object: is required")
    else:
        _object(obj, at + "/object", out, in_substatement=in_substatement)
    value = statement.get("result", _MISSING)
    if value is not _MISSING:
        _result(value, at + "/result", out)
    value = statement.get("context", _MISSING)
    if value is not _MISSING:
        # Only a statement about an Activity may say which revision or platform it happened on.
        about_activity = (
            not isinstance(obj, dict) or obj.get("objectType", "Activity") == "Activity"
        )
        _context(value, at + "/context", out, object_is_activity=about_activity)
    value = statement.get("timestamp", _MISSING)
    if value is not _MISSING:
        _timestamp(value, at, "timestamp", out)
    value = statement.get("attachments", _MISSING)
    if value is not _MISSING:
        _attachments(value, at + "/attachments", out)


def _substatement(sub: dict[str, Any], at: str, out: list[str]) -> None:
    if not _SUBSTATEMENT_KEYS.issuperset(sub):
        for key in sub:
            if key in _NOT_IN_SUBSTATEMENT:
                out.append(f"{at}/{key}: is not allowed in a SubStatement")
            elif key not in _SUBSTATEMENT_KEYS:
                out.append(f"{at}/{_escape(key)}: is not a property of a SubStatement")
    _body(sub, at, out, in_substatement=True)


def _statement(statement: Any, out: list[str]) -> None:
    if not isinstance(statement, dict):
        _wrong(statement, "a Statement object", "(root)", out)
        return
    if not _STATEMENT_KEYS.issuperset(statement):
        _unknown(statement, _STATEMENT_KEYS, "", "a Statement", out)
    value = statement.get("id", _MISSING)
    if value is not _MISSING:
        _uuid(value, "", "id", out)
    _body(statement, "", out, in_substatement=False)
    value = statement.get("version", _MISSING)
    if (
        value is not _MISSING
        and value != XAPI_VERSION
        and (not isinstance(value, str) or _VERSION(value) is None)
    ):
        out.append(f'/version: {_show(value)} is not an xAPI 1.0 version ("1.0.x")')
    if "stored" in statement:
        out.append("/stored: is set by the LRS when it stores the statement; a translator must not")
    if "authority" in statement:
        out.append("/authority: is set by the LRS from its credentials; a translator must not")


def _summary(problems: list[str]) -> str:
    more = len(problems) - 1
    return f"invalid statement: {problems[0]}" + (f" (+{more} more)" if more else "")


def statement_problems(statement: dict[str, Any]) -> list[str]:
    """Return every xAPI 1.0.3 rule the statement breaks as "/json/pointer: message"; [] if none."""
    out: list[str] = []
    _statement(statement, out)
    return out


def check_statement(statement: dict[str, Any]) -> None:
    """Refuse a statement that breaks an xAPI 1.0.3 rule; run on every statement before it leaves.

    The walk is the one of statement_problems: the only list built for a valid statement is the
    empty one it appends to (cheaper than a second, message-free walk that could drift apart).
    Raises TranslationError("invalid statement: <first problem>[ (+N more)]").
    """
    out: list[str] = []
    _statement(statement, out)
    if out:
        raise TranslationError(_summary(out))


# --- the rules of places, for compiled templates --------------------------------------------------
# A compiled statement template proves its constant parts and its shape once, with the whole
# check above, and then checks per statement only the values that came from the event, each with
# the rule of its place (ADR 0004). A place's rule may be stricter than the whole check (a failure
# only sends the statement through the whole check again), never laxer.


def _rule(checker: Callable[[Any, str, str, list[str]], object]) -> LeafRule:
    def check(value: Any) -> bool:
        out: list[str] = []
        checker(value, "", "", out)
        return not out

    return check


def _number_rule(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and -_INF < value < _INF


def _interaction_rule(value: Any) -> bool:
    return isinstance(value, str) and value in _INTERACTION_TYPES


def _iri_rule(value: Any) -> bool:
    # the test of _iri, without building a message: this runs for most event values
    return type(value) is str and (value in _valid_iris or _learn(value, _iri_syntax, _valid_iris))


def _timestamp_rule(value: Any) -> bool:
    # the test of _timestamp, without building a message: every statement has a timestamp
    return (
        type(value) is str
        and _TIMESTAMP(value) is not None
        and not value.endswith("-00:00")
        and is_real_datetime(value)
    )


def _string_rule(value: Any) -> bool:
    return isinstance(value, str) and value != ""


_EXTENSION_VALUE: Final = Place(_json_rule)  # any JSON, bounded
_IRI_PLACE: Final = Place(_iri_rule)
_IRL_PLACE: Final = Place(_rule(_irl))
_UUID_PLACE: Final = Place(_rule(_uuid))
_STRING_PLACE: Final = Place(_string_rule)  # not empty either (see _string)
_BOOLEAN_PLACE: Final = Place(_rule(_boolean))
_TIMESTAMP_PLACE: Final = Place(_timestamp_rule)
_DURATION_PLACE: Final = Place(_rule(_duration))
_LANGUAGE_PLACE: Final = Place(_rule(_language))
_INTERACTION_PLACE: Final = Place(_interaction_rule)
_SCORE_PLACE: Final = Place(_number_rule, related=True)  # relations: see relations_ok

_ACTIVITY_LISTS: Final = frozenset({"parent", "grouping", "category", "other"})


def _definition_place(rest: tuple[str, ...]) -> Place | None:
    """The place below an Activity's `definition`."""
    if len(rest) == 1:
        return {
            "type": _IRI_PLACE,
            "moreInfo": _IRL_PLACE,
            "interactionType": _INTERACTION_PLACE,
        }.get(rest[0])
    if len(rest) == 2 and rest[0] in ("name", "description"):
        return _STRING_PLACE
    if len(rest) == 2 and rest[0] == "extensions":
        return _EXTENSION_VALUE
    return None


def place(path: tuple[str, ...], constant_at: ConstantAt) -> Place | None:
    """The check of an event value placed at `path` (list items are "*"), or None.

    None means this place is not one a rule covers: the template's statements are then checked
    whole, every time. Below `object`, rules apply only to an Activity (the template's
    objectType absent or the constant "Activity").
    """
    size = len(path)
    head = path[0] if path else ""
    if size == 1:
        return {"timestamp": _TIMESTAMP_PLACE, "id": _UUID_PLACE}.get(head)
    if head == "actor":
        if path[1:] == ("account", "name"):
            return _STRING_PLACE
        if path[1:] == ("account", "homePage"):
            return _IRL_PLACE
        return None
    if head == "verb":
        if path[1:] == ("id",):
            return _IRI_PLACE
        if size == 3 and path[1] == "display":
            return _STRING_PLACE
        return None
    if head == "object":
        if constant_at(("object", "objectType")) not in (ABSENT, "Activity"):
            return None
        if path[1:] == ("id",):
            return _IRI_PLACE
        if size >= 3 and path[1] == "definition":
            return _definition_place(path[2:])
        return None
    if head == "result":
        key = path[1]
        if size == 2:
            return {
                "success": _BOOLEAN_PLACE,
                "completion": _BOOLEAN_PLACE,
                "response": _STRING_PLACE,
                "duration": _DURATION_PLACE,
            }.get(key)
        if size == 3 and key == "score" and path[2] in _SCORE_KEYS:
            return _SCORE_PLACE
        if size == 3 and key == "extensions":
            return _EXTENSION_VALUE
        return None
    if head == "context":
        key = path[1]
        if size == 2:
            return {
                "registration": _UUID_PLACE,
                "revision": _STRING_PLACE,
                "platform": _STRING_PLACE,
                "language": _LANGUAGE_PLACE,
            }.get(key)
        if size == 3 and key == "extensions":
            return _EXTENSION_VALUE
        if path[1:] == ("statement", "id"):
            return _UUID_PLACE
        if size >= 5 and key == "contextActivities" and path[2] in _ACTIVITY_LISTS:
            if path[3] != "*":
                return None
            if path[4:] == ("id",):
                return _IRI_PLACE
            if size >= 6 and path[4] == "definition":
                return _definition_place(path[5:])
        return None
    return None


def score_ok(statement: dict[str, Any]) -> bool:
    """The score rules (scaled in [-1, 1], min < max, min <= raw <= max) hold, or no score."""
    result = statement.get("result")
    if type(result) is not dict or "score" not in result:
        return True
    out: list[str] = []
    _score(result["score"], "/result", out)
    return not out


def relaxed_rules(
    rules: frozenset[str],
) -> tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], bool]]:
    """`check_statement` and `score_ok` with the rules named in `rules` (ids of RELAXABLE) not
    enforced; every other rule is. Raises ValueError for an id RELAXABLE does not hold."""
    unknown = sorted(rules - RELAXABLE.keys())
    if unknown:
        raise ValueError(f"no relaxable xAPI rule {unknown[0]!r}")

    def kept(out: list[str]) -> list[str]:
        return [p for p in out if not (type(p) is BrokenRule and p.rule in rules)]

    def check(statement: dict[str, Any]) -> None:
        out: list[str] = []
        _statement(statement, out)
        if out and (out := kept(out)):
            raise TranslationError(_summary(out))

    def relations_ok(statement: dict[str, Any]) -> bool:
        if score_ok(statement):
            return True
        out: list[str] = []
        _score(statement["result"]["score"], "/result", out)
        return not kept(out)

    return check, relations_ok

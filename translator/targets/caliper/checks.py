"""Check IMS Caliper 1.2 events: fast rules for every event, and the rule of each place.

`check_event` runs on every event before it is emitted: the JSON-LD context, a `urn:uuid:` id,
an event type of the 1.2 vocabulary and an action that type allows, `eventTime` in UTC with
milliseconds, and every entity (actor, object, edApp, group, session, anything nested) with an
IRI id and a known entity type. `event_problems` is the same walk, returning every broken rule
as `/json/pointer: message`. `place` gives compiled templates the rule of each place an event
value can land in. The official JSON Schemas are read by `strict` (`--strict` and the tests).

The actions each type allows are those of the Caliper 1.2 specification's metric profiles (the
JSON Schemas list one vocabulary for every type, so they cannot tell a ViewEvent "Graded").

`RELAXABLE` names the rules an overlay may relax for its own plan (`relax:`), and
`relaxed_rules` gives the checks without them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import orjson

from translator.errors import TranslationError
from translator.mapping.contract import ConstantAt, Place
from translator.messages import json_kind
from translator.syntax import DURATION, UUID, is_iri, is_real_datetime
from translator.targets.target import BrokenRule

__all__ = [
    "ACTIONS",
    "CALIPER_CONTEXT",
    "CALIPER_VERSION",
    "ENTITY_TYPES",
    "EVENT_ACTIONS",
    "RELAXABLE",
    "action_ok",
    "check_event",
    "event_problems",
    "place",
    "relaxed_rules",
]

CALIPER_VERSION: Final = "1.2"
CALIPER_CONTEXT: Final = "http://purl.imsglobal.org/ctx/caliper/v1p2"
_MISSING: Final[Any] = object()
_INF: Final = float("inf")

# --- vocabulary -----------------------------------------------------------------------------------
# The action vocabulary of 1.2 (the Action term list); a generic `Event` may use any of them.
ACTIONS: Final = frozenset(
    {"Abandoned", "Accepted", "Activated", "Added", "Archived", "Attached", "Bookmarked",
     "ChangedResolution", "ChangedSize", "ChangedSpeed", "ChangedVolume", "Classified",
     "ClosedPopout", "Commented", "Completed", "Copied", "Created", "Deactivated", "Declined",
     "Deleted", "Described", "DisabledClosedCaptioning", "Disliked", "Downloaded",
     "EnabledClosedCaptioning", "Ended", "EnteredFullScreen", "ExitedFullScreen", "ForwardedTo",
     "Graded", "Hid", "Highlighted", "Identified", "JumpedTo", "Launched", "Liked", "Linked",
     "LoggedIn", "LoggedOut", "MarkedAsRead", "MarkedAsUnread", "Modified", "Muted",
     "NavigatedTo", "OpenedPopout", "OptedIn", "OptedOut", "Paused", "Posted", "Printed",
     "Published", "Questioned", "Ranked", "Recommended", "Removed", "Reset", "Restarted",
     "Restored", "Resumed", "Retrieved", "Returned", "Reviewed", "Rewound", "Saved", "Searched",
     "Sent", "Shared", "Showed", "Skipped", "Started", "Submitted", "Subscribed", "Tagged",
     "TimedOut", "Unmuted", "Unpublished", "Unsubscribed", "Uploaded", "Used", "Viewed"}
)  # fmt: skip

_MEDIA_ACTIONS: Final = frozenset(
    {"Started", "Ended", "Paused", "Resumed", "Restarted", "ForwardedTo", "JumpedTo",
     "ChangedResolution", "ChangedSize", "ChangedSpeed", "ChangedVolume",
     "EnabledClosedCaptioning", "DisabledClosedCaptioning", "EnteredFullScreen",
     "ExitedFullScreen", "Muted", "Unmuted", "OpenedPopout", "ClosedPopout"}
)  # fmt: skip
_RESOURCE_ACTIONS: Final = frozenset(
    {"Archived", "Copied", "Created", "Deleted", "Described", "Downloaded", "Modified",
     "Printed", "Published", "Restored", "Retrieved", "Saved", "Unpublished", "Uploaded"}
)  # fmt: skip

# Event type -> the actions the 1.2 specification supports for it. The deprecated types
# (ReadingEvent, OutcomeEvent) and deprecated actions are left out: a translator must not emit them.
EVENT_ACTIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "Event": ACTIONS,
        "AnnotationEvent": frozenset({"Bookmarked", "Highlighted", "Shared", "Tagged"}),
        "AssessmentEvent": frozenset(
            {"Started", "Paused", "Resumed", "Restarted", "Reset", "Submitted"}
        ),
        "AssessmentItemEvent": frozenset({"Started", "Skipped", "Completed"}),
        "AssignableEvent": frozenset(
            {"Activated", "Deactivated", "Started", "Completed", "Submitted", "Reviewed"}
        ),
        "FeedbackEvent": frozenset({"Commented", "Ranked"}),
        "ForumEvent": frozenset({"Subscribed", "Unsubscribed"}),
        "GradeEvent": frozenset({"Graded"}),
        "MediaEvent": _MEDIA_ACTIONS,
        "MessageEvent": frozenset({"Posted", "MarkedAsRead", "MarkedAsUnread"}),
        "NavigationEvent": frozenset({"NavigatedTo"}),
        "QuestionnaireEvent": frozenset({"Started", "Submitted"}),
        "QuestionnaireItemEvent": frozenset({"Started", "Skipped", "Completed"}),
        "ResourceManagementEvent": _RESOURCE_ACTIONS,
        "SearchEvent": frozenset({"Searched"}),
        "SessionEvent": frozenset({"LoggedIn", "LoggedOut", "TimedOut"}),
        "SurveyEvent": frozenset({"OptedIn", "OptedOut"}),
        "SurveyInvitationEvent": frozenset({"Accepted", "Declined", "Sent"}),
        "ThreadEvent": frozenset({"MarkedAsRead", "MarkedAsUnread"}),
        "ToolLaunchEvent": frozenset({"Launched", "Returned"}),
        "ToolUseEvent": frozenset({"Used"}),
        "ViewEvent": frozenset({"Viewed"}),
    }
)

ENTITY_TYPES: Final = frozenset(
    {"Entity", "Agent", "Person", "Organization", "SoftwareApplication", "Group",
     "CourseOffering", "CourseSection", "Membership", "Session", "LtiSession",
     "AggregateMeasure", "AggregateMeasureCollection", "Annotation", "BookmarkAnnotation",
     "HighlightAnnotation", "SharedAnnotation", "TagAnnotation", "Attempt", "Collection",
     "DigitalResourceCollection", "Assessment", "Forum", "Questionnaire", "Thread", "Survey",
     "Comment", "DigitalResource", "AssignableDigitalResource", "AssessmentItem", "Chapter",
     "Document", "Frame", "LtiLink", "MediaLocation", "MediaObject", "AudioObject",
     "ImageObject", "VideoObject", "Message", "Page", "Question", "DateTimeQuestion",
     "MultiselectQuestion", "OpenEndedQuestion", "RatingScaleQuestion", "QuestionnaireItem",
     "Reading", "SurveyInvitation", "WebPage", "EpubChapter", "EpubPart", "EpubSubChapter",
     "EpubVolume", "LearningObjective", "Link", "Query", "Rating", "Response",
     "DateTimeResponse", "FillinBlankResponse", "MultiselectResponse", "MultipleChoiceResponse",
     "MultipleResponseResponse", "OpenEndedResponse", "RatingScaleResponse",
     "SelectTextResponse", "TrueFalseResponse", "Result", "Scale", "LikertScale",
     "MultiselectScale", "NumericScale", "Score", "SearchResponse"}
)  # fmt: skip
# Objects of free members: extensions, and an LTI launch's message parameters.
_FREE_OBJECTS: Final = frozenset({"extensions", "messageParameters"})
# Typed values that are no entities (no id): a text selection, another system's identifier.
_NOT_ENTITIES: Final = frozenset({"TextPositionSelector", "SystemIdentifier"})
_AGENT_TYPES: Final = frozenset(
    {"Agent", "Person", "Organization", "SoftwareApplication", "Group", "CourseOffering",
     "CourseSection"}
)  # fmt: skip

# --- relaxable rules ------------------------------------------------------------------------------
# The rules an overlay may name in its `relax:` section, for its own plan only, to reproduce
# another translator's output that breaks them (ERB's, in the erb-compat overlay). Every other
# rule holds for every plan. A broken relaxable rule writes its message as a BrokenRule, which
# carries the rule's id, so a relaxed check can leave exactly those messages out.
ENTITY_TYPE: Final = "entity-type"
GENERATED_ENTITY: Final = "generated-entity"
OBJECT_ID: Final = "object-id"
BLANK_NODE_ID: Final = "blank-node-id"
RELAXABLE: Final[dict[str, str]] = {
    ENTITY_TYPE: "an entity's type is a term of the Caliper 1.2 vocabulary; relaxed, another "
    'name (ERB\'s "Webpage") is let through, and the entity is checked as any entity',
    GENERATED_ENTITY: "an event's `generated` is an entity (a type and an IRI id); relaxed, "
    'any object is let through unchecked (ERB\'s {"score": {..., "id": "_:score"}})',
    OBJECT_ID: "an entity has an id (an IRI); relaxed, the event's object may be an entity "
    "without one (the official schemas refuse it); an id that is there, and the id of every "
    "other entity, is still checked",
    BLANK_NODE_ID: "an entity's id is an IRI (Caliper 1.2 also permits a blank node, `_:name`, "
    "which names nothing outside its one event: a consumer can neither dereference nor join on "
    'it); relaxed, a blank node id is let through (ERB\'s target {"id": "_:MediaLocation"})',
}


# --- properties -----------------------------------------------------------------------------------
_REQUIRED: Final = ("@context", "id", "type", "actor", "action", "object", "eventTime")
# Event properties whose value is an Entity or the IRI of one.
_EVENT_ENTITIES: Final = frozenset(
    {"actor", "object", "edApp", "generated", "target", "referrer", "group", "membership",
     "session", "federatedSession", "navigatedFrom"}
)  # fmt: skip
_EVENT_KEYS: Final = _EVENT_ENTITIES | {
    "@context", "id", "type", "action", "eventTime", "extensions", "profile"
}  # fmt: skip
# Entity properties by the kind of value they hold (the rest: Entities, lists, or free values).
_TEXT_PROPS: Final = frozenset(
    {"name", "description", "version", "mediaType", "storageName", "courseNumber",
     "academicSession", "category", "questionPosed", "comment", "selectionText",
     "bookmarkNotes", "searchProvider", "userAgent", "ipAddress", "value", "objectType"}
)  # fmt: skip
_NUMBER_PROPS: Final = frozenset(
    {"scoreGiven", "maxScore", "resultScore", "totalScore", "maxResultScore", "normalScore",
     "penaltyScore", "extraCreditScore", "curvedTotalScore", "curveFactor", "count",
     "maxAttempts", "maxSubmits", "index", "volumeLevel", "volumeMin", "volumeMax", "start",
     "end", "searchResultsItemCount", "scalePoints", "weight", "sentCount", "metricValue",
     "maxMetricValue"}
)  # fmt: skip
_BOOLEAN_PROPS: Final = frozenset({"isTimeDependent", "muted"})
_DATETIME_PROPS: Final = frozenset(
    {"dateCreated", "dateModified", "datePublished", "dateToActivate", "dateToShow",
     "dateToStartOn", "dateToSubmit", "startedAtTime", "endedAtTime", "dateSent"}
)  # fmt: skip
_DURATION_PROPS: Final = frozenset({"duration", "currentTime"})

# --- value syntax ---------------------------------------------------------------------------------
# `urn:uuid:` and a lowercase RFC 4122 UUID (Caliper §4.1).
_EVENT_ID_PREFIX: Final = "urn:uuid:"
# eventTime: "YYYY-MM-DDTHH:mm:ss.SSSZ set to UTC with no offset specified" (Caliper, Event).
_EVENT_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
# Other date-times of entities: ISO 8601 with a zone (Z or an offset).
_DATETIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
).fullmatch

# A JSON-LD blank node identifier (Caliper 1.2, "Blank Node Identifier").
_BLANK_NODE: Final = re.compile(r"_:\S+").fullmatch

_MEMO_LIMIT: Final = 8192
_valid_iris: set[str] = set()


def _iri_ok(value: Any) -> bool:
    """An absolute IRI, remembered once proven (the same IRIs recur event after event)."""
    if type(value) is not str:
        return False
    if value in _valid_iris:
        return True
    if not is_iri(value):
        return False
    if len(_valid_iris) >= _MEMO_LIMIT:
        _valid_iris.clear()
    _valid_iris.add(value)
    return True


def _event_id_ok(value: Any) -> bool:
    return (
        type(value) is str
        and value.startswith(_EVENT_ID_PREFIX)
        and UUID(value[len(_EVENT_ID_PREFIX) :]) is not None
    )


def _event_time_ok(value: Any) -> bool:
    return (
        type(value) is str and _EVENT_TIME.fullmatch(value) is not None and is_real_datetime(value)
    )


def _datetime_ok(value: Any) -> bool:
    return type(value) is str and _DATETIME(value) is not None and is_real_datetime(value)


def _number_ok(value: Any) -> bool:
    return (type(value) is int or type(value) is float) and -_INF < value < _INF


def _text_ok(value: Any) -> bool:
    return type(value) is str


def _boolean_ok(value: Any) -> bool:
    return value is True or value is False


def _duration_ok(value: Any) -> bool:
    return type(value) is str and DURATION(value) is not None


def _context_ok(value: Any) -> bool:
    """The 1.2 context IRI, or JSON-LD's other forms: a list holding it, an inline context."""
    if value == CALIPER_CONTEXT:
        return True
    return (type(value) is list and CALIPER_CONTEXT in value) or type(value) is dict


def action_ok(event: dict[str, Any]) -> bool:
    """The event's action is one its type supports (the rule across `type` and `action`)."""
    kind = event.get("type")
    allowed = EVENT_ACTIONS.get(kind) if type(kind) is str else None
    return allowed is not None and event.get("action") in allowed


# --- messages -------------------------------------------------------------------------------------
def _show(value: Any) -> str:
    """Quote a value as JSON, cut short so a message never carries a large payload."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


_SCALARS: Final[tuple[tuple[frozenset[str], Callable[[Any], bool], str], ...]] = (
    (_TEXT_PROPS, _text_ok, "a string"),
    (_NUMBER_PROPS, _number_ok, "a finite number"),
    (_BOOLEAN_PROPS, _boolean_ok, "a boolean"),
    (_DATETIME_PROPS, _datetime_ok, "an ISO 8601 date-time with a zone"),
    (_DURATION_PROPS, _duration_ok, "an ISO 8601 duration"),
)


# --- the walk -------------------------------------------------------------------------------------
def _entity_or_iri(
    value: Any, at: str, out: list[str], *, types: frozenset[str], id_rule: str = ""
) -> None:
    if type(value) is str:
        if not _iri_ok(value):
            out.append(f"{at}: {_show(value)} is not an absolute IRI")
    elif type(value) is dict:
        _entity(value, at, out, types=types, id_rule=id_rule)
    else:
        out.append(f"{at}: must be an entity object or its IRI, not {json_kind(value)}")


def _entity(
    entity: dict[str, Any], at: str, out: list[str], *, types: frozenset[str], id_rule: str = ""
) -> None:
    """The entity at `at`; `id_rule` names the relaxable rule a missing id breaks there (the
    event's object, OBJECT_ID), "" where a missing id is never let through."""
    kind = entity.get("type", _MISSING)
    if kind is _MISSING:
        out.append(f"{at}/type: is required")
    elif type(kind) is not str or kind not in types:
        message = f"{at}/type: {_show(kind)} is not a Caliper 1.2 entity type here"
        # Relaxable: a name outside the vocabulary, where any entity goes (not the actor's).
        unknown = types is ENTITY_TYPES and type(kind) is str and kind != "" and kind not in types
        out.append(BrokenRule(ENTITY_TYPE, message) if unknown else message)
    if "id" not in entity:
        message = f"{at}/id: is required"
        out.append(BrokenRule(id_rule, message) if id_rule else message)
    for key, value in entity.items():
        if key == "type" or key == "@context":
            continue
        if key == "id":
            if not _iri_ok(value):
                message = f"{at}/id: {_show(value)} is not an absolute IRI"
                blank = type(value) is str and _BLANK_NODE(value) is not None
                out.append(BrokenRule(BLANK_NODE_ID, message) if blank else message)
            continue
        if key in _FREE_OBJECTS:
            if type(value) is not dict:
                out.append(f"{at}/{key}: must be an object, not {json_kind(value)}")
            continue
        _value(key, value, f"{at}/{_escape(key)}", out)


def _not_entity(value: dict[str, Any]) -> bool:
    kind = value.get("type")
    return type(kind) is str and kind in _NOT_ENTITIES


def _value(key: str, value: Any, at: str, out: list[str]) -> None:
    """A property of an entity: a scalar of known kind, an entity, or a list of them."""
    for names, ok, expected in _SCALARS:
        if key in names:
            if not ok(value):
                out.append(f"{at}: must be {expected}, not {_show(value)}")
            return
    if type(value) is dict:
        if not _not_entity(value):
            _entity(value, at, out, types=ENTITY_TYPES)
    elif type(value) is list:
        for index, item in enumerate(value):
            if type(item) is dict and not _not_entity(item):
                _entity(item, f"{at}/{index}", out, types=ENTITY_TYPES)


def _event(event: Any, out: list[str]) -> None:
    if type(event) is not dict:
        out.append(f"(root): must be a Caliper event object, not {json_kind(event)}")
        return
    for key in _REQUIRED:
        if key not in event:
            out.append(f"/{key}: is required")
    for key, value in event.items():
        if key == "@context":
            if not _context_ok(value):
                out.append(f"/@context: must be {CALIPER_CONTEXT!r}, not {_show(value)}")
        elif key == "id":
            if not _event_id_ok(value):
                out.append(f"/id: {_show(value)} is not a urn:uuid: id (RFC 4122, lowercase)")
        elif key == "type":
            if value not in EVENT_ACTIONS:
                out.append(f"/type: {_show(value)} is not a Caliper 1.2 event type")
        elif key == "action":
            if value not in ACTIONS:
                out.append(f"/action: {_show(value)} is not a Caliper 1.2 action")
            elif event.get("type") in EVENT_ACTIONS and not action_ok(event):
                out.append(f"/action: {event['type']} does not support {_show(value)}")
        elif key == "eventTime":
            if not _event_time_ok(value):
                out.append(
                    f"/eventTime: {_show(value)} is not an ISO 8601 UTC time with milliseconds"
                    " (YYYY-MM-DDTHH:mm:ss.SSSZ)"
                )
        elif key == "actor":
            _entity_or_iri(value, "/actor", out, types=_AGENT_TYPES)
        elif key == "generated":
            inner: list[str] = []
            _entity_or_iri(value, "/generated", inner, types=ENTITY_TYPES)
            out.extend(BrokenRule(GENERATED_ENTITY, p) for p in inner)
        elif key == "object":
            _entity_or_iri(value, "/object", out, types=ENTITY_TYPES, id_rule=OBJECT_ID)
        elif key in _EVENT_ENTITIES:
            _entity_or_iri(value, f"/{key}", out, types=ENTITY_TYPES)
        elif key == "extensions":
            if type(value) is not dict:
                out.append(f"/extensions: must be an object, not {json_kind(value)}")
        elif key == "profile":
            if type(value) is not str:
                out.append(f"/profile: must be a string, not {json_kind(value)}")
        else:
            out.append(f"/{_escape(key)}: is not a property of a Caliper event")


def event_problems(event: dict[str, Any]) -> list[str]:
    """Every Caliper 1.2 rule the event breaks, as "/json/pointer: message"; [] if none."""
    out: list[str] = []
    _event(event, out)
    return out


def _refuse(out: list[str]) -> None:
    more = len(out) - 1
    raise TranslationError(f"invalid event: {out[0]}" + (f" (+{more} more)" if more else ""))


def check_event(event: dict[str, Any]) -> None:
    """Refuse an event that breaks a Caliper 1.2 rule; run on every event before it leaves.

    Raises TranslationError("invalid event: <first problem>[ (+N more)]").
    """
    out: list[str] = []
    _event(event, out)
    if out:
        _refuse(out)


def relaxed_rules(
    rules: frozenset[str],
) -> tuple[Callable[[dict[str, Any]], None], Callable[[dict[str, Any]], bool]]:
    """`check_event` and `action_ok` with the rules named in `rules` (ids of RELAXABLE) not
    enforced; every other rule is. Raises ValueError for an id RELAXABLE does not hold."""
    unknown = sorted(rules - RELAXABLE.keys())
    if unknown:
        raise ValueError(f"no relaxable Caliper rule {unknown[0]!r}")

    def check(event: dict[str, Any]) -> None:
        out: list[str] = []
        _event(event, out)
        if out and (out := [p for p in out if not (type(p) is BrokenRule and p.rule in rules)]):
            _refuse(out)

    return check, action_ok


# --- the rules of places, for compiled templates --------------------------------------------------
# As for xAPI (ADR 0004): a template proves its constants and shape once with the whole check,
# then only event values are checked, each by the rule of its place. A rule may be stricter than
# the whole check (a failure sends the event through the whole check), never laxer.
_ANY: Final = Place(None)
_IRI_PLACE: Final = Place(_iri_ok)
_ID_PLACE: Final = Place(_event_id_ok)
_TIME_PLACE: Final = Place(_event_time_ok)
_TEXT_PLACE: Final = Place(_text_ok)
_ACTION_PLACE: Final = Place(lambda value: value in ACTIONS, related=True)
_TYPE_PLACE: Final = Place(lambda value: value in EVENT_ACTIONS, related=True)
_ENTITY_TYPE_PLACE: Final = Place(lambda value: value in ENTITY_TYPES)
_SCALAR_PLACES: Final = tuple((names, Place(ok)) for names, ok, _expected in _SCALARS)


def _entity_rule(types: frozenset[str]) -> Place:
    """An entity or its IRI written whole by the event (an `!if` around a session): the same
    walk as the whole check, on that value only."""

    def ok(value: Any) -> bool:
        if type(value) is str:
            return _iri_ok(value)
        out: list[str] = []
        _entity_or_iri(value, "", out, types=types)
        return not out

    return Place(ok)


def _value_rule(key: str) -> Place:
    """Any other property of an entity written by the event: the whole check's walk of it."""

    def ok(value: Any) -> bool:
        out: list[str] = []
        _value(key, value, "", out)
        return not out

    return Place(ok)


_ACTOR_PLACE: Final = _entity_rule(_AGENT_TYPES)
_ENTITY_PLACE: Final = _entity_rule(ENTITY_TYPES)


def place(path: tuple[str, ...], constant_at: ConstantAt) -> Place | None:
    """The check of an event value placed at `path` (list items are "*"), or None.

    None means no rule covers the place: the template's events are then checked whole, every
    time. Inside `extensions` (and `messageParameters`) any JSON value goes.
    """
    if not path or path[0] == "@context":
        return None
    if any(key in _FREE_OBJECTS for key in path[:-1]):
        return _ANY
    if path[-1] in _FREE_OBJECTS:
        return None
    if len(path) == 1:
        head = path[0]
        if head == "id":
            return _ID_PLACE
        if head == "eventTime":
            return _TIME_PLACE
        if head == "action":
            return _ACTION_PLACE
        if head == "type":
            return _TYPE_PLACE
        if head == "profile":
            return _TEXT_PLACE
        if head == "actor":
            return _ACTOR_PLACE
        if head in _EVENT_ENTITIES:
            return _ENTITY_PLACE
        return None
    if path[0] not in _EVENT_ENTITIES:
        return None
    last = path[-1]
    if last == "id":
        return _IRI_PLACE
    if last == "type":
        return None if path == ("actor", "type") else _ENTITY_TYPE_PLACE
    if last == "*":
        return None
    for names, found in _SCALAR_PLACES:
        if last in names:
            return found
    if last in _FREE_OBJECTS or last == "@context":
        return None
    return _value_rule(last)

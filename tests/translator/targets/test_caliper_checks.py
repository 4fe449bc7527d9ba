"""The Caliper 1.2 target: our fast rules, the rule of each place, and the official schemas."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from support.caliper_check import CALIPER_REFERENCE, SCHEMA_DIR, official_schemas_or_skip

from translator.errors import ConfigError, TranslationError
from translator.mapping.contract import ABSENT
from translator.targets.caliper import CALIPER
from translator.targets.caliper.checks import check_event, event_problems, place
from translator.targets.caliper.strict import SCHEMA_DIR_ENV, strict_check, use_schema_dir

EVENT: dict[str, Any] = {
    "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
    "id": "urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c",
    "type": "NavigationEvent",
    "actor": {"id": "http://lms.example/user/42", "type": "Person"},
    "action": "NavigatedTo",
    "object": {
        "id": "http://lms.example/xblock/block-v1:X+Y+Z+type@sequential+block@a",
        "type": "DigitalResourceCollection",
        "name": "Unit",
        "isPartOf": {"id": "http://lms.example/course/course-v1:X+Y+Z", "type": "CourseOffering"},
    },
    "eventTime": "2024-05-01T10:00:00.123Z",
    "edApp": {"id": "http://lms.example", "type": "SoftwareApplication"},
    "group": {"id": "http://lms.example/course/course-v1:X+Y+Z", "type": "CourseOffering"},
    "session": {"id": "http://lms.example/sessions/abc", "type": "Session"},
    "extensions": {"anything": [1, {"goes": None}]},
}


def _with(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(EVENT)
    for key, value in changes.items():
        if value is None:
            del event[key]
        else:
            event[key] = value
    return event


def test_caliper_check_accepts_a_valid_event() -> None:
    check_event(EVENT)
    assert event_problems(EVENT) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"actor": None}, "/actor: is required"),
        ({"@context": "http://purl.imsglobal.org/ctx/caliper/v1p1"}, "/@context: must be"),
        ({"id": "3a648e68-f00d-4c08-aa59-8738e1884f2c"}, "/id: "),
        ({"id": "urn:uuid:3A648E68-F00D-4C08-AA59-8738E1884F2C"}, "/id: "),
        ({"type": "ReadingEvent"}, '/type: "ReadingEvent" is not a Caliper 1.2 event type'),
        ({"action": "Viewed"}, '/action: NavigationEvent does not support "Viewed"'),
        ({"action": "Looked"}, '/action: "Looked" is not a Caliper 1.2 action'),
        ({"eventTime": "2024-05-01T10:00:00.123+02:00"}, "/eventTime: "),
        ({"eventTime": "2024-05-01T10:00:00Z"}, "/eventTime: "),
        ({"eventTime": "2024-02-30T10:00:00.000Z"}, "/eventTime: "),
        ({"actor": "course-v1:X+Y+Z"}, '/actor: "course-v1:X+Y+Z" is not an absolute IRI'),
        ({"actor": {"id": "http://x.example/u", "type": "WebPage"}}, "/actor/type: "),
        ({"object": {"id": "http://x.example/p", "type": "Webpage"}}, '/object/type: "Webpage"'),
        ({"object": {"type": "Assessment"}}, "/object/id: is required"),
        ({"object": {"id": "http://x.example/p", "type": "Page", "name": 3}}, "/object/name: "),
        ({"session": 7}, "/session: must be an entity object or its IRI, not a number"),
        ({"extensions": []}, "/extensions: must be an object"),
        ({"result": {}}, "/result: is not a property of a Caliper event"),
    ],
)
def test_caliper_check_refuses_each_broken_rule(changes: dict[str, Any], problem: str) -> None:
    problems = event_problems(_with(**changes))
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(TranslationError, match=r"^invalid event: "):
        check_event(_with(**changes))


def test_caliper_check_refuses_nested_entities_without_iri_ids() -> None:
    event = _with()
    event["generated"] = {"id": "_:score", "type": "Score", "scoreGiven": "1"}
    assert event_problems(event) == [
        '/generated/id: "_:score" is not an absolute IRI',
        '/generated/scoreGiven: must be a finite number, not "1"',
    ]


def test_caliper_ids_are_urn_uuids() -> None:
    assert CALIPER.statement_id("3a648e68-f00d-5c08-aa59-8738e1884f2c") == (
        "urn:uuid:3a648e68-f00d-5c08-aa59-8738e1884f2c"
    )


def test_caliper_places_have_rules_no_laxer_than_the_whole_check() -> None:
    def rule(*path: str) -> Any:
        found = place(path, lambda _path: ABSENT)
        return None if found is None else found.rule

    assert rule("id")("urn:uuid:3a648e68-f00d-4c08-aa59-8738e1884f2c")
    assert not rule("id")("3a648e68-f00d-4c08-aa59-8738e1884f2c")
    assert rule("eventTime")("2024-05-01T10:00:00.000Z")
    assert not rule("eventTime")("2024-05-01T10:00:00.000+00:00")
    assert rule("object", "id")("http://x.example/a")
    assert not rule("object", "id")("course-v1:X+Y+Z")
    assert rule("object", "name")("Unit") and not rule("object", "name")(3)
    assert rule("generated", "scoreGiven")(0.5) and not rule("generated", "scoreGiven")(True)
    assert rule("object", "type")("WebPage") and not rule("object", "type")("Webpage")
    assert place(("object", "extensions", "x"), lambda _p: ABSENT) is not None
    assert rule("object", "extensions", "x") is None  # any value: no rule to pass
    # An entity written whole by the event (an `!if` around it) is walked as the whole check
    # walks it, so a template stays proven.
    assert rule("session")({"id": "http://x.example/s", "type": "Session"})
    assert not rule("session")({"id": "http://x.example/s", "type": "Sesion"})
    assert rule("object", "isPartOf")({"id": "http://x.example/c", "type": "CourseOffering"})
    assert not rule("object", "isPartOf")({"type": "CourseOffering"})
    assert rule("actor")("http://x.example/u") and not rule("actor")({"id": "x", "type": "Person"})
    related = place(("action",), lambda _p: ABSENT)
    assert related is not None and related.related
    assert CALIPER.relations_ok(EVENT) and not CALIPER.relations_ok(_with(action="Viewed"))


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_caliper_check_accepts_every_official_example_event() -> None:
    schemas = official_schemas_or_skip()
    examples = sorted((CALIPER_REFERENCE / "fixtures").glob("caliperEvent*.json"))
    assert len(examples) > 40
    for path in examples:
        event = _json(path)
        assert event_problems(event) == [], path.name
        assert schemas.event_problems(event) == [], path.name


def test_caliper_official_envelopes_pass_and_broken_ones_do_not() -> None:
    schemas = official_schemas_or_skip()
    for path in sorted((CALIPER_REFERENCE / "fixtures").glob("caliperEnvelopeEvent*.json")):
        assert schemas.envelope_problems(_json(path)) == [], path.name
    envelope = _json(CALIPER_REFERENCE / "fixtures/caliperEnvelopeEventSingle.json")
    del envelope["sensor"]
    envelope["data"][0]["type"] = "Webpage"
    assert schemas.envelope_problems(envelope)[0] == "/sensor: is required"
    assert any(p.startswith("/data/0/type: ") for p in schemas.envelope_problems(envelope))
    assert schemas.envelope_problems({**envelope, "data": []})[-1] == (
        "/data: must be a non-empty list of events"
    )


def test_caliper_strict_check_uses_the_official_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    official_schemas_or_skip()
    monkeypatch.setenv(SCHEMA_DIR_ENV, str(SCHEMA_DIR))
    strict_check(EVENT)
    # Our rules pass it, the schema refuses it: keywords are a list of strings.
    with pytest.raises(TranslationError, match=r"refused by the Caliper 1\.2 schema: /object/"):
        strict_check(_with(object={"id": "http://x.example/p", "type": "Page", "keywords": "a"}))


def test_caliper_strict_check_without_schemas_says_how_to_configure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SCHEMA_DIR_ENV, raising=False)
    use_schema_dir(None)
    with pytest.raises(ConfigError, match="set caliper_schema_dir"):
        strict_check(EVENT)

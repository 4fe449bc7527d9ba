"""Golden tests of the Caliper mappings: each raw event of tests/golden/caliper/ gives exactly
the events beside it, and every event passes our rules and the official IMS JSON Schemas.

Pairs are named and read as in tests/translator/test_golden.py (the inputs are those of the
xAPI pairs for the same events). Every event name the Caliper plan maps has a pair, and every
event name the xAPI plan maps (aliases included) is mapped by the core Caliper mappings: none is
left out with `!disable`, which stays for overlays (an institution's choice not to send one).
Every GradeEvent of the golden inputs names its grader as the Grading profile says: the LMS
when it grades, the assessor when a person does.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from support.caliper_check import assert_valid_event

from translator.config import Settings
from translator.engine import Translator
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan, translator_version
from translator.targets.caliper import CALIPER
from translator.targets.xapi import XAPI

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "caliper"
INPUT_SUFFIX = ".input.json"
EXPECTED_SUFFIX = ".expected.json"
SETTINGS = Settings(lms_root_url="http://localhost:18000", pseudonym_secret="golden-test-secret")
VERSION_PLACEHOLDER = "{translator_version}"
INPUTS = sorted(GOLDEN.glob("*" + INPUT_SUFFIX))

# The GradeEvents a person grades (ORA's peer, self and staff steps): the actor is the assessor.
# Every other GradeEvent of the core mappings is a grade the LMS computes: "For auto-graded
# scenarios the SoftwareApplication MUST be specified as the `actor`" (Caliper 1.2, 3.5).
GRADED_BY_A_PERSON = frozenset(
    {
        "openassessmentblock.peer_assess",
        "openassessmentblock.self_assess",
        "openassessmentblock.staff_assess",
    }
)
AUTO_GRADED = frozenset(
    {
        "problem_check",
        "save_problem_check",
        "problem_rescore",
        "edx.grades.problem.submitted",
        "edx.grades.subsection.grade_calculated",
        "edx.grades.course.grade_calculated",
        "edx.course.grade.passed.first_time",
        "edx.course.grade.now_passed",
        "edx.course.grade.now_failed",
    }
)


def _stem(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]


@cache
def _plan() -> Plan:
    return load_plan(SETTINGS, CALIPER, environ={})


@cache
def _translator() -> Translator:
    return Translator(_plan(), id_namespace=SETTINGS.id_namespace)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _event_of(stem: str, names: list[str]) -> str | None:
    matches = [n for n in names if stem == n or stem.startswith(n + ".")]
    return max(matches, key=len) if matches else None


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: _stem(p, INPUT_SUFFIX))
def test_golden_caliper_pair_matches(input_path: Path) -> None:
    expected_path = GOLDEN / (_stem(input_path, INPUT_SUFFIX) + EXPECTED_SUFFIX)
    if not expected_path.exists():
        pytest.fail(f"{input_path.name} has no {expected_path.name}", pytrace=False)
    raw = _read(input_path)
    text = expected_path.read_text(encoding="utf-8")
    expected = json.loads(text.replace(VERSION_PLACEHOLDER, translator_version()))

    outcome = _translator().translate(normalise(raw))

    if isinstance(expected, dict):
        [(status, reason)] = expected.items()
        assert (outcome.status, outcome.reason) == (status, reason)
        assert outcome.statements == []
        return
    assert (outcome.status, outcome.reason) == ("translated", "")
    assert outcome.statements == expected
    for event in outcome.statements:
        assert_valid_event(event)
        if raw.get("username"):  # a batch task logs "" (no one's name to leak)
            assert raw["username"] not in json.dumps(event)


def test_golden_caliper_every_mapped_event_has_a_pair() -> None:
    names = _plan().event_names()
    assert len(names) >= 50
    covered = {_event_of(_stem(p, INPUT_SUFFIX), names) for p in INPUTS}
    missing = [name for name in names if name not in covered]
    assert not missing, f"mapped events without a golden pair in {GOLDEN}: {missing}"


def test_golden_caliper_every_file_has_its_pair() -> None:
    inputs = {_stem(p, INPUT_SUFFIX) for p in INPUTS}
    expected = {_stem(p, EXPECTED_SUFFIX) for p in GOLDEN.glob("*" + EXPECTED_SUFFIX)}
    assert inputs == expected


def test_golden_caliper_ids_are_stable_urn_uuids() -> None:
    raw = _read(GOLDEN / "problem_check.server.input.json")
    first = _translator().translate(normalise(raw)).statements[0]["id"]
    again = Translator(load_plan(SETTINGS, CALIPER, environ={}), id_namespace=SETTINGS.id_namespace)
    assert again.translate(normalise(raw)).statements[0]["id"] == first
    assert first.startswith("urn:uuid:")


def _not_mapped_by_caliper(xapi: Plan, caliper: Plan) -> list[str]:
    """The event names the xAPI plan translates and the Caliper plan does not."""
    return [name for name in xapi.event_names() if name not in caliper.events]


def _overlaid_plan(overlay: Path, text: str) -> Plan:
    """The Caliper plan with `text` as the one file of the overlay's caliper/ folder."""
    (overlay / "caliper").mkdir(parents=True)
    (overlay / "caliper" / "events.yaml").write_text(text, encoding="utf-8")
    settings = Settings(
        lms_root_url=SETTINGS.lms_root_url,
        pseudonym_secret="golden-test-secret",
        overlays=(overlay,),
    )
    return load_plan(settings, CALIPER, environ={})


def test_caliper_maps_every_xapi_event() -> None:
    xapi = load_plan(SETTINGS, XAPI, environ={})
    caliper = _plan()
    assert len(xapi.event_names()) >= 150
    assert not dict(caliper.disabled), (
        "mappings/caliper/ leaves events out with !disable; map them to a Caliper 1.2 event"
    )
    missing = _not_mapped_by_caliper(xapi, caliper)
    assert not missing, f"xAPI-mapped events the core Caliper mappings do not map: {missing}"


def test_caliper_maps_every_xapi_event_finds_a_mapping_taken_away(tmp_path: Path) -> None:
    xapi = load_plan(SETTINGS, XAPI, environ={})
    overlaid = _overlaid_plan(
        tmp_path / "o",
        'events:\n  edx.forum.thread.voted: !delete\n  page_close: !disable "no page views"\n',
    )
    assert _not_mapped_by_caliper(xapi, overlaid) == ["edx.forum.thread.voted", "page_close"]


def test_caliper_disabled_event_is_skipped_with_its_reason(tmp_path: Path) -> None:
    plan = _overlaid_plan(tmp_path / "o", 'events:\n  page_close: !disable "no page views"\n')
    assert dict(plan.disabled) == {"page_close": "no page views"}
    translator = Translator(plan, id_namespace=SETTINGS.id_namespace)
    outcome = translator.translate(normalise(_read(GOLDEN / "page_close.input.json")))
    assert (outcome.status, outcome.reason, outcome.statements) == (
        "skipped",
        "no page views",
        [],
    )


def _grader_problems(name: str, event: dict[str, Any]) -> list[str]:
    """What is wrong with who grades in `event`, a Caliper event of the edX event `name`: a
    GradeEvent's actor must be the LMS (the edApp, a SoftwareApplication, which also scored it),
    the learner its Attempt's assignee; for the events of GRADED_BY_A_PERSON, a Person who is
    also the Score's scorer. Any other event: nothing."""
    if event.get("type") != "GradeEvent":
        return []
    actor = event.get("actor")
    scored_by = event.get("generated", {}).get("scoredBy")
    problems = []
    if name in GRADED_BY_A_PERSON:
        if not isinstance(actor, dict) or actor.get("type") != "Person":
            problems.append(f"{name}: a person grades it, but the actor is {actor!r}")
        if scored_by != actor:
            problems.append(f"{name}: the actor {actor!r} did not score it ({scored_by!r})")
        return problems
    lms = {"id": SETTINGS.lms_root_url, "type": "SoftwareApplication"}
    if actor != lms or event.get("edApp") != lms:
        problems.append(f"{name}: auto-graded, but the actor is {actor!r}, not the LMS {lms!r}")
    if scored_by != lms:
        problems.append(f"{name}: auto-graded, but scored by {scored_by!r}")
    assignee = event.get("object", {}).get("assignee")
    if not isinstance(assignee, dict) or assignee.get("type") != "Person":
        problems.append(f"{name}: the learner is not the Attempt's assignee ({assignee!r})")
    return problems


def test_golden_caliper_grade_events_name_their_grader() -> None:
    names = _plan().event_names()
    problems: list[str] = []
    graded: set[str] = set()
    for path in INPUTS:
        name = _event_of(_stem(path, INPUT_SUFFIX), names)
        assert name is not None, path.name
        for event in _translator().translate(normalise(_read(path))).statements:
            if event["type"] == "GradeEvent":
                graded.add(name)
                problems += _grader_problems(name, event)
    assert not problems, "\n".join(problems)
    # Every GradeEvent is one of the two kinds, and each kind was checked on real output: an
    # event that stops being a GradeEvent (or a new one) shows here, and is sorted by hand.
    assert graded == AUTO_GRADED | GRADED_BY_A_PERSON


def test_golden_caliper_grade_events_name_their_grader_finds_the_learner_as_actor() -> None:
    raw = _read(GOLDEN / "problem_check.server.input.json")
    [event] = _translator().translate(normalise(raw)).statements
    assert _grader_problems("problem_check", event) == []
    learner = event["object"]["assignee"]
    assert _grader_problems("problem_check", {**event, "actor": learner}) == [
        f"problem_check: auto-graded, but the actor is {learner!r}, not the LMS "
        f"{{'id': 'http://localhost:18000', 'type': 'SoftwareApplication'}}"
    ]
    unassigned = {**event, "object": {k: v for k, v in event["object"].items() if k != "assignee"}}
    assert _grader_problems("problem_check", unassigned) == [
        "problem_check: the learner is not the Attempt's assignee (None)"
    ]
    peer = _read(GOLDEN / "openassessmentblock.peer_assess.input.json")
    [assessed] = _translator().translate(normalise(peer)).statements
    assert _grader_problems("openassessmentblock.peer_assess", assessed) == []
    lms = event["edApp"]
    assert _grader_problems("openassessmentblock.peer_assess", {**assessed, "actor": lms}) == [
        f"openassessmentblock.peer_assess: a person grades it, but the actor is {lms!r}",
        f"openassessmentblock.peer_assess: the actor {lms!r} did not score it "
        f"({assessed['generated']['scoredBy']!r})",
    ]

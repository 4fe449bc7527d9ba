"""The erb-compat overlay's grade and answer statements: for each grade event ERB maps, and
showanswer, a tracking-log line of our own and the statement ERB makes of it, id included (its
recipe written out here independently); then ERB's scores of 0 out of 0 and null members, its
timestamps, and the lines ERB's transform raises on (rejected here)."""

from __future__ import annotations

from typing import Any

import pytest
from support.erb import erb_compat_translator, erb_statement_id

from translator.engine import REJECTED, SKIPPED, TRANSLATED, Translator
from translator.errors import TranslationError
from translator.intake.events import normalise
from translator.targets.xapi import XAPI

LMS = "http://lms.example.org"
LEARNER = "5f0e2a61-3c1b-4d7e-9a08-6b2c4d1e7f93"
COURSE = "course-v1:Uni+Chem201+2025"
SESSION = "9a8b7c6d5e4f30211f0e1d2c3b4a5968"
VERSION = "event-routing-backends@9.9.9"
PROBLEM = "block-v1:Uni+Chem201+2025+type@problem+block@acid1"
SUBSECTION = "block-v1:Uni+Chem201+2025+type@sequential+block@week2"
SUBMITTED = "edx.grades.problem.submitted"
COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"


def _verb(iri: str) -> dict[str, Any]:
    return {"id": iri, "display": {"en": iri.rsplit("/", 1)[-1]}}


ATTEMPTED = _verb("http://adlnet.gov/expapi/verbs/attempted")
EARNED = _verb("http://id.tincanapi.com/verb/earned")
PASSED = _verb("http://adlnet.gov/expapi/verbs/passed")
FAILED = _verb("http://adlnet.gov/expapi/verbs/failed")
ASKED = _verb("http://adlnet.gov/expapi/verbs/asked")


def _erb_id(verb: dict[str, Any], timestamp: str) -> str:
    return erb_statement_id(verb, LEARNER, LMS, timestamp)


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-grades")
    return erb_compat_translator(
        folder,
        XAPI,
        lms=LMS,
        actor_row=f"52,{LEARNER},grace",
        course_rows=f'{COURSE},"Chemistry, II"',
        version=VERSION,
    )


def _time(second: int) -> str:
    return f"2025-02-03T04:05:{second:02d}.654321+00:00"


def _line(name: str, time: str, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A grade event as the LMS logs it: a server event whose `event` names the learner (a grade
    is often recalculated by a task, outside the learner's request, so context.user_id may be
    someone else's or absent)."""
    line: dict[str, Any] = {
        "name": name,
        "event_type": name,
        "event_source": "server",
        "time": time,
        "session": SESSION,
        "host": "lms.example.org",
        "context": {"course_id": COURSE, "user_id": None, "org_id": "Uni", "path": "/task"},
        "event": {"user_id": "52", "course_id": COURSE, **data},
    }
    line.update(changes)
    return line


def _context(*, parent: bool = True) -> dict[str, Any]:
    context: dict[str, Any] = {
        "extensions": {
            "https://w3id.org/xapi/openedx/extension/transformer-version": VERSION,
            "https://w3id.org/xapi/openedx/extensions/session-id": SESSION,
        }
    }
    if parent:
        context["contextActivities"] = {
            "parent": [
                {
                    "objectType": "Activity",
                    "id": f"{LMS}/course/{COURSE}",
                    "definition": {"type": COURSE_TYPE, "name": {"en-US": "Chemistry, II"}},
                }
            ]
        }
    return context


def _erb_statement(
    verb: dict[str, Any],
    time: str,
    obj: dict[str, Any],
    *,
    result: dict[str, Any] | None = None,
    parent: bool = True,
) -> dict[str, Any]:
    """The statement ERB makes of a grade event (ERB 10.0.0)."""
    statement: dict[str, Any] = {
        "id": _erb_id(verb, time),
        "version": "1.0.3",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": LEARNER}},
        "verb": verb,
        "object": obj,
        "timestamp": time,
        "context": _context(parent=parent),
    }
    if result is not None:
        statement["result"] = result
    return statement


def _activity(iri: str, kind: str) -> dict[str, Any]:
    return {"objectType": "Activity", "id": iri, "definition": {"type": kind}}


QUESTION = _activity(f"{LMS}/xblock/{PROBLEM}", "http://adlnet.gov/expapi/activities/question")
RESOURCE = _activity(f"{LMS}/xblock/{SUBSECTION}", "http://id.tincanapi.com/activitytype/resource")
GRADED_COURSE = {
    "objectType": "Activity",
    "id": f"{LMS}/course/{COURSE}",
    "definition": {"type": COURSE_TYPE, "name": {"en": "Chemistry, II"}},
}
ENROLLED_COURSE = {
    "objectType": "Activity",
    "id": f"{LMS}/course/{COURSE}",
    "definition": {"type": COURSE_TYPE, "name": {"en": "Chemistry, II"}, "extensions": {}},
}


def _score(raw: float, maximum: float, scaled: float) -> dict[str, Any]:
    return {"min": 0.0, "max": maximum, "raw": raw, "scaled": scaled}


# (name, event data, verb, ERB's object, ERB's result, a course parent): one per name.
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], Any, bool]] = [
    (
        "edx.grades.problem.submitted",
        {"problem_id": PROBLEM, "weighted_earned": 2, "weighted_possible": 3},
        ATTEMPTED,
        QUESTION,
        {"score": _score(2.0, 3.0, 2 / 3), "success": False},
        True,
    ),
    (
        "edx.grades.subsection.grade_calculated",
        {
            "block_id": SUBSECTION,
            "weighted_total_earned": 4.5,
            "weighted_total_possible": 4.5,
            "weighted_graded_earned": 1,
            "weighted_graded_possible": 2,
            "first_attempted": "2025-02-01 10:00:00+00:00",
        },
        EARNED,
        RESOURCE,
        {"score": _score(4.5, 4.5, 1.0), "success": True},
        True,
    ),
    (
        "edx.grades.course.grade_calculated",
        {"percent_grade": 0.87, "letter_grade": "B", "course_version": "v1"},
        EARNED,
        GRADED_COURSE,
        {
            "score": _score(0.87, 1.0, 0.87),
            "extensions": {"http://www.tincanapi.co.uk/activitytypes/grade_classification": "B"},
        },
        True,
    ),
    ("edx.course.grade.passed.first_time", {}, PASSED, ENROLLED_COURSE, None, False),
    ("edx.course.grade.now_passed", {}, PASSED, ENROLLED_COURSE, None, False),
    ("edx.course.grade.now_failed", {}, FAILED, ENROLLED_COURSE, None, False),
]


@pytest.mark.parametrize(
    ("second", "name", "data", "verb", "obj", "result", "parent"),
    [(second, *case) for second, case in enumerate(CASES)],
    ids=[case[0] for case in CASES],
)
def test_erb_compat_grade_event_is_erbs_statement(
    translator: Translator,
    second: int,
    name: str,
    data: dict[str, Any],
    verb: dict[str, Any],
    obj: dict[str, Any],
    result: Any,
    parent: bool,
) -> None:
    time = _time(second)
    outcome = translator.translate(normalise(_line(name, time, data)))
    assert outcome.status == TRANSLATED, outcome.reason
    (statement,) = outcome.statements
    assert statement == _erb_statement(verb, time, obj, result=result, parent=parent)
    # tincan writes every score member as a float
    for value in statement.get("result", {}).get("score", {}).values():
        assert type(value) is float


def test_erb_compat_showanswer_is_erbs_statement(translator: Translator) -> None:
    time = _time(10)
    line = _line("showanswer", time, {"problem_id": PROBLEM}, event_source="server")
    line["context"] = {**line["context"], "user_id": 52}
    del line["event"]["user_id"]
    (statement,) = translator.translate(normalise(line)).statements
    answer = _activity(
        f"{LMS}/xblock/{PROBLEM}/answer", "http://id.tincanapi.com/activitytype/solution"
    )
    assert statement == _erb_statement(ASKED, time, answer)


# --- ERB's quirks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("earned", "possible", "score", "success"),
    [
        (0, 0, _score(0.0, 0.0, 0.0), True),  # 0 out of 0: scaled 0, success (0 >= 0)
        (0, None, _score(0.0, 0.0, 0.0), True),  # null counts 0
        (None, 5, _score(0.0, 5.0, 0.0), False),
        (1, 4, _score(1.0, 4.0, 0.25), False),
        (2, 2, _score(2.0, 2.0, 1.0), True),
    ],
)
def test_erb_compat_problem_score_is_erbs(
    translator: Translator, earned: Any, possible: Any, score: dict[str, Any], success: bool
) -> None:
    data = {"problem_id": PROBLEM, "weighted_earned": earned, "weighted_possible": possible}
    (statement,) = translator.translate(
        normalise(_line("edx.grades.problem.submitted", _time(20), data))
    ).statements
    assert statement["result"] == {"score": score, "success": success}


def test_erb_compat_score_above_its_max_is_rejected_as_xapi_requires(
    translator: Translator,
) -> None:
    # ERB writes it; xAPI refuses a raw score above max, and no relaxation lets it through
    data = {"problem_id": PROBLEM, "weighted_earned": 2.5, "weighted_possible": 2}
    outcome = translator.translate(
        normalise(_line("edx.grades.problem.submitted", _time(25), data))
    )
    assert outcome.status == REJECTED


def test_erb_compat_zero_out_of_zero_is_kept_under_the_declared_relaxation(
    translator: Translator,
) -> None:
    data = {"block_id": SUBSECTION, "weighted_total_earned": 0, "weighted_total_possible": 0}
    (statement,) = translator.translate(
        normalise(_line("edx.grades.subsection.grade_calculated", _time(21), data))
    ).statements
    assert statement["result"]["score"] == _score(0.0, 0.0, 0.0)
    with pytest.raises(TranslationError, match="is not less than max"):
        XAPI.check(statement)  # the default target keeps the rule


def test_erb_compat_problem_named_by_module_id(translator: Translator) -> None:
    data = {"module_id": PROBLEM, "weighted_earned": 1, "weighted_possible": 1}
    (statement,) = translator.translate(
        normalise(_line("edx.grades.problem.submitted", _time(22), data))
    ).statements
    assert statement["object"] == QUESTION


@pytest.mark.parametrize(("letter", "classification"), [("", "Fail"), (None, "Fail"), ("A", "A")])
def test_erb_compat_course_grade_without_letter_is_fail(
    translator: Translator, letter: Any, classification: str
) -> None:
    data = {"percent_grade": None, "letter_grade": letter}
    (statement,) = translator.translate(
        normalise(_line("edx.grades.course.grade_calculated", _time(23), data))
    ).statements
    assert statement["result"] == {
        "score": _score(0.0, 1.0, 0.0),
        "extensions": {
            "http://www.tincanapi.co.uk/activitytypes/grade_classification": classification
        },
    }


def test_erb_compat_timestamp_is_written_as_tincan_writes_it(translator: Translator) -> None:
    # tincan writes the instant as Python's isoformat; the id hashes the time as logged
    time = "2025-02-03T04:05:06.5Z"
    (statement,) = translator.translate(
        normalise(_line("edx.course.grade.now_failed", time, {}))
    ).statements
    assert statement["timestamp"] == "2025-02-03T04:05:06.500000+00:00"
    assert statement["id"] == _erb_id(FAILED, time)


def test_erb_compat_grade_of_the_learner_named_by_the_event(translator: Translator) -> None:
    # the learner is event.user_id, whoever made the request (context.user_id)
    line = _line("edx.course.grade.now_passed", _time(24), {})
    line["context"] = {**line["context"], "user_id": 7}
    (statement,) = translator.translate(normalise(line)).statements
    assert statement["actor"]["account"]["name"] == LEARNER


# --- what ERB's transform raises on: rejected, with the reason -------------------------------


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        (SUBMITTED, {"weighted_earned": 1, "weighted_possible": 1}, "module_id"),
        (SUBMITTED, {"problem_id": PROBLEM, "weighted_earned": 1}, "weighted_possible"),
        (SUBMITTED, {"problem_id": PROBLEM, "weighted_possible": 1}, "weighted_earned"),
        (
            "edx.grades.problem.submitted",
            {"problem_id": PROBLEM, "weighted_earned": "1", "weighted_possible": 1},
            "not a number",
        ),
        (
            "edx.grades.subsection.grade_calculated",
            {"weighted_total_earned": 1, "weighted_total_possible": 1},
            "block_id",
        ),
        (
            "edx.grades.subsection.grade_calculated",
            {"block_id": SUBSECTION, "weighted_total_earned": 1},
            "weighted_total_possible",
        ),
        ("edx.grades.course.grade_calculated", {"letter_grade": "A"}, "percent_grade"),
        ("edx.grades.course.grade_calculated", {"percent_grade": "most"}, "not a number"),
    ],
)  # fmt: skip
def test_erb_compat_grade_line_erb_cannot_transform_is_rejected(
    translator: Translator, name: str, data: dict[str, Any], reason: str
) -> None:
    outcome = translator.translate(normalise(_line(name, _time(30), data)))
    assert outcome.status == REJECTED
    assert reason in (outcome.reason or "")


def test_erb_compat_course_grade_without_course_is_rejected(translator: Translator) -> None:
    line = _line("edx.grades.course.grade_calculated", _time(31), {"percent_grade": 0.5})
    line["context"] = {**line["context"], "course_id": ""}
    outcome = translator.translate(normalise(line))
    assert outcome.status == REJECTED
    assert "context.course_id" in (outcome.reason or "")


def test_erb_compat_grade_of_no_learner_is_skipped(translator: Translator) -> None:
    line = _line("edx.course.grade.now_passed", _time(32), {})
    del line["event"]["user_id"]
    outcome = translator.translate(normalise(line))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")

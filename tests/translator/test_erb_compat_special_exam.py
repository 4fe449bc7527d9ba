"""The erb-compat overlay's special exam statements: for each attempt event ERB maps (created
and submitted of timed, practice and proctored exams) a tracking-log line of our own and the
statement ERB makes of it, id included (its recipe written out here independently); then the
ids that are no IRIs (relaxed), the steps ERB does not map, and the lines ERB sends nothing for
(rejected here)."""

from __future__ import annotations

from typing import Any

import pytest
from support.erb import erb_compat_translator, erb_statement_id

from translator.engine import REJECTED, TRANSLATED, Translator
from translator.errors import TranslationError
from translator.intake.events import normalise
from translator.targets.xapi import XAPI

LMS = "http://lms.example.org"
LEARNER = "8d3f1a2b-6c4e-4d59-a7b0-1e2f3c4d5a6b"
COURSE = "course-v1:Uni+Law300+2025"
SESSION = "aabbccddeeff00112233445566778899"
VERSION = "event-routing-backends@9.9.9"
EXAM = "block-v1:Uni+Law300+2025+type@sequential+block@midterm"
CODE = "9C1E7A52-3B4D-4E6F-8A90-B1C2D3E4F506"
INITIALIZED = {"id": "http://adlnet.gov/expapi/verbs/initialized", "display": {"en": "initialized"}}
TERMINATED = {"id": "http://adlnet.gov/expapi/verbs/terminated", "display": {"en": "terminated"}}
ACROSSX = "https://w3id.org/xapi/acrossx/extensions/"
OPENEDX = "https://w3id.org/xapi/openedx/extension/"
TINCAN = "http://id.tincanapi.com/extension/"


def _erb_id(verb: dict[str, Any], timestamp: str) -> str:
    return erb_statement_id(verb, LEARNER, LMS, timestamp)


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-exam")
    return erb_compat_translator(
        folder,
        XAPI,
        lms=LMS,
        actor_row=f"85,{LEARNER},joan",
        course_rows=f"{COURSE},Contract Law",
        version=VERSION,
    )


def _time(second: int) -> str:
    return f"2025-06-07T08:09:{second:02d}.445566+00:00"


def _line(name: str, time: str, **data: Any) -> dict[str, Any]:
    submitted = name.endswith("submitted")
    event = {
        "exam_id": 4,
        "exam_content_id": EXAM,
        "exam_name": "Midterm",
        "exam_default_time_limit_mins": 90,
        "exam_is_proctored": "proctored" in name,
        "exam_is_practice_exam": "practice" in name,
        "exam_is_active": True,
        "attempt_id": 12,
        "attempt_user_id": 85,
        "attempt_started_at": "2025-06-07T07:00:00.000001+00:00" if submitted else None,
        "attempt_completed_at": "2025-06-07T08:09:00.5+00:00" if submitted else None,
        "attempt_code": CODE,
        "attempt_allowed_time_limit_mins": 90,
        "attempt_status": "submitted" if submitted else "created",
        "attempt_event_elapsed_time_secs": 4140.5 if submitted else None,
        **data,
    }
    return {
        "name": name,
        "event_type": name,
        "event_source": "server",
        "time": time,
        "session": SESSION,
        "context": {"course_id": COURSE, "user_id": 85, "org_id": "Uni", "path": "/api/x"},
        "event": event,
    }


def _erb_statement(name: str, time: str) -> dict[str, Any]:
    kind = name.split(".")[2]
    submitted = name.endswith("submitted")
    attempt_extensions: dict[str, Any] = {f"{TINCAN}attempt-id": 12}
    if submitted:
        attempt_extensions.update(
            {
                f"{OPENEDX}attempt-started": "2025-06-07T07:00:00.000001+00:00",
                f"{OPENEDX}attempt-completed": "2025-06-07T08:09:00.5+00:00",
                f"{TINCAN}duration": 4140.5,
            }
        )
    verb = TERMINATED if submitted else INITIALIZED
    return {
        "id": _erb_id(verb, time),
        "version": "1.0.3",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": LEARNER}},
        "verb": verb,
        "object": {
            "objectType": "Activity",
            "id": EXAM,  # the bare usage key, no IRI
            "definition": {
                "type": f"https://w3id.org/xapi/openedx/activity/{kind}-assessment",
                "name": {"en": "Midterm"},
                "extensions": {f"{ACROSSX}time-limit": 90},
            },
        },
        "timestamp": time,
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": f"{LMS}/course/{COURSE}",
                        "definition": {
                            "type": "http://adlnet.gov/expapi/activities/course",
                            "name": {"en-US": "Contract Law"},
                        },
                    }
                ],
                "grouping": [
                    {
                        "objectType": "Activity",
                        "id": CODE,  # the attempt code, no IRI
                        "definition": {
                            "type": "http://adlnet.gov/expapi/activities/attempt",
                            "name": {"en": "Midterm"},
                            "extensions": attempt_extensions,
                        },
                    }
                ],
            },
            "extensions": {
                f"{OPENEDX}transformer-version": VERSION,
                "https://w3id.org/xapi/openedx/extensions/session-id": SESSION,
            },
        },
    }


NAMES = [
    f"edx.special_exam.{kind}.attempt.{step}"
    for step in ("created", "submitted")
    for kind in ("timed", "practice", "proctored")
]


@pytest.mark.parametrize(("second", "name"), list(enumerate(NAMES)), ids=NAMES)
def test_erb_compat_special_exam_event_is_erbs_statement(
    translator: Translator, second: int, name: str
) -> None:
    time = _time(second)
    outcome = translator.translate(normalise(_line(name, time)))
    assert outcome.status == TRANSLATED, outcome.reason
    (statement,) = outcome.statements
    assert statement == _erb_statement(name, time)
    # reproduced under the declared relaxation only: the default target refuses both ids
    with pytest.raises(TranslationError, match="is not an absolute IRI"):
        XAPI.check(statement)


def test_erb_compat_exam_learner_is_the_requests(translator: Translator) -> None:
    # ERB names the learner of the request, not attempt_user_id
    line = _line("edx.special_exam.timed.attempt.created", _time(10), attempt_user_id=99)
    (statement,) = translator.translate(normalise(line)).statements
    assert statement["actor"]["account"]["name"] == LEARNER


@pytest.mark.parametrize(
    "name",
    [
        "edx.special_exam.timed.attempt.started",
        "edx.special_exam.proctored.attempt.ready_to_submit",
    ],
)
def test_erb_compat_exam_steps_erb_does_not_map_keep_the_cores_statement(
    translator: Translator, name: str
) -> None:
    (statement,) = translator.translate(normalise(_line(name, _time(11)))).statements
    assert statement["object"]["id"] == f"{LMS}/xblock/{EXAM}"
    grouping = statement["context"]["contextActivities"]["grouping"]
    assert grouping[0]["id"] == f"{LMS}/xblock/{EXAM}/attempts/12"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"exam_content_id": ""}, "event.exam_content_id"),
        ({"exam_name": None}, "event.exam_name"),
        ({"attempt_code": ""}, "event.attempt_code"),
    ],
)
def test_erb_compat_exam_line_erb_sends_nothing_for_is_rejected(
    translator: Translator, data: dict[str, Any], reason: str
) -> None:
    line = _line("edx.special_exam.practice.attempt.submitted", _time(12), **data)
    outcome = translator.translate(normalise(line))
    assert outcome.status == REJECTED
    assert reason in (outcome.reason or "")

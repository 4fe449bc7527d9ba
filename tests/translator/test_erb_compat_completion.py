"""The erb-compat overlay's completion statements: edx.completion.block_completion.changed as a
tracking-log line of our own and the statement ERB makes of it, id included (its recipe written
out here independently); then ERB's progress arithmetic and the lines ERB sends nothing for
(rejected here)."""

from __future__ import annotations

from typing import Any

import pytest
from support.erb import erb_compat_translator, erb_statement_id

from translator.engine import REJECTED, SKIPPED, TRANSLATED, Translator
from translator.intake.events import normalise
from translator.targets.xapi import XAPI

LMS = "http://lms.example.org"
LEARNER = "c4a1e9f0-7b3d-4e25-8f16-0d9e2b7a5c38"
COURSE = "course-v1:Uni+Geo110+2025"
SESSION = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
VERSION = "event-routing-backends@9.9.9"
BLOCK = "block-v1:Uni+Geo110+2025+type@html+block@rivers"
PROGRESSED = {"id": "http://adlnet.gov/expapi/verbs/progressed", "display": {"en": "progressed"}}
PROGRESS = "https://w3id.org/xapi/cmi5/result/extensions/progress"
NAME = "edx.completion.block_completion.changed"


def _erb_id(timestamp: str) -> str:
    return erb_statement_id(PROGRESSED, LEARNER, LMS, timestamp)


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-completion")
    return erb_compat_translator(
        folder,
        XAPI,
        lms=LMS,
        actor_row=f"63,{LEARNER},hedy",
        course_rows=f"{COURSE},Geography",
        version=VERSION,
    )


def _time(second: int) -> str:
    return f"2025-04-05T06:07:{second:02d}.000321+00:00"


def _line(time: str, **data: Any) -> dict[str, Any]:
    """The completion service's event: the learner in `event.user_id`, the request's user (who
    may be someone else, or no one for a task) in context."""
    return {
        "name": NAME,
        "time": time,
        "session": SESSION,
        "context": {"course_id": COURSE, "user_id": 2, "org_id": "Uni", "path": "/x"},
        "event": {
            "user_id": 63,
            "course_id": COURSE,
            "context_key": COURSE,
            "block_id": BLOCK,
            "block_type": "html",
            "is_new": True,
            **data,
        },
    }


def _erb_statement(time: str, result: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": _erb_id(time),
        "version": "1.0.3",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": LEARNER}},
        "verb": PROGRESSED,
        "object": {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{BLOCK}",
            "definition": {"type": "http://id.tincanapi.com/activitytype/resource"},
        },
        "timestamp": time,
        "result": result,
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": f"{LMS}/course/{COURSE}",
                        "definition": {
                            "type": "http://adlnet.gov/expapi/activities/course",
                            "name": {"en-US": "Geography"},
                        },
                    }
                ]
            },
            "extensions": {
                "https://w3id.org/xapi/openedx/extension/transformer-version": VERSION,
                "https://w3id.org/xapi/openedx/extensions/session-id": SESSION,
            },
        },
    }


@pytest.mark.parametrize(
    ("completion", "result"),
    [
        (1.0, {"completion": True, "extensions": {PROGRESS: 100.0}}),
        (1, {"completion": True, "extensions": {PROGRESS: 100}}),  # Python's 1 == 1.0
        (0.5, {"completion": False, "extensions": {PROGRESS: 50.0}}),
        # unrounded, as Python multiplies
        (0.333, {"completion": False, "extensions": {PROGRESS: 33.300000000000004}}),
        (0, {"completion": False, "extensions": {PROGRESS: 0}}),
    ],
)
def test_erb_compat_completion_is_erbs_statement(
    translator: Translator, completion: float, result: dict[str, Any]
) -> None:
    time = _time(1)
    outcome = translator.translate(normalise(_line(time, completion=completion)))
    assert outcome.status == TRANSLATED, outcome.reason
    (statement,) = outcome.statements
    assert statement == _erb_statement(time, result)
    progress = statement["result"]["extensions"][PROGRESS]
    assert type(progress) is type(result["extensions"][PROGRESS])


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"completion": None}, "event.completion is not a number"),
        ({"completion": "1.0"}, "event.completion is not a number"),
        ({"completion": 1.0, "block_id": ""}, "event.block_id"),
    ],
)
def test_erb_compat_completion_erb_sends_nothing_for_is_rejected(
    translator: Translator, data: dict[str, Any], reason: str
) -> None:
    outcome = translator.translate(normalise(_line(_time(2), **data)))
    assert outcome.status == REJECTED
    assert reason in (outcome.reason or "")


def test_erb_compat_completion_of_no_learner_is_skipped(translator: Translator) -> None:
    line = _line(_time(3), completion=1.0)
    del line["event"]["user_id"]
    line["context"] = {**line["context"], "user_id": None}
    outcome = translator.translate(normalise(line))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")

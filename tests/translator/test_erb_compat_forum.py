"""The erb-compat overlay's forum statements for posts edited, deleted, reported and
unreported (thread, response, comment): for each name a tracking-log line of our own and the
statement ERB makes of it, id included (its recipe written out here independently); then ERB's
IRIs built from the request path, and the lines its transform raises on (rejected here)."""

from __future__ import annotations

from typing import Any

import pytest
from support.erb import erb_compat_translator, erb_statement_id

from translator.engine import REJECTED, TRANSLATED, Translator
from translator.intake.events import normalise
from translator.targets.xapi import XAPI

LMS = "http://lms.example.org"
LEARNER = "e2b7c915-4a0d-4f63-b1e8-7d5a3c9f2046"
COURSE = "course-v1:Uni+Phil150+2025"
SESSION = "11223344556677889900aabbccddeeff"
VERSION = "event-routing-backends@9.9.9"
DISCUSSION = "http://id.tincanapi.com/activitytype/discussion"
THREAD = "5f3a9c0d1e2b4a6f8c7d9e0a"
POST = "6a4b0d1e2f3c5b7a9d8e0f1b"


def _verb(iri: str) -> dict[str, Any]:
    return {"id": iri, "display": {"en": iri.rsplit("/", 1)[-1]}}


VERBS = {
    "edited": _verb("https://w3id.org/xapi/acrossx/verbs/edited"),
    "deleted": _verb("https://w3id.org/xapi/dod-isd/verbs/deleted"),
    "reported": _verb("https://w3id.org/xapi/acrossx/verbs/reported"),
    "unreported": _verb("https://w3id.org/xapi/openedx/verb/unreported"),
}


def _erb_id(verb: dict[str, Any], timestamp: str) -> str:
    return erb_statement_id(verb, LEARNER, LMS, timestamp)


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-forum")
    return erb_compat_translator(
        folder,
        XAPI,
        lms=LMS,
        actor_row=f"74,{LEARNER},ida",
        course_rows=f"{COURSE},Ethics",
        version=VERSION,
    )


def _time(second: int) -> str:
    return f"2025-05-06T07:08:{second:02d}.112233+00:00"


# The request path the LMS logs for each kind of post (the discussion API, or the legacy
# forum views), and the event data it logs.
PATHS = {
    "thread": f"/api/discussion/v1/threads/{POST}/",
    "response": f"/courses/{COURSE}/discussion/comments/{POST}/update",
    "comment": f"/api/discussion/v1/comments/{POST}/",
}


def _line(name: str, time: str, **changes: Any) -> dict[str, Any]:
    kind = name.split(".")[2]
    data: dict[str, Any] = {
        "id": POST,
        "commentable_id": "topic-1",
        "category_name": "Week 1",
        "user_forums_roles": ["Student"],
        "team_id": None,
        "body": "edited text",
    }
    if kind == "thread":
        data.update(title="Is it right?", thread_type="discussion")
    else:
        data["discussion"] = {"id": THREAD}
    if kind == "comment":
        data["response"] = {"id": "7b5c1e2f3a4d6c8b0e9f1a2c"}
    line: dict[str, Any] = {
        "name": name,
        "event_type": name,
        "event_source": "server",
        "time": time,
        "session": SESSION,
        "context": {"course_id": COURSE, "user_id": 74, "org_id": "Uni", "path": PATHS[kind]},
        "event": data,
    }
    line.update(changes)
    return line


def _erb_statement(name: str, time: str) -> dict[str, Any]:
    """The statement ERB makes of a forum event (ERB 10.0.0): the post's IRI is the request
    path without the post's id and trailing slashes, then `/<id>`."""
    kind, action = name.split(".")[2:]
    path = PATHS[kind].rstrip("/").replace(POST, "").rstrip("/")
    obj: dict[str, Any] = {
        "objectType": "Activity",
        "id": f"{LMS}{path}/{POST}",
        "definition": {"type": DISCUSSION},
    }
    if kind == "thread":
        obj["definition"]["name"] = {"en": "Is it right?"}
    activities: dict[str, Any] = {
        "parent": [
            {
                "objectType": "Activity",
                "id": f"{LMS}/course/{COURSE}",
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"en-US": "Ethics"},
                },
            }
        ]
    }
    if kind != "thread":
        thread = f"{LMS}/api/discussion/v1/threads/{THREAD}"
        activities["grouping"] = [
            {"objectType": "Activity", "id": thread, "definition": {"type": DISCUSSION}}
        ]
    return {
        "id": _erb_id(VERBS[action], time),
        "version": "1.0.3",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": LEARNER}},
        "verb": VERBS[action],
        "object": obj,
        "timestamp": time,
        "context": {
            "contextActivities": activities,
            "extensions": {
                "https://w3id.org/xapi/openedx/extension/transformer-version": VERSION,
                "https://w3id.org/xapi/openedx/extensions/session-id": SESSION,
            },
        },
    }


NAMES = [
    f"edx.forum.{kind}.{action}"
    for action in ("edited", "deleted", "reported", "unreported")
    for kind in ("thread", "response", "comment")
]


@pytest.mark.parametrize(("second", "name"), list(enumerate(NAMES)), ids=NAMES)
def test_erb_compat_forum_event_is_erbs_statement(
    translator: Translator, second: int, name: str
) -> None:
    time = _time(second)
    outcome = translator.translate(normalise(_line(name, time)))
    assert outcome.status == TRANSLATED, outcome.reason
    (statement,) = outcome.statements
    assert statement == _erb_statement(name, time)


def test_erb_compat_forum_post_is_named_by_its_title_whatever_its_kind(
    translator: Translator,
) -> None:
    line = _line("edx.forum.response.edited", _time(20))
    line["event"]["title"] = "A titled response"
    (statement,) = translator.translate(normalise(line)).statements
    assert statement["object"]["definition"]["name"] == {"en": "A titled response"}
    line = _line("edx.forum.thread.deleted", _time(21))
    line["event"]["title"] = ""
    (statement,) = translator.translate(normalise(line)).statements
    assert "name" not in statement["object"]["definition"]


def test_erb_compat_forum_response_without_thread_has_no_grouping(
    translator: Translator,
) -> None:
    line = _line("edx.forum.response.reported", _time(22))
    del line["event"]["discussion"]
    (statement,) = translator.translate(normalise(line)).statements
    assert "grouping" not in statement["context"]["contextActivities"]


@pytest.mark.parametrize(("member", "where"), [("path", "context"), ("id", "event")])
def test_erb_compat_forum_line_erb_cannot_transform_is_rejected(
    translator: Translator, member: str, where: str
) -> None:
    line = _line("edx.forum.comment.deleted", _time(23))
    line[where] = {**line[where], member: ""}
    outcome = translator.translate(normalise(line))
    assert outcome.status == REJECTED
    assert "forum event without event.id or context.path" in (outcome.reason or "")

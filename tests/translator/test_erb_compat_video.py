"""The erb-compat overlay's video statements: for each video event name ERB maps, a tracking-log
line of our own and the statement ERB makes of it, id included (its recipe written out here
independently); then ERB's quirks, the lines ERB's transform raises on (rejected here) and the
edx.video.language_menu.* names ERB does not map (the core's statement)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from support.erb import erb_compat_translator, erb_statement_id
from support.tincan_check import assert_valid_statement

from translator.engine import REJECTED, SKIPPED, TRANSLATED, Translator
from translator.intake.events import normalise
from translator.targets.xapi import XAPI

LMS = "http://lms.example.org"
LEARNER = "7d1e0c52-9b3a-4f61-8a2e-5c4b3a291f08"
COURSE = "course-v1:Uni+Film101+2024"
CCX = "ccx-v1:Uni+Film101+2024+ccx@3"
SESSION = "4c1d9e0b7a6f52e38d0c1b2a3f4e5d6c"
VERSION = "event-routing-backends@9.9.9"
VIDEO = "https://w3id.org/xapi/video/activity-type/video"
EXT = "https://w3id.org/xapi/video/extensions/"
OPENEDX_EXT = "https://w3id.org/xapi/openedx/extension/"


def _verb(iri: str) -> dict[str, Any]:
    return {"id": iri, "display": {"en": iri.rsplit("/", 1)[-1]}}


INITIALIZED = _verb("http://adlnet.gov/expapi/verbs/initialized")
PLAYED = _verb("https://w3id.org/xapi/video/verbs/played")
PAUSED = _verb("https://w3id.org/xapi/video/verbs/paused")
TERMINATED = _verb("http://adlnet.gov/expapi/verbs/terminated")
COMPLETED = _verb("http://adlnet.gov/expapi/verbs/completed")
SEEKED = _verb("https://w3id.org/xapi/video/verbs/seeked")
INTERACTED = _verb("http://adlnet.gov/expapi/verbs/interacted")


def _erb_id(verb: dict[str, Any], timestamp: str) -> str:
    return erb_statement_id(verb, LEARNER, LMS, timestamp)


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-video")
    return erb_compat_translator(
        folder,
        XAPI,
        lms=LMS,
        actor_row=f"41,{LEARNER},ada",
        course_rows=f'{COURSE},"Film, I"\n{CCX},"Film, I (ccx)"',
        version=VERSION,
    )


def _line(name: str, time: str, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A video event as the LMS logs it: the browser's legacy name, or an edx.video.* name with
    the legacy event_type (the mobile apps); `event` is JSON text."""
    legacy = {
        "edx.video.loaded": "load_video",
        "edx.video.played": "play_video",
        "edx.video.paused": "pause_video",
        "edx.video.stopped": "stop_video",
        "edx.video.completed": "complete_video",
        "edx.video.position.changed": "seek_video",
        "edx.video.transcript.shown": "show_transcript",
        "edx.video.transcript.hidden": "hide_transcript",
    }
    line: dict[str, Any] = {
        "name": name,
        "event_type": legacy.get(name, name),
        "event_source": "mobile" if name in legacy else "browser",
        "time": time,
        "username": "ada",
        "session": SESSION,
        "ip": "203.0.113.9",
        "host": "lms.example.org",
        "page": f"{LMS}/courses/{COURSE}/courseware/c1/s1/1",
        "context": {"course_id": COURSE, "user_id": 41, "org_id": "Uni", "path": "/event"},
        "event": json.dumps(data),
    }
    line.update(changes)
    return line


def _erb_statement(
    verb: dict[str, Any],
    time: str,
    video: str,
    *,
    length: float | None = None,
    result: dict[str, Any] | None = None,
    course: str = COURSE,
    course_name: str = "Film, I",
) -> dict[str, Any]:
    """The statement ERB makes of a video event (its xAPI video transformers, ERB 10.0.0)."""
    extensions: dict[str, Any] = {
        "https://w3id.org/xapi/openedx/extension/transformer-version": VERSION,
        "https://w3id.org/xapi/openedx/extensions/session-id": SESSION,
    }
    if length is not None:
        extensions[EXT + "length"] = length
    block_version = "ccx-block-v1" if course.startswith("ccx-") else "block-v1"
    statement: dict[str, Any] = {
        "id": _erb_id(verb, time),
        "version": "1.0.3",
        "actor": {"objectType": "Agent", "account": {"homePage": LMS, "name": LEARNER}},
        "verb": verb,
        "object": {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{block_version}:{course.split(':')[1]}+type@video+block@{video}",
            "definition": {"type": VIDEO},
        },
        "timestamp": time,
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": f"{LMS}/course/{course}",
                        "definition": {
                            "type": "http://adlnet.gov/expapi/activities/course",
                            "name": {"en-US": course_name},
                        },
                    }
                ]
            },
            "extensions": extensions,
        },
    }
    if result is not None:
        statement["result"] = result
    return statement


def _time(second: int) -> str:
    return f"2024-03-04T05:06:{second:02d}.123456+00:00"


# (name, event data, verb, the video's length ERB states, ERB's result): one per name ERB maps.
CASES: list[tuple[str, dict[str, Any], dict[str, Any], float | None, dict[str, Any] | None]] = [
    ("load_video", {"id": "v1", "code": "html5", "duration": 600.5}, INITIALIZED, 600.5, None),
    ("edx.video.loaded", {"id": "v1", "code": "mobile"}, INITIALIZED, None, None),
    (
        "play_video",
        {"id": "v1", "code": "html5", "currentTime": 61.23456, "duration": 600.5},
        PLAYED,
        600.5,
        {"extensions": {EXT + "time": 61.235}},
    ),
    (
        "edx.video.played",
        {"id": "v1", "code": "mobile", "current_time": 12, "duration": "600.5"},
        PLAYED,
        600.5,
        {"extensions": {EXT + "time": 12.0}},
    ),
    (
        "pause_video",
        {"id": "v1", "code": "html5", "currentTime": 120, "duration": 600.5},
        PAUSED,
        600.5,
        {"extensions": {EXT + "time": 120.0}},
    ),
    (
        "edx.video.paused",
        {"id": "v1", "code": "mobile", "current_time": "75.5"},
        PAUSED,
        None,
        {"extensions": {EXT + "time": 75.5}},
    ),
    (
        "stop_video",
        {"id": "v1", "code": "html5", "currentTime": 600.49999, "duration": 600.5},
        TERMINATED,
        600.5,
        {"extensions": {EXT + "time": 600.5}},
    ),
    (
        "edx.video.stopped",
        {"id": "v1", "code": "mobile", "current_time": 600.5, "duration": 600.5},
        TERMINATED,
        600.5,
        {"extensions": {EXT + "time": 600.5}},
    ),
    (  # ERB's time is the video's length, and so is result.duration (as tincan writes it)
        "complete_video",
        {"id": "v1", "code": "html5", "duration": 600.5},
        COMPLETED,
        600.5,
        {"extensions": {EXT + "time": 600.5}, "completion": True, "duration": "PT10M00.5S"},
    ),
    (
        "edx.video.completed",
        {"id": "v1", "code": "mobile", "duration": 3725, "current_time": 3000},
        COMPLETED,
        3725.0,
        {"extensions": {EXT + "time": 3725.0}, "completion": True, "duration": "PT01H02M05S"},
    ),
    (
        "seek_video",
        {"id": "v1", "code": "html5", "old_time": 12.3456, "new_time": 200, "type": "onSlideSeek"},
        SEEKED,
        None,
        {"extensions": {EXT + "time-from": 12.346, EXT + "time-to": 200.0}},
    ),
    (  # an old_time of 0 is a time (no `or` here)
        "edx.video.position.changed",
        {"id": "v1", "code": "mobile", "old_time": 0, "new_time": 30.5, "duration": 600.5},
        SEEKED,
        600.5,
        {"extensions": {EXT + "time-from": 0.0, EXT + "time-to": 30.5}},
    ),
    (
        "show_transcript",
        {"id": "v1", "code": "html5", "current_time": 5, "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "time": 5.0, EXT + "cc-enabled": True}},
    ),
    (
        "edx.video.transcript.shown",
        {"id": "v1", "code": "mobile", "current_time": 6.0004},
        INTERACTED,
        None,
        {"extensions": {EXT + "time": 6.0, EXT + "cc-enabled": True}},
    ),
    (
        "hide_transcript",
        {"id": "v1", "code": "html5", "current_time": 7, "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "time": 7.0, EXT + "cc-enabled": False}},
    ),
    (
        "edx.video.transcript.hidden",
        {"id": "v1", "code": "mobile", "current_time": 8},
        INTERACTED,
        None,
        {"extensions": {EXT + "time": 8.0, EXT + "cc-enabled": False}},
    ),
    (
        "edx.video.closed_captions.shown",
        {"id": "v1", "code": "html5", "current_time": 9.87654, "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "time": 9.877, EXT + "cc-enabled": True}},
    ),
    (
        "edx.video.closed_captions.hidden",
        {"id": "v1", "code": "html5", "current_time": 10, "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "time": 10.0, EXT + "cc-enabled": False}},
    ),
    (  # no time logged: cc-enabled alone
        "video_show_cc_menu",
        {"id": "v1", "code": "html5", "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "cc-enabled": True}},
    ),
    (  # the learner picked a language: ERB says captions off, and leaves the language out
        "video_hide_cc_menu",
        {"id": "v1", "code": "html5", "current_time": 33.3, "language": "fr", "duration": 600.5},
        INTERACTED,
        600.5,
        {"extensions": {EXT + "time": 33.3, EXT + "cc-enabled": False}},
    ),
    (  # the speeds alone, no time
        "speed_change_video",
        {"id": "v1", "code": "html5", "current_time": 3.1, "old_speed": "1.0", "new_speed": "1.50"},
        INTERACTED,
        None,
        {"extensions": {OPENEDX_EXT + "speed-from": "1.0x", OPENEDX_EXT + "speed-to": "1.50x"}},
    ),
]

ERB_VIDEO_NAMES = {
    "load_video", "edx.video.loaded", "play_video", "edx.video.played", "pause_video",
    "edx.video.paused", "stop_video", "edx.video.stopped", "complete_video",
    "edx.video.completed", "seek_video", "edx.video.position.changed", "show_transcript",
    "edx.video.transcript.shown", "hide_transcript", "edx.video.transcript.hidden",
    "edx.video.closed_captions.shown", "edx.video.closed_captions.hidden", "video_show_cc_menu",
    "video_hide_cc_menu", "speed_change_video",
}  # fmt: skip


def test_cases_cover_every_video_event_name_erb_maps() -> None:
    assert [name for name, *_ in CASES] == list(dict.fromkeys(name for name, *_ in CASES))
    assert {name for name, *_ in CASES} == ERB_VIDEO_NAMES


@pytest.mark.parametrize(
    ("second", "name", "data", "verb", "length", "result"),
    [(second, *case) for second, case in enumerate(CASES)],
    ids=[case[0] for case in CASES],
)
def test_erb_compat_video_event_is_erbs_statement(
    translator: Translator,
    second: int,
    name: str,
    data: dict[str, Any],
    verb: dict[str, Any],
    length: float | None,
    result: dict[str, Any] | None,
) -> None:
    time = _time(second)
    outcome = translator.translate(normalise(_line(name, time, data)))
    assert outcome.status == TRANSLATED, outcome.reason
    (statement,) = outcome.statements
    assert statement == _erb_statement(verb, time, "v1", length=length, result=result)
    assert_valid_statement(statement)  # ERB's video statements need no relaxation


# --- ERB's quirks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "result"),
    [
        # ERB reads `current_time or currentTime`: a current_time of 0 gives way...
        ({"current_time": 0, "currentTime": 4.5}, {"extensions": {EXT + "time": 4.5}}),
        # ...even to nothing: then ERB's result is an empty extensions object
        ({"current_time": 0}, {"extensions": {}}),
        ({"currentTime": 0}, {"extensions": {EXT + "time": 0.0}}),
        ({"current_time": "", "currentTime": None}, {"extensions": {}}),
    ],
)
def test_erb_compat_video_time_is_current_time_or_current_time(
    translator: Translator, data: dict[str, Any], result: dict[str, Any]
) -> None:
    time = _time(40)
    (statement,) = translator.translate(
        normalise(_line("play_video", time, {"id": "v1", **data}))
    ).statements
    assert statement == _erb_statement(PLAYED, time, "v1", result=result)


def test_erb_compat_video_without_duration_or_session_states_neither(
    translator: Translator,
) -> None:
    time = _time(41)
    line = _line("complete_video", time, {"id": "v1", "duration": None})
    del line["session"]
    (statement,) = translator.translate(normalise(line)).statements
    expected = _erb_statement(COMPLETED, time, "v1", result={"extensions": {}, "completion": True})
    del expected["context"]["extensions"]["https://w3id.org/xapi/openedx/extensions/session-id"]
    assert statement == expected
    # a seek that logs no times: an empty extensions object too
    (seek,) = translator.translate(normalise(_line("seek_video", time, {"id": "v1"}))).statements
    assert seek["result"] == {"extensions": {}}


def test_erb_compat_video_of_a_ccx_course_is_a_ccx_block(translator: Translator) -> None:
    time = _time(42)
    line = _line("play_video", time, {"id": "v1", "currentTime": 1})
    line["context"] = {**line["context"], "course_id": CCX}
    (statement,) = translator.translate(normalise(line)).statements
    assert statement == _erb_statement(
        PLAYED,
        time,
        "v1",
        result={"extensions": {EXT + "time": 1.0}},
        course=CCX,
        course_name="Film, I (ccx)",
    )
    assert statement["object"]["id"] == (
        f"{LMS}/xblock/ccx-block-v1:Uni+Film101+2024+ccx@3+type@video+block@v1"
    )


def test_erb_compat_video_id_that_is_a_usage_key_is_wrapped_as_erb_does(
    translator: Translator,
) -> None:
    key = f"block-v1:{COURSE.split(':')[1]}+type@video+block@v1"
    (statement,) = translator.translate(
        normalise(_line("edx.video.loaded", _time(43), {"id": key}))
    ).statements
    assert statement["object"]["id"] == (
        f"{LMS}/xblock/block-v1:Uni+Film101+2024+type@video+block@{key}"
    )


def test_erb_compat_interactions_of_one_instant_share_erbs_id(translator: Translator) -> None:
    # ERB's id hashes verb, learner and time only: two "interacted" lines of one instant get
    # one id, so an LRS keeps the first (as it kept ERB's)
    time = _time(44)
    lines = [
        _line("edx.video.closed_captions.shown", time, {"id": "v1"}),
        _line("hide_transcript", time, {"id": "v2"}),
        _line("speed_change_video", time, {"id": "v1", "old_speed": "1.0", "new_speed": "2.0"}),
    ]
    ids = {translator.translate(normalise(line)).statements[0]["id"] for line in lines}
    assert ids == {_erb_id(INTERACTED, time)}


# --- what ERB's transform raises on: rejected, with the reason -------------------------------


@pytest.mark.parametrize(
    ("name", "data", "context", "reason"),
    [
        ("play_video", {"id": "v1"}, {"course_id": "Uni/Film101/2024"}, "course"),
        ("play_video", {"id": "v1"}, {"course_id": ""}, "course"),
        ("play_video", {"id": "v1"}, {"course_id": None}, "course"),
        ("load_video", {"code": "html5"}, {}, "course"),
        ("load_video", {"id": ""}, {}, "course"),
        ("load_video", {"id": "v1", "duration": "soon"}, {}, "event.duration is not a number"),
        ("pause_video", {"id": "v1", "currentTime": "n/a"}, {}, "event.current_time"),
        ("seek_video", {"id": "v1", "new_time": "end"}, {}, "event.new_time is not a number"),
        ("speed_change_video", {"id": "v1", "new_speed": "2.0"}, {}, "event.old_speed is not"),
        ("speed_change_video", {"id": "v1", "old_speed": "", "new_speed": "2.0"}, {}, "old_speed"),
        ("speed_change_video", {"id": "v1", "old_speed": "1.0", "new_speed": 2}, {}, "new_speed"),
    ],
)
def test_erb_compat_video_line_erb_cannot_transform_is_rejected(
    translator: Translator,
    name: str,
    data: dict[str, Any],
    context: dict[str, Any],
    reason: str,
) -> None:
    line = _line(name, _time(45), data)
    line["context"] = {**line["context"], **context}
    outcome = translator.translate(normalise(line))
    assert outcome.status == REJECTED
    assert reason in (outcome.reason or "")


def test_erb_compat_video_of_no_learner_is_skipped(translator: Translator) -> None:
    line = _line("play_video", _time(46), {"id": "v1"}, username="")
    line["context"] = {**line["context"], "user_id": None}
    outcome = translator.translate(normalise(line))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")


# --- names ERB does not map ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["edx.video.language_menu.shown", "edx.video.language_menu.hidden"]
)
def test_erb_compat_language_menu_names_keep_the_cores_statement(
    translator: Translator, name: str
) -> None:
    # ERB has no transformer for these names (only for video_show_cc_menu, video_hide_cc_menu):
    # they keep the core's statement, as every event ERB does not map
    legacy = "video_show_cc_menu" if name.endswith("shown") else "video_hide_cc_menu"
    time = _time(47)
    line = _line(name, time, {"id": "v1", "language": "fr"}, event_type=legacy)
    (statement,) = translator.translate(normalise(line)).statements
    assert statement["id"] != _erb_id(INTERACTED, time)
    assert (
        statement["object"]["id"] == f"{LMS}/xblock/block-v1:Uni+Film101+2024+type@video+block@v1"
    )
    assert statement["context"]["extensions"][EXT + "cc-subtitle-lang"] == "fr"
    assert statement["context"]["extensions"][EXT + "cc-subtitle-enabled"] is True
    assert statement["context"]["contextActivities"]["category"] == [
        {
            "id": "https://w3id.org/xapi/video",
            "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
        }
    ]
    assert statement["actor"]["account"]["name"] == LEARNER  # still the overlay's learner

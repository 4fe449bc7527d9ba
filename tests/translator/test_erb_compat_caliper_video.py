"""The erb-compat overlay's Caliper video events: for each video event name ERB maps, a
tracking-log line of our own and the event ERB makes of it, all but ERB's random id (ours checked
to be a stable urn:uuid); then ERB's quirks, the blank-node target it needs relaxed, the lines
ERB's transform raises on (rejected here) and the edx.video.language_menu.* names ERB does not
map (the core's event)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from support.erb import erb_compat_translator

from translator.engine import REJECTED, SKIPPED, TRANSLATED, Translator
from translator.errors import TranslationError
from translator.intake.events import normalise
from translator.targets.caliper import CALIPER

LMS = "http://lms.example.org"
LEARNER = "5e2f7a10-3c4d-4b8e-9f01-a2b3c4d5e6f7"
COURSE = "course-v1:Uni+Film101+2024"
CCX = "ccx-v1:Uni+Film101+2024+ccx@3"
SESSION = "8a7b6c5d4e3f20119a8b7c6d5e4f3a2b"
VERSION = "event-routing-backends@9.9.9"
VIDEO_IRI = f"{LMS}/xblock/block-v1:Uni+Film101+2024+type@video+block@v1"
IN_COURSE = {"isPartOf": {"id": f"{LMS}/course/{COURSE}", "type": "CourseOffering"}}

ERB_VIDEO_NAMES = {
    "load_video", "edx.video.loaded", "play_video", "edx.video.played", "pause_video",
    "edx.video.paused", "stop_video", "edx.video.stopped", "complete_video",
    "edx.video.completed", "seek_video", "edx.video.position.changed", "show_transcript",
    "edx.video.transcript.shown", "hide_transcript", "edx.video.transcript.hidden",
    "edx.video.closed_captions.shown", "edx.video.closed_captions.hidden", "video_show_cc_menu",
    "video_hide_cc_menu", "speed_change_video",
}  # fmt: skip
LEGACY = {
    "edx.video.loaded": "load_video",
    "edx.video.played": "play_video",
    "edx.video.paused": "pause_video",
    "edx.video.stopped": "stop_video",
    "edx.video.completed": "complete_video",
    "edx.video.position.changed": "seek_video",
    "edx.video.transcript.shown": "show_transcript",
    "edx.video.transcript.hidden": "hide_transcript",
}


@pytest.fixture(scope="module")
def translator(tmp_path_factory: pytest.TempPathFactory) -> Translator:
    folder = tmp_path_factory.mktemp("erb-caliper-video")
    return erb_compat_translator(
        folder,
        CALIPER,
        lms=LMS,
        actor_row=f"41,{LEARNER},ada",
        course_rows=f'{COURSE},"Film, I"',
        version=VERSION,
    )


def _line(name: str, second: int, data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A video event as the LMS logs it: the browser's legacy name, or an edx.video.* name with
    the legacy event_type (the mobile apps); `event` is JSON text."""
    line: dict[str, Any] = {
        "name": name,
        "event_type": LEGACY.get(name, name),
        "event_source": "mobile" if name in LEGACY else "browser",
        "time": f"2024-03-04T05:06:{second:02d}.123456+00:00",
        "username": "ada",
        "session": SESSION,
        "page": f"{LMS}/courses/{COURSE}/courseware/c1/s1/1",
        "context": {"course_id": COURSE, "user_id": 41, "org_id": "Uni", "path": "/event"},
        "event": json.dumps(data),
    }
    line.update(changes)
    return line


def _erb_event(
    action: str,
    second: int,
    *,
    duration: str | None = "P0D",
    target: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
    course: str = COURSE,
) -> dict[str, Any]:
    """The event ERB makes of a video event (its Caliper video transformers, ERB 10.0.0), its
    id left out."""
    block_version = "ccx-block-v1" if course.startswith("ccx-") else "block-v1"
    video: dict[str, Any] = {
        "id": f"{LMS}/xblock/{block_version}:{course.split(':')[1]}+type@video+block@v1",
        "type": "VideoObject",
        "extensions": {"isPartOf": {"id": f"{LMS}/course/{course}", "type": "CourseOffering"}},
    }
    if duration is not None:
        video["duration"] = duration
    return {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "type": "MediaEvent",
        "action": action,
        "eventTime": f"2024-03-04T05:06:{second:02d}.123Z",
        "actor": {"id": f"{LMS}/user/{LEARNER}", "type": "Person"},
        "object": video,
        "target": {"id": "_:MediaLocation", "type": "MediaLocation", **(target or {})},
        "extensions": {"transformerVersion": VERSION, **(extensions or {})},
        "session": {"id": f"{LMS}/sessions/{SESSION}", "type": "Session"},
    }


def _at(time: str) -> dict[str, Any]:
    return {"currentTime": time}


# (name, event data, ERB's action, the duration ERB states, ERB's target beyond its id and
# type, ERB's extensions beyond the transformer version): one per name ERB maps.
CASES: list[
    tuple[str, dict[str, Any], str, str | None, dict[str, Any], dict[str, Any]]
] = [
    ("load_video", {"id": "v1", "code": "html5", "duration": 600.5}, "Started", "PT10M0.5S",
     {}, {}),
    ("edx.video.loaded", {"id": "v1", "code": "mobile"}, "Started", "P0D", {}, {}),
    ("play_video", {"id": "v1", "currentTime": 61.23456, "duration": 600.5}, "Resumed",
     "PT10M0.5S", _at("PT1M1.23456S"), {}),
    ("edx.video.played", {"id": "v1", "current_time": 12, "duration": 3725}, "Resumed",
     "PT1H2M5S", _at("PT12S"), {}),
    ("pause_video", {"id": "v1", "currentTime": 120, "duration": 600.5}, "Paused", "PT10M0.5S",
     _at("PT2M"), {}),
    ("edx.video.paused", {"id": "v1", "current_time": 75.5, "duration": None}, "Paused", None,
     _at("PT1M15.5S"), {}),
    ("stop_video", {"id": "v1", "currentTime": 600.5, "duration": 600.5}, "Ended", "PT10M0.5S",
     _at("PT10M0.5S"), {}),
    ("edx.video.stopped", {"id": "v1", "current_time": 0.25}, "Ended", "P0D", _at("PT0.25S"), {}),
    ("complete_video", {"id": "v1", "currentTime": 590, "duration": 600}, "Ended", "PT10M",
     _at("PT9M50S"), {}),
    ("edx.video.completed", {"id": "v1", "current_time": 86400.5, "duration": 90000}, "Ended",
     "P1DT1H", _at("P1DT0.5S"), {}),
    # seek: where the learner was (currentTime or old_time), and where to (newTime)
    ("seek_video", {"id": "v1", "old_time": 194.381, "new_time": 10, "duration": 195,
                    "type": "onSlideSeek"}, "JumpedTo", "PT3M15S",
     {"currentTime": "PT3M14.381S", "extensions": {"newTime": "PT10S"}}, {}),
    ("edx.video.position.changed", {"id": "v1", "currentTime": 30, "old_time": 31,
                                    "new_time": 90.5}, "JumpedTo", "P0D",
     {"currentTime": "PT30S", "extensions": {"newTime": "PT1M30.5S"}}, {}),
    ("show_transcript", {"id": "v1", "currentTime": 5, "duration": 60}, "EnabledClosedCaptioning",
     "PT1M", _at("PT5S"), {}),
    ("edx.video.transcript.shown", {"id": "v1", "current_time": 5}, "EnabledClosedCaptioning",
     "P0D", _at("PT5S"), {}),
    ("hide_transcript", {"id": "v1", "currentTime": 6, "duration": 60},
     "DisabledClosedCaptioning", "PT1M", _at("PT6S"), {}),
    ("edx.video.transcript.hidden", {"id": "v1"}, "DisabledClosedCaptioning", "P0D", {}, {}),
    ("edx.video.closed_captions.shown", {"id": "v1", "current_time": 7.5, "duration": 60},
     "EnabledClosedCaptioning", "PT1M", _at("PT7.5S"), {}),
    ("edx.video.closed_captions.hidden", {"id": "v1", "current_time": 8, "duration": None},
     "DisabledClosedCaptioning", None, _at("PT8S"), {}),
    # the language menu: captions on when it opens, off when it closes; no language
    ("video_show_cc_menu", {"id": "v1", "currentTime": 9, "duration": 60},
     "EnabledClosedCaptioning", "PT1M", _at("PT9S"), {}),
    ("video_hide_cc_menu", {"id": "v1", "currentTime": 9, "duration": 60, "language": "fr"},
     "DisabledClosedCaptioning", "PT1M", _at("PT9S"), {}),
    # speeds as logged, in the event's extensions
    ("speed_change_video", {"id": "v1", "current_time": 3.093662, "duration": 194,
                            "old_speed": "1.0", "new_speed": "1.25"}, "ChangedSpeed", "PT3M14S",
     _at("PT3.093662S"), {"oldSpeed": "1.0", "newSpeed": "1.25"}),
]  # fmt: skip


def test_cases_cover_every_video_event_name_erb_maps() -> None:
    assert [name for name, *_ in CASES] == list(dict.fromkeys(name for name, *_ in CASES))
    assert {name for name, *_ in CASES} == ERB_VIDEO_NAMES


@pytest.mark.parametrize(
    ("second", "name", "data", "action", "duration", "target", "extensions"),
    [(second, *case) for second, case in enumerate(CASES)],
    ids=[case[0] for case in CASES],
)
def test_erb_compat_caliper_video_event_is_erbs_event(
    translator: Translator,
    second: int,
    name: str,
    data: dict[str, Any],
    action: str,
    duration: str | None,
    target: dict[str, Any],
    extensions: dict[str, Any],
) -> None:
    outcome = translator.translate(normalise(_line(name, second, data)))
    assert outcome.status == TRANSLATED, outcome.reason
    (event,) = outcome.statements
    event_id = event.pop("id")
    assert event == _erb_event(
        action, second, duration=duration, target=target, extensions=extensions
    )
    # ERB's id is a uuid4, new on every run; ours is the core's deterministic urn:uuid.
    assert uuid.UUID(event_id.removeprefix("urn:uuid:")).version == 5
    assert event_id.startswith("urn:uuid:")
    assert translator.translate(normalise(_line(name, second, data))).statements[0]["id"] == (
        event_id
    )
    # the blank-node target is relaxed for the overlay's plan only
    with pytest.raises(TranslationError, match=r'/target/id: "_:MediaLocation" is not an abs'):
        CALIPER.check({**event, "id": event_id})


# --- ERB's quirks ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "target"),
    [
        # ERB reads `currentTime or current_time`: a currentTime of 0 gives way...
        ({"currentTime": 0, "current_time": 4.5}, _at("PT4.5S")),
        # ...even to nothing: then the target has no currentTime
        ({"currentTime": 0}, {}),
        ({"current_time": 0}, _at("P0D")),
        ({"currentTime": None, "current_time": ""}, {}),
    ],
)
def test_erb_compat_caliper_video_time_is_current_time_or_current_time(
    translator: Translator, data: dict[str, Any], target: dict[str, Any]
) -> None:
    (event,) = translator.translate(
        normalise(_line("play_video", 40, {"id": "v1", **data}))
    ).statements
    del event["id"]
    assert event == _erb_event("Resumed", 40, target=target)


def test_erb_compat_caliper_video_without_session_or_speeds_states_neither(
    translator: Translator,
) -> None:
    line = _line("speed_change_video", 41, {"id": "v1", "duration": None})
    del line["session"]
    (event,) = translator.translate(normalise(line)).statements
    del event["id"]
    expected = _erb_event("ChangedSpeed", 41, duration=None)
    del expected["session"]
    assert event == expected


def test_erb_compat_caliper_seek_reads_old_time_and_keeps_an_empty_extensions_object(
    translator: Translator,
) -> None:
    # ERB's seek reads `currentTime or old_time` (never current_time) and writes the target's
    # extensions even when it has no new_time
    data = {"id": "v1", "current_time": 3, "old_time": 0}
    (event,) = translator.translate(normalise(_line("seek_video", 42, data))).statements
    assert event["target"] == {
        "id": "_:MediaLocation",
        "type": "MediaLocation",
        "currentTime": "P0D",
        "extensions": {},
    }


def test_erb_compat_caliper_video_of_a_ccx_course_is_a_ccx_block(translator: Translator) -> None:
    line = _line("pause_video", 43, {"id": "v1", "currentTime": 1})
    line["context"] = {**line["context"], "course_id": CCX}
    (event,) = translator.translate(normalise(line)).statements
    del event["id"]
    assert event == _erb_event("Paused", 43, target=_at("PT1S"), course=CCX)
    assert event["object"]["id"] == (
        f"{LMS}/xblock/ccx-block-v1:Uni+Film101+2024+ccx@3+type@video+block@v1"
    )


def test_blank_node_id_relaxation_lets_through_only_blank_node_ids() -> None:
    event = {
        "@context": "http://purl.imsglobal.org/ctx/caliper/v1p2",
        "id": "urn:uuid:3f1b8a52-3f5c-4a63-9e0e-8c2d8f1a2b3c",
        "type": "MediaEvent",
        "action": "Paused",
        "eventTime": "2024-03-04T05:06:07.000Z",
        "actor": {"id": f"{LMS}/user/1", "type": "Person"},
        "object": {"id": VIDEO_IRI, "type": "VideoObject"},
        "target": {"id": "_:MediaLocation", "type": "MediaLocation", "currentTime": "PT5S"},
    }
    relaxed = CALIPER.relaxed(frozenset({"blank-node-id"}))
    relaxed.check(event)
    assert relaxed.problems(event) == []
    with pytest.raises(TranslationError, match=r'^invalid event: /target/id: "_:MediaLocation"'):
        CALIPER.check(event)  # the default target keeps the rule
    target = event["target"]
    still_refused = [  # (event, the one problem the relaxed target still finds)
        ({**event, "target": {**target, "id": "_:"}}, '/target/id: "_:" is not an absolute IRI'),
        ({**event, "target": {**target, "id": "_: x"}},
         '/target/id: "_: x" is not an absolute IRI'),
        ({**event, "target": {**target, "id": "no iri"}},
         '/target/id: "no iri" is not an absolute IRI'),
        ({**event, "target": {"type": "MediaLocation"}}, "/target/id: is required"),
        ({**event, "target": {**target, "currentTime": "-PT5S"}},
         '/target/currentTime: must be an ISO 8601 duration, not "-PT5S"'),
    ]  # fmt: skip
    for broken, problem in still_refused:
        assert relaxed.problems(broken) == [problem]
        with pytest.raises(TranslationError):
            relaxed.check(broken)


# --- what ERB's transform raises on: rejected, with the reason -------------------------------


@pytest.mark.parametrize(
    ("name", "data", "context", "reason"),
    [
        ("play_video", {"id": "v1"}, {"course_id": "Uni/Film101/2024"}, "course"),
        ("play_video", {"id": "v1"}, {"course_id": ""}, "course"),
        ("load_video", {"code": "html5"}, {}, "event.id"),
        ("load_video", {"id": ""}, {}, "event.id"),
        # ERB reads no number from text here (its xAPI part does)
        ("load_video", {"id": "v1", "duration": "600.5"}, {}, "event.duration is not a number"),
        ("load_video", {"id": "v1", "duration": ""}, {}, "event.duration is not a number"),
        ("load_video", {"id": "v1", "duration": -1}, {}, "event.duration is not a number"),
        ("pause_video", {"id": "v1", "current_time": "75.5"}, {}, "current_time) is not a"),
        ("seek_video", {"id": "v1", "old_time": "1"}, {}, "event.old_time (or currentTime)"),
        ("seek_video", {"id": "v1", "new_time": "end"}, {}, "event.new_time is not a number"),
    ],
)
def test_erb_compat_caliper_video_line_erb_cannot_transform_is_rejected(
    translator: Translator,
    name: str,
    data: dict[str, Any],
    context: dict[str, Any],
    reason: str,
) -> None:
    line = _line(name, 45, data)
    line["context"] = {**line["context"], **context}
    outcome = translator.translate(normalise(line))
    assert outcome.status == REJECTED
    assert reason in (outcome.reason or "")


def test_erb_compat_caliper_video_of_no_learner_is_skipped(translator: Translator) -> None:
    line = _line("play_video", 46, {"id": "v1"}, username="")
    line["context"] = {**line["context"], "user_id": None}
    outcome = translator.translate(normalise(line))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")


# --- names ERB does not map ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "action"),
    [("edx.video.language_menu.shown", "Showed"), ("edx.video.language_menu.hidden", "Hid")],
)
def test_erb_compat_caliper_language_menu_names_keep_the_cores_event(
    translator: Translator, name: str, action: str
) -> None:
    # ERB has no transformer for these names (only for video_show_cc_menu, video_hide_cc_menu):
    # they keep the core's event, as every event ERB does not map
    legacy = "video_show_cc_menu" if name.endswith("shown") else "video_hide_cc_menu"
    line = _line(name, 47, {"id": "v1", "language": "fr", "duration": 60}, event_type=legacy)
    (event,) = translator.translate(normalise(line)).statements
    assert (event["type"], event["action"]) == ("Event", action)
    assert event["object"] == {
        "id": f"{VIDEO_IRI}#transcripts",
        "type": "DigitalResourceCollection",
        "isPartOf": {"id": VIDEO_IRI, "type": "VideoObject", "duration": "PT60S"},
    }
    assert "target" not in event
    CALIPER.check(event)  # no relaxation needed

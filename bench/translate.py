"""Benchmark: events per CPU-second of the dry-run path, beside a hand-written ideal translation.

Run: python bench/translate.py [--events N] [--target xapi|caliper]

Both sides read the same generated tracking log, in a real log's mix (server page requests and
course video events are most of it; then problem_check, forum, enrollment, certificates and
pre-roll video), decode each line, build the statements and serialise them to JSON. The dry-run
side is the product's own path (read_lines -> parse_line -> Translator -> checks -> JSON lines); the
ideal is plain Python that builds the same statements directly (same fields, same values; only
ids and the version extension differ), with no mapping language, no input checks and no
statement checks. The dry-run figure includes start-up (loading, proving and generating the
mappings, about 0.2 CPU-s; printed apart too). Figures are CPU seconds of this process
(time.process_time), so other load does not skew them. The log has 50,000 learners, so the
pseudonym cache hits as it would on a real log of that many events.

With `--target caliper` the figure is the Caliper dry-run path beside the xAPI dry-run path and
the hand-written xAPI ideal on the same log, in the same mix (Caliper maps every event xAPI
maps; there is no hand-written Caliper translation).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import os
import random
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

from translator.config import Settings
from translator.engine import Translator
from translator.intake.lines import read_lines
from translator.mapping.plan import load_plan
from translator.pipeline import run, translate_lines
from translator.sinks.stdout import JsonLinesSink
from translator.summary import Summary
from translator.targets.caliper import CALIPER
from translator.targets.target import Target
from translator.targets.xapi import XAPI

LMS = "http://localhost:18000"
SECRET = b"bench-secret"
NAMESPACE = uuid.UUID("6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d")
VERSION_EXT = "https://w3id.org/xapi/openedx/extension/transformer-version"
SESSION_EXT = "https://w3id.org/xapi/openedx/extensions/session-id"


def _event(kind: str, rng: random.Random, n: int) -> dict[str, Any]:
    course = f"course-v1:Org{rng.randint(1, 5)}+C{rng.randint(1, 20)}+2024"
    user = rng.randint(1, 50_000)
    context = {
        "course_id": course,
        "org_id": course.split(":")[1].split("+")[0],
        "user_id": user,
        "path": "/event",
    }
    base: dict[str, Any] = {
        "username": f"user{user}",
        "ip": "10.1.2.3",
        "agent": "Mozilla/5.0",
        "host": "courses.example.org",
        "referer": f"https://courses.example.org/courses/{course}/courseware",
        "accept_language": "en-US",
        "session": f"{n:032x}",
        "time": f"2024-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}.{n % 1_000_000:06d}+00:00",
        "context": context,
        "page": None,
    }
    block = f"block-v1:{course[10:]}+type@problem+block@{rng.getrandbits(64):016x}"
    if kind == "enrollment":
        event = {"course_id": course, "user_id": user, "mode": rng.choice(["audit", "verified"])}
        return {
            **base,
            "name": "edx.course.enrollment.activated",
            "event_type": "edx.course.enrollment.activated",
            "event_source": "server",
            "event": event,
        }
    if kind == "problem":
        key = f"{block[-16:]}_2_1"
        grade = rng.randint(0, 2)
        event = {
            "problem_id": block,
            "attempts": rng.randint(1, 3),
            "grade": grade,
            "max_grade": 2,
            "success": "correct" if grade == 2 else "incorrect",
            "answers": {key: "choice_1"},
            "submission": {
                key: {
                    "answer": "Paris",
                    "correct": grade == 2,
                    "input_type": "choicegroup",
                    "question": "Capital of France?",
                    "response_type": "multiplechoiceresponse",
                    "variant": "",
                    "group_label": "",
                }
            },
            "correct_map": {key: {"correctness": "correct" if grade == 2 else "incorrect"}},
            "state": {"seed": 1, "done": True},
        }
        context["module"] = {"usage_key": block, "display_name": "Capitals"}
        return {
            **base,
            "name": "problem_check",
            "event_type": "problem_check",
            "event_source": "server",
            "event": event,
        }
    if kind == "certificate":
        event = {
            "user_id": user,
            "course_id": course,
            "certificate_id": f"{rng.getrandbits(128):032x}",
            "certificate_url": f"https://courses.example.org/certificates/{n}",
            "enrollment_mode": "verified",
            "generation_mode": "batch",
        }
        return {
            **base,
            "name": "edx.certificate.created",
            "event_type": "edx.certificate.created",
            "event_source": "server",
            "event": event,
        }
    if kind == "forum":
        event = {
            "id": f"{rng.getrandbits(96):024x}",
            "commentable_id": "course",
            "title": "Week 1",
            "body": "How do I start?",
            "thread_type": "question",
            "anonymous": False,
            "anonymous_to_peers": False,
            "category_id": "i4x-general",
            "category_name": "General",
            "options": {"followed": True},
            "truncated": False,
            "title_truncated": False,
            "url": "https://courses.example.org/discussion",
            "user_forums_roles": ["Student"],
            "user_course_roles": [],
            "group_id": None,
            "team_id": None,
        }
        return {
            **base,
            "name": "edx.forum.thread.created",
            "event_type": "edx.forum.thread.created",
            "event_source": "server",
            "event": event,
        }
    if kind == "page":
        path = rng.choice(
            [
                f"/courses/{course}/courseware/{rng.getrandbits(64):016x}/",
                f"/courses/{course}/progress",
                "/dashboard",
                f"/courses/{course}/discussion/forum",
            ]
        )
        context["path"] = path
        return {
            **base,
            "event_type": path,
            "event_source": "server",
            "event": '{"GET": {}, "POST": {}}',
        }
    if kind == "video":
        name = rng.choice(["play_video", "pause_video", "seek_video", "load_video"])
        video_event: dict[str, Any] = {
            "id": f"{rng.getrandbits(128):032x}",
            "code": "html5",
            "duration": 600.0,
        }
        if name == "seek_video":
            video_event.update(
                old_time=12.5, new_time=round(rng.random() * 600, 2), type="onSlideSeek"
            )
        elif name != "load_video":
            video_event["currentTime"] = round(rng.random() * 600, 2)
        return {
            **base,
            "name": name,
            "event_type": name,
            "event_source": "browser",
            "page": base["referer"],
            "event": orjson.dumps(video_event).decode(),
        }
    video = f"{rng.getrandbits(128):032x}"
    event = {
        "host_component_id": video,
        "bumper_id": "https://cdn.example.org/bumper.webm",
        "code": "html5",
        "currentTime": round(rng.random() * 10, 2),
        "duration": 10.0,
    }
    return {
        **base,
        "name": "edx.video.bumper.played",
        "event_type": "edx.video.bumper.played",
        "event_source": "browser",
        "event": orjson.dumps(event).decode(),
    }


# A real log's mix (weights per cycle): page requests and course video events are most of it.
MIX = {
    "page": 4,
    "video": 4,
    "problem": 1,
    "forum": 1,
    "enrollment": 1,
    "certificate": 1,
    "bumper": 1,
}
KINDS = tuple(kind for kind, weight in MIX.items() for _ in range(weight))


def generate_log(path: Path, count: int, mix: dict[str, int] = MIX) -> None:
    """Write `count` tracking-log lines, the families in the proportions of `mix`."""
    kinds = tuple(kind for kind, weight in mix.items() for _ in range(weight))
    rng = random.Random(7)
    with path.open("wb") as handle:
        for n in range(count):
            handle.write(orjson.dumps(_event(kinds[n % len(kinds)], rng, n)) + b"\n")


# --- the ideal: a hand-written translation of the same events ------------------------------------


def _actor(user: Any) -> dict[str, Any]:
    digest = hmac.new(SECRET, str(user).encode(), hashlib.sha256).digest()
    return {
        "objectType": "Agent",
        "account": {"homePage": LMS, "name": str(uuid.UUID(bytes=digest[:16], version=4))},
    }


def _base(raw: dict[str, Any], verb: str, display: str, obj: dict[str, Any]) -> dict[str, Any]:
    ctx = raw["context"]
    course_iri = f"{LMS}/course/{ctx['course_id']}"
    name = raw.get("name") or raw["event_type"]
    statement = {
        "id": str(uuid.uuid5(NAMESPACE, raw["time"] + name + str(ctx["user_id"]))),
        "version": "1.0.3",
        "timestamp": raw["time"],
        "actor": _actor(ctx["user_id"]),
        "verb": {"id": verb, "display": {"en": display}},
        "object": obj,
        "context": {
            "extensions": {VERSION_EXT: "edx-xapi-translator@bench", SESSION_EXT: raw["session"]},
        },
    }
    if obj["id"] != course_iri:
        statement["context"]["contextActivities"] = {
            "parent": [
                {
                    "objectType": "Activity",
                    "id": course_iri,
                    "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                }
            ]
        }
    return statement


_NOT_IRI = re.compile(r"[\s\x00-\x1f\x7f<>\"{}|\\^`]")
_VIDEO_VERBS = {
    "load_video": ("http://adlnet.gov/expapi/verbs/initialized", "initialized"),
    "play_video": ("https://w3id.org/xapi/video/verbs/played", "played"),
    "pause_video": ("https://w3id.org/xapi/video/verbs/paused", "paused"),
    "seek_video": ("https://w3id.org/xapi/video/verbs/seeked", "seeked"),
}
_VIDEO_CATEGORY = {
    "id": "https://w3id.org/xapi/video",
    "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
}


def _percent(match: re.Match[str]) -> str:
    return "".join(f"%{byte:02X}" for byte in match.group(0).encode())


def _video_statement(raw: dict[str, Any], name: str, event: dict[str, Any]) -> dict[str, Any]:
    course_key = raw["context"]["course_id"].split(":", 1)[1]
    obj = {
        "objectType": "Activity",
        "id": f"{LMS}/xblock/block-v1:{course_key}+type@video+block@{event['id']}",
        "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
    }
    verb, display = _VIDEO_VERBS[name]
    statement = _base(raw, verb, display, obj)
    context = statement["context"]
    context["contextActivities"]["category"] = [_VIDEO_CATEGORY]
    context["extensions"]["https://w3id.org/xapi/video/extensions/length"] = float(
        event["duration"]
    )
    context["extensions"]["https://w3id.org/xapi/video/extensions/session-id"] = raw["session"]
    if name == "seek_video":
        statement["result"] = {
            "extensions": {
                "https://w3id.org/xapi/video/extensions/time-from": float(event["old_time"]),
                "https://w3id.org/xapi/video/extensions/time-to": float(event["new_time"]),
            }
        }
    elif name != "load_video":
        statement["result"] = {
            "extensions": {
                "https://w3id.org/xapi/video/extensions/time": float(event["currentTime"])
            }
        }
    return statement


def hand_translate(line: bytes) -> list[dict[str, Any]]:
    """The ideal: plain Python building the same statements as the core mappings do."""
    raw = orjson.loads(line)
    name = raw.get("name")
    if name is None:  # a server page request: its path is the event type
        path = _NOT_IRI.sub(_percent, raw["event_type"].split("?", 1)[0])
        obj = {
            "objectType": "Activity",
            "id": LMS + path,
            "definition": {"type": "http://activitystrea.ms/schema/1.0/page"},
        }
        return [_base(raw, "http://id.tincanapi.com/verb/viewed", "viewed", obj)]
    event = raw["event"]
    if isinstance(event, str):
        event = orjson.loads(event)
    if name in _VIDEO_VERBS:
        return [_video_statement(raw, name, event)]
    if name == "edx.course.enrollment.activated":
        obj = {
            "objectType": "Activity",
            "id": f"{LMS}/course/{event['course_id']}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/course",
                "extensions": {"https://w3id.org/xapi/acrossx/extensions/type": event["mode"]},
            },
        }
        return [_base(raw, "http://adlnet.gov/expapi/verbs/registered", "registered", obj)]
    if name == "problem_check":
        (submission,) = event["submission"].values()
        obj = {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/{event['problem_id']}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/cmi.interaction",
                "name": {"en-US": raw["context"]["module"]["display_name"]},
                "interactionType": "choice",
                "description": {"en-US": submission["question"]},
                "extensions": {"http://id.tincanapi.com/extension/attempt-id": event["attempts"]},
            },
        }
        statement = _base(raw, "https://w3id.org/xapi/acrossx/verbs/evaluated", "evaluated", obj)
        statement["result"] = {
            "score": {
                "raw": event["grade"],
                "min": 0,
                "max": event["max_grade"],
                "scaled": round(event["grade"] / event["max_grade"], 4),
            },
            "success": event["success"] == "correct",
            "response": submission["answer"],
        }
        return [statement]
    if name == "edx.certificate.created":
        obj = {
            "objectType": "Activity",
            "id": f"{LMS}/certificates/{event['certificate_id']}",
            "definition": {
                "type": "https://www.opigno.org/en/tincan_registry/activity_type/certificate",
                "extensions": {
                    "https://w3id.org/xapi/acrossx/extensions/type": event["enrollment_mode"]
                },
            },
        }
        return [_base(raw, "http://id.tincanapi.com/verb/earned", "earned", obj)]
    if name == "edx.forum.thread.created":
        obj = {
            "objectType": "Activity",
            "id": f"{LMS}/api/discussion/v1/threads/{event['id']}",
            "definition": {
                "type": "http://id.tincanapi.com/activitytype/discussion",
                "name": {"en": event["title"]},
            },
        }
        statement = _base(raw, "https://w3id.org/xapi/acrossx/verbs/posted", "posted", obj)
        course = raw["context"]["course_id"]
        statement["context"]["contextActivities"]["grouping"] = [
            {
                "objectType": "Activity",
                "id": f"{LMS}/course/{course}/discussion/{event['commentable_id']}",
                "definition": {
                    "type": "http://id.tincanapi.com/activitytype/category",
                    "name": {"en": event["category_name"]},
                },
            }
        ]
        statement["context"]["extensions"]["https://w3id.org/xapi/acrossx/extensions/type"] = event[
            "thread_type"
        ]
        return [statement]
    course_key = raw["context"]["course_id"].split(":", 1)[1]
    obj = {
        "objectType": "Activity",
        "id": event["bumper_id"],
        "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
    }
    statement = _base(raw, "https://w3id.org/xapi/video/verbs/played", "played", obj)
    context = statement["context"]
    context["contextActivities"]["category"] = [
        {
            "id": "https://w3id.org/xapi/video",
            "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
        }
    ]
    context["contextActivities"]["other"] = [
        {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/block-v1:{course_key}+type@video+block@"
            + event["host_component_id"],
            "definition": {"type": "https://w3id.org/xapi/video/activity-type/video"},
        }
    ]
    context["extensions"]["https://w3id.org/xapi/video/extensions/length"] = event["duration"]
    context["extensions"]["https://w3id.org/xapi/video/extensions/session-id"] = raw["session"]
    statement["result"] = {
        "extensions": {"https://w3id.org/xapi/video/extensions/time": event["currentTime"]}
    }
    return [statement]


def bench_ideal(path: Path) -> tuple[float, int]:
    """CPU seconds and statements of the hand-written translation over the log."""
    started = time.process_time()
    statements = 0
    sink = bytearray()
    with path.open("rb") as handle:
        for line in handle:
            for statement in hand_translate(line):
                sink += orjson.dumps(statement) + b"\n"
                statements += 1
            if len(sink) > 1 << 20:
                sink.clear()
    return time.process_time() - started, statements


def bench_dry_run(path: Path, target: Target = XAPI) -> tuple[float, Summary]:
    """CPU seconds and summary of the product's dry-run path over the log (start-up included)."""
    seconds, _startup, summary = bench_dry_run_parts(path, target)
    return seconds, summary


def bench_dry_run_parts(path: Path, target: Target = XAPI) -> tuple[float, float, Summary]:
    """CPU seconds of the whole dry-run path, of its start-up alone (loading, compiling and
    proving the mappings), and its summary."""
    started = time.process_time()
    settings = Settings(lms_root_url=LMS, pseudonym_secret=SECRET.decode())
    translator = Translator(load_plan(settings, target), id_namespace=settings.id_namespace)
    startup = time.process_time() - started
    summary = Summary()
    lines = read_lines([str(path)], max_line_bytes=settings.max_line_bytes)
    with open(os.devnull, "wb") as devnull:
        run(translate_lines(lines, translator), summary, [JsonLinesSink(devnull)])
    return time.process_time() - started, startup, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--target", choices=("xapi", "caliper"), default="xapi")
    args = parser.parse_args()
    if args.target == "caliper":
        bench_caliper(args.events)
        return
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "tracking.log"
        generate_log(log, args.events)
        ideal_seconds, ideal_statements = bench_ideal(log)
        dry_seconds, startup, summary = bench_dry_run_parts(log)
    assert summary.reconciles and summary.translated == args.events, summary.total_line()
    ideal_rate = args.events / ideal_seconds
    dry_rate = args.events / dry_seconds
    steady_rate = args.events / (dry_seconds - startup)
    print(
        f"events: {args.events} ({', '.join(f'{kind} x{weight}' for kind, weight in MIX.items())})"
    )
    print(
        f"dry-run path : {dry_rate:>10,.0f} events per CPU-second ({summary.statements} statements)"
    )
    print(
        f"hand-written : {ideal_rate:>10,.0f} events per CPU-second ({ideal_statements} statements)"
    )
    print(f"ratio        : {ideal_rate / dry_rate:.2f}x slower than the hand-written ideal")
    print(
        f"without start-up ({startup:.2f} CPU-s to load, compile and prove the mappings): "
        f"{steady_rate:,.0f} events per CPU-second, {ideal_rate / steady_rate:.2f}x"
    )


def bench_caliper(events: int) -> None:
    """The Caliper dry-run path beside the xAPI one and the xAPI ideal, on the same log."""
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "tracking.log"
        generate_log(log, events)
        ideal_seconds, ideal_statements = bench_ideal(log)
        xapi_seconds, xapi = bench_dry_run(log, XAPI)
        caliper_seconds, caliper = bench_dry_run(log, CALIPER)
    assert xapi.reconciles and xapi.translated == events, xapi.total_line()
    assert caliper.reconciles and caliper.translated == events, caliper.total_line()
    caliper_rate, xapi_rate = events / caliper_seconds, events / xapi_seconds
    ideal_rate = events / ideal_seconds
    mix = ", ".join(f"{kind} x{weight}" for kind, weight in MIX.items())
    rows = [
        ("caliper dry-run", caliper_rate, f"{caliper.statements} events"),
        ("xapi dry-run", xapi_rate, f"{xapi.statements} statements"),
        ("xapi hand-written", ideal_rate, f"{ideal_statements} statements"),
    ]
    print(f"events: {events} ({mix})")
    for label, rate, what in rows:
        print(f"{label:<18}: {rate:>10,.0f} lines per CPU-second ({what})")
    print(
        f"ratio             : the Caliper path takes {xapi_rate / caliper_rate:.2f}x the xAPI "
        f"path's time, {ideal_rate / caliper_rate:.2f}x the hand-written xAPI ideal's"
    )


if __name__ == "__main__":
    main()

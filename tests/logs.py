"""Tracking logs for forwarding tests, made of events the fixture mapping set translates."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "CORE_MAPPINGS",
    "POISON_DEPTH",
    "LogFacts",
    "enrollment",
    "poison_line",
    "poisoned",
    "problem_check",
    "tracker_event",
    "write_log",
]

POISON_DEPTH = 260
"""Nesting a learner's browser can post, which decodes (orjson reads 1,024 levels) but which no
statement may carry (orjson writes at most 254)."""

CORE_MAPPINGS = Path(__file__).parent / "translator" / "mapping" / "fixtures" / "core"

_ENROLLED: dict[str, Any] = {
    "name": "edx.course.enrollment.activated",
    "event_type": "edx.course.enrollment.activated",
    "event_source": "server",
    "username": "learner",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42, "org_id": "Org"},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit", "user_id": 42},
}

_PROBLEM: dict[str, Any] = {
    "name": "problem_check",
    "event_type": "problem_check",
    "event_source": "server",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42, "org_id": "Org"},
    "event": {
        "problem_id": "block-v1:Org+C1+2024+type@problem+block@p1",
        "grade": 1,
        "max_grade": 2,
        "success": "incorrect",
        "submission": {
            "p1_2_1": {"answer": "a", "correct": True},
            "p1_3_1": {"answer": "b", "correct": False},
        },
    },
}


def _time(index: int) -> str:
    return f"2024-05-01T{10 + index // 3600 % 10:02d}:{index // 60 % 60:02d}:{index % 60:02d}+00:00"


def _course(org: str) -> str:
    return f"course-v1:{org}+C1+2024"


def enrollment(index: int, *, org: str = "Org") -> dict[str, Any]:
    """An enrollment of learner `index`: one statement."""
    event = copy.deepcopy(_ENROLLED)
    event["time"] = _time(index)
    event["context"].update(user_id=index + 1, org_id=org, course_id=_course(org))
    event["event"].update(user_id=index + 1, course_id=_course(org))
    return event


def problem_check(index: int, *, org: str = "Org") -> dict[str, Any]:
    """A server problem_check with two answers: three statements (the check and one per part)."""
    event = copy.deepcopy(_PROBLEM)
    event["time"] = _time(index)
    event["context"].update(user_id=index + 1, org_id=org, course_id=_course(org))
    return event


def tracker_event(logged: dict[str, Any]) -> dict[str, Any]:
    """The event of a tracking-log line as event-tracking hands it to its backends (and so to
    the event bus): name, timestamp, data, and a context that holds what the log line keeps at
    its top level (username, event_source)."""
    context = dict(logged["context"])
    for key in ("username", "event_source"):
        if key in logged:
            context[key] = logged[key]
    return {
        "name": logged["name"],
        "timestamp": logged["time"],
        "data": logged["event"],
        "context": context,
    }


def poisoned(index: int) -> dict[str, Any]:
    """An enrollment whose extension value (`event.mode`) nests POISON_DEPTH levels deep."""
    event = enrollment(index)
    value: Any = "audit"
    for _ in range(POISON_DEPTH):
        value = [value]
    event["event"]["mode"] = value
    return event


def poison_line(index: int) -> bytes:
    """A poisoned enrollment as a log line (written by the standard library: orjson cannot)."""
    return json.dumps(poisoned(index)).encode()


@dataclass(frozen=True)
class LogFacts:
    """What a test log holds: lines by bucket, and the statements its events give."""

    lines: int
    translated: int
    statements: int
    skipped: int
    rejected: int

    def total_line(self, *, delivered: int, dead_lettered: int = 0) -> str:
        return (
            f"read {self.lines}, translated {self.translated}, delivered {delivered}, "
            f"dead-lettered {dead_lettered}, skipped {self.skipped}, rejected {self.rejected}"
        )


def write_log(
    path: Path,
    events: int,
    *,
    junk: bool = False,
    orgs: tuple[str, ...] = ("Org",),
    poison_at: int | None = None,
) -> LogFacts:
    """Write `events` translatable events (enrollments and problem checks, alternating, across
    `orgs`); with `junk`, also two lines to reject (not JSON; not UTF-8) and two to skip; with
    `poison_at`, a poisoned enrollment (to reject) as line `poison_at` (1-based)."""
    lines: list[bytes] = []
    statements = 0
    for index in range(events):
        org = orgs[index % len(orgs)]
        if index % 2 == 0:
            lines.append(orjson.dumps(enrollment(index, org=org)))
            statements += 1
        else:
            lines.append(orjson.dumps(problem_check(index, org=org)))
            statements += 3
    skipped = rejected = 0
    if junk:
        lines.insert(1, b"this is not JSON")
        # Valid JSON once decoded as latin-1, but not UTF-8: must be rejected as such.
        bad = orjson.dumps(enrollment(events + 1)).replace(b'"learner"', b'"l\xe9arner"')
        lines.insert(2, bad)
        rejected = 2
        anonymous = enrollment(events + 2)
        del anonymous["context"]["user_id"], anonymous["event"]["user_id"]
        lines.append(orjson.dumps(anonymous))
        lines.append(orjson.dumps({"name": "some.unmapped.event", "time": _time(0)}))
        skipped = 2
    if poison_at is not None:
        lines.insert(poison_at - 1, poison_line(events + 3))
        rejected += 1
    path.write_bytes(b"\n".join(lines) + b"\n")
    return LogFacts(len(lines), events, statements, skipped, rejected)

"""The target seam: a new standard is a Target, a mappings folder and one registry line.

The skeleton target below exists only in this test. It gets its own plan from its own folder
next to the real `_shared/` fragments, and runs through the same engine and pipeline as xAPI,
which never learn its name.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from translator.config import Settings, default_mappings_dir
from translator.engine import REJECTED, TRANSLATED, Translator
from translator.errors import ConfigError, TranslationError
from translator.intake.events import normalise
from translator.intake.lines import SourceLine
from translator.mapping.contract import ConstantAt, Place
from translator.mapping.plan import load_plan
from translator.pipeline import run, translate_lines
from translator.summary import Summary
from translator.targets.caliper import CALIPER
from translator.targets.registry import TARGETS, get_target
from translator.targets.target import Target
from translator.targets.xapi import XAPI


def _problems(statement: dict[str, Any]) -> list[str]:
    problems = [
        f"/{key}: is required text"
        for key in ("id", "type", "who")
        if not isinstance(statement.get(key), str)
    ]
    if isinstance(statement.get("id"), str) and not statement["id"].startswith("urn:uuid:"):
        problems.append("/id: is not a urn:uuid")
    if not isinstance(statement.get("mode", ""), str):
        problems.append("/mode: is not text")
    return problems


def _check(statement: dict[str, Any]) -> None:
    problems = _problems(statement)
    if problems:
        raise TranslationError("invalid event: " + problems[0].replace(": ", " ", 1))


def _place(path: tuple[str, ...], constant_at: ConstantAt) -> Place | None:
    if path in {("who",), ("course",), ("mode",)}:
        return Place(lambda value: isinstance(value, str))
    return None


SKELETON = Target(
    name="skeleton",
    version="0.1",
    place=_place,
    check=_check,
    problems=_problems,
    relations_ok=lambda _statement: True,
    strict_check=_check,
    statement_id=lambda uuid_text: f"urn:uuid:{uuid_text}",
)

MAPPING = """\
events:
  edx.course.enrollment.activated:
    skip_unless: {value: !ref user_id, reason: anonymous user}
    statement:
      type: Enrolled
      who: !call {fn: actor_id, args: [!ref user_id]}
      course: !ref course_iri
      mode: !path $.event.mode
"""

ENROLLED = {
    "name": "edx.course.enrollment.activated",
    "time": "2024-05-01T10:00:00+00:00",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit"},
}


@pytest.fixture
def mappings(tmp_path: Path) -> Path:
    root = tmp_path / "mappings"
    shutil.copytree(default_mappings_dir() / "_shared", root / "_shared")
    (root / "skeleton").mkdir()
    (root / "skeleton" / "enrollment.yaml").write_text(MAPPING)
    return root


def test_registry_has_one_line_per_target() -> None:
    assert dict(TARGETS) == {"xapi": XAPI, "caliper": CALIPER}
    assert get_target("xapi") is XAPI
    with pytest.raises(ConfigError, match="unknown target 'skeleton'"):
        get_target("skeleton")


def test_a_new_target_gets_its_own_plan_and_runs_through_the_same_engine(mappings: Path) -> None:
    settings = Settings(mappings_dir=mappings, pseudonym_secret="seam")
    plan = load_plan(settings, SKELETON, environ={})
    assert plan.target is SKELETON and plan.event_names() == ["edx.course.enrollment.activated"]
    translator = Translator(plan, id_namespace=settings.id_namespace)

    outcome = translator.translate(normalise(ENROLLED))
    assert outcome.status == TRANSLATED, outcome.reason
    [event] = outcome.statements
    assert event["type"] == "Enrolled"
    assert event["course"] == "http://localhost:18000/course/course-v1:Org+C1+2024"
    assert uuid.UUID(event["id"].removeprefix("urn:uuid:")).version == 5

    lines = [
        SourceLine("s.log", 1, orjson.dumps(ENROLLED)),
        SourceLine("s.log", 2, orjson.dumps({**ENROLLED, "context": {"user_id": ["a list"]}})),
    ]
    summary = Summary()
    run(translate_lines(lines, translator, strict=True), summary)
    assert summary.total_line() == "read 2, translated 1 (1 statements), skipped 0, rejected 1"


def test_a_target_rule_refuses_an_event_value_in_its_place(mappings: Path) -> None:
    settings = Settings(mappings_dir=mappings, pseudonym_secret="seam")
    translator = Translator(load_plan(settings, SKELETON, environ={}), id_namespace=uuid.uuid4())
    assert translator.translate(normalise(ENROLLED)).status == TRANSLATED  # proves the shape
    # Same shape, but the event puts a number where the target's rule wants text: the rule
    # sends the statement through the target's whole check, which refuses it.
    numeric = {**ENROLLED, "event": {**ENROLLED["event"], "mode": 7}}
    outcome = translator.translate(normalise(numeric))
    assert (outcome.status, outcome.reason) == (REJECTED, "invalid event: /mode is not text")
    no_user = {**ENROLLED, "context": {"course_id": "c"}, "event": {}}
    assert translator.translate(normalise(no_user)).reason == "anonymous user"


def test_the_xapi_plan_does_not_read_another_targets_folder(mappings: Path) -> None:
    settings = Settings(mappings_dir=mappings, pseudonym_secret="seam")
    assert load_plan(settings, XAPI, environ={}).event_names() == []

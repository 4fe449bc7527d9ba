"""Overlays per target: an overlay's own files are xAPI's, `<overlay>/<target>/` that target's,
`<overlay>/_shared/` every target's, and a subfolder that is no target's is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from translator.config import Settings
from translator.engine import Translator
from translator.errors import MappingError
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan
from translator.targets.caliper import CALIPER
from translator.targets.registry import TARGETS
from translator.targets.target import Target
from translator.targets.xapi import XAPI

EVENT: dict[str, Any] = {
    "name": "edx.course.enrollment.activated",
    "time": "2024-05-01T10:00:00+00:00",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit"},
}
XAPI_CHANGE = """\
events:
  edx.course.enrollment.activated:
    statement:
      verb: {id: http://example.org/verbs/joined, display: {en: joined}}
"""
CALIPER_CHANGE = """\
events:
  edx.course.enrollment.activated:
    statement:
      extensions: {campus: north}
"""
SHARED_CHANGE = """\
vars:
  discussion_api_path: /api/forum/v2
fragments: !replace
  course_iri: !concat [!var lms_root_url, /courses/, !ref course_id]
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _plan(target: Target, overlay: Path) -> Plan:
    settings = Settings(pseudonym_secret="t", overlays=(overlay,))
    return load_plan(settings, target, environ={}, known_targets=TARGETS)


def _translate(plan: Plan) -> dict[str, Any]:
    outcome = Translator(plan, id_namespace=Settings().id_namespace).translate(normalise(EVENT))
    assert outcome.status == "translated", outcome.reason
    return outcome.statements[0]


def test_overlay_root_files_change_xapi_only(tmp_path: Path) -> None:
    _write(tmp_path / "o" / "university.yaml", XAPI_CHANGE)
    assert _translate(_plan(XAPI, tmp_path / "o"))["verb"]["display"] == {"en": "joined"}
    assert "verb" not in _translate(_plan(CALIPER, tmp_path / "o"))


def test_overlay_target_folder_changes_that_target_only(tmp_path: Path) -> None:
    _write(tmp_path / "o" / "caliper" / "campus.yaml", CALIPER_CHANGE)
    _write(tmp_path / "o" / "xapi" / "verbs.yaml", XAPI_CHANGE)
    caliper = _translate(_plan(CALIPER, tmp_path / "o"))
    assert caliper["extensions"]["campus"] == "north"
    assert "transformerVersion" in caliper["extensions"]  # merged, not replaced
    xapi = _translate(_plan(XAPI, tmp_path / "o"))
    assert xapi["verb"]["display"] == {"en": "joined"}
    assert "campus" not in str(xapi)


def test_overlay_shared_folder_changes_every_target(tmp_path: Path) -> None:
    _write(tmp_path / "o" / "_shared" / "iris.yaml", SHARED_CHANGE)
    course = "http://localhost:18000/courses/course-v1:Org+C1+2024"
    assert _translate(_plan(CALIPER, tmp_path / "o"))["object"]["id"] == course
    assert _translate(_plan(XAPI, tmp_path / "o"))["object"]["id"] == course


def test_overlay_folder_of_no_target_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path / "o" / "calliper" / "campus.yaml", CALIPER_CHANGE)
    with pytest.raises(MappingError, match="overlay folder 'calliper' is no target's; did you"):
        _plan(CALIPER, tmp_path / "o")

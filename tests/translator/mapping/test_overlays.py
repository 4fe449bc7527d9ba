"""Institution overlays: change a verb, add, disable, delete, replace, misspell, and vars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from translator.config import Settings, load_settings
from translator.engine import SKIPPED, TRANSLATED, Translator
from translator.errors import MappingError
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan
from translator.targets.xapi import XAPI

CORE = Path(__file__).parent / "fixtures" / "core"

EVENT: dict[str, Any] = {
    "name": "edx.course.enrollment.activated",
    "time": "2024-05-01T10:00:00+00:00",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit"},
}


def _overlay(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "overlay.yaml").write_text(text, encoding="utf-8")
    return folder


def _plan(*overlays: Path, environ: dict[str, str] | None = None) -> Plan:
    settings = Settings(mappings_dir=CORE, pseudonym_secret="t", overlays=overlays)
    return load_plan(settings, XAPI, environ=environ or {})


def _translate(plan: Plan, event: dict[str, Any] = EVENT) -> Any:
    return Translator(plan, id_namespace=Settings().id_namespace).translate(normalise(event))


def test_overlay_changes_a_verb_and_keeps_the_rest(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        "uni",
        "events:\n  edx.course.enrollment.activated:\n    statement:\n"
        "      verb: {id: http://adlnet.gov/expapi/verbs/launched}\n",
    )
    core = _translate(_plan()).statements[0]
    changed = _translate(_plan(overlay)).statements[0]
    assert changed["verb"] == {
        "id": "http://adlnet.gov/expapi/verbs/launched",
        "display": {"en": "registered"},
    }
    assert {k: v for k, v in changed.items() if k != "verb"} == {
        k: v for k, v in core.items() if k != "verb"
    }


def test_overlay_replaces_a_subtree_and_deletes_a_key(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        "uni",
        "events:\n  edx.course.enrollment.activated:\n    statement:\n"
        "      verb: !replace {id: http://adlnet.gov/expapi/verbs/launched}\n"
        "      object:\n        definition:\n          extensions: !delete\n",
    )
    statement = _translate(_plan(overlay)).statements[0]
    assert statement["verb"] == {"id": "http://adlnet.gov/expapi/verbs/launched"}
    assert "extensions" not in statement["object"]["definition"]


def test_overlay_adds_an_event(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        "uni",
        "events:\n  edx.bookmark.added: !new\n    extends: base\n    statement:\n"
        "      verb: {id: http://id.tincanapi.com/verb/bookmarked, display: {en: bookmarked}}\n"
        "      object: {id: !ref course_iri}\n",
    )
    outcome = _translate(_plan(overlay), dict(EVENT, name="edx.bookmark.added"))
    assert outcome.status == TRANSLATED
    assert outcome.statements[0]["verb"]["id"] == "http://id.tincanapi.com/verb/bookmarked"


def test_overlay_disables_an_event_with_a_reason(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        "uni",
        'events:\n  edx.course.enrollment.activated: !disable "sent by the LMS itself"\n',
    )
    outcome = _translate(_plan(overlay))
    assert (outcome.status, outcome.reason) == (SKIPPED, "sent by the LMS itself")


def test_overlay_misspelled_event_is_an_error_with_a_suggestion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # overlay files are named relative to the working directory
    broken = _overlay(tmp_path, "two", "events:\n  edx.course.enrolment.deactivated: !disable\n")
    with pytest.raises(MappingError) as caught:
        _plan(broken)
    assert [str(i) for i in caught.value.issues] == [
        "two/overlay.yaml:2:37: /events/edx.course.enrolment.deactivated: unknown event "
        "'edx.course.enrolment.deactivated'; did you mean 'edx.course.enrollment.deactivated'?"
    ]
    # A misspelt name is an error whatever its body holds, a whole mapping included...
    whole = _overlay(
        tmp_path,
        "uni",
        "events:\n  edx.course.enrolment.activated:\n    extends: base\n    statement:\n"
        "      verb: {id: http://x.org/v}\n      object: {id: http://x.org/o}\n",
    )
    with pytest.raises(MappingError, match=r"did you mean 'edx\.course\.enrollment\.activated'"):
        _plan(whole)
    # ...and a new event is said to be new: then a near miss is only a warning.
    new = _overlay(
        tmp_path,
        "new",
        "events:\n  edx.course.enrolment.activated: !new\n    extends: base\n    statement:\n"
        "      verb: {id: http://x.org/v}\n      object: {id: http://x.org/o}\n",
    )
    plan = _plan(new)
    assert plan.mapping_for("edx.course.enrolment.activated") is not None
    assert [str(w) for w in plan.warnings] == [
        "new/overlay.yaml:2:35: /events/edx.course.enrolment.activated: new event "
        "'edx.course.enrolment.activated' is 1 edit(s) from 'edx.course.enrollment.activated'"
        " (mapped); did you mean 'edx.course.enrollment.activated'?"
    ]


def test_overlays_apply_in_order(tmp_path: Path) -> None:
    first = _overlay(tmp_path, "a", 'events:\n  edx.course.enrollment.activated: !disable "a"\n')
    second = _overlay(
        tmp_path,
        "b",
        "events:\n  edx.course.enrollment.activated:\n    extends: base\n    statement:\n"
        "      verb: {id: http://adlnet.gov/expapi/verbs/registered}\n"
        "      object: {id: !ref course_iri}\n",
    )
    assert _translate(_plan(first, second)).status == TRANSLATED
    assert _translate(_plan(second, first)).reason == "a"


def test_overlay_vars_and_environment_vars(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        "uni",
        "vars:\n  platform: Uni\nevents:\n  edx.course.enrollment.activated:\n    statement:\n"
        "      context: {platform: !var platform}\n",
    )
    assert _translate(_plan(overlay)).statements[0]["context"]["platform"] == "Uni"
    from_env = _plan(overlay, environ={"TRANSLATOR_VAR_PLATFORM": "Uni Online"})
    assert _translate(from_env).statements[0]["context"]["platform"] == "Uni Online"


def test_overlays_come_from_the_environment(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    settings = load_settings(environ={"TRANSLATOR_OVERLAYS": f"{one}:{two}"})
    assert settings.overlays == (one, two)

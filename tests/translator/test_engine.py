"""The engine on a small fixture mapping set: buckets, ids, variants, children, MISSING vs null."""

from __future__ import annotations

import copy
import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest

from translator.config import Settings
from translator.engine import PAGE_REQUEST, REJECTED, SKIPPED, TRANSLATED, Translator
from translator.intake.events import normalise
from translator.mapping.codegen import Origin, failure_origin
from translator.mapping.functions import FUNCTIONS, FunctionSpec
from translator.mapping.nodes import Loc
from translator.mapping.plan import load_plan
from translator.statement_ids import statement_id
from translator.targets.xapi import XAPI

CORE = Path(__file__).parent / "mapping" / "fixtures" / "core"

ENROLLED: dict[str, Any] = {
    "name": "edx.course.enrollment.activated",
    "event_type": "edx.course.enrollment.activated",
    "time": "2024-05-01T10:00:00.123456+00:00",
    "event_source": "server",
    "username": "learner1",
    "ip": "10.0.0.1",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42, "org_id": "Org"},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit", "user_id": 42},
}

PROBLEM: dict[str, Any] = {
    "name": "problem_check",
    "event_type": "problem_check",
    "time": "2024-05-01T10:05:00+00:00",
    "event_source": "server",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42},
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


@pytest.fixture(scope="module")
def translator() -> Translator:
    settings = Settings(mappings_dir=CORE, pseudonym_secret="engine-test")
    return Translator(load_plan(settings, XAPI, environ={}), id_namespace=settings.id_namespace)


def _one(translator: Translator, raw: dict[str, Any]) -> dict[str, Any]:
    outcome = translator.translate(normalise(raw))
    assert outcome.status == TRANSLATED, outcome.reason
    assert len(outcome.statements) == 1
    return outcome.statements[0]


def test_translate_enrollment_builds_a_registered_statement(translator: Translator) -> None:
    statement = _one(translator, ENROLLED)
    assert statement["verb"]["id"] == "http://adlnet.gov/expapi/verbs/registered"
    assert statement["object"]["id"] == "http://localhost:18000/course/course-v1:Org+C1+2024"
    assert statement["timestamp"] == "2024-05-01T10:00:00.123456+00:00"
    assert statement["version"] == "1.0.3"


def test_translate_keeps_personal_data_out(translator: Translator) -> None:
    text = repr(_one(translator, ENROLLED))
    assert "learner1" not in text and "10.0.0.1" not in text
    assert "'name': '42'" not in text


def test_translate_ids_are_deterministic_and_depend_on_the_event(translator: Translator) -> None:
    first = _one(translator, ENROLLED)
    again = _one(translator, copy.deepcopy(ENROLLED))
    assert first == again
    later = _one(translator, dict(ENROLLED, time="2024-05-01T10:00:01+00:00"))
    assert later["id"] != first["id"]


def test_translate_pseudonym_depends_on_the_secret() -> None:
    one = Settings(mappings_dir=CORE, pseudonym_secret="a")
    two = Settings(mappings_dir=CORE, pseudonym_secret="b")
    names = [
        _one(Translator(load_plan(s, XAPI, environ={}), id_namespace=s.id_namespace), ENROLLED)[
            "actor"
        ]
        for s in (one, two)
    ]
    assert names[0]["account"]["name"] != names[1]["account"]["name"]


def test_translate_keeps_null_and_drops_missing(translator: Translator) -> None:
    null_mode = dict(ENROLLED, event=dict(ENROLLED["event"], mode=None))
    extensions = _one(translator, null_mode)["object"]["definition"]["extensions"]
    assert extensions == {"https://w3id.org/xapi/acrossx/extensions/type": None}
    no_mode = dict(ENROLLED, event={k: v for k, v in ENROLLED["event"].items() if k != "mode"})
    assert "extensions" not in _one(translator, no_mode)["object"]["definition"]


def test_translate_skips_an_unmapped_event_by_name(translator: Translator) -> None:
    outcome = translator.translate(
        normalise(dict(ENROLLED, name="edx.bookmark.added", event_type="edx.bookmark.added"))
    )
    assert (outcome.status, outcome.reason, outcome.event_name) == (
        SKIPPED,
        "no mapping",
        "edx.bookmark.added",
    )


def test_translate_skips_an_anonymous_user(translator: Translator) -> None:
    anonymous = dict(ENROLLED, context={"course_id": "c"}, event={"course_id": "c"})
    outcome = translator.translate(normalise(anonymous))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")


def test_translate_rejects_a_missing_required_field(translator: Translator) -> None:
    outcome = translator.translate(normalise(dict(ENROLLED, event={"mode": "audit"})))
    assert (outcome.status, outcome.reason) == (
        REJECTED,
        "missing required field $.event.course_id",
    )


def test_translate_require_lists_add_up_through_extends(translator: Translator) -> None:
    # the base fragment requires $.time, the event itself $.event.course_id: both hold
    no_time = {k: v for k, v in ENROLLED.items() if k != "time"}
    outcome = translator.translate(normalise(no_time))
    assert (outcome.status, outcome.reason) == (REJECTED, "missing required field $.time")


def test_translate_falls_back_to_event_type_and_aliases(translator: Translator) -> None:
    legacy = {k: v for k, v in PROBLEM.items() if k != "name"}
    legacy["event_type"] = "save_problem_check"
    statements = translator.translate(normalise(legacy)).statements
    assert statements[0]["verb"]["id"] == "https://w3id.org/xapi/acrossx/verbs/evaluated"


def test_translate_picks_the_variant_by_event_source(translator: Translator) -> None:
    browser = dict(PROBLEM, event_source="browser")
    assert _one(translator, browser)["verb"]["id"] == "http://adlnet.gov/expapi/verbs/attempted"
    outcome = translator.translate(normalise(dict(PROBLEM, event_source="mobile")))
    assert (outcome.status, outcome.reason) == (SKIPPED, "no variant 'mobile'")
    anonymous = dict(PROBLEM, event_source="mobile", context={"course_id": "c"})
    outcome = translator.translate(normalise(anonymous))
    assert (outcome.status, outcome.reason) == (SKIPPED, "anonymous user")  # that reason first


def test_translate_fans_out_children_that_refer_to_the_parent(translator: Translator) -> None:
    outcome = translator.translate(normalise(PROBLEM))
    parent, *children = outcome.statements
    assert len(children) == 2
    assert parent["result"]["score"] == {"raw": 1, "max": 2, "min": 0, "scaled": 0.5}
    assert [c["object"]["id"].rsplit("/", 1)[1] for c in children] == ["p1_2_1", "p1_3_1"]
    # `result: !replace` in the child template: no score inherited from the parent
    assert [c["result"] for c in children] == [{"success": True}, {"success": False}]
    for child in children:
        assert child["context"]["statement"] == {"objectType": "StatementRef", "id": parent["id"]}
    assert len({s["id"] for s in outcome.statements}) == 3


def test_translate_does_not_fan_out_below_min_items(translator: Translator) -> None:
    single = copy.deepcopy(PROBLEM)
    del single["event"]["submission"]["p1_3_1"]
    assert len(translator.translate(normalise(single)).statements) == 1


def test_translate_leaves_score_bounds_out_when_max_grade_is_zero(translator: Translator) -> None:
    zero = copy.deepcopy(PROBLEM)
    zero["event"].update(grade=0, max_grade=0, submission={})
    assert _one(translator, zero)["result"]["score"] == {"raw": 0}


def test_translate_rejects_an_invalid_statement_with_the_reason(translator: Translator) -> None:
    bad_time = dict(ENROLLED, time="yesterday")
    outcome = translator.translate(normalise(bad_time))
    assert outcome.status == TRANSLATED  # a timestamp that cannot be read is left out, not invented
    assert "timestamp" not in outcome.statements[0]
    broken = dict(ENROLLED, event=dict(ENROLLED["event"], course_id="not a course id"))
    broken["context"] = dict(ENROLLED["context"], course_id="has spaces")
    outcome = translator.translate(normalise(broken))
    assert outcome.status == REJECTED
    assert outcome.reason.startswith("invalid statement: /object/id:")


def test_statement_id_is_the_standard_uuid5() -> None:
    namespace = uuid.UUID("6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d")
    canonical = b'{"name":"x"}'
    expected = uuid.uuid5(namespace, (canonical + b"\x1fa\x1fb").decode())
    assert statement_id(namespace, canonical, "a", "b") == str(expected)


def test_statement_id_recipe_is_pinned(translator: Translator) -> None:
    # The id recipe is a contract: changing it would duplicate every statement already sent.
    assert _one(translator, ENROLLED)["id"] == "38899149-7b3e-5bfc-9637-2dde8919ff01"


def test_translate_still_rejects_bad_values_once_a_shape_is_proven(translator: Translator) -> None:
    # The first valid statement proves the template's shape; later ones are checked by the rules
    # of the places their event values land in, and must be refused all the same.
    assert translator.translate(normalise(ENROLLED)).status == TRANSLATED
    spaced = copy.deepcopy(ENROLLED)
    spaced["context"]["course_id"] = "course v1 with spaces"
    outcome = translator.translate(normalise(spaced))
    assert outcome.status == REJECTED
    assert outcome.reason.startswith("invalid statement: /object/id:")
    numeric_mode = copy.deepcopy(ENROLLED)
    numeric_mode["event"]["mode"] = {"nested": ["extension values may be any JSON"]}
    assert translator.translate(normalise(numeric_mode)).status == TRANSLATED


def test_translate_still_checks_score_relations_once_proven(translator: Translator) -> None:
    assert translator.translate(normalise(PROBLEM)).status == TRANSLATED
    over = copy.deepcopy(PROBLEM)
    over["event"].update(scaled=2.5)
    outcome = translator.translate(normalise(over))
    assert outcome.status == REJECTED
    assert "/result/score/scaled: 2.5 is outside [-1, 1]" in outcome.reason
    above = copy.deepcopy(PROBLEM)
    above["event"].update(grade=5, max_grade=2)  # a grade no xAPI score can hold: raw alone
    outcome = translator.translate(normalise(above))
    assert outcome.status == TRANSLATED
    assert outcome.statements[0]["result"]["score"] == {"raw": 5}
    text_grade = copy.deepcopy(PROBLEM)
    text_grade["event"].update(grade="1")
    outcome = translator.translate(normalise(text_grade))
    assert outcome.status == REJECTED
    assert outcome.reason.startswith("invalid statement: /result/score/raw:")


def test_templates_prove_shapes_only_where_leaf_rules_apply(translator: Translator) -> None:
    assert translator.translate(normalise(PROBLEM)).status == TRANSLATED
    server = translator._events["problem_check"].variants["server"]
    assert server.statement.provable and server.statement.relations_dynamic
    assert server.statement.proven_masks


def _core_translator(*overlays: Path) -> Translator:
    settings = Settings(pseudonym_secret="engine-test", overlays=overlays)
    return Translator(load_plan(settings, XAPI, environ={}), id_namespace=settings.id_namespace)


PAGE_REQUESTED: dict[str, Any] = {
    "event_type": "/courses/course-v1:Org+C1+2024/progress",
    "time": "2024-05-01T10:00:00+00:00",
    "event_source": "server",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42},
    "event": '{"GET": {}, "POST": {}}',
}


def test_translate_gives_every_page_request_to_page_request() -> None:
    outcome = _core_translator().translate(normalise(PAGE_REQUESTED))
    assert (outcome.status, outcome.event_name) == (TRANSLATED, PAGE_REQUESTED["event_type"])
    [statement] = outcome.statements
    assert statement["object"]["id"].endswith("/courses/course-v1:Org+C1+2024/progress")


def test_translate_skips_page_requests_when_page_request_is_disabled(tmp_path: Path) -> None:
    (tmp_path / "overlay.yaml").write_text(
        f'events:\n  {PAGE_REQUEST}: !disable "no page views"\n', encoding="utf-8"
    )
    outcome = _core_translator(tmp_path).translate(normalise(PAGE_REQUESTED))
    assert (outcome.status, outcome.reason) == (SKIPPED, "no page views")


def test_translate_counts_an_unknown_future_event_as_skipped_by_name() -> None:
    raw = dict(ENROLLED, name="edx.future.event", event_type="edx.future.event")
    outcome = _core_translator().translate(normalise(raw))
    assert (outcome.status, outcome.reason, outcome.event_name) == (
        SKIPPED,
        "no mapping",
        "edx.future.event",
    )


def _failing_timestamp(value: Any) -> Any:
    raise ValueError(f"cannot read time {value!r}")


def test_translate_rejects_a_failing_builder_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(FUNCTIONS, "timestamp", FunctionSpec(1, 1, lambda _ctx: _failing_timestamp))
    settings = Settings(mappings_dir=CORE, pseudonym_secret="engine-test")
    plan = load_plan(settings, XAPI, environ={})
    translator = Translator(plan, id_namespace=settings.id_namespace)
    outcome = translator.translate(normalise(ENROLLED))
    assert outcome.status == REJECTED
    assert outcome.reason.startswith(
        "mapping edx.course.enrollment.activated (core/xapi/enrollment.yaml:3:5) failed "
        "building /timestamp (core/_shared/fragments.yaml:13:18): ValueError("
    )

    builder = plan.events["edx.course.enrollment.activated"].variants["default"].statement
    with pytest.raises(ValueError) as caught:
        builder.build(normalise(ENROLLED))
    assert failure_origin(caught.value) == Origin(
        "/timestamp",
        Loc("core/_shared/fragments.yaml", 13, 18, "/fragments/base/statement/timestamp"),
    )
    text = "".join(traceback.format_exception(caught.value))
    assert builder.code is not None and f'File "{builder.code.filename}", line ' in text
    assert "# !call timestamp\n" in text  # the generated line itself, from linecache


def _nested(depth: int) -> Any:
    value: Any = "audit"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (_nested(260), "nested deeper than 32 levels"),
        (_nested(33), "nested deeper than 32 levels"),
        (1 << 64, "beyond 64 bits"),
        ({"a": [float("inf")]}, "a non-finite number"),
    ],
)
def test_translate_rejects_an_extension_value_no_writer_can_take(
    translator: Translator, mode: Any, reason: str
) -> None:
    # Once proven, a template checks only the event values: the bound holds then too.
    assert translator.translate(normalise(ENROLLED)).status == TRANSLATED
    event = copy.deepcopy(ENROLLED)
    event["event"]["mode"] = mode
    outcome = translator.translate(normalise(event))
    assert outcome.status == REJECTED
    assert "/object/definition/extensions/" in outcome.reason and reason in outcome.reason
    event["event"]["mode"] = _nested(32)
    assert translator.translate(normalise(event)).status == TRANSLATED


def test_translate_rejects_a_statement_over_the_size_limit(translator: Translator) -> None:
    event = copy.deepcopy(ENROLLED)
    event["event"]["mode"] = "x" * 300_000
    outcome = translator.translate(normalise(event))
    assert outcome.status == REJECTED
    assert (
        outcome.reason.startswith("the statement is ")
        and "over the limit of 262144" in outcome.reason
    )

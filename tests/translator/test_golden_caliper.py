"""Golden tests of the Caliper mappings: each raw event of tests/golden/caliper/ gives exactly
the events beside it, and every event passes our rules and the official IMS JSON Schemas.

Pairs are named and read as in tests/translator/test_golden.py (the inputs are those of the
xAPI pairs for the same events). Every event name the Caliper plan maps has a pair, and every
event name the xAPI plan maps is either mapped to Caliper or declared in `mappings/caliper/` as
`name: !disable "why Caliper 1.2 has no fitting event type or action"`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from support.caliper_check import assert_valid_event

from translator.config import Settings
from translator.engine import Translator
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan, translator_version
from translator.targets.caliper import CALIPER
from translator.targets.xapi import XAPI

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "caliper"
INPUT_SUFFIX = ".input.json"
EXPECTED_SUFFIX = ".expected.json"
SETTINGS = Settings(lms_root_url="http://localhost:18000", pseudonym_secret="golden-test-secret")
VERSION_PLACEHOLDER = "{translator_version}"
INPUTS = sorted(GOLDEN.glob("*" + INPUT_SUFFIX))


def _stem(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]


@cache
def _plan() -> Plan:
    return load_plan(SETTINGS, CALIPER, environ={})


@cache
def _translator() -> Translator:
    return Translator(_plan(), id_namespace=SETTINGS.id_namespace)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _event_of(stem: str, names: list[str]) -> str | None:
    matches = [n for n in names if stem == n or stem.startswith(n + ".")]
    return max(matches, key=len) if matches else None


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: _stem(p, INPUT_SUFFIX))
def test_golden_caliper_pair_matches(input_path: Path) -> None:
    expected_path = GOLDEN / (_stem(input_path, INPUT_SUFFIX) + EXPECTED_SUFFIX)
    if not expected_path.exists():
        pytest.fail(f"{input_path.name} has no {expected_path.name}", pytrace=False)
    raw = _read(input_path)
    text = expected_path.read_text(encoding="utf-8")
    expected = json.loads(text.replace(VERSION_PLACEHOLDER, translator_version()))

    outcome = _translator().translate(normalise(raw))

    if isinstance(expected, dict):
        [(status, reason)] = expected.items()
        assert (outcome.status, outcome.reason) == (status, reason)
        assert outcome.statements == []
        return
    assert (outcome.status, outcome.reason) == ("translated", "")
    assert outcome.statements == expected
    for event in outcome.statements:
        assert_valid_event(event)
        if raw.get("username"):  # a batch task logs "" (no one's name to leak)
            assert raw["username"] not in json.dumps(event)


def test_golden_caliper_every_mapped_event_has_a_pair() -> None:
    names = _plan().event_names()
    assert len(names) >= 50
    covered = {_event_of(_stem(p, INPUT_SUFFIX), names) for p in INPUTS}
    missing = [name for name in names if name not in covered]
    assert not missing, f"mapped events without a golden pair in {GOLDEN}: {missing}"


def test_golden_caliper_every_file_has_its_pair() -> None:
    inputs = {_stem(p, INPUT_SUFFIX) for p in INPUTS}
    expected = {_stem(p, EXPECTED_SUFFIX) for p in GOLDEN.glob("*" + EXPECTED_SUFFIX)}
    assert inputs == expected


def test_golden_caliper_ids_are_stable_urn_uuids() -> None:
    raw = _read(GOLDEN / "problem_check.server.input.json")
    first = _translator().translate(normalise(raw)).statements[0]["id"]
    again = Translator(load_plan(SETTINGS, CALIPER, environ={}), id_namespace=SETTINGS.id_namespace)
    assert again.translate(normalise(raw)).statements[0]["id"] == first
    assert first.startswith("urn:uuid:")


# A reason says why Caliper 1.2 has nothing that fits: never a placeholder.
_PLACEHOLDERS = ("todo", "tbd", "fixme", "xxx", "later", "not yet")


def test_caliper_maps_every_xapi_event_or_says_why() -> None:
    xapi = load_plan(SETTINGS, XAPI, environ={})
    caliper = _plan()
    unexplained = [
        name
        for name in xapi.event_names()
        if name not in caliper.events and name not in caliper.disabled
    ]
    assert not unexplained, (
        "xAPI-mapped events with neither a Caliper mapping nor a reason"
        f' (`name: !disable "reason"` in mappings/caliper/): {unexplained}'
    )
    stale = sorted(name for name in caliper.disabled if name not in xapi.events)
    assert not stale, f"Caliper reasons for events the xAPI plan does not map: {stale}"
    for name, reason in caliper.disabled.items():
        words = reason.lower()
        assert len(reason) >= 40 and not any(p in words for p in _PLACEHOLDERS), (
            f"{name}: {reason!r} is no reason why Caliper 1.2 has no fitting event type"
        )


def test_caliper_disabled_event_is_skipped_with_its_reason() -> None:
    name, reason = sorted(_plan().disabled.items())[0]
    outcome = _translator().translate(
        normalise({"name": name, "event": {}, "time": "2024-05-01T08:00:00Z"})
    )
    assert (outcome.status, outcome.reason) == ("skipped", reason)

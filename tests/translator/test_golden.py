"""Golden tests: each raw event of tests/golden/xapi/ gives exactly the statements beside it.

A pair is `<edx event name>[.<case>].input.json` (a raw event as a log holds it, either shape)
and `<same>.expected.json`: the list of statements the core mappings must produce, ids included,
or `{"skipped": "<reason>"}` / `{"rejected": "<reason>"}`. The meta-tests fail when a mapped event
name has no pair or an input has no expected file, so no event passes by omission.

Expected files write the transformer-version extension as
`edx-xapi-translator@{translator_version}`: the test puts the installed version there, so a
release does not rewrite every fixture.
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from services import RalphLRS, ralph_python
from support.tincan_check import assert_valid_statement

from translator.config import Settings
from translator.engine import Translator
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan, translator_version
from translator.sinks.destinations import Destination
from translator.sinks.lrs import LRSClient
from translator.summary import summary_key
from translator.targets.xapi import XAPI

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "xapi"
INPUT_SUFFIX = ".input.json"
EXPECTED_SUFFIX = ".expected.json"
SETTINGS = Settings(lms_root_url="http://localhost:18000", pseudonym_secret="golden-test-secret")
VERSION_PLACEHOLDER = "{translator_version}"
# Fields of a tracking log that identify a person; no statement may carry their values.
IDENTITY_FIELDS = ("username", "ip", "agent")


def _stem(path: Path, suffix: str) -> str:
    return path.name[: -len(suffix)]


INPUTS = sorted(GOLDEN.glob("*" + INPUT_SUFFIX))
EXPECTED = sorted(GOLDEN.glob("*" + EXPECTED_SUFFIX))


@cache
def _plan() -> Plan:
    return load_plan(SETTINGS, XAPI, environ={})


@cache
def _translator() -> Translator:
    return Translator(_plan(), id_namespace=SETTINGS.id_namespace)


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _event_of(stem: str, names: list[str]) -> str | None:
    """The mapped event a pair is for: the longest name the stem is, or starts with plus "."."""
    matches = [n for n in names if stem == n or stem.startswith(n + ".")]
    return max(matches, key=len) if matches else None


def _identity_values(raw: dict[str, Any]) -> list[str]:
    """The username, IP and user agent of a raw event (top level or event-bus context)."""
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    values = []
    for field in IDENTITY_FIELDS:
        for holder in (raw, context):
            value = holder.get(field)
            if isinstance(value, str) and value:
                values.append(value)
    return values


def test_golden_fixtures_exist() -> None:
    assert INPUTS, f"no golden inputs in {GOLDEN}"


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: _stem(p, INPUT_SUFFIX))
def test_golden_pair_matches(input_path: Path) -> None:
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
    for statement in outcome.statements:
        assert_valid_statement(statement)


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: _stem(p, INPUT_SUFFIX))
def test_golden_statements_carry_no_identity(input_path: Path) -> None:
    raw = _read(input_path)
    outcome = _translator().translate(normalise(raw))
    text = json.dumps(outcome.statements)
    for value in _identity_values(raw):
        assert value not in text


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: _stem(p, INPUT_SUFFIX))
def test_golden_input_is_named_as_its_event(input_path: Path) -> None:
    stem = _stem(input_path, INPUT_SUFFIX)
    event = _event_of(stem, _plan().event_names())
    assert event is not None, f"{input_path.name}: no mapped event name starts its file name"
    raw = _read(input_path)
    # A page request is logged with its path as event_type and translated by page_request.
    event_type = raw.get("event_type")
    page_request = summary_key(event_type) if isinstance(event_type, str) else None
    assert event in (raw.get("name"), event_type, page_request)


def test_golden_every_mapped_event_has_a_pair() -> None:
    names = _plan().event_names()
    covered = {_event_of(_stem(p, INPUT_SUFFIX), names) for p in INPUTS}
    missing = [name for name in names if name not in covered]
    assert not missing, f"mapped events without a golden pair in {GOLDEN}: {missing}"


def test_golden_every_input_has_an_expected_file() -> None:
    stems = {_stem(p, EXPECTED_SUFFIX) for p in EXPECTED}
    missing = [p.name for p in INPUTS if _stem(p, INPUT_SUFFIX) not in stems]
    assert not missing, f"golden inputs without an expected file: {missing}"


def test_golden_every_expected_file_has_an_input() -> None:
    stems = {_stem(p, INPUT_SUFFIX) for p in INPUTS}
    orphans = [p.name for p in EXPECTED if _stem(p, EXPECTED_SUFFIX) not in stems]
    assert not orphans, f"expected files without an input: {orphans}"


def _all_golden_statements() -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for input_path in INPUTS:
        statements.extend(_translator().translate(normalise(_read(input_path))).statements)
    return statements


def test_golden_statements_are_stored_by_a_real_lrs(lrs: RalphLRS) -> None:
    statements = _all_golden_statements()
    destination = Destination(
        name="ralph", url=lrs.url, username=lrs.username, password=lrs.password
    )
    with LRSClient(destination, timeout=60) as client:
        for start in range(0, len(statements), 100):
            answer = client.post(statements[start : start + 100])
            assert answer.kind == "delivered", answer.describe()
    assert len({s["id"] for s in lrs.stored_statements()}) == len(statements)


_STRICT_MODEL = """
import json, sys
from pydantic import ValidationError
from ralph.models.xapi.base.statements import BaseXapiStatement
failures = 0
for line in sys.stdin:
    statement = json.loads(line)
    try:
        BaseXapiStatement.model_validate(statement) if hasattr(
            BaseXapiStatement, "model_validate") else BaseXapiStatement.parse_obj(statement)
    except ValidationError as error:
        failures += 1
        print(statement["id"], str(error).replace("\\n", " ")[:300])
sys.exit(1 if failures else 0)
"""


def test_golden_statements_pass_ralphs_strict_xapi_model() -> None:
    lines = "".join(json.dumps(s) + "\n" for s in _all_golden_statements())
    done = subprocess.run(
        [str(ralph_python()), "-c", _STRICT_MODEL],
        input=lines,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

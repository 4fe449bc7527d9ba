"""A fuzzed log through the shipped mappings: nothing invalid leaves, every line is counted.

Each golden input is the seed: every value the event holds (every leaf, and every object and
list as a whole) is replaced, one at a time, by hostile values (controls, terminal escapes, bidi
overrides, brackets, bare %, lists, deep nesting, integers beyond 64 bits, empty and huge
strings). Every statement that comes out must pass our rules, tincan's round trip and ralph's
strict model (`BaseXapiStatement`, run in the test LRS's virtualenv); every line must end
translated, skipped or rejected.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services import ralph_python
from support.tincan_check import assert_valid_statement

from translator.config import Settings
from translator.engine import Translator
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE
from translator.mapping.plan import load_plan
from translator.pipeline import translate_lines
from translator.summary import Summary
from translator.targets.xapi import XAPI

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "xapi"
SETTINGS = Settings(lms_root_url="http://localhost:18000", pseudonym_secret="fuzz-secret")


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": [value]}
    return value


HOSTILE: list[Any] = [
    "",
    " ",
    "a\x00b",
    "\x1b[31mred\x1b[0m",
    "\u202egnp.exe",
    "[1,2]",
    "100%",
    "%zz",
    'a b<c>"d"{e}|f\\g^h`i',
    "日本語/été",
    "x" * 5000,
    "-00:00",
    "2024-13-45T99:99:99+00:00",
    "P-1D",
    [1, 2],
    ["a", ["b"]],
    {},
    {"k": "v"},
    None,
    True,
    0,
    -1,
    1.5,
    1e308,
    (1 << 64) + 7,
    -(1 << 70),
    _nested(40),
    _nested(200),
]


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into `value`: objects and lists as a whole, and every leaf."""
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, (*path, index))


def _replaced(event: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(event))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


def _fuzzed_lines() -> list[bytes]:
    rng = random.Random(13)
    lines: list[bytes] = []
    for seed in sorted(GOLDEN.glob("*.input.json")):
        event = json.loads(seed.read_text(encoding="utf-8"))
        for path in _places(event):
            for value in rng.sample(HOSTILE, 6):
                lines.append(json.dumps(_replaced(event, path, value)).encode())
    return lines


def _ralph_refusals(statements: list[dict[str, Any]]) -> list[str]:
    """What ralph's strict model refuses among `statements` (each as id: first error)."""
    script = (
        "import json, sys\n"
        "from ralph.models.xapi.base.statements import BaseXapiStatement\n"
        "for line in sys.stdin:\n"
        "    s = json.loads(line)\n"
        "    try:\n"
        "        BaseXapiStatement(**s)\n"
        "    except Exception as exc:\n"
        "        print(s.get('id'), str(exc).splitlines()[:3])\n"
    )
    payload = "".join(json.dumps(s) + "\n" for s in statements)
    done = subprocess.run(
        [str(ralph_python()), "-c", script],
        input=payload,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout.splitlines()


def test_fuzzed_log_emits_only_valid_statements_and_counts_every_line() -> None:
    plan = load_plan(SETTINGS, XAPI, environ={})
    translator = Translator(plan, id_namespace=SETTINGS.id_namespace)
    raw = _fuzzed_lines()
    lines = [SourceLine("fuzz.log", n, text) for n, text in enumerate(raw, start=1)]
    summary = Summary()
    statements: list[dict[str, Any]] = []
    for result in translate_lines(lines, translator):
        assert result is not IDLE
        summary.add(result.outcome)
        statements.extend(result.outcome.statements)
    assert summary.read == len(raw) > 5000
    assert summary.read == summary.translated + summary.skipped + summary.rejected
    assert summary.translated > 1000 and summary.rejected > 100  # the fuzz reached both
    for statement in statements:
        assert_valid_statement(statement)
    assert _ralph_refusals(statements) == []

"""Runs every `yaml overlay` block of mappings/README.md over the core mappings: an example
followed by a `text errors` block must fail with exactly those messages, the others must load
without error or warning."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest

from translator.config import Settings, default_mappings_dir
from translator.engine import TRANSLATED, Translator
from translator.errors import MappingError
from translator.intake.events import normalise
from translator.mapping.plan import Plan, load_plan
from translator.targets.xapi import XAPI

README = default_mappings_dir() / "README.md"
GOLDEN = Path(__file__).parents[2] / "golden" / "xapi"
_BLOCK = re.compile(r"```yaml overlay\n(.*?)```\n(?:\s*```text errors\n(.*?)```)?", re.DOTALL)
PROFILE = {
    "id": "https://example.edu/xapi/profile",
    "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
}


def _examples() -> list[tuple[str, list[str]]]:
    text = README.read_text(encoding="utf-8")
    return [(body, errors.strip().splitlines()) for body, errors in _BLOCK.findall(text)]


def _load(body: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Plan:
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "overlay.yaml").write_text(body, encoding="utf-8")
    monkeypatch.chdir(overlay)  # file names as `translator check` run there shows them
    settings = Settings(pseudonym_secret="readme", overlays=(overlay,))
    return load_plan(settings, XAPI, environ={}, known_targets=("xapi", "caliper"))


def test_readme_has_overlay_examples_with_and_without_errors() -> None:
    examples = _examples()
    assert any(errors for _, errors in examples)
    assert any(not errors for _, errors in examples)
    assert any("!append" in body for body, _ in examples)


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e[0].split("\n", 2)[1].strip()[:40])
def test_readme_overlay_example_loads_or_fails_exactly(
    example: tuple[str, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body, errors = example
    if errors:
        with pytest.raises(MappingError) as caught:
            _load(body, tmp_path, monkeypatch)
        assert [str(issue) for issue in caught.value.issues] == errors
    else:
        plan = _load(body, tmp_path, monkeypatch)
        assert [str(warning) for warning in plan.warnings] == []


def _translate(plan: Plan, name: str) -> dict[str, Any]:
    event = orjson.loads((GOLDEN / f"{name}.input.json").read_bytes())
    outcome = Translator(plan, id_namespace=Settings().id_namespace).translate(normalise(event))
    assert outcome.status == TRANSLATED, outcome.reason
    statement: dict[str, Any] = outcome.statements[0]
    return statement


def test_readme_append_example_adds_a_category_to_every_statement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = next(body for body, _ in _examples() if "!append" in body)
    plan = _load(body, tmp_path, monkeypatch)
    enrolled = _translate(plan, "edx.course.enrollment.activated")
    assert enrolled["context"]["contextActivities"]["category"] == [PROFILE]
    # The video events set a category of their own: the appended one comes after it.
    played = _translate(plan, "play_video")
    assert [c["id"] for c in played["context"]["contextActivities"]["category"]] == [
        "https://w3id.org/xapi/video",
        PROFILE["id"],
    ]

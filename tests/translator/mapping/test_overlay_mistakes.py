"""Each realistic overlay mistake fails `translator check --overlay DIR` with exit 2 and exact
messages: one overlay directory per mistake under fixtures/overlays/, its expected stderr in
`<case>.errors` (a first line `$ --strict` gives extra arguments of `check`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from translator.cli import main

OVERLAYS = Path(__file__).parent / "fixtures" / "overlays"
CASES = sorted(p for p in OVERLAYS.iterdir() if p.is_dir())


def _check(case: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str], list[str]]:
    """Run `translator check` on one case: exit code, expected and actual stderr lines."""
    monkeypatch.chdir(OVERLAYS)  # files are named relative to the working directory
    for name in ("TRANSLATOR_MAPPINGS_DIR", "TRANSLATOR_OVERLAYS", "TRANSLATOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRANSLATOR_PSEUDONYM_SECRET", "overlay-mistakes")
    expected = case.with_suffix(".errors").read_text(encoding="utf-8").strip().splitlines()
    args = expected.pop(0)[2:].split() if expected[0].startswith("$ ") else []
    result = CliRunner().invoke(main, ["check", "--overlay", case.name, *args])
    return result.exit_code, expected, result.stderr.strip().splitlines()


def test_overlay_mistake_fixtures_each_have_expected_errors() -> None:
    assert CASES, "no overlay-mistake fixtures found"
    for case in CASES:
        assert case.with_suffix(".errors").is_file(), f"{case.name} has no .errors file"


@pytest.mark.parametrize("case", CASES, ids=lambda p: p.name)
def test_overlay_mistake_fails_check_with_exact_message(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, expected, actual = _check(case, monkeypatch)
    assert actual == expected
    assert code == 2

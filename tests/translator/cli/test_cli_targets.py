"""`--target` on dry-run, check, explain and coverage: Caliper beside xAPI, each line once."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from support.caliper_check import SCHEMA_DIR, assert_valid_event, official_schemas_or_skip
from support.tincan_check import assert_valid_statement

from translator.cli import main

EXAMPLE_LOG = Path(__file__).resolve().parents[3] / "examples" / "tracking.log"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.delenv("TRANSLATOR_MAPPINGS_DIR", raising=False)
    monkeypatch.delenv("TRANSLATOR_OVERLAYS", raising=False)
    monkeypatch.setenv("TRANSLATOR_PSEUDONYM_SECRET", "cli-test")
    return CliRunner()


def test_dry_run_two_targets_counts_each_line_once(runner: CliRunner) -> None:
    result = runner.invoke(main, ["dry-run", "--target", "xapi,caliper", str(EXAMPLE_LOG)])
    assert result.exit_code == 0, result.stderr
    items = [orjson.loads(line) for line in result.stdout.splitlines()]
    caliper = [item for item in items if "@context" in item]
    xapi = [item for item in items if "@context" not in item]
    for event in caliper:
        assert_valid_event(event)
    for statement in xapi:
        assert_valid_statement(statement)
    lines = result.stderr.strip().splitlines()
    assert f"xapi: translated 51 lines ({len(xapi)} statements)" in lines
    assert f"caliper: translated {len(caliper)} lines ({len(caliper)} statements)" in lines
    assert lines[-1] == (
        f"read 52, translated 51 (xapi {len(xapi)}, caliper {len(caliper)}), skipped 1, rejected 0"
    )
    alone = runner.invoke(main, ["dry-run", "--target", "caliper", str(EXAMPLE_LOG)])
    assert [orjson.loads(line) for line in alone.stdout.splitlines()] == caliper


def test_dry_run_strict_caliper_uses_the_configured_schemas(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSLATOR_CALIPER_SCHEMA_DIR", raising=False)
    refused = runner.invoke(main, ["dry-run", "--strict", "--target", "caliper", str(EXAMPLE_LOG)])
    assert refused.exit_code == 2 and "set caliper_schema_dir" in refused.stderr
    official_schemas_or_skip()
    monkeypatch.setenv("TRANSLATOR_CALIPER_SCHEMA_DIR", str(SCHEMA_DIR))
    result = runner.invoke(main, ["dry-run", "--strict", "--target", "caliper", str(EXAMPLE_LOG)])
    assert result.exit_code == 0, result.stderr
    assert "rejected 0" in result.stderr.splitlines()[-1]


def test_check_explain_coverage_take_a_target(runner: CliRunner) -> None:
    check = runner.invoke(main, ["check", "--target", "caliper"])
    assert check.exit_code == 0 and "mappings OK: " in check.stdout
    explain = runner.invoke(main, ["explain", "--target", "xapi,caliper", "problem_check"])
    assert explain.exit_code == 0
    assert "== caliper" in explain.stdout and "mappings/caliper/problem.yaml" in explain.stdout
    coverage = runner.invoke(main, ["coverage", "--target", "caliper", str(EXAMPLE_LOG)])
    # Caliper maps every event xAPI maps: every line of the example log.
    assert coverage.exit_code == 0 and "52 readable lines; 52 lines mapped" in coverage.stdout
    unknown = runner.invoke(main, ["check", "--target", "cmi5"])
    assert unknown.exit_code == 2 and "unknown target 'cmi5'" in unknown.stderr

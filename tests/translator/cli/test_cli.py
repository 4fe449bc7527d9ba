"""The translator CLI: dry-run buckets, summary, rejects, exit codes; check, explain, coverage."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from logs import write_log
from support.tincan_check import assert_valid_statement

from translator.cli import main
from translator.sinks.dead_letters import DeadLetter, FileDeadLetterStore

CORE = Path(__file__).parents[1] / "mapping" / "fixtures" / "core"

ENROLLED = {
    "name": "edx.course.enrollment.activated",
    "time": "2024-05-01T10:00:00+00:00",
    "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 42, "org_id": "Org"},
    "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit"},
}


def _line(**changes: object) -> bytes:
    return orjson.dumps({**ENROLLED, **changes})


LOG = b"\n".join(
    [
        _line(),
        b"2024-05-01 10:00:00,123 INFO 7 [tracking] logger.py:42 - "
        + _line(time="2024-05-01T10:00:01Z"),
        _line(name="edx.bookmark.added"),
        _line(context={"course_id": "c"}),  # anonymous
        b'{"name": "edx.course.enrollment.activated", "time": ',  # truncated
        b"[1, 2]",
        b'{"name": "edx.course.enrollment.activated", "x": "\xff\xfe"}',  # not UTF-8
        b"",
        _line(event={"mode": "audit"}),  # missing the required course id
    ]
)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("TRANSLATOR_MAPPINGS_DIR", str(CORE))
    monkeypatch.setenv("TRANSLATOR_PSEUDONYM_SECRET", "cli-test")
    monkeypatch.delenv("TRANSLATOR_OVERLAYS", raising=False)
    return CliRunner()


def test_dry_run_reconciles_every_line_and_writes_rejects(
    runner: CliRunner, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    log.write_bytes(LOG)
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(main, ["dry-run", str(log), "--rejects", str(rejects)])
    assert result.exit_code == 1
    statements = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(statements) == 2
    for statement in statements:
        assert_valid_statement(statement)
    last = result.stderr.strip().splitlines()[-1]
    assert last == "read 9, translated 2 (2 statements), skipped 2, rejected 5"
    assert "edx.bookmark.added: no mapping" in result.stderr
    assert "edx.course.enrollment.activated: anonymous user" in result.stderr
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(r["source"], r["line"]) for r in records] == [(str(log), n) for n in (5, 6, 7, 8, 9)]
    assert records[-1]["reason"] == "missing required field $.event.course_id"
    assert records[2]["reason"] == "not valid UTF-8"
    assert all(r["reason"] for r in records)


def test_dry_run_reads_gzip_and_stdin_and_exits_zero_when_clean(
    runner: CliRunner, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log.gz"
    log.write_bytes(gzip.compress(_line() + b"\n"))
    result = runner.invoke(
        main, ["dry-run", str(log), "-"], input=_line(time="2024-05-02T00:00:00Z")
    )
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "read 2, translated 2 (2 statements), skipped 0, rejected 0"
    )


def test_dry_run_output_is_deterministic(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    log.write_bytes(LOG)
    first = runner.invoke(main, ["dry-run", str(log)]).stdout
    assert first == runner.invoke(main, ["dry-run", str(log)]).stdout


def test_dry_run_warns_without_a_pseudonym_secret(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSLATOR_PSEUDONYM_SECRET")
    log = tmp_path / "tracking.log"
    log.write_bytes(_line())
    result = runner.invoke(main, ["dry-run", str(log)])
    assert result.exit_code == 0
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in result.stderr


def test_dry_run_strict_checks_with_tincan(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    log.write_bytes(_line())
    result = runner.invoke(main, ["dry-run", "--strict", str(log)])
    assert result.exit_code == 0, result.stderr


def test_dry_run_usage_errors_exit_two(runner: CliRunner, tmp_path: Path) -> None:
    missing = runner.invoke(main, ["dry-run", str(tmp_path / "nope.log")])
    assert missing.exit_code == 2
    assert "nope.log" in missing.stderr
    bad_overlay = tmp_path / "overlay"
    bad_overlay.mkdir()
    (bad_overlay / "x.yaml").write_text("events:\n  edx.course.enrolment.activated: !disable\n")
    result = runner.invoke(main, ["dry-run", "--overlay", str(bad_overlay), str(tmp_path)])
    assert result.exit_code == 2
    assert "did you mean 'edx.course.enrollment.activated'?" in result.stderr


def test_check_reports_catalog_coverage(runner: CliRunner) -> None:
    result = runner.invoke(main, ["check"])
    assert result.exit_code == 0, result.stderr
    assert "catalog coverage: 3 of 73 documented events mapped" in result.stdout
    assert "not mapped: edx.course.enrollment.upgrade.clicked" in result.stdout


def test_check_sample_runs_a_log_through_the_mappings(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    log.write_bytes(LOG)
    result = runner.invoke(main, ["check", "--sample", str(log)])
    assert result.exit_code == 0, result.stderr
    sample = result.stdout[result.stdout.index("sample:") :].splitlines()
    assert sample == [
        "sample: 9 lines: 2 translated, 2 skipped, 5 rejected",
        "  (not an event): 0 translated, 0 skipped, 4 rejected",
        "      rejected: invalid JSON: unexpected end of data: line 1 column 53 (char 52)",
        "      rejected: JSON value is an array, not an object",
        "      rejected: not valid UTF-8",
        "  edx.bookmark.added: 0 translated, 1 skipped, 0 rejected",
        "      skipped: no mapping",
        "  edx.course.enrollment.activated: 2 translated, 1 skipped, 1 rejected",
        "      rejected: missing required field $.event.course_id",
        "      skipped: anonymous user",
    ]


def test_explain_shows_the_file_and_line_of_each_field(runner: CliRunner) -> None:
    result = runner.invoke(main, ["explain", "edx.course.enrollment.activated"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # YAML-like: each key on its own line, indented under its parent, the YAML node as a comment
    verb = lines.index("    verb:")
    assert lines[verb + 1].startswith("      id: http://adlnet.gov/expapi/verbs/registered  # ")
    assert "xapi/enrollment.yaml:" in lines[verb + 1]
    # pointers unescaped: an extension key is written as the IRI it is
    assert any(
        line.strip().startswith("https://w3id.org/xapi/acrossx/extensions/type: !path")
        for line in lines
    )
    unknown = runner.invoke(main, ["explain", "edx.course.enrolment.activated"])
    assert unknown.exit_code == 2
    assert "did you mean 'edx.course.enrollment.activated'?" in unknown.stderr


def test_explain_expand_writes_fragments_out_where_used(runner: CliRunner) -> None:
    result = runner.invoke(main, ["explain", "--expand", "edx.course.enrollment.activated"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    actor = next(line for line in lines if line.strip().startswith("actor:"))
    assert "# !ref actor (" in actor  # where the fragment was used, then its own lines
    assert lines[lines.index(actor) + 1].strip().startswith("objectType: Agent  # ")


def test_explain_code_shows_the_generated_builders_with_yaml_lines(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TRANSLATOR_MAPPINGS_DIR")  # the core mappings of the checkout
    result = runner.invoke(main, ["explain", "problem_check", "--code"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "    def build(doc):" in lines
    assert "mappings/xapi/problem.yaml:" in result.stdout
    assert any(line.startswith("  children statement: <mapping problem_check/") for line in lines)
    placed = [line for line in lines if "/object/id <- mappings/xapi/problem.yaml:" in line]
    assert placed, "the object id is placed with its YAML line"


def test_coverage_counts_event_types(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    log.write_bytes(LOG)
    result = runner.invoke(main, ["coverage", str(log)])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("mapped" in row and "edx.course.enrollment.activated" in row for row in lines)
    assert any("not mapped" in row and "edx.bookmark.added" in row for row in lines)
    assert lines[-1].endswith("4 unreadable lines")


def test_dry_run_rejects_a_poison_line_and_prints_every_other(
    runner: CliRunner, tmp_path: Path
) -> None:
    # A browser value nested 260 levels deep decodes but cannot be written: before, dry-run died
    # at that line on every run.
    log = tmp_path / "tracking.log"
    facts = write_log(log, 6, poison_at=3)
    rejects = tmp_path / "rejects.jsonl"
    result = runner.invoke(main, ["dry-run", str(log), "--rejects", str(rejects)])
    assert result.exit_code == 1, result.output
    assert len(result.stdout.splitlines()) == facts.statements
    assert result.stderr.strip().splitlines()[-1] == (
        f"read {facts.lines}, translated {facts.translated} ({facts.statements} statements), "
        f"skipped 0, rejected 1"
    )
    (record,) = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert record["line"] == 3
    assert "nested deeper than 32 levels" in record["reason"]


_HOSTILE = "evil\x1b[31m.red\x9b2J\u202egnp.exe\x07"
_RAW_CONTROLS = ("\x1b", "\x9b", "\u202e", "\x07")


def _no_raw_controls(text: str) -> None:
    found = [c for c in _RAW_CONTROLS if c in text]
    assert not found, f"raw control characters reached the terminal: {found!r} in {text!r}"


def test_terminal_output_escapes_control_characters_from_the_log(
    runner: CliRunner, tmp_path: Path
) -> None:
    # An event name, a course id and a dead letter's reason carry ESC sequences, a C1 CSI, a bidi
    # override and BEL: every command shows them escaped (`\x1b`), never raw.
    log = tmp_path / "tracking.log"
    context = {**ENROLLED["context"], "course_id": f"course-v1:{_HOSTILE}+C1"}  # type: ignore[dict-item]
    log.write_bytes(_line(name=_HOSTILE) + b"\n" + _line(context=context) + b"\n" + _line())
    dry = runner.invoke(main, ["dry-run", str(log)])
    assert "evil\\x1b[31m.red\\x9b2J\\u202egnp.exe\\x07: no mapping" in dry.stderr
    assert "rejected:" in dry.stderr
    coverage = runner.invoke(main, ["coverage", str(log)])
    assert "not mapped   -        evil\\x1b[31m" in coverage.stdout
    sample = runner.invoke(main, ["check", "--sample", str(log)])
    assert "evil\\x1b[31m" in sample.stdout
    letters = tmp_path / "dead-letters.jsonl"
    FileDeadLetterStore(letters).add(
        DeadLetter({"id": "x"}, f"LRS said {_HOSTILE}", 400, _HOSTILE, f"{log}:1", "default")
    )
    listed = runner.invoke(
        main, ["dead-letters", "list"], env={"TRANSLATOR_DEAD_LETTER_PATH": str(letters)}
    )
    as_json = runner.invoke(
        main, ["dead-letters", "list", "--json"], env={"TRANSLATOR_DEAD_LETTER_PATH": str(letters)}
    )
    assert orjson.loads(as_json.stdout.splitlines()[0])["answer"] == _HOSTILE  # the same JSON
    missing = runner.invoke(main, ["dry-run", str(tmp_path / f"{_HOSTILE}.log")])
    assert missing.exit_code == 2 and "evil\\x1b[31m" in missing.stderr
    for result in (dry, coverage, sample, listed, as_json, missing):
        _no_raw_controls(result.stdout + result.stderr)
    assert "LRS said evil\\x1b[31m" in listed.stdout


def test_json_lines_on_a_terminal_escape_what_json_leaves_raw() -> None:
    # orjson escapes C0 controls but writes C1 controls and bidi overrides raw: on a terminal,
    # dry-run's statements carry them as \uXXXX (the same JSON).
    import io
    from types import SimpleNamespace

    from translator.sinks.stdout import JsonLinesSink

    statement = {"id": "x", "name": _HOSTILE}
    result: Any = SimpleNamespace(outcome=SimpleNamespace(statements=(), encoded=()))
    for escape in (True, False):
        stream = io.BytesIO()
        sink = JsonLinesSink(stream, escape=escape)
        sink.put(statement, result, 1)
        sink.finish()
        text = stream.getvalue().decode()
        assert orjson.loads(text) == statement
        assert ("\x9b" in text) is not escape and ("\u202e" in text) is not escape
        assert "\x1b" not in text

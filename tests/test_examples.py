"""The bundled examples work: the sample log translates cleanly, the sample overlay applies."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from translator.cli import main

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT / "examples" / "tracking.log"
OVERLAY = ROOT / "examples" / "overlay"


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("TRANSLATOR_MAPPINGS_DIR", "TRANSLATOR_OVERLAYS", "TRANSLATOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TRANSLATOR_PSEUDONYM_SECRET", "examples")
    return CliRunner()


def test_examples_tracking_log_translates_without_rejects(runner: CliRunner) -> None:
    result = runner.invoke(main, ["dry-run", str(LOG)])
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("read 52, translated ")
    assert last.endswith(", rejected 0")


def test_examples_overlay_adds_changes_and_disables(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    bookmark = {
        "name": "edx.bookmark.added",
        "time": "2024-05-01T10:00:00+00:00",
        "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 7},
        "event": {
            "course_id": "course-v1:Org+C1+2024",
            "component_usage_id": "block-v1:Org+C1+2024+type@html+block@intro",
        },
    }
    enrolled = {
        "name": "edx.course.enrollment.activated",
        "time": "2024-05-01T10:00:00+00:00",
        "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 7},
        "event": {"course_id": "course-v1:Org+C1+2024", "user_id": 7, "mode": "audit"},
    }
    searched = {
        "name": "edx.forum.searched",
        "time": "2024-05-01T10:00:00+00:00",
        "context": {"course_id": "course-v1:Org+C1+2024", "user_id": 7},
        "event": {"query": "exam date", "total_results": 2},
    }
    log.write_bytes(b"\n".join(orjson.dumps(e) for e in (bookmark, enrolled, searched)))
    result = runner.invoke(main, ["dry-run", "--overlay", str(OVERLAY), str(log)])
    assert result.exit_code == 0, result.stderr
    statements = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [s["verb"]["id"] for s in statements] == [
        "http://id.tincanapi.com/verb/bookmarked",
        "http://adlnet.gov/expapi/verbs/registered",
    ]
    assert statements[1]["context"]["platform"] == "Example University LMS"
    assert "edx.forum.searched: search queries stay on campus" in result.stderr


def test_the_figures_in_readme_and_docs_are_what_the_sample_log_gives(runner: CliRunner) -> None:
    # The docs quote the sample log's summary lines; they must stay what a run prints.
    import re

    result = runner.invoke(main, ["dry-run", str(LOG)])
    dry_run = result.stderr.strip().splitlines()[-1]
    numbers = re.fullmatch(
        r"read (\d+), translated (\d+) \((\d+) statements\), skipped (\d+), rejected (\d+)", dry_run
    )
    assert numbers is not None
    read, translated, statements, skipped, rejected = numbers.groups()
    forward = (
        f"read {read}, translated {translated}, delivered {statements}, dead-lettered 0, "
        f"skipped {skipped}, rejected {rejected}"
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    quoted = re.findall(r"read \d+, translated \d+ \(\d+ statements\)[^`\n]*rejected \d+", readme)
    assert quoted == [dry_run]
    assert re.findall(r"read \d+, translated \d+, delivered[^`\n]*rejected \d+", operations) == [
        forward,
        forward,
    ]


SAMPLE = ROOT.parent / "shared" / "reference" / "sample-events.jsonl"


@pytest.mark.skipif(
    not SAMPLE.exists(), reason="the shared reference sample is not beside the repo"
)
def test_every_line_of_a_real_logs_sample_that_has_a_user_is_translated(runner: CliRunner) -> None:
    result = runner.invoke(main, ["dry-run", str(SAMPLE)])
    assert result.exit_code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    read = int(last.split(",")[0].removeprefix("read "))
    skipped = [line for line in result.stderr.splitlines() if line.startswith("  ") and ":" in line]
    assert all(line.endswith("anonymous user") for line in skipped), skipped
    assert last.endswith(", rejected 0")
    assert f"translated {read - sum(int(s.split()[0]) for s in skipped)} " in last

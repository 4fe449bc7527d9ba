"""`translator forward` in-process and `translator dead-letters`, against a real ralph LRS."""

from __future__ import annotations

import json
import os
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result
from logs import CORE_MAPPINGS, enrollment, write_log
from services import RalphLRS

from translator.cli import main
from translator.sinks.dead_letters import FileDeadLetterStore

SECRET = "forward-test-secret"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the settings a test gives: none leak in from the machine running the tests."""
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def env(lrs: RalphLRS, tmp_path: Path) -> dict[str, str]:
    return {
        "TRANSLATOR_MAPPINGS_DIR": str(CORE_MAPPINGS),
        "TRANSLATOR_PSEUDONYM_SECRET": SECRET,
        "TRANSLATOR_LRS_URL": lrs.url,
        "TRANSLATOR_LRS_USERNAME": lrs.username,
        "TRANSLATOR_LRS_PASSWORD": lrs.password,
        "TRANSLATOR_DEAD_LETTER_PATH": str(tmp_path / "dead-letters.jsonl"),
        "TRANSLATOR_BATCH_SIZE": "7",
        "TRANSLATOR_RETRY_INITIAL": "0.05",
        "TRANSLATOR_RETRY_MAX": "0.2",
    }


def _run(
    env: dict[str, str], *args: str, input: bytes | str | None = None, **changes: str | None
) -> Result:
    """Run the CLI in-process with `env` (a None value removes a variable)."""
    return CliRunner().invoke(main, list(args), input=input, env={**env, **changes})


def _ids(lrs: RalphLRS) -> list[str]:
    return [s["id"] for s in lrs.stored_statements()]


def _last_line(result: Result) -> str:
    return result.stderr.strip().splitlines()[-1]


def test_forward_lands_every_statement_exactly_once_and_reconciles(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 25, junk=True)
    rejects = tmp_path / "rejects.jsonl"
    result = _run(env, "forward", str(log), "--rejects", str(rejects))
    assert result.exit_code == 1, result.output  # two lines were rejected
    assert _last_line(result) == facts.total_line(delivered=facts.statements)
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    records = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert [(r["line"], r["reason"]) for r in records] == [
        (2, "no JSON object on the line"),
        (3, "not valid UTF-8"),
    ]
    delivered = f"destination 'default': delivered {facts.statements} (0 already stored)"
    assert delivered in result.stderr


def test_forward_same_log_twice_adds_nothing(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 20)
    first = _run(env, "forward", str(log))
    assert first.exit_code == 0, first.output
    assert _last_line(first) == facts.total_line(delivered=facts.statements)
    stored = sorted(_ids(lrs))
    again = _run(env, "forward", str(log))
    assert again.exit_code == 0, again.output
    assert _last_line(again) == facts.total_line(delivered=facts.statements)
    assert f"({facts.statements} already stored)" in again.stderr
    assert sorted(_ids(lrs)) == stored and len(stored) == facts.statements


def test_forward_reads_stdin(env: dict[str, str], lrs: RalphLRS, tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 4)
    result = _run(env, "forward", "-", input=log.read_bytes())
    assert result.exit_code == 0, result.output
    assert len(_ids(lrs)) == facts.statements


def test_forward_without_pseudonym_secret_refuses_to_run(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    write_log(log, 2)
    result = _run(env, "forward", str(log), TRANSLATOR_PSEUDONYM_SECRET=None)
    assert result.exit_code == 2
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in result.stderr
    assert _ids(lrs) == []


def test_forward_without_destination_refuses_to_run(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    write_log(log, 2)
    result = _run(
        env,
        "forward",
        str(log),
        TRANSLATOR_LRS_URL=None,
        TRANSLATOR_LRS_USERNAME=None,
        TRANSLATOR_LRS_PASSWORD=None,
    )
    assert result.exit_code == 2
    assert "no destination is configured" in result.stderr


def test_forward_wrong_credentials_keeps_everything_then_replay_delivers(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 20)
    wrong = "not-the-password"
    result = _run(env, "forward", str(log), TRANSLATOR_LRS_PASSWORD=wrong)
    assert result.exit_code == 2, result.output
    assert "destination 'default'" in result.stderr and "refused our credentials" in result.stderr
    assert "dead-letters replay" in result.stderr
    assert wrong not in result.output and lrs.password not in result.output
    assert _last_line(result) == facts.total_line(delivered=0, dead_lettered=facts.statements)
    assert _ids(lrs) == []
    store = FileDeadLetterStore(tmp_path / "dead-letters.jsonl")
    letters = store.list()
    assert len(letters) == facts.statements
    assert all("refused our credentials" in d.reason for d in letters)
    assert wrong not in (tmp_path / "dead-letters.jsonl").read_text()

    listed = _run(env, "dead-letters", "list")
    assert listed.exit_code == 0
    assert f"{facts.statements} dead letters in" in listed.stdout
    assert f"{log}:1" in listed.stdout

    replayed = _run(env, "dead-letters", "replay")
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed {facts.statements}: delivered {facts.statements}" in replayed.stdout
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    assert len(store) == 0


def test_forward_sends_each_destination_only_its_orgs(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 12, orgs=("OrgA", "OrgB", "OrgC"))
    destinations = tmp_path / "destinations.toml"
    destinations.write_text(
        f"""
[[destination]]
name = "a"
url = "{lrs.url}"
username = "{lrs.username}"
password_env = "LRS_TEST_PASSWORD"
orgs = ["OrgA"]

[[destination]]
name = "b"
url = "{lrs.url}"
username = "{lrs.username}"
password_env = "LRS_TEST_PASSWORD"
orgs = ["OrgB"]
"""
    )
    result = _run(
        env,
        "forward",
        str(log),
        TRANSLATOR_LRS_URL=None,
        TRANSLATOR_LRS_USERNAME=None,
        TRANSLATOR_LRS_PASSWORD=None,
        TRANSLATOR_DESTINATIONS_FILE=str(destinations),
        LRS_TEST_PASSWORD=lrs.password,
    )
    assert result.exit_code == 0, result.output
    # Events 0..11 alternate enrollment (1 statement) / problem (3); orgs cycle A, B, C.
    by_org = {"OrgA": 0, "OrgB": 0, "OrgC": 0}
    for index in range(12):
        by_org[("OrgA", "OrgB", "OrgC")[index % 3]] += 1 if index % 2 == 0 else 3
    assert f"destination 'a': delivered {by_org['OrgA']} " in result.stderr
    assert f"destination 'b': delivered {by_org['OrgB']} " in result.stderr
    assert f"{by_org['OrgC']} statements matched no destination's filter" in result.stderr
    delivered = by_org["OrgA"] + by_org["OrgB"]
    assert _last_line(result) == facts.total_line(delivered=delivered)
    assert len(_ids(lrs)) == delivered


def test_dead_letters_purge_asks_then_drops(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 3)
    _run(env, "forward", str(log), TRANSLATOR_LRS_PASSWORD="wrong")
    kept = _run(env, "dead-letters", "purge", input="n\n")
    assert kept.exit_code == 1
    assert len(FileDeadLetterStore(tmp_path / "dead-letters.jsonl")) == facts.statements
    purged = _run(env, "dead-letters", "purge", "--yes")
    assert purged.exit_code == 0
    assert f"purged {facts.statements} dead letters" in purged.stdout
    assert len(FileDeadLetterStore(tmp_path / "dead-letters.jsonl")) == 0


def test_forward_wait_without_queue_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "tracking.log"
    write_log(log, 1)
    result = _run(env, "forward", "--wait", str(log))
    assert result.exit_code == 2
    assert "--wait and --timeout go with --queue" in result.stderr


def test_forward_sends_a_partial_batch_from_a_quiet_stdin_within_batch_max_wait(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    # A pipe that stays open (as `tail -f | translator forward -`): the three statements must
    # reach the LRS after batch_max_wait, long before the batch of 7 fills or stdin closes.
    import subprocess
    import sys
    import time

    from logs import enrollment

    with subprocess.Popen(
        [sys.executable, "-m", "translator", "forward", "-", "--no-progress"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, "TRANSLATOR_BATCH_MAX_WAIT": "0.5"},
    ) as process:
        assert process.stdin is not None and process.stderr is not None
        for index in range(3):
            process.stdin.write(orjson.dumps(enrollment(index)) + b"\n")
        process.stdin.flush()
        deadline = time.monotonic() + 20
        while len(lrs.stored_statements()) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        delivered_while_reading = len(lrs.stored_statements())
        still_reading = process.poll() is None
        process.stdin.close()
        stderr = process.stderr.read()
        process.wait(timeout=30)
    assert delivered_while_reading == 3
    assert still_reading  # the batch went on time, not when stdin closed
    assert process.returncode == 0, stderr.decode()
    assert stderr.decode().strip().splitlines()[-1] == (
        "read 3, translated 3, delivered 3, dead-lettered 0, skipped 0, rejected 0"
    )


def test_forward_on_sigterm_delivers_what_it_read_and_says_where_reading_stopped(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    import signal
    import subprocess
    import sys
    import time

    from logs import enrollment

    with subprocess.Popen(
        [sys.executable, "-m", "translator", "forward", "-", "--no-progress"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **env, "TRANSLATOR_BATCH_MAX_WAIT": "60"},
    ) as process:
        assert process.stdin is not None and process.stderr is not None
        for index in range(3):
            process.stdin.write(orjson.dumps(enrollment(index)) + b"\n")
        process.stdin.flush()
        time.sleep(1.5)  # read, and held for a batch that is neither full nor due
        process.send_signal(signal.SIGTERM)
        stderr = process.stderr.read().decode()
        process.wait(timeout=30)
        process.stdin.close()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert len(lrs.stored_statements()) == 3  # the stop settled what was read
    assert "stopped by SIGTERM" in stderr
    assert "the lines after <stdin>:3 were not read" in stderr
    assert stderr.strip().splitlines()[-1] == (
        "read 3, translated 3, delivered 3, dead-lettered 0, skipped 0, rejected 0"
    )


def test_forward_exposes_prometheus_metrics_while_it_runs(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    import subprocess
    import sys
    import time

    import httpx
    from logs import enrollment
    from services import free_port

    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "translator", "forward", "-", "--no-progress"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={
            **os.environ,
            **env,
            "TRANSLATOR_BATCH_MAX_WAIT": "0.3",
            "TRANSLATOR_METRICS_PORT": str(port),
        },
    ) as process:
        assert process.stdin is not None
        for index in range(3):
            process.stdin.write(orjson.dumps(enrollment(index)) + b"\n")
        process.stdin.write(b"not json\n")
        process.stdin.flush()
        deadline, text = time.monotonic() + 20, ""
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
            except httpx.HTTPError:
                text = ""
            if 'translator_delivered_statements_total{destination="default"} 3.0' in text:
                break
            time.sleep(0.2)
        process.stdin.close()
        process.wait(timeout=30)
    assert 'translator_delivered_statements_total{destination="default"} 3.0' in text
    assert 'translator_lines_total{bucket="translated"} 3.0' in text
    assert 'translator_lines_total{bucket="rejected"} 1.0' in text
    assert 'translator_batch_seconds_count{destination="default"} 1.0' in text
    assert 'translator_destination_stopped{destination="default"} 0.0' in text


def test_forward_gives_up_on_an_unreachable_lrs_after_the_deadline_and_parks_everything(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    from services import free_port

    log = tmp_path / "tracking.log"
    facts = write_log(log, 4)
    nowhere = f"http://127.0.0.1:{free_port()}/xAPI"  # nothing listens there
    result = _run(env, "forward", str(log), "--give-up-after", "1", TRANSLATOR_LRS_URL=nowhere)
    assert result.exit_code == 2, result.output
    assert "it has never answered: check its URL" in result.stderr
    assert f"destination 'default' ({nowhere}): no answer" in result.stderr
    assert _last_line(result) == facts.total_line(delivered=0, dead_lettered=facts.statements)
    letters = FileDeadLetterStore(tmp_path / "dead-letters.jsonl").list()
    assert len(letters) == facts.statements
    assert all("is unavailable for 1 s" in letter.reason for letter in letters)
    # Once the LRS is the right one, replay sends everything: nothing was lost.
    replayed = _run(env, "dead-letters", "replay")
    assert replayed.exit_code == 0, replayed.output
    assert len(_ids(lrs)) == facts.statements


def test_forward_rejects_a_poison_line_and_delivers_every_other(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 20, poison_at=5)
    result = _run(env, "forward", str(log))
    assert result.exit_code == 1, result.output  # the poison line is rejected, nothing stops
    assert _last_line(result) == facts.total_line(delivered=facts.statements)
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    assert "nested deeper than 32 levels" in result.stderr


def test_forward_keeps_user_ids_beyond_64_bits_apart(
    env: dict[str, str], lrs: RalphLRS, tmp_path: Path
) -> None:
    # orjson reads 18446744073709551616 and ...617 as one float: one actor, one statement id.
    big = [(1 << 64) + n for n in range(3)]
    lines = []
    for user in big:
        event = enrollment(0)
        event["context"]["user_id"] = event["event"]["user_id"] = user
        lines.append(json.dumps(event))
    log = tmp_path / "tracking.log"
    log.write_text("\n".join(lines) + "\n")
    result = _run(env, "forward", str(log))
    assert result.exit_code == 0, result.output
    stored = lrs.stored_statements()
    assert len(stored) == 3
    assert len({s["actor"]["account"]["name"] for s in stored}) == 3
    again = _run(env, "forward", str(log))
    assert "(3 already stored)" in again.stderr and len(lrs.stored_statements()) == 3

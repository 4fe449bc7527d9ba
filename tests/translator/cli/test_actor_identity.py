"""The setting actor_identity through the commands: every mapping (the certificate visitor's
included) names actors as it says, a strict actor map counted in the summary, and the pseudonym
secret asked for only when pseudonyms are made."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner, Result

from translator.cli import main

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
ENROLLED = GOLDEN / "xapi" / "edx.course.enrollment.activated.input.json"  # user 1042, ada_l
BY_STAFF = GOLDEN / "xapi" / "edx.course.enrollment.activated.by_staff.input.json"
VISITED = GOLDEN / "xapi" / "edx.certificate.evidence_visited.input.json"  # user 1077, grace_h
LMS = "https://courses.example.edu"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TRANSLATOR_LMS_ROOT_URL", LMS)


def _log(tmp_path: Path, *inputs: Path, extra: dict[str, Any] | None = None) -> Path:
    lines = []
    for path in inputs:
        event = orjson.loads(path.read_bytes())
        lines.append(orjson.dumps({**event, **(extra or {})}))
    log = tmp_path / "tracking.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    return log


def _dry_run(log: Path, *args: str, **env: str) -> Result:
    return CliRunner().invoke(main, ["dry-run", str(log), *args], env=env)


def _names(result: Result) -> list[str]:
    return [orjson.loads(line)["actor"]["account"]["name"] for line in result.stdout.splitlines()]


def _caliper_ids(result: Result) -> list[str]:
    return [orjson.loads(line)["actor"]["id"] for line in result.stdout.splitlines()]


def test_actor_identity_user_id_names_actors_by_edx_user_id_in_every_mapping(
    tmp_path: Path,
) -> None:
    log = _log(tmp_path, ENROLLED, VISITED)
    result = _dry_run(log, TRANSLATOR_ACTOR_IDENTITY="user-id")
    assert result.exit_code == 0, result.stderr
    assert _names(result) == ["1042", "1077"]
    assert "PSEUDONYM_SECRET" not in result.stderr
    caliper = _dry_run(log, "--target", "caliper", TRANSLATOR_ACTOR_IDENTITY="user-id")
    assert caliper.exit_code == 0, caliper.stderr
    assert _caliper_ids(caliper) == [f"{LMS}/user/1042", f"{LMS}/user/1077"]


def test_actor_identity_username_names_the_requester_by_username(tmp_path: Path) -> None:
    log = _log(tmp_path, ENROLLED, VISITED)
    result = _dry_run(log, TRANSLATOR_ACTOR_IDENTITY="username")
    assert result.exit_code == 0, result.stderr
    assert _names(result) == ["ada_l", "grace_h"]


def test_actor_identity_username_rejects_a_learner_the_event_gives_no_username_of(
    tmp_path: Path,
) -> None:
    result = _dry_run(_log(tmp_path, BY_STAFF), TRANSLATOR_ACTOR_IDENTITY="username")
    assert result.exit_code == 1
    assert (
        "actor_identity username: the event gives no username of this learner "
        "(only of the user who made the request)"
    ) in result.stderr


def test_actor_identity_email_reads_the_events_email_and_rejects_without_one(
    tmp_path: Path,
) -> None:
    with_email = _log(tmp_path, ENROLLED, extra={"email": "ada@example.edu"})
    result = _dry_run(with_email, TRANSLATOR_ACTOR_IDENTITY="email")
    assert result.exit_code == 0, result.stderr
    assert _names(result) == ["ada@example.edu"]
    without = _dry_run(_log(tmp_path, ENROLLED), TRANSLATOR_ACTOR_IDENTITY="email")
    assert without.exit_code == 1
    assert "actor_identity email: the event has no email" in without.stderr


def test_actor_identity_actor_map_is_strict_and_counted_in_the_summary(tmp_path: Path) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("user_id,anonymous_id\n1042,anon-ada\n", encoding="utf-8")
    log = _log(tmp_path, ENROLLED, VISITED, ENROLLED)
    result = _dry_run(log, TRANSLATOR_ACTOR_IDENTITY="actor-map", TRANSLATOR_ACTOR_MAP=str(ids))
    assert result.exit_code == 1
    assert _names(result) == ["anon-ada", "anon-ada"]
    assert "actor map: 2 ids found, 1 users not in the map" in result.stderr
    assert "user not in the actor map" in result.stderr
    assert "PSEUDONYM_SECRET" not in result.stderr


def test_an_actor_map_alone_means_actor_map_identity(tmp_path: Path) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("1042,anon-ada\n1077,anon-grace\n", encoding="utf-8")
    result = _dry_run(_log(tmp_path, ENROLLED, VISITED), "--actor-map", str(ids))
    assert result.exit_code == 0, result.stderr
    assert _names(result) == ["anon-ada", "anon-grace"]
    assert "actor map: 2 ids found, 0 users not in the map" in result.stderr


def test_summary_has_no_actor_map_line_without_a_map(tmp_path: Path) -> None:
    result = _dry_run(_log(tmp_path, ENROLLED), TRANSLATOR_PSEUDONYM_SECRET="s")
    assert result.exit_code == 0, result.stderr
    assert "actor map" not in result.stderr


def test_pseudonym_identity_still_warns_without_a_secret(tmp_path: Path) -> None:
    result = _dry_run(_log(tmp_path, ENROLLED))
    assert result.exit_code == 0, result.stderr
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"TRANSLATOR_ACTOR_IDENTITY": "usernames"},
            "error: setting actor_identity: 'usernames' is not one of pseudonym, actor-map, "
            "user-id, username, email; did you mean 'username'?",
        ),
        (
            {"TRANSLATOR_ACTOR_IDENTITY": "actor-map"},
            "error: setting actor_identity: actor-map needs an actor map: set actor_map",
        ),
    ],
)
def test_a_bad_actor_identity_stops_the_command_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    result = _dry_run(_log(tmp_path, ENROLLED), **env)
    assert result.exit_code == 2
    assert message in result.output


def test_an_actor_map_with_another_identity_stops_the_command(tmp_path: Path) -> None:
    ids = tmp_path / "ids.csv"
    ids.write_text("1042,anon-ada\n", encoding="utf-8")
    result = _dry_run(
        _log(tmp_path, ENROLLED),
        "--actor-map",
        str(ids),
        TRANSLATOR_ACTOR_IDENTITY="user-id",
    )
    assert result.exit_code == 2
    assert (
        "setting actor_map: an actor map is read only with actor_identity actor-map, not user-id"
    ) in result.output


def test_forward_asks_for_the_pseudonym_secret_only_for_pseudonyms(tmp_path: Path) -> None:
    log = _log(tmp_path, ENROLLED)
    command = ["forward"]
    env = {"TRANSLATOR_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl")}
    pseudonyms = CliRunner().invoke(main, [*command, str(log)], env=env)
    assert pseudonyms.exit_code == 2
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in pseudonyms.output
    user_ids = CliRunner().invoke(
        main, [*command, str(log)], env={**env, "TRANSLATOR_ACTOR_IDENTITY": "user-id"}
    )
    # It gets past the secret, to the next thing missing: a destination.
    assert "TRANSLATOR_PSEUDONYM_SECRET" not in user_ids.output
    assert user_ids.exit_code == 2
    assert "destination" in user_ids.output

"""`translator forward` to a Caliper endpoint: envelopes of batches, Bearer key, no loss, no
duplicates, one bad event dead-lettered, an endpoint that goes down and comes back.

The endpoint is tests/services.CaliperEndpoint: no open-source Caliper endpoint installs from
the package registries here, so the tests run a small one that checks every envelope and event
against the official IMS schemas (when the reference copy is beside the repository).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result
from services import CaliperEndpoint, RalphLRS
from support.caliper_check import assert_valid_event

from translator.cli import main
from translator.sinks.dead_letters import FileDeadLetterStore

EXAMPLE_LOG = Path(__file__).resolve().parents[3] / "examples" / "tracking.log"
SECRET = "forward-caliper-secret"
API_KEY = "caliper-test-key"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)


@pytest.fixture
def endpoint() -> Iterator[CaliperEndpoint]:
    with CaliperEndpoint(API_KEY) as started:
        yield started


def _destinations(tmp_path: Path, endpoint: CaliperEndpoint, lrs: RalphLRS | None = None) -> Path:
    path = tmp_path / "destinations.toml"
    text = (
        f'[[destination]]\nname = "caliper"\nkind = "caliper"\nurl = "{endpoint.url}"\n'
        f'token_env = "CALIPER_KEY"\nsensor = "https://lms.example/sensors/edx-xapi-translator"\n'
    )
    if lrs is not None:
        text += (
            f'[[destination]]\nname = "lrs"\nurl = "{lrs.url}"\n'
            f'username = "{lrs.username}"\npassword = "{lrs.password}"\n'
        )
    path.write_text(text, encoding="utf-8")
    return path


def _env(tmp_path: Path, destinations: Path) -> dict[str, str]:
    return {
        "TRANSLATOR_PSEUDONYM_SECRET": SECRET,
        "TRANSLATOR_DESTINATIONS_FILE": str(destinations),
        "TRANSLATOR_DEAD_LETTER_PATH": str(tmp_path / "dead-letters.jsonl"),
        "TRANSLATOR_BATCH_SIZE": "5",
        "TRANSLATOR_RETRY_INITIAL": "0.05",
        "TRANSLATOR_RETRY_MAX": "0.2",
        "CALIPER_KEY": API_KEY,
    }


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def _caliper_events(env: dict[str, str]) -> list[dict[str, object]]:
    result = _run(env, "dry-run", "--target", "caliper", str(EXAMPLE_LOG))
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_forward_sends_each_line_once_per_target_and_routes_by_kind(
    tmp_path: Path, endpoint: CaliperEndpoint, lrs: RalphLRS
) -> None:
    env = _env(tmp_path, _destinations(tmp_path, endpoint, lrs))
    expected = _caliper_events(env)
    result = _run(env, "forward", str(EXAMPLE_LOG))
    assert result.exit_code == 0, result.stderr
    assert sorted(endpoint.events) == sorted(e["id"] for e in expected)  # type: ignore[type-var]
    assert endpoint.received == len(expected)
    for event in endpoint.events.values():
        assert_valid_event(event)
    # Real envelopes of batches (5 a batch here), never one event per envelope.
    assert [len(e["data"]) for e in endpoint.envelopes][:2] == [5, 5]
    assert {e["sensor"] for e in endpoint.envelopes} == {
        "https://lms.example/sensors/edx-xapi-translator"
    }
    xapi_ids = {s["id"] for s in lrs.stored_statements()}
    assert len(xapi_ids) == 53 and not xapi_ids & set(endpoint.events)
    assert f"destination 'caliper': delivered {len(expected)}" in result.stderr
    # Sent again: the same ids, so a deduplicating endpoint stores nothing twice.
    again = _run(env, "forward", str(EXAMPLE_LOG))
    assert again.exit_code == 0, again.stderr
    assert sorted(endpoint.events) == sorted(e["id"] for e in expected)  # type: ignore[type-var]


def test_forward_to_caliper_survives_faults_and_an_endpoint_down_mid_run(
    tmp_path: Path, endpoint: CaliperEndpoint
) -> None:
    env = _env(tmp_path, _destinations(tmp_path, endpoint))
    expected = _caliper_events(env)
    endpoint.faults = [503, 429]
    endpoint.stop()  # down: connections refused until it comes back
    threading.Timer(0.6, endpoint.start).start()
    result = _run(env, "forward", str(EXAMPLE_LOG))
    assert result.exit_code == 0, result.stderr
    assert sorted(endpoint.events) == sorted(e["id"] for e in expected)  # type: ignore[type-var]
    assert not (tmp_path / "dead-letters.jsonl").exists() or not list(
        FileDeadLetterStore(tmp_path / "dead-letters.jsonl").list()
    )


def test_forward_to_caliper_dead_letters_one_bad_event_and_delivers_the_rest(
    tmp_path: Path, endpoint: CaliperEndpoint
) -> None:
    env = _env(tmp_path, _destinations(tmp_path, endpoint))
    expected = _caliper_events(env)
    bad = str(expected[3]["id"])
    endpoint.refuse_ids = {bad}
    result = _run(env, "forward", str(EXAMPLE_LOG))
    assert result.exit_code == 1, result.stderr  # something was dead-lettered
    assert set(endpoint.events) == {str(e["id"]) for e in expected} - {bad}
    [letter] = FileDeadLetterStore(tmp_path / "dead-letters.jsonl").list()
    assert letter.statement["id"] == bad and letter.status == 400
    assert "refused event id" in letter.answer


def test_forward_to_caliper_with_a_wrong_key_stops_and_keeps_the_events(
    tmp_path: Path, endpoint: CaliperEndpoint
) -> None:
    env = _env(tmp_path, _destinations(tmp_path, endpoint))
    expected = _caliper_events(env)
    result = _run(env, "forward", str(EXAMPLE_LOG))
    assert result.exit_code == 0
    endpoint.events.clear()
    refused = CliRunner().invoke(
        main, ["forward", str(EXAMPLE_LOG)], env={**env, "CALIPER_KEY": "wrong"}
    )
    assert refused.exit_code == 2 and endpoint.events == {}
    letters = list(FileDeadLetterStore(tmp_path / "dead-letters.jsonl").list())
    assert len(letters) == len(expected) and all("HTTP 401" in letter.reason for letter in letters)

"""Settings are checked when a command starts: one clear line per problem, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from translator.cli import main

LOG = Path(__file__).resolve().parents[3] / "examples" / "tracking.log"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "TRANSLATOR_REDIS_URL",
            "localhost:6379",
            "setting redis_url: 'localhost:6379' is not a URL",
        ),
        (
            "TRANSLATOR_ID_NAMESPACE",
            "not-a-uuid",
            "setting id_namespace: 'not-a-uuid' is not a UUID",
        ),
        ("TRANSLATOR_LMS_ROOT_URL", "lms.example.org", "setting lms_root_url: 'lms.example.org'"),
        ("TRANSLATOR_BATCH_SIZE", "0", "setting batch_size: must be at least 1, not 0"),
        ("TRANSLATOR_BATCH_MAX_WAIT", "inf", "setting batch_max_wait: must be a finite number"),
        ("TRANSLATOR_ACTOR_MAP", "/nowhere/map.csv", "setting actor_map: /nowhere/map.csv is not"),
    ],
)
def test_a_bad_setting_stops_the_command_with_one_line_naming_it(
    variable: str, value: str, message: str
) -> None:
    result = CliRunner().invoke(main, ["dry-run", str(LOG)], env={variable: value})
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"error: {message}" in result.output
    assert "Traceback" not in result.output


def test_every_bad_setting_is_reported_at_once() -> None:
    env = {"TRANSLATOR_REDIS_URL": "localhost:6379", "TRANSLATOR_ID_NAMESPACE": "x"}
    result = CliRunner().invoke(main, ["check"], env=env)
    assert result.exit_code == 2
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert [e.split(":")[1].strip() for e in errors] == [
        "setting redis_url",
        "setting id_namespace",
    ]


def test_a_misspelt_variable_is_warned_with_the_setting_it_resembles() -> None:
    result = CliRunner().invoke(main, ["check"], env={"TRANSLATOR_BATCH_SIZ": "5"})
    assert result.exit_code == 0
    assert (
        "warning: TRANSLATOR_BATCH_SIZ is not a setting and is ignored; "
        "did you mean 'TRANSLATOR_BATCH_SIZE'?"
    ) in result.output


def test_the_worker_refuses_a_redis_url_without_a_scheme() -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRANSLATOR_")},
        "TRANSLATOR_REDIS_URL": "localhost:6379",
        "TRANSLATOR_PSEUDONYM_SECRET": "s",
        "TRANSLATOR_LRS_URL": "http://127.0.0.1:9/xAPI",
    }
    done = subprocess.run(
        [sys.executable, "-m", "translator", "worker"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert b"error: setting redis_url: 'localhost:6379' is not a URL" in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_placeholder_secret_of_the_env_example_stops_the_command() -> None:
    env = {"TRANSLATOR_PSEUDONYM_SECRET": "change-me-to-a-long-random-string"}
    result = CliRunner().invoke(main, ["dry-run", str(LOG)], env=env)
    assert result.exit_code == 2
    assert "error: setting pseudonym_secret: still the placeholder of .env.example" in result.output
    assert "change-me-to-a-long" not in result.output

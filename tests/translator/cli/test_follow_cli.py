"""`translator follow` against a real ralph LRS: rotations, SIGKILL and restarts lose nothing."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from logs import CORE_MAPPINGS, enrollment
from services import RalphLRS

SECRET = "follow-test-secret"


@pytest.fixture
def env(lrs: RalphLRS, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRANSLATOR_")}
    return {
        **clean,
        "TRANSLATOR_MAPPINGS_DIR": str(CORE_MAPPINGS),
        "TRANSLATOR_PSEUDONYM_SECRET": SECRET,
        "TRANSLATOR_LRS_URL": lrs.url,
        "TRANSLATOR_LRS_USERNAME": lrs.username,
        "TRANSLATOR_LRS_PASSWORD": lrs.password,
        "TRANSLATOR_DEAD_LETTER_PATH": str(tmp_path / "dead-letters.jsonl"),
        "TRANSLATOR_CHECKPOINT_PATH": str(tmp_path / "checkpoints.json"),
        "TRANSLATOR_BATCH_SIZE": "5",
        "TRANSLATOR_BATCH_MAX_WAIT": "0.3",
    }


class _Log:
    """A tracking log written as the LMS writes it, one enrollment (one statement) per line."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.written = 0

    def append(self, count: int) -> None:
        with self.path.open("ab") as out:
            for _ in range(count):
                out.write(orjson.dumps(enrollment(self.written)) + b"\n")
                self.written += 1


@pytest.fixture
def log(tmp_path: Path) -> _Log:
    return _Log(tmp_path / "tracking.log")


def _start(env: dict[str, str], log: _Log, *flags: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "translator", "follow", str(log.path), *flags],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for(lrs: RalphLRS, count: int, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        ids = [s["id"] for s in lrs.stored_statements()]
        if len(ids) >= count or time.monotonic() > deadline:
            return ids
        time.sleep(0.2)


@pytest.fixture
def followers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_follow_survives_rotations_and_sigkill_and_stores_every_statement_once(
    env: dict[str, str],
    lrs: RalphLRS,
    log: _Log,
    tmp_path: Path,
    followers: list[subprocess.Popen[bytes]],
) -> None:
    log.append(12)
    followers.append(_start(env, log, "--from-start"))
    assert len(_wait_for(lrs, 12)) == 12

    # Rotation by rename, more lines on both sides of it, then SIGKILL mid-stream.
    log.append(8)
    os.rename(log.path, tmp_path / "tracking.log.1")
    log.append(9)
    time.sleep(0.3)
    followers[0].kill()
    followers[0].wait()

    # A new follower resumes from the checkpoint (--from-start only matters without one).
    followers.append(_start(env, log, "--from-start"))
    assert len(_wait_for(lrs, 29)) == 29

    # Copy-truncate, with lines the follower had not read yet, then SIGKILL again.
    log.append(6)
    shutil.copy(log.path, tmp_path / "tracking.log.2")
    log.path.write_bytes(b"")
    log.append(7)
    followers[1].kill()
    followers[1].wait()

    followers.append(_start(env, log, "--from-start"))
    log.append(5)
    ids = _wait_for(lrs, log.written)
    assert len(ids) == log.written == 47
    assert len(set(ids)) == len(ids)  # nothing twice: re-read lines were the same statements

    # SIGTERM ends the follower cleanly: checkpoint and summary written, exit 0.
    last = followers[2]
    last.send_signal(signal.SIGTERM)
    assert last.wait(timeout=30) == 0
    assert last.stderr is not None
    closing = last.stderr.read().decode().strip().splitlines()[-1]
    assert closing.startswith("read ") and "rejected 0" in closing
    assert (tmp_path / "checkpoints.json").exists()


def test_follow_without_a_checkpoint_asks_where_to_start(
    env: dict[str, str], log: _Log, followers: list[subprocess.Popen[bytes]]
) -> None:
    log.append(1)
    followers.append(_start(env, log))
    assert followers[0].wait(timeout=30) == 2
    assert followers[0].stderr is not None
    assert "--from-start" in followers[0].stderr.read().decode()


def test_status_shows_checkpoints_dead_letters_and_the_queue(
    env: dict[str, str], log: _Log, redis_url: str, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from translator.cli import main

    log.append(3)
    follower = _start(env, log, "--from-start")
    deadline = time.monotonic() + 30
    while not (tmp_path / "checkpoints.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    follower.send_signal(signal.SIGTERM)
    assert follower.wait(timeout=30) == 0
    assert follower.stderr is not None
    follower.stderr.close()
    log.append(1)
    result = CliRunner().invoke(main, ["status"], env={**env, "TRANSLATOR_REDIS_URL": redis_url})
    assert result.exit_code == 0, result.output
    size = log.path.stat().st_size
    assert f"{log.path}: line 3 (byte {size * 3 // 4}), {size // 4} bytes behind" in result.output
    assert "dead letters: 0 in" in result.output
    assert "queue (redis://127.0.0.1:" in result.output
    unknown = CliRunner().invoke(
        main, ["status", "--run", "nope"], env={**env, "TRANSLATOR_REDIS_URL": redis_url}
    )
    assert unknown.exit_code == 2 and "knows no run 'nope'" in unknown.output

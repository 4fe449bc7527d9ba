"""Following growing logs: every line once, in order, across rotations and restarts."""

from __future__ import annotations

import gzip
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from translator.errors import ConfigError
from translator.intake.checkpoints import Checkpoints
from translator.intake.follow import Follower
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle


class _Session:
    """One follower run over `log` with its checkpoints; `take()` reads what is there now and
    settles it at once (as a sink that delivers immediately would)."""

    def __init__(self, log: Path, state: Path, *, from_end: bool = False) -> None:
        self.checkpoints = Checkpoints(state, every=0)
        self.stop = threading.Event()
        follower = Follower(
            [str(log)], self.checkpoints, from_end=from_end, max_line_bytes=64, poll_interval=0
        )
        self._lines: Iterator[SourceLine | Idle] = follower.lines(self.stop)

    def take(self, *, settle: bool = True) -> list[bytes]:
        taken: list[bytes] = []
        idle = 0
        while idle < 3:  # three quiet polls in a row: nothing more is there
            item = next(self._lines)
            if item is IDLE:
                idle += 1
                continue
            idle = 0
            taken.append(item.text if not item.over_limit else b"<too long>")
            if settle:
                self.checkpoints.advance(item)
        return taken

    def close(self) -> None:
        self.stop.set()
        for _ in self._lines:
            pass


def _append(log: Path, *texts: str) -> None:
    with log.open("ab") as out:
        out.write("".join(f"{t}\n" for t in texts).encode())


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "tracking.log"


def test_follow_reads_appended_lines_and_waits_for_a_partial_one(log: Path, tmp_path: Path) -> None:
    _append(log, "first line", "second")
    session = _Session(log, tmp_path / "state.json")
    assert session.take() == [b"first line", b"second"]
    with log.open("ab") as out:
        out.write(b"half a li")
    assert session.take() == []
    with log.open("ab") as out:
        out.write(b"ne\r\n" + b"x" * 100 + b"\nlast\n")
    assert session.take() == [b"half a line", b"<too long>", b"last"]
    session.close()


def test_follow_waits_for_a_log_that_does_not_exist_yet(log: Path, tmp_path: Path) -> None:
    session = _Session(log, tmp_path / "state.json")
    assert session.take() == []
    _append(log, "born later")
    assert session.take() == [b"born later"]
    session.close()


def test_follow_finishes_a_renamed_log_then_reads_the_new_one(log: Path, tmp_path: Path) -> None:
    _append(log, "a1")
    session = _Session(log, tmp_path / "state.json")
    assert session.take() == [b"a1"]
    _append(log, "a2")
    with log.open("ab") as out:
        out.write(b"a3 without newline")
    os.rename(log, tmp_path / "tracking.log.1")
    _append(log, "b1")
    assert session.take() == [b"a2", b"a3 without newline", b"b1"]
    session.close()


def test_follow_reads_the_copy_of_a_copy_truncated_log(log: Path, tmp_path: Path) -> None:
    _append(log, "a1")
    session = _Session(log, tmp_path / "state.json")
    assert session.take() == [b"a1"]
    _append(log, "a2", "a3")  # written, then rotated before the follower saw them
    shutil.copy(log, tmp_path / "tracking.log.1")
    log.write_bytes(b"")
    _append(log, "b1")
    assert session.take() == [b"a2", b"a3", b"b1"]
    session.close()


def test_follow_resumes_from_its_checkpoint_and_rereads_what_was_not_settled(
    log: Path, tmp_path: Path
) -> None:
    _append(log, "a1", "a2")
    first = _Session(log, tmp_path / "state.json")
    assert first.take() == [b"a1", b"a2"]
    _append(log, "a3")
    assert first.take(settle=False) == [b"a3"]  # read, never settled: a crash now
    second = _Session(log, tmp_path / "state.json")
    assert second.take() == [b"a3"]
    first.close()
    second.close()


def test_follow_resumes_in_a_log_rotated_and_compressed_while_it_was_stopped(
    log: Path, tmp_path: Path
) -> None:
    _append(log, "a1", "a2")
    first = _Session(log, tmp_path / "state.json")
    assert first.take() == [b"a1", b"a2"]
    first.close()
    # While stopped: a3 was written, the log rotated and its copy compressed; b1, b2 were
    # written to the next log, which rotated too; c1 is in the live log.
    _append(log, "a3")
    with log.open("rb") as raw, gzip.open(tmp_path / "tracking.log.2.gz", "wb") as packed:
        packed.write(raw.read())
    log.unlink()
    os.utime(tmp_path / "tracking.log.2.gz", (1, 1))
    _append(log, "b1", "b2")
    os.rename(log, tmp_path / "tracking.log.1")
    _append(log, "c1")
    second = _Session(log, tmp_path / "state.json")
    assert second.take() == [b"a3", b"b1", b"b2", b"c1"]
    second.close()


def test_follow_from_end_starts_after_what_the_log_holds(log: Path, tmp_path: Path) -> None:
    _append(log, "old", "older")
    session = _Session(log, tmp_path / "state.json", from_end=True)
    assert session.take() == []
    _append(log, "new")
    assert session.take() == [b"new"]
    session.close()
    state = Checkpoints(tmp_path / "state.json").get(str(log))
    assert state is not None and state.lineno == 3  # line numbers count what was skipped


def test_checkpoints_refuse_a_file_that_is_not_theirs(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"files": []}')
    with pytest.raises(ConfigError, match="not a checkpoint file"):
        Checkpoints(state)

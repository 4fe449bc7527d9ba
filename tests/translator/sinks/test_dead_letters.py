"""Dead-letter stores: the JSON-lines file and Redis offer the same API and lose nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from factories import xapi_statement

from translator.sinks.dead_letters import (
    DeadLetter,
    DeadLetterStore,
    FileDeadLetterStore,
    RedisDeadLetterStore,
)


def _letter(destination: str = "ralph", source: str = "t.log:1") -> DeadLetter:
    return DeadLetter(
        statement=xapi_statement(),
        reason="invalid statement: the LRS refused it",
        status=422,
        answer='{"detail": "Field required"}',
        source=source,
        destination=destination,
    )


@pytest.fixture(params=["file", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> DeadLetterStore:
    if request.param == "file":
        return FileDeadLetterStore(tmp_path / "letters" / "dead.jsonl")
    client: redis.Redis = request.getfixturevalue("redis_client")
    return RedisDeadLetterStore(client, key="test:dead-letters")


def test_dead_letter_store_add_list_remove_purge(store: DeadLetterStore) -> None:
    assert len(store) == 0 and store.list() == []
    a, b, c = _letter(source="t.log:1"), _letter("other", "t.log:2"), _letter(source="t.log:3")
    store.add(a, b)
    store.add(c)
    assert len(store) == 3
    assert store.list() == [a, b, c]  # oldest first, everything read back as written
    assert sorted(d.key for d in store) == sorted([a.key, b.key, c.key])
    assert store.list(destination="ralph") == [a, c]
    assert store.remove([a.key, "no-such-key"]) == 1
    assert store.list() == [b, c]
    assert store.purge(destination="ralph") == 1
    assert store.list() == [b]
    assert store.purge() == 1
    assert len(store) == 0


def test_dead_letter_round_trips_through_json() -> None:
    letter = _letter()
    assert DeadLetter.from_json(letter.to_json()) == letter
    with pytest.raises(ValueError, match="not a dead letter"):
        DeadLetter.from_json(b'{"statement": {}}')


def test_file_dead_letter_store_keeps_a_cut_line_when_rewriting(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    store = FileDeadLetterStore(path)
    a, b = _letter(), _letter()
    store.add(a, b)
    with path.open("ab") as out:
        out.write(b'{"statement": {"id": "cut by a cra')  # a crash in the middle of a write
    assert store.list() == [a, b]
    assert store.remove([a.key]) == 1
    assert store.list() == [b]
    assert path.read_bytes().splitlines()[-1] == b'{"statement": {"id": "cut by a cra'


_APPENDER = """
import sys
from factories import xapi_statement
from translator.sinks.dead_letters import DeadLetter, FileDeadLetterStore

store = FileDeadLetterStore(sys.argv[1])
for n in range(int(sys.argv[2])):
    store.add(DeadLetter(xapi_statement(n), "not sent", None, "", f"t.log:{n}", "ralph"))
"""


def test_file_dead_letter_store_loses_nothing_to_a_rewrite_while_another_process_appends(
    tmp_path: Path,
) -> None:
    # A `forward` appending while `dead-letters replay` removes what it sent: before, a rewrite
    # replaced the file under the appender and 4,491 of 6,130 letters were lost.
    path = tmp_path / "dead.jsonl"
    total = 500
    root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'tests'}"}
    appender = subprocess.Popen(
        [sys.executable, "-c", _APPENDER, str(path), str(total)], env=env, cwd=root
    )
    store = FileDeadLetterStore(path)
    removed = 0
    rewrites = 0
    while appender.poll() is None:
        letters = store.list()
        if letters:
            removed += store.remove([d.key for d in letters[: len(letters) // 2 + 1]])
            rewrites += 1
    assert appender.wait() == 0
    left = store.list()
    assert rewrites > 10  # the two did run side by side
    assert removed + len(left) == total
    assert len({d.key for d in left}) == len(left)

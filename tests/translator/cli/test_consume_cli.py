"""`translator consume` between Open edX's own event-bus producer, a real Redis and a real
ralph LRS: every event stored once, a killed consumer's entries reclaimed, bad entries
rejected."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import redis
from logs import CORE_MAPPINGS, enrollment, tracker_event
from services import RalphLRS, produce_tracking_events

SECRET = "consume-test-secret"
PREFIX = "dev"
STREAM = f"{PREFIX}-analytics"  # edx-event-bus-redis: "<EVENT_BUS_TOPIC_PREFIX>-<topic>"
GROUP = "translator"
WORKTREE = Path(__file__).resolve().parents[3]


@pytest.fixture
def env(lrs: RalphLRS, redis_client: redis.Redis, redis_url: str, tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TRANSLATOR_")}
    path = os.pathsep.join(p for p in (str(WORKTREE), clean.get("PYTHONPATH", "")) if p)
    return {
        **clean,
        "PYTHONPATH": path,
        "TRANSLATOR_MAPPINGS_DIR": str(CORE_MAPPINGS),
        "TRANSLATOR_PSEUDONYM_SECRET": SECRET,
        "TRANSLATOR_LRS_URL": lrs.url,
        "TRANSLATOR_LRS_USERNAME": lrs.username,
        "TRANSLATOR_LRS_PASSWORD": lrs.password,
        "TRANSLATOR_DEAD_LETTER_PATH": str(tmp_path / "dead-letters.jsonl"),
        "TRANSLATOR_EVENT_BUS_REDIS_URL": redis_url,
        # Not the event bus's Redis: proves the consume command reads the setting above.
        "TRANSLATOR_REDIS_URL": "redis://127.0.0.1:1/0",
        "TRANSLATOR_BATCH_SIZE": "5",
        "TRANSLATOR_BATCH_MAX_WAIT": "0.3",
        "TRANSLATOR_RETRY_INITIAL": "0.1",
        "TRANSLATOR_RETRY_MAX": "0.5",
        "TRANSLATOR_EVENT_BUS_CLAIM_IDLE": "1",
    }


class _Producer:
    """The LMS side: enrollments (one statement each) sent through Open edX's own packages."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.sent = 0

    def send(self, count: int) -> None:
        events = [tracker_event(enrollment(self.sent + i)) for i in range(count)]
        produce_tracking_events(self.redis_url, PREFIX, events)
        self.sent += count


@pytest.fixture
def producer(redis_url: str) -> _Producer:
    return _Producer(redis_url)


@pytest.fixture
def consumers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stderr is not None:
            process.stderr.close()


def _start(
    env: dict[str, str], consumers: list[subprocess.Popen[bytes]], *flags: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "translator",
            "consume",
            "--stream",
            STREAM,
            "--group",
            GROUP,
            *flags,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    consumers.append(process)
    return process


def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _stored_ids(lrs: RalphLRS) -> list[str]:
    return [s["id"] for s in lrs.stored_statements()]


def _stop(process: subprocess.Popen[bytes]) -> list[str]:
    """SIGTERM, then the lines of its stderr; it must exit 0."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    assert process.stderr is not None
    return process.stderr.read().decode().strip().splitlines()


def _pending(client: redis.Redis) -> dict[str, int]:
    summary = client.xpending(STREAM, GROUP)
    return {c["name"].decode(): int(c["pending"]) for c in summary["consumers"]}


def test_consume_delivers_each_event_of_the_bus_once(
    env: dict[str, str],
    lrs: RalphLRS,
    redis_client: redis.Redis,
    producer: _Producer,
    consumers: list[subprocess.Popen[bytes]],
) -> None:
    producer.send(12)  # before the consumer starts: --from-start reads them
    consumer = _start(env, consumers, "--consumer", "one", "--from-start", "--status-every", "0.5")
    producer.send(13)  # while it runs
    _until(lambda: len(_stored_ids(lrs)) >= 25)
    time.sleep(0.8)  # nothing more arrives; a status line is due
    lines = _stop(consumer)

    ids = _stored_ids(lrs)
    assert len(ids) == len(set(ids)) == 25
    assert _pending(redis_client) == {}  # every entry acknowledged
    assert lines[-1] == (
        "read 25, translated 25, delivered 25, dead-lettered 0, skipped 0, rejected 0"
    )
    assert lines[-2] == (
        f"stream '{STREAM}', group '{GROUP}': claimed 0, left pending 0, lag 0, pending 0"
    )
    status = [line for line in lines if line.startswith("status: ")]
    assert status and status[-1].endswith(", lag 0, pending 0")


def test_consume_after_a_consumer_is_killed_another_reclaims_its_entries(
    env: dict[str, str],
    lrs: RalphLRS,
    redis_client: redis.Redis,
    producer: _Producer,
    consumers: list[subprocess.Popen[bytes]],
) -> None:
    first = _start(env, consumers, "--consumer", "first", "--from-start")
    producer.send(10)
    _until(lambda: len(_stored_ids(lrs)) >= 10)

    # The LRS goes away: the consumer reads on, cannot deliver, and holds entries unacknowledged.
    lrs.stop()
    producer.send(15)
    _until(lambda: _pending(redis_client).get("first", 0) >= 5)
    first.kill()  # SIGKILL mid-stream: no stop, no acknowledgement
    first.wait()
    held = _pending(redis_client)["first"]
    lrs.start()

    second = _start(env, consumers, "--consumer", "second")  # the group exists: no --from-...
    producer.send(8)
    _until(lambda: len(_stored_ids(lrs)) >= producer.sent)
    time.sleep(0.5)
    lines = _stop(second)

    ids = _stored_ids(lrs)
    assert len(ids) == len(set(ids)) == producer.sent == 33
    assert _pending(redis_client) == {}
    summary = next(line for line in lines if line.startswith(f"stream '{STREAM}'"))
    assert f"claimed {held}," in summary
    assert lines[-1].startswith(f"read {33 - 10}, translated {33 - 10}, ")
    assert lines[-1].endswith("rejected 0")


def test_consume_rejects_an_undecodable_entry_with_its_reason_and_acknowledges_it(
    env: dict[str, str],
    lrs: RalphLRS,
    redis_client: redis.Redis,
    producer: _Producer,
    consumers: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    producer.send(2)
    # What no Open edX producer writes: an entry whose event_data is not Avro TrackingLogData.
    bad = redis_client.xadd(
        STREAM,
        {
            "type": "org.openedx.analytics.tracking.event.emitted.v1",
            "event_data": b"\xff\xfe not avro",
        },
    ).decode()
    producer.send(2)
    rejects = tmp_path / "rejects.jsonl"
    consumer = _start(env, consumers, "--from-start", "--rejects", str(rejects))
    _until(lambda: len(_stored_ids(lrs)) >= 4)
    time.sleep(0.5)
    lines = _stop(consumer)

    assert len(set(_stored_ids(lrs))) == 4
    assert _pending(redis_client) == {}  # the bad entry too: it would never decode
    [record] = [orjson.loads(line) for line in rejects.read_bytes().splitlines()]
    assert record["source"] == f"redis-stream:{STREAM}#{bad}"
    assert record["reason"] == "event_data is not an Avro TrackingLogData record"
    assert lines[-1] == "read 5, translated 4, delivered 4, dead-lettered 0, skipped 0, rejected 1"


def test_consume_asks_where_a_new_group_starts(
    env: dict[str, str], consumers: list[subprocess.Popen[bytes]]
) -> None:
    process = _start(env, consumers)
    assert process.wait(timeout=30) == 2
    assert process.stderr is not None
    message = process.stderr.read().decode()
    assert f"the stream '{STREAM}' has no consumer group '{GROUP}' yet" in message
    assert "--from-start" in message and "--from-end" in message

"""Consuming the event bus: entries decoded as Open edX writes them, acknowledged only once settled,
a dead consumer's entries claimed, bad entries rejected with their reason, the lag measured."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from typing import Any

import fastavro
import orjson
import pytest
import redis
from logs import enrollment, tracker_event
from services import produce_tracking_events

from translator.errors import InputError
from translator.intake.bus import (
    TRACKING_EVENT_TYPE,
    TRACKING_LOG_SCHEMA,
    BusConsumer,
    GroupLag,
    decode_entry,
)
from translator.intake.events import parse_line
from translator.intake.lines import SourceLine, StreamEntry
from translator.intake.ticks import IDLE, Idle

STREAM = "dev-analytics"
GROUP = "translator"


def _avro(record: dict[str, Any], schema: dict[str, Any] = TRACKING_LOG_SCHEMA) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, fastavro.parse_schema(schema), record)
    return out.getvalue()


def _fields(**log: str) -> dict[bytes, bytes]:
    record = {"name": "edx.course.enrollment.activated", "timestamp": "2024-05-01T10:00:00+00:00"}
    record.update({"data": "{}", "context": "{}"}, **log)
    return {b"type": TRACKING_EVENT_TYPE.encode(), b"event_data": _avro({"tracking_log": record})}


def _consumer(client: redis.Redis, name: str = "c1", **options: Any) -> BusConsumer:
    return BusConsumer(client, STREAM, GROUP, name, max_line_bytes=100_000, block=0.01, **options)


def _take(lines: Iterator[SourceLine | Idle], *, quiet: int = 2) -> list[SourceLine]:
    """The lines there now: read until `quiet` IDLE in a row."""
    taken: list[SourceLine] = []
    idle = 0
    while idle < quiet:
        item = next(lines)
        if item is IDLE:
            idle += 1
            continue
        assert isinstance(item, SourceLine)
        idle = 0
        taken.append(item)
    return taken


def _pending(client: redis.Redis) -> dict[str, int]:
    summary = client.xpending(STREAM, GROUP)
    return {c["name"].decode(): int(c["pending"]) for c in summary["consumers"]}


def test_decode_entry_reads_what_open_edx_packages_wrote(
    redis_client: redis.Redis, redis_url: str
) -> None:
    logged = enrollment(3)
    produce_tracking_events(redis_url, "dev", [tracker_event(logged)])
    [(_, fields)] = redis_client.xrange(STREAM)
    assert fields[b"type"] == TRACKING_EVENT_TYPE.encode()
    event = decode_entry(fields)
    assert event == {
        "name": logged["name"],
        "time": logged["time"],
        "event_source": "server",
        "event": logged["event"],
        "context": {**logged["context"], "username": "learner", "event_source": "server"},
    }
    # The rest of the pipeline sees the document a log line gives, username included.
    normal = parse_line(SourceLine("bus", 1, orjson.dumps(event)))
    assert normal["username"] == "learner"
    assert normal["event"] == logged["event"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({b"type": TRACKING_EVENT_TYPE.encode()}, "the entry has no event_data field"),
        (
            {b"type": b"org.openedx.learning.auth.session.login.completed.v1", b"event_data": b""},
            "the entry's type is 'org.openedx.learning.auth.session.login.completed.v1', not "
            "org.openedx.analytics.tracking.event.emitted.v1",
        ),
        (
            {b"event_data": b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"},
            "event_data is not an Avro TrackingLogData record",
        ),
        (
            {b"event_data": _fields()[b"event_data"] + b"\x00\x02"},
            "event_data is not an Avro TrackingLogData record (2 bytes after it)",
        ),
        (
            _fields(context='{"user_id": 1'),
            "TrackingLogData.context is not valid JSON: unexpected end of data: line 1 column 14 "
            "(char 13)",
        ),
        (_fields(context="[1]"), "TrackingLogData.context is an array, not an object"),
        (
            _fields(data="{nope"),
            "TrackingLogData.data is not valid JSON: ",
        ),
        ({b"type": b"\xe9", b"event_data": b""}, "the entry's 'type' field is not valid UTF-8"),
    ],
)
def test_decode_entry_rejects_an_unusable_entry_with_its_reason(
    fields: dict[bytes, bytes], reason: str
) -> None:
    """The whole reason, or (ending ": ") its start, before the JSON parser's own words."""
    with pytest.raises(InputError) as raised:
        decode_entry(fields)
    if reason.endswith(": "):
        assert raised.value.reason.startswith(reason)
    else:
        assert raised.value.reason == reason


def test_decode_entry_keeps_data_that_is_not_an_object_for_the_mapping_to_judge() -> None:
    event = decode_entry(_fields(data='[{"a": 1}]', context=""))
    assert event["event"] == [{"a": 1}]
    assert event["context"] == {}
    assert "event_source" not in event


def test_consumer_acknowledges_an_entry_only_once_it_is_settled(
    redis_client: redis.Redis,
) -> None:
    ids = [redis_client.xadd(STREAM, _fields()).decode() for _ in range(3)]
    consumer = _consumer(redis_client)
    consumer.create_group(from_start=True)
    stop = threading.Event()
    lines = _take(consumer.lines(stop))
    assert [line.position for line in lines] == [StreamEntry(STREAM, i) for i in ids]
    assert [line.source for line in lines] == [f"redis-stream:{STREAM}#{i}" for i in ids]
    assert [line.lineno for line in lines] == [1, 2, 3]
    assert _pending(redis_client) == {"c1": 3}

    consumer.acknowledge(lines[0])
    consumer.acknowledge(lines[1])
    assert _pending(redis_client) == {"c1": 3}  # acknowledged with the next XACK
    consumer.flush()
    assert _pending(redis_client) == {"c1": 1}
    assert consumer.unacknowledged == 1


def test_consumer_reads_its_own_pending_entries_again_after_a_restart(
    redis_client: redis.Redis,
) -> None:
    for _ in range(4):
        redis_client.xadd(STREAM, _fields())
    first = _consumer(redis_client)
    first.create_group(from_start=True)
    read = _take(first.lines(threading.Event()))
    first.acknowledge(read[0])
    first.flush()  # then the process dies with three entries unsettled

    again = _consumer(redis_client)  # the same name, restarted
    reread = _take(again.lines(threading.Event()))
    assert [line.position for line in reread] == [line.position for line in read[1:]]
    assert again.claimed == 0


def test_consumer_claims_the_entries_a_dead_consumer_left_pending(
    redis_client: redis.Redis,
) -> None:
    for _ in range(3):
        redis_client.xadd(STREAM, _fields())
    dead = _consumer(redis_client, "dead")
    dead.create_group(from_start=True)
    reading = dead.lines(threading.Event())
    held = [next(reading) for _ in range(3)]  # then it dies
    redis_client.xadd(STREAM, _fields())  # a new entry, for whoever reads next

    # (Redis ends a blocking read on the tick of its clock, 100 ms by default: two quiet reads
    # take about 0.2 s.)
    survivor = _consumer(redis_client, "survivor", claim_idle=0.6)
    lines = survivor.lines(threading.Event())
    first = _take(lines)
    assert len(first) == 1  # the new entry; the dead one's entries are not idle long enough yet
    time.sleep(0.6)
    claimed = _take(lines)
    assert [line.position for line in claimed] == [line.position for line in held]
    assert survivor.claimed == 3
    for line in first + claimed:
        survivor.acknowledge(line)
    survivor.flush()
    assert _pending(redis_client) == {}


def test_consumer_does_not_claim_what_it_holds_itself(redis_client: redis.Redis) -> None:
    redis_client.xadd(STREAM, _fields())
    consumer = _consumer(redis_client, claim_idle=0.05)
    consumer.create_group(from_start=True)
    lines = consumer.lines(threading.Event())
    assert len(_take(lines)) == 1
    time.sleep(0.1)
    assert _take(lines) == []
    assert consumer.claimed == 0


def test_consumer_makes_an_entry_trimmed_while_pending_a_rejected_line(
    redis_client: redis.Redis,
) -> None:
    for _ in range(3):
        redis_client.xadd(STREAM, _fields())
    first = _consumer(redis_client)
    first.create_group(from_start=True)
    _take(first.lines(threading.Event()))
    redis_client.xtrim(STREAM, maxlen=1, approximate=False)

    lines = _take(_consumer(redis_client).lines(threading.Event()))
    reasons = [line.unusable for line in lines]
    assert (
        reasons[:2]
        == ["the entry was trimmed from the stream before it was handled: its event is lost"] * 2
    )
    assert reasons[2] == ""
    with pytest.raises(InputError, match="trimmed"):
        parse_line(lines[0])


def test_consumer_yields_idle_on_a_quiet_stream_and_stops_when_told(
    redis_client: redis.Redis,
) -> None:
    consumer = _consumer(redis_client)
    consumer.create_group(from_start=False)
    stop = threading.Event()
    lines = consumer.lines(stop)
    assert next(lines) is IDLE
    stop.set()
    assert list(lines) == []


def test_consumer_group_from_end_skips_what_the_stream_held(redis_client: redis.Redis) -> None:
    redis_client.xadd(STREAM, _fields())
    consumer = _consumer(redis_client)
    assert not consumer.group_exists()
    consumer.create_group(from_start=False)
    assert consumer.group_exists()
    consumer.create_group(from_start=True)  # an existing group is kept as it is
    assert _take(consumer.lines(threading.Event())) == []
    redis_client.xadd(STREAM, _fields())
    assert len(_take(consumer.lines(threading.Event()))) == 1


def test_lag_counts_what_the_group_has_not_read_and_tells_when_trimming_lost_some(
    redis_client: redis.Redis,
) -> None:
    consumer = _consumer(redis_client)
    consumer.create_group(from_start=True)
    for _ in range(5):
        redis_client.xadd(STREAM, _fields())
    reading = consumer.lines(threading.Event())
    read = [next(reading) for _ in range(5)]
    consumer.acknowledge(read[0])
    consumer.flush()
    for _ in range(10):
        redis_client.xadd(STREAM, _fields())
    assert consumer.lag() == GroupLag(behind=10, pending=4, length=15)
    assert str(consumer.lag()) == "lag 10, pending 4"

    # The producer's MAXLEN trims the oldest entries: the five read, then none the group needs.
    redis_client.xtrim(STREAM, maxlen=10, approximate=False)
    assert consumer.lag() == GroupLag(behind=10, pending=4, length=10)
    # Then two it has not read yet.
    redis_client.xtrim(STREAM, maxlen=8, approximate=False)
    lag = consumer.lag()
    assert lag == GroupLag(behind=10, pending=4, length=8, trimmed_unread=True)
    assert str(lag) == (
        "lag 10, pending 4 (entries were trimmed from the stream before the group read them: lost)"
    )


def test_lag_tells_of_entries_trimmed_before_a_new_group_read_any(
    redis_client: redis.Redis,
) -> None:
    consumer = _consumer(redis_client)
    consumer.create_group(from_start=True)
    for _ in range(20):
        redis_client.xadd(STREAM, _fields())
    assert not consumer.lag().trimmed_unread
    redis_client.xtrim(STREAM, maxlen=5, approximate=False)
    assert consumer.lag().trimmed_unread


def test_lag_on_a_group_created_at_the_end_is_zero(redis_client: redis.Redis) -> None:
    for _ in range(3):
        redis_client.xadd(STREAM, _fields())
    redis_client.xtrim(STREAM, maxlen=1, approximate=False)
    consumer = _consumer(redis_client)
    consumer.create_group(from_start=False)
    assert consumer.lag() == GroupLag(behind=0, pending=0, length=1)


def test_consumer_rejects_an_event_longer_than_the_line_limit(redis_client: redis.Redis) -> None:
    redis_client.xadd(STREAM, _fields(data=orjson.dumps({"x": "y" * 500}).decode()))
    consumer = BusConsumer(redis_client, STREAM, GROUP, "c1", max_line_bytes=200, block=0.01)
    consumer.create_group(from_start=True)
    [line] = _take(consumer.lines(threading.Event()))
    assert line.too_long and line.text == b""

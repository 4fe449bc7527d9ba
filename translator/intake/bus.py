"""Consuming the Open edX event bus: tracking events from a Redis Stream, through a consumer group.

edx-event-bus-redis adds one stream entry per tracking event, its `event_data` the schemaless
Avro record `TrackingLogData {name, timestamp, data, context}` (data and context are JSON text).
Each entry becomes a SourceLine whose text is that event in the tracking-log shape, so parsing,
the engine and the rejects treat it as any log line; an entry that does not decode is a line
rejected with its reason (and acknowledged: it never will decode).

Delivery is at least once (design §11): an entry is acknowledged (XACK) only once pipeline.run
reports it settled; what a consumer read and did not settle stays pending in the group, and is
read again by that consumer when it restarts, or claimed (XAUTOCLAIM) by another once it has been
idle `claim_idle` seconds. Deterministic statement ids make a redelivered entry harmless.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, cast

import fastavro
import orjson
import redis

from translator.errors import InputError
from translator.intake.lines import SourceLine, StreamEntry
from translator.intake.ticks import IDLE, Idle
from translator.messages import json_kind

__all__ = [
    "TRACKING_EVENT_TYPE",
    "TRACKING_LOG_SCHEMA",
    "BusConsumer",
    "GroupLag",
    "decode_entry",
    "entry_source",
]

TRACKING_EVENT_TYPE: Final = "org.openedx.analytics.tracking.event.emitted.v1"
# openedx-events' org+openedx+analytics+tracking+event+emitted+v1_schema.avsc: the writer's schema
# (schemaless Avro carries none of its own).
TRACKING_LOG_SCHEMA: Final[dict[str, Any]] = {
    "name": "CloudEvent",
    "type": "record",
    "namespace": "org.openedx.analytics.tracking.event.emitted.v1",
    "fields": [
        {
            "name": "tracking_log",
            "type": {
                "name": "TrackingLogData",
                "type": "record",
                "fields": [
                    {"name": "name", "type": "string"},
                    {"name": "timestamp", "type": "string"},
                    {"name": "data", "type": "string"},
                    {"name": "context", "type": "string"},
                ],
            },
        }
    ],
}
_PARSED_SCHEMA: Final = fastavro.parse_schema(TRACKING_LOG_SCHEMA)

_READ_COUNT: Final = 500  # entries per XREADGROUP or XAUTOCLAIM
_ACK_EVERY: Final = 200  # settled entries acknowledged in one XACK, at most
_TRIMMED: Final = "the entry was trimmed from the stream before it was handled: its event is lost"


def entry_source(stream: str, entry_id: str) -> str:
    """How rejects and dead letters name an entry: `redis-stream:<stream>#<entry id>`."""
    return f"redis-stream:{stream}#{entry_id}"


def _text(fields: Mapping[bytes, bytes], name: str) -> str | None:
    value = fields.get(name.encode())
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"the entry's {name!r} field is not valid UTF-8") from None


def _json_member(record: dict[str, Any], name: str) -> Any:
    text = record[name]
    if not text.strip():
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"TrackingLogData.{name} is not valid JSON: {exc}") from None


def decode_entry(fields: Mapping[bytes, bytes]) -> dict[str, Any]:
    """The tracking event an entry of edx-event-bus-redis carries, in the tracking-log shape:
    `name`, `time`, `event_source` (from the context, when it has one), `event` (the decoded
    `data`) and `context` (decoded).

    Raises InputError with the reason the entry is unusable: no `event_data`, another event type,
    bytes that are not a TrackingLogData record, data or context that are not JSON.
    """
    event_type = _text(fields, "type")
    if event_type is not None and event_type != TRACKING_EVENT_TYPE:
        raise InputError(f"the entry's type is {event_type!r}, not {TRACKING_EVENT_TYPE}")
    data = fields.get(b"event_data")
    if data is None:
        raise InputError("the entry has no event_data field")
    buffer = io.BytesIO(data)
    try:
        record = fastavro.schemaless_reader(buffer, _PARSED_SCHEMA, None)
    except Exception:  # fastavro raises many kinds (EOFError, IndexError, ...) on other bytes
        raise InputError("event_data is not an Avro TrackingLogData record") from None
    if buffer.tell() != len(data):
        raise InputError(
            f"event_data is not an Avro TrackingLogData record ({len(data) - buffer.tell()} "
            "bytes after it)"
        )
    log = cast(dict[str, Any], record)["tracking_log"]
    context = _json_member(log, "context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise InputError(f"TrackingLogData.context is {json_kind(context)}, not an object")
    event: dict[str, Any] = {"name": log["name"], "time": log["timestamp"]}
    if "event_source" in context:
        event["event_source"] = context["event_source"]
    event["event"] = _json_member(log, "data")
    event["context"] = context
    return event


@dataclass(frozen=True, slots=True)
class GroupLag:
    """How far a consumer group is behind its stream.

    `behind`: entries the group has not read yet, as Redis counts them (XINFO GROUPS `lag`; None
    when Redis cannot tell); `pending`: read but not acknowledged; `length`: entries the stream
    holds; `trimmed_unread`: entries were trimmed away (MAXLEN) before the group read them, so
    their events are lost.
    """

    behind: int | None
    pending: int
    length: int
    trimmed_unread: bool = False

    def __str__(self) -> str:
        behind = "unknown" if self.behind is None else str(self.behind)
        text = f"lag {behind}, pending {self.pending}"
        if self.trimmed_unread:
            text += " (entries were trimmed from the stream before the group read them: lost)"
        return text


class BusConsumer:
    """One consumer of a consumer group on `stream`.

    Iterate `lines(stop)` until `stop` is set: its own entries left pending by an earlier run of
    this consumer name first, then new entries, with the entries of dead consumers claimed as
    they go idle, and IDLE after each quiet read. `acknowledge` is pipeline.run's on_settled.
    Raises redis.RedisError when Redis fails.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        max_line_bytes: int,
        block: float = 0.2,
        claim_idle: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.max_line_bytes = max_line_bytes
        self.block = block
        self.claim_idle = claim_idle
        self.claimed = 0
        self._clock = clock
        self._read = 0  # lines made so far: their numbers
        self._held: set[str] = set()  # entries read and not yet acknowledged
        self._settled: list[str] = []  # entries settled, to acknowledge in the next XACK

    def __repr__(self) -> str:
        return f"BusConsumer({self.stream!r}, group={self.group!r}, consumer={self.consumer!r})"

    # --- the group ---------------------------------------------------------------------------

    def group_exists(self) -> bool:
        """Whether the group is there (the stream may not exist yet: then it is not)."""
        try:
            groups = self.client.xinfo_groups(self.stream)
        except redis.ResponseError:  # no such key
            return False
        return any(_str(g["name"]) == self.group for g in groups)

    def create_group(self, *, from_start: bool) -> None:
        """Create the group (and an empty stream if there is none yet), reading from the oldest
        entry the stream holds, or only what is added from now on; a group already there is
        kept as it is."""
        try:
            self.client.xgroup_create(
                self.stream, self.group, id="0" if from_start else "$", mkstream=True
            )
        except redis.ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise

    def lag(self) -> GroupLag:
        """Where the group stands now (XINFO GROUPS, XINFO STREAM)."""
        groups = self.client.xinfo_groups(self.stream)
        mine = next((g for g in groups if _str(g["name"]) == self.group), None)
        stream = self.client.xinfo_stream(self.stream)
        length = int(stream["length"])
        if mine is None:
            return GroupLag(None, 0, length)
        behind = None if mine.get("lag") is None else int(mine["lag"])
        first = stream.get("first-entry")
        added = int(stream.get("entries-added", length))
        # More behind than the stream holds: the rest was trimmed unread. A group that has read
        # nothing yet is known only by its last id: older than the oldest entry left, while
        # entries were removed.
        trimmed_unread = (behind is not None and behind > length) or (
            mine.get("entries-read") is None
            and first is not None
            and added > length
            and _entry_key(mine["last-delivered-id"]) < _entry_key(first[0])
        )
        return GroupLag(
            behind,
            int(mine["pending"]),
            length,
            trimmed_unread,
        )

    # --- reading -----------------------------------------------------------------------------

    def lines(self, stop: threading.Event) -> Iterator[SourceLine | Idle]:
        """Entries as lines, and IDLE after a quiet read, until `stop` is set."""
        yield from self._own_pending(stop)
        next_claim = self._clock()
        while not stop.is_set():
            self._flush_acks()
            if self._clock() >= next_claim:
                yield from self._claim(stop)
                next_claim = self._clock() + max(self.claim_idle / 2, 0.1)
                continue
            answer = self.client.xreadgroup(
                self.group,
                self.consumer,
                {self.stream: ">"},
                count=_READ_COUNT,
                block=max(1, int(self.block * 1000)),
            )
            entries = _entries_of(answer)
            if not entries:
                yield IDLE
                continue
            for entry_id, fields in entries:
                yield self._line(entry_id, fields)

    def _own_pending(self, stop: threading.Event) -> Iterator[SourceLine]:
        """What this consumer name read in an earlier run and never acknowledged."""
        after = "0"
        while not stop.is_set():
            answer = self.client.xreadgroup(
                self.group, self.consumer, {self.stream: after}, count=_READ_COUNT
            )
            entries = _entries_of(answer)
            if not entries:
                return
            for entry_id, fields in entries:
                if entry_id not in self._held:
                    yield self._line(entry_id, fields)
            after = entries[-1][0]

    def _claim(self, stop: threading.Event) -> Iterator[SourceLine]:
        """The entries other consumers left pending for `claim_idle` seconds (they died)."""
        cursor = "0-0"
        while not stop.is_set():
            answer = self.client.xautoclaim(
                self.stream,
                self.group,
                self.consumer,
                min_idle_time=int(self.claim_idle * 1000),
                start_id=cursor,
                count=_READ_COUNT,
            )
            cursor = _str(answer[0])
            for entry_id, fields in _pairs(answer[1]):
                if entry_id not in self._held:
                    self.claimed += 1
                    yield self._line(entry_id, fields)
            # Entries trimmed away while pending: XAUTOCLAIM has dropped them from the group.
            for deleted in answer[2] if len(answer) > 2 else ():
                self.claimed += 1
                yield self._line(_str(deleted), {})
            if cursor == "0-0":
                return

    def _line(self, entry_id: str, fields: Mapping[bytes, bytes] | None) -> SourceLine:
        self._read += 1
        self._held.add(entry_id)
        source = entry_source(self.stream, entry_id)
        position = StreamEntry(self.stream, entry_id)
        try:
            if not fields:
                raise InputError(_TRIMMED)
            text = orjson.dumps(decode_entry(fields))
        except InputError as exc:
            return SourceLine(source, self._read, b"", position=position, unusable=exc.reason)
        if len(text) > self.max_line_bytes:
            return SourceLine(source, self._read, b"", self.max_line_bytes, position)
        return SourceLine(source, self._read, text, position=position)

    # --- acknowledging -----------------------------------------------------------------------

    def acknowledge(self, line: SourceLine) -> None:
        """Record that `line` is settled; its entry is acknowledged with the next XACK (before
        the next read, or every _ACK_EVERY entries, or on `flush`)."""
        position = line.position
        if not isinstance(position, StreamEntry) or position.stream != self.stream:
            return
        self._settled.append(position.entry_id)
        if len(self._settled) >= _ACK_EVERY:
            self._flush_acks()

    def flush(self) -> None:
        """Acknowledge every entry settled so far (at the end of a run)."""
        self._flush_acks()

    @property
    def unacknowledged(self) -> int:
        """Entries read and not settled: left pending, to be read again."""
        return len(self._held) - len(self._settled)

    def _flush_acks(self) -> None:
        if not self._settled:
            return
        self.client.xack(self.stream, self.group, *self._settled)
        self._held.difference_update(self._settled)
        self._settled.clear()


def _str(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entry_key(entry_id: Any) -> tuple[int, int]:
    """An entry id as numbers, in the stream's order ("1700000000000-3" -> (1700000000000, 3))."""
    milliseconds, _, sequence = _str(entry_id).partition("-")
    return int(milliseconds), int(sequence or 0)


def _pairs(items: Any) -> list[tuple[str, Mapping[bytes, bytes] | None]]:
    return [(_str(entry_id), fields) for entry_id, fields in items or ()]


def _entries_of(answer: Any) -> list[tuple[str, Mapping[bytes, bytes] | None]]:
    """The entries of an XREADGROUP answer on one stream ([[stream, entries]], or empty)."""
    if not answer:
        return []
    return _pairs(answer[0][1])

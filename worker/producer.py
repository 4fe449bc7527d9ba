"""The queue producer: a run's lines, in chunks, handed to the workers through Redis.

`translator forward --queue` uses it, and so can any intake: open a RunProducer, `enqueue` the
lines, read the run's books (worker.runs) to follow it. A chunk message carries raw lines, never a
credential (worker.jobs describes its shape).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

import redis

from translator.config import Settings
from translator.errors import ConfigError
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle
from worker.app import QUEUE, TRANSLATE_CHUNK, create_app
from worker.durability import check_durability
from worker.jobs import Chunk, encode_lines, finish_if_done, iter_chunks, starts_chunk
from worker.runs import RunBook

__all__ = ["RunProducer"]

logger = logging.getLogger(__name__)


class RunProducer:
    """Enqueues one run. `run_id`, `lines` and `chunks` say how far it got, also after an error.

    Raises redis.RedisError (or a broker error) when Redis cannot be reached or fails mid-run.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.celery = create_app(settings)
        self.client = redis.Redis.from_url(settings.redis_url)
        self.run_id = uuid.uuid4().hex
        self.book = RunBook(self.client, self.run_id)
        self.lines = 0
        self.chunks = 0
        self.poll_interval = 0.2  # seconds between looks at a full queue

    def __repr__(self) -> str:
        return f"RunProducer(run={self.run_id!r}, lines={self.lines}, chunks={self.chunks})"

    def __enter__(self) -> RunProducer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def check(self) -> None:
        """Fail now, before reading anything, when Redis cannot be reached (redis.RedisError) or
        keeps no append-only file and `allow_volatile_redis` is not set (ConfigError)."""
        self.client.ping()
        check_durability(self.client, allow_volatile=self.settings.allow_volatile_redis)

    def enqueue(self, lines: Iterable[SourceLine], *, keep_rejects: bool = False) -> None:
        """Enqueue every line in chunks of `chunk_lines` and `chunk_bytes`, reading no further
        while the queue holds `queue_max_messages` (see `_send`), then close the run's totals. With
        `keep_rejects`, the workers keep the run's rejected lines in its books (for a day: they
        may name learners); else only their count and reasons.

        The totals are written before the last chunk is sent, so that the worker that settles
        the run's last part knows it is the last. If reading fails (ConfigError) or is
        interrupted (KeyboardInterrupt), the run is closed as what was enqueued before, and the
        error propagates.
        """
        if self.settings.chunk_lines < 1:
            raise ConfigError(f"chunk_lines must be at least 1, not {self.settings.chunk_lines}")
        self.book.begin(keep_rejects=keep_rejects)
        with self.celery.producer_or_acquire() as producer:
            held: Chunk | None = None
            try:
                chunks = iter_chunks(
                    lines, self.settings.chunk_lines, max_bytes=self.settings.chunk_bytes
                )
                for chunk in chunks:
                    if held is not None:
                        self._send(producer, held)
                    held = chunk
            except ConfigError:  # an input failed: the run is what was read before
                self._finish(producer, held)
                raise
            except KeyboardInterrupt:  # the run is what was enqueued so far
                self.book.set_totals(lines=self.lines, chunks=self.chunks)
                raise
            self._finish(producer, held)

    def stream(
        self,
        lines: Iterable[SourceLine | Idle],
        *,
        max_wait: float,
        on_enqueued: Callable[[Chunk], None],
    ) -> None:
        """Enqueue lines as they come, for a run without a known end (a followed log).

        A chunk goes when it is full (`chunk_lines` or `chunk_bytes`), when the source changes,
        or once its first line has waited `max_wait` seconds (checked on IDLE, so a quiet log's
        lines still go), after the queue has room (see `_make_room`);
        `on_enqueued(chunk)` follows each chunk handed to Redis (a checkpoint may move past it).
        When `lines` ends (a stop), what is held goes too and the run's totals are written.
        """
        self.book.begin()
        with self.celery.producer_or_acquire() as producer:
            current: list[SourceLine] = []
            held = 0
            since = 0.0

            def send() -> None:
                nonlocal held
                chunk = Chunk(current[0].source, current[0].lineno, list(current))
                current.clear()
                held = 0
                self._send(producer, chunk)
                on_enqueued(chunk)

            for line in lines:
                if line is IDLE:
                    if current and time.monotonic() - since >= max_wait:
                        send()
                    continue
                if starts_chunk(
                    current,
                    held,
                    line,
                    size=self.settings.chunk_lines,
                    max_bytes=self.settings.chunk_bytes,
                ):
                    send()
                if not current:
                    since = time.monotonic()
                current.append(line)
                held += len(line.text)
            if current:
                send()
            self.book.set_totals(lines=self.lines, chunks=self.chunks)
        finish_if_done(self.book)

    def _make_room(self) -> None:
        """Backpressure: wait (polling) while the queue holds `queue_max_messages` or more, so
        the producer never reads far ahead of the workers (memory stays flat on any input)."""
        limit = self.settings.queue_max_messages
        waited = False
        while int(self.client.llen(QUEUE)) >= limit:
            if not waited:
                logger.info(
                    "run %s: the queue holds %d messages or more; waiting", self.run_id, limit
                )
                waited = True
            time.sleep(self.poll_interval)

    def _send(self, producer: Any, chunk: Chunk) -> None:
        self._make_room()
        # The chunk's number in the run is its key: unique even when a followed log's line
        # numbers start again after a rotation, and the same when Celery redelivers it.
        key = f"#{self.chunks}"
        args = [self.run_id, chunk.source, chunk.first_lineno, encode_lines(chunk.lines), key]
        self.celery.send_task(TRANSLATE_CHUNK, args=args, producer=producer)
        self.lines += len(chunk.lines)
        self.chunks += 1

    def _finish(self, producer: Any, last: Chunk | None) -> None:
        """Write the run's totals, then send its last chunk."""
        if last is None:
            self.book.set_totals(lines=self.lines, chunks=self.chunks)
            return
        self.book.set_totals(lines=self.lines + len(last.lines), chunks=self.chunks + 1)
        self._send(producer, last)

    def close(self) -> None:
        """Release the Redis connection."""
        self.client.close()

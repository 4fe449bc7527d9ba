"""What a worker does, as plain functions: translate a chunk of raw lines, deliver one batch.

The Celery tasks (worker.tasks) are thin wrappers that decide when to retry. Message shapes:

    translate_chunk(run_id, source, first_lineno, lines[, chunk_key])
        lines: list[str | None], each raw line's bytes as latin-1 text (lossless: one code point
        per byte, so a line that is not UTF-8 is rejected on the worker with the right reason),
        or None for a line longer than max_line_bytes; line numbers run from first_lineno.
        chunk_key: the chunk's identity in its run (the producer numbers its chunks), so that a
        followed log whose line numbers start again after a rotation never repeats a key;
        without it, `source:first_lineno`.
    deliver_batch(run_id, destination_name, items)
        items: list of {"statement": {...}, "source": "file:line"}, at most batch_size of them.

Neither carries a credential: a worker finds the destination by name in its own configuration.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from translator.config import Settings
from translator.engine import REJECTED, TRANSLATED, Translator
from translator.errors import ConfigError
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE
from translator.mapping.plan import load_plan
from translator.pipeline import translate_lines_for
from translator.sinks.clients import EndpointClient, open_client
from translator.sinks.dead_letters import DEFAULT_REDIS_KEY, DeadLetter
from translator.sinks.delivery import BatchResult, Item, deliver_batch
from translator.sinks.destinations import Destination, load_destinations
from translator.sinks.rejects import reject_record
from translator.sinks.routing import Router
from translator.summary import Summary
from translator.targets.registry import DEFAULT_TARGET, TARGETS, get_target
from worker.durability import check_durability
from worker.runs import RunBook, reject_field, skip_field

__all__ = [
    "TOTALS_KEY",
    "BatchMessage",
    "Chunk",
    "ChunkReport",
    "MalformedMessage",
    "WorkerContext",
    "batch_key",
    "decode_lines",
    "encode_lines",
    "finish_if_done",
    "iter_chunks",
    "process_batch",
    "process_chunk",
    "starts_chunk",
]

logger = logging.getLogger(__name__)

_ENCODING = "latin-1"


class MalformedMessage(ValueError):
    """A task message that no worker could ever handle (not something our CLI sends)."""


# --- chunks of raw lines ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Chunk:
    """Consecutive lines of one source, the unit a translate message carries."""

    source: str
    first_lineno: int
    lines: list[SourceLine]


def encode_lines(lines: Sequence[SourceLine]) -> list[str | None]:
    """Raw lines as JSON-safe text that gives back the exact bytes (None: over the limit)."""
    return [None if line.too_long else line.text.decode(_ENCODING) for line in lines]


def decode_lines(
    source: str, first_lineno: int, lines: Sequence[str | None], *, max_line_bytes: int
) -> list[SourceLine]:
    """The SourceLines a translate message carries (None: a line over `max_line_bytes`).
    Raises MalformedMessage."""
    if not isinstance(source, str) or not isinstance(first_lineno, int) or first_lineno < 1:
        raise MalformedMessage("a chunk needs a source name and a first line number >= 1")
    if not isinstance(lines, list):
        raise MalformedMessage(f"{source}:{first_lineno}: the lines must be a list")
    out: list[SourceLine] = []
    for offset, text in enumerate(lines):
        lineno = first_lineno + offset
        if text is None:
            out.append(SourceLine(source, lineno, b"", over_limit=max_line_bytes))
        elif isinstance(text, str):
            out.append(SourceLine(source, lineno, text.encode(_ENCODING)))
        else:
            raise MalformedMessage(f"{source}:{lineno}: a line must be text or null")
    return out


def starts_chunk(
    current: Sequence[SourceLine], held_bytes: int, line: SourceLine, *, size: int, max_bytes: int
) -> bool:
    """Whether `line` must start a new chunk after `current` (`held_bytes` raw bytes): the chunk
    is full (`size` lines, or `max_bytes` with this line), or the source changes or skips."""
    return bool(current) and (
        len(current) >= size
        or held_bytes + len(line.text) > max_bytes
        or line.source != current[-1].source
        or line.lineno != current[-1].lineno + 1
    )


def iter_chunks(
    lines: Iterable[SourceLine], size: int, *, max_bytes: int | None = None
) -> Iterator[Chunk]:
    """Group lines into chunks of at most `size` consecutive lines of one source, and at most
    `max_bytes` raw bytes (a longer line goes alone): a message's size stays bounded whatever
    the lines. Raises ConfigError on a size below 1."""
    if size < 1:
        raise ConfigError(f"chunk_lines must be at least 1, not {size}")
    limit = sys.maxsize if max_bytes is None else max_bytes
    if limit < 1:
        raise ConfigError(f"chunk_bytes must be at least 1, not {limit}")
    current: list[SourceLine] = []
    held = 0
    for line in lines:
        if starts_chunk(current, held, line, size=size, max_bytes=limit):
            yield Chunk(current[0].source, current[0].lineno, current)
            current, held = [], 0
        current.append(line)
        held += len(line.text)
    if current:
        yield Chunk(current[0].source, current[0].lineno, current)


# --- the worker's own configuration ----------------------------------------------------------


class WorkerContext:
    """What a worker process loads once: settings, the compiled plan, destinations, pooled HTTP
    clients, a Redis client. Nothing here comes from a message."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._translators: list[Translator] | None = None
        self._destinations: dict[str, Destination] | None = None
        self._clients: dict[str, EndpointClient] = {}
        self._redis: redis.Redis | None = None

    def __repr__(self) -> str:
        return f"WorkerContext(destinations={sorted(self.destinations())!r})"

    def check(self) -> None:
        """Fail at start-up rather than on the first message. Raises ConfigError (also for a
        Redis that cannot be reached, or keeps no append-only file without
        `allow_volatile_redis`), MappingError."""
        self.translators()
        if not self.destinations():
            raise ConfigError(
                "no destination is configured on this worker: set TRANSLATOR_LRS_URL (with "
                "its credentials) or TRANSLATOR_DESTINATIONS_FILE"
            )
        try:
            check_durability(self.redis(), allow_volatile=self.settings.allow_volatile_redis)
        except redis.RedisError as exc:
            raise ConfigError(f"cannot check Redis's persistence: {exc}") from None

    def translators(self) -> list[Translator]:
        """One plan per target this worker's destinations take (xAPI when it has none), compiled
        on first use. Raises ConfigError without a pseudonym secret: a worker never translates
        with a throw-away key (actor ids would differ between workers)."""
        if self._translators is None:
            if self.settings.needs_pseudonym_secret and self.settings.pseudonym_secret is None:
                raise ConfigError(
                    "TRANSLATOR_PSEUDONYM_SECRET is not set on this worker: it will not translate "
                    "with a throw-away key; set it (the same on every worker) and restart"
                )
            kinds = list(dict.fromkeys(d.kind for d in self.destinations().values()))
            self._translators = [
                Translator(
                    load_plan(self.settings, get_target(kind), known_targets=TARGETS),
                    id_namespace=self.settings.id_namespace,
                )
                for kind in kinds or [DEFAULT_TARGET]
            ]
        return self._translators

    def destinations(self) -> dict[str, Destination]:
        """This worker's destinations by name. Raises ConfigError."""
        if self._destinations is None:
            self._destinations = {d.name: d for d in load_destinations(self.settings)}
        return self._destinations

    def destination(self, name: str) -> Destination:
        """A destination by name. Raises ConfigError when this worker does not know it."""
        found = self.destinations().get(name)
        if found is None:
            known = ", ".join(repr(n) for n in sorted(self.destinations())) or "none"
            raise ConfigError(
                f"destination {name!r} is not configured on this worker (it knows {known})"
            )
        return found

    def client(self, destination: Destination) -> EndpointClient:
        """One pooled keep-alive client per destination, for the life of the process."""
        client = self._clients.get(destination.name)
        if client is None:
            client = open_client(destination, timeout=self.settings.request_timeout)
            self._clients[destination.name] = client
        return client

    def redis(self) -> redis.Redis:
        """The broker's Redis, where runs keep their books and dead letters are stored."""
        if self._redis is None:
            self._redis = redis.Redis.from_url(self.settings.redis_url)
        return self._redis

    def close(self) -> None:
        """Release connections (at process shutdown)."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        if self._redis is not None:
            self._redis.close()
            self._redis = None


def _book(context: WorkerContext, run_id: str) -> RunBook:
    try:
        return RunBook(context.redis(), run_id)
    except (TypeError, ValueError) as exc:
        raise MalformedMessage(str(exc)) from None


# --- translate a chunk -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """One batch to enqueue: its destination and items (statement + source)."""

    destination: str
    items: list[dict[str, Any]]


def batch_key(destination: str, items: Sequence[dict[str, Any]]) -> str:
    """A batch's identity: the same batch built again (a redone chunk) gets the same key."""
    digest = hashlib.sha1(destination.encode())
    for item in items:
        digest.update(b"\x1f" + str(item["source"]).encode())
        digest.update(b"\x1e" + str(item["statement"].get("id")).encode())
    return digest.hexdigest()


@dataclass(slots=True)
class ChunkReport:
    """What one chunk came to (for the log line and the tests)."""

    where: str  # `source:first_lineno`, for the log line
    last_lineno: int
    summary: Summary
    batches: list[BatchMessage] = field(default_factory=list)
    routed: int = 0
    unrouted: int = 0
    counted: bool = True

    def log_line(self, run_id: str) -> str:
        s = self.summary
        return (
            f"run {run_id}: {self.where}-{self.last_lineno}: read {s.read}, translated "
            f"{s.translated} ({s.statements} statements), skipped {s.skipped}, rejected "
            f"{s.rejected}; {self.routed} statements queued in {len(self.batches)} batches"
        )


def process_chunk(
    context: WorkerContext,
    run_id: str,
    source: str,
    first_lineno: int,
    lines: Sequence[str | None],
    *,
    publish: Callable[[str, str, list[dict[str, Any]]], None],
    chunk_key: str | None = None,
) -> ChunkReport | None:
    """Translate a chunk, hand its statements to `publish(run_id, destination, items)` in batches
    of `batch_size` per destination (by each destination's org/course filter), then count the
    chunk in the run's books, with its reject reasons, and its rejected lines only when the run
    asked for them (RunBook.begin: the producer's wish, in the books, not in each message).

    Publishing comes first and counting last, in one atomic step: if the worker dies in between,
    the redone chunk publishes the same batches again (the same batch keys, so they are counted
    once and the LRS sees duplicates) and is counted once. A chunk already counted is skipped
    (returns None). Raises ConfigError or MappingError when the worker cannot translate, and
    Redis or broker errors: the task retries the chunk then.
    """
    settings = context.settings
    decoded = decode_lines(source, first_lineno, lines, max_line_bytes=settings.max_line_bytes)
    book = _book(context, run_id)
    if chunk_key is not None and not isinstance(chunk_key, str):
        raise MalformedMessage("a chunk key is text")
    key = chunk_key or f"{source}:{first_lineno}"
    if book.chunk_done(key):
        logger.info("run %s: chunk %s was already done; skipped", run_id, key)
        return None
    translators = context.translators()
    destinations = list(context.destinations().values())
    if not destinations:
        raise ConfigError("no destination is configured on this worker")
    router = Router(destinations)
    only_kind = translators[0].plan.target.name
    summary = Summary()
    routes: dict[str, list[dict[str, Any]]] = {d.name: [] for d in destinations}
    rejects: list[tuple[str, bytes]] = []
    unrouted = 0
    for result in translate_lines_for(decoded, translators):
        if result is IDLE:
            continue
        outcome = result.outcome
        summary.add(outcome, result.by_target)
        where = result.line.where
        if outcome.status == TRANSLATED:
            # Several targets: each one's statements go to the destinations of its kind.
            for kind, made in result.by_target or ((only_kind, outcome),):
                targets = router.route(made, kind)
                for statement in made.statements:
                    for target in targets:
                        routes[target.name].append({"statement": statement, "source": where})
                if not targets:
                    unrouted += len(made.statements)
        elif outcome.status == REJECTED:
            rejects.append((where, reject_record(result)))
    where = f"{source}:{first_lineno}"
    report = ChunkReport(where, first_lineno + len(decoded) - 1, summary, unrouted=unrouted)
    size = max(1, settings.batch_size)
    for name, items in routes.items():
        for start in range(0, len(items), size):
            report.batches.append(BatchMessage(name, items[start : start + size]))
            report.routed += len(items[start : start + size])
    for batch in report.batches:
        publish(run_id, batch.destination, batch.items)
    counts = {
        "chunks_done": 1,
        "read": summary.read,
        "translated": summary.translated,
        "statements": summary.statements,
        "skipped": summary.skipped,
        "rejected": summary.rejected,
        "routed": report.routed,
        "unrouted": unrouted,
        "batches": len(report.batches),
    }
    for (event, reason), count in summary.skipped_by_reason.items():
        counts[skip_field(event, reason)] = count
    for reason, count in summary.rejected_by_reason.items():
        counts[reject_field(reason)] = counts.get(reject_field(reason), 0) + count
    kept = rejects if rejects and book.keeps_rejects() else []
    report.counted = book.commit_chunk(key, counts, kept, rejects_ttl=settings.rejects_ttl)
    if report.counted:
        logger.info("%s", report.log_line(run_id))
        finish_if_done(book)
    else:
        logger.info("run %s: chunk %s was counted by another worker", run_id, key)
    return report


# --- deliver a batch -------------------------------------------------------------------------


class _Deferred:
    """A dead-letter store that only collects: the batch's letters are written by
    `RunBook.commit_batch`, atomically with the counts, so a redone batch stores them once."""

    def __init__(self) -> None:
        self.letters: builtins.list[DeadLetter] = []

    def add(self, *letters: DeadLetter) -> None:
        self.letters.extend(letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.letters)

    def __len__(self) -> int:
        return len(self.letters)

    def list(self, *, destination: str | None = None) -> builtins.list[DeadLetter]:
        return [d for d in self.letters if destination is None or d.destination == destination]

    def remove(self, keys: Collection[str]) -> int:
        before = len(self.letters)
        self.letters = [d for d in self.letters if d.key not in keys]
        return before - len(self.letters)

    def purge(self, *, destination: str | None = None) -> int:
        return self.remove([d.key for d in self.list(destination=destination)])


def _items(raw: Sequence[Any]) -> list[Item]:
    """The (statement, source) pairs of a deliver message. Raises MalformedMessage."""
    if not isinstance(raw, list):
        raise MalformedMessage("a batch's items must be a list")
    items: list[Item] = []
    for entry in raw:
        if not isinstance(entry, dict) or not isinstance(entry.get("statement"), dict):
            raise MalformedMessage(
                "a batch item must be {'statement': {...}, 'source': 'file:line'}"
            )
        items.append((entry["statement"], str(entry.get("source", ""))))
    return items


def process_batch(
    context: WorkerContext,
    run_id: str,
    destination_name: str,
    items: Sequence[dict[str, Any]],
    *,
    dead_letter_key: str = DEFAULT_REDIS_KEY,
) -> BatchResult | None:
    """Deliver one batch to the named destination of this worker's configuration, then count it
    and store its dead letters in one atomic step (a batch already counted is not sent again:
    returns None).

    Raises TransientDeliveryError (retry later, honouring its `retry_after`), DestinationRefused
    (401/403: keep the batch, retry later), DeliveryError (an unexpected answer), ConfigError (an
    unknown destination), MalformedMessage; nothing is counted or stored then.
    """
    pairs = _items(items)
    book = _book(context, run_id)
    key = batch_key(destination_name, items)
    if book.batch_done(key):
        logger.info("run %s: batch %s was already delivered; skipped", run_id, key[:12])
        return None
    destination = context.destination(destination_name)
    letters = _Deferred()
    started = time.monotonic()
    result = deliver_batch(
        destination,
        pairs,
        letters,
        client=context.client(destination),
        retry=None,
        timeout=context.settings.request_timeout,
    )
    seconds = time.monotonic() - started
    counts = {
        "batches_done": 1,
        "delivered": result.delivered,
        "duplicates": result.duplicates,
        "dead_lettered": result.dead_lettered,
    }
    records = [(d.key, d.to_json()) for d in letters.letters]
    if book.commit_batch(key, counts, records, dead_letter_key=dead_letter_key):
        logger.info(
            "run %s: batch of %d to %r: delivered %d (%d already stored), dead-lettered %d",
            run_id,
            len(pairs),
            destination.name,
            result.delivered,
            result.duplicates,
            result.dead_lettered,
        )
        _add_totals(context, destination.name, result, seconds)
        finish_if_done(book)
    return result


TOTALS_KEY = "translator:totals"
"""A Redis hash of what every worker has delivered, `<figure>|<destination>` -> count: the
workers' metrics (translator.metrics.QueueMetrics) read it."""


def _add_totals(
    context: WorkerContext, destination: str, result: BatchResult, seconds: float
) -> None:
    """Add one settled batch to the workers' totals (a courtesy for metrics: never fails it)."""
    try:
        pipe = context.redis().pipeline(transaction=False)
        for figure, value in (
            ("delivered", result.delivered),
            ("dead_lettered", result.dead_lettered),
            ("requests", result.requests),
            ("batches", 1),
        ):
            pipe.hincrby(TOTALS_KEY, f"{figure}|{destination}", value)
        pipe.hincrbyfloat(TOTALS_KEY, f"batch_seconds|{destination}", seconds)
        pipe.execute()
    except redis.RedisError:
        logger.debug("cannot add to the workers' totals", exc_info=True)


def finish_if_done(book: RunBook) -> None:
    """Log the run's closing line once, by whichever worker settles its last part."""
    status = book.status()
    if status.finished and book.claim_finish():
        logger.info("run %s finished: %s", book.run_id, status.total_line())

"""`translator forward --queue`: enqueue a run for the workers and, with --wait, report it."""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from translator.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REJECTED,
    echo,
    fail,
    progress_lines,
    redact,
)
from translator.config import Settings
from translator.errors import ConfigError
from translator.summary import Summary

if TYPE_CHECKING:
    from worker.runs import RunBook, RunStatus

__all__ = ["forward_queued"]


def forward_queued(
    settings: Settings,
    paths: tuple[str, ...],
    *,
    rejects: Path | None,
    wait: bool,
    timeout: float | None,
    progress: bool,
) -> NoReturn:
    """Enqueue the lines in chunks for the workers; with `wait`, report the run once settled."""
    import redis
    from kombu.exceptions import KombuError

    from worker.producer import RunProducer

    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        fail(f"{repeated[0]} is given twice: a queued run reads each input once")
    try:
        producer = RunProducer(settings)
        # Checks every path now (a mistyped one fails before a run starts); reads lazily.
        source = progress_lines(paths, settings, progress=progress)
    except ConfigError as exc:
        fail(str(exc))
    where = redact(settings.redis_url)
    with producer:
        try:
            producer.check()
        except redis.RedisError as exc:
            fail(f"cannot reach Redis at {where}: {exc}")
        except ConfigError as exc:  # a Redis that would lose the queue on a restart
            fail(f"Redis at {where}: {exc}")
        enqueued = f"run {producer.run_id}: enqueued {{}} lines in {{}} chunks"
        try:
            producer.enqueue(source, keep_rejects=rejects is not None)
        except ConfigError as exc:  # an input failed: the run is what was read before
            echo(enqueued.format(producer.lines, producer.chunks))
            fail(f"{exc}; the lines before it were enqueued")
        except KeyboardInterrupt:
            echo(enqueued.format(producer.lines, producer.chunks))
            echo("interrupted: the workers deliver what was enqueued", err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (redis.RedisError, KombuError, OSError) as exc:
            fail(
                f"cannot enqueue to Redis at {where} after {producer.lines} lines "
                f"(run {producer.run_id}): {exc}"
            )
        echo(enqueued.format(producer.lines, producer.chunks))
        if not wait:
            sys.exit(EXIT_OK)
        try:
            status = _wait_for_run(producer.book, timeout)
            records = producer.book.rejects() if rejects is not None else []
        except redis.RedisError as exc:
            fail(
                f"lost Redis at {where} while waiting for run {producer.run_id}: {exc}; "
                f"once it is back, `translator runs {producer.run_id}` says whether the run "
                "survived"
            )
    _report(status, records, rejects=rejects, run_id=producer.run_id)


def _report(
    status: RunStatus, records: list[bytes], *, rejects: Path | None, run_id: str
) -> NoReturn:
    details = Summary(
        skipped_by_reason=Counter(status.skipped_by_reason),
        rejected_by_reason=Counter(status.rejected_by_reason),
    )
    for detail in details.detail_lines():
        echo(detail, err=True)
    if rejects is not None and records:
        try:
            rejects.write_bytes(b"".join(r + b"\n" for r in records))
        except OSError as exc:
            fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        echo(f"rejected lines written to {rejects}", err=True)
    if status.unrouted:
        echo(f"{status.unrouted} statements matched no destination's filter: not sent", err=True)
    if status.dead_lettered:
        echo(
            "dead letters are in Redis: `translator dead-letters list --redis` shows them, "
            "`translator dead-letters replay --redis` sends them again",
            err=True,
        )
    if not status.finished:
        echo(f"run {run_id} is not finished yet; so far:", err=True)
    elif not status.reconciles:
        echo(f"warning: the counts of run {run_id} do not reconcile", err=True)
    echo(status.total_line(), err=True)
    if not status.finished:
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_REJECTED if status.rejected or status.dead_lettered else EXIT_OK)


_IDLE_QUEUE_SECONDS = 10.0  # no progress and nothing taken from the queue for this long: say so
_REDIS_DOWN_SECONDS = 30.0  # Redis unreachable this long while waiting: stop waiting
# Nothing queued or held for this long (not one look: a retried message is briefly in neither).
_EMPTY_QUEUE_SECONDS = 3.0


def _wait_for_run(book: RunBook, timeout: float | None) -> RunStatus:
    """Poll the run's books until it is settled, or `timeout` passes (then say so). When nothing
    moves and no worker takes the run's messages, say that no worker seems to be running.

    A run whose messages vanished (Redis restarted without its data: the run's books are gone,
    or nothing is queued or held by a worker while the run is not settled and nothing moves)
    ends the wait with exit status 1 and what was lost, instead of waiting forever. Raises
    redis.RedisError when Redis stays unreachable for 30 s.
    """
    import redis

    from worker.app import QUEUE

    deadline = None if timeout is None else time.monotonic() + timeout
    shown = ""
    last: tuple[int, ...] = ()
    still_since = time.monotonic()
    warned = False
    down_since: float | None = None
    empty_since: float | None = None
    while True:
        try:
            status = book.status()
            if not status.exists:
                _vanished(book, "its books are gone from Redis")
            waiting = taken = -1
            if not status.finished and time.monotonic() - still_since >= _IDLE_QUEUE_SECONDS:
                waiting = int(book.client.llen(QUEUE))
                taken = int(book.client.hlen("unacked"))
        except (redis.ConnectionError, redis.TimeoutError):
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since >= _REDIS_DOWN_SECONDS:
                raise
            time.sleep(0.5)
            continue
        if down_since is not None:
            echo("Redis answers again", err=True)
            down_since = None
        if status.error and status.error != shown:
            echo(f"workers report: {status.error}", err=True)
        shown = status.error
        if status.finished:
            return status
        progress = (status.chunks_done, status.batches_done, status.read)
        if waiting or taken:
            empty_since = None
        if progress != last:
            last, still_since = progress, time.monotonic()
        elif waiting == 0 and taken == 0:
            empty_since = empty_since or time.monotonic()
            if time.monotonic() - empty_since >= _EMPTY_QUEUE_SECONDS:
                _vanished(book, "nothing is queued or held by a worker, yet it is not settled")
        elif waiting > 0 and not taken and not warned:
            echo(
                f"no worker is taking the run's messages ({waiting} waiting in queue "
                f"{QUEUE!r}, none taken for {_IDLE_QUEUE_SECONDS:g} s): start one with "
                "`translator worker` (with the same TRANSLATOR_REDIS_URL); the run waits",
                err=True,
            )
            warned = True
        if deadline is not None and time.monotonic() >= deadline:
            echo(
                f"not finished after {timeout:g} s ({status.progress_line()}); the workers go on "
                f"with it: `translator status --run {book.run_id}` shows it later",
                err=True,
            )
            return status
        time.sleep(0.2)


def _vanished(book: RunBook, why: str) -> NoReturn:
    """End a wait for a run whose messages are lost, saying what to do."""
    echo(
        f"error: run {book.run_id} vanished: {why} (Redis restarted or was flushed without its "
        "data?). Its lines not yet translated and statements not yet delivered are lost from "
        "the queue: forward the input again (statement ids are deterministic, so statements "
        "already stored are not duplicated), and give Redis persistence (appendonly yes)",
        err=True,
    )
    sys.exit(EXIT_REJECTED)

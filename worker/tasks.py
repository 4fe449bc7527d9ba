"""The Celery tasks: thin wrappers over worker.jobs that retry, and never drop a message.

Every failure but a malformed message is retried without limit, with exponential backoff and
jitter (honouring an LRS's `Retry-After`): an outage, refused credentials or a worker missing its
configuration only delay delivery. Redelivered messages are harmless: worker.runs counts each
chunk and batch once, and statement ids are deterministic.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from celery.signals import (
    after_setup_logger,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

from translator.config import unknown_variables
from translator.errors import (
    ConfigError,
    DeliveryError,
    DestinationRefused,
    MappingError,
    TransientDeliveryError,
)
from worker.app import DELIVER_BATCH, TRANSLATE_CHUNK, app, worker_settings
from worker.jobs import MalformedMessage, WorkerContext, process_batch, process_chunk
from worker.runs import RunBook

__all__ = ["backoff", "context", "deliver_batch", "translate_chunk"]

logger = logging.getLogger(__name__)

_context: WorkerContext | None = None


def context() -> WorkerContext:
    """This process's WorkerContext, built on first use from the worker's own settings."""
    global _context
    if _context is None:
        _context = WorkerContext(worker_settings())
    return _context


def _reset_context(**_: Any) -> None:
    """A forked pool process opens its own connections instead of sharing its parent's."""
    global _context
    _context = None


def _close_context(**_: Any) -> None:
    if _context is not None:
        _context.close()


def _check_worker(**_: Any) -> None:
    """Refuse to start a worker that could not do its job (no secret, no destination, broken
    mappings), rather than retrying every message for ever."""
    for warning in unknown_variables():
        logger.warning("%s", warning)
    context = WorkerContext(worker_settings())
    try:
        context.check()
    except (ConfigError, MappingError) as exc:
        logger.critical("the worker cannot start: %s", exc)
        raise SystemExit(2) from None
    finally:
        context.close()


def _quiet_http_log(**_: Any) -> None:
    """One log line per batch is ours; httpx's line per request would only repeat it."""
    logging.getLogger("httpx").setLevel(logging.WARNING)


after_setup_logger.connect(_quiet_http_log, weak=False)
worker_init.connect(_check_worker, weak=False)
worker_process_init.connect(_reset_context, weak=False)
worker_process_shutdown.connect(_close_context, weak=False)


def backoff(retries: int, *, retry_after: float | None = None) -> float:
    """Seconds before the next try: exponential from `retry_initial` to `retry_max`, half of it
    random (so that workers do not come back together), at least the LRS's `Retry-After`; never
    more than half the visibility timeout, or Redis would give the waiting message to another
    worker as if this one had died."""
    settings = worker_settings()
    ceiling = min(settings.retry_max, settings.retry_initial * 2.0 ** min(retries, 32))
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:  # honoured up to retry_max: an LRS may ask for a day
        wait = min(retry_after, settings.retry_max)
        delay = max(delay, wait + random.uniform(0, settings.retry_initial))
    return min(delay, settings.visibility_timeout / 2)


def _publish(run_id: str, destination: str, items: list[dict[str, Any]]) -> None:
    deliver_batch.apply_async(args=(run_id, destination, items))


def _translate_chunk(
    task: Any,
    run_id: str,
    source: str,
    first_lineno: int,
    lines: list[str | None],
    chunk_key: str | None = None,
) -> None:
    """Translate a chunk of raw lines and enqueue its statements in batches (worker.jobs)."""
    try:
        process_chunk(
            context(), run_id, source, first_lineno, lines, publish=_publish, chunk_key=chunk_key
        )
    except MalformedMessage as exc:
        logger.error("run %s: a malformed chunk message was dropped: %s", run_id, exc)
    except Exception as exc:
        delay = backoff(task.request.retries)
        logger.error(
            "run %s: chunk %s:%s not translated (%s); it is kept and retried in %.1f s",
            run_id,
            source,
            first_lineno,
            exc,
            delay,
        )
        raise task.retry(countdown=delay) from None


def _deliver_batch(
    task: Any, run_id: str, destination_name: str, items: list[dict[str, Any]]
) -> None:
    """Deliver one batch to a destination of this worker's configuration (worker.jobs)."""
    ctx = context()
    retries = task.request.retries
    try:
        process_batch(ctx, run_id, destination_name, items)
    except MalformedMessage as exc:
        logger.error("run %s: a malformed batch message was dropped: %s", run_id, exc)
        return
    except TransientDeliveryError as exc:
        delay = backoff(retries, retry_after=exc.retry_after)
        logger.warning("run %s: %s; the batch is retried in %.1f s", run_id, exc, delay)
    except DestinationRefused as exc:
        delay = backoff(retries)
        logger.error(
            "run %s: DESTINATION REFUSED: %s (the batch stays queued, next try in %.1f s; "
            "restart the workers once their configuration is fixed)",
            run_id,
            exc,
            delay,
        )
        _note(ctx, run_id, str(exc))
    except (DeliveryError, ConfigError) as exc:
        delay = backoff(retries)
        logger.error(
            "run %s: batch for %r not delivered: %s; it is kept and retried in %.1f s",
            run_id,
            destination_name,
            exc,
            delay,
        )
        _note(ctx, run_id, str(exc))
    except Exception as exc:
        delay = backoff(retries)
        logger.error(
            "run %s: batch for %r not delivered (%s: %s); it is kept and retried in %.1f s",
            run_id,
            destination_name,
            type(exc).__name__,
            exc,
            delay,
        )
    else:
        if retries:
            _note(ctx, run_id, "")
        return
    raise task.retry(countdown=delay)


def _note(ctx: WorkerContext, run_id: str, message: str) -> None:
    """Tell a waiting `forward --wait` why its run does not progress (or that it does again)."""
    try:
        book = RunBook(ctx.redis(), run_id)
        if message:
            book.note_error(message)
        else:
            book.clear_error()
    except Exception:  # the note is a courtesy: never let it stop a retry
        logger.debug("run %s: cannot note the error", run_id, exc_info=True)


translate_chunk = app.task(name=TRANSLATE_CHUNK, bind=True, max_retries=None)(_translate_chunk)
deliver_batch = app.task(name=DELIVER_BATCH, bind=True, max_retries=None)(_deliver_batch)

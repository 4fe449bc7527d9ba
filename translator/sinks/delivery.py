"""Batched delivery to one destination with design §8's semantics: retry, split, dead-letter.

How each answer is handled (whether the batch is posted in-process or by a worker):

    2xx                 delivered (a 204, or ids missing from a 200's list, count as duplicates)
    429, 5xx, timeout,  transient: retried with exponential backoff and jitter, waiting at least
    connection error    `Retry-After` (at most the policy's maximum); nothing is dropped
    400, 413, 422       the batch is split in halves until the refused statements are alone; each
                        goes to the dead-letter store with the LRS's answer, the rest is delivered
    409                 split likewise; a lone conflicting statement is fetched back from the
                        endpoint: identical to ours means a duplicate (delivered), different is
                        dead-lettered
    401, 403            DestinationRefused naming the destination; the statements stay pending
    anything else       DeliveryError (the destination is misconfigured); statements stay pending

A batch's dead letters are written, and its counts taken, only once the whole batch is settled:
if anything interrupts it, the whole batch is redone later, and deterministic statement ids make
the redone part harmless (the LRS answers it as a duplicate).

Delivery knows no standard: it talks to an EndpointClient (translator.sinks.clients), which
knows what a batch and a stored copy look like for its kind of destination.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any

from tenacity import RetryCallState, Retrying, retry_if_result, stop_after_delay, stop_never
from tenacity.wait import wait_base, wait_exponential, wait_random

from translator.config import Settings
from translator.errors import DeliveryError, DestinationRefused, TransientDeliveryError
from translator.sinks.clients import EndpointClient, open_client
from translator.sinks.dead_letters import DeadLetter, DeadLetterStore
from translator.sinks.destinations import Destination
from translator.sinks.http import Answer

__all__ = [
    "BatchResult",
    "Deliverer",
    "Item",
    "RetryPolicy",
    "deliver_batch",
]

logger = logging.getLogger(__name__)

Item = tuple[dict[str, Any], str]
"""A statement and its source (`file:line` of the input event)."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried in-process.

    Waits grow exponentially from `initial` to `maximum` seconds, plus up to `jitter` seconds at
    random so that many senders do not come back together; a `Retry-After` answer is waited out
    instead (plus the jitter), up to `maximum` too. `max_elapsed` is None to retry without end
    (the default: an outage only delays delivery), or the number of seconds after which
    TransientDeliveryError is raised with the batch kept pending.
    """

    initial: float = 0.5
    maximum: float = 60.0
    jitter: float = 1.0
    max_elapsed: float | None = None


@dataclass(slots=True)
class BatchResult:
    """The outcome of settling one batch.

    `delivered` counts the statements the LRS now holds from this batch, duplicates included;
    `duplicates` counts those it already held; `dead_letters` are the ones it would not take.
    """

    delivered: int = 0
    duplicates: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)
    requests: int = 0

    @property
    def dead_lettered(self) -> int:
        """How many statements went to the dead-letter store."""
        return len(self.dead_letters)


class _WaitForLRS(wait_base):
    """Exponential backoff with jitter, or the answer's Retry-After when it gave one."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._policy = policy
        self._backoff = wait_exponential(
            multiplier=policy.initial, max=policy.maximum
        ) + wait_random(0, policy.jitter)

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        if outcome is not None and not outcome.failed:
            answer = outcome.result()
            if isinstance(answer, Answer) and answer.retry_after is not None:
                # never past the configured maximum: an endpoint may ask for a day, or for ever
                wait = min(max(answer.retry_after, self._policy.initial), self._policy.maximum)
                return wait + random.uniform(0, self._policy.jitter)
        return float(self._backoff(retry_state))


def _is_transient(answer: Answer) -> bool:
    return answer.kind == "transient"


def _last_answer(retry_state: RetryCallState) -> Answer:
    """When the policy gives up, hand back the last answer instead of raising RetryError."""
    assert retry_state.outcome is not None
    answer: Answer = retry_state.outcome.result()
    return answer


class _BatchSender:
    """Settles batches for one destination; shared by the Deliverer and `deliver_batch`."""

    def __init__(
        self,
        destination: Destination,
        client: EndpointClient,
        retry: RetryPolicy | None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.destination = destination
        self.client = client
        self.retry = retry
        self.retries = 0  # requests sent again after a transient answer, over the sender's life
        self.answered = False  # whether the destination ever gave an HTTP answer
        self.failing_since: float | None = None  # when its current run of failures began
        self._retrying: Retrying | None = None
        if retry is not None:
            stop = stop_never if retry.max_elapsed is None else stop_after_delay(retry.max_elapsed)
            self._retrying = Retrying(
                retry=retry_if_result(_is_transient),
                wait=_WaitForLRS(retry),
                stop=stop,
                before_sleep=self._log_retry,
                retry_error_callback=_last_answer,
                sleep=sleep,
            )

    def send(self, items: Sequence[Item]) -> BatchResult:
        """Settle one batch. Raises TransientDeliveryError, DestinationRefused or DeliveryError."""
        result = BatchResult()
        if items:
            self._settle(items, result)
        return result

    def _settle(self, items: Sequence[Item], result: BatchResult) -> None:
        answer = self._request(lambda: self.client.post([s for s, _ in items]), result)
        if answer.kind == "delivered":
            result.delivered += len(items)
            result.duplicates += _duplicates(items, answer)
        elif answer.kind in ("invalid", "conflict") and len(items) > 1:
            middle = len(items) // 2
            self._settle(items[:middle], result)
            self._settle(items[middle:], result)
        elif answer.kind == "invalid":
            result.dead_letters.append(
                self._letter(items[0], "invalid statement: the LRS refused it", answer)
            )
        elif answer.kind == "conflict":
            self._resolve_conflict(items[0], answer, result)
        elif answer.kind == "refused":
            raise DestinationRefused(
                f"destination {self.destination.name!r} ({self.destination.url}) refused our "
                f"credentials ({answer.describe()}); nothing was dropped: fix its credentials "
                "and deliver again"
            )
        else:
            raise DeliveryError(
                f"destination {self.destination.name!r}: unexpected answer ({answer.describe()}) "
                f"from {self.destination.url}; check its URL; nothing was dropped"
            )

    def _resolve_conflict(self, item: Item, conflict: Answer, result: BatchResult) -> None:
        """A lone 409: fetch the stored statement; ours again is a duplicate, else a conflict."""
        statement = item[0]
        found = self._request(lambda: self.client.fetch_stored(statement), result)
        same = (
            self.client.matches_stored(statement, found.document)
            if found.kind == "delivered"
            else None
        )
        if same:
            result.delivered += 1
            result.duplicates += 1
            return
        reason = (
            "conflict: the LRS holds a different statement with this id"
            if same is not None
            else "conflict: the LRS answered 409 and could not show its statement "
            f"({found.describe()})"
        )
        result.dead_letters.append(self._letter(item, reason, conflict))

    def _request(self, call: Callable[[], Answer], result: BatchResult) -> Answer:
        """One request, retried per the policy while transient; raises when it stays so."""

        def counted() -> Answer:
            result.requests += 1
            answer = call()
            if answer.status is not None:
                self.answered = True
            if answer.kind == "transient":
                self.failing_since = self.failing_since or time.time()
            else:
                self.failing_since = None
            return answer

        answer = counted() if self._retrying is None else self._retrying(counted)
        if answer.kind == "transient":
            waited = ""
            if self.retry is not None and self.retry.max_elapsed is not None:
                waited = f" for {self.retry.max_elapsed:g} s"
            raise TransientDeliveryError(
                f"destination {self.destination.name!r} is unavailable{waited} "
                f"({answer.describe()}){self._hint()}; nothing was dropped",
                retry_after=answer.retry_after,
            )
        return answer

    def _letter(self, item: Item, reason: str, answer: Answer) -> DeadLetter:
        return DeadLetter(
            statement=item[0],
            reason=reason,
            status=answer.status,
            answer=answer.text,
            source=item[1],
            destination=self.destination.name,
        )

    def _log_retry(self, retry_state: RetryCallState) -> None:
        self.retries += 1
        answer = retry_state.outcome.result() if retry_state.outcome is not None else None
        wait = retry_state.next_action.sleep if retry_state.next_action is not None else 0.0
        since = ""
        if self.failing_since is not None:
            since = " since " + datetime.fromtimestamp(self.failing_since).strftime("%H:%M:%S")
        logger.warning(
            "destination %r (%s): %s%s; retry %d in %.1f s%s",
            self.destination.name,
            self.destination.url,
            answer.describe() if isinstance(answer, Answer) else "no answer",
            since,
            retry_state.attempt_number,
            wait,
            self._hint(),
        )

    def _hint(self) -> str:
        """What to check when the destination has never answered: most often its URL."""
        if self.answered:
            return ""
        return "; it has never answered: check its URL and that it is reachable from here"


def _duplicates(items: Sequence[Item], answer: Answer) -> int:
    """Statements of a delivered batch the LRS already held: all on 204, else those not listed."""
    if answer.status == 204:
        return len(items)
    ids = answer.document
    if isinstance(ids, list) and len(ids) < len(items):
        stored = {str(i) for i in ids}
        return sum(1 for s, _ in items if s.get("id") not in stored)
    return 0


def deliver_batch(
    destination: Destination,
    statements_with_sources: Iterable[Item],
    dead_letters: DeadLetterStore,
    *,
    client: EndpointClient | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = 30.0,
) -> BatchResult:
    """Settle one batch with the full failure semantics; what the Celery task calls.

    Without `retry`, a transient failure raises TransientDeliveryError at once, so the task can
    retry the whole batch later. The batch's dead letters are written to `dead_letters` before
    returning. `client` lets a worker keep one pooled client per destination; without it a
    client is opened for this batch. Raises TransientDeliveryError, DestinationRefused or
    DeliveryError, and then none of the batch's dead letters has been written: redo the batch.
    """
    items = list(statements_with_sources)
    own = client is None
    lrs = open_client(destination, timeout=timeout) if client is None else client
    try:
        result = _BatchSender(destination, lrs, retry).send(items)
        dead_letters.add(*result.dead_letters)
        return result
    finally:
        if own:
            lrs.close()


class Deliverer:
    """Buffers statements for one destination and sends them in batches (in-process forwarding).

    A batch goes when `batch_size` statements are buffered, or when `batch_max_wait` seconds have
    passed since the oldest one was added (checked on `add` and by `flush_due`). Each batch is
    settled as the module docstring says; transient failures are retried per `retry` (by default
    without end). On 401/403 DestinationRefused is raised and remembered in `refused`: from then on
    statements are only buffered, `pending()` returns them, and `dead_letter_pending` can move
    them to the dead-letter store for a later `replay`. Not thread-safe: one Deliverer per thread.
    """

    def __init__(
        self,
        destination: Destination,
        *,
        dead_letters: DeadLetterStore,
        batch_size: int = 100,
        batch_max_wait: float = 5.0,
        retry: RetryPolicy = RetryPolicy(),
        timeout: float = 30.0,
        client: EndpointClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.destination = destination
        self.dead_letters = dead_letters
        self.batch_size = batch_size
        self.batch_max_wait = batch_max_wait
        self.retry = retry
        self._own_client = client is None
        self.client = open_client(destination, timeout=timeout) if client is None else client
        self._sender = _BatchSender(destination, self.client, retry, sleep)
        self._clock = clock
        self._buffer: list[Item] = []
        self._oldest: float | None = None
        self.refused: DestinationRefused | None = None
        self.delivered = 0
        self.duplicates = 0
        self.dead_lettered = 0
        self.requests = 0
        self.batches = 0  # settled batches, and the seconds they took (the metrics read them)
        self.batch_seconds = 0.0

    @classmethod
    def from_settings(
        cls,
        destination: Destination,
        settings: Settings,
        *,
        dead_letters: DeadLetterStore,
        retry: RetryPolicy = RetryPolicy(),
    ) -> Deliverer:
        """A Deliverer with the batch size, wait and request timeout of `settings`."""
        return cls(
            destination,
            dead_letters=dead_letters,
            batch_size=settings.batch_size,
            batch_max_wait=settings.batch_max_wait,
            retry=retry,
            timeout=settings.request_timeout,
        )

    def __repr__(self) -> str:
        return (
            f"Deliverer({self.destination!r}, pending={len(self._buffer)}, "
            f"delivered={self.delivered}, dead_lettered={self.dead_lettered})"
        )

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Flush and close on success; after an error only release the connections."""
        if exc_type is None:
            self.close()
        else:
            self._close_client()

    def add(self, statement: dict[str, Any], source: str) -> None:
        """Buffer one statement; send a batch if one is full or due. Raises as `flush` does."""
        if not self._buffer:
            self._oldest = self._clock()
        self._buffer.append((statement, source))
        if self.refused is not None:
            return
        if len(self._buffer) >= self.batch_size:
            self._send_full_batches()
        elif self._due():
            self.flush()

    def flush_due(self) -> None:
        """Send what is buffered if the oldest statement has waited `batch_max_wait` seconds."""
        if self.refused is None and self._due():
            self.flush()

    def flush(self) -> None:
        """Send everything buffered. Raises DestinationRefused (again, if refused before) while
        statements are pending, TransientDeliveryError when the retry policy gives up, or
        DeliveryError on an unexpected answer; unsent statements stay pending."""
        while self._buffer:
            self._send_head()

    def close(self) -> None:
        """Flush, then release the connections (also when the flush raises)."""
        try:
            self.flush()
        finally:
            self._close_client()

    def pending(self) -> list[Item]:
        """The statements not yet settled, oldest first."""
        return list(self._buffer)

    @property
    def pending_count(self) -> int:
        """How many statements are not yet settled."""
        return len(self._buffer)

    def send(self, items: Sequence[Item]) -> BatchResult:
        """Settle `items` now as one batch, bypassing the buffer (used by dead-letter replay)."""
        if self.refused is not None:
            raise DestinationRefused(str(self.refused))
        started = time.monotonic()
        try:
            result = self._sender.send(items)
        except DestinationRefused as exc:
            self._refuse(exc)
            raise
        self.dead_letters.add(*result.dead_letters)
        self._count(result)
        self.batches += 1
        self.batch_seconds += time.monotonic() - started
        return result

    @property
    def retries(self) -> int:
        """Requests sent again after a transient answer (429, 5xx, timeout, no connection)."""
        return self._sender.retries

    def dead_letter_pending(self, reason: str, *, status: int | None = None) -> int:
        """Move every pending statement to the dead-letter store (to replay once the cause is
        fixed); returns how many were moved."""
        letters = [
            DeadLetter(
                statement=statement,
                reason=reason,
                status=status,
                answer="",
                source=source,
                destination=self.destination.name,
            )
            for statement, source in self._buffer
        ]
        self.dead_letters.add(*letters)
        self._buffer.clear()
        self._oldest = None
        self.dead_lettered += len(letters)
        return len(letters)

    def _due(self) -> bool:
        return self._oldest is not None and self._clock() - self._oldest >= self.batch_max_wait

    def _send_full_batches(self) -> None:
        while len(self._buffer) >= self.batch_size:
            self._send_head()

    def _send_head(self) -> None:
        """Settle the oldest batch; it leaves the buffer only once settled and recorded."""
        if self.refused is not None:
            raise DestinationRefused(str(self.refused))
        batch = self._buffer[: self.batch_size]
        self.send(batch)
        del self._buffer[: len(batch)]
        if not self._buffer:
            self._oldest = None

    def _count(self, result: BatchResult) -> None:
        self.delivered += result.delivered
        self.duplicates += result.duplicates
        self.dead_lettered += result.dead_lettered
        self.requests += result.requests

    def _refuse(self, exc: DestinationRefused) -> None:
        self.refused = exc
        logger.error("%s", exc)

    def _close_client(self) -> None:
        if self._own_client:
            self.client.close()

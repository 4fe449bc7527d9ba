"""Quiet inputs: lines as they come, and IDLE when none came for a while, so batches still go.

A read from a pipe or a followed log blocks until a line arrives. Reading in a thread and waiting
on a queue with a timeout lets the run loop flush a partial batch after `batch_max_wait` however
quiet the input is (design §11).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from enum import Enum
from typing import Final

from translator.intake.lines import SourceLine

__all__ = ["IDLE", "Idle", "with_idle_ticks"]


class Idle(Enum):
    """Nothing arrived for a while: the one value of this type is IDLE."""

    IDLE = "idle"

    def __repr__(self) -> str:
        return "IDLE"


IDLE: Final = Idle.IDLE

_QUEUE_LINES: Final = 1024  # read-ahead, so memory stays bounded when the run is slower
_MAX_WAIT: Final = 0.25  # seconds between two IDLE on a quiet input, at most


class _Ended:
    """The reader finished, with the exception that ended it, if any."""

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


def with_idle_ticks(lines: Iterator[SourceLine], every: float) -> Iterator[SourceLine | Idle]:
    """Yield the lines of `lines` in order, and IDLE whenever none came for `every` seconds
    (at most _MAX_WAIT: a stop request is noticed between two items).

    `lines` is read in a daemon thread; an exception it raises is raised here, after the lines
    read before it.
    """
    handoff: queue.Queue[SourceLine | _Ended] = queue.Queue(maxsize=_QUEUE_LINES)

    def read() -> None:
        error: BaseException | None = None
        try:
            for line in lines:
                handoff.put(line)
        except BaseException as exc:  # handed to the consumer, which raises it
            error = exc
        handoff.put(_Ended(error))

    threading.Thread(target=read, name="translator-intake", daemon=True).start()
    wait = min(every, _MAX_WAIT)
    while True:
        try:
            item = handoff.get(timeout=wait)
        except queue.Empty:
            yield IDLE
            continue
        if isinstance(item, _Ended):
            if item.error is not None:
                raise item.error
            return
        yield item

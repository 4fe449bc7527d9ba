"""Graceful stops: SIGTERM or Ctrl-C ends reading; what was read is settled, then the run ends.

The first signal sets a flag the input checks between lines: nothing more is read, and the
statements of the lines read so far are delivered within `grace` seconds. A second signal, or
the grace running out, raises Stopped at once; the command then parks what is unsettled (or,
when following, leaves it behind its checkpoint to be read again) and still writes its summary.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import TypeVar

from translator.intake.lines import SourceLine
from translator.intake.ticks import Idle

__all__ = ["Stop", "Stopped", "graceful_stop", "until_stopped"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)
T = TypeVar("T", SourceLine, SourceLine | Idle)


class Stopped(
    BaseException
):  # a BaseException, as KeyboardInterrupt: no `except Exception` eats it
    """A second signal, or the grace after the first ran out: stop now."""


@dataclass(slots=True)
class Stop:
    """What the signals did: `requested` once the first came, `signal_name` which it was, and the
    last line read when reading stopped."""

    requested: threading.Event = field(default_factory=threading.Event)
    signal_name: str = ""
    last_read: SourceLine | None = None

    @property
    def exit_status(self) -> int:
        """128 + the signal's number, as shells report a process a signal ended."""
        number = signal.Signals[self.signal_name] if self.signal_name else signal.SIGTERM
        return 128 + int(number)


def until_stopped(lines: Iterable[T], stop: Stop) -> Iterator[T]:
    """The lines, until a stop is requested (checked before each line); remembers the last."""
    for line in lines:
        if stop.requested.is_set():
            return
        if isinstance(line, SourceLine):
            stop.last_read = line
        yield line


@contextmanager
def graceful_stop(grace: float) -> Iterator[Stop]:
    """Handle SIGTERM and SIGINT for the block (main thread only), then restore the handlers."""
    stop = Stop()
    previous = {number: signal.getsignal(number) for number in _SIGNALS}
    previous_alarm = signal.getsignal(signal.SIGALRM)

    def now(signum: int, frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    def first(signum: int, frame: FrameType | None) -> None:
        stop.signal_name = signal.Signals(signum).name
        stop.requested.set()
        for number in _SIGNALS:
            signal.signal(number, now)
        signal.signal(signal.SIGALRM, now)
        signal.setitimer(signal.ITIMER_REAL, max(grace, 0.001))

    for number in _SIGNALS:
        signal.signal(number, first)
    try:
        yield stop
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_alarm)
        for number, handler in previous.items():
            signal.signal(number, handler)

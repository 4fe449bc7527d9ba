"""The run: lines through the engine into sinks, every line counted, settled lines acknowledged.

    lines (intake) -> translate_lines -> run -> sinks (stdout, destinations, ...)

`run` is the one loop every mode shares (dry-run, forward; workers run it per chunk). It counts
each line into the Summary, hands statements to the sinks, rejected lines to `on_reject`, gives
the sinks time to flush what has waited too long (also when the input is quiet: an intake yields
IDLE then), and tells `on_settled` which line every statement before has been settled for
(written, delivered, enqueued or dead-lettered): what a checkpoint may advance to.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from translator.engine import REJECTED, TRANSLATED, Outcome, Translator
from translator.errors import InputError, TranslationError
from translator.intake.events import parse_line
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle
from translator.summary import Summary

__all__ = ["LineResult", "Sink", "run", "translate_lines"]

_TICK_EVERY = 256  # lines between two ticks while lines flow (a tick is a clock read per sink)


@dataclass(frozen=True, slots=True)
class LineResult:
    """One input line and what became of it."""

    line: SourceLine
    outcome: Outcome


class Sink(Protocol):
    """Where statements go. `seq` numbers the lines of a run from 0, in order.

    `put` takes one statement of line `seq`; `tick` is called as time passes (send what has
    waited long enough); `oldest_unsettled` is the seq of the oldest line whose statements the
    sink still holds, None when it holds none; `finish` settles everything at the end of a run.
    """

    def put(self, statement: dict[str, Any], result: LineResult, seq: int) -> None: ...

    def tick(self) -> None: ...

    def oldest_unsettled(self) -> int | None: ...

    def finish(self) -> None: ...


def translate_lines(
    lines: Iterable[SourceLine | Idle], translator: Translator, *, strict: bool = False
) -> Iterator[LineResult | Idle]:
    """Translate each line; bad input and invalid statements become rejected outcomes, never
    errors. IDLE (a quiet input) passes through.

    With `strict`, every statement also goes through the target's strict check (slow, thorough).
    """
    strict_check = translator.plan.target.strict_check
    for line in lines:
        if line is IDLE:
            yield IDLE
            continue
        try:
            event = parse_line(line)
        except InputError as exc:
            yield LineResult(line, Outcome(REJECTED, reason=exc.reason))
            continue
        outcome = translator.translate(event)
        if strict and outcome.status == TRANSLATED:
            try:
                for statement in outcome.statements:
                    strict_check(statement)
            except TranslationError as exc:
                outcome = Outcome(REJECTED, reason=exc.reason, event_name=outcome.event_name)
            except Exception as exc:  # the strict model failed on this statement: reject the line
                reason = f"the strict check failed ({type(exc).__name__})"
                outcome = Outcome(REJECTED, reason=reason, event_name=outcome.event_name)
        yield LineResult(line, outcome)


class _Acknowledger:
    """Follows which lines are settled in every sink, and reports the last of them, in order."""

    def __init__(self, sinks: Sequence[Sink], on_settled: Callable[[SourceLine], None]) -> None:
        self._sinks = sinks
        self._on_settled = on_settled
        self._waiting: deque[tuple[int, SourceLine]] = deque()

    def add(self, seq: int, line: SourceLine) -> None:
        self._waiting.append((seq, line))

    def report(self) -> None:
        held = [s for s in (sink.oldest_unsettled() for sink in self._sinks) if s is not None]
        limit = min(held) if held else None
        last: SourceLine | None = None
        while self._waiting and (limit is None or self._waiting[0][0] < limit):
            last = self._waiting.popleft()[1]
        if last is not None:
            self._on_settled(last)


def run(
    results: Iterable[LineResult | Idle],
    summary: Summary,
    sinks: Sequence[Sink] = (),
    *,
    on_reject: Callable[[LineResult], None] | None = None,
    on_settled: Callable[[SourceLine], None] | None = None,
) -> None:
    """Count every result, hand statements to the sinks and rejects to `on_reject`, then finish
    the sinks. `on_settled(line)` is told, in order, the last line whose statements (and all
    before it) every sink has settled. An exception from a sink stops the run as it is: the
    caller decides what becomes of what the sinks still hold.
    """
    acknowledger = _Acknowledger(sinks, on_settled) if on_settled is not None else None
    seq = 0
    for result in results:
        if result is IDLE or seq % _TICK_EVERY == 0:
            for sink in sinks:
                sink.tick()
        if result is not IDLE:
            summary.add(result.outcome)
            for statement in result.outcome.statements:
                for sink in sinks:
                    sink.put(statement, result, seq)
            if on_reject is not None and result.outcome.status == REJECTED:
                on_reject(result)
            if acknowledger is not None:
                acknowledger.add(seq, result.line)
            seq += 1
        if acknowledger is not None:
            acknowledger.report()
    for sink in sinks:
        sink.finish()
    if acknowledger is not None:
        acknowledger.report()

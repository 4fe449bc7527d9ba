"""The run: lines through the engine into sinks, every line counted, settled lines acknowledged.

    lines (intake) -> translate_lines -> run -> sinks (stdout, destinations, ...)

`run` is the one loop every mode shares (dry-run, forward; workers run it per chunk). It counts
each line into the Summary, hands statements to the sinks, rejected lines to `on_reject`, gives
the sinks time to flush what has waited too long (also when the input is quiet: an intake yields
IDLE then), and tells `on_settled` of each line, in order, once its statements and those of every
line before it are settled (written, delivered, enqueued or dead-lettered): what a checkpoint may
advance to.
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

__all__ = ["LineResult", "Sink", "combine", "run", "translate_lines", "translate_lines_for"]

_TICK_EVERY = 256  # lines between two ticks while lines flow (a tick is a clock read per sink)


@dataclass(slots=True)
class LineResult:
    """One input line and what became of it (read-only by convention, not frozen: one is made
    per line, see engine.Outcome).

    With several targets, `outcome` is the line's one bucket (see combine) and `by_target` what
    each target made of it, in order: sinks of a kind take that target's statements only.
    """

    line: SourceLine
    outcome: Outcome
    by_target: tuple[tuple[str, Outcome], ...] = ()


def combine(outcomes: Sequence[tuple[str, Outcome]]) -> Outcome:
    """One line's bucket from what each target made of it: rejected when a target rejected it
    (the reason names the target), else translated when a target translated it, else skipped."""
    for name, outcome in outcomes:
        if outcome.status == REJECTED:
            return Outcome(
                REJECTED, reason=f"{name}: {outcome.reason}", event_name=outcome.event_name
            )
    translated = [outcome for _name, outcome in outcomes if outcome.status == TRANSLATED]
    if translated:
        statements = [s for outcome in translated for s in outcome.statements]
        encoded = tuple(e for outcome in translated for e in outcome.encoded)
        if len(encoded) != len(statements):
            encoded = ()
        first = translated[0]
        return Outcome(TRANSLATED, statements, "", first.event_name, first.context, encoded)
    return outcomes[0][1]


class Sink(Protocol):
    """Where statements go. `seq` numbers the lines of a run from 0, in order.

    `kind` is the target whose statements the sink takes from a line translated for several
    targets (None: every statement); `put` takes one statement of line `seq`; `tick` is called
    as time passes (send what has waited long enough); `oldest_unsettled` is the seq of the
    oldest line whose statements the sink still holds, None when it holds none; `finish`
    settles everything at the end of a run.
    """

    @property
    def kind(self) -> str | None: ...

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
    strict_check = translator.plan.target.strict_check if strict else None
    translate = translator.translate
    for line in lines:
        if line is IDLE:
            yield IDLE
            continue
        try:
            event = parse_line(line)
        except InputError as exc:
            yield LineResult(line, Outcome(REJECTED, reason=exc.reason))
            continue
        if strict_check is None:
            yield LineResult(line, translate(event))
        else:
            yield LineResult(line, _translated(translator, event, strict_check))


def _translated(
    translator: Translator, event: dict[str, Any], strict_check: Callable[[Any], None] | None
) -> Outcome:
    outcome = translator.translate(event)
    if strict_check is not None and outcome.status == TRANSLATED:
        try:
            for statement in outcome.statements:
                strict_check(statement)
        except TranslationError as exc:
            outcome = Outcome(REJECTED, reason=exc.reason, event_name=outcome.event_name)
        except Exception as exc:  # the strict model failed on this statement: reject the line
            reason = f"the strict check failed ({type(exc).__name__})"
            outcome = Outcome(REJECTED, reason=reason, event_name=outcome.event_name)
    return outcome


def translate_lines_for(
    lines: Iterable[SourceLine | Idle], translators: Sequence[Translator], *, strict: bool = False
) -> Iterator[LineResult | Idle]:
    """Each line parsed once and translated by each translator (one per target): one bucket per
    line (combine), and each target's outcome in `by_target`."""
    if len(translators) == 1:
        yield from translate_lines(lines, translators[0], strict=strict)
        return
    checks = [t.plan.target.strict_check if strict else None for t in translators]
    names = [t.plan.target.name for t in translators]
    for line in lines:
        if line is IDLE:
            yield IDLE
            continue
        try:
            event = parse_line(line)
        except InputError as exc:
            yield LineResult(line, Outcome(REJECTED, reason=exc.reason))
            continue
        outcomes = tuple(
            (name, _translated(translator, event, check))
            for name, translator, check in zip(names, translators, checks, strict=True)
        )
        yield LineResult(line, combine(outcomes), outcomes)


class _Acknowledger:
    """Follows which lines are settled in every sink, and reports them in order."""

    def __init__(self, sinks: Sequence[Sink], on_settled: Callable[[SourceLine], None]) -> None:
        self._sinks = sinks
        self._on_settled = on_settled
        self._waiting: deque[tuple[int, SourceLine]] = deque()

    def add(self, seq: int, line: SourceLine) -> None:
        self._waiting.append((seq, line))

    def report(self) -> None:
        held = [s for s in (sink.oldest_unsettled() for sink in self._sinks) if s is not None]
        limit = min(held) if held else None
        while self._waiting and (limit is None or self._waiting[0][0] < limit):
            self._on_settled(self._waiting.popleft()[1])


def run(
    results: Iterable[LineResult | Idle],
    summary: Summary,
    sinks: Sequence[Sink] = (),
    *,
    on_reject: Callable[[LineResult], None] | None = None,
    on_settled: Callable[[SourceLine], None] | None = None,
) -> None:
    """Count every result, hand statements to the sinks and rejects to `on_reject`, then finish
    the sinks. `on_settled(line)` is told of each line, in order, once every sink has settled its
    statements and those of the lines before it. An exception from a sink stops the run as it
    is: the caller decides what becomes of what the sinks still hold.
    """
    acknowledger = _Acknowledger(sinks, on_settled) if on_settled is not None else None
    kinds = [sink.kind for sink in sinks]
    seq = 0
    for result in results:
        if result is IDLE or seq % _TICK_EVERY == 0:
            for sink in sinks:
                sink.tick()
        if result is not IDLE:
            summary.add(result.outcome, result.by_target)
            if result.by_target:
                # A line rejected for one target sends nothing for any (the workers do the same).
                sent = result.by_target if result.outcome.status == TRANSLATED else ()
                for name, outcome in sent:
                    for statement in outcome.statements:
                        for sink, kind in zip(sinks, kinds, strict=True):
                            if kind is None or kind == name:
                                sink.put(statement, result, seq)
            else:
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

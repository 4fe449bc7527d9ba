"""Runs lines through input, engine and checks, and keeps the reconciled count of every line."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import orjson

from translator.engine import PAGE_REQUEST, REJECTED, SKIPPED, TRANSLATED, Outcome, Translator
from translator.errors import InputError, TranslationError
from translator.events import SourceLine, parse_line
from translator.xapi import strict_check

__all__ = [
    "LineResult",
    "RejectsWriter",
    "Summary",
    "forward_total",
    "run",
    "summary_key",
    "translate_lines",
]

_REJECT_TEXT_LIMIT = 10_000
_DETAIL_LIMIT = 1_000  # distinct names and reasons kept apart: memory stays flat on any log


def summary_key(name: str) -> str:
    """The name an event is counted under; PAGE_REQUEST for a page request (path as event_type)."""
    return PAGE_REQUEST if name.startswith("/") else name


@dataclass(slots=True)
class Summary:
    """Counts for a run; `read == translated + skipped + rejected` always holds."""

    read: int = 0
    translated: int = 0
    statements: int = 0
    skipped: int = 0
    rejected: int = 0
    skipped_by_reason: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected_by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        """Count one line's outcome."""
        self.read += 1
        if outcome.status == TRANSLATED:
            self.translated += 1
            self.statements += len(outcome.statements)
        elif outcome.status == SKIPPED:
            self.skipped += 1
            key = (summary_key(outcome.event_name), outcome.reason)
            if key not in self.skipped_by_reason and len(self.skipped_by_reason) >= _DETAIL_LIMIT:
                key = ("(other event names)", "")
            self.skipped_by_reason[key] += 1
        else:
            self.rejected += 1
            reason = outcome.reason
            if (
                reason not in self.rejected_by_reason
                and len(self.rejected_by_reason) >= _DETAIL_LIMIT
            ):
                reason = "(other reasons: see the rejects file)"
            self.rejected_by_reason[reason] += 1

    @property
    def reconciles(self) -> bool:
        """True when every line read is in exactly one bucket."""
        return self.read == self.translated + self.skipped + self.rejected

    def total_line(self) -> str:
        """The closing line of a dry-run."""
        return (
            f"read {self.read}, translated {self.translated} ({self.statements} statements), "
            f"skipped {self.skipped}, rejected {self.rejected}"
        )

    def detail_lines(self, *, limit: int = 20) -> list[str]:
        """Skips by event name and reason, and rejects by reason, most frequent first."""
        lines: list[str] = []
        if self.skipped_by_reason:
            lines.append("skipped:")
            for (name, reason), count in self.skipped_by_reason.most_common(limit):
                lines.append(f"  {count:>8}  {name}: {reason}")
            more = len(self.skipped_by_reason) - limit
            if more > 0:
                lines.append(f"  ... and {more} more event names")
        if self.rejected_by_reason:
            lines.append("rejected:")
            for reason, count in self.rejected_by_reason.most_common(limit):
                lines.append(f"  {count:>8}  {reason}")
        return lines


def forward_total(
    *, read: int, translated: int, delivered: int, dead_lettered: int, skipped: int, rejected: int
) -> str:
    """The closing line of a forward, in-process or through the workers. `delivered` and
    `dead_lettered` count statements (once per destination); the other figures count lines."""
    return (
        f"read {read}, translated {translated}, delivered {delivered}, "
        f"dead-lettered {dead_lettered}, skipped {skipped}, rejected {rejected}"
    )


@dataclass(frozen=True, slots=True)
class LineResult:
    """One input line and what became of it."""

    line: SourceLine
    outcome: Outcome


def translate_lines(
    lines: Iterable[SourceLine],
    translator: Translator,
    *,
    max_line_bytes: int,
    strict: bool = False,
) -> Iterator[LineResult]:
    """Translate each line; bad input and invalid statements become rejected outcomes, never errors.

    With `strict`, every statement also goes through the tincan model (slow, thorough).
    """
    for line in lines:
        try:
            event = parse_line(line, max_line_bytes=max_line_bytes)
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
        yield LineResult(line, outcome)


class RejectsWriter:
    """Writes each rejected line, with its file, line number and reason, as one JSON line."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, result: LineResult) -> None:
        """Record one rejected line; its text is kept (cut at 10,000 bytes) to fix and replay it."""
        text = result.line.text
        record: dict[str, Any] = {
            "source": result.line.source,
            "line": result.line.lineno,
            "reason": result.outcome.reason,
        }
        if result.outcome.event_name:
            record["event"] = result.outcome.event_name
        if len(text) > _REJECT_TEXT_LIMIT:
            record["truncated"] = True
        record["text"] = text[:_REJECT_TEXT_LIMIT].decode("utf-8", errors="replace")
        self._stream.write(orjson.dumps(record) + b"\n")


def run(
    results: Iterable[LineResult],
    summary: Summary,
    *,
    on_statement: Callable[[dict[str, Any], LineResult], None],
    on_reject: Callable[[LineResult], None] | None = None,
) -> None:
    """Count every result and hand statements and rejects to their sinks."""
    for result in results:
        summary.add(result.outcome)
        for statement in result.outcome.statements:
            on_statement(statement, result)
        if on_reject is not None and result.outcome.status == REJECTED:
            on_reject(result)

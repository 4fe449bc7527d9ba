"""The count of a run: every line in exactly one bucket, with the reasons for skips and rejects."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from translator.engine import PAGE_REQUEST, SKIPPED, TRANSLATED
from translator.messages import printable

if TYPE_CHECKING:
    from translator.engine import Outcome, Translator
    from translator.mapping.functions import ActorMapCounts

__all__ = ["Summary", "forward_total", "summary_key"]

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
    # With several targets: statements, and lines each target translated, per target.
    statements_by_target: Counter[str] = field(default_factory=Counter)
    translated_by_target: Counter[str] = field(default_factory=Counter)
    # The hit and miss counters of the actor map of each plan that reads one (watch_actor_map).
    actor_maps: list[ActorMapCounts] = field(default_factory=list)

    def watch_actor_map(self, translators: Sequence[Translator]) -> None:
        """Report the actor map's hits and misses of these translators' plans (those that read
        an actor map) in `detail_lines`."""
        self.actor_maps.extend(
            t.plan.actor_map_counts for t in translators if t.plan.actor_map_counts is not None
        )

    def actor_map_line(self) -> str | None:
        """`actor map: N ids found, M users not in the map` (lookups, over every target), or
        None when no plan reads an actor map."""
        if not self.actor_maps:
            return None
        hits = sum(c.hits for c in self.actor_maps)
        misses = sum(c.misses for c in self.actor_maps)
        return f"actor map: {hits} ids found, {misses} users not in the map"

    def add(self, outcome: Outcome, by_target: Sequence[tuple[str, Outcome]] = ()) -> None:
        """Count one line's outcome (and, translated for several targets, each target's)."""
        self.read += 1
        for name, each in by_target:
            # A line rejected for one target sends nothing for any: none of its statements count.
            made = each.statements if outcome.status == TRANSLATED else ()
            self.statements_by_target[name] += len(made)
            if each.status == TRANSLATED and outcome.status == TRANSLATED:
                self.translated_by_target[name] += 1
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
        made = f"{self.statements} statements"
        if self.statements_by_target:
            made = ", ".join(f"{n} {c}" for n, c in self.statements_by_target.items())
        return (
            f"read {self.read}, translated {self.translated} ({made}), "
            f"skipped {self.skipped}, rejected {self.rejected}"
        )

    def target_lines(self) -> list[str]:
        """With several targets: what each made of the lines read, one line per target."""
        return [
            f"{name}: translated {self.translated_by_target[name]} lines ({count} statements)"
            for name, count in self.statements_by_target.items()
        ]

    def detail_lines(self, *, limit: int = 20) -> list[str]:
        """The actor map's counts (when one is read), skips by event name and reason, and
        rejects by reason, most frequent first; names and reasons (which quote the log) with
        their control characters escaped, one line each."""
        lines: list[str] = []
        actor_map = self.actor_map_line()
        if actor_map is not None:
            lines.append(actor_map)
        if self.skipped_by_reason:
            lines.append("skipped:")
            for (name, reason), count in self.skipped_by_reason.most_common(limit):
                lines.append(f"  {count:>8}  {printable(name)}: {printable(reason)}")
            more = len(self.skipped_by_reason) - limit
            if more > 0:
                lines.append(f"  ... and {more} more event names")
        if self.rejected_by_reason:
            lines.append("rejected:")
            for reason, count in self.rejected_by_reason.most_common(limit):
                lines.append(f"  {count:>8}  {printable(reason)}")
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

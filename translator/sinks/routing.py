"""Routing: which destinations take an event's statements. One policy for every mode."""

from __future__ import annotations

from collections.abc import Sequence

from translator.engine import Outcome
from translator.sinks.destinations import Destination

__all__ = ["Router"]


class Router:
    """Picks, for each translated event, the destinations whose kind and filters accept it.

    In-process forwarding and the workers both route through this class, so a statement goes to
    the same places whichever way a log is sent.
    """

    def __init__(self, destinations: Sequence[Destination]) -> None:
        self.destinations = tuple(destinations)
        self._filtered = any(d.orgs is not None or d.courses is not None for d in destinations)

    def __repr__(self) -> str:
        return f"Router({[d.name for d in self.destinations]!r})"

    def route(self, outcome: Outcome, kind: str) -> list[Destination]:
        """The destinations of `kind` (the target the statements are written in) that take the
        event of `outcome`, by their org/course filters."""
        if not self._filtered:
            return [d for d in self.destinations if d.kind == kind]
        org, course_id = outcome.org, outcome.course_id
        return [d for d in self.destinations if d.kind == kind and d.accepts(org, course_id)]

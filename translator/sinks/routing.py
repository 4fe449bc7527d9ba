"""Routing: which destinations take an event's statements. One policy for every mode."""

from __future__ import annotations

from collections.abc import Sequence

from translator.engine import Outcome
from translator.sinks.destinations import Destination, course_org

__all__ = ["Router"]


class Router:
    """Picks, for each translated event, the destinations whose kind and filters accept it.

    In-process forwarding and the workers both route through this class, so a statement goes to
    the same places whichever way a log is sent.
    """

    def __init__(self, destinations: Sequence[Destination]) -> None:
        self.destinations = tuple(destinations)
        self._filtered = any(d.orgs is not None or d.courses is not None for d in destinations)
        # The orgs and courses of the events routed, to tell which filter values matched none.
        self._orgs: set[str] = set()
        self._courses: set[str] = set()

    def __repr__(self) -> str:
        return f"Router({[d.name for d in self.destinations]!r})"

    def route(self, outcome: Outcome, kind: str) -> list[Destination]:
        """The destinations of `kind` (the target the statements are written in) that take the
        event of `outcome`, by their org/course filters."""
        if not self._filtered:
            return [d for d in self.destinations if d.kind == kind]
        org, course_id = outcome.org, outcome.course_id
        if course_id is not None:
            self._courses.add(course_id)
            if org is None:
                org = course_org(course_id)
        if org is not None:
            self._orgs.add(org)
        return [d for d in self.destinations if d.kind == kind and d.accepts(org, course_id)]

    def unmatched(self) -> list[str]:
        """A warning for each org or course of a destination's filter that no event routed so
        far had. Filters match exactly (case and all): `mitx` never takes MITx's events."""
        warnings: list[str] = []
        for destination in self.destinations:
            for what, values, seen in (
                ("orgs", destination.orgs, self._orgs),
                ("courses", destination.courses, self._courses),
            ):
                for value in sorted(values or ()):
                    if value not in seen:
                        warnings.append(
                            f"destination {destination.name!r}: filter {what} {value!r} matched"
                            " no event in this run (filters match exactly, case included)"
                        )
        return warnings

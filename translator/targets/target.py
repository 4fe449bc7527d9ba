"""A target: one standard statements are written in, as the plan, engine and sinks use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from translator.mapping.contract import ConstantAt, Place

__all__ = ["Target"]

Check = Callable[[dict[str, Any]], None]
Relations = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True, slots=True)
class Target:
    """The rules of one standard, gathered: a translator.mapping.contract.TargetRules.

    `name` names the standard, its mappings folder (`mappings/<name>/`) and the kind of
    destination that receives its statements; `version` is the version of the standard the
    statements follow. The functions are those TargetRules describes. `relaxable` names the
    rules an overlay may relax for its plan (rule id -> what it demands) and `relax` gives the
    check and relations test without the rules named; `relaxed_rules` are those this copy
    relaxes (none for the registered targets).
    """

    name: str
    version: str
    place: Callable[[tuple[str, ...], ConstantAt], Place | None]
    check: Check
    relations_ok: Callable[[dict[str, Any]], bool]
    strict_check: Check
    statement_id: Callable[[str], str]
    relaxable: Mapping[str, str] = field(default_factory=dict)
    relax: Callable[[frozenset[str]], tuple[Check, Relations]] | None = None
    relaxed_rules: frozenset[str] = frozenset()

    def relaxed(self, rules: frozenset[str]) -> Target:
        """This target with `rules` (ids of `relaxable`) no longer enforced, for one plan.
        Raises ValueError for a rule it does not know."""
        unknown = sorted(rules - set(self.relaxable))
        if unknown:
            raise ValueError(f"{self.name} has no relaxable rule {unknown[0]!r}")
        if not rules or self.relax is None:
            return self
        every = self.relaxed_rules | rules
        check, relations_ok = self.relax(every)
        return replace(self, check=check, relations_ok=relations_ok, relaxed_rules=every)

    def __repr__(self) -> str:
        relaxed = f", relaxed={sorted(self.relaxed_rules)!r}" if self.relaxed_rules else ""
        return f"Target({self.name!r}{relaxed})"

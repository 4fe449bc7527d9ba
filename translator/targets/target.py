"""A target: one standard statements are written in, as the plan, engine and sinks use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from translator.mapping.contract import ConstantAt, Place

__all__ = ["BrokenRule", "Target"]

Check = Callable[[dict[str, Any]], None]
Relations = Callable[[dict[str, Any]], bool]


class BrokenRule(str):
    """The message of a broken relaxable rule, which names its rule (`rule`), so that a plan
    relaxing that rule can leave exactly those messages out."""

    __slots__ = ("rule",)
    rule: str

    def __new__(cls, rule: str, message: str) -> BrokenRule:
        made = super().__new__(cls, message)
        made.rule = rule
        return made


@dataclass(frozen=True, slots=True)
class Target:
    """The rules of one standard, gathered: a translator.mapping.contract.TargetRules.

    `name` names the standard, its mappings folder (`mappings/<name>/`) and the kind of
    destination that receives its statements; `version` is the version of the standard the
    statements follow. The functions are those TargetRules describes. `overlay_folders` are the
    parts of an overlay directory that apply to this target (default: its `_shared/` and
    `<name>/` subfolders; xAPI also takes the directory's own files, as before there were two
    targets). `relaxable` names the rules an overlay may relax for its plan (rule id -> what it
    demands) and `relax` gives the check and relations test without the rules named;
    `relaxed_rules` are those this copy relaxes (none for the registered targets).
    """

    name: str
    version: str
    place: Callable[[tuple[str, ...], ConstantAt], Place | None]
    check: Check
    problems: Callable[[dict[str, Any]], list[str]]
    relations_ok: Callable[[dict[str, Any]], bool]
    strict_check: Check
    statement_id: Callable[[str], str]
    overlay_folders: tuple[str, ...] = ()
    relaxable: Mapping[str, str] = field(default_factory=dict)
    relax: Callable[[frozenset[str]], tuple[Check, Relations]] | None = None
    relaxed_rules: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.overlay_folders:
            object.__setattr__(self, "overlay_folders", ("_shared", self.name))

    def relaxed(self, rules: frozenset[str]) -> Target:
        """This target with `rules` (ids of `relaxable`) no longer enforced, for one plan: in
        the checks of each statement and in the proof of its templates at load. Raises
        ValueError for a rule it does not know."""
        unknown = sorted(rules - set(self.relaxable))
        if unknown:
            raise ValueError(f"{self.name} has no relaxable rule {unknown[0]!r}")
        if not rules or self.relax is None:
            return self
        every = self.relaxed_rules | rules
        check, relations_ok = self.relax(every)
        strict_problems = self.problems

        def problems(statement: dict[str, Any]) -> list[str]:
            return [p for p in strict_problems(statement) if getattr(p, "rule", None) not in every]

        return replace(
            self, check=check, relations_ok=relations_ok, problems=problems, relaxed_rules=every
        )

    def __repr__(self) -> str:
        relaxed = f", relaxed={sorted(self.relaxed_rules)!r}" if self.relaxed_rules else ""
        return f"Target({self.name!r}{relaxed})"

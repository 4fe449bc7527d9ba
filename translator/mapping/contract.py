"""What the mapping layer asks of a target: the rule of each place, the whole check, the id form.

The compiler, the plan and the engine know no standard. A target (translator.targets) is handed
to them and answers through this protocol, so a new standard is a new target, never an edit here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, Protocol

__all__ = ["ABSENT", "DYNAMIC", "ConstantAt", "LeafRule", "Place", "TargetRules"]


class _Shape(Enum):
    ABSENT = "absent"
    DYNAMIC = "dynamic"

    def __repr__(self) -> str:
        return self.name


ABSENT: Final = _Shape.ABSENT
"""`constant_at`: the template writes no key at that path."""
DYNAMIC: Final = _Shape.DYNAMIC
"""`constant_at`: the template writes a value there that only an event decides."""

LeafRule = Callable[[Any], bool]
ConstantAt = Callable[[tuple[str, ...]], Any]
"""The constant a template writes at a path, ABSENT or DYNAMIC: lets a rule depend on its
siblings (an xAPI object is an Activity when its objectType is absent or "Activity")."""


@dataclass(frozen=True, slots=True)
class Place:
    """How an event value placed at one path of a statement is checked.

    `rule` is the test the value must pass (None: any JSON value). `related` says the value
    takes part in a rule across fields (an xAPI score's raw within min and max), which the
    target's `relations_ok` checks per statement.
    """

    rule: LeafRule | None
    related: bool = False


class TargetRules(Protocol):
    """A standard statements are written in, as the mapping layer sees it.

    `name` is also the folder of its mappings (`mappings/<name>/`). `place` gives the check of an
    event value at `path` (list items are "*"), or None when no rule covers that place: then the
    template's statements are checked whole, every time. `check` raises TranslationError for an
    invalid statement; `problems` returns every rule a statement breaks, each as
    "/json/pointer: message" (what proves templates at load, translator.mapping.proof, reads);
    `relations_ok` tests only the rules across fields; `strict_check` is the
    slow, thorough check of `--strict` and the tests. `statement_id` writes a UUID text in the
    form the standard gives ids (a plain UUID, a `urn:uuid:`). `overlay_folders` names the
    parts of an overlay directory that apply to its plan, in order ("" is the directory's own
    files, then subfolders such as `_shared` and the target's own). `relaxable` names the rules
    an overlay may declare relaxed for its plan (`relax:`; rule id -> what the rule demands),
    and `relaxed` gives the target with those rules not enforced (raises ValueError for a rule
    it does not know).
    """

    @property
    def name(self) -> str: ...

    @property
    def overlay_folders(self) -> tuple[str, ...]: ...

    def place(self, path: tuple[str, ...], constant_at: ConstantAt) -> Place | None: ...

    def check(self, statement: dict[str, Any]) -> None: ...

    def problems(self, statement: dict[str, Any]) -> list[str]: ...

    def relations_ok(self, statement: dict[str, Any]) -> bool: ...

    def strict_check(self, statement: dict[str, Any]) -> None: ...

    def statement_id(self, uuid_text: str) -> str: ...

    @property
    def relaxable(self) -> Mapping[str, str]: ...

    def relaxed(self, rules: frozenset[str]) -> TargetRules: ...

"""A target: one standard statements are written in, as the plan, engine and sinks use it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from translator.mapping.contract import ConstantAt, Place

__all__ = ["Target"]

Check = Callable[[dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class Target:
    """The rules of one standard, gathered: a translator.mapping.contract.TargetRules.

    `name` names the standard, its mappings folder (`mappings/<name>/`) and the kind of
    destination that receives its statements; `version` is the version of the standard the
    statements follow. The functions are those TargetRules describes. `overlay_folders` are the
    parts of an overlay directory that apply to this target (default: its `_shared/` and
    `<name>/` subfolders; xAPI also takes the directory's own files, as before there were two
    targets).
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

    def __post_init__(self) -> None:
        if not self.overlay_folders:
            object.__setattr__(self, "overlay_folders", ("_shared", self.name))

    def __repr__(self) -> str:
        return f"Target({self.name!r})"

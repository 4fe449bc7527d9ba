"""The registry of targets: one line per standard, looked up by name (no discovery)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from translator.errors import ConfigError
from translator.targets.caliper import CALIPER
from translator.targets.target import Target
from translator.targets.xapi import XAPI

__all__ = ["DEFAULT_TARGET", "TARGETS", "get_target"]

TARGETS: Final[Mapping[str, Target]] = MappingProxyType(
    {
        XAPI.name: XAPI,
        CALIPER.name: CALIPER,
    }
)
DEFAULT_TARGET: Final = XAPI.name


def get_target(name: str) -> Target:
    """The target called `name`. Raises ConfigError naming the known ones."""
    found = TARGETS.get(name)
    if found is None:
        known = ", ".join(sorted(TARGETS))
        raise ConfigError(f"unknown target {name!r} (known: {known})")
    return found

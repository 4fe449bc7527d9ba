"""The reference catalog of documented edX student events, shipped with the package."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["catalog", "catalog_names"]


def catalog() -> list[dict[str, Any]]:
    """The documented events: name (`event`), family, source and the fields of each."""
    text = files("translator").joinpath("edx-event-catalog.json").read_text(encoding="utf-8")
    events: list[dict[str, Any]] = json.loads(text)["events"]
    return events


@cache
def catalog_names() -> frozenset[str]:
    """The names of the documented events."""
    return frozenset(entry["event"] for entry in catalog())

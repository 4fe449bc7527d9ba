"""The MISSING sentinel: "the event has no such field", which is not None, False, 0 or ""."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal

__all__ = ["MISSING", "Missing"]


class Missing(Enum):
    """A one-member enum, so that `x is MISSING` narrows types and the value pickles as itself."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> Literal[False]:
        raise TypeError("MISSING has no truth value: test `is MISSING` instead")


MISSING: Final = Missing.MISSING

"""The xAPI 1.0.3 target: statements' checks (`checks`), the tincan round trip (`strict`)."""

from __future__ import annotations

from typing import Final

from translator.targets.target import Target
from translator.targets.xapi.checks import (
    RELAXABLE,
    XAPI_VERSION,
    check_statement,
    place,
    relaxed_rules,
    score_ok,
    statement_problems,
)
from translator.targets.xapi.strict import strict_check

__all__ = ["XAPI"]


def _plain_uuid(uuid_text: str) -> str:
    """xAPI ids are bare lowercase UUIDs."""
    return uuid_text


XAPI: Final = Target(
    name="xapi",
    version=XAPI_VERSION,
    place=place,
    check=check_statement,
    problems=statement_problems,
    relations_ok=score_ok,
    strict_check=strict_check,
    statement_id=_plain_uuid,
    # An overlay's own files are xAPI's (they were before Caliper came), then its _shared/ and
    # xapi/ subfolders.
    overlay_folders=("", "_shared", "xapi"),
    relaxable=RELAXABLE,
    relax=relaxed_rules,
)

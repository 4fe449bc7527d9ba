"""The IMS Caliper 1.2 target: events' checks (`checks`), the official JSON Schemas (`strict`)."""

from __future__ import annotations

from typing import Final

from translator.targets.caliper.checks import (
    CALIPER_VERSION,
    RELAXABLE,
    action_ok,
    check_event,
    event_problems,
    place,
    relaxed_rules,
)
from translator.targets.caliper.strict import strict_check
from translator.targets.target import Target

__all__ = ["CALIPER"]


def _urn_uuid(uuid_text: str) -> str:
    """Caliper event ids are UUIDs written as URNs (`urn:uuid:<uuid>`, Caliper §4.1)."""
    return f"urn:uuid:{uuid_text}"


CALIPER: Final = Target(
    name="caliper",
    version=CALIPER_VERSION,
    place=place,
    check=check_event,
    problems=event_problems,
    relations_ok=action_ok,
    strict_check=strict_check,
    statement_id=_urn_uuid,
    relaxable=RELAXABLE,
    relax=relaxed_rules,
)

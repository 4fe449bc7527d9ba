"""The official Caliper 1.2 material for tests: schemas and examples from `../shared`, when there.

The IMS schemas are not shipped with the project (translator.targets.caliper.strict says why);
the tests read the reference copy beside the repository. Where it is absent, the tests of our
own rules still run and the schema-specific parts skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from translator.targets.caliper.checks import event_problems
from translator.targets.caliper.strict import CaliperSchemas

__all__ = [
    "CALIPER_REFERENCE",
    "SCHEMA_DIR",
    "assert_valid_event",
    "official_schemas_or_skip",
    "schemas_or_none",
]

CALIPER_REFERENCE = Path(__file__).resolve().parents[2].parent / "shared/reference/caliper-1.2"
SCHEMA_DIR = CALIPER_REFERENCE / "json_schema"
_loaded: list[CaliperSchemas] = []


def schemas_or_none() -> CaliperSchemas | None:
    """The official schemas of the reference copy, read once; None when there is no copy."""
    if not (SCHEMA_DIR / "Event.json").is_file():
        return None
    if not _loaded:
        _loaded.append(CaliperSchemas(SCHEMA_DIR))
    return _loaded[0]


def official_schemas_or_skip() -> CaliperSchemas:
    """The official schemas, or skip the calling test (they are not part of the project)."""
    found = schemas_or_none()
    if found is None:
        pytest.skip(f"the official Caliper 1.2 schemas are not at {SCHEMA_DIR}")
    return found


def assert_valid_event(event: dict[str, Any]) -> None:
    """Fail the calling test unless `event` passes our Caliper rules and, where the reference
    copy exists, the official JSON Schema of its type."""
    __tracebackhide__ = True
    problems = event_problems(event)
    if problems:
        pytest.fail("event breaks Caliper 1.2 rules:\n  " + "\n  ".join(problems), pytrace=False)
    schemas = schemas_or_none()
    if schemas is not None:
        problems = schemas.event_problems(event)
        if problems:
            pytest.fail("event refused by the official schema:\n  " + "\n  ".join(problems))

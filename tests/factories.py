"""Valid xAPI 1.0.3 statements for delivery tests and benchmarks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = ["LMS", "xapi_statement", "xapi_statements"]

LMS = "https://lms.example.org"
_START = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def xapi_statement(index: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid statement (random UUID id, account actor, ADL verb, activity object);
    `overrides` replace top-level keys."""
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": LMS, "name": f"learner-{index % 97}"},
        },
        "verb": {
            "id": "http://adlnet.gov/expapi/verbs/attempted",
            "display": {"en-US": "attempted"},
        },
        "object": {
            "objectType": "Activity",
            "id": f"{LMS}/xblock/block-v1:MITx+6.002x+2024+type@problem+block@p{index}",
            "definition": {"type": "http://adlnet.gov/expapi/activities/cmi.interaction"},
        },
        "context": {
            "contextActivities": {
                "parent": [
                    {
                        "objectType": "Activity",
                        "id": f"{LMS}/course/course-v1:MITx+6.002x+2024",
                        "definition": {"type": "http://adlnet.gov/expapi/activities/course"},
                    }
                ]
            }
        },
        "timestamp": (_START + timedelta(seconds=index)).isoformat(),
        "version": "1.0.3",
    }
    statement.update(overrides)
    return statement


def xapi_statements(count: int) -> list[dict[str, Any]]:
    """`count` distinct valid statements."""
    return [xapi_statement(i) for i in range(count)]

"""Assert that a statement a test produced is valid xAPI 1.0.3 and survives a tincan round trip."""

from __future__ import annotations

from typing import Any

import pytest

from translator.errors import TranslationError
from translator.targets.xapi.checks import statement_problems
from translator.targets.xapi.strict import strict_check

__all__ = ["assert_valid_statement"]


def assert_valid_statement(stmt: dict[str, Any]) -> None:
    """Fail the calling test, listing every problem, unless stmt passes our rules and tincan's.

    Our rules are listed in full first (tincan misses several: design §10); then strict_check
    builds the statement with tincan and reports what the round trip refused, dropped or changed.
    """
    __tracebackhide__ = True
    problems = statement_problems(stmt)
    if problems:
        pytest.fail("statement breaks xAPI 1.0.3 rules:\n  " + "\n  ".join(problems), pytrace=False)
    try:
        strict_check(stmt)
    except TranslationError as error:
        pytest.fail(f"statement fails the strict tincan check: {error.reason}", pytrace=False)

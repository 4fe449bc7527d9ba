"""The one error hierarchy of the translator; every message carries a location and never a secret.

    TranslatorError                  base of everything raised on purpose
    ├── ConfigError                  a bad setting or command-line usage (CLI exit status 2)
    ├── MappingError                 every problem of every mapping file, gathered in one run
    ├── InputError                   a line that cannot be read as an event (it is rejected)
    ├── TranslationError             an event that cannot become a valid statement (rejected)
    └── DeliveryError                statements could not be delivered (nothing is dropped)
        ├── TransientDeliveryError   429, 5xx, timeout, connection error: try the batch again later
        └── DestinationRefused       401/403: the destination refuses our credentials

Messages name the input file and line, or the mapping `file:line:col: /pointer`, and never
include a credential or a whole event.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ConfigError",
    "DeliveryError",
    "DestinationRefused",
    "InputError",
    "MappingError",
    "MappingIssue",
    "TransientDeliveryError",
    "TranslationError",
    "TranslatorError",
]


class TranslatorError(Exception):
    """Base of every error the translator raises on purpose."""


class ConfigError(TranslatorError):
    """A setting, configuration file or command-line option is wrong."""


@dataclass(frozen=True, slots=True)
class MappingIssue:
    """One problem in one mapping file, located by line, column (1-based) and JSON pointer."""

    file: str
    line: int
    column: int
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.pointer}: {self.message}"


class MappingError(TranslatorError):
    """The mapping set does not compile; `issues` lists every problem found, in file order."""

    def __init__(self, issues: list[MappingIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, i.column, i.pointer))
        count = len(self.issues)
        head = f"{count} mapping error{'s' if count != 1 else ''}"
        super().__init__("\n".join([head, *(str(i) for i in self.issues)]))


class InputError(TranslatorError):
    """A line is not a usable event (bad JSON, not an object, too long, wrong types)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class TranslationError(TranslatorError):
    """An event cannot become a valid statement: a required field is missing or a rule fails."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class DeliveryError(TranslatorError):
    """Statements could not be delivered; they are kept (queued or dead-lettered), never dropped."""


class TransientDeliveryError(DeliveryError):
    """The LRS cannot take the batch now (429, 5xx, timeout, connection error): try again later.

    Raised at once by `deliver_batch` without a retry policy (the Celery task retries the batch),
    and by a Deliverer whose policy's `max_elapsed` ran out. `retry_after` is the LRS's
    `Retry-After` in seconds, if it gave one. Nothing was dropped.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DestinationRefused(DeliveryError):
    """The destination answered 401 or 403: our credentials are refused; nothing is dropped."""

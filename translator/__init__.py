"""edx-xapi-translator: Open edX tracking logs to xAPI statements, with YAML mappings.

    intake (lines, events) -> mapping (plan) -> engine -> targets (checks) -> sinks

The names below are the public API; everything else may change between versions.
"""

from translator.config import Settings, load_settings
from translator.engine import Outcome, Status, Translator
from translator.errors import (
    ConfigError,
    DeliveryError,
    DestinationRefused,
    InputError,
    MappingError,
    MappingIssue,
    TransientDeliveryError,
    TranslationError,
    TranslatorError,
)
from translator.intake.events import normalise, parse_line
from translator.intake.lines import SourceLine, read_lines
from translator.mapping.plan import Plan, load_plan
from translator.missing import MISSING
from translator.pipeline import run, translate_lines
from translator.summary import Summary
from translator.targets.registry import TARGETS, get_target
from translator.targets.target import Target
from translator.targets.xapi.checks import check_statement, statement_problems
from translator.targets.xapi.strict import strict_check

__all__ = [
    "MISSING",
    "TARGETS",
    "ConfigError",
    "DeliveryError",
    "DestinationRefused",
    "InputError",
    "MappingError",
    "MappingIssue",
    "Outcome",
    "Plan",
    "Settings",
    "SourceLine",
    "Status",
    "Summary",
    "Target",
    "TransientDeliveryError",
    "TranslationError",
    "Translator",
    "TranslatorError",
    "check_statement",
    "get_target",
    "load_plan",
    "load_settings",
    "normalise",
    "parse_line",
    "read_lines",
    "run",
    "statement_problems",
    "strict_check",
    "translate_lines",
]

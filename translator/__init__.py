"""edx-xapi-translator: Open edX tracking logs to xAPI statements, with YAML mappings.

The names below are the public API; everything else may change between versions.
"""

from translator.config import Settings, load_settings
from translator.engine import Outcome, Translator
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
from translator.events import SourceLine, normalise, parse_line, read_lines
from translator.missing import MISSING
from translator.pipeline import Summary, translate_lines
from translator.plan import Plan, load_plan
from translator.xapi import check_statement, statement_problems, strict_check

__all__ = [
    "MISSING",
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
    "Summary",
    "TransientDeliveryError",
    "TranslationError",
    "Translator",
    "TranslatorError",
    "check_statement",
    "load_plan",
    "load_settings",
    "normalise",
    "parse_line",
    "read_lines",
    "statement_problems",
    "strict_check",
    "translate_lines",
]

"""Applies a compiled plan to one event: translated, skipped or rejected, never raised."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

import orjson

from translator.errors import TranslationError
from translator.mapping.codegen import SKIP, CheckedTemplate, RequiredMissing, failure_origin
from translator.mapping.compiler import CompiledEvent
from translator.mapping.contract import TargetRules
from translator.mapping.directives import iterate_items
from translator.mapping.plan import Plan
from translator.missing import MISSING
from translator.statement_ids import StatementIds, id_suffix, uuid5_text

__all__ = [
    "MAX_STATEMENT_BYTES",
    "PAGE_REQUEST",
    "REJECTED",
    "SKIPPED",
    "TRANSLATED",
    "Outcome",
    "Status",
    "Translator",
]

MAX_STATEMENT_BYTES: Final = 256 * 1024
"""The most one statement may weigh as JSON: an event may carry up to a line's limit (1 MB) of
learner-posted data, which an LRS would refuse in a batch, or make the batch too heavy."""


class Status(StrEnum):
    """The bucket every line ends in (design §3); the values are what summaries print."""

    TRANSLATED = "translated"
    SKIPPED = "skipped"
    REJECTED = "rejected"


TRANSLATED: Final = Status.TRANSLATED
SKIPPED: Final = Status.SKIPPED
REJECTED: Final = Status.REJECTED
# The event mapping of every server page request: Open edX's tracker logs each request it serves
# with the request path as event_type (and no name), so there is one event type per URL.
PAGE_REQUEST: Final = "page_request"


@dataclass(slots=True)
class Outcome:
    """What became of one event: its bucket, its statements, and the reason when not translated.

    Read-only by convention, not frozen: one is made per line, and a frozen dataclass costs
    about 0.4 µs more to build (object.__setattr__ per field).
    """

    status: Status
    statements: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    event_name: str = ""
    context: Any = None  # the event's context, read only by the destination filters (routing)
    encoded: tuple[bytes, ...] = ()  # each statement as JSON, when the engine wrote it already

    @property
    def org(self) -> str | None:
        """The event's org (context.org_id), for per-destination filters."""
        found = self.context.get("org_id") if type(self.context) is dict else None
        return found if isinstance(found, str) else None

    @property
    def course_id(self) -> str | None:
        """The event's course (context.course_id), for per-destination filters."""
        found = self.context.get("course_id") if type(self.context) is dict else None
        return found if isinstance(found, str) else None


def _check(
    target: TargetRules,
    template: CheckedTemplate,
    statement: dict[str, Any],
    mask: int,
    suspect: bool,
) -> None:
    """Check a statement against its target: whole, or only what its template has not proven.

    A template proves a shape (its mask) the first time a statement of that shape passes the
    whole check; later statements of that shape whose event values passed the rules of their
    places need only the rules across fields checked (ADR 0004). Raises TranslationError.
    """
    if template.provable and not suspect and mask in template.proven_masks:
        if template.relations_dynamic and not target.relations_ok(statement):
            target.check(statement)  # raises, with the reason
        return
    target.check(statement)
    if template.provable and not suspect:
        template.proven_masks.add(mask)


def _encoded(statement: dict[str, Any]) -> bytes:
    """The statement as JSON, as every sink writes it: refused when it cannot be written or is
    too large (the checks bound what events contribute; this catches whatever slips past them,
    and the bytes are kept so that no sink writes the statement again).

    Raises TranslationError with the writer's reason or the size.
    """
    try:
        data = orjson.dumps(statement)
    except TypeError as exc:
        raise TranslationError(f"the statement cannot be written as JSON: {exc}") from None
    if len(data) > MAX_STATEMENT_BYTES:
        raise TranslationError(
            f"the statement is {len(data)} bytes of JSON, over the limit of {MAX_STATEMENT_BYTES}"
        )
    return data


class Translator:
    """Turns normalised events into statements of the plan's target, checked by its rules."""

    def __init__(self, plan: Plan, *, id_namespace: str | uuid.UUID) -> None:
        """Raises ValueError when `id_namespace` is not a UUID."""
        self.plan = plan
        self._events = plan.events
        self._disabled = plan.disabled
        self._target = plan.target
        self._ids = StatementIds(id_namespace)

    def translate(self, event: dict[str, Any]) -> Outcome:
        """Translate one normalised event (see translator.intake.events.normalise)."""
        name = event.get("name")
        event_type = event.get("event_type")
        mapping = self._events.get(name) if name is not None else None
        if mapping is None and event_type is not None:
            mapping = self._events.get(event_type)
        label = name if name is not None else (event_type or "")
        if mapping is None and label[:1] == "/":  # a page request, counted under its path
            mapping = self._events.get(PAGE_REQUEST)
            if mapping is None:
                reason = self._disabled.get(PAGE_REQUEST)
                return Outcome(SKIPPED, reason=reason or "no mapping", event_name=label)
        if mapping is None:
            reason = self._disabled.get(label) or self._disabled.get(event_type or "")
            return Outcome(SKIPPED, reason=reason or "no mapping", event_name=label)
        try:
            return self._apply(mapping, event, label)
        except TranslationError as exc:
            return Outcome(REJECTED, reason=exc.reason, event_name=label)
        except Exception as exc:  # a mapping must never crash a run: the line is rejected
            origin = failure_origin(exc)  # the field a generated builder was building, if any
            building = f" building {origin}" if origin is not None else ""
            return Outcome(
                REJECTED,
                reason=f"mapping {mapping.name} ({mapping.loc}) failed{building}: {exc!r}",
                event_name=label,
            )

    def _apply(self, mapping: CompiledEvent, event: dict[str, Any], label: str) -> Outcome:
        if mapping.select is None:
            variant = mapping.variants.get("default")
        else:
            chosen = mapping.select.build(event)
            variant = mapping.variants.get(chosen) if type(chosen) is str else None
            if variant is None:
                variant = mapping.variants.get("default")
        if variant is None:
            if mapping.skip_unless is not None:
                subject = mapping.skip_unless.build(event)
                if subject is MISSING or subject is None:  # an anonymous event: that reason first
                    return Outcome(SKIPPED, reason=mapping.skip_reason, event_name=label)
            chosen = mapping.select.build(event) if mapping.select is not None else MISSING
            return Outcome(SKIPPED, reason=f"no variant {chosen!r}", event_name=label)

        # The builder tests skip_unless and the required paths first (see compile_statement).
        template = variant.statement
        statement, mask, suspect = template.build(event)
        if type(statement) is not dict:
            if statement is SKIP:
                return Outcome(SKIPPED, reason=mapping.skip_reason, event_name=label)
            if type(statement) is RequiredMissing:
                reason = f"missing required field {statement.path}"
                return Outcome(REJECTED, reason=reason, event_name=label)
            return Outcome(REJECTED, reason="the mapping produced no statement", event_name=label)
        target = self._target
        id_base = self._ids.base(event) + variant.id_suffix
        if "id" not in statement:
            statement["id"] = target.statement_id(uuid5_text(id_base))
        _check(target, template, statement, mask, suspect)
        statements = [statement]
        children = variant.children
        if children is not None:
            collection = children.over.build(event)
            items = iterate_items(collection) if collection is not MISSING else []
            if len(items) >= children.min_items:
                parent = {"id": statement["id"]}
                for item in items:
                    child_template = children.statement
                    child, mask, suspect = child_template.build(
                        {**event, "item": item, "parent": parent}
                    )
                    if type(child) is not dict:
                        raise TranslationError(f"child {item['key']!r}: no statement produced")
                    if "id" not in child:
                        child_base = id_base + id_suffix(str(item["key"]))
                        child["id"] = target.statement_id(uuid5_text(child_base))
                    _check(target, child_template, child, mask, suspect)
                    statements.append(child)
        encoded = (_encoded(statement),) if children is None else tuple(map(_encoded, statements))
        return Outcome(TRANSLATED, statements, "", label, event.get("context"), encoded)

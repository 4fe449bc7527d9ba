"""Applies the compiled plan to one event: translated, skipped or rejected, never raised."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from translator.errors import TranslationError
from translator.mapping.codegen import SKIP, CheckedTemplate, RequiredMissing
from translator.mapping.compiler import CompiledEvent
from translator.mapping.directives import iterate_items
from translator.missing import MISSING
from translator.plan import Plan
from translator.xapi import check_statement, score_ok

__all__ = [
    "PAGE_REQUEST",
    "REJECTED",
    "SKIPPED",
    "TRANSLATED",
    "Outcome",
    "Translator",
    "statement_id",
]

TRANSLATED: Final = "translated"
SKIPPED: Final = "skipped"
REJECTED: Final = "rejected"
# The event mapping of every server page request: Open edX's tracker logs each request it serves
# with the request path as event_type (and no name), so there is one event type per URL.
PAGE_REQUEST: Final = "page_request"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one event: its bucket, its statements, and the reason when not translated."""

    status: str
    statements: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    event_name: str = ""
    context: Any = None  # the event's context, read only by the per-destination filters below

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


def statement_id(namespace: uuid.UUID, canonical_event: bytes, *parts: str) -> str:
    """A UUID 5 over the canonical event and the mapping parts (event mapping, variant, child key).

    Fields are joined with a unit separator, which JSON text never contains unescaped.
    """
    return _uuid5_text(namespace.bytes + canonical_event + _id_suffix(*parts))


def _id_suffix(*parts: str) -> bytes:
    return b"".join(b"\x1f" + part.encode() for part in parts)


def _uuid5_text(name: bytes) -> str:
    """uuid.uuid5's text for namespace bytes + name, without building a UUID object."""
    raw = bytearray(hashlib.sha1(name).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def _check(template: CheckedTemplate, statement: dict[str, Any], mask: int, suspect: bool) -> None:
    """Check a statement against xAPI 1.0.3: whole, or only what its template has not proven.

    A template proves a shape (its mask) the first time a statement of that shape passes the
    whole check; later statements of that shape whose event values passed the rules of their
    places need only the score relations checked (ADR 0004). Raises TranslationError.
    """
    if template.provable and not suspect and mask in template.proven_masks:
        if template.score_dynamic and not score_ok(statement):
            check_statement(statement)  # raises, with the reason
        return
    check_statement(statement)
    if template.provable and not suspect:
        template.proven_masks.add(mask)


class Translator:
    """Turns normalised events into checked statements with the plan it was given."""

    def __init__(self, plan: Plan, *, id_namespace: str | uuid.UUID) -> None:
        self._plan = plan
        self._events = plan.events
        self._disabled = plan.disabled
        namespace = id_namespace if isinstance(id_namespace, uuid.UUID) else uuid.UUID(id_namespace)
        self._namespace_bytes = namespace.bytes

    def translate(self, event: dict[str, Any]) -> Outcome:
        """Translate one normalised event (see translator.events.normalise)."""
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
            return Outcome(
                REJECTED,
                reason=f"mapping {mapping.name} ({mapping.loc}) failed: {exc!r}",
                event_name=label,
            )

    def _apply(self, mapping: CompiledEvent, event: dict[str, Any], label: str) -> Outcome:
        if mapping.select is None:
            variant = mapping.variants.get("default")
        else:
            chosen = mapping.select(event)
            variant = mapping.variants.get(chosen) if type(chosen) is str else None
            if variant is None:
                variant = mapping.variants.get("default")
        if variant is None:
            if mapping.skip_unless is not None:
                subject = mapping.skip_unless(event)
                if subject is MISSING or subject is None:  # an anonymous event: that reason first
                    return Outcome(SKIPPED, reason=mapping.skip_reason, event_name=label)
            chosen = mapping.select(event) if mapping.select is not None else MISSING
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
        id_base = (
            self._namespace_bytes
            + orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
            + variant.id_suffix
        )
        if "id" not in statement:
            statement["id"] = _uuid5_text(id_base)
        _check(template, statement, mask, suspect)
        statements = [statement]
        children = variant.children
        if children is not None:
            collection = children.over(event)
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
                        child["id"] = _uuid5_text(id_base + _id_suffix(str(item["key"])))
                    _check(child_template, child, mask, suspect)
                    statements.append(child)
        return Outcome(TRANSLATED, statements, "", label, event.get("context"))

"""Compiles one event mapping (extends, variants, children resolved) into a runtime form."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from translator.mapping.codegen import (
    CheckedTemplate,
    Template,
    compile_statement,
    compile_template,
)
from translator.mapping.directives import (
    CompileContext,
    Evaluator,
)
from translator.mapping.nodes import Loc, Node, child_pointer, merge_nodes
from translator.mapping.paths import PathSyntaxError, compile_path
from translator.mapping.proof import prove_statement
from translator.messages import did_you_mean
from translator.missing import MISSING
from translator.statement_ids import id_suffix

__all__ = [
    "EVENT_KEYS",
    "CompiledChildren",
    "CompiledEvent",
    "CompiledVariant",
    "compile_event",
    "resolve_event",
]

EVENT_KEYS = (
    "description",
    "aliases",
    "extends",
    "skip_unless",
    "require",
    "select",
    "variants",
    "statement",
    "children",
)
DEFAULT_VARIANT = "default"


@dataclass(frozen=True, slots=True)
class CompiledChildren:
    """One extra statement per item of `over`, when there are at least `min_items` items."""

    over: Template
    min_items: int
    statement: CheckedTemplate


@dataclass(frozen=True, slots=True)
class CompiledVariant:
    """The statement and children of one variant; `body` is the resolved mapping (explain)."""

    name: str
    id_suffix: bytes  # the event mapping's and this variant's names (translator.statement_ids)
    required: tuple[tuple[str, Evaluator], ...]
    statement: CheckedTemplate
    children: CompiledChildren | None
    body: Node


@dataclass(frozen=True, slots=True)
class CompiledEvent:
    """Everything the engine needs to translate one event name, fixed at load."""

    name: str
    loc: Loc
    aliases: tuple[str, ...]
    skip_unless: Template | None
    skip_reason: str
    select: Template | None
    variants: Mapping[str, CompiledVariant]


def _names(node: Node, ctx: CompileContext, what: str) -> list[str]:
    """A name or a list of names (extends, aliases)."""
    items = node.value if node.kind == "seq" else [node]
    names: list[str] = []
    for item in items:
        if item.kind == "scalar" and isinstance(item.value, str) and item.value:
            names.append(item.value)
        else:
            ctx.issues.add(item.loc, f"{what} takes a name or a list of names")
    return names


def _merge_bodies(base: Node, change: Node) -> Node:
    """Merge event mappings: `change` over `base`, except that `require` lists add up."""
    merged = merge_nodes(base, change) or change
    base_require, change_require = base.get("require"), change.get("require")
    if base_require is None or change_require is None or merged.kind != "map":
        return merged
    items: list[Node] = []
    seen: set[object] = set()
    for require in (base_require, change_require):
        for item in require.value if require.kind == "seq" else [require]:
            key = item.value if item.kind == "scalar" else id(item)
            if key not in seen:
                seen.add(key)
                items.append(item)
    values = dict(merged.value)
    values["require"] = Node("seq", items, change_require.loc)
    return Node("map", values, merged.loc)


def resolve_event(body: Node, ctx: CompileContext, stack: tuple[str, ...] = ()) -> Node:
    """The event mapping with its `extends` fragments merged under it (recursively)."""
    extends = body.get("extends")
    if extends is None:
        return body
    merged: Node | None = None
    for name in _names(extends, ctx, "extends"):
        fragment = ctx.fragments.get(name)
        if fragment is None:
            ctx.issues.add(
                extends.loc, f"unknown fragment {name!r}{did_you_mean(name, ctx.fragments)}"
            )
            continue
        if name in stack:
            ctx.issues.add(extends.loc, "extends cycle: " + " -> ".join([*stack, name]))
            continue
        if fragment.kind != "map":
            ctx.issues.add(extends.loc, f"fragment {name!r} is not a map and cannot be extended")
            continue
        resolved = resolve_event(fragment, ctx, (*stack, name))
        merged = resolved if merged is None else _merge_bodies(merged, resolved)
    own = Node("map", {k: v for k, v in body.value.items() if k != "extends"}, body.loc)
    if merged is None:
        return own
    return _merge_bodies(merged, own)


_NO_STATEMENT = CheckedTemplate(
    lambda _doc: (MISSING, 0, False), provable=False, relations_dynamic=False
)


def _compile_statement(
    node: Node | None,
    ctx: CompileContext,
    where: Loc,
    *,
    name: str,
    skip_unless: Node | None = None,
    required: tuple[str, ...] = (),
    event: str,
) -> CheckedTemplate:
    """A statement template: a map whose evaluation always returns a fresh top-level dict,
    proven against the target's rules in every shape it can take (translator.mapping.proof)."""
    if node is None:
        ctx.issues.add(where, "missing key 'statement'")
        return _NO_STATEMENT
    if node.kind != "map":
        ctx.issues.add(node.loc, "'statement' is a map (the statement template)")
        return _NO_STATEMENT
    before = len(ctx.issues.items)
    compiled = compile_statement(node, ctx, name=name, skip_unless=skip_unless, required=required)
    # A mapping with mistakes already reported is not proven further: one mistake, one message.
    own = child_pointer("/events", event) + "/"
    if len(ctx.issues.items) == before and not any(
        issue.pointer.startswith(own) for issue in ctx.issues.items
    ):
        prove_statement(node, ctx, event=event)
    return compiled


def _compile_children(
    node: Node, parent_statement: Node | None, ctx: CompileContext, *, name: str, event: str
) -> CompiledChildren | None:
    """`children` of a variant; `name` (event/variant) names its builders' tracebacks."""
    if node.kind != "map":
        ctx.issues.add(node.loc, "'children' is a map with over, statement and min_items")
        return None
    for key in node.value:
        if key not in ("over", "statement", "min_items"):
            ctx.issues.add(node.value[key].loc, f"children: unknown key {key!r}")
    over = node.get("over")
    if over is None:
        ctx.issues.add(node.loc, "children: missing key 'over'")
        return None
    min_items = 1
    min_node = node.get("min_items")
    if min_node is not None:
        if min_node.kind == "scalar" and type(min_node.value) is int and min_node.value >= 1:
            min_items = min_node.value
        else:
            ctx.issues.add(min_node.loc, "min_items is a whole number of at least 1")
    statement = node.get("statement")
    if statement is not None and parent_statement is not None:
        # A child is the parent's statement with changes: `!delete` or `!replace` what differs.
        statement = merge_nodes(parent_statement, statement)
    return CompiledChildren(
        over=compile_template(over, ctx, name=f"{name} children.over"),
        min_items=min_items,
        statement=_compile_statement(
            statement, ctx, node.loc, name=f"{name} children", event=event
        ),
    )


def _compile_required(body: Node, ctx: CompileContext) -> tuple[tuple[str, Evaluator], ...]:
    required: list[tuple[str, Evaluator]] = []
    require_node = body.get("require")
    if require_node is None:
        return ()
    items = require_node.value if require_node.kind == "seq" else [require_node]
    for item in items:
        if item.kind != "scalar" or not isinstance(item.value, str):
            ctx.issues.add(item.loc, "require takes JSONPaths such as $.context.course_id")
            continue
        try:
            required.append((item.value, compile_path(item.value)))
        except PathSyntaxError as exc:
            ctx.issues.add(item.loc, str(exc))
    return tuple(required)


_VARIANT_KEYS = ("description", "require", "statement", "children")


def _compile_variant(
    event_name: str, name: str, body: Node, ctx: CompileContext
) -> CompiledVariant:
    children = body.get("children")
    required = _compile_required(body, ctx)
    skip_node = body.get("skip_unless")
    return CompiledVariant(
        name=name,
        id_suffix=id_suffix(event_name, name),
        required=required,
        statement=_compile_statement(
            body.get("statement"),
            ctx,
            body.loc,
            name=f"{event_name}/{name} statement",
            skip_unless=skip_node.get("value") if skip_node is not None else None,
            required=tuple(path for path, _ in required),
            event=event_name,
        ),
        children=(
            _compile_children(
                children,
                body.get("statement"),
                ctx,
                name=f"{event_name}/{name}",
                event=event_name,
            )
            if children is not None
            else None
        ),
        body=body,
    )


def compile_event(name: str, body: Node, ctx: CompileContext) -> CompiledEvent | None:
    """Compile one event mapping; problems go to `ctx.issues` (None when it cannot be used)."""
    if body.kind != "map":
        ctx.issues.add(body.loc, "an event mapping is a map (statement, extends, ...)")
        return None
    resolved = resolve_event(body, ctx)
    for key, child in resolved.value.items():
        if key not in EVENT_KEYS:
            ctx.issues.add(child.loc, f"unknown key {key!r}{did_you_mean(key, EVENT_KEYS)}")

    aliases = (
        tuple(_names(resolved.value["aliases"], ctx, "aliases"))
        if "aliases" in resolved.value
        else ()
    )

    skip_unless: Template | None = None
    skip_reason = ""
    skip_node = resolved.get("skip_unless")
    if skip_node is not None:
        value_node, reason_node = skip_node.get("value"), skip_node.get("reason")
        if value_node is None or reason_node is None or not isinstance(reason_node.value, str):
            ctx.issues.add(skip_node.loc, "skip_unless takes {value: <node>, reason: <text>}")
        else:
            skip_unless = compile_template(value_node, ctx, name=f"{name} skip_unless")
            skip_reason = reason_node.value

    select_node = resolved.get("select")
    variants_node = resolved.get("variants")
    common = Node(
        "map",
        {k: v for k, v in resolved.value.items() if k not in ("select", "variants")},
        resolved.loc,
    )
    variants: dict[str, CompiledVariant] = {}
    select: Template | None = None
    if (select_node is None) != (variants_node is None):
        ctx.issues.add(resolved.loc, "'select' and 'variants' go together")
    elif select_node is not None and variants_node is not None:
        if variants_node.kind != "map" or not variants_node.value:
            ctx.issues.add(variants_node.loc, "'variants' is a map of variant name to mapping")
        else:
            select = compile_template(select_node, ctx, name=f"{name} select")
            for variant_name, variant_body in variants_node.value.items():
                if variant_body.kind != "map":
                    ctx.issues.add(variant_body.loc, "a variant is a map (statement, children)")
                    continue
                for key, child in variant_body.value.items():
                    if key not in _VARIANT_KEYS:
                        hint = did_you_mean(key, _VARIANT_KEYS)
                        ctx.issues.add(child.loc, f"unknown key {key!r} in a variant{hint}")
                merged = _merge_bodies(common, variant_body)
                variants[variant_name] = _compile_variant(name, variant_name, merged, ctx)
    else:
        variants[DEFAULT_VARIANT] = _compile_variant(name, DEFAULT_VARIANT, common, ctx)

    return CompiledEvent(
        name=name,
        loc=body.loc,
        aliases=aliases,
        skip_unless=skip_unless,
        skip_reason=skip_reason,
        select=select,
        variants=variants,
    )

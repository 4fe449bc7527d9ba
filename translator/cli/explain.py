"""`translator explain EVENT`: the effective mapping of an event, each field with its file:line;
with `--code`, the generated builders that translate it, each value with its file:line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from translator.cli.common import (
    fail,
    load_command_plan,
    mapping_options,
    overlay_option,
    settings_of,
)
from translator.mapping.codegen import GeneratedCode
from translator.mapping.compiler import CompiledVariant
from translator.mapping.nodes import Node, child_pointer
from translator.messages import did_you_mean

__all__ = ["explain"]


def _describe(node: Node) -> str:
    if node.kind == "tag":
        inner = node.value
        if inner.kind == "scalar":
            return f"{node.tag} {inner.value!r}" if inner.value != "" else node.tag
        return f"{node.tag} {json.dumps(_node_data(inner))}"
    return json.dumps(node.value)


def _node_data(node: Node) -> Any:
    if node.kind == "map":
        return {k: _node_data(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [_node_data(v) for v in node.value]
    if node.kind == "tag":
        return _describe(node)
    return node.value


def _explain_lines(node: Node, pointer: str) -> Iterator[str]:
    """Each leaf of a resolved mapping: where it lands, what it is, and the file:line behind it."""
    if node.kind == "map" and node.value:
        for key, child in node.value.items():
            yield from _explain_lines(child, child_pointer(pointer, key))
    elif node.kind == "seq" and node.value:
        for index, child in enumerate(node.value):
            yield from _explain_lines(child, child_pointer(pointer, index))
    else:
        yield f"  {pointer}: {_describe(node)}    [{node.loc}]"


def _code_lines(what: str, code: GeneratedCode | None) -> Iterator[str]:
    """A generated builder, titled with the file name its tracebacks show."""
    if code is None:
        return
    yield f"  {what}: {code.filename}"
    for line in code.source.splitlines():
        yield f"    {line}"


def _variant_code(variant: CompiledVariant) -> Iterator[str]:
    yield from _code_lines("statement", variant.statement.code)
    if variant.children is not None:
        yield from _code_lines("children over", variant.children.over.code)
        yield from _code_lines("children statement", variant.children.statement.code)


def _variant_fields(variant: CompiledVariant) -> Iterator[str]:
    for key in ("statement", "children"):
        part = variant.body.get(key)
        if part is not None:
            yield from _explain_lines(part, f"/{key}")


@click.command()
@click.argument("event")
@click.option(
    "--code",
    "show_code",
    is_flag=True,
    help="Print the generated builders instead of the fields (each value with its file:line).",
)
@overlay_option
@mapping_options
@click.pass_context
def explain(ctx: click.Context, event: str, show_code: bool, overlays: tuple[Path, ...]) -> None:
    """Print the effective mapping of EVENT with the file:line behind each field."""
    settings = settings_of(ctx, overlays=overlays)
    plan = load_command_plan(settings)
    if event in plan.disabled:
        click.echo(f"{event}: disabled ({plan.disabled[event]})")
        return
    mapping = plan.mapping_for(event)
    if mapping is None:
        fail(f"no mapping for {event!r}{did_you_mean(event, plan.event_names())}")
    title = event if mapping.name == event else f"{event} (alias of {mapping.name})"
    click.echo(f"{title}: defined at {mapping.loc}")
    if mapping.aliases:
        click.echo(f"aliases: {', '.join(mapping.aliases)}")
    if mapping.skip_unless is not None:
        click.echo(f"skipped unless present (reason: {mapping.skip_reason})")
    if show_code and mapping.select is not None:
        for line in _code_lines("select", mapping.select.code):
            click.echo(line)
    for variant in mapping.variants.values():
        click.echo(f"variant {variant.name}:")
        if variant.required:
            click.echo("  required: " + ", ".join(path for path, _ in variant.required))
        for line in _variant_code(variant) if show_code else _variant_fields(variant):
            click.echo(line)

"""`translator explain EVENT`: the effective mapping of an event as YAML, each value with its
file:line:col (`--expand`: fragments written out where used); with `--code`, the generated
builders that translate it, each value with its file:line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from translator.cli.common import (
    echo,
    fail,
    load_command_plan,
    mapping_options,
    overlay_option,
    settings_of,
    target_option,
)
from translator.mapping.codegen import GeneratedCode
from translator.mapping.compiler import CompiledVariant
from translator.mapping.nodes import Node
from translator.mapping.plan import Plan
from translator.messages import did_you_mean

__all__ = ["explain"]


_PLAIN = re.compile(r"[A-Za-z_$/][\w$.\-/:@+~]*")
_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "~"})


def _scalar(value: Any) -> str:
    """A scalar as YAML writes it: text plain when it reads back as the same text."""
    if isinstance(value, str):
        plain = _PLAIN.fullmatch(value) and value.lower() not in _WORDS and ": " not in value
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value)


def _flow(node: Node) -> str:
    """A node on one line, in YAML's flow style (directives as their tags)."""
    if node.kind == "tag":
        inner = node.value
        if inner.kind == "scalar" and inner.value in ("", None):
            return node.tag
        return f"{node.tag} {_flow(inner)}"
    if node.kind == "map":
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in node.value.items()) + "}"
    if node.kind == "seq":
        return "[" + ", ".join(_flow(v) for v in node.value) + "]"
    return _scalar(node.value)


class _Printer:
    """A resolved mapping as YAML, each value with the file:line:col behind it as a comment;
    with `fragments`, each `!ref` is written out as the fragment it names (expanded)."""

    def __init__(self, fragments: Mapping[str, Node] | None) -> None:
        self.fragments = fragments
        self.stack: list[str] = []

    def _expanded(self, node: Node) -> tuple[Node, str]:
        """The node to write, and a note of the fragments it came through."""
        note = ""
        while (
            self.fragments is not None
            and node.kind == "tag"
            and node.tag == "!ref"
            and node.value.kind == "scalar"
            and node.value.value in self.fragments
            and node.value.value not in self.stack
        ):
            name = node.value.value
            note += f" !ref {name} ({node.loc}) ->"
            node = self.fragments[name]
        return node, note

    def _refers(self, node: Node) -> bool:
        """True when expanding and `node` uses a fragment somewhere inside."""
        if self.fragments is None:
            return False
        if node.kind == "tag":
            return node.tag == "!ref" or self._refers(node.value)
        if node.kind in ("map", "seq"):
            children = node.value.values() if node.kind == "map" else node.value
            return any(self._refers(child) for child in children)
        return False

    def lines(self, node: Node, indent: str, head: str) -> Iterator[str]:
        node, note = self._expanded(node)
        name = note.rsplit("!ref ", 1)[-1].split(" ", 1)[0] if note else ""
        if name:
            self.stack.append(name)
        try:
            yield from self._lines(node, indent, head, note)
        finally:
            if name:
                self.stack.pop()

    def _lines(self, node: Node, indent: str, head: str, note: str) -> Iterator[str]:
        if node.kind == "map" and node.value:
            yield f"{indent}{head}" + (f"  #{note}" if note else "") if head else ""
            inner = indent + "  " if head else indent
            for key, child in node.value.items():
                yield from self.lines(child, inner, f"{_scalar(key)}:")
        elif node.kind == "seq" and node.value:
            if head:
                yield f"{indent}{head}" + (f"  #{note}" if note else "")
            for child in node.value:
                yield from self.lines(child, indent + "  " if head else indent, "-")
        elif node.kind == "tag" and node.tag != "!ref" and self._refers(node.value):
            # a directive holding fragments to expand: written as a block, tag on the key's line
            inner = node.value
            if inner.kind in ("map", "seq") and inner.value:
                yield f"{indent}{head} {node.tag}  #{note} {node.loc}"
                yield from self._lines(inner, indent + "  ", "", "")
                return
            yield f"{indent}{head} {_flow(node)}  #{note} {node.loc}"
        else:
            yield f"{indent}{head} {_flow(node)}  #{note} {node.loc}"


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


def _variant_fields(
    variant: CompiledVariant, fragments: Mapping[str, Node] | None
) -> Iterator[str]:
    printer = _Printer(fragments)
    for key in ("statement", "children"):
        part = variant.body.get(key)
        if part is not None:
            yield from (line for line in printer.lines(part, "  ", f"{key}:") if line)


@click.command()
@click.argument("event")
@click.option(
    "--code",
    "show_code",
    is_flag=True,
    help="Print the generated builders instead of the fields (each value with its file:line).",
)
@click.option(
    "--expand",
    is_flag=True,
    help="Write each fragment (!ref) out where it is used, with where it is defined.",
)
@overlay_option
@target_option
@mapping_options
@click.pass_context
def explain(
    ctx: click.Context,
    event: str,
    show_code: bool,
    expand: bool,
    overlays: tuple[Path, ...],
    targets: list[str],
) -> None:
    """Print the effective mapping of EVENT as YAML, with the file:line:col behind each value."""
    settings = settings_of(ctx, overlays=overlays)
    for target in targets:
        if len(targets) > 1:
            echo(f"== {target}")
        plan = load_command_plan(settings, target)
        _explain_one(event, plan, show_code=show_code, expand=expand)


def _explain_one(event: str, plan: Plan, *, show_code: bool, expand: bool) -> None:
    if event in plan.disabled:
        echo(f"{event}: disabled ({plan.disabled[event]})")
        return
    mapping = plan.mapping_for(event)
    if mapping is None:
        fail(f"no mapping for {event!r}{did_you_mean(event, plan.event_names())}")
    title = event if mapping.name == event else f"{event} (alias of {mapping.name})"
    echo(f"{title}: defined at {mapping.loc}")
    if mapping.aliases:
        echo(f"aliases: {', '.join(mapping.aliases)}")
    if mapping.skip_unless is not None:
        echo(f"skipped unless present (reason: {mapping.skip_reason})")
    if show_code and mapping.select is not None:
        for line in _code_lines("select", mapping.select.code):
            echo(line)
    for variant in mapping.variants.values():
        echo(f"variant {variant.name}:")
        if variant.required:
            echo("  required: " + ", ".join(path for path, _ in variant.required))
        fragments = plan.sources.fragments if expand else None
        lines = _variant_code(variant) if show_code else _variant_fields(variant, fragments)
        for line in lines:
            echo(line)

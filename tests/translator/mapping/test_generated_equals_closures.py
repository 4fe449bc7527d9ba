"""Every golden input gives the same values through the generated builders as through the
interpreted closures of directives.py, the form mappings/README.md's examples run through.

Each input goes through every variant of its event mapping (not only the one `select` picks),
and through the children statement for every item of `over`, whatever `min_items` says: the
more templates meet each event, the more of the generator is compared. Ids are not compared:
neither form assigns them (the engine does, after the builder).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest

from translator.config import Settings
from translator.engine import PAGE_REQUEST
from translator.intake.events import normalise
from translator.mapping.codegen import SKIP, RequiredMissing
from translator.mapping.compiler import CompiledEvent, resolve_event
from translator.mapping.directives import CompileContext, compile_node, evaluator, iterate_items
from translator.mapping.nodes import Issues, Node, merge_nodes
from translator.mapping.plan import Plan, compile_context, load_plan
from translator.missing import MISSING
from translator.targets.xapi import XAPI

GOLDEN = Path(__file__).resolve().parents[2] / "golden" / "xapi"
INPUTS = sorted(GOLDEN.glob("*.input.json"))
SETTINGS = Settings(lms_root_url="http://localhost:18000", pseudonym_secret="golden-test-secret")


@cache
def _plan() -> Plan:
    return load_plan(SETTINGS, XAPI, environ={})


@cache
def _closures_context() -> CompileContext:
    """A context like the plan's (same vars, tables, fragments, secret) for the closures."""
    return compile_context(SETTINGS, XAPI, _plan().sources, Issues(), environ={})


def _interpreted(node: Node, doc: Any) -> Any:
    ctx = _closures_context()
    value = evaluator(compile_node(node, ctx))(doc)
    assert not ctx.issues.items, [str(i) for i in ctx.issues.items]
    return value


def _assert_same(generated: Any, interpreted: Any, what: str) -> None:
    assert generated == interpreted, what
    if type(generated) is dict:  # same keys in the same order, same JSON types
        assert orjson.dumps(generated) == orjson.dumps(interpreted), what


def _mapping_of(event: dict[str, Any]) -> CompiledEvent | None:
    plan = _plan()
    for key in (event.get("name"), event.get("event_type")):
        mapping = plan.mapping_for(key) if isinstance(key, str) else None
        if mapping is not None:
            return mapping
    label = event.get("name") or event.get("event_type") or ""
    return plan.mapping_for(PAGE_REQUEST) if label.startswith("/") else None


def _expected_statement(body: Node, event: dict[str, Any], required: list[str]) -> Any:
    """What a variant's builder should return, worked out with closures only."""
    skip = body.get("skip_unless")
    if skip is not None:
        value_node = skip.get("value")
        assert value_node is not None
        subject = _interpreted(value_node, event)
        if subject is MISSING or subject is None:
            return SKIP
    for path in required:
        path_node = Node("tag", Node("scalar", path, body.loc), body.loc, "!path")
        if _interpreted(path_node, event) is MISSING:
            return RequiredMissing(path)
    statement = body.get("statement")
    assert statement is not None
    return _interpreted(statement, event)


@pytest.mark.parametrize("input_path", INPUTS, ids=lambda p: p.name[: -len(".input.json")])
def test_generated_builders_equal_closures_on_golden_input(input_path: Path) -> None:
    event = normalise(json.loads(input_path.read_text(encoding="utf-8")))
    mapping = _mapping_of(event)
    if mapping is None:  # only an input the golden pair expects to be skipped has no mapping
        expected_path = input_path.with_name(input_path.name.replace(".input.", ".expected."))
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        assert isinstance(expected, dict) and "skipped" in expected
        return

    resolved = resolve_event(_plan().sources.events[mapping.name], _closures_context())
    select = resolved.get("select")
    if mapping.select is not None and select is not None:
        _assert_same(mapping.select.build(event), _interpreted(select, event), "select")
    skip = resolved.get("skip_unless")
    skip_value = skip.get("value") if skip is not None else None
    if mapping.skip_unless is not None and skip_value is not None:
        generated = mapping.skip_unless.build(event)
        _assert_same(generated, _interpreted(skip_value, event), "skip_unless")

    for variant in mapping.variants.values():
        what = f"{mapping.name}/{variant.name}"
        required = [path for path, _ in variant.required]
        statement, _mask, _suspect = variant.statement.build(event)
        expected = _expected_statement(variant.body, event, required)
        _assert_same(statement, expected, what)
        children_node = variant.body.get("children")
        if variant.children is None or children_node is None or type(statement) is not dict:
            continue
        over_node, child_node = children_node.get("over"), children_node.get("statement")
        assert over_node is not None and child_node is not None
        collection = variant.children.over.build(event)
        _assert_same(collection, _interpreted(over_node, event), f"{what} children.over")
        parent = variant.body.get("statement")
        merged = merge_nodes(parent, child_node) if parent is not None else child_node
        assert merged is not None
        items = iterate_items(collection) if collection is not MISSING else []
        for item in items:
            doc = {**event, "item": item, "parent": {"id": "parent-id"}}
            child, _mask, _suspect = variant.children.statement.build(doc)
            _assert_same(child, _interpreted(merged, doc), f"{what} child {item['key']!r}")

"""Proves a statement template at load: every shape it can build, checked by the target's rules.

A template is walked without an event. Constants (and vars, and templates without a path) are
their values; a value only an event decides is a placeholder; each `!if` and `!first` gives one
shape per way it can go. Every shape is checked whole by the target (`TargetRules.problems`):
a problem at or below a placeholder is the event's to decide and is left to the per-statement
checks (ADR 0004); any other problem is the mapping's, reported at the YAML node behind it, so
`translator check` shows a verb id that is no IRI, a list where an object belongs or a statement
with no object before a single line is read.

Values that may be MISSING count as present: a problem that only a missing event value could
cause ("object is required" when the object comes from the event) is never reported here.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from translator.mapping.directives import CompileContext, Const, compile_node, is_deleted
from translator.mapping.nodes import LIST_MARKERS, MERGE_MARKERS, Issues, Loc, Node, child_pointer
from translator.missing import MISSING

__all__ = ["MAX_SHAPES", "prove_statement"]

MAX_SHAPES: Final = 64
"""Above this many combinations in one object, each way of each part is tried once (with the
first way of every other part) instead of every combination."""


class _Dynamic:
    """What an event decides: a placeholder no rule is applied to here."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<event value>"


_EVENT_VALUE: Final = _Dynamic()


@dataclass(frozen=True, slots=True)
class _Shape:
    """One value a node can build: its data (placeholders included), the YAML node behind each
    pointer in it, and the pointers where an event value sits."""

    value: Any
    locs: dict[str, Loc]
    dynamic: frozenset[str]


def _dynamic(loc: Loc) -> _Shape:
    return _Shape(_EVENT_VALUE, {"": loc}, frozenset({""}))


def _prefixed(shape: _Shape, step: str | int) -> tuple[dict[str, Loc], set[str]]:
    prefix = child_pointer("", step)
    return (
        {prefix + p: loc for p, loc in shape.locs.items()},
        {prefix + p for p in shape.dynamic},
    )


def _combinations(options: list[list[_Shape]]) -> Iterator[tuple[_Shape, ...]]:
    """Every combination, or when there are too many, each way of each part once."""
    total = 1
    for ways in options:
        total *= len(ways)
    if total <= MAX_SHAPES:
        yield from itertools.product(*options)
        return
    first = tuple(ways[0] for ways in options)
    yield first
    for index, ways in enumerate(options):
        for way in ways[1:]:
            yield (*first[:index], way, *first[index + 1 :])


class _Walker:
    def __init__(self, ctx: CompileContext) -> None:
        # Compiling a directive again must not report its problems twice: a scratch context.
        self.ctx = dataclasses.replace(ctx, issues=Issues(), _fragment_cache={}, _fragment_stack=[])
        self.stack: list[str] = []

    def shapes(self, node: Node) -> list[_Shape]:
        """The shapes `node` can build (MISSING only when it can build nothing else)."""
        found = self._shapes(node)
        present = [s for s in found if s.value is not MISSING]
        return present or found[:1] or [_Shape(MISSING, {}, frozenset())]

    def _shapes(self, node: Node) -> list[_Shape]:
        if node.kind == "scalar":
            return [_Shape(node.value, {"": node.loc}, frozenset())]
        if node.kind == "map":
            return self._map(node)
        if node.kind == "seq":
            return self._list(node)
        if node.tag in MERGE_MARKERS and (node.tag not in LIST_MARKERS or node.value.kind == "seq"):
            return self.shapes(node.value)
        if node.tag == "!ref":
            return self._ref(node)
        if node.tag == "!first":
            return self._first(node)
        if node.tag == "!if":
            return self._if(node)
        return [self._constant_or_dynamic(node)]

    def _constant_or_dynamic(self, node: Node) -> _Shape:
        compiled = compile_node(node, self.ctx)
        if isinstance(compiled, Const):
            return _Shape(compiled.value, {"": node.loc}, frozenset())
        return _dynamic(node.loc)

    def _ref(self, node: Node) -> list[_Shape]:
        inner = node.value
        name = inner.value if inner.kind == "scalar" and isinstance(inner.value, str) else ""
        fragment = self.ctx.fragments.get(name)
        if fragment is None or name in self.stack:
            return [_dynamic(node.loc)]  # reported by the compiler
        self.stack.append(name)
        try:
            return self.shapes(fragment)
        finally:
            self.stack.pop()

    def _first(self, node: Node) -> list[_Shape]:
        inner = node.value
        if inner.kind != "seq":
            return [_dynamic(node.loc)]
        found: list[_Shape] = []
        for option in inner.value:
            ways = self.shapes(option)
            found.extend(s for s in ways if s.value is not MISSING)
            if all(s.value is not MISSING and not s.dynamic for s in ways):
                break  # a constant: nothing after it is ever reached
        return found

    def _if(self, node: Node) -> list[_Shape]:
        inner = node.value
        if inner.kind != "map":
            return [_dynamic(node.loc)]
        then, otherwise = inner.get("then"), inner.get("else")
        present = inner.get("present")
        if present is not None:
            subject = compile_node(present, self.ctx)
            if isinstance(subject, Const):  # decided at load
                branch = then if subject.value is not MISSING else otherwise
                return self.shapes(branch) if branch is not None else []
        found: list[_Shape] = []
        for branch in (then, otherwise):
            if branch is not None:
                found.extend(self.shapes(branch))
        return found

    def _map(self, node: Node) -> list[_Shape]:
        keys = [k for k, child in node.value.items() if not is_deleted(child)]
        options = [self.shapes(node.value[k]) for k in keys]
        found: list[_Shape] = []
        for combination in _combinations(options):
            value: dict[str, Any] = {}
            locs: dict[str, Loc] = {"": node.loc}
            dynamic: set[str] = set()
            for key, shape in zip(keys, combination, strict=True):
                if shape.value is MISSING:
                    continue
                value[key] = shape.value
                more_locs, more_dynamic = _prefixed(shape, key)
                locs.update(more_locs)
                dynamic |= more_dynamic
            found.append(_Shape(MISSING if keys and not value else value, locs, frozenset(dynamic)))
        return found

    def _list(self, node: Node) -> list[_Shape]:
        options = [self.shapes(child) for child in node.value]
        found: list[_Shape] = []
        for combination in _combinations(options):
            value: list[Any] = []
            locs: dict[str, Loc] = {"": node.loc}
            dynamic: set[str] = set()
            for shape in combination:
                if shape.value is MISSING:
                    continue
                more_locs, more_dynamic = _prefixed(shape, len(value))
                value.append(shape.value)
                locs.update(more_locs)
                dynamic |= more_dynamic
            found.append(_Shape(value, locs, frozenset(dynamic)))
        return found


def _split(problem: str) -> tuple[str, str]:
    """A target's "/pointer: message" as (pointer, message); "(root)" is the empty pointer."""
    pointer, _, message = problem.partition(": ")
    return ("" if pointer == "(root)" else pointer), message


def _covered(pointer: str, dynamic: frozenset[str]) -> bool:
    """True when the problem is at or below a value an event decides."""
    if pointer in dynamic:
        return True
    parts = pointer.split("/")
    return any("/".join(parts[:n]) in dynamic for n in range(1, len(parts)))


def _located(pointer: str, locs: dict[str, Loc]) -> tuple[str, Loc]:
    """The deepest written node at or above `pointer`."""
    at = pointer
    while at not in locs:
        at = at.rpartition("/")[0]
    return at, locs[at]


def prove_statement(node: Node, ctx: CompileContext, *, event: str) -> None:
    """Check every shape the statement template `node` can build with the target's rules;
    report each problem that no event value can change to `ctx.issues`, at the YAML node that
    wrote the offending value (or the object missing a required part)."""
    seen = ctx._proof_reported
    for shape in _Walker(ctx).shapes(node):
        if type(shape.value) is not dict:
            continue
        statement = dict(shape.value)
        dynamic = shape.dynamic
        if "id" not in statement:  # the engine writes it (translator.statement_ids)
            statement["id"] = _EVENT_VALUE
            dynamic = dynamic | {"/id"}
        for problem in ctx.target.problems(statement):
            pointer, message = _split(problem)
            if _covered(pointer, dynamic):
                continue
            at, loc = _located(pointer, shape.locs)
            if at != pointer:
                rest = pointer[len(at) :]
                message = f"{rest} {message}" if message.startswith("is ") else f"{rest}: {message}"
            if (loc, message) in seen:  # a fragment's mistake, met again in another event
                continue
            seen.add((loc, message))
            if not loc.pointer.startswith(child_pointer("/events", event) + "/"):
                message += f" (in the statement of {event!r})"
            ctx.issues.add(loc, message)

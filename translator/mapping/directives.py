"""The directive registry: each YAML tag compiles, once, into a closure over the event."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from translator.mapping.contract import TargetRules
from translator.mapping.functions import FUNCTIONS, FunctionContext
from translator.mapping.nodes import Issues, Node
from translator.mapping.paths import PathSyntaxError, compile_path, compile_path_all
from translator.messages import did_you_mean
from translator.missing import MISSING

__all__ = [
    "DIRECTIVES",
    "CompileContext",
    "Compiled",
    "Const",
    "Evaluator",
    "IfParts",
    "TemplatePath",
    "call_parts",
    "compile_node",
    "evaluator",
    "if_parts",
    "is_deleted",
    "iterate_items",
    "list_arg",
    "plain_data",
    "same_value",
    "template_parts",
    "template_text",
]

Evaluator = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Const:
    """A node whose value is known at load time; it is shared, never mutated."""

    value: Any


Compiled = Const | Evaluator


@dataclass(slots=True)
class CompileContext:
    """What compiling needs: the vars, tables and fragments in force, the target statements are
    checked against, and where to report issues."""

    issues: Issues
    vars: Mapping[str, Any]
    tables: Mapping[str, Mapping[str, Any]]
    fragments: Mapping[str, Node]
    functions: FunctionContext
    target: TargetRules
    _fragment_cache: dict[str, Compiled] = field(default_factory=dict)
    _fragment_stack: list[str] = field(default_factory=list)
    _proof_reported: set[tuple[Any, str]] = field(default_factory=set)  # translator.mapping.proof


def evaluator(compiled: Compiled) -> Evaluator:
    """A callable for any compiled node (constants become a closure returning the value)."""
    if isinstance(compiled, Const):
        value = compiled.value
        return lambda _doc: value
    return compiled


def plain_data(node: Node) -> Any:
    """The data of a node that holds no directive (tables, vars)."""
    if node.kind == "map":
        return {k: plain_data(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [plain_data(v) for v in node.value]
    if node.kind == "tag":
        return MISSING
    return node.value


def compile_node(node: Node, ctx: CompileContext) -> Compiled:
    """Compile a node: raw data stays data, a tag goes through its directive in DIRECTIVES."""
    if node.kind == "tag":
        directive = DIRECTIVES.get(node.tag)
        if directive is None:
            ctx.issues.add(
                node.loc, f"unknown directive {node.tag}{did_you_mean(node.tag, DIRECTIVES)}"
            )
            return Const(MISSING)
        return directive(node, ctx)
    if node.kind == "map":
        return _compile_map(
            {k: compile_node(v, ctx) for k, v in node.value.items() if not is_deleted(v)}, node
        )
    if node.kind == "seq":
        return _compile_list([compile_node(v, ctx) for v in node.value])
    return Const(node.value)


def _compile_map(items: dict[str, Compiled], node: Node) -> Compiled:
    """A dict builder dropping MISSING values; an object left empty (but not `{}`) is MISSING."""
    constants = {
        k: c.value for k, c in items.items() if isinstance(c, Const) and c.value is not MISSING
    }
    dynamic = [(k, c) for k, c in items.items() if not isinstance(c, Const)]
    if not dynamic:
        if not constants and items:
            return Const(MISSING)
        return Const(constants)
    may_be_empty = not constants

    def build(doc: Any) -> Any:
        out = dict(constants)
        for key, fn in dynamic:
            value = fn(doc)
            if value is not MISSING:
                out[key] = value
        if may_be_empty and not out:
            return MISSING
        return out

    return build


def _compile_list(items: list[Compiled]) -> Compiled:
    if all(isinstance(c, Const) for c in items):
        return Const([c.value for c in items if isinstance(c, Const) and c.value is not MISSING])
    fns = [evaluator(c) for c in items]

    def build(doc: Any) -> Any:
        out = []
        for fn in fns:
            value = fn(doc)
            if value is not MISSING:
                out.append(value)
        return out

    return build


def _scalar_arg(node: Node, ctx: CompileContext, what: str) -> str | None:
    inner = node.value
    if inner.kind != "scalar" or not isinstance(inner.value, str):
        ctx.issues.add(node.loc, f"{node.tag} takes {what}")
        return None
    text: str = inner.value
    return text


def _map_arg(
    node: Node, ctx: CompileContext, *, required: set[str], optional: set[str]
) -> dict[str, Node] | None:
    """The keys of a directive written as a map, checking required and unknown keys."""
    inner = node.value
    if inner.kind != "map":
        ctx.issues.add(node.loc, f"{node.tag} takes a map with keys {sorted(required | optional)}")
        return None
    ok = True
    for key in inner.value:
        if key not in required and key not in optional:
            allowed = required | optional
            ctx.issues.add(node.loc, f"{node.tag}: unknown key {key!r}{did_you_mean(key, allowed)}")
            ok = False
    for key in sorted(required - inner.value.keys()):
        ctx.issues.add(node.loc, f"{node.tag}: missing key {key!r}")
        ok = False
    return dict(inner.value) if ok else None


def _path(node: Node, ctx: CompileContext) -> Compiled:
    path = _scalar_arg(node, ctx, "a JSONPath such as $.event.course_id")
    if path is None:
        return Const(MISSING)
    try:
        return compile_path(path.strip())
    except PathSyntaxError as exc:
        ctx.issues.add(node.loc, str(exc))
        return Const(MISSING)


def _paths(node: Node, ctx: CompileContext) -> Compiled:
    path = _scalar_arg(node, ctx, "a JSONPath such as $.event.answers.*")
    if path is None:
        return Const(MISSING)
    try:
        return compile_path_all(path.strip())
    except PathSyntaxError as exc:
        ctx.issues.add(node.loc, str(exc))
        return Const(MISSING)


def _template_text(value: Any) -> Any:
    """How a value is written inside a template; MISSING and null make the template MISSING."""
    if type(value) is str:
        return value
    if value is MISSING or value is None:
        return MISSING
    return orjson.dumps(value).decode()


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True, slots=True)
class TemplatePath:
    """A `{$...}` placeholder of a template."""

    path: str


def template_parts(node: Node, ctx: CompileContext) -> list[str | TemplatePath] | None:
    """A template split into literal text (vars already filled in) and paths, checked once.

    None when the template can never have a value (a var that is null).
    """
    text = _scalar_arg(node, ctx, "a template string")
    if text is None:
        return None
    parts: list[str | TemplatePath] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[position : match.start()]
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append(literal + token[0])
            continue
        parts.append(literal)
        expression = (match.group(1) or "").strip()
        if expression.startswith("$"):
            try:
                compile_path(expression)
            except PathSyntaxError as exc:
                ctx.issues.add(node.loc, str(exc))
                continue
            parts.append(TemplatePath(expression))
        elif expression.startswith("vars."):
            name = expression[5:]
            if name not in ctx.vars:
                ctx.issues.add(node.loc, f"unknown var {name!r}{did_you_mean(name, ctx.vars)}")
                continue
            value = _template_text(ctx.vars[name])
            if value is MISSING:
                return None
            parts.append(value)
        else:
            ctx.issues.add(
                node.loc,
                f"template placeholder {{{expression}}} must be a path ($...) or vars.NAME",
            )
    if "{" in text[position:] or "}" in text[position:]:
        ctx.issues.add(node.loc, "unbalanced brace in template (write {{ or }} for a brace)")
    parts.append(text[position:])
    merged: list[str | TemplatePath] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + part
        elif part != "":
            merged.append(part)
    return merged


def template_text(value: Any) -> Any:
    """How a value is written inside a template; MISSING and null make the template MISSING."""
    return _template_text(value)


def _tpl(node: Node, ctx: CompileContext) -> Compiled:
    parts = template_parts(node, ctx)
    if parts is None:
        return Const(MISSING)
    if all(isinstance(p, str) for p in parts):
        return Const("".join(p for p in parts if isinstance(p, str)))
    pieces = tuple(p if isinstance(p, str) else compile_path(p.path) for p in parts)

    def render(doc: Any) -> Any:
        out = []
        for piece in pieces:
            if type(piece) is str:
                out.append(piece)
            else:
                value = _template_text(piece(doc))  # type: ignore[operator]
                if value is MISSING:
                    return MISSING
                out.append(value)
        return "".join(out)

    return render


def list_arg(node: Node, ctx: CompileContext) -> list[Node] | None:
    """The nodes of a directive written over a non-empty list (`!first`, `!concat`), checked."""
    inner = node.value
    if inner.kind != "seq" or not inner.value:
        ctx.issues.add(node.loc, f"{node.tag} takes a non-empty list")
        return None
    items: list[Node] = inner.value
    return items


def _concat(node: Node, ctx: CompileContext) -> Compiled:
    parts = list_arg(node, ctx)
    if parts is None:
        return Const(MISSING)
    fns = [evaluator(compile_node(part, ctx)) for part in parts]

    def concat(doc: Any) -> Any:
        out = []
        for fn in fns:
            text = _template_text(fn(doc))
            if text is MISSING:
                return MISSING
            out.append(text)
        return "".join(out)

    return concat


def _var(node: Node, ctx: CompileContext) -> Compiled:
    name = _scalar_arg(node, ctx, "a var name")
    if name is None:
        return Const(MISSING)
    if name not in ctx.vars:
        ctx.issues.add(node.loc, f"unknown var {name!r}{did_you_mean(name, ctx.vars)}")
        return Const(MISSING)
    return Const(ctx.vars[name])


def _first(node: Node, ctx: CompileContext) -> Compiled:
    options = list_arg(node, ctx)
    if options is None:
        return Const(MISSING)
    fns: list[Evaluator] = []
    for option in (compile_node(v, ctx) for v in options):
        if isinstance(option, Const):
            if option.value is not MISSING:
                fns.append(evaluator(option))
                break  # nothing after a constant can be reached
            continue
        fns.append(option)

    def first(doc: Any) -> Any:
        for fn in fns:
            value = fn(doc)
            if value is not MISSING:
                return value
        return MISSING

    return first


@dataclass(frozen=True, slots=True)
class IfParts:
    """`!if`: a `present` subject or an `equals` pair, and the optional branches."""

    present: Node | None
    equals: tuple[Node, Node] | None
    then: Node | None
    otherwise: Node | None


def if_parts(node: Node, ctx: CompileContext) -> IfParts | None:
    """The parts of `!if`, checked."""
    args = _map_arg(node, ctx, required=set(), optional={"present", "equals", "then", "else"})
    if args is None:
        return None
    if ("present" in args) == ("equals" in args):
        ctx.issues.add(node.loc, "!if takes exactly one test: 'present' or 'equals'")
        return None
    equals = None
    if "equals" in args:
        pair = args["equals"]
        if pair.kind != "seq" or len(pair.value) != 2:
            ctx.issues.add(pair.loc, "'equals' takes a list of two values")
            return None
        equals = (pair.value[0], pair.value[1])
    return IfParts(args.get("present"), equals, args.get("then"), args.get("else"))


def same_value(a: Any, b: Any) -> bool:
    """`equals` of `!if`: both present, same JSON type, equal (so 1 is not true, nor 1.0)."""
    return a is not MISSING and b is not MISSING and type(a) is type(b) and a == b


def _if(node: Node, ctx: CompileContext) -> Compiled:
    parts = if_parts(node, ctx)
    if parts is None:
        return Const(MISSING)
    then_fn = evaluator(compile_node(parts.then, ctx)) if parts.then is not None else None
    else_fn = evaluator(compile_node(parts.otherwise, ctx)) if parts.otherwise is not None else None
    test: Callable[[Any], bool]
    if parts.present is not None:
        subject = evaluator(compile_node(parts.present, ctx))

        def test(doc: Any) -> bool:
            return subject(doc) is not MISSING

    else:
        assert parts.equals is not None
        left = evaluator(compile_node(parts.equals[0], ctx))
        right = evaluator(compile_node(parts.equals[1], ctx))

        def test(doc: Any) -> bool:
            return same_value(left(doc), right(doc))

    def choose(doc: Any) -> Any:
        branch = then_fn if test(doc) else else_fn
        return MISSING if branch is None else branch(doc)

    return choose


def _key_text(value: Any) -> str | None:
    """A lookup key as text, the way YAML table keys are written (`true`, `3`, `audit`)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float) or value is None:
        return orjson.dumps(value).decode()
    return None


def _lookup(node: Node, ctx: CompileContext) -> Compiled:
    args = _map_arg(node, ctx, required={"value", "table"}, optional={"default"})
    if args is None:
        return Const(MISSING)
    table_node = args["table"]
    table: Mapping[str, Any]
    if table_node.kind == "map":
        table = plain_data(table_node)
    elif table_node.kind == "scalar" and isinstance(table_node.value, str):
        found = ctx.tables.get(table_node.value)
        if found is None:
            ctx.issues.add(
                table_node.loc,
                f"unknown table {table_node.value!r}{did_you_mean(table_node.value, ctx.tables)}",
            )
            return Const(MISSING)
        table = found
    else:
        ctx.issues.add(table_node.loc, "'table' is a table name or an inline map")
        return Const(MISSING)
    subject = evaluator(compile_node(args["value"], ctx))
    default = evaluator(compile_node(args["default"], ctx)) if "default" in args else None

    def lookup(doc: Any) -> Any:
        value = subject(doc)
        if value is MISSING:
            return MISSING
        key = _key_text(value)
        if key is not None and key in table:
            return table[key]
        return MISSING if default is None else default(doc)

    return lookup


def call_parts(node: Node, ctx: CompileContext) -> tuple[Callable[..., Any], list[Node]] | None:
    """The bound built-in function of `!call` and its argument nodes, checked."""
    args = _map_arg(node, ctx, required={"fn"}, optional={"args"})
    if args is None:
        return None
    name_node = args["fn"]
    name = name_node.value if name_node.kind == "scalar" else None
    if not isinstance(name, str) or name not in FUNCTIONS:
        ctx.issues.add(
            name_node.loc, f"unknown function {name!r}{did_you_mean(str(name), FUNCTIONS)}"
        )
        return None
    spec = FUNCTIONS[name]
    arg_nodes: list[Node] = []
    if "args" in args:
        if args["args"].kind != "seq":
            ctx.issues.add(args["args"].loc, "'args' is a list")
            return None
        arg_nodes = list(args["args"].value)
    if not spec.min_args <= len(arg_nodes) <= spec.max_args:
        expected = (
            str(spec.min_args)
            if spec.min_args == spec.max_args
            else f"{spec.min_args} to {spec.max_args}"
        )
        ctx.issues.add(node.loc, f"{name} takes {expected} argument(s), got {len(arg_nodes)}")
        return None
    return ctx.functions.function(name), arg_nodes


def _call(node: Node, ctx: CompileContext) -> Compiled:
    parts = call_parts(node, ctx)
    if parts is None:
        return Const(MISSING)
    fn, arg_nodes = parts
    arg_fns = [evaluator(compile_node(a, ctx)) for a in arg_nodes]
    if len(arg_fns) == 1:
        (only,) = arg_fns

        def call1(doc: Any) -> Any:
            value = only(doc)
            return MISSING if value is MISSING else fn(value)

        return call1

    def call(doc: Any) -> Any:
        values = [a(doc) for a in arg_fns]
        if any(v is MISSING for v in values):
            return MISSING
        return fn(*values)

    return call


def _ref(node: Node, ctx: CompileContext) -> Compiled:
    name = _scalar_arg(node, ctx, "a fragment name")
    if name is None:
        return Const(MISSING)
    if name in ctx._fragment_cache:
        return ctx._fragment_cache[name]
    fragment = ctx.fragments.get(name)
    if fragment is None:
        ctx.issues.add(node.loc, f"unknown fragment {name!r}{did_you_mean(name, ctx.fragments)}")
        return Const(MISSING)
    if name in ctx._fragment_stack:
        chain = " -> ".join([*ctx._fragment_stack, name])
        ctx.issues.add(node.loc, f"fragment cycle: {chain}")
        return Const(MISSING)
    ctx._fragment_stack.append(name)
    try:
        compiled = compile_node(fragment, ctx)
    finally:
        ctx._fragment_stack.pop()
    ctx._fragment_cache[name] = compiled
    return compiled


def _each(node: Node, ctx: CompileContext) -> Compiled:
    args = _map_arg(node, ctx, required={"over", "value"}, optional=set())
    if args is None:
        return Const(MISSING)
    over = evaluator(compile_node(args["over"], ctx))
    value_fn = evaluator(compile_node(args["value"], ctx))

    def each(doc: Any) -> Any:
        collection = over(doc)
        if collection is MISSING:
            return MISSING
        out = []
        for item in iterate_items(collection):
            value = value_fn({**doc, "item": item})
            if value is not MISSING:
                out.append(value)
        return out

    return each


def iterate_items(collection: Any) -> list[dict[str, Any]]:
    """The items `!each` and `children` walk: an object's pairs in order, or a list's values."""
    if type(collection) is dict:
        return [{"key": k, "value": v, "index": i} for i, (k, v) in enumerate(collection.items())]
    if type(collection) is list:
        return [{"key": i, "value": v, "index": i} for i, v in enumerate(collection)]
    return []


def is_deleted(node: Node) -> bool:
    """A map value written `!delete`: the key is left out (no overlay merge consumed it)."""
    return node.kind == "tag" and node.tag == "!delete"


def _replace(node: Node, ctx: CompileContext) -> Compiled:
    """`!replace X` or `!merge X` that no merge consumed is X itself."""
    return compile_node(node.value, ctx)


def _extend(node: Node, ctx: CompileContext) -> Compiled:
    """`!append [...]` or `!prepend [...]`: the list (with what it was merged into, if any)."""
    if node.value.kind != "seq":
        ctx.issues.add(node.loc, f"{node.tag} takes a list (the items to add)")
        return Const(MISSING)
    return compile_node(node.value, ctx)


def _misplaced(node: Node, ctx: CompileContext) -> Compiled:
    where = "a value of a map" if node.tag == "!delete" else "an event entry of a mapping file"
    ctx.issues.add(node.loc, f"{node.tag} is only meaningful as {where}")
    return Const(MISSING)


DIRECTIVES: Mapping[str, Callable[[Node, CompileContext], Compiled]] = {
    "!path": _path,
    "!paths": _paths,
    "!tpl": _tpl,
    "!concat": _concat,
    "!var": _var,
    "!first": _first,
    "!if": _if,
    "!lookup": _lookup,
    "!call": _call,
    "!ref": _ref,
    "!each": _each,
    "!replace": _replace,
    "!merge": _replace,
    "!append": _extend,
    "!prepend": _extend,
    "!delete": _misplaced,
    "!disable": _misplaced,
    "!new": _misplaced,
}

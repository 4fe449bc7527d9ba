"""Compiles a statement template into one generated Python function: the hot path's builder.

Closures per node (directives.py) cost a call for every object and path of every statement.
Here the template's objects, lists, constants and plain paths become straight-line code in
one function; other directives stay the closures `compile_node` makes and are called from it.
The generated source never contains text from a mapping file as code: keys and values are
bound as names in the function's namespace, so a mapping cannot inject code (ADR 0003). Mapping
text appears only in end-of-line comments (the JSON pointer and YAML location of each placed
value, the path a read follows), escaped so that it can never end the comment's line.

Each builder keeps its source (GeneratedCode), registered with `linecache` under the file name
given to `compile()`, so a traceback through a builder shows the generated line; each line also
knows the field and YAML node it builds, which `failure_origin` reads off a traceback.
"""

from __future__ import annotations

import functools
import linecache
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, Final

from translator.mapping.contract import ABSENT, DYNAMIC
from translator.mapping.directives import (
    CompileContext,
    Const,
    TemplatePath,
    call_parts,
    compile_node,
    if_parts,
    is_deleted,
    list_arg,
    same_value,
    template_parts,
    template_text,
)
from translator.mapping.nodes import LIST_MARKERS, MERGE_MARKERS, Loc, Node, child_pointer
from translator.mapping.paths import compile_path, plain_steps
from translator.missing import MISSING

__all__ = [
    "SKIP",
    "CheckedTemplate",
    "GeneratedCode",
    "Origin",
    "RequiredMissing",
    "Template",
    "compile_statement",
    "compile_template",
    "failure_origin",
]


Code = tuple[str, bool]  # an expression, and whether it may be MISSING
# Python compiles at most 100 levels of indentation; a template nested beyond this many blocks is
# a mapping error at load (a builder is compiled only at its first call, see _STUB).
_MAX_DEPTH: Final = 90


def _printable(text: str) -> str:
    """`text` safe inside a comment or a file name: anything Python, linecache or a terminal
    could take as a line break or a control (newline, \\u2028, escape, NUL) is written escaped."""
    if text.isprintable():  # nearly always: the one test costs less than the walk below
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _path_text(steps: Sequence[str | int]) -> str:
    """A plain path written back as JSONPath, for a comment (escaped by `emit`)."""
    return "$" + "".join(
        f"[{s}]" if isinstance(s, int) else f".{s}" if s.isidentifier() else f"[{s!r}]"
        for s in steps
    )


@dataclass(frozen=True, slots=True)
class Origin:
    """What a generated line builds: a field (a JSON pointer in the built value, or what the
    builder tests first, such as `skip_unless`) and the YAML node it comes from."""

    field: str
    loc: Loc

    def __str__(self) -> str:
        return f"{self.field or '(top)'} ({self.loc})"


@dataclass(frozen=True, slots=True)
class GeneratedCode:
    """One builder's source as compiled, under `filename` (also its linecache key), and the
    origin of each line (`origins[n - 1]` for line n; None for the generator's own lines)."""

    filename: str
    source: str
    origins: tuple[Origin | None, ...]

    def origin_at(self, line: int) -> Origin | None:
        """The field and YAML node that line `line` of the source builds, if any."""
        return self.origins[line - 1] if 0 < line <= len(self.origins) else None


_CODE_NAME: Final = "__generated_code__"  # where a builder's globals hold its GeneratedCode


def failure_origin(exc: BaseException) -> Origin | None:
    """The field and YAML node being built where `exc` left the innermost generated builder on
    its traceback; None when it did not pass through one. Read only after a failure: the hot
    path pays nothing for it."""
    found: Origin | None = None
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_globals.get(_CODE_NAME)
        if isinstance(code, GeneratedCode) and tb.tb_frame.f_code.co_filename == code.filename:
            found = code.origin_at(tb.tb_lineno) or found
        tb = tb.tb_next
    return found


class _Generator:
    """Emits the body of `build(doc)`; each emitted value is an expression over bound names."""

    def __init__(self, ctx: CompileContext, *, checked: bool = False) -> None:
        self.ctx = ctx
        # In checked mode (statements) the function also returns which optional parts were
        # there (a bit mask) and whether an event value failed the rule of its place.
        self.checked = checked
        self.path: list[str] = []  # keys, "*" for list items: what the target's rules read
        self.pointer = ""  # the JSON pointer of the value being written, for comments and origins
        # What the lines being written build, kept per line for failure_origin; `section` names
        # what the builder tests before the statement (skip_unless).
        self.section = ""
        self.origin: Origin | None = None
        self.origins: list[Origin | None] = []
        self.transparent: set[str] = set()  # names holding objects built here, leaves checked
        self.provable = True
        self.relations_dynamic = False
        # The map node written last at each path: what `constant_at` reads (see contract.py).
        self._maps: dict[tuple[str, ...], Node] = {}
        self._bits = 0
        self.lines: list[str] = []
        self.depth = 1
        # Fragments already evaluated in the block being written (and the blocks around it):
        # a second `!ref` to the same fragment reuses the variable instead of recomputing it.
        self._memo: list[dict[str, Code | Const]] = [{}]
        self._memo_path: list[dict[str, tuple[str, ...]]] = [{}]
        # Paths already read in the block being written (and the blocks around it), by their
        # steps: the event does not change while a statement is built, so one read serves all.
        self._reads: list[dict[tuple[str | int, ...], str]] = [{}]
        self._too_deep = False
        self.namespace: dict[str, Any] = {"MISSING": MISSING, "_dict": dict, "_list": list}
        self._count = 0
        self._handlers: dict[str, Callable[[Node], Code | Const]] = {
            "!ref": self._ref,
            "!path": self._path_directive,
            "!tpl": self._template,
            "!concat": self._concat,
            "!call": self._call,
            "!first": self._first,
            "!if": self._if,
        }

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def bind(self, value: Any) -> str:
        """A name in the namespace holding `value` (a constant or a closure)."""
        name = self._name("_k")
        self.namespace[name] = value
        return name

    def emit(self, line: str, comment: str = "") -> None:
        """Write one line; `comment` (which may hold mapping text) is escaped onto its end."""
        text = "    " * self.depth + line
        if comment:
            text += "  # " + _printable(comment)
        self.lines.append(text)
        self.origins.append(self.origin)

    def where(self, loc: Loc, pointer: str | None = None) -> str:
        """A comment naming a value's place in the built value and the YAML node behind it."""
        return f"{(self.pointer if pointer is None else pointer) or '(top)'} <- {loc}"

    def bit(self) -> int:
        """A new bit of the mask: set when an optional part is present or a branch is taken."""
        self._bits += 1
        return 1 << (self._bits - 1)

    def mark(self) -> None:
        """Record, in checked mode, that the code being written runs for this statement."""
        if self.checked:
            self.emit(f"_mask |= {self.bit()}")

    def constant_at(self, path: tuple[str, ...]) -> Any:
        """The constant the template writes at `path`, ABSENT, or DYNAMIC (contract.ConstantAt)."""
        parent = self._maps.get(path[:-1]) if path else None
        if parent is None:
            return DYNAMIC
        child = parent.value.get(path[-1])
        if child is None or is_deleted(child):
            return ABSENT
        return child.value if child.kind == "scalar" else DYNAMIC

    def check_leaf(self, name: str, path: tuple[str, ...]) -> None:
        """Check an event value placed at `path` with the rule of that place (checked mode)."""
        if not self.checked:
            return
        place = self.ctx.target.place(path, self.constant_at)
        if place is None:
            self.provable = False  # not a place a rule covers: check statements whole
            return
        if place.related:
            self.relations_dynamic = True
        if place.rule is not None:
            self.emit(f"if not {self.bind(place.rule)}({name}): _suspect = True")

    @contextmanager
    def expression(self) -> Iterator[None]:
        """Write code whose value feeds a directive (an argument, a test) and is not placed in
        the statement: no leaf checks, and nothing built there counts as checked."""
        saved = self.checked
        self.checked = False
        try:
            yield
        finally:
            self.checked = saved

    def is_transparent(self, code: Code | Const) -> bool:
        return isinstance(code, Const) or code[0] in self.transparent

    def open_block(self) -> None:
        """Write into a nested block: what is computed there is not known after it."""
        self.depth += 1
        self._memo.append(dict(self._memo[-1]))
        self._memo_path.append(dict(self._memo_path[-1]))
        self._reads.append(dict(self._reads[-1]))

    def close_blocks(self, count: int) -> None:
        for _ in range(count):
            self.depth -= 1
            self._memo.pop()
            self._memo_path.pop()
            self._reads.pop()

    def value(self, node: Node) -> Code | Const:
        """Code for `node`: (expression, may be MISSING), or a Const known at load."""
        if self.depth > _MAX_DEPTH and not self._too_deep:
            self._too_deep = True  # said once, where it happens first
            self.ctx.issues.add(
                node.loc,
                f"nested too deeply: the builder would need more than {_MAX_DEPTH} levels of "
                "blocks (each !if, !first and optional part opens one): nest fewer of them",
            )
        saved = self.origin
        self.origin = Origin(self.section or self.pointer, node.loc)
        try:
            return self._value(node)
        finally:
            self.origin = saved

    def _value(self, node: Node) -> Code | Const:
        if node.kind == "scalar":
            return Const(node.value)
        if node.kind == "map":
            return self._map(node)
        if node.kind == "seq":
            return self._list(node)
        if node.tag in MERGE_MARKERS and (node.tag not in LIST_MARKERS or node.value.kind == "seq"):
            # what no overlay merge consumed is the subtree itself (`!append 3`: the closure
            # reports it)
            return self.value(node.value)
        handler = self._handlers.get(node.tag)
        if handler is not None:
            return handler(node)
        return self._closure(node)

    def _closure(self, node: Node) -> Code | Const:
        compiled = compile_node(node, self.ctx)
        if isinstance(compiled, Const):
            return compiled
        return f"{self.bind(compiled)}(doc)", True

    def _materialise(self, code: Code | Const, comment: str = "") -> str:
        """A name holding the value, so that it can be tested and used without re-evaluation."""
        if isinstance(code, Const):
            return self.bind(code.value)
        expression, _ = code
        target = self._name("_v")
        self.emit(f"{target} = {expression}", comment)
        return target

    def _path_directive(self, node: Node) -> Code | Const:
        inner = node.value
        if inner.kind == "scalar" and isinstance(inner.value, str):
            steps = plain_steps(inner.value.strip())
            if steps is not None:
                return self._path(steps)
        return self._closure(node)

    def _path(self, steps: list[str | int]) -> Code:
        known = self._reads[-1].get(tuple(steps))
        if known is not None:
            return known, True
        target = self._name("_p")
        self._reads[-1][tuple(steps)] = target
        self.emit(f"{target} = doc", _path_text(steps))
        for step in steps:
            key = self.bind(step)
            if isinstance(step, int):
                self.emit(
                    f"{target} = {target}[{key}] if type({target}) is _list and "
                    f"-len({target}) <= {key} < len({target}) else MISSING"
                )
            else:
                self.emit(
                    f"{target} = {target}.get({key}, MISSING) if type({target}) is _dict "
                    "else MISSING"
                )
        return target, True

    def _ref(self, node: Node) -> Code | Const:
        inner = node.value
        name = inner.value if inner.kind == "scalar" and isinstance(inner.value, str) else None
        fragment = self.ctx.fragments.get(name) if name is not None else None
        if name is None or fragment is None or name in self.ctx._fragment_stack:
            return self._closure(node)  # reports the problem once, with its location
        known = self._memo[-1].get(name)
        if known is not None and not (
            self.checked
            and self.is_transparent(known)
            and self._memo_path[-1].get(name) != tuple(self.path)
        ):
            return known
        self.ctx._fragment_stack.append(name)
        try:
            code = self.value(fragment)
        finally:
            self.ctx._fragment_stack.pop()
        if not isinstance(code, Const):
            transparent = code[0] in self.transparent
            code = self._materialise(code, f"!ref {name}"), code[1]
            if transparent:
                self.transparent.add(code[0])
        self._memo[-1][name] = code
        self._memo_path[-1][name] = tuple(self.path)
        return code

    def _joined_text(self, producers: list[Callable[[], Code | Const]]) -> Code:
        """Text made of parts, each written only when the parts before it had a value: a
        MISSING or null part makes the whole text MISSING (`!tpl`, `!concat`)."""
        result = self._name("_s")
        self.emit(f"{result} = MISSING")
        pieces: list[str] = []
        opened = 0
        to_text = self.bind(template_text)
        for produce in producers:
            code = produce()
            if isinstance(code, Const):
                text = template_text(code.value)
                if text is MISSING:  # a part that is never there: never a value
                    break
                pieces.append(self.bind(text))
                continue
            piece = self._materialise(code)
            self.emit(f"if type({piece}) is not str: {piece} = {to_text}({piece})")
            self.emit(f"if {piece} is not MISSING:")
            self.open_block()
            opened += 1
            pieces.append(piece)
        else:
            self.emit(f"{result} = " + " + ".join(pieces))
        self.close_blocks(opened)
        return result, True

    def _template(self, node: Node) -> Code | Const:
        parts = template_parts(node, self.ctx)
        if parts is None:
            return Const(MISSING)
        if all(isinstance(p, str) for p in parts):
            return Const("".join(p for p in parts if isinstance(p, str)))
        return self._joined_text([functools.partial(self._template_part, part) for part in parts])

    def _template_part(self, part: str | TemplatePath) -> Code | Const:
        if isinstance(part, str):
            return Const(part)
        steps = plain_steps(part.path)
        if steps is not None:
            return self._path(steps)
        return f"{self.bind(compile_path(part.path))}(doc)", True

    def _concat(self, node: Node) -> Code | Const:
        parts = list_arg(node, self.ctx)
        if parts is None:
            return Const(MISSING)
        return self._joined_text([functools.partial(self._argument, part) for part in parts])

    def _argument(self, node: Node) -> Code | Const:
        """The value of a directive's argument: not placed in the statement."""
        with self.expression():
            return self.value(node)

    def _call(self, node: Node) -> Code | Const:
        parts = call_parts(node, self.ctx)
        if parts is None:
            return Const(MISSING)
        fn, arg_nodes = parts
        fn_name = node.value.value["fn"].value  # call_parts checked it names a function
        result = self._name("_r")
        self.emit(f"{result} = MISSING")
        arguments: list[str] = []
        opened = 0
        for arg_node in arg_nodes:
            code = self._argument(arg_node)
            if isinstance(code, Const):
                if code.value is MISSING:  # the call can never happen
                    self.close_blocks(opened)
                    return result, True
                arguments.append(self.bind(code.value))
                continue
            name = self._materialise(code)
            if code[1]:
                self.emit(f"if {name} is not MISSING:")
                self.open_block()
                opened += 1
            arguments.append(name)
        self.emit(f"{result} = {self.bind(fn)}({', '.join(arguments)})", f"!call {fn_name}")
        self.close_blocks(opened)
        return result, True

    def _first(self, node: Node) -> Code | Const:
        options = list_arg(node, self.ctx)
        if options is None:
            return Const(MISSING)
        result = self._name("_f")
        self.emit(f"{result} = MISSING")
        opened = 0
        transparent = True
        for option in options:
            mark = len(self.lines)
            code = self.value(option)
            if isinstance(code, Const):
                if code.value is MISSING:
                    continue
                self.emit(f"{result} = {self.bind(code.value)}")
                self.mark()
                break  # nothing after a constant can be reached
            expression, may_be_missing = code
            transparent = transparent and expression in self.transparent
            self.emit(f"{result} = {expression}")
            if self.checked:
                self.emit(f"if {result} is not MISSING: _mask |= {self.bit()}")
            if not may_be_missing:
                break
            if len(self.lines) > mark:
                self.emit(f"if {result} is MISSING:")
                self.open_block()
                opened += 1
                self.emit("pass")
        self.close_blocks(opened)
        if transparent and self.checked:
            self.transparent.add(result)
        return result, True

    def _if(self, node: Node) -> Code | Const:
        parts = if_parts(node, self.ctx)
        if parts is None:
            return Const(MISSING)
        if parts.present is not None:
            subject = self._argument(parts.present)
            if isinstance(subject, Const):
                branch = parts.then if subject.value is not MISSING else parts.otherwise
                return Const(MISSING) if branch is None else self.value(branch)
            condition = f"{self._materialise(subject)} is not MISSING"
        else:
            assert parts.equals is not None
            left = self._materialise(self._argument(parts.equals[0]))
            right = self._materialise(self._argument(parts.equals[1]))
            condition = f"{self.bind(same_value)}({left}, {right})"
        result = self._name("_i")
        self.emit(f"{result} = MISSING")
        self.emit(f"if {condition}:")
        transparent = self._branch(result, parts.then)
        self.emit("else:")
        transparent = self._branch(result, parts.otherwise) and transparent
        if transparent and self.checked:
            self.transparent.add(result)
        return result, True

    def _branch(self, result: str, node: Node | None) -> bool:
        """Write one branch of `!if`; True when its value is built here or constant."""
        self.open_block()
        self.emit("pass")
        self.mark()
        transparent = True
        if node is not None:
            code = self.value(node)
            transparent = self.is_transparent(code)
            expression = self.bind(code.value) if isinstance(code, Const) else code[0]
            self.emit(f"{result} = {expression}")
        self.close_blocks(1)
        return transparent

    def _child(self, key: str, step: str | int, node: Node) -> Code | Const:
        """The value of a child, written with `key` on the path (`step` on the pointer)."""
        self.path.append(key)
        saved = self.pointer
        self.pointer = child_pointer(saved, step)
        try:
            return self.value(node)
        finally:
            self.path.pop()
            self.pointer = saved

    def _place(
        self, target: str, key: str, step: str | int, node: Node, part: Code, store: str
    ) -> None:
        """Write a dynamic part into its object or list: mask bit and leaf check included."""
        expression, may_be_missing = part
        leaf = self.checked and expression not in self.transparent
        path = (*self.path, key)
        where = self.where(node.loc, child_pointer(self.pointer, step))
        if not may_be_missing and not leaf:
            self.emit(store.format(target=target, value=expression), where)
            return
        value = self._materialise(part)
        if may_be_missing:
            self.emit(f"if {value} is not MISSING:")
            self.open_block()
            self.mark()
        self.emit(store.format(target=target, value=value), where)
        if leaf:
            self.check_leaf(value, path)
        if may_be_missing:
            self.close_blocks(1)

    def _map(self, node: Node) -> Code | Const:
        self._maps[tuple(self.path)] = node
        parts = {
            key: self._child(key, key, child)
            for key, child in node.value.items()
            if not is_deleted(child)
        }
        constants = {
            k: p.value for k, p in parts.items() if isinstance(p, Const) and p.value is not MISSING
        }
        dynamic = [(k, p) for k, p in parts.items() if not isinstance(p, Const)]
        if not dynamic:
            if not constants and parts:
                return Const(MISSING)
            return Const(constants)
        target = self._name("_m")
        where = self.where(node.loc)
        if constants:
            where += " with " + ", ".join(constants)
            self.emit(f"{target} = _dict({self.bind(constants)})", where)
        else:
            self.emit(f"{target} = {{}}", where)
        always_present = bool(constants)
        for key, part in dynamic:
            assert not isinstance(part, Const)
            always_present = always_present or not part[1]
            store = f"{{target}}[{self.bind(key)}] = {{value}}"
            self._place(target, key, key, node.value[key], part, store)
        if self.checked:
            self.transparent.add(target)
        if always_present:
            return target, False
        self.emit(f"if not {target}: {target} = MISSING")
        return target, True

    def _list(self, node: Node) -> Code | Const:
        parts = [self._child("*", index, child) for index, child in enumerate(node.value)]
        if all(isinstance(p, Const) for p in parts):
            return Const(
                [p.value for p in parts if isinstance(p, Const) and p.value is not MISSING]
            )
        target = self._name("_l")
        self.emit(f"{target} = []", self.where(node.loc))
        for index, (child, part) in enumerate(zip(node.value, parts, strict=True)):
            if isinstance(part, Const):
                if part.value is not MISSING:
                    where = self.where(child.loc, child_pointer(self.pointer, index))
                    self.emit(f"{target}.append({self.bind(part.value)})", where)
                continue
            self._place(target, "*", index, child, part, "{target}.append({value})")
        if self.checked:
            self.transparent.add(target)
        return target, False


def _finish(
    generator: _Generator, head: Sequence[str], result: str, *, name: str, loc: Loc
) -> tuple[Callable[[Any], Any], GeneratedCode]:
    """Compile `def build(doc):` from the head lines, the generated body and the return line,
    and register its source with linecache under a file name naming the mapping and node."""
    lines = ["def build(doc):", *head, *(generator.lines or ["    pass"]), f"    return {result}"]
    origins = (None, *[None] * len(head), *(generator.origins or [None]), None)
    source = "\n".join(lines) + "\n"
    filename = _register(_printable(f"<mapping {name} at {loc}>"), source)
    generated = GeneratedCode(filename, source, origins)
    generator.namespace[_CODE_NAME] = generated
    return _compiled_on_first_call(source, filename, generator.namespace), generated


# A plan holds a few hundred builders and a log uses a handful of them, so compiling each one
# is left to its first call: most of a plan's load time went to compile(). The builder handed
# out is a stub sharing the builder's namespace; its first call compiles the source and gives
# the stub the builder's code, so every later call runs the builder itself, at no extra cost.
_STUB: Final = compile("def build(doc):\n    return __compile_builder__()(doc)\n", "<stub>", "exec")


def _compiled_on_first_call(
    source: str, filename: str, namespace: dict[str, Any]
) -> Callable[[Any], Any]:
    """`def build(doc)` of `source`, compiled when first called (see _STUB)."""

    def compile_builder() -> Callable[[Any], Any]:
        exec(compile(source, filename, "exec"), namespace)  # our fixed shapes: module doc
        builder: Callable[[Any], Any] = namespace["build"]
        stub.__code__ = builder.__code__
        return builder

    exec(_STUB, namespace)
    stub: FunctionType = namespace["build"]
    namespace["__compile_builder__"] = compile_builder
    return stub


def _register(filename: str, source: str) -> str:
    """Put `source` in linecache under `filename`, or under a numbered variant of it when that
    name already holds another source (the same mapping loaded again with other overlays)."""
    lines = source.splitlines(keepends=True)
    candidate, number = filename, 1
    while True:
        entry = linecache.cache.get(candidate)
        if entry is None or (len(entry) == 4 and entry[2] == lines):
            # mtime None: checkcache keeps the entry, as it does for sources of __loader__s
            linecache.cache[candidate] = (len(source), None, lines, candidate)
            return candidate
        number += 1
        candidate = f"{filename[:-1]} #{number}>"


@dataclass(frozen=True, slots=True)
class Template:
    """A compiled template: `build(doc)` gives its value for one document (a fresh top-level
    object); `code` is the generated source behind it (explain --code, tracebacks)."""

    build: Callable[[Any], Any]
    code: GeneratedCode


@dataclass(frozen=True, slots=True)
class CheckedTemplate:
    """A statement builder that knows which of its statements are already proven valid.

    `build(doc)` returns (statement, mask, suspect). A statement whose mask was seen in a
    statement that passed the target's whole check, and whose event values all passed the rules
    of their places (not suspect), differs from it only in those values: its shape and constants
    are proven. `provable` is False when some event value lands where no rule applies;
    `relations_dynamic` says the rules across fields must be checked per statement.
    """

    build: Callable[[Any], tuple[Any, int, bool]]
    provable: bool
    relations_dynamic: bool
    code: GeneratedCode | None = None  # None only for the placeholder of a broken mapping
    proven_masks: set[int] = field(default_factory=set)


def compile_template(node: Node, ctx: CompileContext, *, name: str = "template") -> Template:
    """Compile a template into a generated builder; `name` (the event mapping and part) goes
    into the file name its tracebacks show.

    Problems (unknown directives, bad paths, ...) are reported to `ctx.issues` as usual.
    """
    generator = _Generator(ctx)
    result = generator.value(node)
    if isinstance(result, Const):
        constant = generator.bind(result.value)
        expression = f"_dict({constant})" if type(result.value) is dict else constant
    else:
        expression = result[0]
    build, code = _finish(generator, (), expression, name=name, loc=node.loc)
    return Template(build, code)


SKIP: Final[Any] = object()  # what `build` returns instead of a statement when skip_unless fails


@dataclass(frozen=True, slots=True)
class RequiredMissing:
    """What `build` returns instead of a statement when a required path is missing."""

    path: str


def compile_statement(
    node: Node,
    ctx: CompileContext,
    *,
    name: str = "statement",
    skip_unless: Node | None = None,
    required: Sequence[str] = (),
) -> CheckedTemplate:
    """Compile a statement template in checked mode (see CheckedTemplate).

    The event mapping's `skip_unless` value and `require` paths are tested first, in the same
    function, so the fragments they read (the user id) are not computed twice; `build` then
    returns SKIP or a RequiredMissing instead of a statement.
    """
    generator = _Generator(ctx, checked=True)
    if skip_unless is not None:
        generator.section = "skip_unless"
        subject = generator._materialise(generator._argument(skip_unless))
        skip = generator.bind(SKIP)
        generator.emit(
            f"if {subject} is MISSING or {subject} is None: return {skip}, 0, False",
            f"skip_unless <- {skip_unless.loc}",
        )
    for path in required:
        steps = plain_steps(path)
        code: Code = (
            generator._path(steps)
            if steps is not None
            else (
                f"{generator.bind(compile_path(path))}(doc)",
                True,
            )
        )
        value = generator._materialise(code)
        missing = generator.bind(RequiredMissing(path))
        generator.emit(f"if {value} is MISSING: return {missing}, 0, False", f"require {path}")
    generator.section = ""
    result = generator.value(node)
    if isinstance(result, Const):
        constant = generator.bind(result.value)
        expression = f"_dict({constant})" if type(result.value) is dict else constant
    else:
        expression = result[0]
    build, generated = _finish(
        generator,
        ("    _mask = 0", "    _suspect = False"),
        f"{expression}, _mask, _suspect",
        name=name,
        loc=node.loc,
    )
    return CheckedTemplate(
        build,
        provable=generator.provable,
        relations_dynamic=generator.relations_dynamic,
        code=generated,
    )

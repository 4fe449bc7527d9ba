"""Mapping files as located node trees: YAML composed (never constructed), with provenance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from translator.errors import MappingIssue

__all__ = [
    "LIST_MARKERS",
    "MERGE_MARKERS",
    "Issues",
    "Loc",
    "Node",
    "child_pointer",
    "load_yaml_file",
    "merge_nodes",
]

try:  # libyaml's composer is the same composer, in C
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


NodeKind = Literal["map", "seq", "scalar", "tag"]


@dataclass(frozen=True, slots=True)
class Loc:
    """Where a node was written: file, 1-based line and column, and its JSON pointer."""

    file: str
    line: int
    column: int
    pointer: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Node:
    """One mapping node: a map (str keys), a list, a plain scalar, or a directive tag on a node."""

    kind: NodeKind
    value: Any
    loc: Loc
    tag: str = ""
    # An `!append` or `!prepend` list after merges: the items it adds (front, back), which a
    # plain list merged over it later still gets (see merge_nodes).
    around: tuple[tuple[Node, ...], tuple[Node, ...]] | None = None

    def get(self, key: str) -> Node | None:
        """The child of a map node under `key`, or None."""
        return self.value.get(key) if self.kind == "map" else None


@dataclass(slots=True)
class Issues:
    """Collects every mapping problem of a run, so all of them are reported together."""

    items: list[MappingIssue] = field(default_factory=list)
    warnings: list[MappingIssue] = field(default_factory=list)

    def add(self, loc: Loc, message: str) -> None:
        self.items.append(MappingIssue(loc.file, loc.line, loc.column, loc.pointer or "/", message))

    def warn(self, loc: Loc, message: str) -> None:
        """A likely mistake that still compiles (an error under `check --strict`)."""
        self.warnings.append(
            MappingIssue(loc.file, loc.line, loc.column, loc.pointer or "/", message)
        )


def child_pointer(pointer: str, key: str | int) -> str:
    """The JSON pointer of `key` under `pointer` (RFC 6901 escaping)."""
    text = str(key).replace("~", "~0").replace("/", "~1")
    return f"{pointer}/{text}"


_YAML = "tag:yaml.org,2002:"
# Plain data only: a date stays text (JSON has no dates), and python/*, binary, set are refused.
_CORE_TAGS = frozenset(
    _YAML + t for t in ("str", "int", "float", "bool", "null", "seq", "map", "timestamp")
)
_TYPED_SCALARS = frozenset(_YAML + t for t in ("int", "float", "bool", "null"))


def _scalar_value(node: yaml.ScalarNode) -> Any:
    """A plain scalar's value by the YAML core schema (numbers, booleans, null); else its text."""
    if node.tag in _TYPED_SCALARS:
        return yaml.constructor.SafeConstructor().construct_object(node)
    return node.value


def _convert(raw: yaml.Node, file: str, pointer: str, issues: Issues) -> Node:
    """Turn a composed YAML node into a Node, recording duplicate keys and non-scalar keys."""
    loc = Loc(file, raw.start_mark.line + 1, raw.start_mark.column + 1, pointer)
    tag = raw.tag if raw.tag.startswith("!") else ""
    if not tag and raw.tag not in _CORE_TAGS:
        issues.add(loc, f"YAML tag {raw.tag!r} is not allowed in a mapping (only plain data)")
        return Node("scalar", None, loc)
    if isinstance(raw, yaml.MappingNode):
        items: dict[str, Node] = {}
        for key_node, value_node in raw.value:
            key_loc = Loc(
                file,
                key_node.start_mark.line + 1,
                key_node.start_mark.column + 1,
                child_pointer(pointer, str(key_node.value)),
            )
            if not isinstance(key_node, yaml.ScalarNode):
                issues.add(key_loc, "a key must be a plain scalar")
                continue
            key = key_node.value
            if key in items:
                issues.add(key_loc, f"duplicate key {key!r}")
                continue
            items[key] = _convert(value_node, file, child_pointer(pointer, key), issues)
        node = Node("map", items, loc)
    elif isinstance(raw, yaml.SequenceNode):
        node = Node(
            "seq",
            [_convert(v, file, child_pointer(pointer, i), issues) for i, v in enumerate(raw.value)],
            loc,
        )
    else:
        assert isinstance(raw, yaml.ScalarNode)
        node = Node("scalar", raw.value if tag else _scalar_value(raw), loc)
    return Node("tag", node, loc, tag) if tag else node


def load_yaml_file(path: Path, issues: Issues, *, shown_as: str | None = None) -> Node | None:
    """Compose one YAML file into a Node tree; None (with an issue recorded) when unreadable.

    Composing builds nodes only: no Python object is ever constructed from a tag, so a mapping
    file cannot run code whatever it contains.
    """
    name = shown_as or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.add(Loc(name, 1, 1, ""), f"cannot read file: {exc}")
        return None
    try:
        raw = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        issues.add(Loc(name, line, column, ""), f"YAML syntax: {exc.problem}")
        return None
    except yaml.YAMLError as exc:
        issues.add(Loc(name, 1, 1, ""), f"YAML: {exc}")
        return None
    if raw is None:
        return Node("map", {}, Loc(name, 1, 1, ""))
    return _convert(raw, name, "", issues)


LIST_MARKERS = ("!append", "!prepend")
"""Merge markers of a list: add these items to the inherited list instead of replacing it."""
MERGE_MARKERS = ("!replace", "!merge", *LIST_MARKERS)
"""Tags that say how a node merges; where nothing is merged, each is just the node it holds."""


def _items(node: Node) -> list[Node] | None:
    """The items of a list, plain or marked; None for anything else."""
    if node.kind == "seq":
        return list(node.value)
    if node.kind == "tag" and node.tag in LIST_MARKERS and node.value.kind == "seq":
        return list(node.value.value)
    return None


def _around(node: Node) -> tuple[tuple[Node, ...], tuple[Node, ...]]:
    """The items a marked list adds in front and at the back; ((), ()) for anything else."""
    if node.kind != "tag" or node.tag not in LIST_MARKERS or node.value.kind != "seq":
        return (), ()
    if node.around is not None:
        return node.around
    items = tuple(node.value.value)
    return ((), items) if node.tag == "!append" else (items, ())


def _marked_list(
    tag: str, items: list[Node], around: tuple[tuple[Node, ...], tuple[Node, ...]], loc: Loc
) -> Node:
    return Node("tag", Node("seq", items, loc), loc, tag, around)


def merge_nodes(base: Node, change: Node) -> Node | None:
    """Deep-merge `change` over `base`: maps merge key by key, anything else replaces.

    Where `change` meets `base`, `!replace X` replaces the subtree whole, `!merge X` merges X
    (said explicitly, as an overlay must for a fragment), `!delete` removes the key (returns
    None when `change` itself is `!delete`), and `!append [...]` / `!prepend [...]` add items
    to the inherited list. A marked list stays marked: a plain list merged over it later (an
    event's own list over its fragment's) gets the marked items too. Keys that `base` lacks are
    taken as written, tags included, so that a later merge (a child statement over its parent)
    still sees them; compiling reads each marker as the node it holds and drops `!delete` keys.
    """
    if change.kind == "tag" and change.tag == "!delete":
        return None
    if change.kind == "tag" and change.tag == "!replace":
        replacement: Node = change.value
        return replacement
    if change.kind == "tag" and change.tag == "!merge":
        return merge_nodes(base, change.value)
    if change.kind == "tag" and change.tag in LIST_MARKERS:
        added = _items(change)
        if added is None:  # not a list: compiling reports it
            return change
        inherited = _items(base) or []
        front, back = _around(base)
        if change.tag == "!append":
            items, around = [*inherited, *added], (front, (*back, *added))
        else:
            items, around = [*added, *inherited], ((*added, *front), back)
        return _marked_list(change.tag, items, around, change.loc)
    base_front, base_back = _around(base)
    if (base_front or base_back) and change.kind == "seq":
        items = [*base_front, *change.value, *base_back]
        return _marked_list(base.tag, items, (base_front, base_back), change.loc)
    if base.kind == "map" and change.kind == "map":
        merged = dict(base.value)
        for key, node in change.value.items():
            if key in merged:
                result = merge_nodes(merged[key], node)
                if result is None:
                    del merged[key]
                else:
                    merged[key] = result
            elif not (node.kind == "tag" and node.tag == "!delete"):
                merged[key] = node
        return Node("map", merged, change.loc)
    return change

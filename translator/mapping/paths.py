"""JSONPath compiled once: plain child paths become key lookups, the rest keep jsonpath-ng."""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable
from typing import Any

from jsonpath_ng.ext.parser import ExtendedJsonPathParser

from translator.missing import MISSING

__all__ = ["Getter", "PathSyntaxError", "compile_path", "compile_path_all", "plain_steps"]

Getter = Callable[[Any], Any]

# `$.a.b`, `$['a-b']`, `$.a[0]`: steps that need no jsonpath-ng at run time.
_STEP = r"(?:\.[A-Za-z_@][\w@-]*|\['[^'\\]*'\]|\[\d+\])"
_PLAIN = re.compile(rf"\$(?:{_STEP})+")
_STEPS = re.compile(r"\.([A-Za-z_@][\w@-]*)|\['([^'\\]*)'\]|\[(\d+)\]")


class PathSyntaxError(ValueError):
    """The path does not parse; the message says why."""


def plain_steps(path: str) -> list[str | int] | None:
    """The keys and indexes of a plain path (`$.a.b[0]`), or None when it needs jsonpath-ng."""
    if not _PLAIN.fullmatch(path):
        return None
    steps: list[str | int] = []
    for name, quoted, index in _STEPS.findall(path[1:]):
        steps.append(int(index) if index else (name or quoted))
    return steps


def _step_getter(steps: list[str | int]) -> Getter:
    """A closure walking dict keys and list indexes; MISSING as soon as a step does not exist."""

    def get(doc: Any) -> Any:
        value = doc
        for step in steps:
            if type(step) is int:
                if type(value) is not list or not -len(value) <= step < len(value):
                    return MISSING
                value = value[step]
            else:
                if type(value) is not dict:
                    return MISSING
                value = value.get(step, MISSING)
                if value is MISSING:
                    return MISSING
        return value

    if len(steps) == 1 and isinstance(steps[0], str):
        (key,) = steps

        def get1(doc: Any) -> Any:
            return doc.get(key, MISSING) if type(doc) is dict else MISSING

        return get1
    if len(steps) == 2 and all(isinstance(s, str) for s in steps):
        k1, k2 = steps

        def get2(doc: Any) -> Any:
            if type(doc) is not dict:
                return MISSING
            inner = doc.get(k1, MISSING)
            return inner.get(k2, MISSING) if type(inner) is dict else MISSING

        return get2
    if len(steps) == 3 and all(isinstance(s, str) for s in steps):
        a, b, c = steps

        def get3(doc: Any) -> Any:
            if type(doc) is not dict:
                return MISSING
            first = doc.get(a, MISSING)
            if type(first) is not dict:
                return MISSING
            second = first.get(b, MISSING)
            return second.get(c, MISSING) if type(second) is dict else MISSING

        return get3
    return get


@functools.cache
def _parser() -> ExtendedJsonPathParser:
    """One parser for every path: making one builds its LALR tables (about 25 ms each time).
    A PLY parser keeps its state on itself while it parses: `_PARSING` takes turns."""
    return ExtendedJsonPathParser()


_PARSING = threading.Lock()


def _parse(path: str) -> Any:
    if not path.startswith("$"):
        raise PathSyntaxError(f"a path starts with '$': {path!r}")
    try:
        with _PARSING:
            return _parser().parse(path)
    except Exception as exc:  # jsonpath-ng raises several unrelated types for bad syntax
        raise PathSyntaxError(f"invalid JSONPath {path!r}: {exc}") from None


def _whole(doc: Any) -> Any:
    return doc


def compile_path(path: str) -> Getter:
    """A getter for the first match of `path`, MISSING when nothing matches.

    Raises PathSyntaxError for a path jsonpath-ng cannot parse.
    """
    if path == "$":  # the whole event (actor_id reads it for the username and email identities)
        return _whole
    steps = plain_steps(path)
    if steps is not None:
        return _step_getter(steps)
    expression = _parse(path)

    def find_first(doc: Any) -> Any:
        matches = expression.find(doc)
        return matches[0].value if matches else MISSING

    return find_first


def compile_path_all(path: str) -> Getter:
    """A getter for the list of every match of `path`, MISSING when nothing matches."""
    expression = _parse(path)

    def find_all(doc: Any) -> Any:
        matches = expression.find(doc)
        return [m.value for m in matches] if matches else MISSING

    return find_all

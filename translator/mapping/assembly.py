"""Reads the core mapping files, then each overlay in order, into one set of located nodes."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from translator.mapping.nodes import (
    LIST_MARKERS,
    Issues,
    Loc,
    Node,
    child_pointer,
    load_yaml_file,
    merge_nodes,
)
from translator.messages import did_you_mean

__all__ = [
    "NEAR_MISS",
    "ROOT_FOLDER",
    "SECTIONS",
    "SECTION_MARKERS",
    "SHARED_FOLDER",
    "YAML_SUFFIXES",
    "MappingSources",
    "assemble",
    "core_files",
    "edit_distance",
    "env_vars",
    "overlay_files",
    "yaml_files",
]

SECTIONS = ("vars", "fragments", "tables", "events", "relax")
SHARED_FOLDER = "_shared"


@dataclass(slots=True)
class MappingSources:
    """The merged, still uncompiled mapping set: every entry keeps the location it came from."""

    vars: dict[str, Node] = field(default_factory=dict)
    fragments: dict[str, Node] = field(default_factory=dict)
    tables: dict[str, Node] = field(default_factory=dict)
    events: dict[str, Node] = field(default_factory=dict)
    disabled: dict[str, tuple[str, Loc]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    # An overlay's `relax:` section: rule id of the target -> the reason given (node).
    relax: dict[str, Node] = field(default_factory=dict)


def _shown(path: Path, base: Path | None) -> str:
    """A file name as the user will recognise it: relative to `base` or the working directory."""
    for root in (base, Path.cwd()):
        if root is None:
            continue
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            continue
    return str(path)


YAML_SUFFIXES = (".yaml", ".yml")
SECTION_MARKERS = ("!replace", "!merge", "!new")
"""A tag on a whole section marks each of its entries."""


def yaml_files(folder: Path) -> list[Path]:
    """The mapping files of one folder, in the order they apply: `.yaml` and `.yml` files
    directly in it (never in its subfolders), sorted by name; hidden files are left out."""
    if not folder.is_dir():
        return []
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.suffix in YAML_SUFFIXES and not p.name.startswith(".") and p.is_file()
        ),
        key=lambda p: p.name,
    )


def _has_yaml(folder: Path) -> bool:
    return any(p.suffix in YAML_SUFFIXES for p in folder.rglob("*"))


def core_files(mappings_dir: Path, target: str) -> list[Path]:
    """The core YAML files of one target in load order: the target-neutral `_shared/` first,
    then the target's own folder (`mappings/<target>/`)."""
    files: list[Path] = []
    for folder in (SHARED_FOLDER, target):
        files.extend(yaml_files(mappings_dir / folder))
    return files


def _is_tag(node: Node, tag: str) -> bool:
    return node.kind == "tag" and node.tag == tag


def _disable_reason(node: Node) -> str:
    inner = node.value
    text = inner.value if inner.kind == "scalar" and isinstance(inner.value, str) else ""
    return text.strip() or "disabled by an overlay"


def edit_distance(a: str, b: str, limit: int) -> int:
    """The Levenshtein distance of `a` and `b`, or `limit + 1` once it is above `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous = list(range(len(b) + 1))
    for i, char in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char != other))
            )
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


NEAR_MISS = 2
"""A new event whose name is this many edits or fewer from a known one gets a warning."""


def _leaves(node: Node, pointer: str = "") -> Iterator[tuple[str, Node]]:
    """What a node sets: each non-map value under it, by pointer (list markers add, and set
    nothing another file could overwrite)."""
    if node.kind == "map" and node.value:
        for key, child in node.value.items():
            yield from _leaves(child, child_pointer(pointer, key))
    elif not (node.kind == "tag" and node.tag in LIST_MARKERS):
        yield pointer, node


def _explicit(name: str) -> str:
    return (
        f"write '{name}: !replace ...' to replace it (under 'fragments: !replace' when the"
        f" value is a directive), or '{name}: !merge ...' to change some of its keys"
    )


class _Assembler:
    def __init__(self, issues: Issues, *, catalogued: Collection[str] = ()) -> None:
        self.issues = issues
        self.sources = MappingSources()
        self.catalogued = catalogued
        # In the overlay directory being read: where each value was set, to warn when two of
        # its files set the same one.
        self._set_at: dict[tuple[str, str, str], Loc] = {}

    def start_overlay(self) -> None:
        self._set_at = {}

    def apply_file(self, path: Path, *, shown: str, overlay: bool) -> None:
        root = load_yaml_file(path, self.issues, shown_as=shown)
        if root is None:
            return
        self.sources.files.append(shown)
        if root.kind != "map":
            self.issues.add(root.loc, "a mapping file is a map of " + ", ".join(SECTIONS))
            return
        for key, section in root.value.items():
            if key not in SECTIONS:
                self.issues.add(
                    section.loc, f"unknown section {key!r}{did_you_mean(key, SECTIONS)}"
                )
                continue
            marker = ""
            if section.kind == "tag" and section.tag in SECTION_MARKERS:
                # `fragments: !replace {...}`: each entry is marked (YAML gives a node one tag,
                # so this is how a fragment written with a directive is replaced)
                marker, section = section.tag, section.value
            if section.kind != "map":
                self.issues.add(section.loc, f"{key} is a map of names to entries")
                continue
            if key == "relax":
                if not overlay:  # the core mappings keep every rule of their target
                    self.issues.add(section.loc, "relax: only an overlay may relax a rule")
                    continue
                self.sources.relax.update(section.value)
                continue
            for name, entry in section.value.items():
                node = Node("tag", entry, entry.loc, marker) if marker else entry
                if overlay:
                    self._note_set(key, name, node)
                if key == "events":
                    self._apply_event(name, node, overlay=overlay)
                else:
                    target: dict[str, Node] = getattr(self.sources, key)
                    self._apply_entry(key, target, name, node, overlay=overlay)

    def _note_set(self, section: str, name: str, node: Node) -> None:
        """Warn when another file of the same overlay directory set this value already."""
        warned: set[str] = set()
        for pointer, leaf in _leaves(node):
            key = (section, name, pointer)
            earlier = self._set_at.get(key)
            self._set_at[key] = leaf.loc
            if earlier is not None and earlier.file != leaf.loc.file and earlier.file not in warned:
                warned.add(earlier.file)
                self.issues.warn(
                    leaf.loc,
                    f"{section} entry {name!r} is also set at {earlier}; this file is read"
                    " later and wins",
                )

    def _apply_entry(
        self, section: str, target: dict[str, Node], name: str, node: Node, *, overlay: bool
    ) -> None:
        existing = target.get(name)
        if existing is None:
            if _is_tag(node, "!delete"):
                self.issues.add(node.loc, f"cannot delete unknown {section} entry {name!r}")
                return
            if _is_tag(node, "!merge"):
                self.issues.add(
                    node.loc,
                    f"nothing to merge into: unknown {section} entry {name!r}"
                    f"{did_you_mean(name, target)}",
                )
                return
            target[name] = node.value if _is_tag(node, "!replace") else node
            return
        if not overlay:
            self.issues.add(node.loc, f"{section} entry {name!r} already defined at {existing.loc}")
            return
        if section == "fragments" and not (
            node.kind == "tag" and node.tag in ("!replace", "!merge", "!delete")
        ):
            # Fragments are shared by many events: an overlay changes one only when it says so.
            self.issues.add(
                node.loc,
                f"fragment {name!r} is already defined at {existing.loc}; {_explicit(name)}"
                " (or give yours another name)",
            )
            return
        merged = merge_nodes(existing, node)
        if merged is None:
            del target[name]
        else:
            target[name] = merged

    def _known_events(self) -> list[str]:
        return [*self.sources.events, *self.sources.disabled]

    def _declare_not_mapped(self, name: str, body: Node) -> None:
        """A core file's `name: !disable "reason"`: the target deliberately maps no such event
        (its standard has nothing that fits), and says why. The reason is required."""
        mapped = self.sources.events.get(name)
        if mapped is not None:
            self.issues.add(
                body.loc,
                f"event {name!r} is mapped at {mapped.loc}: it cannot be disabled in the core",
            )
            return
        if name in self.sources.disabled:
            self.issues.add(
                body.loc, f"event {name!r} is already disabled at {self.sources.disabled[name][1]}"
            )
            return
        inner = body.value
        if not (inner.kind == "scalar" and isinstance(inner.value, str) and inner.value.strip()):
            self.issues.add(
                body.loc, "!disable in a core file needs its reason (why the event is not mapped)"
            )
            return
        self.sources.disabled[name] = (inner.value.strip(), body.loc)

    def _unknown_event(self, name: str, body: Node) -> None:
        hint = did_you_mean(name, self._known_events())
        if not hint:
            hint = f" (to map an event the core does not, write '{name}: !new {{...}}')"
        self.issues.add(body.loc, f"unknown event {name!r}{hint}")

    def _near_miss(self, name: str, body: Node) -> None:
        """Warn when a new event's name is a few edits from a known or catalogued one."""
        close = sorted(
            (edit_distance(name, known, NEAR_MISS), known)
            for known in {*self._known_events(), *self.catalogued}
            if known != name
        )
        if close and close[0][0] <= NEAR_MISS:
            known = close[0][1]
            where = "mapped" if known in self._known_events() else "a documented edX event"
            self.issues.warn(
                body.loc,
                f"new event {name!r} is {close[0][0]} edit(s) from {known!r} ({where});"
                f" did you mean {known!r}?",
            )

    def _apply_event(self, name: str, body: Node, *, overlay: bool) -> None:
        events = self.sources.events
        if _is_tag(body, "!disable") and not overlay:
            self._declare_not_mapped(name, body)
            return
        known = name in events or name in self.sources.disabled
        if _is_tag(body, "!new"):
            if name in events:
                self.issues.add(
                    body.loc,
                    f"event {name!r} is already mapped at {events[name].loc}; drop !new to"
                    " change it (merged key by key), or write !replace to rewrite it",
                )
                return
            if body.value.kind != "map":
                self.issues.add(body.loc, "!new takes an event mapping (statement, extends, ...)")
                return
            whole = body.value
            if whole.get("statement") is None and whole.get("extends") is None:
                self.issues.add(
                    body.loc, "a new event needs a whole mapping: 'statement' or 'extends'"
                )
                return
            if overlay:
                self._near_miss(name, body)
            self.sources.disabled.pop(name, None)
            events[name] = whole
            return
        if overlay and not known:
            self._unknown_event(name, body)  # whatever the body holds: a misspelt change
            return
        if not overlay and name in self.sources.disabled:
            where = self.sources.disabled[name][1]
            self.issues.add(
                body.loc, f"event {name!r} is disabled at {where}: map it or disable it"
            )
            return
        if _is_tag(body, "!disable"):
            if not known:
                self._unknown_event(name, body)
                return
            events.pop(name, None)
            self.sources.disabled[name] = (_disable_reason(body), body.loc)
            return
        if (
            body.kind == "tag"
            and body.tag in ("!delete", "!replace", "!merge")
            and (name not in events)
        ):
            if name in self.sources.disabled and body.tag == "!replace":
                self.sources.disabled.pop(name)  # a disabled event mapped again, whole
                events[name] = body.value
                return
            self._unknown_event(name, body)
            return
        if _is_tag(body, "!delete"):
            del events[name]
            return
        existing = events.get(name)
        if existing is not None:
            if not overlay:
                self.issues.add(body.loc, f"event {name!r} already mapped at {existing.loc}")
                return
            merged = merge_nodes(existing, body)
            if merged is not None:
                events[name] = merged
            return
        if body.kind != "map" and not _is_tag(body, "!replace"):
            self.issues.add(body.loc, "an event mapping is a map (statement, extends, ...)")
            return
        whole = body.value if _is_tag(body, "!replace") else body
        if overlay and whole.get("statement") is None and whole.get("extends") is None:
            self.issues.add(
                body.loc,
                f"event {name!r} was disabled: map it again with a whole mapping"
                " ('statement' or 'extends')",
            )
            return
        if not overlay and name in self.sources.disabled:
            where = self.sources.disabled[name][1]
            self.issues.add(
                body.loc, f"event {name!r} is disabled at {where}: map it or disable it"
            )
            return
        self.sources.disabled.pop(name, None)
        events[name] = whole


ROOT_FOLDER = ""
"""In `overlay_folders`: the overlay directory's own files, outside any subfolder."""


def overlay_files(
    directory: Path,
    folders: Sequence[str],
    known_folders: Collection[str] | None,
    issues: Issues,
) -> list[Path]:
    """The files of one overlay directory that apply to a plan, in order: those of each folder
    of `folders` in turn (ROOT_FOLDER is the directory itself; others are its subfolders), each
    folder's `.yaml` and `.yml` files sorted by name. A subfolder outside `known_folders`
    (when given), and a subfolder of a target folder, are reported: files are never silently
    read from, or skipped in, a folder the rules do not name."""
    files: list[Path] = []
    for folder in folders:
        base = directory if folder == ROOT_FOLDER else directory / folder
        files.extend(yaml_files(base))
        if folder != ROOT_FOLDER and base.is_dir():
            for child in sorted(base.iterdir()):
                if child.is_dir() and not child.name.startswith(".") and _has_yaml(child):
                    issues.add(
                        Loc(str(child), 1, 1, ""),
                        f"subfolder {child.name!r} of overlay folder {folder!r} is not read:"
                        f" move its files into {folder}/ (or out of the overlay)",
                    )
    if known_folders is not None:
        for child in sorted(directory.iterdir()):
            if (
                child.is_dir()
                and not child.name.startswith(".")
                and child.name not in known_folders
                and _has_yaml(child)
            ):
                known = sorted(k for k in known_folders if k)
                issues.add(
                    Loc(str(child), 1, 1, ""),
                    f"overlay folder {child.name!r} is no target's{did_you_mean(child.name, known)}"
                    f" (known: {', '.join(known)})",
                )
    return files


def assemble(
    mappings_dir: Path,
    target: str,
    overlays: Iterable[Path],
    issues: Issues,
    *,
    overlay_folders: Sequence[str] = (ROOT_FOLDER,),
    known_folders: Collection[str] | None = None,
    catalogued: Collection[str] = (),
) -> MappingSources:
    """Read the core set of `target` and apply each overlay directory in order; problems go to
    `issues`. Of each overlay, the files of `overlay_folders` apply (see overlay_files): the
    caller says which, so this module knows no target. A new event named a few edits from a
    known one or from one of `catalogued` (documented edX events) is warned about."""
    assembler = _Assembler(issues, catalogued=catalogued)
    base = mappings_dir.parent
    if not mappings_dir.is_dir():
        issues.add(Loc(str(mappings_dir), 1, 1, ""), "mappings directory not found")
        return assembler.sources
    for path in core_files(mappings_dir, target):
        assembler.apply_file(path, shown=_shown(path, base), overlay=False)
    for directory in overlays:
        if not directory.is_dir():
            issues.add(Loc(str(directory), 1, 1, ""), "overlay directory not found")
            continue
        assembler.start_overlay()
        for path in overlay_files(directory, overlay_folders, known_folders, issues):
            assembler.apply_file(path, shown=_shown(path, None), overlay=True)
    return assembler.sources


def env_vars(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """Vars set from the environment: `TRANSLATOR_VAR_<NAME>` sets var `<name>`."""
    prefix = "TRANSLATOR_VAR_"
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}

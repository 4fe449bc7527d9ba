"""Reads the core mapping files, then each overlay in order, into one set of located nodes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from translator.mapping.nodes import Issues, Loc, Node, load_yaml_file, merge_nodes
from translator.messages import did_you_mean

__all__ = ["SECTIONS", "SHARED_FOLDER", "MappingSources", "assemble", "core_files", "env_vars"]

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


def core_files(mappings_dir: Path, target: str) -> list[Path]:
    """The core YAML files of one target in load order: the target-neutral `_shared/` first,
    then the target's own folder (`mappings/<target>/`)."""
    files: list[Path] = []
    for folder in (SHARED_FOLDER, target):
        files.extend(sorted((mappings_dir / folder).glob("*.yaml")))
    return files


def _is_tag(node: Node, tag: str) -> bool:
    return node.kind == "tag" and node.tag == tag


def _disable_reason(node: Node) -> str:
    inner = node.value
    text = inner.value if inner.kind == "scalar" and isinstance(inner.value, str) else ""
    return text.strip() or "disabled by an overlay"


class _Assembler:
    def __init__(self, issues: Issues) -> None:
        self.issues = issues
        self.sources = MappingSources()

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
            if section.kind != "map":
                self.issues.add(section.loc, f"{key} is a map of names to entries")
                continue
            if key == "events":
                for name, body in section.value.items():
                    self._apply_event(name, body, overlay=overlay)
            elif key == "relax":
                if not overlay:  # the core mappings keep every rule of their target
                    self.issues.add(section.loc, "relax: only an overlay may relax a rule")
                    continue
                self.sources.relax.update(section.value)
            else:
                target: dict[str, Node] = getattr(self.sources, key)
                for name, node in section.value.items():
                    self._apply_entry(key, target, name, node, overlay=overlay)

    def _apply_entry(
        self, section: str, target: dict[str, Node], name: str, node: Node, *, overlay: bool
    ) -> None:
        existing = target.get(name)
        if existing is None:
            if _is_tag(node, "!delete"):
                self.issues.add(node.loc, f"cannot delete unknown {section} entry {name!r}")
                return
            target[name] = node.value if _is_tag(node, "!replace") else node
            return
        if not overlay:
            self.issues.add(node.loc, f"{section} entry {name!r} already defined at {existing.loc}")
            return
        merged = merge_nodes(existing, node)
        if merged is None:
            del target[name]
        else:
            target[name] = merged

    def _known_events(self) -> list[str]:
        return [*self.sources.events, *self.sources.disabled]

    def _apply_event(self, name: str, body: Node, *, overlay: bool) -> None:
        events = self.sources.events
        if _is_tag(body, "!disable"):
            if name not in events and name not in self.sources.disabled:
                self.issues.add(
                    body.loc, f"unknown event {name!r}{did_you_mean(name, self._known_events())}"
                )
                return
            events.pop(name, None)
            self.sources.disabled[name] = (_disable_reason(body), body.loc)
            return
        if body.kind == "tag" and body.tag in ("!delete", "!replace") and name not in events:
            self.issues.add(
                body.loc, f"unknown event {name!r}{did_you_mean(name, self._known_events())}"
            )
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
                f"unknown event {name!r}{did_you_mean(name, self._known_events())}"
                " (a new event needs a whole mapping: 'statement' or 'extends')",
            )
            return
        self.sources.disabled.pop(name, None)
        events[name] = whole


def assemble(
    mappings_dir: Path, target: str, overlays: Iterable[Path], issues: Issues
) -> MappingSources:
    """Read the core set of `target` and apply each overlay directory in order; problems go to
    `issues`."""
    assembler = _Assembler(issues)
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
        for path in sorted(directory.rglob("*.yaml")):
            assembler.apply_file(path, shown=_shown(path, None), overlay=True)
    return assembler.sources


def env_vars(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """Vars set from the environment: `TRANSLATOR_VAR_<NAME>` sets var `<name>`."""
    prefix = "TRANSLATOR_VAR_"
    return {k[len(prefix) :].lower(): v for k, v in environ.items() if k.startswith(prefix)}

"""The compiled plan of one target: its whole mapping set (core and overlays), checked once."""

from __future__ import annotations

import os
import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from types import MappingProxyType
from typing import Any

from translator.catalog import catalog_names
from translator.config import Settings, overlay_dirs
from translator.errors import MappingError, MappingIssue
from translator.mapping.assembly import SHARED_FOLDER, MappingSources, assemble, env_vars
from translator.mapping.compiler import CompiledEvent, compile_event
from translator.mapping.contract import TargetRules
from translator.mapping.directives import CompileContext, plain_data
from translator.mapping.functions import (
    ActorMap,
    ActorMapCounts,
    FunctionContext,
    load_actor_map,
    load_course_names,
)
from translator.mapping.nodes import Issues, Node
from translator.messages import did_you_mean

__all__ = ["ENGINE_VARS", "Plan", "compile_context", "load_plan", "translator_version"]


ENGINE_VARS: Mapping[str, str] = MappingProxyType(
    {
        "lms_root_url": "set the LMS root with the setting lms_root_url"
        " (TRANSLATOR_LMS_ROOT_URL, or lms_root_url in the config file)",
        "translator_version": "it is the installed version of edx-xapi-translator",
    }
)
"""Vars the engine sets, which no mapping file or TRANSLATOR_VAR_ variable may: what to do
instead."""


def translator_version() -> str:
    """The installed version of this distribution (stamped into every statement)."""
    try:
        return version("edx-xapi-translator")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "0+unknown"


@dataclass(frozen=True, slots=True)
class Plan:
    """The immutable result of loading one target's mappings: compiled events by name and alias,
    what was disabled, and the target whose rules the statements are checked by."""

    target: TargetRules
    events: Mapping[str, CompiledEvent]
    disabled: Mapping[str, str]
    sources: MappingSources
    ephemeral_pseudonyms: bool
    warnings: tuple[MappingIssue, ...] = ()
    # The actor map's hit and miss counts when this plan reads one (the run's summary).
    actor_map_counts: ActorMapCounts | None = None

    def event_names(self) -> list[str]:
        """Every event name the plan translates, aliases included, sorted."""
        return sorted(self.events)

    def mapping_for(self, name: str) -> CompiledEvent | None:
        """The compiled mapping used for an event name (or alias), or None."""
        return self.events.get(name)


def _refuse_directives(node: Node, issues: Issues) -> None:
    """Vars and tables are plain data: a directive inside them is a mistake worth reporting."""
    if node.kind == "tag":
        issues.add(node.loc, f"vars and tables hold plain data: {node.tag} is not evaluated here")
    elif node.kind in ("map", "seq"):
        children = node.value.values() if node.kind == "map" else node.value
        for child in children:
            _refuse_directives(child, issues)


def _relaxed(target: TargetRules, sources: MappingSources, issues: Issues) -> TargetRules:
    """The target with the rules the overlays' `relax:` sections name not enforced (each with
    its reason, a text); the plain target when none does. Problems go to `issues`."""
    rules: set[str] = set()
    for name, node in sources.relax.items():
        if name not in target.relaxable:
            known = sorted(target.relaxable)
            issues.add(
                node.loc,
                f"relax: unknown rule {name!r} of target {target.name}"
                f"{did_you_mean(name, known)} (relaxable: {', '.join(known) or 'none'})",
            )
        elif node.kind != "scalar" or not isinstance(node.value, str) or not node.value.strip():
            issues.add(node.loc, f"relax: {name}: give the reason, as text")
        else:
            rules.add(name)
    return target.relaxed(frozenset(rules)) if rules else target


def compile_context(
    settings: Settings,
    target: TargetRules,
    sources: MappingSources,
    issues: Issues,
    *,
    environ: Mapping[str, str],
) -> CompileContext:
    """What compiling the mappings of `sources` needs: their vars (with those of `environ` and
    `settings`), tables and fragments, and the functions' run context (a random pseudonym
    secret without `pseudonym_secret`). Vars, weakest first: `transformer_version` (this
    service's name and version), the files', the environment's (TRANSLATOR_VAR_<NAME>), the
    command line's (`mapping_vars`); `lms_root_url` and `translator_version` are always the
    settings' (a file setting them is an error). Raises ConfigError for an unreadable actor map
    or course names file."""
    for name in ENGINE_VARS:
        node = sources.vars.get(name)
        if node is not None:
            issues.add(
                node.loc,
                f"var {name!r} is set by the engine and cannot be set here; {ENGINE_VARS[name]}",
            )
    version = translator_version()
    variables: dict[str, Any] = {"transformer_version": f"edx-xapi-translator@{version}"}
    variables.update((name, plain_data(node)) for name, node in sources.vars.items())
    variables.update(env_vars(dict(environ)))
    variables.update(settings.mapping_vars)
    variables["lms_root_url"] = settings.lms_root_url.rstrip("/")
    variables["translator_version"] = version

    secret = settings.pseudonym_secret if settings.needs_pseudonym_secret else None
    actors = load_actor_map(settings.actor_map) if settings.actor_map else ActorMap({})
    functions = FunctionContext(
        pseudonym_secret=(secret or secrets.token_hex(32)).encode(),
        actor_map=actors.by_user_id,
        actor_map_given=settings.actor_map is not None,
        actor_usernames=actors.by_username,
        course_names=load_course_names(settings.course_names) if settings.course_names else {},
        actor_identity=settings.identity,
    )
    return CompileContext(
        issues=issues,
        vars=variables,
        tables={name: plain_data(node) for name, node in sources.tables.items()},
        fragments=sources.fragments,
        functions=functions,
        target=target,
    )


def load_plan(
    settings: Settings,
    target: TargetRules,
    *,
    environ: Mapping[str, str] | None = None,
    known_targets: Collection[str] | None = None,
    strict: bool = False,
) -> Plan:
    """Read, merge and compile the core mappings of `target` (`_shared/` and `<target.name>/`)
    and the overlays of `settings`; one plan per target.

    Without `pseudonym_secret`, actors get pseudonyms from a random secret that lasts this run
    only (`ephemeral_pseudonyms` is set so the caller can warn). Raises MappingError listing
    every problem of every file, and ConfigError for an unreadable actor map. Of each overlay,
    the folders `target.overlay_folders` names apply; given the names of every target
    (`known_targets`), a subfolder that is no target's is reported. Likely mistakes that
    still compile (a new event named like a known one, two files of an overlay setting one
    value) are the plan's `warnings`, or errors when `strict`.
    """
    env = dict(os.environ if environ is None else environ)
    issues = Issues()
    known = None if known_targets is None else {"", SHARED_FOLDER, *known_targets}
    sources = assemble(
        settings.mappings_dir,
        target.name,
        overlay_dirs(settings.overlays),
        issues,
        overlay_folders=target.overlay_folders,
        known_folders=known,
        catalogued=catalog_names(),
    )

    target = _relaxed(target, sources, issues)
    ctx = compile_context(settings, target, sources, issues, environ=env)
    for name, node in sources.tables.items():
        if node.kind != "map":
            issues.add(node.loc, f"table {name!r} is a map of keys to values")
    for section in (sources.vars, sources.tables):
        for node in section.values():
            _refuse_directives(node, issues)

    events: dict[str, CompiledEvent] = {}
    where: dict[str, str] = {}
    for name, body in sources.events.items():
        compiled = compile_event(name, body, ctx)
        if compiled is None:
            continue
        for key in (name, *compiled.aliases):
            if key in events:
                issues.add(body.loc, f"event name {key!r} is already used by {where[key]}")
                continue
            events[key] = compiled
            where[key] = f"{name} ({body.loc})"
    if strict:
        issues.items.extend(issues.warnings)
    if issues.items:
        raise MappingError(issues.items)
    return Plan(
        target=target,
        events=MappingProxyType(events),
        disabled=MappingProxyType({k: reason for k, (reason, _loc) in sources.disabled.items()}),
        sources=sources,
        ephemeral_pseudonyms=settings.needs_pseudonym_secret and settings.pseudonym_secret is None,
        actor_map_counts=ctx.functions.actor_map_counts if settings.actor_map else None,
        warnings=tuple(
            sorted(issues.warnings, key=lambda i: (i.file, i.line, i.column, i.pointer))
        ),
    )

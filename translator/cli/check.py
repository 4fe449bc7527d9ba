"""`translator check`: compile the mappings, and report coverage of the reference catalog."""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import click

from translator.cli.common import load_command_plan, mapping_options, overlay_option, settings_of

__all__ = ["catalog", "check"]


def catalog() -> list[dict[str, Any]]:
    """The reference catalog of documented student events (shipped with the package)."""
    text = files("translator").joinpath("edx-event-catalog.json").read_text(encoding="utf-8")
    events: list[dict[str, Any]] = json.loads(text)["events"]
    return events


@click.command()
@overlay_option
@mapping_options
@click.pass_context
def check(ctx: click.Context, overlays: tuple[Path, ...]) -> None:
    """Validate the mappings (with overlays) and report coverage of the reference catalog."""
    settings = settings_of(ctx, overlays=overlays)
    plan = load_command_plan(settings)
    entries = catalog()
    primary = {m.name for m in plan.events.values()}
    click.echo(
        f"mappings OK: {len(plan.sources.files)} files, {len(primary)} event mappings, "
        f"{len(plan.events)} names with aliases, {len(plan.disabled)} disabled"
    )
    families: dict[str, list[str]] = {}
    for entry in entries:
        families.setdefault(entry["family"], []).append(entry["event"])
    covered = sum(1 for entry in entries if entry["event"] in plan.events)
    click.echo(f"catalog coverage: {covered} of {len(entries)} documented events mapped")
    for family, names in sorted(families.items()):
        mapped = [n for n in names if n in plan.events]
        click.echo(f"  {len(mapped):>2}/{len(names):<2} {family}")
        for name in names:
            if name in plan.disabled:
                click.echo(f"         disabled: {name} ({plan.disabled[name]})")
            elif name not in plan.events:
                click.echo(f"         not mapped: {name}")
    documented = {e["event"] for e in entries}
    extra = sorted(n for n in plan.events if n not in documented)
    if extra:
        click.echo("mapped names beyond the catalog (legacy names, aliases, other events):")
        for name in extra:
            click.echo(f"  {name}")

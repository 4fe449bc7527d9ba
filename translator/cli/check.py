"""`translator check`: compile the mappings, and report coverage of the reference catalog."""

from __future__ import annotations

from pathlib import Path

import click

from translator.catalog import catalog
from translator.cli.common import load_command_plan, overlay_option, settings_of, target_option
from translator.config import Settings
from translator.mapping.plan import Plan

__all__ = ["catalog", "check"]


@click.command()
@overlay_option
@target_option
@click.option(
    "--strict",
    is_flag=True,
    help="Treat the mapping warnings (a new event named like a known one, ...) as errors.",
)
@click.pass_context
def check(ctx: click.Context, overlays: tuple[Path, ...], targets: list[str], strict: bool) -> None:
    """Validate the mappings (with overlays), proving every statement template against its
    target's rules, and report coverage of the reference catalog."""
    settings = settings_of(ctx, overlays=overlays)
    for target in targets:
        if len(targets) > 1:
            click.echo(f"== {target}")
        _check_one(settings, load_command_plan(settings, target, strict=strict))


def _check_one(settings: Settings, plan: Plan) -> None:
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

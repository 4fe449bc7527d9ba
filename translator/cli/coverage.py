"""`translator coverage`: the event types of a log, with counts, and whether each is mapped."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from translator.cli.check import catalog
from translator.cli.common import (
    echo,
    fail,
    load_command_plan,
    mapping_options,
    overlay_option,
    settings_of,
    target_option,
)
from translator.config import Settings
from translator.errors import ConfigError, InputError
from translator.intake.events import parse_line
from translator.intake.lines import read_lines
from translator.mapping.plan import Plan
from translator.messages import printable
from translator.summary import summary_key

__all__ = ["coverage"]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@overlay_option
@target_option
@mapping_options
@click.pass_context
def coverage(
    ctx: click.Context, paths: tuple[str, ...], overlays: tuple[Path, ...], targets: list[str]
) -> None:
    """Count the event types in a log and say which are mapped."""
    settings = settings_of(ctx, overlays=overlays)
    for target in targets:
        if len(targets) > 1:
            echo(f"== {target}")
        _coverage_one(paths, settings, load_command_plan(settings, target))


def _coverage_one(paths: tuple[str, ...], settings: Settings, plan: Plan) -> None:
    documented = {e["event"] for e in catalog()}
    counts: Counter[str] = Counter()
    unreadable = 0
    try:
        for line in read_lines(paths, max_line_bytes=settings.max_line_bytes):
            try:
                event = parse_line(line)
            except InputError:
                unreadable += 1
                continue
            name = event.get("name") or event.get("event_type") or ""
            if name not in plan.events and event.get("event_type") in plan.events:
                name = event["event_type"]
            counts[summary_key(name)] += 1
    except ConfigError as exc:
        fail(str(exc))
    total = sum(counts.values())
    mapped_lines = 0
    echo(f"{'lines':>8}  {'status':<12} {'catalog':<8} event")
    for name, count in counts.most_common():
        if name in plan.events:
            status = "mapped"
            mapped_lines += count
        elif name in plan.disabled:
            status = "disabled"
        else:
            status = "not mapped"
        in_catalog = "yes" if name in documented else "-"
        echo(f"{count:>8}  {status:<12} {in_catalog:<8} {printable(name)}")
    echo(
        f"{len(counts)} event types in {total} readable lines; {mapped_lines} lines mapped; "
        f"{unreadable} unreadable lines"
    )

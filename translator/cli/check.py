"""`translator check`: compile the mappings, and report coverage of the reference catalog."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click

from translator.catalog import catalog
from translator.cli.common import (
    echo,
    fail,
    input_lines,
    load_command_plan,
    mapping_options,
    overlay_option,
    settings_of,
    target_option,
    translator_of,
)
from translator.config import Settings
from translator.engine import REJECTED, SKIPPED, TRANSLATED
from translator.errors import ConfigError
from translator.intake.ticks import Idle
from translator.mapping.plan import Plan
from translator.messages import printable
from translator.pipeline import translate_lines

__all__ = ["catalog", "check"]


@click.command()
@overlay_option
@target_option
@click.option(
    "--strict",
    is_flag=True,
    help="Treat the mapping warnings (a new event named like a known one, ...) as errors.",
)
@click.option(
    "--sample",
    "samples",
    multiple=True,
    help="A tracking log (file, .gz, or -) to run through the mappings: per event, how many "
    "lines were translated, skipped and rejected, with the first reasons. Repeatable.",
)
@mapping_options
@click.pass_context
def check(
    ctx: click.Context,
    overlays: tuple[Path, ...],
    targets: list[str],
    strict: bool,
    samples: tuple[str, ...],
) -> None:
    """Validate the mappings (with overlays), proving every statement template against its
    target's rules, and report coverage of the reference catalog; with --sample, also run a
    log through them (nothing is sent anywhere)."""
    settings = settings_of(ctx, overlays=overlays)
    for target in targets:
        if len(targets) > 1:
            echo(f"== {target}")
        plan = load_command_plan(settings, target, strict=strict)
        _check_one(settings, plan)
        if samples:
            _sample(settings, plan, samples)


_REASONS_SHOWN = 3  # the first distinct reasons shown per event and bucket


def _sample(settings: Settings, plan: Plan, paths: tuple[str, ...]) -> None:
    """Run the lines of `paths` through `plan`: per event, the count of each bucket and the
    first distinct reasons of the lines not translated."""
    try:
        lines = input_lines(paths, settings, progress=False)
    except ConfigError as exc:
        fail(str(exc))
    counts: dict[str, Counter[str]] = {}
    reasons: dict[tuple[str, str], list[str]] = {}
    for result in translate_lines(lines, translator_of(settings, plan)):
        if isinstance(result, Idle):
            continue
        outcome = result.outcome
        name = outcome.event_name or "(not an event)"
        if name.startswith("/"):  # page requests: one event type per URL, counted together
            name = "(page requests)"
        counts.setdefault(name, Counter())[outcome.status] += 1
        if outcome.reason:
            shown = reasons.setdefault((name, outcome.status), [])
            if outcome.reason not in shown and len(shown) < _REASONS_SHOWN:
                shown.append(outcome.reason)
    total: Counter[str] = Counter()
    for bucket in counts.values():
        total.update(bucket)
    echo(
        f"sample: {total.total()} lines: {total[TRANSLATED]} translated,"
        f" {total[SKIPPED]} skipped, {total[REJECTED]} rejected"
    )
    for name in sorted(counts):
        bucket = counts[name]
        echo(
            f"  {printable(name)}: {bucket[TRANSLATED]} translated, {bucket[SKIPPED]} skipped,"
            f" {bucket[REJECTED]} rejected"
        )
        for status in (REJECTED, SKIPPED):
            for reason in reasons.get((name, status), []):
                echo(f"      {status}: {printable(reason)}")


def _check_one(settings: Settings, plan: Plan) -> None:
    entries = catalog()
    primary = {m.name for m in plan.events.values()}
    echo(
        f"mappings OK: {len(plan.sources.files)} files, {len(primary)} event mappings, "
        f"{len(plan.events)} names with aliases, {len(plan.disabled)} disabled"
    )
    families: dict[str, list[str]] = {}
    for entry in entries:
        families.setdefault(entry["family"], []).append(entry["event"])
    covered = sum(1 for entry in entries if entry["event"] in plan.events)
    echo(f"catalog coverage: {covered} of {len(entries)} documented events mapped")
    for family, names in sorted(families.items()):
        mapped = [n for n in names if n in plan.events]
        echo(f"  {len(mapped):>2}/{len(names):<2} {family}")
        for name in names:
            if name in plan.disabled:
                echo(f"         disabled: {name} ({plan.disabled[name]})")
            elif name not in plan.events:
                echo(f"         not mapped: {name}")
    documented = {e["event"] for e in entries}
    extra = sorted(n for n in plan.events if n not in documented)
    if extra:
        echo("mapped names beyond the catalog (legacy names, aliases, other events):")
        for name in extra:
            echo(f"  {name}")

"""`translator dry-run`: statements as JSON lines on stdout, the reconciled summary on stderr."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
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
from translator.cli.stopping import Stopped, graceful_stop, until_stopped
from translator.errors import ConfigError
from translator.pipeline import run, translate_lines_for
from translator.sinks.rejects import RejectsWriter
from translator.sinks.stdout import JsonLinesSink
from translator.summary import Summary
from translator.targets.caliper.strict import official_schemas

__all__ = ["dry_run"]


@click.command("dry-run")
@click.argument("paths", nargs=-1, required=True)
@overlay_option
@mapping_options
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected lines here (JSON lines with file, line and reason).",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Also check every statement thoroughly: xAPI with the tincan model, Caliper against "
    "the official JSON Schemas (caliper_schema_dir) (slow).",
)
@target_option
@click.option("--lms-root-url", help="The LMS root URL (TRANSLATOR_LMS_ROOT_URL).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on a terminal.")
@click.pass_context
def dry_run(
    ctx: click.Context,
    paths: tuple[str, ...],
    overlays: tuple[Path, ...],
    rejects: Path | None,
    strict: bool,
    targets: list[str],
    lms_root_url: str | None,
    progress: bool,
) -> None:
    """Translate tracking logs (files, .gz, or - for stdin) and print statements as JSON lines.

    The summary goes to stderr; its last line reconciles every line read. Exit status: 0 when
    nothing was rejected, 1 when some lines were rejected, 2 for a usage or configuration error.
    With several targets (`--target xapi,caliper`) each line is read and counted once, and
    translated for each; the summary counts statements per target.
    """
    settings = settings_of(ctx, overlays=overlays, lms_root_url=lms_root_url)
    plans = [load_command_plan(settings, target) for target in targets]
    if strict and "caliper" in targets:
        try:
            official_schemas()
        except ConfigError as exc:
            fail(str(exc))
    if plans[0].ephemeral_pseudonyms:
        echo(
            "warning: TRANSLATOR_PSEUDONYM_SECRET is not set: actor ids of this dry-run come from "
            "a one-off random key and will differ from run to run",
            err=True,
        )
    translators = [translator_of(settings, plan) for plan in plans]
    summary = Summary()
    summary.watch_actor_map(translators)
    status = EXIT_OK
    with ExitStack() as stack:
        reject_writer = None
        if rejects is not None:
            try:
                reject_writer = RejectsWriter(stack.enter_context(rejects.open("wb")))
            except OSError as exc:
                fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        printer = JsonLinesSink(sys.stdout.buffer, escape=sys.stdout.isatty())
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        try:
            lines = until_stopped(input_lines(paths, settings, progress=progress), stop)
            run(
                translate_lines_for(lines, translators, strict=strict),
                summary,
                [printer],
                on_reject=reject_writer.write if reject_writer else None,
            )
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (`| head`): stop quietly
            sys.exit(EXIT_OK)
        except ConfigError as exc:  # an input failed mid-way: what was read before is printed
            printer.finish()
            echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
        except Stopped:
            stop.signal_name = stop.signal_name or "SIGTERM"
        if stop.signal_name:
            status = stop.exit_status
            after = f" after {stop.last_read.where}" if stop.last_read is not None else ""
            echo(f"stopped by {stop.signal_name}{after}", err=True)
    for detail in [*summary.target_lines(), *summary.detail_lines()]:
        echo(detail, err=True)
    if rejects is not None and summary.rejected:
        echo(f"rejected lines written to {rejects}", err=True)
    echo(summary.total_line(), err=True)
    if status == EXIT_OK and summary.rejected:
        status = EXIT_REJECTED
    sys.exit(status)

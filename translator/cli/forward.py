"""`translator forward`: translate logs and deliver the statements, in-process or queued."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    delivery,
    echo,
    fail,
    give_up_option,
    input_lines,
    library_warnings,
    mapping_flags,
    mapping_options,
    overlay_option,
    serve_metrics,
    settings_of,
)
from translator.cli.queued import forward_queued
from translator.cli.stopping import Stop, Stopped, graceful_stop, until_stopped
from translator.config import Settings
from translator.errors import ConfigError, DeliveryError
from translator.pipeline import run, translate_lines_for
from translator.sinks.rejects import RejectsWriter
from translator.summary import Summary, forward_total

__all__ = ["forward"]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@overlay_option
@mapping_options
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected lines here (JSON lines with file, line and reason).",
)
@click.option("--lms-root-url", help="The LMS root URL (TRANSLATOR_LMS_ROOT_URL).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    help="Statements per POST (TRANSLATOR_BATCH_SIZE, default 100).",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Hand the lines to the workers through Redis instead of delivering in-process.",
)
@click.option(
    "--wait",
    is_flag=True,
    help="With --queue: wait until the workers have settled the run and print its summary.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="With --wait: stop waiting after this many seconds (the workers go on).",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on a terminal.")
@give_up_option
@click.pass_context
def forward(
    ctx: click.Context,
    paths: tuple[str, ...],
    overlays: tuple[Path, ...],
    rejects: Path | None,
    lms_root_url: str | None,
    batch_size: int | None,
    queue: bool,
    wait: bool,
    timeout: float | None,
    progress: bool,
    give_up_after: float | None,
) -> None:
    """Translate tracking logs (files, .gz, or - for stdin) and deliver the statements to the
    configured LRSs.

    In-process by default: batches per destination (only the events its org/course filter
    accepts), retried through outages; what an LRS refuses goes to the dead-letter store
    (TRANSLATOR_DEAD_LETTER_PATH). With --queue the lines go to the workers through Redis.

    The last line reads `read N, translated T, delivered D, dead-lettered X, skipped K,
    rejected R`: N, T, K and R count input lines, D and X count statements (an event may give
    several; a statement sent to two destinations counts twice). Exit status: 0 when everything
    landed, 1 when lines were rejected or statements dead-lettered, 2 for a usage or
    configuration error or a destination refusing our credentials (its statements are then in
    the dead-letter store, for `translator dead-letters replay`).
    """
    if not queue and (wait or timeout is not None):
        fail("--wait and --timeout go with --queue")
    if queue and not wait and (rejects is not None or timeout is not None):
        fail("with --queue, --rejects and --timeout need --wait")
    if queue and (
        overlays or lms_root_url is not None or batch_size is not None or mapping_flags(ctx)
    ):
        fail(
            "with --queue the workers translate and deliver: set --overlay, --lms-root-url, "
            "--batch-size, --actor-map, --course-names and --var in the workers' configuration "
            "(TRANSLATOR_OVERLAYS, ...) or on `translator worker`"
        )
    settings = settings_of(
        ctx,
        overlays=overlays,
        lms_root_url=lms_root_url,
        batch_size=batch_size,
        give_up_after=give_up_after,
    )
    if queue:
        forward_queued(
            settings, paths, rejects=rejects, wait=wait, timeout=timeout, progress=progress
        )
    _forward_direct(settings, paths, rejects=rejects, progress=progress)


def _forward_direct(
    settings: Settings, paths: tuple[str, ...], *, rejects: Path | None, progress: bool
) -> NoReturn:
    if settings.needs_pseudonym_secret and settings.pseudonym_secret is None:
        fail(
            "TRANSLATOR_PSEUDONYM_SECRET is not set: statements sent to an LRS need actor ids "
            "that stay the same from run to run; set the secret (the same one every time, kept "
            "like a password) and run again"
        )
    translators, sinks = delivery(settings)
    summary = Summary()
    summary.watch_actor_map(translators)
    serve_metrics(settings, summary, sinks)
    status = EXIT_OK
    with ExitStack() as stack:
        reject_writer = None
        if rejects is not None:
            try:
                reject_writer = RejectsWriter(stack.enter_context(rejects.open("wb")))
            except OSError as exc:
                fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        stack.enter_context(library_warnings())
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        try:
            try:
                lines = until_stopped(input_lines(paths, settings, progress=progress), stop)
                run(
                    translate_lines_for(lines, translators),
                    summary,
                    sinks,
                    on_reject=reject_writer.write if reject_writer else None,
                )
            except ConfigError as exc:  # an input file failed mid-way: deliver what was read
                echo(f"error: {exc}", err=True)
                status = EXIT_USAGE
                for sink in sinks:
                    sink.finish()
        except (Stopped, KeyboardInterrupt):
            for sink in sinks:
                sink.interrupt("stopped before delivery")
            if not stop.requested.is_set():
                stop.signal_name = "SIGINT"
        except DeliveryError as exc:  # the dead-letter store itself failed
            fail(str(exc))
        if stop.signal_name:
            status = stop.exit_status
            _explain_stop(stop, settings)
    for detail in [*summary.target_lines(), *summary.detail_lines()]:
        echo(detail, err=True)
    routes = [route for sink in sinks for route in sink.routes]
    for route in routes:
        line = (
            f"destination {route.destination.name!r}: delivered {route.delivered} "
            f"({route.deliverer.duplicates} already stored), dead-lettered {route.dead_lettered}"
        )
        if route.stopped is not None:
            line += " (stopped)"
        echo(line, err=True)
    unrouted = sum(sink.unrouted for sink in sinks)
    if unrouted:
        echo(f"{unrouted} statements matched no destination's filter: not sent", err=True)
    dead_lettered = sum(sink.dead_lettered for sink in sinks)
    if dead_lettered:
        echo(
            f"dead letters are in {settings.dead_letter_path}: `translator dead-letters list` "
            "shows them, `translator dead-letters replay` sends them again",
            err=True,
        )
    if rejects is not None and summary.rejected:
        echo(f"rejected lines written to {rejects}", err=True)
    echo(
        forward_total(
            read=summary.read,
            translated=summary.translated,
            delivered=sum(sink.delivered for sink in sinks),
            dead_lettered=dead_lettered,
            skipped=summary.skipped,
            rejected=summary.rejected,
        ),
        err=True,
    )
    if status == EXIT_OK and any(r.stopped is not None for r in routes):
        status = EXIT_USAGE
    if status == EXIT_OK and (summary.rejected or dead_lettered):
        status = EXIT_REJECTED
    sys.exit(status)


def _explain_stop(stop: Stop, settings: Settings) -> None:
    """Say what a stop left undone, and how to finish it."""
    where = stop.last_read
    echo(f"stopped by {stop.signal_name}", err=True)
    if where is not None:
        echo(
            f"the lines after {where.where} were not read: to send them, forward the rest of "
            f"{where.source} (for instance `tail -n +{where.lineno + 1} {where.source} | "
            "translator forward -`)",
            err=True,
        )
    echo(
        "statements of the lines read that could not be delivered in time are dead letters in "
        f"{settings.dead_letter_path}: `translator dead-letters replay` sends them",
        err=True,
    )

"""`translator follow`: forward what is appended to tracking logs, resuming from checkpoints."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    destinations,
    fail,
    library_warnings,
    load_command_plan,
    mapping_options,
    overlay_option,
    retry_policy,
    settings_of,
    translator_of,
)
from translator.cli.stopping import Stopped, graceful_stop, until_stopped
from translator.config import Settings
from translator.errors import ConfigError, DeliveryError
from translator.intake.checkpoints import Checkpoints
from translator.intake.follow import Follower
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle
from translator.pipeline import run, translate_lines
from translator.sinks.dead_letters import FileDeadLetterStore
from translator.sinks.delivery import Deliverer
from translator.sinks.forwarding import DestinationRoute, ForwardingSink
from translator.summary import Summary, forward_total

__all__ = ["follow"]


@click.command()
@click.argument("paths", nargs=-1, required=True)
@overlay_option
@mapping_options
@click.option(
    "--from-start",
    "start",
    flag_value="start",
    help="First run: send what the logs already hold, then follow.",
)
@click.option(
    "--from-end",
    "start",
    flag_value="end",
    help="First run: send only what is appended from now on.",
)
@click.option(
    "--checkpoints",
    "checkpoint_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The checkpoint file (TRANSLATOR_CHECKPOINT_PATH, default checkpoints.json).",
)
@click.option(
    "--status-every",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds between two status lines on stderr (0: none).",
)
@click.pass_context
def follow(
    ctx: click.Context,
    paths: tuple[str, ...],
    overlays: tuple[Path, ...],
    start: str | None,
    checkpoint_path: Path | None,
    status_every: float,
) -> None:
    """Follow growing tracking logs (as `tail -F`) and deliver what is appended to the
    configured LRSs, until SIGTERM or Ctrl-C.

    Each log resumes from its checkpoint, which moves only past lines whose statements are
    delivered or dead-lettered: a restart, even after a crash, loses nothing, and what it
    re-reads is stored once (statement ids are deterministic). Rotation by rename or
    copy-truncate is followed. A log without a checkpoint needs --from-start or --from-end.
    On a stop, what was read is delivered within TRANSLATOR_STOP_GRACE seconds (the rest is
    read again next time), the checkpoints are written and the summary printed: exit 0.
    """
    settings = settings_of(ctx, overlays=overlays, checkpoint_path=checkpoint_path)
    if len(set(paths)) != len(paths):
        fail("a log is named twice")
    if settings.pseudonym_secret is None:
        fail(
            "TRANSLATOR_PSEUDONYM_SECRET is not set: statements sent to an LRS need actor ids "
            "that stay the same from run to run"
        )
    try:
        checkpoints = Checkpoints(settings.checkpoint_path)
    except ConfigError as exc:
        fail(str(exc))
    new = [p for p in paths if checkpoints.get(p) is None]
    if new and start is None:
        fail(
            f"{new[0]} has no checkpoint in {settings.checkpoint_path}: on a first run, say "
            "--from-start (send what it holds) or --from-end (only what comes next)"
        )
    configured = destinations(settings)
    plan = load_command_plan(settings)
    translator = translator_of(settings, plan)
    store = FileDeadLetterStore(settings.dead_letter_path)
    sink = ForwardingSink(
        [
            DestinationRoute(
                Deliverer.from_settings(
                    destination, settings, dead_letters=store, retry=retry_policy(settings)
                ),
                store,
                str(settings.dead_letter_path),
            )
            for destination in configured
        ],
        kind=plan.target.name,
    )
    follower = Follower(
        paths,
        checkpoints,
        from_end=start == "end",
        max_line_bytes=settings.max_line_bytes,
        poll_interval=min(0.05, settings.batch_max_wait / 4),
    )
    summary = Summary()
    status = EXIT_OK
    with ExitStack() as stack:
        stack.enter_context(library_warnings())
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        lines = until_stopped(follower.lines(stop.requested), stop)
        try:
            run(
                translate_lines(
                    _with_upkeep(lines, checkpoints, summary, sink, status_every), translator
                ),
                summary,
                [sink],
                on_settled=checkpoints.advance,
            )
        except Stopped:
            click.echo(
                "stopped before every statement read was delivered: the checkpoint stays "
                "before them, and the next run reads them again",
                err=True,
            )
        except (ConfigError, DeliveryError) as exc:
            click.echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
        finally:
            _save(checkpoints)
    _summary(summary, sink, settings)
    sys.exit(status)


def _with_upkeep(
    lines: Iterator[SourceLine | Idle],
    checkpoints: Checkpoints,
    summary: Summary,
    sink: ForwardingSink,
    every: float,
) -> Iterator[SourceLine | Idle]:
    """The lines; while they are quiet, the checkpoints saved when due, and a one-line status
    on stderr every `every` seconds (0: never)."""
    due = time.monotonic() + every
    for line in lines:
        if line is not IDLE:
            yield line
            continue
        checkpoints.save_if_due()
        if every and time.monotonic() >= due:
            click.echo(
                f"status: read {summary.read}, delivered {sink.delivered}, "
                f"dead-lettered {sink.dead_lettered}, rejected {summary.rejected}",
                err=True,
            )
            due = time.monotonic() + every
        yield line


def _save(checkpoints: Checkpoints) -> None:
    try:
        checkpoints.save()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)


def _summary(summary: Summary, sink: ForwardingSink, settings: Settings) -> None:
    for detail in summary.detail_lines():
        click.echo(detail, err=True)
    for route in sink.routes:
        click.echo(
            f"destination {route.destination.name!r}: delivered {route.delivered}, "
            f"dead-lettered {route.dead_lettered}" + (" (stopped)" if route.stopped else ""),
            err=True,
        )
    if sink.dead_lettered:
        click.echo(
            f"dead letters are in {settings.dead_letter_path}: `translator dead-letters replay` "
            "sends them",
            err=True,
        )
    click.echo(
        forward_total(
            read=summary.read,
            translated=summary.translated,
            delivered=sink.delivered,
            dead_lettered=sink.dead_lettered,
            skipped=summary.skipped,
            rejected=summary.rejected,
        ),
        err=True,
    )

"""`translator follow`: forward what is appended to tracking logs, resuming from checkpoints."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    delivery,
    echo,
    echo_delivery_summary,
    fail,
    give_up_option,
    library_warnings,
    mapping_options,
    overlay_option,
    redact,
    serve_metrics,
    settings_of,
)
from translator.cli.stopping import Stopped, graceful_stop, until_stopped
from translator.config import Settings
from translator.engine import Translator
from translator.errors import ConfigError, DeliveryError
from translator.intake.checkpoints import Checkpoints
from translator.intake.follow import Follower
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle
from translator.pipeline import run, translate_lines_for
from translator.sinks.forwarding import Deliveries, ForwardingSink
from translator.summary import Summary

if TYPE_CHECKING:
    from worker.jobs import Chunk

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
@click.option(
    "--queue",
    is_flag=True,
    help="Hand the lines to the workers through Redis instead of delivering in-process.",
)
@give_up_option
@click.pass_context
def follow(
    ctx: click.Context,
    paths: tuple[str, ...],
    overlays: tuple[Path, ...],
    start: str | None,
    checkpoint_path: Path | None,
    status_every: float,
    queue: bool,
    give_up_after: float | None,
) -> None:
    """Follow growing tracking logs (as `tail -F`) and deliver what is appended to the
    configured LRSs, until SIGTERM or Ctrl-C.

    Each log resumes from its checkpoint, which moves only past lines whose statements are
    delivered or dead-lettered (with --queue: handed to Redis for the workers): a restart, even
    after a crash, loses nothing, and what it re-reads is stored once (statement ids are
    deterministic). Rotation by rename or copy-truncate is followed. A log without a
    checkpoint needs --from-start or --from-end. On a stop, what was read is delivered (or
    enqueued) within TRANSLATOR_STOP_GRACE seconds (the rest is read again next time), the
    checkpoints are written and the summary printed: exit 0.
    """
    settings = settings_of(
        ctx, overlays=overlays, checkpoint_path=checkpoint_path, give_up_after=give_up_after
    )
    if len(set(paths)) != len(paths):
        fail("a log is named twice")
    if queue and overlays:
        fail("with --queue the workers translate: set TRANSLATOR_OVERLAYS in their configuration")
    if not queue and settings.needs_pseudonym_secret and settings.pseudonym_secret is None:
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
    # Everything that can refuse to start does so before a log is opened.
    delivering = None if queue else delivery(settings)
    follower = Follower(
        paths,
        checkpoints,
        from_end=start == "end",
        max_line_bytes=settings.max_line_bytes,
        poll_interval=min(0.05, settings.batch_max_wait / 4),
    )
    if delivering is None:
        _follow_queued(settings, follower, checkpoints, status_every)
    _follow_in_process(settings, follower, checkpoints, status_every, *delivering)


def _follow_in_process(
    settings: Settings,
    follower: Follower,
    checkpoints: Checkpoints,
    status_every: float,
    translators: list[Translator],
    sinks: list[ForwardingSink],
) -> NoReturn:
    sink = Deliveries(sinks)
    summary = Summary()
    summary.watch_actor_map(translators)
    serve_metrics(settings, summary, sinks)
    status = EXIT_OK

    def status_line() -> str:
        return (
            f"status: read {summary.read}, delivered {sink.delivered}, "
            f"dead-lettered {sink.dead_lettered}, rejected {summary.rejected}"
        )

    with ExitStack() as stack:
        stack.enter_context(library_warnings())
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        lines = until_stopped(follower.lines(stop.requested), stop)
        try:
            run(
                translate_lines_for(
                    _with_upkeep(lines, checkpoints, status_line, status_every), translators
                ),
                summary,
                sinks,
                on_settled=checkpoints.advance,
            )
        except Stopped:
            echo(
                "stopped before every statement read was delivered: the checkpoint stays "
                "before them, and the next run reads them again",
                err=True,
            )
        except (ConfigError, DeliveryError) as exc:
            echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
        finally:
            _save(checkpoints)
    echo_delivery_summary(summary, sink, settings)
    sys.exit(status)


def _follow_queued(
    settings: Settings, follower: Follower, checkpoints: Checkpoints, status_every: float
) -> NoReturn:
    """Hand the lines to the workers as they come; a checkpoint moves once Redis holds them."""
    import redis
    from kombu.exceptions import KombuError

    from worker.producer import RunProducer

    where = redact(settings.redis_url)
    status = EXIT_OK
    try:
        producer = RunProducer(settings)
    except ConfigError as exc:
        fail(str(exc))
    with producer:
        try:
            producer.check()
        except redis.RedisError as exc:
            follower.close()
            fail(f"cannot reach Redis at {where}: {exc}")
        except ConfigError as exc:  # a Redis that would lose the queue on a restart
            follower.close()
            fail(f"Redis at {where}: {exc}")

        def status_line() -> str:
            return f"status: run {producer.run_id}: enqueued {producer.lines} lines"

        def enqueued(chunk: Chunk) -> None:
            for line in chunk.lines:
                checkpoints.advance(line)

        with graceful_stop(settings.stop_grace) as stop:
            lines = until_stopped(follower.lines(stop.requested), stop)
            try:
                producer.stream(
                    _with_upkeep(lines, checkpoints, status_line, status_every),
                    max_wait=settings.batch_max_wait,
                    on_enqueued=enqueued,
                )
            except Stopped:
                echo(
                    "stopped before every line read was enqueued: the checkpoint stays before "
                    "them, and the next run reads them again",
                    err=True,
                )
            except (redis.RedisError, KombuError, OSError) as exc:
                echo(f"error: cannot enqueue to Redis at {where}: {exc}", err=True)
                status = EXIT_USAGE
            finally:
                _save(checkpoints)
        echo(
            f"run {producer.run_id}: enqueued {producer.lines} lines in {producer.chunks} "
            f"chunks; `translator status --run {producer.run_id}` shows its reconciliation",
            err=True,
        )
    sys.exit(status)


def _with_upkeep(
    lines: Iterator[SourceLine | Idle],
    checkpoints: Checkpoints,
    status_line: Callable[[], str],
    every: float,
) -> Iterator[SourceLine | Idle]:
    """The lines; while they are quiet, the checkpoints saved when due, and a status line on
    stderr every `every` seconds (0: never)."""
    due = time.monotonic() + every
    for line in lines:
        if line is not IDLE:
            yield line
            continue
        checkpoints.save_if_due()
        if every and time.monotonic() >= due:
            echo(status_line(), err=True)
            due = time.monotonic() + every
        yield line


def _save(checkpoints: Checkpoints) -> None:
    try:
        checkpoints.save()
    except ConfigError as exc:
        echo(f"error: {exc}", err=True)

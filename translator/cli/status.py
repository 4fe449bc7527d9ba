"""`translator status`: where the service stands: followed logs, dead letters, the queue, a run."""

from __future__ import annotations

import os
import sys

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    echo,
    fail,
    redact,
    settings_of,
)
from translator.config import Settings
from translator.errors import ConfigError, DeliveryError
from translator.intake.checkpoints import Checkpoints
from translator.sinks.dead_letters import DEFAULT_REDIS_KEY, FileDeadLetterStore

__all__ = ["runs", "status"]


@click.command()
@click.option("--run", "run_id", help="Also show this queued run (the id `forward --queue` gave).")
@click.option(
    "--redis/--no-redis",
    "use_redis",
    default=True,
    show_default=True,
    help="Also ask Redis (TRANSLATOR_REDIS_URL) for the queue and its dead letters.",
)
@click.pass_context
def status(ctx: click.Context, run_id: str | None, use_redis: bool) -> None:
    """Show the checkpoints of followed logs (and how far behind each is), the dead letters, the
    workers' queue and, with --run, a queued run's reconciliation.

    Exit status 0; 2 when something asked for cannot be read (Redis unreachable, an unknown run).
    """
    settings = settings_of(ctx)
    exit_status = EXIT_OK
    _checkpoints(settings)
    try:
        letters = len(FileDeadLetterStore(settings.dead_letter_path))
    except DeliveryError as exc:
        fail(str(exc))
    echo(f"dead letters: {letters} in {settings.dead_letter_path}")
    if use_redis or run_id is not None:
        exit_status = _queue(settings, run_id)
    sys.exit(exit_status)


def _checkpoints(settings: Settings) -> None:
    try:
        positions = Checkpoints(settings.checkpoint_path).positions()
    except ConfigError as exc:
        fail(str(exc))
    if not positions:
        echo(f"followed logs: none (no checkpoints in {settings.checkpoint_path})")
        return
    echo(f"followed logs ({settings.checkpoint_path}):")
    for path, position in sorted(positions.items()):
        try:
            found = os.stat(path)
        except OSError:
            behind = "the log is not there now"
        else:
            if (found.st_dev, found.st_ino) != (position.device, position.inode):
                behind = "rotated since: the next run finishes the old file first"
            else:
                behind = f"{max(0, found.st_size - position.offset)} bytes behind"
        echo(f"  {path}: line {position.lineno} (byte {position.offset}), {behind}")


def _queue(settings: Settings, run_id: str | None) -> int:
    import redis

    from worker.app import QUEUE
    from worker.runs import RunBook

    where = redact(settings.redis_url)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        depth = int(client.llen(QUEUE))
        unacked = int(client.hlen("unacked"))
        letters = int(client.hlen(DEFAULT_REDIS_KEY))
        echo(
            f"queue ({where}): {depth} messages waiting, {unacked} taken by workers, "
            f"{letters} dead letters in Redis"
        )
        if run_id is None:
            return EXIT_OK
        run = RunBook(client, run_id).status()
        if not run.exists:
            echo(f"error: Redis knows no run {run_id!r} (a run's books last a week)", err=True)
            return EXIT_USAGE
        state = "finished" if run.finished else "in progress"
        echo(f"{run.progress_line()} ({state})")
        if run.error:
            echo(f"  workers report: {run.error}")
        echo(f"  {run.total_line()}")
        return EXIT_OK
    except redis.RedisError as exc:
        echo(f"error: cannot reach Redis at {where}: {exc}", err=True)
        return EXIT_USAGE
    finally:
        client.close()


@click.command()
@click.argument("run_id", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.pass_context
def runs(ctx: click.Context, run_id: str | None, limit: int) -> None:
    """The queued runs Redis still knows (a run's books last a week), newest first; with RUN_ID,
    that run's progress and reconciliation. Works while the run goes on and after the CLI that
    enqueued it has gone.

    Exit status: 0; 1 for a run that is not finished; 2 when Redis cannot be reached or knows no
    such run.
    """
    import redis

    from worker.runs import RunBook

    settings = settings_of(ctx)
    where = redact(settings.redis_url)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        if run_id is not None:
            run = RunBook(client, run_id).status()
            if not run.exists:
                fail(f"Redis at {where} knows no run {run_id!r} (a run's books last a week)")
            echo(f"{run.progress_line()} (started {run.started})")
            if run.error:
                echo(f"  workers report: {run.error}")
            if run.finished and not run.reconciles:
                echo("  warning: its counts do not reconcile")
            echo(f"  {run.total_line()}" + ("" if run.finished else " (so far)"))
            sys.exit(EXIT_OK if run.finished else EXIT_REJECTED)
        found = []
        for key in client.scan_iter(match="translator:run:*", count=500):
            name = key.decode()
            if name.count(":") == 2:
                found.append(RunBook(client, name.rsplit(":", 1)[1]).status())
        found.sort(key=lambda r: r.started, reverse=True)
        for run in found[:limit]:
            state = "finished" if run.finished else "in progress"
            echo(f"{run.started}  {state:<11}  {run.progress_line()}")
        echo(f"{len(found)} runs in Redis at {where}", err=True)
    except redis.RedisError as exc:
        fail(f"cannot reach Redis at {where}: {exc}")
    finally:
        client.close()

"""`translator consume`: deliver the tracking events of the Open edX event bus (Redis Streams)."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
import redis

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
from translator.engine import REJECTED, Outcome
from translator.errors import ConfigError, DeliveryError
from translator.intake.bus import BusConsumer
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE, Idle
from translator.pipeline import LineResult, run, translate_lines_for
from translator.sinks.forwarding import Deliveries
from translator.sinks.rejects import RejectsWriter
from translator.summary import Summary

if TYPE_CHECKING:
    from worker.jobs import Chunk

__all__ = ["consume"]

DEFAULT_GROUP = "edx-xapi-translator"


@click.command()
@click.option(
    "--stream",
    required=True,
    help="The stream's key: the topic (usually `analytics`), prefixed `<EVENT_BUS_TOPIC_PREFIX>-` "
    "when the LMS sets that prefix.",
)
@click.option(
    "--group",
    default=DEFAULT_GROUP,
    show_default=True,
    help="The consumer group: consumers of one group share the events.",
)
@click.option(
    "--consumer",
    help="This consumer's name in the group, the same across its restarts "
    "(default: the host name).",
)
@overlay_option
@mapping_options
@click.option(
    "--from-start",
    "start",
    flag_value="start",
    help="A new group: translate what the stream still holds, then what comes.",
)
@click.option(
    "--from-end",
    "start",
    flag_value="end",
    help="A new group: translate only what is added from now on.",
)
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append rejected entries here (JSON lines with entry, reason and text).",
)
@click.option(
    "--status-every",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds between two status lines on stderr, with the group's lag (0: none).",
)
@click.option(
    "--queue",
    is_flag=True,
    help="Hand the events to the workers through Redis instead of delivering in-process.",
)
@give_up_option
@click.pass_context
def consume(
    ctx: click.Context,
    stream: str,
    group: str,
    consumer: str | None,
    overlays: tuple[Path, ...],
    start: str | None,
    rejects: Path | None,
    status_every: float,
    queue: bool,
    give_up_after: float | None,
) -> None:
    """Consume the tracking events that Open edX's event bus (edx-event-bus-redis) writes to a
    Redis Stream, and deliver them to the configured LRSs, until SIGTERM or Ctrl-C.

    Redis is TRANSLATOR_EVENT_BUS_REDIS_URL (default: TRANSLATOR_REDIS_URL). The consumer reads
    through a consumer group and acknowledges an entry only once its statements are delivered or
    dead-lettered; what it leaves unacknowledged (a crash, a stop) is read again by it when it
    restarts, or claimed by another consumer of the group after TRANSLATOR_EVENT_BUS_CLAIM_IDLE
    seconds. Statement ids are deterministic: a redelivered entry is stored once. A group that
    does not exist yet needs --from-start or --from-end. On a stop, what was read is delivered
    within TRANSLATOR_STOP_GRACE seconds, the rest stays pending, the summary is printed: exit 0.
    """
    settings = settings_of(ctx, overlays=overlays, give_up_after=give_up_after)
    if queue and overlays:
        fail("with --queue the workers translate: set TRANSLATOR_OVERLAYS in their configuration")
    if not queue and settings.needs_pseudonym_secret and settings.pseudonym_secret is None:
        fail(
            "TRANSLATOR_PSEUDONYM_SECRET is not set: statements sent to an LRS need actor ids "
            "that stay the same from run to run"
        )
    url = settings.event_bus_redis_url or settings.redis_url
    client = redis.Redis.from_url(url)
    bus = BusConsumer(
        client,
        stream,
        group,
        consumer or socket.gethostname(),
        max_line_bytes=settings.max_line_bytes,
        block=min(0.2, settings.batch_max_wait / 2),
        claim_idle=settings.event_bus_claim_idle,
    )
    try:
        if not bus.group_exists():
            if start is None:
                fail(
                    f"the stream {stream!r} has no consumer group {group!r} yet: on a first run, "
                    "say --from-start (translate what the stream still holds) or --from-end "
                    "(only what comes next)"
                )
            bus.create_group(from_start=start == "start")
    except redis.RedisError as exc:
        fail(f"cannot use the event bus's Redis at {redact(url)}: {exc}")
    if queue:
        _consume_queued(settings, bus, rejects, status_every)
    translators, sinks = delivery(settings)
    sink = Deliveries(sinks)
    summary = Summary()
    summary.watch_actor_map(translators)
    serve_metrics(settings, summary, sinks)
    status = EXIT_OK
    with ExitStack() as stack:
        reject_writer = None
        if rejects is not None:
            try:
                reject_writer = RejectsWriter(stack.enter_context(rejects.open("ab")))
            except OSError as exc:
                fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        stack.enter_context(library_warnings())
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        lines = until_stopped(bus.lines(stop.requested), stop)
        try:
            run(
                translate_lines_for(
                    _with_status(lines, bus, summary, sink, status_every), translators
                ),
                summary,
                sinks,
                on_reject=reject_writer.write if reject_writer else None,
                on_settled=bus.acknowledge,
            )
        except Stopped:
            echo(
                "stopped before every statement read was delivered: their entries stay pending "
                "in the group, and are read again",
                err=True,
            )
        except (ConfigError, DeliveryError) as exc:
            echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
        except redis.RedisError as exc:
            echo(f"error: the event bus's Redis failed: {exc}", err=True)
            status = EXIT_USAGE
        finally:
            _acknowledge(bus)
    _summary(summary, sink, bus, settings, rejects)
    client.close()
    sys.exit(status)


def _status(bus: BusConsumer) -> str:
    try:
        return str(bus.lag())
    except redis.RedisError as exc:
        return f"lag unknown ({exc})"


def _with_status(
    lines: Iterator[SourceLine | Idle],
    bus: BusConsumer,
    summary: Summary,
    sink: Deliveries,
    every: float,
) -> Iterator[SourceLine | Idle]:
    """The lines, and a one-line status on stderr every `every` seconds (0: never), busy or
    quiet, with the group's lag."""
    due = time.monotonic() + every
    for line in lines:
        if every and time.monotonic() >= due:
            echo(
                f"status: read {summary.read}, delivered {sink.delivered}, "
                f"dead-lettered {sink.dead_lettered}, rejected {summary.rejected}, "
                f"claimed {bus.claimed}, {_status(bus)}",
                err=True,
            )
            due = time.monotonic() + every
        yield line


def _acknowledge(bus: BusConsumer) -> None:
    try:
        bus.flush()
    except redis.RedisError as exc:
        echo(
            f"error: cannot acknowledge the entries settled last ({exc}): they are read again",
            err=True,
        )


def _summary(
    summary: Summary,
    sink: Deliveries,
    bus: BusConsumer,
    settings: Settings,
    rejects: Path | None,
) -> None:
    notes = []
    if rejects is not None and summary.rejected:
        notes.append(f"rejected entries written to {rejects}")
    notes.append(_group_line(bus))
    echo_delivery_summary(summary, sink, settings, notes=notes)


def _group_line(bus: BusConsumer) -> str:
    return (
        f"stream {bus.stream!r}, group {bus.group!r}: claimed {bus.claimed}, left pending "
        f"{bus.unacknowledged}, {_status(bus)}"
    )


def _consume_queued(
    settings: Settings, bus: BusConsumer, rejects: Path | None, status_every: float
) -> NoReturn:
    """Hand the entries to the workers in chunks; an entry is acknowledged once Redis holds its
    chunk. An entry that cannot be decoded is rejected here (with --rejects, written there) and
    acknowledged: it would never decode."""
    from kombu.exceptions import KombuError

    from worker.producer import RunProducer

    where = redact(settings.redis_url)
    status = EXIT_OK
    unusable = 0
    try:
        producer = RunProducer(settings)
    except ConfigError as exc:
        fail(str(exc))

    def enqueued(chunk: Chunk) -> None:
        for line in chunk.lines:
            bus.acknowledge(line)

    def usable(
        lines: Iterator[SourceLine | Idle], writer: RejectsWriter | None
    ) -> Iterator[SourceLine | Idle]:
        nonlocal unusable
        due = time.monotonic() + status_every
        for line in lines:
            if status_every and time.monotonic() >= due:
                echo(
                    f"status: run {producer.run_id}: enqueued {producer.lines} entries, "
                    f"claimed {bus.claimed}, {_status(bus)}",
                    err=True,
                )
                due = time.monotonic() + status_every
            if line is not IDLE and line.unusable:
                unusable += 1
                if writer is not None:
                    writer.write(LineResult(line, Outcome(REJECTED, reason=line.unusable)))
                bus.acknowledge(line)
                continue
            # One source for the stream, so that consecutive entries share a chunk.
            yield line if line is IDLE else replace(line, source=f"redis-stream:{bus.stream}")

    with producer, ExitStack() as stack:
        try:
            producer.check()
        except redis.RedisError as exc:
            fail(f"cannot reach Redis at {where}: {exc}")
        except ConfigError as exc:  # a Redis that would lose the queue on a restart
            fail(f"Redis at {where}: {exc}")
        writer = None
        if rejects is not None:
            try:
                writer = RejectsWriter(stack.enter_context(rejects.open("ab")))
            except OSError as exc:
                fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        stop = stack.enter_context(graceful_stop(settings.stop_grace))
        lines = until_stopped(bus.lines(stop.requested), stop)
        try:
            producer.stream(
                usable(lines, writer), max_wait=settings.batch_max_wait, on_enqueued=enqueued
            )
        except Stopped:
            echo(
                "stopped before every entry read was enqueued: they stay pending in the group",
                err=True,
            )
        except (redis.RedisError, KombuError, OSError) as exc:
            echo(f"error: cannot enqueue to Redis at {where}: {exc}", err=True)
            status = EXIT_USAGE
        finally:
            _acknowledge(bus)
        echo(
            f"run {producer.run_id}: enqueued {producer.lines} entries in {producer.chunks} "
            f"chunks, rejected {unusable} undecodable; `translator status --run "
            f"{producer.run_id}` shows its reconciliation",
            err=True,
        )
        echo(_group_line(bus), err=True)
    sys.exit(status)

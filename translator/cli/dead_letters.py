"""`translator dead-letters list|replay|purge`: what an endpoint refused, and sending it again."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from translator.cli.common import (
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_USAGE,
    destinations,
    echo,
    fail,
    library_warnings,
    redact,
    retry_policy,
    settings_of,
)
from translator.config import Settings
from translator.errors import DeliveryError, DestinationRefused, TransientDeliveryError
from translator.messages import printable, printable_json
from translator.sinks.dead_letters import (
    DeadLetterStore,
    FileDeadLetterStore,
    RedisDeadLetterStore,
)
from translator.sinks.delivery import Deliverer
from translator.sinks.replay import replay

__all__ = ["dead_letters"]


def _redis_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--redis",
        "use_redis",
        is_flag=True,
        help="The workers' store in Redis (TRANSLATOR_REDIS_URL) instead of the file "
        "(TRANSLATOR_DEAD_LETTER_PATH).",
    )(fn)


def _destination_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--destination", help="Only the letters of this destination.")(fn)


@contextmanager
def _store(settings: Settings, use_redis: bool) -> Iterator[DeadLetterStore]:
    """The file store, or the workers' Redis store; fails with exit status 2 when unreachable."""
    if not use_redis:
        yield FileDeadLetterStore(settings.dead_letter_path)
        return
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        fail(f"cannot reach Redis at {redact(settings.redis_url)}: {exc}")
    try:
        yield RedisDeadLetterStore(client)
    finally:
        client.close()


def _store_name(settings: Settings, use_redis: bool) -> str:
    return f"Redis {redact(settings.redis_url)}" if use_redis else str(settings.dead_letter_path)


@click.group("dead-letters")
def dead_letters() -> None:
    """Statements an LRS would not take: list them, replay them once the cause is fixed, purge."""


@dead_letters.command("list")
@_redis_option
@_destination_option
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each letter as one JSON line, with its statement.",
)
@click.pass_context
def dead_letters_list(
    ctx: click.Context, use_redis: bool, destination: str | None, as_json: bool
) -> None:
    """List the dead letters: when, destination, input file:line, HTTP status and reason."""
    settings = settings_of(ctx)
    try:
        with _store(settings, use_redis) as store:
            letters = store.list(destination=destination)
    except DeliveryError as exc:
        fail(str(exc))
    for letter in letters:
        if as_json:
            echo(printable_json(letter.to_json().decode()))
        else:
            status = "-" if letter.status is None else str(letter.status)
            echo(
                printable(
                    f"{letter.time}  {letter.destination}  {letter.source}  {status}  "
                    f"{letter.reason}"
                )
            )
    echo(
        f"{len(letters)} dead letters in {_store_name(settings, use_redis)}",
        err=as_json,
    )


@dead_letters.command("replay")
@_redis_option
@_destination_option
@click.option(
    "--max-wait",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Seconds to retry an unreachable destination before giving up (its letters stay).",
)
@click.pass_context
def dead_letters_replay(
    ctx: click.Context, use_redis: bool, destination: str | None, max_wait: float
) -> None:
    """Send the dead letters again, to the destinations of the current configuration.

    A letter that lands (or is found already stored) leaves the store; one refused again is
    kept with its new reason. Exit status: 0 when every letter landed, 1 when some were
    dead-lettered again or left, 2 for a configuration error or refused credentials.
    """
    settings = settings_of(ctx)
    configured = {d.name: d for d in destinations(settings)}
    if destination is not None and destination not in configured:
        fail(f"destination {destination!r} is not configured")
    status = EXIT_OK
    try:
        with _store(settings, use_redis) as store, library_warnings():
            waiting = Counter(d.destination for d in store.list(destination=destination))
            for name in sorted(waiting):
                target = configured.get(name)
                if target is None:
                    echo(
                        f"{waiting[name]} letters for destination {name!r}, which is not "
                        "configured, were left in the store",
                        err=True,
                    )
                    status = max(status, EXIT_REJECTED)
                    continue
                deliverer = Deliverer.from_settings(
                    target,
                    settings,
                    dead_letters=store,
                    retry=retry_policy(settings, max_elapsed=max_wait),
                )
                try:
                    with deliverer:
                        result = replay(store, deliverer)
                except DestinationRefused:  # the Deliverer logged it
                    echo(f"error: the letters for {name!r} stay in the store", err=True)
                    status = EXIT_USAGE
                    continue
                except TransientDeliveryError as exc:
                    echo(f"error: {exc}; its letters stay in the store", err=True)
                    status = max(status, EXIT_REJECTED)
                    continue
                echo(
                    f"destination {name!r}: replayed {result.attempted}: delivered "
                    f"{result.delivered}, dead-lettered again {result.dead_lettered}"
                )
                if result.dead_lettered:
                    status = max(status, EXIT_REJECTED)
            left = len(store)
    except DeliveryError as exc:
        fail(str(exc))
    echo(f"{left} dead letters left in {_store_name(settings, use_redis)}")
    sys.exit(status)


@dead_letters.command("purge")
@_redis_option
@_destination_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def dead_letters_purge(
    ctx: click.Context, use_redis: bool, destination: str | None, yes: bool
) -> None:
    """Drop dead letters for good (after fixing them at the source, say)."""
    settings = settings_of(ctx)
    where = _store_name(settings, use_redis)
    try:
        with _store(settings, use_redis) as store:
            count = len(store.list(destination=destination))
            if count and not yes:
                click.confirm(f"drop {count} dead letters from {where} for good?", abort=True)
            dropped = store.purge(destination=destination) if count else 0
    except DeliveryError as exc:
        fail(str(exc))
    echo(f"purged {dropped} dead letters from {where}")

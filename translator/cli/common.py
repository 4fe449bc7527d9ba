"""What the commands share: exit statuses, settings and plan loading, options, progress, logs."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click

from translator.config import (
    Settings,
    check_settings,
    load_settings,
    parse_var,
    unknown_variables,
)
from translator.engine import Translator
from translator.errors import ConfigError, MappingError
from translator.intake.lines import SourceLine, read_lines
from translator.intake.ticks import Idle, with_idle_ticks
from translator.mapping.plan import Plan, load_plan
from translator.messages import printable
from translator.sinks.dead_letters import FileDeadLetterStore
from translator.sinks.delivery import Deliverer, RetryPolicy
from translator.sinks.destinations import Destination, load_destinations
from translator.sinks.forwarding import Deliveries, DestinationRoute, ForwardingSink
from translator.summary import Summary, forward_total
from translator.targets.caliper.strict import use_schema_dir
from translator.targets.registry import DEFAULT_TARGET, TARGETS, get_target

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_USAGE",
    "delivery",
    "destinations",
    "echo",
    "echo_delivery_summary",
    "fail",
    "give_up_option",
    "input_lines",
    "library_warnings",
    "load_command_plan",
    "mapping_flags",
    "mapping_options",
    "overlay_option",
    "parse_targets",
    "progress_lines",
    "redact",
    "retry_policy",
    "serve_metrics",
    "settings_of",
    "target_option",
    "translator_of",
]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def echo(message: str = "", *, err: bool = False) -> None:
    """A line (or lines) for the operator, on stdout or stderr: every control character a
    terminal could act on (an ESC from an event name, a bidi override from an LRS's answer) is
    shown escaped. Every CLI line goes through here: log- or endpoint-derived text reaches many
    messages, so no message is left to remember it."""
    click.echo(printable(message, lines=True), err=err)


def fail(message: str) -> NoReturn:
    """Say what is wrong on stderr, one `error:` line per problem, and exit with the usage
    status."""
    for line in message.splitlines() or [""]:
        echo(f"error: {line}", err=True)
    sys.exit(EXIT_USAGE)


def settings_of(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from defaults, config file, environment, then the flags given on this command."""
    config: Path | None = ctx.obj.get("config") if ctx.obj else None
    try:
        settings = load_settings(config_file=config)
    except ConfigError as exc:
        fail(str(exc))
    overlays = overrides.pop("overlays", ())
    if overlays:
        overrides["overlays"] = tuple(Path(o) for o in overlays)
    flags = mapping_flags(ctx)
    overrides.setdefault("actor_map", flags.get("actor_map"))
    overrides.setdefault("course_names", flags.get("course_names"))
    if flags.get("vars"):
        try:
            given = dict(parse_var(text) for text in flags["vars"])
        except ConfigError as exc:
            fail(str(exc))
        overrides["mapping_vars"] = tuple({**dict(settings.mapping_vars), **given}.items())
    settings = settings.with_overrides(**overrides)
    for warning in unknown_variables():
        echo(f"warning: {warning}", err=True)
    try:
        check_settings(settings)
    except ConfigError as exc:
        fail(str(exc))
    return settings


def target_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--target xapi|caliper|xapi,caliper`: the standards to write."""
    return click.option(
        "--target",
        "targets",
        default=DEFAULT_TARGET,
        show_default=True,
        callback=lambda _ctx, _param, value: parse_targets(value),
        help="The standard(s) to write, comma-separated: " + ", ".join(TARGETS) + ".",
    )(fn)


def parse_targets(text: str) -> list[str]:
    """Target names from `xapi,caliper`, each once, in order; a usage error names the known."""
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name not in TARGETS:
            raise click.BadParameter(f"unknown target {name!r} (known: {', '.join(TARGETS)})")
        if name not in names:
            names.append(name)
    return names


def load_command_plan(
    settings: Settings, target: str = DEFAULT_TARGET, *, strict: bool = False
) -> Plan:
    """The compiled plan of `target`, or every mapping error on stderr and the usage status.
    The plan's warnings go to stderr (`warning: file:line:col: ...`); `strict` makes them
    errors."""
    use_schema_dir(settings.caliper_schema_dir)
    try:
        plan = load_plan(settings, get_target(target), known_targets=TARGETS, strict=strict)
        for warning in plan.warnings:
            echo(f"warning: {warning}", err=True)
        return plan
    except MappingError as exc:
        echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        fail(str(exc))


def translator_of(settings: Settings, plan: Plan) -> Translator:
    """The engine over `plan`, with the statement-id namespace of `settings`."""
    try:
        return Translator(plan, id_namespace=settings.id_namespace)
    except ValueError:
        fail(f"setting id_namespace: {settings.id_namespace!r} is not a UUID")


def overlay_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--overlay DIR`, repeatable."""
    return click.option(
        "--overlay",
        "overlays",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="An institution's mapping directory, applied after the core (repeatable).",
    )(fn)


_MAPPING_FLAGS = "mapping_flags"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None and value != ():
        ctx.meta.setdefault(_MAPPING_FLAGS, {})[param.name] = value


def mapping_flags(ctx: click.Context) -> dict[str, Any]:
    """The `mapping_options` given to this command (`actor_map`, `course_names`, `vars`)."""
    found: dict[str, Any] = ctx.meta.get(_MAPPING_FLAGS, {})
    return found


def mapping_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--actor-map FILE`, `--course-names FILE`, `--var NAME=VALUE` (repeatable): what every
    command that loads mappings takes. They reach Settings through `settings_of`, so a command's
    signature does not change."""
    options = (
        click.option(
            "--var",
            "vars",
            multiple=True,
            metavar="NAME=VALUE",
            expose_value=False,
            callback=_remember,
            help="Set a mapping var, over the files and TRANSLATOR_VAR_<NAME> (repeatable).",
        ),
        click.option(
            "--course-names",
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_remember,
            help="CSV course_id,display_name: course names (TRANSLATOR_COURSE_NAMES).",
        ),
        click.option(
            "--actor-map",
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_remember,
            help="CSV user_id,anonymous_id[,username] from the LMS: actor ids; a user it lacks "
            "is rejected (TRANSLATOR_ACTOR_MAP).",
        ),
    )
    for option in options:
        fn = option(fn)
    return fn


def _with_progress(lines: Iterator[SourceLine], enabled: bool) -> Iterator[SourceLine]:
    """Lines, shown as a progress bar on stderr when it is a terminal."""
    if not enabled or not sys.stderr.isatty():
        yield from lines
        return
    from tqdm import tqdm

    with tqdm(unit=" lines", unit_scale=True, file=sys.stderr, mininterval=0.5, leave=False) as bar:
        pending = 0
        for line in lines:
            yield line
            pending += 1
            if pending == 1000:
                bar.update(pending)
                pending = 0
        bar.update(pending)


def input_lines(
    paths: Sequence[str], settings: Settings, *, progress: bool
) -> Iterator[SourceLine | Idle]:
    """The lines of `paths` (checked readable now: raises ConfigError), with a progress bar on a
    terminal; reading stdin, IDLE comes whenever no line came for `batch_max_wait` seconds, so
    a quiet pipe still gets its statements sent."""
    if "-" not in paths:
        return progress_lines(paths, settings, progress=progress)
    lines = progress_lines(paths, settings, progress=progress, stdin=_own_stdin())
    return with_idle_ticks(lines, settings.batch_max_wait)


def progress_lines(
    paths: Sequence[str], settings: Settings, *, progress: bool, stdin: BinaryIO | None = None
) -> Iterator[SourceLine]:
    """The lines of `paths` (checked readable now: raises ConfigError), with a progress bar on
    a terminal."""
    lines = read_lines(paths, max_line_bytes=settings.max_line_bytes, stdin=stdin)
    return _with_progress(lines, progress)


def _own_stdin() -> BinaryIO | None:
    """A reader of its own on standard input, for the intake thread: a thread blocked in
    sys.stdin's reader would hold its lock when the interpreter exits, which aborts it."""
    try:
        descriptor = sys.stdin.fileno()
    except (AttributeError, OSError, ValueError):  # not a real file (tests give a buffer)
        return None
    return os.fdopen(os.dup(descriptor), "rb")


def redact(url: str) -> str:
    """A URL fit for a message: its password, if any, replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class _EchoHandler(logging.Handler):
    """Log records of the library (retries, refusals) as `warning: ...` lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


@contextmanager
def library_warnings() -> Iterator[None]:
    """Let the user see the library's retries and refusals while a command runs."""
    library = logging.getLogger("translator")
    handler = _EchoHandler(logging.WARNING)
    level, propagate = library.level, library.propagate
    library.addHandler(handler)
    library.propagate = False
    if level == logging.NOTSET or level > logging.WARNING:
        library.setLevel(logging.WARNING)
    try:
        yield
    finally:
        library.removeHandler(handler)
        library.setLevel(level)
        library.propagate = propagate


def destinations(settings: Settings) -> list[Destination]:
    """The configured destinations, or a message saying how to configure one."""
    try:
        found = load_destinations(settings)
    except ConfigError as exc:
        fail(str(exc))
    if not found:
        fail(
            "no destination is configured: set TRANSLATOR_LRS_URL (the LRS's xAPI endpoint) with "
            "TRANSLATOR_LRS_USERNAME and TRANSLATOR_LRS_PASSWORD, or TRANSLATOR_LRS_TOKEN; or "
            "name a destinations file in TRANSLATOR_DESTINATIONS_FILE"
        )
    return found


def retry_policy(settings: Settings, *, max_elapsed: float | None = None) -> RetryPolicy:
    """The in-process retry policy of `settings`: without `max_elapsed`, a destination that
    stays unavailable is retried for `give_up_after` seconds (0: as long as the run lasts)."""
    if max_elapsed is None and settings.give_up_after:
        max_elapsed = settings.give_up_after
    return RetryPolicy(
        initial=settings.retry_initial, maximum=settings.retry_max, max_elapsed=max_elapsed
    )


def give_up_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """`--give-up-after SECONDS`: stop retrying an unavailable destination and park its rest."""
    return click.option(
        "--give-up-after",
        "give_up_after",
        type=click.FloatRange(min=0),
        help="Seconds to retry a destination that stays unavailable before its statements are "
        "parked as dead letters (TRANSLATOR_GIVE_UP_AFTER; default 0: retry while it runs).",
    )(fn)


def delivery(settings: Settings) -> tuple[list[Translator], list[ForwardingSink]]:
    """For in-process delivery: a translator for each target the configured destinations take,
    and a sink delivering that target's statements to them (retried per the settings, dead
    letters in the file store). Each line is then translated once per target."""
    configured = destinations(settings)
    kinds = list(dict.fromkeys(destination.kind for destination in configured))
    translators = [translator_of(settings, load_command_plan(settings, kind)) for kind in kinds]
    store = FileDeadLetterStore(settings.dead_letter_path)
    sinks = [
        ForwardingSink(
            [
                DestinationRoute(
                    Deliverer.from_settings(
                        destination, settings, dead_letters=store, retry=retry_policy(settings)
                    ),
                    store,
                    str(settings.dead_letter_path),
                )
                for destination in configured
                if destination.kind == kind
            ],
            kind=kind,
        )
        for kind in kinds
    ]
    return translators, sinks


def serve_metrics(settings: Settings, summary: Summary, sinks: Sequence[ForwardingSink]) -> None:
    """Expose the run's Prometheus metrics when TRANSLATOR_METRICS_PORT is set."""
    if not settings.metrics_port:
        return
    from translator.metrics import RunMetrics, serve

    try:
        serve(
            settings.metrics_port,
            settings.metrics_address,
            RunMetrics(summary, [r for sink in sinks for r in sink.routes]),
        )
    except OSError as exc:
        fail(
            f"setting metrics_port: cannot serve metrics on "
            f"{settings.metrics_address}:{settings.metrics_port}: {exc.strerror}"
        )


def echo_delivery_summary(
    summary: Summary, deliveries: Deliveries, settings: Settings, *, notes: Sequence[str] = ()
) -> None:
    """The closing lines of an in-process run on stderr: skips and rejects, each destination,
    where the dead letters are, `notes`, then the reconciled total."""
    for detail in summary.detail_lines():
        echo(detail, err=True)
    for route in deliveries.routes:
        echo(
            f"destination {route.destination.name!r}: delivered {route.delivered}, "
            f"dead-lettered {route.dead_lettered}" + (" (stopped)" if route.stopped else ""),
            err=True,
        )
    if deliveries.dead_lettered:
        echo(
            f"dead letters are in {settings.dead_letter_path}: `translator dead-letters replay` "
            "sends them",
            err=True,
        )
    for note in notes:
        echo(note, err=True)
    echo(
        forward_total(
            read=summary.read,
            translated=summary.translated,
            delivered=deliveries.delivered,
            dead_lettered=deliveries.dead_lettered,
            skipped=summary.skipped,
            rejected=summary.rejected,
        ),
        err=True,
    )

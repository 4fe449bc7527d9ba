"""The `translator` command line: dry-run, check, explain, coverage, forward, dead-letters..."""

from __future__ import annotations

import difflib
import json
import logging
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import click
import orjson

from translator.config import Settings, load_settings
from translator.dead_letters import (
    DeadLetter,
    DeadLetterStore,
    FileDeadLetterStore,
    RedisDeadLetterStore,
    replay,
)
from translator.delivery import Deliverer, RetryPolicy
from translator.destinations import Destination, load_destinations
from translator.engine import Translator
from translator.errors import (
    ConfigError,
    DeliveryError,
    DestinationRefused,
    InputError,
    MappingError,
    TransientDeliveryError,
)
from translator.events import SourceLine, parse_line, read_lines
from translator.mapping.nodes import Node, child_pointer
from translator.pipeline import (
    LineResult,
    RejectsWriter,
    Summary,
    forward_total,
    run,
    summary_key,
    translate_lines,
)
from translator.plan import Plan, load_plan

if TYPE_CHECKING:
    from worker.jobs import Chunk
    from worker.runs import RunBook, RunStatus

__all__ = ["main"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


def _fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _settings(ctx: click.Context, **overrides: Any) -> Settings:
    """Settings from defaults, config file, environment, then the flags given on this command."""
    config: Path | None = ctx.obj.get("config") if ctx.obj else None
    try:
        settings = load_settings(config_file=config)
    except ConfigError as exc:
        _fail(str(exc))
    overlays = overrides.pop("overlays", ())
    if overlays:
        overrides["overlays"] = tuple(Path(o) for o in overlays)
    return settings.with_overrides(**overrides)


def _plan(settings: Settings) -> Plan:
    try:
        return load_plan(settings)
    except MappingError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        _fail(str(exc))


def _overlay_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--overlay",
        "overlays",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="An institution's mapping directory, applied after the core (repeatable).",
    )(fn)


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


@click.group()
@click.option(
    "--config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A TOML settings file (also TRANSLATOR_CONFIG).",
)
@click.version_option(package_name="edx-xapi-translator")
@click.pass_context
def main(ctx: click.Context, config: Path | None) -> None:
    """Translate Open edX tracking logs into xAPI statements and deliver them to an LRS."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config


@main.command("dry-run")
@click.argument("paths", nargs=-1, required=True)
@_overlay_option
@click.option(
    "--rejects",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write rejected lines here (JSON lines with file, line and reason).",
)
@click.option(
    "--strict", is_flag=True, help="Also check every statement with the tincan model (slow)."
)
@click.option("--lms-root-url", help="The LMS root URL (TRANSLATOR_LMS_ROOT_URL).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on a terminal.")
@click.pass_context
def dry_run(
    ctx: click.Context,
    paths: tuple[str, ...],
    overlays: tuple[Path, ...],
    rejects: Path | None,
    strict: bool,
    lms_root_url: str | None,
    progress: bool,
) -> None:
    """Translate tracking logs (files, .gz, or - for stdin) and print statements as JSON lines.

    The summary goes to stderr; its last line reconciles every line read. Exit status: 0 when
    nothing was rejected, 1 when some lines were rejected, 2 for a usage or configuration error.
    """
    settings = _settings(ctx, overlays=overlays, lms_root_url=lms_root_url)
    plan = _plan(settings)
    if plan.ephemeral_pseudonyms:
        click.echo(
            "warning: TRANSLATOR_PSEUDONYM_SECRET is not set: actor ids of this dry-run come from "
            "a one-off random key and will differ from run to run",
            err=True,
        )
    translator = Translator(plan, id_namespace=settings.id_namespace)
    summary = Summary()
    out = sys.stdout.buffer
    buffer: list[bytes] = []

    def emit(statement: dict[str, Any], _result: LineResult) -> None:
        buffer.append(orjson.dumps(statement))
        if len(buffer) >= 256:
            out.write(b"\n".join(buffer) + b"\n")
            buffer.clear()

    status = EXIT_OK
    with ExitStack() as stack:
        reject_writer = None
        if rejects is not None:
            try:
                reject_writer = RejectsWriter(stack.enter_context(rejects.open("wb")))
            except OSError as exc:
                _fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        try:
            lines = _with_progress(
                read_lines(paths, max_line_bytes=settings.max_line_bytes), progress
            )
            results = translate_lines(
                lines, translator, max_line_bytes=settings.max_line_bytes, strict=strict
            )
            run(
                results,
                summary,
                on_statement=emit,
                on_reject=reject_writer.write if reject_writer else None,
            )
            if buffer:
                out.write(b"\n".join(buffer) + b"\n")
            out.flush()
        except BrokenPipeError:
            sys.stderr.close()  # the reader went away (`| head`): stop quietly
            sys.exit(EXIT_OK)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            status = EXIT_USAGE
    for detail in summary.detail_lines():
        click.echo(detail, err=True)
    if rejects is not None and summary.rejected:
        click.echo(f"rejected lines written to {rejects}", err=True)
    click.echo(summary.total_line(), err=True)
    if status == EXIT_OK and summary.rejected:
        status = EXIT_REJECTED
    sys.exit(status)


def _catalog() -> list[dict[str, Any]]:
    """The reference catalog of documented student events (shipped with the package)."""
    text = files("translator").joinpath("edx-event-catalog.json").read_text(encoding="utf-8")
    events: list[dict[str, Any]] = json.loads(text)["events"]
    return events


@main.command()
@_overlay_option
@click.pass_context
def check(ctx: click.Context, overlays: tuple[Path, ...]) -> None:
    """Validate the mappings (with overlays) and report coverage of the reference catalog."""
    settings = _settings(ctx, overlays=overlays)
    plan = _plan(settings)
    catalog = _catalog()
    primary = {m.name for m in plan.events.values()}
    click.echo(
        f"mappings OK: {len(plan.sources.files)} files, {len(primary)} event mappings, "
        f"{len(plan.events)} names with aliases, {len(plan.disabled)} disabled"
    )
    families: dict[str, list[str]] = {}
    for entry in catalog:
        families.setdefault(entry["family"], []).append(entry["event"])
    covered = sum(1 for entry in catalog if entry["event"] in plan.events)
    click.echo(f"catalog coverage: {covered} of {len(catalog)} documented events mapped")
    for family, names in sorted(families.items()):
        mapped = [n for n in names if n in plan.events]
        click.echo(f"  {len(mapped):>2}/{len(names):<2} {family}")
        for name in names:
            if name in plan.disabled:
                click.echo(f"         disabled: {name} ({plan.disabled[name]})")
            elif name not in plan.events:
                click.echo(f"         not mapped: {name}")
    documented = {e["event"] for e in catalog}
    extra = sorted(n for n in plan.events if n not in documented)
    if extra:
        click.echo("mapped names beyond the catalog (legacy names, aliases, other events):")
        for name in extra:
            click.echo(f"  {name}")


def _describe(node: Node) -> str:
    if node.kind == "tag":
        inner = node.value
        if inner.kind == "scalar":
            return f"{node.tag} {inner.value!r}" if inner.value != "" else node.tag
        return f"{node.tag} {json.dumps(_node_data(inner))}"
    return json.dumps(node.value)


def _node_data(node: Node) -> Any:
    if node.kind == "map":
        return {k: _node_data(v) for k, v in node.value.items()}
    if node.kind == "seq":
        return [_node_data(v) for v in node.value]
    if node.kind == "tag":
        return _describe(node)
    return node.value


def _explain_lines(node: Node, pointer: str) -> Iterator[str]:
    """Each leaf of a resolved mapping: where it lands, what it is, and the file:line behind it."""
    if node.kind == "map" and node.value:
        for key, child in node.value.items():
            yield from _explain_lines(child, child_pointer(pointer, key))
    elif node.kind == "seq" and node.value:
        for index, child in enumerate(node.value):
            yield from _explain_lines(child, child_pointer(pointer, index))
    else:
        yield f"  {pointer}: {_describe(node)}    [{node.loc}]"


@main.command()
@click.argument("event")
@_overlay_option
@click.pass_context
def explain(ctx: click.Context, event: str, overlays: tuple[Path, ...]) -> None:
    """Print the effective mapping of EVENT with the file:line behind each field."""
    settings = _settings(ctx, overlays=overlays)
    plan = _plan(settings)
    if event in plan.disabled:
        click.echo(f"{event}: disabled ({plan.disabled[event]})")
        return
    mapping = plan.mapping_for(event)
    if mapping is None:
        close = difflib.get_close_matches(event, plan.event_names(), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        _fail(f"no mapping for {event!r}{hint}")
    title = event if mapping.name == event else f"{event} (alias of {mapping.name})"
    click.echo(f"{title}: defined at {mapping.loc}")
    if mapping.aliases:
        click.echo(f"aliases: {', '.join(mapping.aliases)}")
    if mapping.skip_unless is not None:
        click.echo(f"skipped unless present (reason: {mapping.skip_reason})")
    for variant in mapping.variants.values():
        click.echo(f"variant {variant.name}:")
        if variant.required:
            click.echo("  required: " + ", ".join(path for path, _ in variant.required))
        for key in ("statement", "children"):
            part = variant.body.get(key)
            if part is not None:
                for line in _explain_lines(part, f"/{key}"):
                    click.echo(line)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_overlay_option
@click.pass_context
def coverage(ctx: click.Context, paths: tuple[str, ...], overlays: tuple[Path, ...]) -> None:
    """Count the event types in a log and say which are mapped."""
    settings = _settings(ctx, overlays=overlays)
    plan = _plan(settings)
    documented = {e["event"] for e in _catalog()}
    counts: Counter[str] = Counter()
    unreadable = 0
    try:
        for line in read_lines(paths, max_line_bytes=settings.max_line_bytes):
            try:
                event = parse_line(line, max_line_bytes=settings.max_line_bytes)
            except InputError:
                unreadable += 1
                continue
            name = event.get("name") or event.get("event_type") or ""
            if name not in plan.events and event.get("event_type") in plan.events:
                name = event["event_type"]
            counts[summary_key(name)] += 1
    except ConfigError as exc:
        _fail(str(exc))
    total = sum(counts.values())
    mapped_lines = 0
    click.echo(f"{'lines':>8}  {'status':<12} {'catalog':<8} event")
    for name, count in counts.most_common():
        if name in plan.events:
            status = "mapped"
            mapped_lines += count
        elif name in plan.disabled:
            status = "disabled"
        else:
            status = "not mapped"
        in_catalog = "yes" if name in documented else "-"
        click.echo(f"{count:>8}  {status:<12} {in_catalog:<8} {name}")
    click.echo(
        f"{len(counts)} event types in {total} readable lines; {mapped_lines} lines mapped; "
        f"{unreadable} unreadable lines"
    )


# --- delivery: forward, dead-letters, worker ---------------------------------------------------

EXIT_INTERRUPTED = 130


def _redact(url: str) -> str:
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
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


@contextmanager
def _library_warnings() -> Iterator[None]:
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


def _destinations(settings: Settings) -> list[Destination]:
    try:
        found = load_destinations(settings)
    except ConfigError as exc:
        _fail(str(exc))
    if not found:
        _fail(
            "no destination is configured: set TRANSLATOR_LRS_URL (the LRS's xAPI endpoint) with "
            "TRANSLATOR_LRS_USERNAME and TRANSLATOR_LRS_PASSWORD, or TRANSLATOR_LRS_TOKEN; or "
            "name a destinations file in TRANSLATOR_DESTINATIONS_FILE"
        )
    return found


def _retry_policy(settings: Settings, *, max_elapsed: float | None = None) -> RetryPolicy:
    return RetryPolicy(
        initial=settings.retry_initial, maximum=settings.retry_max, max_elapsed=max_elapsed
    )


class _Route:
    """One destination of an in-process forward: its Deliverer, or why it stopped.

    A destination that refuses our credentials (or answers what no retry can fix) stops; what it
    was to receive goes to the dead-letter store with that reason, one batch at a time, so a
    later `translator dead-letters replay` sends it.
    """

    def __init__(self, deliverer: Deliverer, store: DeadLetterStore, store_name: str) -> None:
        self.deliverer = deliverer
        self.store = store
        self.store_name = store_name
        self.stopped: str | None = None
        self._held: list[DeadLetter] = []
        self.parked = 0

    @property
    def destination(self) -> Destination:
        return self.deliverer.destination

    @property
    def delivered(self) -> int:
        return self.deliverer.delivered

    @property
    def dead_lettered(self) -> int:
        return self.deliverer.dead_lettered + self.parked

    def add(self, statement: dict[str, Any], source: str) -> None:
        if self.stopped is not None:
            self._held.append(self._letter(statement, source))
            if len(self._held) >= self.deliverer.batch_size:
                self._park()
            return
        try:
            self.deliverer.add(statement, source)
        except DeliveryError as exc:
            self._stop(exc)

    def finish(self) -> None:
        """Send what is buffered (or park it when stopped), then release the connections."""
        if self.stopped is None:
            try:
                self.deliverer.flush()
            except DeliveryError as exc:
                self._stop(exc)
        self._park()
        self.deliverer.close()  # nothing is buffered any more: this only releases connections

    def interrupt(self) -> None:
        """Ctrl-C: keep everything not yet settled in the dead-letter store."""
        self.stopped = self.stopped or "interrupted before delivery"
        self._park()

    def _stop(self, exc: DeliveryError) -> None:
        self.stopped = str(exc)
        if not isinstance(exc, DestinationRefused):  # the Deliverer logs a refusal itself
            click.echo(f"error: {exc}", err=True)
        click.echo(
            f"error: statements for destination {self.destination.name!r} now go to the "
            f"dead-letter store ({self.store_name}) with this reason; once the cause is fixed, "
            "`translator dead-letters replay` sends them",
            err=True,
        )
        self._park()

    def _letter(self, statement: dict[str, Any], source: str) -> DeadLetter:
        return DeadLetter(
            statement=statement,
            reason=f"not sent: {self.stopped}",
            status=None,
            answer="",
            source=source,
            destination=self.destination.name,
        )

    def _park(self) -> None:
        pending = self.deliverer.pending()
        if pending:
            self.deliverer.dead_letter_pending(f"not sent: {self.stopped}")
        if self._held:
            self.store.add(*self._held)
            self.parked += len(self._held)
            self._held.clear()


@main.command()
@click.argument("paths", nargs=-1, required=True)
@_overlay_option
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
        _fail("--wait and --timeout go with --queue")
    if queue and not wait and (rejects is not None or timeout is not None):
        _fail("with --queue, --rejects and --timeout need --wait")
    if queue and (overlays or lms_root_url is not None or batch_size is not None):
        _fail(
            "with --queue the workers translate and deliver: set --overlay, --lms-root-url and "
            "--batch-size in the workers' configuration (TRANSLATOR_OVERLAYS, ...)"
        )
    settings = _settings(ctx, overlays=overlays, lms_root_url=lms_root_url, batch_size=batch_size)
    if queue:
        _forward_queue(
            settings, paths, rejects=rejects, wait=wait, timeout=timeout, progress=progress
        )
    _forward_direct(settings, paths, rejects=rejects, progress=progress)


def _forward_direct(
    settings: Settings, paths: tuple[str, ...], *, rejects: Path | None, progress: bool
) -> NoReturn:
    if settings.pseudonym_secret is None:
        _fail(
            "TRANSLATOR_PSEUDONYM_SECRET is not set: statements sent to an LRS need actor ids "
            "that stay the same from run to run; set the secret (the same one every time, kept "
            "like a password) and run again"
        )
    destinations = _destinations(settings)
    plan = _plan(settings)
    translator = Translator(plan, id_namespace=settings.id_namespace)
    store = FileDeadLetterStore(settings.dead_letter_path)
    routes = [
        _Route(
            Deliverer.from_settings(
                destination, settings, dead_letters=store, retry=_retry_policy(settings)
            ),
            store,
            str(settings.dead_letter_path),
        )
        for destination in destinations
    ]
    summary = Summary()
    unrouted = 0
    status = EXIT_OK

    def deliver(statement: dict[str, Any], result: LineResult) -> None:
        nonlocal unrouted
        outcome = result.outcome
        source = f"{result.line.source}:{result.line.lineno}"
        sent = False
        for route in routes:
            if route.destination.accepts(outcome.org, outcome.course_id):
                route.add(statement, source)
                sent = True
        if not sent:
            unrouted += 1

    with ExitStack() as stack:
        reject_writer = None
        if rejects is not None:
            try:
                reject_writer = RejectsWriter(stack.enter_context(rejects.open("wb")))
            except OSError as exc:
                _fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        stack.enter_context(_library_warnings())
        try:
            try:
                lines = _with_progress(
                    read_lines(paths, max_line_bytes=settings.max_line_bytes), progress
                )
                results = translate_lines(lines, translator, max_line_bytes=settings.max_line_bytes)
                run(
                    results,
                    summary,
                    on_statement=deliver,
                    on_reject=reject_writer.write if reject_writer else None,
                )
            except ConfigError as exc:  # an input file failed mid-way: deliver what was read
                click.echo(f"error: {exc}", err=True)
                status = EXIT_USAGE
            for route in routes:
                route.finish()
        except KeyboardInterrupt:
            for route in routes:
                route.interrupt()
            click.echo("interrupted: statements not yet delivered are dead letters", err=True)
            status = EXIT_INTERRUPTED
        except DeliveryError as exc:  # the dead-letter store itself failed
            _fail(str(exc))
    delivered = sum(r.delivered for r in routes)
    dead_lettered = sum(r.dead_lettered for r in routes)
    for detail in summary.detail_lines():
        click.echo(detail, err=True)
    for route in routes:
        line = (
            f"destination {route.destination.name!r}: delivered {route.delivered} "
            f"({route.deliverer.duplicates} already stored), dead-lettered {route.dead_lettered}"
        )
        if route.stopped is not None:
            line += " (stopped)"
        click.echo(line, err=True)
    if unrouted:
        click.echo(f"{unrouted} statements matched no destination's filter: not sent", err=True)
    if dead_lettered:
        click.echo(
            f"dead letters are in {settings.dead_letter_path}: `translator dead-letters list` "
            "shows them, `translator dead-letters replay` sends them again",
            err=True,
        )
    if rejects is not None and summary.rejected:
        click.echo(f"rejected lines written to {rejects}", err=True)
    click.echo(
        forward_total(
            read=summary.read,
            translated=summary.translated,
            delivered=delivered,
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


def _forward_queue(
    settings: Settings,
    paths: tuple[str, ...],
    *,
    rejects: Path | None,
    wait: bool,
    timeout: float | None,
    progress: bool,
) -> NoReturn:
    """Enqueue the lines in chunks for the workers; with `wait`, report the run once settled."""
    import redis
    from kombu.exceptions import KombuError

    from worker.app import TRANSLATE_CHUNK, create_app
    from worker.jobs import encode_lines, iter_chunks
    from worker.runs import RunBook

    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        _fail(f"{repeated[0]} is given twice: a queued run reads each input once")
    try:
        celery = create_app(settings)
        # Checks every path now (a mistyped one fails before a run starts); reads lazily.
        source = read_lines(paths, max_line_bytes=settings.max_line_bytes)
    except ConfigError as exc:
        _fail(str(exc))
    client = redis.Redis.from_url(settings.redis_url)
    where = _redact(settings.redis_url)
    try:
        client.ping()
    except redis.RedisError as exc:
        _fail(f"cannot reach Redis at {where}: {exc}")
    run_id = uuid.uuid4().hex
    book = RunBook(client, run_id)
    lines = chunks = 0
    try:
        book.begin()
        with celery.producer_or_acquire() as producer:

            def send(chunk: Chunk) -> None:
                nonlocal lines, chunks
                args = [run_id, chunk.source, chunk.first_lineno, encode_lines(chunk.lines)]
                celery.send_task(TRANSLATE_CHUNK, args=args, producer=producer)
                lines += len(chunk.lines)
                chunks += 1

            held: Chunk | None = None
            try:
                for chunk in iter_chunks(_with_progress(source, progress), settings.chunk_lines):
                    if held is not None:
                        send(held)
                    held = chunk
            except ConfigError as exc:  # an input failed: the run is what was read before
                if held is not None:
                    book.set_totals(lines=lines + len(held.lines), chunks=chunks + 1)
                    send(held)
                else:
                    book.set_totals(lines=lines, chunks=chunks)
                click.echo(f"run {run_id}: enqueued {lines} lines in {chunks} chunks")
                _fail(f"{exc}; the lines before it were enqueued")
            except KeyboardInterrupt:  # the run is what was enqueued so far
                book.set_totals(lines=lines, chunks=chunks)
                click.echo(f"run {run_id}: enqueued {lines} lines in {chunks} chunks")
                click.echo("interrupted: the workers deliver what was enqueued", err=True)
                sys.exit(EXIT_INTERRUPTED)
            # The totals go first, so that the worker that settles the last part knows it is last.
            if held is not None:
                book.set_totals(lines=lines + len(held.lines), chunks=chunks + 1)
                send(held)
            else:
                book.set_totals(lines=lines, chunks=chunks)
    except (redis.RedisError, KombuError, OSError) as exc:
        _fail(f"cannot enqueue to Redis at {where} after {lines} lines (run {run_id}): {exc}")
    click.echo(f"run {run_id}: enqueued {lines} lines in {chunks} chunks")
    if not wait:
        sys.exit(EXIT_OK)
    try:
        status = _wait_for_run(book, timeout)
        records = book.rejects()
    except redis.RedisError as exc:
        _fail(f"lost Redis at {where} while waiting for run {run_id} (it goes on): {exc}")
    finally:
        client.close()
    details = Summary(
        skipped_by_reason=Counter(status.skipped_by_reason),
        rejected_by_reason=Counter(str(orjson.loads(r).get("reason", "")) for r in records),
    )
    for detail in details.detail_lines():
        click.echo(detail, err=True)
    if rejects is not None and records:
        try:
            rejects.write_bytes(b"".join(r + b"\n" for r in records))
        except OSError as exc:
            _fail(f"{rejects}: cannot write rejects file: {exc.strerror}")
        click.echo(f"rejected lines written to {rejects}", err=True)
    if status.unrouted:
        click.echo(
            f"{status.unrouted} statements matched no destination's filter: not sent", err=True
        )
    if status.dead_lettered:
        click.echo(
            "dead letters are in Redis: `translator dead-letters list --redis` shows them, "
            "`translator dead-letters replay --redis` sends them again",
            err=True,
        )
    if not status.reconciles:
        click.echo(f"warning: the counts of run {run_id} do not reconcile", err=True)
    click.echo(status.total_line(), err=True)
    if not status.finished:
        sys.exit(EXIT_REJECTED)
    sys.exit(EXIT_REJECTED if status.rejected or status.dead_lettered else EXIT_OK)


def _wait_for_run(book: RunBook, timeout: float | None) -> RunStatus:
    """Poll the run's books until it is settled, or `timeout` passes (then say so)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = ""
    while True:
        status = book.status()
        if status.error and status.error != shown:
            click.echo(f"workers report: {status.error}", err=True)
        shown = status.error
        if status.finished:
            return status
        if deadline is not None and time.monotonic() >= deadline:
            click.echo(
                f"not finished after {timeout:g} s ({status.progress_line()}); the workers go on "
                "with it",
                err=True,
            )
            return status
        time.sleep(0.2)


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
        _fail(f"cannot reach Redis at {_redact(settings.redis_url)}: {exc}")
    try:
        yield RedisDeadLetterStore(client)
    finally:
        client.close()


def _store_name(settings: Settings, use_redis: bool) -> str:
    return f"Redis {_redact(settings.redis_url)}" if use_redis else str(settings.dead_letter_path)


@main.group("dead-letters")
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
    settings = _settings(ctx)
    try:
        with _store(settings, use_redis) as store:
            letters = store.list(destination=destination)
    except DeliveryError as exc:
        _fail(str(exc))
    for letter in letters:
        if as_json:
            click.echo(letter.to_json().decode())
        else:
            status = "-" if letter.status is None else str(letter.status)
            click.echo(
                f"{letter.time}  {letter.destination}  {letter.source}  {status}  {letter.reason}"
            )
    click.echo(
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
    settings = _settings(ctx)
    configured = {d.name: d for d in _destinations(settings)}
    if destination is not None and destination not in configured:
        _fail(f"destination {destination!r} is not configured")
    status = EXIT_OK
    try:
        with _store(settings, use_redis) as store, _library_warnings():
            waiting = Counter(d.destination for d in store.list(destination=destination))
            for name in sorted(waiting):
                target = configured.get(name)
                if target is None:
                    click.echo(
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
                    retry=_retry_policy(settings, max_elapsed=max_wait),
                )
                try:
                    with deliverer:
                        result = replay(store, deliverer)
                except DestinationRefused:  # the Deliverer logged it
                    click.echo(f"error: the letters for {name!r} stay in the store", err=True)
                    status = EXIT_USAGE
                    continue
                except TransientDeliveryError as exc:
                    click.echo(f"error: {exc}; its letters stay in the store", err=True)
                    status = max(status, EXIT_REJECTED)
                    continue
                click.echo(
                    f"destination {name!r}: replayed {result.attempted}: delivered "
                    f"{result.delivered}, dead-lettered again {result.dead_lettered}"
                )
                if result.dead_lettered:
                    status = max(status, EXIT_REJECTED)
            left = len(store)
    except DeliveryError as exc:
        _fail(str(exc))
    click.echo(f"{left} dead letters left in {_store_name(settings, use_redis)}")
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
    settings = _settings(ctx)
    where = _store_name(settings, use_redis)
    try:
        with _store(settings, use_redis) as store:
            count = len(store.list(destination=destination))
            if count and not yes:
                click.confirm(f"drop {count} dead letters from {where} for good?", abort=True)
            dropped = store.purge(destination=destination) if count else 0
    except DeliveryError as exc:
        _fail(str(exc))
    click.echo(f"purged {dropped} dead letters from {where}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="Pool processes (default: one per CPU)."
)
@click.option("--loglevel", default="INFO", show_default=True, help="The workers' log level.")
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def worker(
    ctx: click.Context, concurrency: int | None, loglevel: str, celery_args: tuple[str, ...]
) -> None:
    """Start a Celery worker that translates queued lines and delivers their statements
    (`celery -A worker worker` is the same). Further options go to Celery, e.g. --pool=solo.

    It refuses to start (exit status 2) without TRANSLATOR_PSEUDONYM_SECRET, without a
    destination, or with mappings that do not compile.
    """
    config: Path | None = ctx.obj.get("config") if ctx.obj else None
    if config is not None:
        os.environ["TRANSLATOR_CONFIG"] = str(config)  # the pool processes read the same file
    settings = _settings(ctx)
    from worker.app import app, celery_config
    from worker.jobs import WorkerContext

    try:
        celery_config(settings)
        WorkerContext(settings).check()
    except MappingError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        _fail(str(exc))
    argv = ["worker", f"--loglevel={loglevel}"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    app.worker_main([*argv, *celery_args])

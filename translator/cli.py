"""The `translator` command line: dry-run, check, explain, coverage (and delivery commands)."""

from __future__ import annotations

import difflib
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from importlib.resources import files
from pathlib import Path
from typing import Any, NoReturn

import click
import orjson

from translator.config import Settings, load_settings
from translator.engine import Translator
from translator.errors import ConfigError, InputError, MappingError
from translator.events import SourceLine, parse_line, read_lines
from translator.mapping.nodes import Node, child_pointer
from translator.pipeline import (
    LineResult,
    RejectsWriter,
    Summary,
    run,
    summary_key,
    translate_lines,
)
from translator.plan import Plan, load_plan

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

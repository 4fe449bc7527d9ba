"""`translator worker`: a Celery worker that translates queued lines and delivers statements."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from translator.cli.common import EXIT_USAGE, echo, fail, mapping_options, settings_of
from translator.errors import ConfigError, MappingError

__all__ = ["worker"]


@click.command(context_settings={"ignore_unknown_options": True})
@click.option(
    "--concurrency", type=click.IntRange(min=1), help="Pool processes (default: one per CPU)."
)
@click.option("--loglevel", default="INFO", show_default=True, help="The workers' log level.")
@mapping_options
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def worker(
    ctx: click.Context, concurrency: int | None, loglevel: str, celery_args: tuple[str, ...]
) -> None:
    """Start a Celery worker that translates queued lines and delivers their statements
    (`celery -A worker worker` is the same). Further options go to Celery, e.g. --pool=solo.

    --actor-map, --course-names and --var are handed to the pool processes through their
    variables (TRANSLATOR_ACTOR_MAP, TRANSLATOR_COURSE_NAMES, TRANSLATOR_VAR_<NAME>); overlays
    come from TRANSLATOR_OVERLAYS (a bundled overlay by its name: `erb-compat`).

    It refuses to start (exit status 2) without TRANSLATOR_PSEUDONYM_SECRET, without a
    destination, or with mappings that do not compile.
    """
    config: Path | None = ctx.obj.get("config") if ctx.obj else None
    if config is not None:
        os.environ["TRANSLATOR_CONFIG"] = str(config)  # the pool processes read the same file
    settings = settings_of(ctx)
    # The pool processes read their settings from the environment: hand them the flags too.
    if settings.actor_map is not None:
        os.environ["TRANSLATOR_ACTOR_MAP"] = str(settings.actor_map)
    if settings.course_names is not None:
        os.environ["TRANSLATOR_COURSE_NAMES"] = str(settings.course_names)
    for name, value in settings.mapping_vars:
        os.environ[f"TRANSLATOR_VAR_{name.upper()}"] = value
    from worker.app import app, celery_config
    from worker.jobs import WorkerContext

    context = WorkerContext(settings)
    try:
        celery_config(settings)
        context.check()
    except MappingError as exc:
        echo(str(exc), err=True)
        sys.exit(EXIT_USAGE)
    except ConfigError as exc:
        fail(str(exc))
    finally:
        context.close()
    if settings.metrics_port:
        from translator.metrics import QueueMetrics, serve
        from worker.app import QUEUE
        from worker.jobs import TOTALS_KEY

        try:
            serve(
                settings.metrics_port,
                settings.metrics_address,
                QueueMetrics(settings.redis_url, QUEUE, TOTALS_KEY),
            )
        except OSError as exc:
            fail(f"setting metrics_port: cannot serve metrics: {exc.strerror}")
    argv = ["worker", f"--loglevel={loglevel}"]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    app.worker_main([*argv, *celery_args])

"""The `translator` command line: thin commands over the library, one module each."""

from __future__ import annotations

from pathlib import Path

import click

from translator.cli.check import check
from translator.cli.consume import consume
from translator.cli.coverage import coverage
from translator.cli.dead_letters import dead_letters
from translator.cli.dry_run import dry_run
from translator.cli.explain import explain
from translator.cli.follow import follow
from translator.cli.forward import forward
from translator.cli.status import runs, status
from translator.cli.worker import worker

__all__ = ["main"]


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


# Every command, registered here and nowhere else (`translator --help` lists them by name).
_COMMANDS = (
    dry_run,
    check,
    explain,
    coverage,
    forward,
    follow,
    consume,
    status,
    runs,
    dead_letters,
    worker,
)
for _command in _COMMANDS:
    main.add_command(_command)

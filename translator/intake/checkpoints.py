"""Checkpoints of followed logs: where each file stands, stored durably and atomically.

A checkpoint only moves past a line once every statement of that line (and of every line before
it) is delivered, enqueued or dead-lettered (pipeline.run's `on_settled`), so a restart after a
crash re-reads at most the lines that were not settled; deterministic statement ids make their
statements harmless the second time (design §11).

The state file is JSON, `{"version": 1, "files": {path: {device, inode, fingerprint, offset,
lineno}}}`, replaced atomically (write a temporary file, fsync, rename, fsync the directory):
a crash leaves either the old state or the new one, never a torn file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, Final

import orjson

from translator.errors import ConfigError
from translator.intake.lines import FilePosition, SourceLine

__all__ = ["Checkpoints"]

_VERSION: Final = 1
_FIELDS: Final = ("device", "inode", "fingerprint", "offset", "lineno")


class Checkpoints:
    """The positions of followed files, kept in `path`; `advance` is pipeline.run's on_settled.

    Saves happen at most every `every` seconds while lines settle (`save_if_due`), and on
    `save()`. Raises ConfigError when the state file cannot be read or written.
    """

    def __init__(
        self,
        path: Path,
        *,
        every: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._every = every
        self._clock = clock
        self._positions: dict[str, FilePosition] = self._load()
        self._dirty = False
        self._saved_at = float("-inf")  # the first settled line is saved at once

    def __repr__(self) -> str:
        return f"Checkpoints({str(self.path)!r}, files={sorted(self._positions)!r})"

    def get(self, path: str) -> FilePosition | None:
        """Where the followed `path` stood, or None when it was never followed."""
        return self._positions.get(path)

    def positions(self) -> dict[str, FilePosition]:
        """Every followed path and where it stands."""
        return dict(self._positions)

    def advance(self, line: SourceLine) -> None:
        """Record that `line` is settled (lines without a file position are ignored)."""
        position = line.position
        if not isinstance(position, FilePosition):
            return
        self._positions[position.path] = position
        self._dirty = True
        self.save_if_due()

    def save_if_due(self) -> None:
        """Save when something changed and `every` seconds have passed since the last save
        (call it on a quiet input too, so the last lines settled are not left unsaved)."""
        if self._dirty and self._clock() - self._saved_at >= self._every:
            self.save()

    def save(self) -> None:
        """Write the positions now, atomically, if anything changed."""
        if not self._dirty:
            return
        document = {
            "version": _VERSION,
            "files": {
                path: {k: v for k, v in asdict(p).items() if k != "path"}
                for path, p in sorted(self._positions.items())
            },
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with temporary.open("wb") as out:
                out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
                out.flush()
                os.fsync(out.fileno())
            temporary.replace(self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot write checkpoints: {exc.strerror}") from None
        self._dirty = False
        self._saved_at = self._clock()

    def _load(self) -> dict[str, FilePosition]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read checkpoints: {exc.strerror}") from None
        try:
            document: Any = orjson.loads(raw)
            if document.get("version") != _VERSION:
                raise ValueError(f"version {document.get('version')!r} is not {_VERSION}")
            return {
                path: FilePosition(path, *(_field(entry, name) for name in _FIELDS))
                for path, entry in document["files"].items()
            }
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"{self.path}: not a checkpoint file ({exc}); move it away to start afresh"
            ) from None


def _field(entry: dict[str, Any], name: str) -> Any:
    value = entry[name]
    wanted = str if name == "fingerprint" else int
    if type(value) is not wanted:
        raise ValueError(f"{name} is not {wanted.__name__}")
    return value

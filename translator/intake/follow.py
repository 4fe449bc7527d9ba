"""Following growing logs as `tail -F` does: from a checkpoint, across rotations, losing nothing.

Each followed path is read in complete lines (a partial last line waits for its newline). When
nothing new arrives the follower yields IDLE, so the run can send what has waited and move the
checkpoint. It survives:

- rotation by rename: the old file is read to its end (its last line, even without a newline),
  then the new file from its start;
- copy-truncate: the copy is found by the fingerprint of its first line and read from where the
  follower was, then the truncated file from its start;
- a restart after rotations (even a copy compressed to .gz, or several rotations): the file the
  checkpoint was in is found among the path's siblings by its fingerprint and finished, then
  every newer sibling, then the live file;
- a path that does not exist yet: it is read from its start once it appears.

Offsets are in a file's content (decompressed for .gz), so a checkpoint means the same bytes
whatever became of the file's name or compression.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import threading
import typing
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from translator.intake.checkpoints import Checkpoints
from translator.intake.lines import FilePosition, SourceLine
from translator.intake.ticks import IDLE, Idle

__all__ = ["Follower", "fingerprint"]

logger = logging.getLogger(__name__)

_FINGERPRINT_BYTES: Final = 4096
_READ_BYTES: Final = 1 << 16
_LINES_PER_TURN: Final = 2000  # then the next file gets its turn


def fingerprint(first_line: bytes) -> str:
    """The digest that finds a file again by its first line (whose timestamp makes it unique)."""
    return hashlib.sha1(first_line[:_FINGERPRINT_BYTES]).hexdigest()


def _first_line(path: Path) -> bytes | None:
    """The first complete line of a file (decompressed if gzip), or None."""
    try:
        with _open(path) as handle:
            line = handle.readline(_FINGERPRINT_BYTES + 1)
    except (OSError, EOFError):
        return None
    if not line.endswith(b"\n") and len(line) <= _FINGERPRINT_BYTES:
        return None
    return line.rstrip(b"\r\n")


def _open(path: Path) -> IO[bytes]:
    """A file's content, decompressed when it is gzip (a rotated copy may be)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    if gzipped:
        return typing.cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


@dataclass(slots=True)
class _Reader:
    """One open file: reads complete lines and knows the position after each."""

    followed: str  # the path followed, under which the checkpoint is kept
    shown: str  # the file's own name, for rejects and dead letters
    handle: IO[bytes]
    device: int
    inode: int
    offset: int
    lineno: int
    fingerprint: str
    max_line_bytes: int
    buffer: bytes = b""
    discarding: bool = False

    def close(self) -> None:
        self.handle.close()

    def read(self, *, final: bool = False) -> list[SourceLine]:
        """The complete lines available now (at most _LINES_PER_TURN); with `final`, a last
        line without its newline too (the file will not grow any more)."""
        lines: list[SourceLine] = []
        while len(lines) < _LINES_PER_TURN:
            chunk = self.handle.read(_READ_BYTES)
            if not chunk:
                break
            self._split(self.buffer + chunk, lines)
        if final and not lines and (self.buffer or self.discarding):
            self._line(self.buffer, len(self.buffer), lines)
            self.buffer = b""
        return lines

    def _split(self, data: bytes, lines: list[SourceLine]) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            self._line(data[start:end], end + 1 - start, lines)
            start = end + 1
        rest = data[start:]
        if len(rest) > self.max_line_bytes + 1:  # no newline in sight: drop it as it comes
            self.offset += len(rest)
            self.discarding = True
            rest = b""
        self.buffer = rest

    def _line(self, text: bytes, consumed: int, lines: list[SourceLine]) -> None:
        self.offset += consumed
        self.lineno += 1
        if text.endswith(b"\r"):
            text = text[:-1]
        if self.lineno == 1 and not self.fingerprint:
            self.fingerprint = fingerprint(text)
        over = self.discarding or len(text) > self.max_line_bytes
        self.discarding = False
        position = FilePosition(
            self.followed, self.device, self.inode, self.fingerprint, self.offset, self.lineno
        )
        lines.append(
            SourceLine(
                self.shown,
                self.lineno,
                b"" if over else text,
                self.max_line_bytes if over else 0,
                position,
            )
        )


def _identity(path: Path) -> tuple[int, int, int] | None:
    """(device, inode, size) of a path, or None when it does not exist."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino, found.st_size


class _Followed:
    """One followed path: the file open now, and rotated files still to finish first."""

    def __init__(self, path: str, max_line_bytes: int) -> None:
        self.path = path
        self.max_line_bytes = max_line_bytes
        self.current: _Reader | None = None
        self.backlog: list[_Reader] = []

    def open_current(self, *, at_end: bool = False) -> bool:
        """Open the live file from its start (or its end); False when it does not exist yet."""
        try:
            handle = Path(self.path).open("rb")  # noqa: SIM115 - kept open while followed
        except FileNotFoundError:
            return False
        found = os.fstat(handle.fileno())
        first = _first_line(Path(self.path))
        reader = _Reader(
            self.path,
            self.path,
            handle,
            found.st_dev,
            found.st_ino,
            0,
            0,
            fingerprint(first) if first is not None else "",
            self.max_line_bytes,
        )
        if at_end:
            self._skip_to_end(reader)
        self.current = reader
        return True

    def _skip_to_end(self, reader: _Reader) -> None:
        """--from-end: start after the last complete line, counting the lines skipped."""
        while True:
            chunk = reader.handle.read(_READ_BYTES)
            if not chunk:
                break
            data = reader.buffer + chunk
            cut = data.rfind(b"\n") + 1
            reader.lineno += data.count(b"\n", 0, cut)
            reader.offset += cut
            reader.buffer = data[cut:]

    def resume(self, position: FilePosition) -> None:
        """Start where a checkpoint left off, finding the file it was in if it was rotated."""
        live = _identity(Path(self.path))
        same_file = live is not None and (live[0], live[1]) == (position.device, position.inode)
        if same_file and live is not None and live[2] >= position.offset:
            handle = Path(self.path).open("rb")  # noqa: SIM115 - kept open while followed
            handle.seek(position.offset)
            self.current = _Reader(
                self.path,
                self.path,
                handle,
                position.device,
                position.inode,
                position.offset,
                position.lineno,
                position.fingerprint,
                self.max_line_bytes,
            )
            return
        if position.fingerprint:
            self.backlog = self._rotated_since(position)
        if not self.backlog:
            logger.warning(
                "%s: the file its checkpoint was in (line %d) is gone and no rotated copy was "
                "found: following it from the start of the live file",
                self.path,
                position.lineno,
            )
        self.open_current()

    def _siblings(self) -> list[Path]:
        """Rotated copies of the path (`name.1`, `name.1.gz`, `name-20241203`...), oldest first."""
        path = Path(self.path)
        folder = path.parent if str(path.parent) else Path(".")
        found: list[tuple[float, Path]] = []
        for candidate in folder.iterdir():
            name = candidate.name
            if name != path.name and name.startswith((path.name + ".", path.name + "-")):
                try:
                    found.append((candidate.stat().st_mtime, candidate))
                except OSError:
                    continue
        return [p for _, p in sorted(found)]

    def _rotated_since(self, position: FilePosition) -> list[_Reader]:
        """The rotated file holding the checkpoint, from its offset, then every newer copy."""
        siblings = self._siblings()
        for index, candidate in enumerate(siblings):
            first = _first_line(candidate)
            if first is None or fingerprint(first) != position.fingerprint:
                continue
            readers = [self._reader(candidate, position.offset, position.lineno, first)]
            for newer in siblings[index + 1 :]:
                newer_first = _first_line(newer)
                readers.append(self._reader(newer, 0, 0, newer_first))
            return readers
        return []

    def _reader(self, path: Path, offset: int, lineno: int, first: bytes | None) -> _Reader:
        handle = _open(path)
        skipped = 0
        while skipped < offset:
            chunk = handle.read(min(_READ_BYTES, offset - skipped))
            if not chunk:
                break
            skipped += len(chunk)
        found = os.stat(path)
        return _Reader(
            self.path,
            str(path),
            handle,
            found.st_dev,
            found.st_ino,
            skipped,
            lineno,
            fingerprint(first) if first is not None else "",
            self.max_line_bytes,
        )

    def poll(self) -> list[SourceLine]:
        """The lines ready now: rotated files first, then the live file; rotation handled."""
        while self.backlog:
            reader = self.backlog[0]
            lines = reader.read(final=True)
            if lines:
                return lines
            reader.close()
            self.backlog.pop(0)
        if self.current is None and not self.open_current():
            return []
        assert self.current is not None
        if self._rotated(self.current):
            return self.poll()
        return self.current.read()

    def _rotated(self, reader: _Reader) -> bool:
        """Whether the live path is no longer the file being read; if so, the file being read
        goes to the backlog (or its copy, after copy-truncate) and the live file is opened."""
        live = _identity(Path(self.path))
        if live is None:
            return False  # renamed away, the new file not there yet: keep the old one open
        device, inode, size = live
        if (device, inode) != (reader.device, reader.inode):
            # Renamed: finish the old file (its writer has moved on), then read the new one.
            self.backlog.append(reader)
            self.current = None
            self.open_current()
            return True
        if size >= reader.offset + len(reader.buffer) and not self._refilled(reader):
            return False
        # Copied and truncated: read the copy from where we were, then the file afresh.
        copy = self._copy_of(reader)
        if copy is not None:
            self.backlog.append(copy)
        else:
            logger.warning(
                "%s was truncated and its copy was not found: lines written to it after line %d "
                "may be missing",
                self.path,
                reader.lineno,
            )
        reader.close()
        self.current = None
        self.open_current()
        return True

    def _refilled(self, reader: _Reader) -> bool:
        """Truncated and written again past where we were: its first line is another one."""
        if not reader.fingerprint:
            return False
        first = _first_line(Path(self.path))
        return first is None or fingerprint(first) != reader.fingerprint

    def _copy_of(self, reader: _Reader) -> _Reader | None:
        for candidate in reversed(self._siblings()):  # the newest copy first
            first = _first_line(candidate)
            if first is not None and fingerprint(first) == reader.fingerprint:
                return self._reader(candidate, reader.offset, reader.lineno, first)
        return None

    def close(self) -> None:
        for reader in self.backlog:
            reader.close()
        if self.current is not None:
            self.current.close()


class Follower:
    """Follows `paths` from their checkpoints (or from their start or end on a first run).

    Iterate `lines(stop)` until `stop` is set: lines of each path in order, files taking turns,
    and IDLE after each quiet poll. Each line carries its FilePosition for the checkpoint.
    """

    def __init__(
        self,
        paths: Sequence[str],
        checkpoints: Checkpoints,
        *,
        from_end: bool = False,
        max_line_bytes: int,
        poll_interval: float = 0.2,
    ) -> None:
        self.poll_interval = poll_interval
        self._followed: list[_Followed] = []
        for path in paths:
            followed = _Followed(path, max_line_bytes)
            position = checkpoints.get(path)
            if position is not None:
                followed.resume(position)
            else:
                followed.open_current(at_end=from_end)
            self._followed.append(followed)

    def __repr__(self) -> str:
        return f"Follower({[f.path for f in self._followed]!r})"

    def close(self) -> None:
        """Close every followed file, for a run that stops before reading (lines() closes them
        when it ends)."""
        for followed in self._followed:
            followed.close()

    def lines(self, stop: threading.Event) -> Iterator[SourceLine | Idle]:
        """Lines as they are appended, and IDLE when none came, until `stop` is set."""
        try:
            while not stop.is_set():
                quiet = True
                for followed in self._followed:
                    ready = followed.poll()
                    if ready:
                        quiet = False
                        yield from ready
                if quiet:
                    yield IDLE
                    stop.wait(self.poll_interval)
        finally:
            for followed in self._followed:
                followed.close()

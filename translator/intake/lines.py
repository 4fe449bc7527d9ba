"""Reading: tracking-log lines from files (plain or gzip) and stdin, each with its file and line.

The byte limit on a line is applied here, while reading, so memory stays bounded whatever the
input holds; an over-long line is still yielded (empty, with the limit it broke) so that it is
counted and rejected with its file and line.
"""

from __future__ import annotations

import gzip
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, BinaryIO, Final

from translator.errors import ConfigError

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "STDIN_NAME",
    "FilePosition",
    "SourceLine",
    "StreamEntry",
    "read_lines",
]

DEFAULT_MAX_LINE_BYTES: Final = 1_000_000  # the default of Settings.max_line_bytes
STDIN_NAME: Final = "<stdin>"
# The rest of an over-long line is read and dropped this many bytes at a time.
_DISCARD_CHUNK: Final = 1 << 16
_GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class FilePosition:
    """Where a followed file stands after a line: what a checkpoint stores (design §11).

    `path` is the path followed (as given), `device` and `inode` the identity of the file that was
    read (a rotated file keeps its identity under another name), `fingerprint` a digest of its
    first line (which finds it again once renamed or compressed), `offset` the byte just after
    the line in the file's (decompressed) content, `lineno` the line's number in that file.
    """

    path: str
    device: int
    inode: int
    fingerprint: str
    offset: int
    lineno: int


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """The Redis Stream entry a line came from: what is acknowledged (XACK) once it is settled."""

    stream: str
    entry_id: str


@dataclass(slots=True)
class SourceLine:
    """One physical input line and where it came from, so a reject can name file and line.

    Read-only by convention, not frozen: one is made per line (see engine.Outcome).
    """

    source: str
    """The file path as given, or "<stdin>"."""
    lineno: int
    """1-based; every physical line counts, blank and over-long ones included."""
    text: bytes
    """The raw line without its line ending; b"" when the line was too long."""
    over_limit: int = 0
    """The byte limit the line exceeded (its content was discarded while reading), or 0."""
    position: FilePosition | StreamEntry | None = None
    """Set by a live intake: where its file stands, or which stream entry to acknowledge, once
    this line is settled."""
    unusable: str = ""
    """Why the intake could not make an event of what it read (an event-bus entry that does not
    decode), or "": the line is then rejected with this reason."""

    @property
    def too_long(self) -> bool:
        """The line exceeded the byte limit it was read with."""
        return self.over_limit > 0

    @property
    def where(self) -> str:
        """`file:line`, as rejects, dead letters and messages name a line."""
        return f"{self.source}:{self.lineno}"


def read_lines(
    paths: Sequence[str],
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    stdin: BinaryIO | None = None,
) -> Iterator[SourceLine]:
    """Stream the lines of `paths` in order ("-" is stdin), in memory bounded by `max_line_bytes`.

    A path ending in `.gz`, or whose content starts with the gzip magic bytes, is decompressed.
    Blank lines are yielded too, so that every physical line is counted; a line longer than
    `max_line_bytes` (line ending excluded) is yielded empty, with `over_limit` set to that limit.

    Every path is checked for readability before the first line is read, so a mistyped path
    fails the run at once: raises ConfigError naming the file. A file that fails while being read
    (e.g. a truncated gzip) raises ConfigError naming the file and the last line read.
    """
    if max_line_bytes < 1:
        raise ConfigError(f"max_line_bytes must be at least 1, not {max_line_bytes}")
    for path in paths:
        if path != "-":
            _check_readable(path)
    return _iter_lines(paths, max_line_bytes, stdin)


def _check_readable(path: str) -> None:
    """Fail early on a path that cannot be read, without opening it (a FIFO must open once)."""
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open input file: {exc.strerror}") from None
    if is_dir:
        raise ConfigError(f"{path}: cannot open input file: is a directory")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{path}: cannot open input file: permission denied")


def _iter_lines(
    paths: Sequence[str], max_line_bytes: int, stdin: BinaryIO | None
) -> Iterator[SourceLine]:
    for path in paths:
        if path == "-":
            stream: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
            yield from _read_stream(stream, STDIN_NAME, max_line_bytes, gzipped=None)
            continue
        try:
            handle = open(path, "rb")  # noqa: SIM115 - the with below closes it, also on early exit
        except OSError as exc:
            raise ConfigError(f"{path}: cannot open input file: {exc.strerror}") from None
        with handle:
            gzipped = True if path.endswith(".gz") else None
            yield from _read_stream(handle, path, max_line_bytes, gzipped=gzipped)


def _read_stream(
    stream: IO[bytes], source: str, max_line_bytes: int, *, gzipped: bool | None
) -> Iterator[SourceLine]:
    """Yield the lines of one stream, which stays open; `gzipped=None` means: sniff the magic."""
    if gzipped is None:
        gzipped = _starts_with_gzip_magic(stream)
    # GzipFile over a given fileobj never closes that fileobj: stdin stays open for the caller.
    reader: IO[bytes] | gzip.GzipFile = (
        gzip.GzipFile(fileobj=stream, mode="rb") if gzipped else stream
    )
    readline = reader.readline
    limit = max_line_bytes + 2  # room for the content plus CR LF: a full chunk without LF is over
    lineno = 0
    try:
        while chunk := readline(limit):
            lineno += 1
            if chunk[-1:] == b"\n":
                text = chunk[:-2] if chunk[-2:] == b"\r\n" else chunk[:-1]
            elif len(chunk) < limit:  # the last line, without a line ending
                text = chunk
            else:  # over the limit: the rest of the line is read and dropped, in small pieces
                while chunk and chunk[-1:] != b"\n":
                    chunk = readline(_DISCARD_CHUNK)
                yield SourceLine(source, lineno, b"", max_line_bytes)
                continue
            if len(text) > max_line_bytes:
                yield SourceLine(source, lineno, b"", max_line_bytes)
            else:
                yield SourceLine(source, lineno, text)
    except (OSError, EOFError) as exc:  # BadGzipFile is an OSError; a truncated gzip, EOFError
        raise ConfigError(f"{source}: cannot read input after line {lineno}: {exc}") from None
    finally:
        if reader is not stream:
            reader.close()


def _starts_with_gzip_magic(stream: IO[bytes]) -> bool:
    """Look at the first two bytes without consuming them (peek, or read and seek back)."""
    peek = getattr(stream, "peek", None)
    if peek is not None:
        head: bytes = peek(2)[:2]
        return head == _GZIP_MAGIC
    if stream.seekable():
        position = stream.tell()
        head = stream.read(2)
        stream.seek(position)
        return head == _GZIP_MAGIC
    return False

"""Input: read tracking-log lines (plain, gzip, stdin) and turn each into one normalised event."""

from __future__ import annotations

import gzip
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any, BinaryIO, Final
from urllib.parse import parse_qs

import orjson

from translator.errors import ConfigError, InputError
from translator.missing import MISSING

__all__ = ["SourceLine", "decode_event", "normalise", "parse_line", "read_lines"]

_DEFAULT_MAX_LINE_BYTES: Final = 1_000_000  # the default of Settings.max_line_bytes
# The rest of an over-long line is read and dropped this many bytes at a time.
_DISCARD_CHUNK: Final = 1 << 16
_GZIP_MAGIC: Final = b"\x1f\x8b"
_STDIN_NAME: Final = "<stdin>"

# Fields a tracking log keeps at the top level and the event bus keeps in `context`.
_IDENTITY_KEYS: Final = (
    "username",
    "referer",
    "page",
    "host",
    "ip",
    "agent",
    "accept_language",
    "session",
)


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One physical input line and where it came from, so a reject can name file and line."""

    source: str
    """The file path as given, or "<stdin>"."""
    lineno: int
    """1-based; every physical line counts, blank and over-long ones included."""
    text: bytes
    """The raw line without its line ending; b"" when the line was too long."""
    too_long: bool = False
    """The line exceeded the byte limit; its content was discarded while reading."""


# --- reading -----------------------------------------------------------------------------------


def read_lines(
    paths: Sequence[str],
    *,
    max_line_bytes: int = _DEFAULT_MAX_LINE_BYTES,
    stdin: BinaryIO | None = None,
) -> Iterator[SourceLine]:
    """Stream the lines of `paths` in order ("-" is stdin), in memory bounded by `max_line_bytes`.

    A path ending in `.gz`, or whose content starts with the gzip magic bytes, is decompressed.
    Blank lines are yielded too, so that every physical line is counted; a line longer than
    `max_line_bytes` (line ending excluded) is yielded empty with `too_long=True`.

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
            yield from _read_stream(stream, _STDIN_NAME, max_line_bytes, gzipped=None)
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
    lineno = 0
    try:
        for text, too_long in _split_lines(reader.readline, max_line_bytes):
            lineno += 1
            yield SourceLine(source, lineno, text, too_long)
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


def _split_lines(
    readline: Callable[[int], bytes], max_line_bytes: int
) -> Iterator[tuple[bytes, bool]]:
    """Yield (line without its ending, too_long), holding at most `max_line_bytes + 2` bytes.

    Reading `max_line_bytes + 2` bytes leaves room for the content plus CR LF, so a chunk that
    fills the limit without a LF holds more than `max_line_bytes` bytes of content.
    """
    limit = max_line_bytes + 2
    while True:
        chunk = readline(limit)
        if not chunk:
            return
        if chunk[-1:] == b"\n":
            text = chunk[:-2] if chunk[-2:] == b"\r\n" else chunk[:-1]
        elif len(chunk) < limit:  # the last line, without a line ending
            text = chunk
        else:
            while chunk and chunk[-1:] != b"\n":
                chunk = readline(_DISCARD_CHUNK)
            yield b"", True
            continue
        if len(text) > max_line_bytes:
            yield b"", True
        else:
            yield text, False


# --- decoding ----------------------------------------------------------------------------------


def _kind(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages that never show the value."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"


def _json_reason(exc: orjson.JSONDecodeError) -> str:
    if exc.msg.startswith("str is not valid UTF-8"):
        return "not valid UTF-8"
    return f"invalid JSON: {exc}"


def decode_event(text: bytes) -> dict[str, Any]:
    """Decode one line into its JSON object, ignoring any logger prefix before the first `{`.

    Raises InputError with a short reason ("empty line", "no JSON object on the line",
    "invalid JSON: ...", "not valid UTF-8", "JSON value is a list, not an object"); the reason
    never quotes the line, which may hold personal data.
    """
    start = text.find(b"{")
    if start == 0:
        try:
            value: dict[str, Any] = orjson.loads(text)  # starts with "{": an object or an error
        except orjson.JSONDecodeError as exc:
            raise InputError(_json_reason(exc)) from None
        return value
    if start < 0:
        if not text.strip():
            raise InputError("empty line")
        try:
            other = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InputError("no JSON object on the line") from None
        raise InputError(f"JSON value is {_kind(other)}, not an object")
    # Something precedes the first "{": leading blanks, a logger prefix, or a list of objects.
    try:
        whole = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if isinstance(whole, dict):
            return whole
        raise InputError(f"JSON value is {_kind(whole)}, not an object")
    try:
        value = orjson.loads(text[start:])
    except orjson.JSONDecodeError as exc:
        raise InputError(_json_reason(exc)) from None
    return value


# --- normalising -------------------------------------------------------------------------------


def _event_member(value: Any, field: str) -> Any:
    """The event's own data: decoded once if JSON text, parsed if a query string.

    An object is the usual case. A JSON value that is not an object (`problem_graded` logs a
    list) is kept as it is: paths into it find nothing, so a mapping that needs its fields
    rejects the line, and an unmapped event is still counted as skipped, not rejected.
    """
    if isinstance(value, dict):
        return value
    if value is None:
        return {}
    if isinstance(value, str):
        if not value.strip():
            return {}
        try:
            decoded = orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            if value.lstrip()[:1] in ("{", "["):
                raise InputError(f"'{field}' is not valid JSON: {exc}") from None
            # A browser event (problem_check, problem_save, ...) posts its form as a query string.
            return parse_qs(value, keep_blank_values=True)
        return {} if decoded is None else decoded
    return value


def normalise(raw: dict[str, Any]) -> dict[str, Any]:
    """Bring both input shapes (tracking log, event bus) to the one document mappings read.

    Returns a new dict holding `name`, `event_type`, `time`, `event_source`, `event` (always an
    object), `context` (always an object) and, where the event has them, `username`, `referer`,
    `page`, `host`, `ip`, `agent`, `accept_language`, `session` (top level first, then context).
    Nested values are shared with `raw`, never copied; `raw` is not changed.

    Raises InputError when the event has no name, or a field has a type no mapping can use.
    """
    out: dict[str, Any] = {}
    name = raw.get("name")
    if isinstance(name, str) and name:
        out["name"] = name
    event_type = raw.get("event_type")
    if isinstance(event_type, str) and event_type:
        out["event_type"] = event_type
    if not out:
        raise InputError("no event name: neither 'name' nor 'event_type'")

    context = raw.get("context")
    if context is None:
        context = {}
    elif not isinstance(context, dict):
        raise InputError(f"'context' is {_kind(context)}, not an object")

    time = raw.get("time", MISSING)
    if time is MISSING and "timestamp" in raw:
        time = raw["timestamp"]
        if not isinstance(time, str):
            raise InputError(f"'timestamp' is {_kind(time)}, not a string")
    if time is not MISSING:
        if not isinstance(time, str):
            raise InputError(f"'time' is {_kind(time)}, not a string")
        out["time"] = time

    source = raw.get("event_source", MISSING)
    if source is MISSING:
        source = context.get("event_source", MISSING)
    if source is not MISSING:
        if not isinstance(source, str):
            raise InputError(f"'event_source' is {_kind(source)}, not a string")
        out["event_source"] = source

    if "event" in raw:
        out["event"] = _event_member(raw["event"], "event")
    else:
        out["event"] = _event_member(raw.get("data"), "data")
    out["context"] = context

    for key in _IDENTITY_KEYS:
        if key in raw:
            out[key] = raw[key]
        elif key in context:
            out[key] = context[key]
    return out


def parse_line(
    line: SourceLine, *, max_line_bytes: int = _DEFAULT_MAX_LINE_BYTES
) -> dict[str, Any]:
    """Decode and normalise one line; `max_line_bytes` (the limit it was read with) names the limit.

    Raises InputError with the reason the line is rejected.
    """
    if line.too_long:
        raise InputError(f"line longer than {max_line_bytes} bytes")
    return normalise(decode_event(line.text))

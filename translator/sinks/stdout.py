"""Statements as JSON lines on a stream (dry-run's stdout), written a few hundred at a time."""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from translator.messages import printable_json
from translator.pipeline import LineResult

__all__ = ["JsonLinesSink"]

_BUFFERED = 256  # statements per write: one system call for many lines


class JsonLinesSink:
    """A pipeline Sink writing each statement as one JSON line; a line is settled once written.

    With `escape` (stdout is a terminal), the controls JSON may carry raw (C1, bidi) are written
    as `\\uXXXX`: the same JSON, but nothing from an event can act on the terminal.
    """

    kind = None  # every target's statements

    def __init__(self, stream: BinaryIO, *, escape: bool = False) -> None:
        self._stream = stream
        self._escape = escape
        self._buffer: list[bytes] = []
        self._oldest: int | None = None

    def put(self, statement: dict[str, Any], result: LineResult, seq: int) -> None:
        if self._oldest is None:
            self._oldest = seq
        self._buffer.append(_json_of(statement, result))
        if len(self._buffer) >= _BUFFERED:
            self.flush()

    def tick(self) -> None:
        self.flush()

    def oldest_unsettled(self) -> int | None:
        return self._oldest

    def finish(self) -> None:
        self.flush()

    def flush(self) -> None:
        """Write what is buffered. Raises OSError (BrokenPipeError when the reader went away)."""
        if self._buffer:
            data = b"\n".join(self._buffer) + b"\n"
            if self._escape:
                data = printable_json(data.decode()).encode()
            self._stream.write(data)
            self._buffer.clear()
        self._stream.flush()
        self._oldest = None


def _json_of(statement: dict[str, Any], result: LineResult) -> bytes:
    """The statement's JSON: the bytes the engine already wrote, else written now."""
    outcome = result.outcome
    encoded = outcome.encoded
    if encoded and outcome.statements[0] is statement:  # the usual case: one statement a line
        return encoded[0]
    for candidate, data in zip(outcome.statements, encoded, strict=False):
        if candidate is statement:
            return data
    return orjson.dumps(statement)

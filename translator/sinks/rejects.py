"""The rejects file: each rejected line with its file, line number and reason, as JSON lines."""

from __future__ import annotations

from typing import Any, BinaryIO

import orjson

from translator.pipeline import LineResult

__all__ = ["RejectsWriter", "reject_record"]

_REJECT_TEXT_LIMIT = 10_000


def reject_record(result: LineResult) -> bytes:
    """One rejected line as a JSON document: source, line, reason, event name and its text (cut
    at 10,000 bytes, so it can be fixed and replayed)."""
    text = result.line.text
    record: dict[str, Any] = {
        "source": result.line.source,
        "line": result.line.lineno,
        "reason": result.outcome.reason,
    }
    if result.outcome.event_name:
        record["event"] = result.outcome.event_name
    if len(text) > _REJECT_TEXT_LIMIT:
        record["truncated"] = True
    record["text"] = text[:_REJECT_TEXT_LIMIT].decode("utf-8", errors="replace")
    return orjson.dumps(record)


class RejectsWriter:
    """Writes each rejected line as one JSON line (see reject_record)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream

    def write(self, result: LineResult) -> None:
        """Record one rejected line."""
        self._stream.write(reject_record(result) + b"\n")

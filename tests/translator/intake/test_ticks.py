"""A quiet input still lets the run move on: IDLE comes when no line came for a while."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from translator.errors import ConfigError
from translator.intake.lines import SourceLine, read_lines
from translator.intake.ticks import IDLE, with_idle_ticks


def test_with_idle_ticks_passes_lines_in_order_and_ends() -> None:
    lines = [SourceLine("a.log", n, b"{}") for n in range(1, 2001)]
    assert [x for x in with_idle_ticks(iter(lines), 5.0) if x is not IDLE] == lines


def test_with_idle_ticks_yields_idle_while_a_pipe_is_quiet() -> None:
    read_end, write_end = os.pipe()
    with os.fdopen(read_end, "rb") as reader, os.fdopen(write_end, "wb") as writer:
        items = with_idle_ticks(read_lines(["-"], stdin=reader), 0.05)
        writer.write(b'{"name": "first"}\n')
        writer.flush()
        assert next(items) == SourceLine("<stdin>", 1, b'{"name": "first"}')
        started = time.monotonic()
        assert next(items) is IDLE  # nothing more is written: the wait ends on time
        assert time.monotonic() - started < 2
        writer.write(b'{"name": "second"}\n')
        writer.flush()
        assert next(x for x in items if x is not IDLE).lineno == 2
        writer.close()
        assert [x for x in items if x is not IDLE] == []


def test_with_idle_ticks_raises_the_readers_error_after_its_lines() -> None:
    def failing() -> Iterator[SourceLine]:
        yield SourceLine("a.log", 1, b"{}")
        raise ConfigError("a.log: cannot read input after line 1")

    items = with_idle_ticks(failing(), 5.0)
    assert next(items) == SourceLine("a.log", 1, b"{}")
    with pytest.raises(ConfigError, match="after line 1"):
        next(items)

"""The pipeline streams: every line is counted once, and memory does not grow with the log."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from translator.config import Settings
from translator.engine import Translator
from translator.intake.lines import SourceLine
from translator.intake.ticks import IDLE
from translator.mapping.plan import load_plan
from translator.pipeline import LineResult, run, translate_lines
from translator.summary import Summary
from translator.targets.xapi import XAPI

CORE = Path(__file__).parent / "mapping" / "fixtures" / "core"


def _lines(count: int) -> Iterator[SourceLine]:
    for n in range(count):
        event = {
            "name": "edx.course.enrollment.activated" if n % 3 else f"custom.event.{n}",
            "time": f"2024-05-01T10:00:{n % 60:02d}+00:00",
            "context": {"course_id": "course-v1:Org+C1+2024", "user_id": n % 2_000},
            "event": {"course_id": "course-v1:Org+C1+2024", "mode": "audit"},
        }
        text = orjson.dumps(event) if n % 7 else b'{"broken": ' + str(n).encode()
        yield SourceLine("generated.log", n + 1, text)


def _peak_bytes(count: int) -> tuple[int, Summary]:
    settings = Settings(mappings_dir=CORE, pseudonym_secret="t")
    translator = Translator(
        load_plan(settings, XAPI, environ={}), id_namespace=settings.id_namespace
    )
    summary = Summary()
    tracemalloc.start()
    try:
        results = translate_lines(_lines(count), translator)
        run(results, summary)
        return tracemalloc.get_traced_memory()[1], summary
    finally:
        tracemalloc.stop()


def test_pipeline_counts_every_line_in_one_bucket() -> None:
    _, summary = _peak_bytes(700)
    assert summary.reconciles
    assert summary.read == 700
    assert summary.rejected == 100  # every 7th line is cut
    assert summary.total_line().startswith("read 700, translated ")


def test_pipeline_memory_stays_flat_however_long_the_log() -> None:
    small, _ = _peak_bytes(5_000)
    large, summary = _peak_bytes(40_000)
    assert summary.reconciles
    # Distinct skipped names and reject reasons are capped (and the learners' pseudonyms are
    # cached up to a bound), so 8x the lines is not 8x the memory.
    assert large < small * 2, (small, large)


class _HoldingSink:
    """A sink that settles what it holds only when told to (a batch waiting for its LRS)."""

    kind = None

    def __init__(self) -> None:
        self.held: list[int] = []
        self.ticks = 0
        self.finished = False

    def put(self, statement: dict[str, Any], result: LineResult, seq: int) -> None:
        self.held.append(seq)

    def tick(self) -> None:
        self.ticks += 1

    def oldest_unsettled(self) -> int | None:
        return self.held[0] if self.held else None

    def finish(self) -> None:
        self.held.clear()
        self.finished = True


def _translator() -> Translator:
    settings = Settings(mappings_dir=CORE, pseudonym_secret="t")
    return Translator(load_plan(settings, XAPI, environ={}), id_namespace=settings.id_namespace)


def test_run_acknowledges_a_line_only_once_every_sink_has_settled_it() -> None:
    sink = _HoldingSink()
    settled: list[int] = []

    def lines() -> Iterator[SourceLine]:
        yield from _lines(3)  # line 1 is skipped (unmapped), lines 2 and 3 translate
        assert settled == [1]  # nothing held for line 1: settled; line 2 is held by the sink
        sink.held.clear()  # the sink delivers what it held
        yield SourceLine("generated.log", 4, b"not json")

    run(
        translate_lines(lines(), _translator()),
        Summary(),
        [sink],
        on_settled=lambda line: settled.append(line.lineno),
    )
    assert settled == [1, 2, 3, 4]  # 2 and 3 only once the sink let go of them
    assert sink.finished


def test_run_ticks_the_sinks_when_the_input_is_quiet() -> None:
    sink = _HoldingSink()
    run(translate_lines([IDLE, IDLE], _translator()), Summary(), [sink])
    assert sink.ticks >= 2


def test_run_with_several_targets_sends_each_targets_statements_to_its_kind() -> None:
    from translator.engine import REJECTED, TRANSLATED, Outcome
    from translator.pipeline import LineResult, combine

    class Kept:
        def __init__(self, kind: str | None) -> None:
            self.kind = kind
            self.got: list[dict[str, str]] = []

        def put(self, statement: dict[str, str], result: LineResult, seq: int) -> None:
            self.got.append(statement)

        def tick(self) -> None: ...

        def oldest_unsettled(self) -> int | None:
            return None

        def finish(self) -> None: ...

    line = SourceLine("s.log", 1, b"{}")
    good = (
        ("xapi", Outcome(TRANSLATED, [{"x": "1"}])),
        ("caliper", Outcome(TRANSLATED, [{"c": "1"}])),
    )
    bad = (("xapi", Outcome(TRANSLATED, [{"x": "2"}])), ("caliper", Outcome(REJECTED, reason="no")))
    sinks = [Kept("xapi"), Kept("caliper"), Kept(None)]
    summary = Summary()
    run(
        [LineResult(line, combine(good), good), LineResult(line, combine(bad), bad)], summary, sinks
    )
    assert [s.got for s in sinks] == [[{"x": "1"}], [{"c": "1"}], [{"x": "1"}, {"c": "1"}]]
    assert summary.total_line() == "read 2, translated 1 (xapi 1, caliper 1), skipped 0, rejected 1"
    assert summary.rejected_by_reason == {"caliper: no": 1}

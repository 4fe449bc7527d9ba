"""Tests of the intake: reading lines, decoding them and normalising both event shapes."""

from __future__ import annotations

import copy
import gzip
import io
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import orjson
import pytest

from translator.errors import ConfigError, InputError
from translator.intake import events, lines
from translator.intake.events import decode_event, normalise, parse_line
from translator.intake.lines import SourceLine, read_lines

# A server event in the tracking-log shape (trimmed from a real log).
TRACKING_SERVER: dict[str, Any] = {
    "username": "kaylee34",
    "ip": "212.97.235.211",
    "agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0",
    "host": "courses.example.org",
    "referer": "https://courses.example.org/courses/course-v1:UQx+DS+2024/courseware",
    "accept_language": "en-US,en;q=0.9",
    "context": {
        "course_id": "course-v1:UQx+DS+2024",
        "org_id": "UQx",
        "path": "/courses/course-v1:UQx+DS+2024/xblock/handler/problem_check",
        "user_id": 3996,
    },
    "time": "2024-07-09T09:29:43.135412+00:00",
    "page": None,
    "event_source": "server",
    "event_type": "problem_check",
    "name": "problem_check",
    "event": {
        "grade": 0,
        "max_grade": 2,
        "problem_id": "block-v1:UQx+DS+2024+type@problem+block@1",
    },
}

# A browser event in the tracking-log shape: `event` is a JSON string.
TRACKING_BROWSER: dict[str, Any] = {
    "username": "robertglass",
    "session": "64b322f88031724abebae0f3d63c2fa6",
    "context": {"course_id": "course-v1:FUN+ECON3+2024", "user_id": 292529, "path": "/event"},
    "time": "2025-02-20T16:29:09.692374+00:00",
    "page": "https://courses.example.org/courses/course-v1:FUN+ECON3+2024/courseware/",
    "event_source": "browser",
    "event_type": "edx.ui.lms.link_clicked",
    "name": "edx.ui.lms.link_clicked",
    "event": '{"current_url": "https://courses.example.org/a", "target_url": "https://x.org/b"}',
}

# The event-bus shape of ERB's fixtures: `data`, `timestamp`, fields inside `context`.
EVENT_BUS: dict[str, Any] = {
    "name": "edx.forum.thread.viewed",
    "timestamp": "2023-07-10T09:23:10.354202+00:00",
    "data": {"commentable_id": "856d38cd", "id": "64a817fce68f35002fd013c3", "title": "first"},
    "context": {
        "session": "054c9ddcb76d2096f862e66bda3bc308",
        "user_id": 15,
        "username": "xiajul7",
        "ip": "172.18.0.1",
        "host": "local.overhang.io:8000",
        "agent": "Mozilla/5.0 Firefox/114.0",
        "path": "/api/discussion/v1/comments/",
        "referer": "http://apps.local.overhang.io:2002/",
        "accept_language": "en-US,en;q=0.5",
        "course_id": "course-v1:testX+XAPI101+2019_T2",
        "org_id": "testX",
        "event_source": "server",
    },
}

# A browser problem_check of the event bus: its GET parameters as a query string.
BROWSER_PROBLEM_CHECK: dict[str, Any] = {
    "name": "problem_check",
    "timestamp": "2020-07-14T14:39:26.580443+00:00",
    "context": {"course_id": "course-v1:edX+DemoX+Demo_Course", "event_source": "browser"},
    "data": "input_3fc5_2_1%5B%5D=choice_0&input_3fc5_2_1%5B%5D=choice_2&empty=",
}


def line_of(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def read_all(paths: list[str], **options: Any) -> list[SourceLine]:
    return list(read_lines(paths, **options))


# --- the public API ----------------------------------------------------------------------------


def test_events_all_names_the_public_api() -> None:
    assert sorted(events.__all__) == ["decode_event", "normalise", "parse_line"]
    assert sorted(lines.__all__) == [
        "DEFAULT_MAX_LINE_BYTES",
        "FilePosition",
        "STDIN_NAME",
        "SourceLine",
        "StreamEntry",
        "read_lines",
    ]
    for module in (events, lines):
        for name in module.__all__:
            assert hasattr(module, name)


# --- read_lines --------------------------------------------------------------------------------


def test_read_lines_yields_every_physical_line_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "tracking.log"
    path.write_bytes(b'{"name": "a"}\n\n   \t\n{"name": "b"}\n')
    lines = read_all([str(path)])
    assert lines == [
        SourceLine(str(path), 1, b'{"name": "a"}'),
        SourceLine(str(path), 2, b""),
        SourceLine(str(path), 3, b"   \t"),
        SourceLine(str(path), 4, b'{"name": "b"}'),
    ]


def test_read_lines_reads_a_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "tracking.log"
    path.write_bytes(b"one\ntwo")
    assert [line.text for line in read_all([str(path)])] == [b"one", b"two"]


def test_read_lines_strips_crlf_endings(tmp_path: Path) -> None:
    path = tmp_path / "tracking.log"
    path.write_bytes(b'{"name": "a"}\r\n\r\n{"name": "b"}\r\n')
    assert [line.text for line in read_all([str(path)])] == [
        b'{"name": "a"}',
        b"",
        b'{"name": "b"}',
    ]


def test_read_lines_numbers_lines_per_file_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_bytes(b"a1\na2\n")
    second.write_bytes(b"b1\n")
    lines = read_all([str(first), str(second)])
    assert [(line.source, line.lineno, line.text) for line in lines] == [
        (str(first), 1, b"a1"),
        (str(first), 2, b"a2"),
        (str(second), 1, b"b1"),
    ]


def test_read_lines_reads_gzip_by_suffix(tmp_path: Path) -> None:
    path = tmp_path / "tracking.log.gz"
    with gzip.open(path, "wb") as out:
        out.write(line_of(TRACKING_SERVER) + b"\r\n" + line_of(EVENT_BUS) + b"\n")
    lines = read_all([str(path)])
    assert [line.text for line in lines] == [line_of(TRACKING_SERVER), line_of(EVENT_BUS)]
    assert parse_line(lines[1])["name"] == "edx.forum.thread.viewed"


def test_read_lines_reads_gzip_by_magic_bytes(tmp_path: Path) -> None:
    path = tmp_path / "tracking.log.1"  # a rotated log, compressed without the suffix
    path.write_bytes(gzip.compress(b"line one\nline two\n"))
    assert [line.text for line in read_all([str(path)])] == [b"line one", b"line two"]


def test_read_lines_reports_a_truncated_gzip_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.log.gz"
    whole = gzip.compress(b"".join(b'{"name": "e%d"}\n' % i for i in range(20_000)))
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ConfigError, match=r"cut\.log\.gz: cannot read input after line \d+"):
        read_all([str(path)])


def test_read_lines_reads_stdin_for_a_dash() -> None:
    stdin = io.BytesIO(b'{"name": "a"}\n{"name": "b"}')
    lines = read_all(["-"], stdin=stdin)
    assert lines == [
        SourceLine("<stdin>", 1, b'{"name": "a"}'),
        SourceLine("<stdin>", 2, b'{"name": "b"}'),
    ]
    assert not stdin.closed


def test_read_lines_reads_gzip_from_stdin() -> None:
    stdin = io.BytesIO(gzip.compress(b"zipped\n"))
    assert [line.text for line in read_all(["-"], stdin=stdin)] == [b"zipped"]
    assert not stdin.closed


def test_read_lines_defaults_to_the_process_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    buffer = io.BufferedReader(io.BytesIO(b"from the pipe\n"))  # has peek(), like sys.stdin.buffer
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(buffer))
    assert read_all(["-"]) == [SourceLine("<stdin>", 1, b"from the pipe")]


def test_read_lines_raises_config_error_naming_a_missing_file(tmp_path: Path) -> None:
    present = tmp_path / "present.log"
    present.write_bytes(b"x\n")
    missing = tmp_path / "missing.log"
    # Raised at the call, before any line of the first file is read.
    with pytest.raises(ConfigError, match=r"missing\.log: cannot open input file"):
        read_lines([str(present), str(missing)])


def test_read_lines_raises_config_error_for_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        read_lines([str(tmp_path)])


def test_read_lines_accepts_a_line_of_exactly_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "edge.log"
    path.write_bytes(b"x" * 10 + b"\r\n" + b"y" * 11 + b"\r\n" + b"z" * 10)
    lines = read_all([str(path)], max_line_bytes=10)
    assert [(line.text, line.too_long) for line in lines] == [
        (b"x" * 10, False),
        (b"", True),
        (b"z" * 10, False),
    ]


def test_read_lines_marks_a_too_long_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "edge.log"
    path.write_bytes(b"ok\n" + b"y" * 100)
    lines = read_all([str(path)], max_line_bytes=10)
    assert [(line.lineno, line.text, line.too_long) for line in lines] == [
        (1, b"ok", False),
        (2, b"", True),
    ]


def test_read_lines_skips_a_huge_line_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.log"
    with path.open("wb") as out:
        out.write(line_of(TRACKING_SERVER) + b"\n")
        out.write(b'{"name": "huge", "event": "')
        block = b"x" * (1 << 20)
        for _ in range(50):  # a 50 MB line, written without holding it in memory
            out.write(block)
        out.write(b'"}\n')
        out.write(line_of(EVENT_BUS) + b"\n")
    del block

    tracemalloc.start()
    try:
        lines = read_all([str(path)], max_line_bytes=4096)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert [(line.lineno, line.too_long) for line in lines] == [(1, False), (2, True), (3, False)]
    assert lines[1].text == b""
    assert parse_line(lines[2])["name"] == "edx.forum.thread.viewed"
    assert peak < 2_000_000, f"reading a 50 MB line peaked at {peak} bytes"


def test_read_lines_rejects_a_limit_below_one() -> None:
    with pytest.raises(ConfigError, match="max_line_bytes"):
        read_lines(["-"], max_line_bytes=0)


# --- decode_event ------------------------------------------------------------------------------


def test_decode_event_decodes_an_object() -> None:
    assert decode_event(line_of(TRACKING_SERVER)) == TRACKING_SERVER


def test_decode_event_strips_a_logger_prefix() -> None:
    text = b"2024-05-01 10:00:00,123 INFO 7 [tracking] logger.py:42 - " + line_of(EVENT_BUS)
    assert decode_event(text) == EVENT_BUS


def test_decode_event_strips_a_bracketed_prefix() -> None:
    text = b"[2024-05-01T10:00:00Z] tracking: " + line_of(EVENT_BUS)
    assert decode_event(text) == EVENT_BUS


def test_decode_event_ignores_a_prefix_that_is_not_utf8() -> None:
    assert decode_event(b"\xff\xfe garbage - " + b'{"name": "a"}') == {"name": "a"}


def test_decode_event_accepts_leading_blanks() -> None:
    assert decode_event(b'  \t{"name": "a"}') == {"name": "a"}


@pytest.mark.parametrize("text", [b"", b"   ", b"\t \r"])
def test_decode_event_rejects_an_empty_line(text: bytes) -> None:
    with pytest.raises(InputError) as caught:
        decode_event(text)
    assert caught.value.reason == "empty line"


def test_decode_event_rejects_a_line_without_json_object() -> None:
    with pytest.raises(InputError) as caught:
        decode_event(b"2024-05-01 10:00:00,123 INFO worker started")
    assert caught.value.reason == "no JSON object on the line"


def test_decode_event_rejects_truncated_json() -> None:
    text = line_of(TRACKING_SERVER)[:-25]
    with pytest.raises(InputError) as caught:
        decode_event(text)
    assert caught.value.reason.startswith("invalid JSON: ")


def test_decode_event_rejects_trailing_content() -> None:
    with pytest.raises(InputError, match=r"^invalid JSON: "):
        decode_event(b'{"name": "a"} and more')


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (b'[{"name": "a"}, {"name": "b"}]', "an array"),
        (b"[1, 2]", "an array"),
        (b"42", "a number"),
        (b'"{not an object}"', "a string"),
        (b"true", "a boolean"),
        (b"null", "null"),
    ],
)
def test_decode_event_rejects_a_json_value_that_is_not_an_object(text: bytes, kind: str) -> None:
    with pytest.raises(InputError) as caught:
        decode_event(text)
    assert caught.value.reason == f"JSON value is {kind}, not an object"


def test_decode_event_rejects_bytes_that_are_not_utf8() -> None:
    with pytest.raises(InputError) as caught:
        decode_event(b'{"name": "caf\xe9"}')
    assert caught.value.reason == "not valid UTF-8"


def test_decode_event_reason_never_quotes_the_line() -> None:
    secret = "alice@example.org-personal-data"
    text = b'{"username": "' + secret.encode() + b'", "name": '
    with pytest.raises(InputError) as caught:
        decode_event(text)
    assert secret not in str(caught.value)


# --- normalise ---------------------------------------------------------------------------------


def test_normalise_keeps_the_tracking_log_shape() -> None:
    assert normalise(TRACKING_SERVER) == {
        "name": "problem_check",
        "event_type": "problem_check",
        "time": "2024-07-09T09:29:43.135412+00:00",
        "event_source": "server",
        "event": TRACKING_SERVER["event"],
        "context": TRACKING_SERVER["context"],
        "username": "kaylee34",
        "referer": "https://courses.example.org/courses/course-v1:UQx+DS+2024/courseware",
        "page": None,
        "host": "courses.example.org",
        "ip": "212.97.235.211",
        "agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/115.0",
        "accept_language": "en-US,en;q=0.9",
    }


def test_normalise_brings_the_event_bus_shape_to_the_same_keys() -> None:
    context = EVENT_BUS["context"]
    assert normalise(EVENT_BUS) == {
        "name": "edx.forum.thread.viewed",
        "time": "2023-07-10T09:23:10.354202+00:00",
        "event_source": "server",
        "event": EVENT_BUS["data"],
        "context": context,
        "username": "xiajul7",
        "referer": "http://apps.local.overhang.io:2002/",
        "host": "local.overhang.io:8000",
        "ip": "172.18.0.1",
        "agent": "Mozilla/5.0 Firefox/114.0",
        "accept_language": "en-US,en;q=0.5",
        "session": "054c9ddcb76d2096f862e66bda3bc308",
    }


def test_normalise_never_mutates_its_input() -> None:
    for raw in (TRACKING_SERVER, TRACKING_BROWSER, EVENT_BUS, BROWSER_PROBLEM_CHECK):
        before = copy.deepcopy(raw)
        result = normalise(raw)
        assert raw == before
        assert result is not raw


def test_normalise_decodes_a_string_event_once() -> None:
    raw = dict(TRACKING_BROWSER, event=orjson.dumps({"inner": '{"still": "a string"}'}).decode())
    assert normalise(raw)["event"] == {"inner": '{"still": "a string"}'}
    assert normalise(TRACKING_BROWSER)["event"] == {
        "current_url": "https://courses.example.org/a",
        "target_url": "https://x.org/b",
    }


def test_normalise_parses_a_query_string_event() -> None:
    assert normalise(BROWSER_PROBLEM_CHECK)["event"] == {
        "input_3fc5_2_1[]": ["choice_0", "choice_2"],
        "empty": [""],
    }


def test_normalise_parses_a_query_string_in_the_tracking_log_shape() -> None:
    raw = dict(TRACKING_BROWSER, event_type="problem_check", event="input_ab_2_1=choice_1")
    assert normalise(raw)["event"] == {"input_ab_2_1": ["choice_1"]}


@pytest.mark.parametrize("value", ["", "  ", None, "null"])
def test_normalise_gives_an_empty_event_for_nothing(value: str | None) -> None:
    assert normalise(dict(TRACKING_BROWSER, event=value))["event"] == {}


def test_normalise_gives_an_empty_event_when_absent() -> None:
    raw = {k: v for k, v in EVENT_BUS.items() if k != "data"}
    assert normalise(raw)["event"] == {}


def test_normalise_prefers_event_to_data() -> None:
    raw = dict(EVENT_BUS, event={"from": "event"})
    assert normalise(raw)["event"] == {"from": "event"}


@pytest.mark.parametrize(
    ("value", "kept"),
    [([1, 2], [1, 2]), (7, 7), ("[1, 2]", [1, 2]), ("12", 12)],
)
def test_normalise_keeps_an_event_that_is_not_an_object(value: Any, kept: Any) -> None:
    # problem_graded logs a list: unmapped, it must be skipped rather than rejected.
    assert normalise(dict(TRACKING_SERVER, event=value))["event"] == kept


def test_normalise_keeps_a_bus_payload_that_is_not_an_object() -> None:
    assert normalise(dict(EVENT_BUS, data=["x"]))["event"] == ["x"]


def test_normalise_rejects_a_truncated_json_string_event() -> None:
    with pytest.raises(InputError, match=r"^'event' is not valid JSON: "):
        normalise(dict(TRACKING_BROWSER, event='{"current_url": "https://cour'))


def test_normalise_gives_an_empty_context_when_missing_or_null() -> None:
    raw = {k: v for k, v in TRACKING_SERVER.items() if k != "context"}
    assert normalise(raw)["context"] == {}
    assert normalise(dict(TRACKING_SERVER, context=None))["context"] == {}


def test_normalise_rejects_a_context_that_is_a_list() -> None:
    with pytest.raises(InputError) as caught:
        normalise(dict(TRACKING_SERVER, context=[{"course_id": "x"}]))
    assert caught.value.reason == "'context' is an array, not an object"


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("time", 1720517383, "'time' is a number, not a string"),
        ("time", None, "'time' is null, not a string"),
        ("event_source", 1, "'event_source' is a number, not a string"),
    ],
)
def test_normalise_rejects_a_field_of_the_wrong_type(field: str, value: Any, reason: str) -> None:
    with pytest.raises(InputError) as caught:
        normalise(dict(TRACKING_SERVER, **{field: value}))
    assert caught.value.reason == reason


def test_normalise_rejects_a_timestamp_of_the_wrong_type() -> None:
    with pytest.raises(InputError) as caught:
        normalise(dict(EVENT_BUS, timestamp=["2023"]))
    assert caught.value.reason == "'timestamp' is an array, not a string"


def test_normalise_prefers_time_to_timestamp() -> None:
    raw = dict(TRACKING_SERVER, timestamp="2000-01-01T00:00:00+00:00")
    assert normalise(raw)["time"] == TRACKING_SERVER["time"]


def test_normalise_leaves_out_fields_the_event_lacks() -> None:
    raw = {"name": "edx.course.enrollment.activated", "data": {"course_id": "c"}}
    assert normalise(raw) == {
        "name": "edx.course.enrollment.activated",
        "event": {"course_id": "c"},
        "context": {},
    }


def test_normalise_keeps_a_top_level_null_over_the_context_value() -> None:
    raw = dict(EVENT_BUS, referer=None, username="")
    result = normalise(raw)
    assert result["referer"] is None
    assert result["username"] == ""
    assert result["host"] == "local.overhang.io:8000"


@pytest.mark.parametrize(
    ("name", "event_type", "expected"),
    [
        ("", "seq_next", {"event_type": "seq_next"}),
        (None, "seq_next", {"event_type": "seq_next"}),
        ("edx.ui.lms.sequence.next_selected", 5, {"name": "edx.ui.lms.sequence.next_selected"}),
    ],
)
def test_normalise_uses_only_nonempty_string_names(
    name: Any, event_type: Any, expected: dict[str, str]
) -> None:
    result = normalise({"name": name, "event_type": event_type})
    assert {k: result[k] for k in ("name", "event_type") if k in result} == expected


def test_normalise_rejects_an_event_without_name() -> None:
    with pytest.raises(InputError) as caught:
        normalise({"name": "", "event_type": None, "event": {}})
    assert caught.value.reason == "no event name: neither 'name' nor 'event_type'"


# --- parse_line --------------------------------------------------------------------------------


def test_parse_line_decodes_and_normalises() -> None:
    line = SourceLine("tracking.log", 3, b"2024-05-01 INFO - " + line_of(TRACKING_BROWSER))
    result = parse_line(line)
    assert result["name"] == "edx.ui.lms.link_clicked"
    assert result["event"]["target_url"] == "https://x.org/b"
    assert result["session"] == "64b322f88031724abebae0f3d63c2fa6"


def test_parse_line_rejects_a_too_long_line_naming_the_limit() -> None:
    line = SourceLine("tracking.log", 2, b"", over_limit=4096)
    with pytest.raises(InputError) as caught:
        parse_line(line)
    assert caught.value.reason == "line longer than 4096 bytes"


def test_parse_line_rejects_a_line_the_intake_found_unusable_with_its_reason() -> None:
    line = SourceLine("redis-stream:analytics#1-0", 1, b"", unusable="the entry has no event_data")
    with pytest.raises(InputError) as caught:
        parse_line(line)
    assert caught.value.reason == "the entry has no event_data"


def test_parse_line_rejects_a_blank_line() -> None:
    with pytest.raises(InputError) as caught:
        parse_line(SourceLine("tracking.log", 1, b"  "))
    assert caught.value.reason == "empty line"


def test_decode_event_keeps_integers_beyond_64_bits_exact() -> None:
    big = (1 << 64) + 1
    line = b'{"name": "x", "context": {"user_id": %d}, "event": "{\\"user_id\\": %d}"}' % (
        big,
        -big,
    )
    event = normalise(decode_event(line))
    assert event["context"]["user_id"] == big and type(event["context"]["user_id"]) is int
    assert event["event"]["user_id"] == -big
    # after a colon, a comma, a bracket, a minus sign and blanks, as any JSON writer spaces it
    shapes = b'{"a":%d,"b":[ -%d,\t%d],"c" :\n%d}' % (big, big, big, -big)
    assert decode_event(shapes) == {"a": big, "b": [-big, big], "c": -big}
    assert decode_event(b'{"grade": 0.1, "id": 1234567890123456789}') == {
        "grade": 0.1,
        "id": 1234567890123456789,
    }
    with pytest.raises(InputError, match="invalid JSON"):
        decode_event(b'{"id": 12345678901234567890, "x": NaN}')

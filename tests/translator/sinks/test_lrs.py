"""The LRS client: real ralph answers, classified; network trouble is an answer, not a raise."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from factories import xapi_statement, xapi_statements
from services import RalphLRS, StubAnswer, StubLRS, free_port

from translator.sinks.destinations import Destination
from translator.sinks.http import classify
from translator.sinks.lrs import LRSClient


def _client(lrs: RalphLRS, password: str | None = None) -> LRSClient:
    destination = Destination(
        name="ralph", url=lrs.url, username=lrs.username, password=password or lrs.password
    )
    return LRSClient(destination, timeout=5)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, "delivered"), (204, "delivered"), (429, "transient"), (408, "transient"),
        (500, "transient"), (503, "transient"), (400, "invalid"), (413, "invalid"),
        (422, "invalid"), (409, "conflict"), (401, "refused"), (403, "refused"),
        (404, "unexpected"), (301, "unexpected"),
    ],
)  # fmt: skip
def test_classify(status: int, kind: str) -> None:
    assert classify(status) == kind


def test_lrs_client_answers_of_a_real_lrs(lrs: RalphLRS) -> None:
    statements = xapi_statements(3)
    with _client(lrs) as client:
        first = client.post(statements)
        again = client.post(statements)
        conflict = client.post([dict(statements[0], verb={"id": "http://example.org/v"})])
        invalid = client.post([xapi_statement(object={"objectType": "Activity"})])
        found = client.get_statement(statements[1]["id"])
    assert (first.kind, first.status, first.document) == (
        "delivered",
        200,
        [s["id"] for s in statements],
    )
    assert (again.kind, again.status) == ("delivered", 204)
    assert (conflict.kind, conflict.status) == ("conflict", 409)
    assert (invalid.kind, invalid.status) == ("invalid", 422)
    assert "Field required" in invalid.text
    assert found.kind == "delivered"
    assert found.document["statements"][0]["id"] == statements[1]["id"]


def test_lrs_client_wrong_password_is_refused(lrs: RalphLRS) -> None:
    with _client(lrs, password="wrong-password-1") as client:
        answer = client.post([xapi_statement()])
        assert "wrong-password-1" not in repr(client)
    assert (answer.kind, answer.status) == ("refused", 401)


def test_lrs_client_connection_refused_is_transient() -> None:
    destination = Destination(name="down", url=f"http://127.0.0.1:{free_port()}/xAPI")
    with LRSClient(destination, timeout=2) as client:
        answer = client.post([xapi_statement()])
    assert (answer.kind, answer.status) == ("transient", None)
    assert answer.text.startswith("ConnectError")
    assert answer.describe().startswith("no answer: ConnectError")


def test_lrs_client_retry_after_as_seconds_or_http_date() -> None:
    # A stub server: ralph never answers 429.
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    answers = [
        StubAnswer(429, b"", {"Retry-After": "12"}),
        StubAnswer(503, b"", {"Retry-After": when}),
        StubAnswer(503, b"", {"Retry-After": "soon"}),
    ]
    with StubLRS(answers) as stub, LRSClient(Destination(name="s", url=stub.url)) as client:
        seconds, date, junk = (client.post([xapi_statement()]) for _ in range(3))
    assert seconds.retry_after == 12.0
    assert date.retry_after is not None and 25 < date.retry_after <= 30
    assert junk.retry_after is None and junk.kind == "transient"


def test_lrs_client_long_answer_is_cut_to_an_excerpt() -> None:
    with (
        StubLRS([StubAnswer(400, b"x" * 5000)]) as stub,
        LRSClient(Destination(name="s", url=stub.url)) as client,
    ):
        answer = client.post([xapi_statement()])
    assert answer.kind == "invalid" and len(answer.text) == 500 and answer.text.endswith("...")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("86400", 86400.0),
        (" 7 ", 7.0),
        ("99999999999999999999999999", 1e12),  # kept as a bound; delivery caps what it waits
        ("inf", None),
        ("Infinity", None),
        ("NaN", None),
        ("-5", None),
        ("1e400", None),
        ("2.5", None),
        ("Fri, 31 Dec 99999 23:59:59 GMT", None),
        ("\x1b[31m", None),
    ],
)
def test_lrs_client_retry_after_takes_only_what_rfc_9110_allows(
    header: str, expected: float | None
) -> None:
    # A stub server: ralph never answers 429; before, "inf" crashed forward with OverflowError.
    with (
        StubLRS([StubAnswer(429, b"", {"Retry-After": header})]) as stub,
        LRSClient(Destination(name="s", url=stub.url)) as client,
    ):
        answer = client.post([xapi_statement()])
    assert answer.kind == "transient" and answer.retry_after == expected


@pytest.mark.parametrize(
    ("answer", "content_type"),
    [
        (StubAnswer(200, b"<html>Wi-Fi</html>", {"Content-Type": "text/html"}), "text/html"),
        (StubAnswer(200, b'{"ok": true}'), "application/json"),
        (StubAnswer(200, b""), "application/json"),
        (StubAnswer(202, b""), "application/json"),
        (StubAnswer(200, b'["not-our-id"]'), "application/json"),
        (StubAnswer(204, b"", {"Content-Type": "text/plain"}), None),
    ],
)  # fmt: skip
def test_lrs_client_2xx_that_is_not_an_lrs_answer_is_not_delivered(
    answer: StubAnswer, content_type: str | None
) -> None:
    # A stub server: ralph answers a POST only as xAPI says (200 with the ids, or 204).
    with StubLRS([answer]) as stub, LRSClient(Destination(name="s", url=stub.url)) as client:
        got = client.post(xapi_statements(2))
    if content_type is None:  # an empty 204: every statement was already stored (as ralph says)
        assert got.kind == "delivered"
        return
    assert got.kind == "unexpected" and got.status == answer.status
    assert f"a {content_type} answer" in got.text and "JSON array" in got.text


def test_lrs_client_answer_dribbled_past_the_deadline_times_out() -> None:
    # A stub server: it sends its 200 a byte every 0.05 s (about 5 s in all); each read comes in
    # time, so only a deadline on the whole request ends it.
    dribbled = StubAnswer(200, b" " * 100 + b"[]", dribble=0.05)
    with (
        StubLRS([dribbled]) as stub,
        LRSClient(Destination(name="s", url=stub.url), timeout=1) as client,
    ):
        started = time.monotonic()
        answer = client.post([xapi_statement()])
        took = time.monotonic() - started
    assert answer.kind == "transient" and "ReadTimeout" in answer.text
    assert took < 2.0


def test_pooled_client_keeps_its_deadline_backend() -> None:
    # httpx takes no network backend as an argument: the pool's is replaced; this notices when
    # an httpx release moves it.
    client = LRSClient(Destination(name="s", url="http://127.0.0.1:9/xAPI"))
    transport = client._client._transport
    assert type(transport._pool._network_backend).__name__ == "_DeadlineBackend"  # type: ignore[attr-defined]
    client.close()


def test_caliper_client_answer_dribbled_past_the_deadline_times_out() -> None:
    # The same stub server as above (Caliper endpoints cannot be dribbled by a real one either):
    # both clients share one pooled client and its deadline per request.
    from translator.sinks.caliper import CaliperClient

    dribbled = StubAnswer(200, b" " * 100, dribble=0.05)
    with StubLRS([dribbled]) as stub:
        destination = Destination(name="c", url=stub.url, kind="caliper", token="k", sensor="s")
        with CaliperClient(destination, timeout=1) as client:
            started = time.monotonic()
            answer = client.post([{"id": "urn:uuid:6f0d1d4e-5c1b-4b8e-9a51-6a0c8e2f3b7d"}])
            took = time.monotonic() - started
    assert answer.kind == "transient" and "ReadTimeout" in answer.text
    assert took < 2.0

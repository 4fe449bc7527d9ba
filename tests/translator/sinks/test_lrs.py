"""The LRS client: real ralph answers, classified; network trouble is an answer, not a raise."""

from __future__ import annotations

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

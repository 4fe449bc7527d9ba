"""Delivery against a real ralph LRS and a real Redis: design §8's semantics, nothing mocked.

Faults ralph cannot produce (429 with Retry-After, 503, a hung connection, a 409 for an
identical statement) use `StubLRS`, a small local HTTP server: those tests say so.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from factories import xapi_statement, xapi_statements
from services import RalphLRS, StubAnswer, StubLRS, free_port

from translator.config import Settings
from translator.errors import DeliveryError, DestinationRefused, TransientDeliveryError
from translator.sinks.dead_letters import FileDeadLetterStore, RedisDeadLetterStore
from translator.sinks.delivery import Deliverer, RetryPolicy, deliver_batch
from translator.sinks.destinations import Destination
from translator.sinks.lrs import same_statement
from translator.sinks.replay import replay

FAST = RetryPolicy(initial=0.05, maximum=0.3, jitter=0.05)


def _destination(lrs: RalphLRS | StubLRS, **changes: Any) -> Destination:
    values: dict[str, Any] = {"name": "ralph", "url": lrs.url}
    if isinstance(lrs, RalphLRS):
        values.update(username=lrs.username, password=lrs.password)
    values.update(changes)
    return Destination(**values)


def _stored_ids(lrs: RalphLRS) -> list[str]:
    return [s["id"] for s in lrs.stored_statements()]


@pytest.fixture
def letters(tmp_path: Path) -> FileDeadLetterStore:
    return FileDeadLetterStore(tmp_path / "dead-letters.jsonl")


def test_deliverer_lands_every_statement_exactly_once(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    statements = xapi_statements(250)
    with Deliverer(_destination(lrs), dead_letters=letters, batch_size=100) as deliverer:
        for i, statement in enumerate(statements, start=1):
            deliverer.add(statement, f"tracking.log:{i}")
        assert len(_stored_ids(lrs)) == 200  # two full batches went on add
    assert sorted(_stored_ids(lrs)) == sorted(s["id"] for s in statements)
    assert (deliverer.delivered, deliverer.duplicates, deliverer.dead_lettered) == (250, 0, 0)
    assert deliverer.requests == 3
    assert len(letters) == 0


def test_deliverer_same_statements_twice_adds_nothing(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    statements = xapi_statements(30)
    for _ in range(2):
        with Deliverer(_destination(lrs), dead_letters=letters, batch_size=10) as deliverer:
            for statement in statements:
                deliverer.add(statement, "tracking.log:1")
    assert len(_stored_ids(lrs)) == 30
    assert (deliverer.delivered, deliverer.duplicates) == (30, 30)


def test_deliverer_lrs_stopped_mid_run_everything_lands_after_restart(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    statements = xapi_statements(120)
    deliverer = Deliverer(_destination(lrs), dead_letters=letters, batch_size=40, retry=FAST)
    for statement in statements[:40]:
        deliverer.add(statement, "tracking.log:1")
    lrs.stop()
    restart = threading.Timer(1.0, lrs.start)
    restart.start()
    try:
        for statement in statements[40:]:
            deliverer.add(statement, "tracking.log:2")  # blocks, retrying, until ralph is back
        deliverer.close()
    finally:
        restart.join()
    assert sorted(_stored_ids(lrs)) == sorted(s["id"] for s in statements)
    assert deliverer.delivered == 120
    assert deliverer.requests > 3  # the outage was met and retried
    assert len(letters) == 0


def test_deliverer_invalid_statement_alone_is_dead_lettered_with_lrs_reason(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    statements = xapi_statements(10)
    statements[6]["object"] = {"objectType": "Activity"}  # no id: ralph answers 422
    with Deliverer(_destination(lrs), dead_letters=letters, batch_size=10) as deliverer:
        for i, statement in enumerate(statements, start=1):
            deliverer.add(statement, f"tracking.log:{i}")
    assert sorted(_stored_ids(lrs)) == sorted(s["id"] for i, s in enumerate(statements) if i != 6)
    assert (deliverer.delivered, deliverer.dead_lettered) == (9, 1)
    [letter] = letters.list()
    assert letter.statement == statements[6]
    assert letter.status == 422
    assert "object" in letter.answer and "Field required" in letter.answer
    assert letter.reason.startswith("invalid statement")
    assert (letter.source, letter.destination) == ("tracking.log:7", "ralph")


def test_deliverer_wrong_credentials_refused_then_replay_after_fix(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    wrong = "not-the-password-42"
    statements = xapi_statements(15)
    deliverer = Deliverer(_destination(lrs, password=wrong), dead_letters=letters, batch_size=10)
    with pytest.raises(DestinationRefused) as refused:
        for i, statement in enumerate(statements, start=1):
            deliverer.add(statement, f"tracking.log:{i}")
    message = str(refused.value)
    assert "'ralph'" in message and "401" in message and "nothing was dropped" in message
    assert wrong not in message and wrong not in repr(deliverer) and lrs.password not in message
    # Stopped: what follows is kept, never sent, never dropped.
    for i, statement in enumerate(statements[10:], start=11):
        deliverer.add(statement, f"tracking.log:{i}")
    assert [s for s, _ in deliverer.pending()] == statements
    with pytest.raises(DestinationRefused):
        deliverer.flush()
    assert _stored_ids(lrs) == []
    # The CLI parks them as dead letters; once the credentials are fixed, replay delivers.
    assert deliverer.dead_letter_pending("destination refused our credentials", status=401) == 15
    deliverer.close()
    assert len(letters) == 15
    with Deliverer(_destination(lrs), dead_letters=letters, batch_size=10) as fixed:
        result = replay(letters, fixed)
    assert (result.attempted, result.delivered, result.dead_lettered) == (15, 15, 0)
    assert sorted(_stored_ids(lrs)) == sorted(s["id"] for s in statements)
    assert len(letters) == 0


def test_deliverer_conflict_dead_lettered_identical_duplicate_delivered(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    earlier = xapi_statements(2)
    with Deliverer(_destination(lrs), dead_letters=letters) as deliverer:
        for statement in earlier:
            deliverer.add(statement, "old.log:1")
    conflicting = dict(earlier[0], verb={"id": "http://adlnet.gov/expapi/verbs/passed"})
    batch = [*xapi_statements(3), conflicting, earlier[1], *xapi_statements(3)]
    with Deliverer(_destination(lrs), dead_letters=letters, batch_size=8) as deliverer:
        for i, statement in enumerate(batch, start=1):
            deliverer.add(statement, f"new.log:{i}")
    assert (deliverer.delivered, deliverer.duplicates, deliverer.dead_lettered) == (7, 1, 1)
    assert len(_stored_ids(lrs)) == 8
    [letter] = letters.list()
    assert (letter.statement, letter.status, letter.source) == (conflicting, 409, "new.log:4")
    assert letter.reason.startswith("conflict")
    assert "Differing statements already exist" in letter.answer


def test_replay_after_conflict_removed_from_lrs_redis_store(
    lrs: RalphLRS, redis_client: redis.Redis
) -> None:
    store = RedisDeadLetterStore(redis_client, key="test:dead-letters")
    original = xapi_statement()
    ours = dict(original, verb={"id": "http://adlnet.gov/expapi/verbs/passed"})
    result = deliver_batch(_destination(lrs), [(original, "a.log:1")], store)
    assert result.delivered == 1
    result = deliver_batch(_destination(lrs), [(ours, "b.log:9")], store)
    assert (result.delivered, result.dead_lettered) == (0, 1)
    assert [d.source for d in store.list()] == ["b.log:9"]
    lrs.remove_stored({original["id"]})  # the cause is fixed: an administrator removed it
    with Deliverer(_destination(lrs), dead_letters=store) as deliverer:
        replayed = replay(store, deliverer)
    assert (replayed.attempted, replayed.delivered) == (1, 1)
    assert len(store) == 0
    [stored] = lrs.stored_statements()
    assert same_statement(ours, stored)


def test_deliverer_flushes_after_batch_max_wait(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    now = [100.0]
    deliverer = Deliverer(
        _destination(lrs),
        dead_letters=letters,
        batch_size=100,
        batch_max_wait=5.0,
        clock=lambda: now[0],
    )
    statements = xapi_statements(4)
    deliverer.add(statements[0], "t.log:1")
    now[0] += 3
    deliverer.add(statements[1], "t.log:2")
    deliverer.flush_due()
    assert _stored_ids(lrs) == []
    now[0] += 2  # the oldest has waited 5 s
    deliverer.flush_due()
    assert len(_stored_ids(lrs)) == 2 and deliverer.pending() == []
    deliverer.add(statements[2], "t.log:3")
    now[0] += 6
    deliverer.add(statements[3], "t.log:4")  # add notices the wait too
    assert len(_stored_ids(lrs)) == 4
    deliverer.close()


def test_deliver_batch_settles_mixed_batch_into_store(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    statements = xapi_statements(20)
    statements[3]["object"] = {"objectType": "Activity"}
    statements[17]["id"] = "not-a-uuid"
    items = [(s, f"t.log:{i}") for i, s in enumerate(statements, start=1)]
    result = deliver_batch(_destination(lrs), items, letters)
    assert (result.delivered, result.dead_lettered) == (18, 2)
    assert sorted(d.source for d in letters.list()) == ["t.log:18", "t.log:4"]
    assert len(_stored_ids(lrs)) == 18


def test_deliver_batch_unreachable_raises_transient_and_records_nothing(
    letters: FileDeadLetterStore,
) -> None:
    destination = Destination(name="down", url=f"http://127.0.0.1:{free_port()}/xAPI")
    with pytest.raises(TransientDeliveryError, match="'down' is unavailable"):
        deliver_batch(destination, [(xapi_statement(), "t.log:1")], letters, timeout=2)
    assert len(letters) == 0


def test_deliverer_wrong_url_raises_and_keeps_statements(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    destination = _destination(lrs, url=lrs.url.replace("/xAPI", "/nowhere"))
    deliverer = Deliverer(destination, dead_letters=letters, batch_size=2)
    deliverer.add(xapi_statement(), "t.log:1")
    with pytest.raises(DeliveryError, match=r"unexpected answer \(HTTP 404.*check its URL"):
        deliverer.add(xapi_statement(), "t.log:2")
    assert len(deliverer.pending()) == 2 and len(letters) == 0
    deliverer.dead_letter_pending("wrong URL")
    deliverer.close()


# Faults ralph cannot produce: a local stub server (StubLRS) plays the LRS.


def test_deliverer_honours_retry_after_on_429_and_retries_503(
    letters: FileDeadLetterStore,
) -> None:
    answers = [
        StubAnswer(429, b'{"detail":"slow down"}', {"Retry-After": "2"}),
        StubAnswer(503, b"maintenance"),
    ]
    slept: list[float] = []
    with StubLRS(answers) as stub:
        deliverer = Deliverer(
            _destination(stub, token="t0ken"),
            dead_letters=letters,
            batch_size=5,
            retry=RetryPolicy(initial=0.05, maximum=5.0, jitter=0.05),  # Retry-After fits
            sleep=slept.append,
        )
        for statement in xapi_statements(5):
            deliverer.add(statement, "t.log:1")
        deliverer.close()
    assert deliverer.delivered == 5 and len(stub.requests) == 3
    assert slept[0] >= 2.0  # Retry-After is waited out
    assert slept[1] < 1.0  # the 503 without Retry-After: our own short backoff
    request = stub.requests[0]
    assert request.method == "POST" and request.path == "/xAPI/statements"
    assert request.headers["X-Experience-API-Version"] == "1.0.3"
    assert request.headers["Authorization"] == "Bearer t0ken"
    assert request.headers["Content-Type"] == "application/json"
    assert len(orjson.loads(request.body)) == 5


def test_deliver_batch_429_raises_transient_with_retry_after(
    letters: FileDeadLetterStore,
) -> None:
    with (
        StubLRS([StubAnswer(429, b"", {"Retry-After": "7"})]) as stub,
        pytest.raises(TransientDeliveryError) as error,
    ):
        deliver_batch(_destination(stub), [(xapi_statement(), "t.log:1")], letters)
    assert error.value.retry_after == 7.0
    assert len(letters) == 0


def test_deliverer_hung_lrs_times_out_and_keeps_batch(letters: FileDeadLetterStore) -> None:
    statements = xapi_statements(3)
    with StubLRS([StubAnswer(200, delay=60.0)] * 20) as stub:
        deliverer = Deliverer(
            _destination(stub),
            dead_letters=letters,
            batch_size=3,
            timeout=0.3,
            retry=RetryPolicy(initial=0.05, maximum=0.1, jitter=0.0, max_elapsed=0.5),
        )
        with pytest.raises(TransientDeliveryError, match=r"unavailable for 0\.5 s.*ReadTimeout"):
            for statement in statements:
                deliverer.add(statement, "t.log:1")
        assert [s for s, _ in deliverer.pending()] == statements
        assert deliverer.delivered == 0 and len(letters) == 0
        deliverer.client.close()


def test_deliverer_lone_409_identical_to_stored_counts_as_duplicate(
    letters: FileDeadLetterStore,
) -> None:
    statement = xapi_statement()
    stored = dict(
        statement,
        timestamp=statement["timestamp"].replace("+00:00", "Z"),
        stored="2024-05-02T00:00:00Z",
        authority={"objectType": "Agent", "mbox": "mailto:lrs@example.org"},
    )
    stored["verb"] = dict(statement["verb"])
    answers = [
        StubAnswer(409, b'{"detail":"exists"}'),
        StubAnswer(200, orjson.dumps({"statements": [stored]})),
    ]
    with StubLRS(answers) as stub:
        result = deliver_batch(_destination(stub), [(statement, "t.log:1")], letters)
    assert (result.delivered, result.duplicates, result.dead_lettered) == (1, 1, 0)
    assert stub.requests[1].method == "GET"
    assert stub.requests[1].path == f"/xAPI/statements?statementId={statement['id']}"


def test_same_statement_ignores_what_the_lrs_adds_and_sees_changes() -> None:
    sent = xapi_statement()
    stored = orjson.loads(orjson.dumps(sent))
    stored["stored"] = "2024-06-01T00:00:00Z"
    stored["authority"] = {"mbox": "mailto:x@example.org"}
    stored["timestamp"] = sent["timestamp"].replace("+00:00", "Z")
    stored["verb"]["objectType"] = "Verb"
    assert same_statement(sent, stored)
    assert not same_statement(sent, dict(stored, timestamp="2024-05-01T10:00:01+00:00"))
    assert not same_statement(sent, dict(stored, object={"id": "https://other.example/a"}))
    assert not same_statement(dict(sent, result={"success": True}), stored)


def test_deliverer_from_settings_takes_batch_and_timeout(
    lrs: RalphLRS, letters: FileDeadLetterStore
) -> None:
    settings = Settings(batch_size=7, batch_max_wait=1.5, request_timeout=3.0)
    with Deliverer.from_settings(_destination(lrs), settings, dead_letters=letters) as deliverer:
        assert (deliverer.batch_size, deliverer.batch_max_wait) == (7, 1.5)
        for statement in xapi_statements(7):
            deliverer.add(statement, "t.log:1")
        assert deliverer.requests == 1 and deliverer.pending() == []


@pytest.mark.parametrize("header", ["86400", "99999999999999999999999999", "inf", "-1", "soon"])
def test_deliverer_waits_retry_after_at_most_the_policy_maximum(
    letters: FileDeadLetterStore, header: str
) -> None:
    # A stub server: ralph never answers 429. Before, "inf" raised OverflowError and 86400
    # slept a day.
    slept: list[float] = []
    with StubLRS([StubAnswer(429, b"", {"Retry-After": header})]) as stub:
        deliverer = Deliverer(
            _destination(stub), dead_letters=letters, batch_size=2, retry=FAST, sleep=slept.append
        )
        for statement in xapi_statements(2):
            deliverer.add(statement, "t.log:1")
        deliverer.close()
    assert deliverer.delivered == 2 and len(stub.requests) == 2
    assert len(slept) == 1 and 0 < slept[0] <= FAST.maximum + FAST.jitter


def test_deliverer_captive_portal_200_is_not_delivered_and_keeps_the_batch(
    letters: FileDeadLetterStore, lrs: RalphLRS
) -> None:
    # A stub server plays a captive portal (200 text/html): before, the batch counted as
    # delivered and nothing was stored.
    portal = StubAnswer(200, b"<html>Sign in</html>", {"Content-Type": "text/html; charset=utf-8"})
    statements = xapi_statements(3)
    with StubLRS([portal]) as stub:
        deliverer = Deliverer(_destination(stub), dead_letters=letters, batch_size=3, retry=FAST)
        with pytest.raises(DeliveryError, match=r"HTTP 200: a text/html answer \(20 bytes\)"):
            for statement in statements:
                deliverer.add(statement, "t.log:1")
        assert deliverer.delivered == 0 and [s for s, _ in deliverer.pending()] == statements
        deliverer.dead_letter_pending("not sent: the portal")
        deliverer.client.close()
    with Deliverer(_destination(lrs), dead_letters=letters, retry=FAST) as again:
        result = replay(letters, again)
    assert result.delivered == 3 and len(letters) == 0
    assert sorted(_stored_ids(lrs)) == sorted(s["id"] for s in statements)

"""The client of an xAPI LRS: batches POSTed to `<url>/statements`, and what a 409 means.

What is xAPI here and nowhere else in the sinks: the version header, the Statements resource, what
a POST's answer must hold, and how a statement the LRS already holds is fetched back and compared
with ours.

xAPI 1.0.3 (Communication §2.1.2) answers a POST of statements with 200 and the JSON array of
their ids. ralph answers 204 with no body when it held every one already: that is taken too.
Any other 2xx (a captive portal's HTML page, a proxy's JSON, an empty 200) is not delivered:
it is an "unexpected" answer, so nothing is counted and nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
import orjson

from translator.sinks.destinations import Destination
from translator.sinks.http import Answer, PooledClient
from translator.targets.xapi.checks import XAPI_VERSION

__all__ = ["LRSClient", "same_statement"]

_SET_BY_LRS = frozenset({"stored", "authority"})


class LRSClient(PooledClient):
    """One pooled keep-alive HTTP client for one xAPI LRS, with a timeout on every request.

    `post` and `fetch_stored` never raise for HTTP or network trouble: they return an Answer
    whose `kind` tells delivery what to do. `transport` is the seam for tests and proxies.
    """

    def __init__(
        self,
        destination: Destination,
        *,
        timeout: float = 30.0,
        max_connections: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            destination,
            timeout=timeout,
            headers={"X-Experience-API-Version": XAPI_VERSION},
            max_connections=max_connections,
            transport=transport,
        )
        self.statements_url = f"{destination.url}/statements"

    def post(self, statements: Sequence[Mapping[str, Any]]) -> Answer:
        """POST a list of statements to `<url>/statements` and classify the answer."""
        body = orjson.dumps(list(statements))
        answer, response = self._request(
            "POST",
            self.statements_url,
            content=body,
            headers={"Content-Type": "application/json"},
        )
        if answer.kind != "delivered" or response is None:
            return answer
        return _posted(answer, response, statements)

    def get_statement(self, statement_id: str) -> Answer:
        """GET `statements?statementId=<id>`; a delivered answer's `document` is the statement."""
        return self._send("GET", params={"statementId": statement_id})

    def fetch_stored(self, statement: Mapping[str, Any]) -> Answer:
        """The LRS's copy of a statement it answered 409 for (by the statement's id)."""
        statement_id = statement.get("id")
        if not isinstance(statement_id, str):
            return Answer("unexpected", None, "the statement has no id to look up")
        return self.get_statement(statement_id)

    def matches_stored(self, statement: Mapping[str, Any], document: Any) -> bool | None:
        """Whether the fetched `document` holds our statement unchanged (a duplicate: delivered)
        or a different one (a conflict); None when it holds no statement with our id."""
        statement_id = statement.get("id")
        if not isinstance(statement_id, str):
            return None
        stored = _stored_statement(document, statement_id)
        return None if stored is None else same_statement(statement, stored)

    def _send(self, method: str, **kwargs: Any) -> Answer:
        answer, _ = self._request(method, self.statements_url, **kwargs)
        return answer


def _posted(
    answer: Answer, response: httpx.Response, statements: Sequence[Mapping[str, Any]]
) -> Answer:
    """A 2xx to a POST, kept as delivered only when it is what an LRS answers (module doc)."""
    if answer.status == 204 and not response.content:
        return answer
    ids = answer.document
    if answer.status == 200 and isinstance(ids, list) and all(isinstance(i, str) for i in ids):
        sent = {s.get("id") for s in statements}
        if len(ids) <= len(statements) and sent.issuperset(ids):
            return answer
    kind = response.headers.get("Content-Type", "no content type").split(";")[0].strip()
    return Answer(
        "unexpected",
        answer.status,
        f"a {kind} answer ({len(response.content)} bytes), not the JSON array of the posted "
        "statements' ids an xAPI LRS answers: is this URL the LRS's xAPI endpoint?",
    )


def _stored_statement(document: Any, statement_id: str) -> dict[str, Any] | None:
    """The statement in a GET answer: the statement itself, or inside a StatementResult."""
    if isinstance(document, dict):
        if document.get("id") == statement_id:
            return document
        for candidate in document.get("statements") or ():
            if isinstance(candidate, dict) and candidate.get("id") == statement_id:
                return candidate
    return None


def same_statement(sent: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    """Whether the LRS's `stored` statement is the one we `sent`.

    Compares what we sent: `stored` and `authority` are the LRS's; keys the LRS added (such as a
    default `objectType`) are ignored; `timestamp` is compared as an instant to the millisecond,
    since an LRS may rewrite its offset or precision.
    """
    for key, value in sent.items():
        if key in _SET_BY_LRS:
            continue
        if key not in stored:
            return False
        if key == "timestamp":
            if not _same_instant(value, stored[key]):
                return False
        elif not _covers(value, stored[key]):
            return False
    return True


def _covers(sent: Any, stored: Any) -> bool:
    if isinstance(sent, dict):
        return isinstance(stored, dict) and all(
            k in stored and _covers(v, stored[k]) for k, v in sent.items()
        )
    if isinstance(sent, list):
        return (
            isinstance(stored, list)
            and len(sent) == len(stored)
            and all(_covers(a, b) for a, b in zip(sent, stored, strict=True))
        )
    return bool(sent == stored)


def _same_instant(sent: Any, stored: Any) -> bool:
    if sent == stored:
        return True
    try:
        a = datetime.fromisoformat(str(sent))
        b = datetime.fromisoformat(str(stored))
        return abs((a - b).total_seconds()) < 0.001
    except (TypeError, ValueError):
        return False

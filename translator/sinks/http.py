"""What every endpoint client shares: answers classified for delivery, and the pooled HTTP client.

An answer's `kind` is all delivery needs to decide (design §8), whatever the standard:

    delivered   2xx
    transient   429, 408, 425, 5xx, and every timeout or network error: retry later
    invalid     400, 413, 422: some statement of the batch (or the batch's size) is refused
    conflict    409: a statement id is already stored with different content
    refused     401, 403: our credentials are refused; stop sending to this destination
    unexpected  anything else (404, 405, a redirect...): the destination is misconfigured
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import orjson

from translator.sinks.destinations import Destination

__all__ = ["Answer", "AnswerKind", "answer_of", "classify", "network_answer", "pooled_client"]

AnswerKind = Literal["delivered", "transient", "invalid", "conflict", "refused", "unexpected"]

_EXCERPT = 500
_TRANSIENT = frozenset({408, 425, 429})
_INVALID = frozenset({400, 413, 422})


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer of an endpoint, reduced to what delivery needs and safe to log.

    `status` is None when no HTTP answer came (timeout, connection error); `text` is a short
    excerpt of the body or the network error (empty for a 2xx); `retry_after` is the
    `Retry-After` delay in seconds; `document` is the decoded JSON body of a 2xx answer.
    """

    kind: AnswerKind
    status: int | None
    text: str
    retry_after: float | None = None
    document: Any = None

    def describe(self) -> str:
        """`HTTP 422: <excerpt>`, or the network error: for reasons and log lines."""
        head = f"HTTP {self.status}" if self.status is not None else "no answer"
        return f"{head}: {self.text}" if self.text else head


def classify(status: int) -> AnswerKind:
    """The delivery meaning of an HTTP status."""
    if 200 <= status < 300:
        return "delivered"
    if status in _TRANSIENT or status >= 500:
        return "transient"
    if status in _INVALID:
        return "invalid"
    if status == 409:
        return "conflict"
    if status in (401, 403):
        return "refused"
    return "unexpected"


def answer_of(response: httpx.Response) -> Answer:
    """The Answer an HTTP response gives."""
    kind = classify(response.status_code)
    if kind == "delivered":
        document: Any = None
        if response.content:
            try:
                document = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                document = None
        return Answer(kind, response.status_code, "", None, document)
    return Answer(
        kind,
        response.status_code,
        _excerpt(response.text),
        _retry_after(response.headers.get("Retry-After")),
    )


def network_answer(exc: httpx.HTTPError) -> Answer:
    """A request that got no answer (timeout, connection refused, ...): try again later."""
    return Answer("transient", None, _excerpt(f"{type(exc).__name__}: {exc}"))


class _BearerAuth(httpx.Auth):
    """`Authorization: Bearer <token>`; the token stays out of every repr."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def __repr__(self) -> str:
        return "_BearerAuth(***)"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request


def _auth(destination: Destination) -> httpx.Auth | None:
    if destination.token is not None:
        return _BearerAuth(destination.token)
    if destination.username is not None and destination.password is not None:
        return httpx.BasicAuth(destination.username, destination.password)
    return None


def pooled_client(
    destination: Destination,
    *,
    timeout: float,
    headers: Mapping[str, str],
    max_connections: int = 4,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """One keep-alive connection pool for one destination, its credentials, a timeout on every
    request, and no redirects (a redirect means a misconfigured URL). `transport` is the seam
    for tests and proxies."""
    return httpx.Client(
        auth=_auth(destination),
        headers=dict(headers),
        timeout=httpx.Timeout(timeout),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        follow_redirects=False,
        transport=transport,
    )


def _excerpt(text: str) -> str:
    """The body on one line, cut to a length a log line and a dead letter can carry."""
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT else flat[: _EXCERPT - 3] + "..."


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds: either delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())

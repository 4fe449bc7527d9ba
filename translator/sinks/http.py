"""What every endpoint client shares: answers classified for delivery, and the pooled HTTP client.

An answer's `kind` is all delivery needs to decide (design §8), whatever the standard:

    delivered   2xx
    transient   429, 408, 425, 5xx, and every timeout or network error: retry later
    invalid     400, 413, 422: some statement of the batch (or the batch's size) is refused
    conflict    409: a statement id is already stored with different content
    refused     401, 403: our credentials are refused; stop sending to this destination
    unexpected  anything else (404, 405, a redirect...), or a 2xx whose body is not what the
                standard says an endpoint answers (a captive portal's page): misconfigured

Every request has a total deadline (`timeout`), not only one per read: a server that dribbles
its answer a byte at a time gets a timeout, like one that says nothing.
"""

from __future__ import annotations

import contextvars
import email.utils
import math
import ssl
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self

import httpcore
import httpx
import orjson

from translator.sinks.destinations import Destination

__all__ = [
    "Answer",
    "AnswerKind",
    "PooledClient",
    "answer_of",
    "classify",
    "network_answer",
    "pooled_client",
    "send",
]

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


def send(
    client: httpx.Client, method: str, url: str, *, deadline: float, **kwargs: Any
) -> tuple[Answer, httpx.Response | None]:
    """One request, settled within `deadline` seconds in all (connect, send, every read): the
    Answer, and the response when one came. Never raises for HTTP or network trouble."""
    token = _DEADLINE.set(time.monotonic() + deadline)
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        return network_answer(exc), None
    finally:
        _DEADLINE.reset(token)
    return answer_of(response), response


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


# --- the total deadline -------------------------------------------------------------------------
# httpx times each read, connect and write; a whole request has no limit. The deadline of the
# request under way (set by `send`) bounds every socket operation of the pool's connections.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "translator_http_deadline", default=None
)


def _within_deadline(timeout: float | None) -> float | None:
    """The operation's timeout, cut to what is left of the request's deadline."""
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's total deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the request's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, _within_deadline(timeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """The default backend, its connections bounded by the request's deadline."""

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _within_deadline(timeout), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, _within_deadline(timeout), socket_options)
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def _deadline_transport(max_connections: int) -> httpx.HTTPTransport:
    """httpx's own transport on the deadline backend (httpx takes no backend as an argument;
    a test fails if its pool stops having one)."""
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool._network_backend = _DeadlineBackend()
    return transport


def pooled_client(
    destination: Destination,
    *,
    timeout: float,
    headers: Mapping[str, str],
    max_connections: int = 4,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """One keep-alive connection pool for one destination, its credentials, a timeout on every
    operation and a total deadline on every request sent through `send`, and no redirects (a
    redirect means a misconfigured URL). `transport` is the seam for tests and proxies."""
    if transport is None:
        transport = _deadline_transport(max_connections)
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
    """`Retry-After` in seconds: delay-seconds (digits only) or an HTTP date (RFC 9110 §10.2.3);
    None for anything else ("inf", "NaN", "-5", "soon"). What delivery waits is capped by its
    own maximum (translator.sinks.delivery, worker.tasks.backoff), so a huge value is kept."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(min(int(value[:20]), 10**12))  # a day is 86,400; this is only a bound
    try:
        when = email.utils.parsedate_to_datetime(value)
        left = when.timestamp() - time.time()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return max(0.0, left) if math.isfinite(left) else None


class PooledClient:
    """What every endpoint client shares: one destination, one keep-alive connection pool with
    its credentials and a total deadline per request (`send`), closed on exit. A client for a
    kind of endpoint subclasses it with the headers and requests of its standard."""

    def __init__(
        self,
        destination: Destination,
        *,
        timeout: float,
        headers: Mapping[str, str],
        max_connections: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.destination = destination
        self._deadline = timeout
        self._client = pooled_client(
            destination,
            timeout=timeout,
            headers=headers,
            max_connections=max_connections,
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.destination!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def _request(
        self, method: str, url: str, **kwargs: Any
    ) -> tuple[Answer, httpx.Response | None]:
        """One request within the deadline (see `send`)."""
        return send(self._client, method, url, deadline=self._deadline, **kwargs)

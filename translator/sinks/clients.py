"""Endpoint clients: what delivery asks of one, and which client serves each kind of destination.

Delivery (batching, retries, splitting, dead letters) is the same for every standard; what a
POST looks like and what a 409 means are the client's. A new kind of endpoint is a new client
module and one line in CLIENTS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Protocol

from translator.errors import ConfigError
from translator.sinks.caliper import CaliperClient
from translator.sinks.destinations import Destination
from translator.sinks.http import Answer
from translator.sinks.lrs import LRSClient

__all__ = ["CLIENTS", "EndpointClient", "open_client"]


class EndpointClient(Protocol):
    """One destination's connection. No method raises for HTTP or network trouble: each returns
    an Answer whose `kind` says what delivery does next (translator.sinks.http)."""

    @property
    def destination(self) -> Destination: ...

    def post(self, statements: Sequence[Mapping[str, Any]]) -> Answer:
        """Send one batch."""
        ...

    def fetch_stored(self, statement: Mapping[str, Any]) -> Answer:
        """After a 409 for a lone statement: the endpoint's copy of the statement with its id."""
        ...

    def matches_stored(self, statement: Mapping[str, Any], document: Any) -> bool | None:
        """Whether a fetched copy is our statement (True), another (False), or absent (None)."""
        ...

    def close(self) -> None:
        """Release the connections."""
        ...


ClientFactory = Callable[..., EndpointClient]

CLIENTS: Final[Mapping[str, ClientFactory]] = MappingProxyType(
    {
        "xapi": LRSClient,
        "caliper": CaliperClient,
    }
)


def open_client(destination: Destination, *, timeout: float) -> EndpointClient:
    """The client of `destination`'s kind. Raises ConfigError for a kind no client serves."""
    factory = CLIENTS.get(destination.kind)
    if factory is None:
        raise ConfigError(
            f"destination {destination.name!r}: no client for kind {destination.kind!r}"
        )
    return factory(destination, timeout=timeout)

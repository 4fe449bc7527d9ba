"""The client of a Caliper endpoint: batches POSTed in real envelopes, with a Bearer API key.

What is Caliper here and nowhere else in the sinks: the envelope (`sensor`, `sendTime`,
`dataVersion`, `data` holding the whole batch, never one event per envelope: Caliper §4.2) and
that an endpoint cannot be asked for an event back, so a 409 cannot be resolved by comparing.
Batching, retries, splitting on a 4xx and dead letters are delivery's, as for xAPI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from translator.sinks.destinations import Destination
from translator.sinks.http import Answer, PooledClient
from translator.targets.caliper.checks import CALIPER_CONTEXT

__all__ = ["CaliperClient", "envelope"]


def envelope(sensor: str, events: Sequence[Mapping[str, Any]], *, sent: datetime) -> dict[str, Any]:
    """The Caliper envelope of a batch of events, sent at `sent`."""
    return {
        "sensor": sensor,
        "sendTime": sent.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{sent.microsecond // 1000:03d}Z",
        "dataVersion": CALIPER_CONTEXT,
        "data": list(events),
    }


class CaliperClient(PooledClient):
    """One pooled keep-alive HTTP client for one Caliper endpoint, with a timeout on every
    request. `post` never raises for HTTP or network trouble: it returns an Answer whose `kind`
    tells delivery what to do. `transport` is the seam for tests and proxies."""

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
            headers={"Content-Type": "application/json"},
            max_connections=max_connections,
            transport=transport,
        )
        self.sensor = destination.sensor or destination.url

    def post(self, statements: Sequence[Mapping[str, Any]]) -> Answer:
        """POST the batch in one envelope to the endpoint URL and classify the answer."""
        body = orjson.dumps(envelope(self.sensor, statements, sent=datetime.now(UTC)))
        answer, _ = self._request("POST", self.destination.url, content=body)
        return answer

    def fetch_stored(self, statement: Mapping[str, Any]) -> Answer:
        """A Caliper endpoint offers no way to read an event back (the Sensor API is send-only)."""
        return Answer("unexpected", None, "a Caliper endpoint cannot be asked for a stored event")

    def matches_stored(self, statement: Mapping[str, Any], document: Any) -> bool | None:
        """Never known: nothing can be fetched (see fetch_stored)."""
        return None

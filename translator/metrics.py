"""Prometheus metrics of a running service, read from its live counters when scraped.

The run's Summary, each destination's Deliverer and Redis already keep every figure; a scrape
reads them, so the hot path pays nothing for metrics. `serve` exposes them on an HTTP port
(`TRANSLATOR_METRICS_PORT`) with the standard client library (prometheus-client).

    translator_lines_total{bucket}                   lines read, by the bucket each ended in
    translator_statements_total                      statements translated
    translator_delivered_statements_total{destination}
    translator_dead_lettered_statements_total{destination}
    translator_requests_total{destination}           HTTP requests, retries included
    translator_retries_total{destination}            requests sent again after a transient answer
    translator_batch_seconds{destination}            time to settle one batch (count and sum)
    translator_pending_statements{destination}       statements waiting for their batch
    translator_destination_stopped{destination}      1 once a destination refused us
    translator_queue_messages{state}                 the workers' queue: waiting, taken (Redis)
    translator_dead_letters                          dead letters in Redis
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import redis
from prometheus_client import start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from translator.sinks.dead_letters import DEFAULT_REDIS_KEY
from translator.sinks.forwarding import DestinationRoute
from translator.summary import Summary

__all__ = ["QueueMetrics", "RunMetrics", "serve"]

_BY_DESTINATION = ["destination"]


class RunMetrics(Collector):
    """The figures of one in-process run (forward, follow, consume)."""

    def __init__(self, summary: Summary, routes: Sequence[DestinationRoute]) -> None:
        self._summary = summary
        self._routes = routes

    def collect(self) -> Iterator[Metric]:
        summary = self._summary
        lines = CounterMetricFamily(
            "translator_lines", "Input lines, by the bucket each ended in.", labels=["bucket"]
        )
        for bucket, count in (
            ("translated", summary.translated),
            ("skipped", summary.skipped),
            ("rejected", summary.rejected),
        ):
            lines.add_metric([bucket], count)
        yield lines
        yield CounterMetricFamily(
            "translator_statements", "Statements translated.", value=summary.statements
        )
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            **_delivery_counters(),
            "retries": CounterMetricFamily(
                "translator_retries",
                "Requests sent again after a transient answer.",
                labels=_BY_DESTINATION,
            ),
            "pending": GaugeMetricFamily(
                "translator_pending_statements",
                "Statements waiting for their batch.",
                labels=_BY_DESTINATION,
            ),
            "stopped": GaugeMetricFamily(
                "translator_destination_stopped",
                "1 once the destination refused our credentials or answered what no retry fixes.",
                labels=_BY_DESTINATION,
            ),
        }
        batches = SummaryMetricFamily(
            "translator_batch_seconds", "Time to settle one batch.", labels=_BY_DESTINATION
        )
        for route in self._routes:
            name = [route.destination.name]
            deliverer = route.deliverer
            families["delivered"].add_metric(name, route.delivered)
            families["dead_lettered"].add_metric(name, route.dead_lettered)
            families["requests"].add_metric(name, deliverer.requests)
            families["retries"].add_metric(name, deliverer.retries)
            families["pending"].add_metric(name, deliverer.pending_count)
            families["stopped"].add_metric(name, 0 if route.stopped is None else 1)
            batches.add_metric(
                name, count_value=deliverer.batches, sum_value=deliverer.batch_seconds
            )
        yield from families.values()
        yield batches


class QueueMetrics(Collector):
    """What every worker has delivered, the queue and the dead letters, as Redis holds them (for
    `translator worker`): the same figures whichever worker is scraped."""

    def __init__(self, redis_url: str, queue: str, totals_key: str) -> None:
        self._client = redis.Redis.from_url(redis_url, socket_timeout=5)
        self._queue = queue
        self._totals_key = totals_key

    def collect(self) -> Iterator[Metric]:
        try:
            waiting = int(self._client.llen(self._queue))
            taken = int(self._client.hlen("unacked"))
            letters = int(self._client.hlen(DEFAULT_REDIS_KEY))
            totals = self._client.hgetall(self._totals_key)
        except redis.RedisError:
            return  # Redis unreachable: the scrape shows the series missing, not a wrong zero
        yield from _worker_totals(totals)
        messages = GaugeMetricFamily(
            "translator_queue_messages", "Messages of the workers' queue.", labels=["state"]
        )
        messages.add_metric(["waiting"], waiting)
        messages.add_metric(["taken"], taken)
        yield messages
        yield GaugeMetricFamily("translator_dead_letters", "Dead letters in Redis.", value=letters)


def _delivery_counters() -> dict[str, CounterMetricFamily]:
    """The per-destination counters a run and the workers both expose, under one set of names."""
    return {
        "delivered": CounterMetricFamily(
            "translator_delivered_statements",
            "Statements the destination holds, duplicates included.",
            labels=_BY_DESTINATION,
        ),
        "dead_lettered": CounterMetricFamily(
            "translator_dead_lettered_statements",
            "Statements put in the dead-letter store.",
            labels=_BY_DESTINATION,
        ),
        "requests": CounterMetricFamily(
            "translator_requests", "HTTP requests, retries included.", labels=_BY_DESTINATION
        ),
    }


def _worker_totals(totals: Mapping[bytes | str, bytes | str]) -> Iterator[Metric]:
    """The workers' per-destination totals (worker.jobs.TOTALS_KEY) as metrics."""
    counters = _delivery_counters()
    batches = SummaryMetricFamily(
        "translator_batch_seconds", "Time to settle one batch.", labels=_BY_DESTINATION
    )
    seen: dict[str, dict[str, float]] = {}
    for field, raw in totals.items():
        name = field.decode() if isinstance(field, bytes) else field
        figure, _, destination = name.partition("|")
        seen.setdefault(destination, {})[figure] = float(raw)
    for destination, figures in sorted(seen.items()):
        for figure, family in counters.items():
            family.add_metric([destination], figures.get(figure, 0.0))
        batches.add_metric(
            [destination],
            count_value=int(figures.get("batches", 0)),
            sum_value=figures.get("batch_seconds", 0.0),
        )
    yield from counters.values()
    yield batches


def serve(port: int, address: str, *collectors: Collector) -> None:
    """Expose the collectors at http://ADDRESS:PORT/metrics, from a daemon thread."""
    registry = CollectorRegistry()
    for collector in collectors:
        registry.register(collector)
    start_http_server(port, addr=address, registry=registry)

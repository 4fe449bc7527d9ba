"""Send tracking events to Redis as the LMS does, with Open edX's own packages (their own venv).

Run by the python of tests/services.py's `openedx_bus_python()`, not by ours:

    python openedx_bus_producer.py REDIS_URL TOPIC_PREFIX < events.jsonl

Each stdin line is a tracking event as event-tracking hands it to its backends (`name`,
`timestamp` in ISO 8601, `data`, `context`). It goes through event-tracking's
EventBusRoutingBackend, which sends the TRACKING_EVENT_EMITTED signal of openedx-events, whose
event-bus handler calls edx-event-bus-redis's producer: XADD of the Avro-encoded TrackingLogData
to the stream `<TOPIC_PREFIX>-analytics`. The producer logs its failures instead of raising:
any error logged makes this script exit 1. It prints the number of events sent.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime
from typing import Any

__all__ = ["main"]

TOPIC = "analytics"
EVENT_TYPE = "org.openedx.analytics.tracking.event.emitted.v1"


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _configure(redis_url: str, prefix: str, names: list[str]) -> None:
    import django
    from django.conf import settings

    settings.configure(
        INSTALLED_APPS=["openedx_events", "edx_event_bus_redis"],
        USE_TZ=True,
        # openedx-events: which signals go to the bus, on which topic, through which producer.
        EVENT_BUS_PRODUCER="edx_event_bus_redis.create_producer",
        EVENT_BUS_PRODUCER_CONFIG={
            EVENT_TYPE: {TOPIC: {"event_key_field": "tracking_log.name", "enabled": True}}
        },
        # edx-event-bus-redis
        EVENT_BUS_REDIS_CONNECTION_URL=redis_url,
        EVENT_BUS_TOPIC_PREFIX=prefix,
        # event-tracking: send the signal, for these event names.
        SEND_TRACKING_EVENT_EMITTED_SIGNAL=True,
        EVENT_BUS_TRACKING_LOGS=names,
    )
    django.setup()


def main(argv: list[str]) -> int:
    redis_url, prefix = argv[1], argv[2]
    events: list[dict[str, Any]] = [json.loads(line) for line in sys.stdin if line.strip()]
    _configure(redis_url, prefix, sorted({e["name"] for e in events}))
    errors = _Errors()
    logging.getLogger().addHandler(errors)

    from eventtracking.backends.event_bus import EventBusRoutingBackend

    backend = EventBusRoutingBackend()
    for event in events:
        # The tracker hands its backends a datetime; data and context as dicts.
        backend.send({**event, "timestamp": datetime.fromisoformat(event["timestamp"])})
    if errors.records:
        for record in errors.records:
            print(record.getMessage(), file=sys.stderr)
        return 1
    print(len(events))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

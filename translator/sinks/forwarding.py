"""In-process forwarding: a pipeline Sink that routes statements to destinations in batches.

Each destination has its Deliverer (translator.sinks.delivery). A destination that refuses our
credentials, or answers what no retry can fix, stops: what it was to receive goes to the
dead-letter store with that reason, a batch at a time, so `translator dead-letters replay` sends
it once the cause is fixed. A line is settled once every statement of it is delivered or
dead-lettered at every destination.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from typing import Any

from translator.errors import DeliveryError, DestinationRefused
from translator.pipeline import LineResult
from translator.sinks.dead_letters import DeadLetter, DeadLetterStore
from translator.sinks.delivery import Deliverer
from translator.sinks.destinations import Destination
from translator.sinks.routing import Router

__all__ = ["Deliveries", "DestinationRoute", "ForwardingSink"]

logger = logging.getLogger(__name__)


class DestinationRoute:
    """One destination of an in-process forward: its Deliverer, or why it stopped."""

    def __init__(self, deliverer: Deliverer, store: DeadLetterStore, store_name: str) -> None:
        self.deliverer = deliverer
        self.store = store
        self.store_name = store_name
        self.stopped: str | None = None
        self.parked = 0
        self._held: list[DeadLetter] = []
        self._seqs: deque[int] = deque()  # the line of each statement not yet settled

    def __repr__(self) -> str:
        return f"DestinationRoute({self.destination.name!r}, stopped={self.stopped is not None})"

    @property
    def destination(self) -> Destination:
        return self.deliverer.destination

    @property
    def delivered(self) -> int:
        return self.deliverer.delivered

    @property
    def dead_lettered(self) -> int:
        return self.deliverer.dead_lettered + self.parked

    def add(self, statement: dict[str, Any], source: str, seq: int) -> None:
        """Send (in batches) or, once stopped, park one statement of line `seq`."""
        self._seqs.append(seq)
        if self.stopped is not None:
            self._held.append(self._letter(statement, source))
            if len(self._held) >= self.deliverer.batch_size:
                self._park()
        else:
            try:
                self.deliverer.add(statement, source)
            except DeliveryError as exc:
                self._stop(exc)
        self._forget_settled()

    def tick(self) -> None:
        """Send the batch that has waited `batch_max_wait`, if any."""
        if self.stopped is None:
            try:
                self.deliverer.flush_due()
            except DeliveryError as exc:
                self._stop(exc)
        self._forget_settled()

    def oldest_unsettled(self) -> int | None:
        return self._seqs[0] if self._seqs else None

    def finish(self) -> None:
        """Send what is buffered (or park it when stopped), then release the connections."""
        if self.stopped is None:
            try:
                self.deliverer.flush()
            except DeliveryError as exc:
                self._stop(exc)
        self._park()
        self.deliverer.close()  # nothing is buffered any more: this only releases connections
        self._forget_settled()

    def interrupt(self, reason: str) -> None:
        """Keep everything not yet settled in the dead-letter store, with `reason`."""
        self.stopped = self.stopped or reason
        self._park()
        self._forget_settled()

    def _forget_settled(self) -> None:
        unsettled = self.deliverer.pending_count + len(self._held)
        while len(self._seqs) > unsettled:
            self._seqs.popleft()

    def _stop(self, exc: DeliveryError) -> None:
        self.stopped = str(exc)
        if not isinstance(exc, DestinationRefused):  # the Deliverer logs a refusal itself
            logger.error("%s", exc)
        logger.error(
            "statements for destination %r now go to the dead-letter store (%s) with this "
            "reason; once the cause is fixed, `translator dead-letters replay` sends them",
            self.destination.name,
            self.store_name,
        )
        self._park()

    def _letter(self, statement: dict[str, Any], source: str) -> DeadLetter:
        return DeadLetter(
            statement=statement,
            reason=f"not sent: {self.stopped}",
            status=None,
            answer="",
            source=source,
            destination=self.destination.name,
        )

    def _park(self) -> None:
        if self.deliverer.pending_count:
            self.deliverer.dead_letter_pending(f"not sent: {self.stopped}")
        if self._held:
            self.store.add(*self._held)
            self.parked += len(self._held)
            self._held.clear()


class ForwardingSink:
    """A pipeline Sink delivering the statements of one target to the destinations of its kind
    that take them (translator.sinks.routing); `unrouted` counts statements none took."""

    def __init__(self, routes: Sequence[DestinationRoute], *, kind: str) -> None:
        self.routes = list(routes)
        self.kind = kind
        self.unrouted = 0
        self._router = Router([r.destination for r in self.routes])
        self._by_name = {r.destination.name: r for r in self.routes}
        self._last: tuple[int, list[DestinationRoute]] | None = None

    def __repr__(self) -> str:
        return f"ForwardingSink({self.routes!r})"

    def put(self, statement: dict[str, Any], result: LineResult, seq: int) -> None:
        if self._last is None or self._last[0] != seq:  # route each line once
            chosen = self._router.route(result.outcome, self.kind)
            self._last = (seq, [self._by_name[d.name] for d in chosen])
        targets = self._last[1]
        if not targets:
            self.unrouted += 1
            return
        source = result.line.where
        for route in targets:
            route.add(statement, source, seq)

    def tick(self) -> None:
        for route in self.routes:
            route.tick()

    def oldest_unsettled(self) -> int | None:
        held = [s for s in (r.oldest_unsettled() for r in self.routes) if s is not None]
        return min(held) if held else None

    def finish(self) -> None:
        for route in self.routes:
            route.finish()
        for warning in self._router.unmatched():
            logger.warning("%s", warning)

    def interrupt(self, reason: str) -> None:
        """Stop: what is not yet settled goes to the dead-letter store with `reason`."""
        for route in self.routes:
            route.interrupt(reason)

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.routes)

    @property
    def dead_lettered(self) -> int:
        return sum(r.dead_lettered for r in self.routes)


class Deliveries:
    """The forwarding sinks of one run (one per target), seen together for its status lines,
    summary and metrics."""

    def __init__(self, sinks: Sequence[ForwardingSink]) -> None:
        self.sinks = list(sinks)

    def __repr__(self) -> str:
        return f"Deliveries({self.sinks!r})"

    @property
    def routes(self) -> list[DestinationRoute]:
        return [route for sink in self.sinks for route in sink.routes]

    @property
    def delivered(self) -> int:
        return sum(sink.delivered for sink in self.sinks)

    @property
    def dead_lettered(self) -> int:
        return sum(sink.dead_lettered for sink in self.sinks)

    @property
    def unrouted(self) -> int:
        return sum(sink.unrouted for sink in self.sinks)

"""Replay: send dead letters again once their cause is fixed, and drop those that landed."""

from __future__ import annotations

from dataclasses import dataclass

from translator.sinks.dead_letters import DeadLetterStore
from translator.sinks.delivery import Deliverer

__all__ = ["ReplayResult", "replay"]


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay did: letters sent, how many landed, how many were dead-lettered again."""

    attempted: int
    delivered: int
    dead_lettered: int


def replay(store: DeadLetterStore, deliverer: Deliverer) -> ReplayResult:
    """Re-deliver the letters of `deliverer`'s destination and remove them from `store`.

    Letters are sent in batches of the deliverer's batch size with its full failure semantics.
    A letter that lands (or is found already stored) is removed; one that fails again is removed
    too, because the deliverer has recorded it afresh with its new reason. If the destination
    refuses us or stays unreachable, the error propagates and the unsent letters stay.
    """
    letters = store.list(destination=deliverer.destination.name)
    delivered = dead_lettered = 0
    size = max(1, deliverer.batch_size)
    for start in range(0, len(letters), size):
        chunk = letters[start : start + size]
        result = deliverer.send([(d.statement, d.source) for d in chunk])
        store.remove([d.key for d in chunk])
        delivered += result.delivered
        dead_lettered += result.dead_lettered
    return ReplayResult(len(letters), delivered, dead_lettered)

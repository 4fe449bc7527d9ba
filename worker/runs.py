"""A queued run's books in Redis: counts that reconcile, rejected lines, exactly-once commits.

A run is one `translator forward --queue`. Its keys (`translator:run:<id>...`) expire a week after
their last change:

    translator:run:<id>            hash of counts (see RunStatus), `started`, `error`, `finished`,
                                   `keep_rejects` (1 when the run asked for its rejected lines),
                                   `skipped<US>event<US>reason` and `rejected<US>reason` counts
                                   (US = \x1f; at most REASONS_KEPT distinct reject reasons)
    translator:run:<id>:chunks     set of chunks already counted
    translator:run:<id>:batches    set of batches already counted
    translator:run:<id>:rejects    hash `file:line` -> the rejected line as RejectsWriter records it
                                   (cut at 10,000 bytes), only for a run with `keep_rejects`, and
                                   expiring `rejects_ttl` seconds (a day) after its last change:
                                   raw lines may name learners (IPs, usernames, emails)

A message may be handled twice (a killed worker's message comes back), so each chunk and each
batch is counted by one Lua script that first adds its key to the run's set and does nothing when
it was there: the counts stay exact, whatever is redone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from translator.summary import forward_total

__all__ = ["REASONS_KEPT", "RUN_TTL", "RunBook", "RunStatus", "reject_field", "skip_field"]

RUN_TTL = 7 * 24 * 3600
REASONS_KEPT = 1_000  # distinct reject reasons counted apart: the run's hash stays small
OTHER_REASONS = "(other reasons)"
_SKIP = "skipped\x1f"
_REJECT = "rejected\x1f"
_REASON_CHARS = 500


def skip_field(event: str, reason: str) -> str:
    """The run-hash field counting lines of `event` skipped for `reason`."""
    return f"{_SKIP}{event}\x1f{reason}"


def reject_field(reason: str) -> str:
    """The run-hash field counting lines rejected for `reason` (cut at 500 characters)."""
    return f"{_REJECT}{reason[:_REASON_CHARS]}"


# KEYS: the done set, the run hash, a hash of records. ARGV: member, ttl, the records hash's ttl
# (0: it never expires), the number of counters n, n (field, increment) pairs, then (key, value)
# pairs for the records hash. A reject-reason counter new to the run counts under OTHER_REASONS
# once REASONS_KEPT of them exist. Returns 1 when counted, 0 when the member was already done.
_COMMIT = f"""
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
local n = tonumber(ARGV[4])
for i = 0, n - 1 do
  local name = ARGV[5 + 2 * i]
  local reason = string.sub(name, 1, {len(_REJECT)}) == '{_REJECT}'
  if reason and redis.call('HEXISTS', KEYS[2], name) == 0 then
    if tonumber(redis.call('HGET', KEYS[2], 'reject_reasons') or '0') < {REASONS_KEPT} then
      redis.call('HINCRBY', KEYS[2], 'reject_reasons', 1)
    else
      name = '{_REJECT}{OTHER_REASONS}'
    end
  end
  redis.call('HINCRBY', KEYS[2], name, ARGV[6 + 2 * i])
end
for i = 5 + 2 * n, #ARGV, 2 do
  redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if ARGV[3] ~= '0' then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
return 1
"""

_COUNTS = (
    "chunks_done",
    "read",
    "translated",
    "statements",
    "skipped",
    "rejected",
    "routed",
    "unrouted",
    "batches",
    "batches_done",
    "delivered",
    "duplicates",
    "dead_lettered",
)


@dataclass(frozen=True, slots=True)
class RunStatus:
    """Where a run stands.

    `lines` and `chunks` are what the CLI enqueued (None until it has read all its input).
    `statements` were translated; `routed` of them went to destinations as `batches` (a statement
    sent to two destinations counts twice), `unrouted` matched no destination's filter;
    `delivered` (including `duplicates` the LRS already held) and `dead_lettered` count routed
    statements that are settled. `error` is the last delivery error the workers reported.
    `keep_rejects`: the run asked for its rejected lines (kept in Redis for `rejects_ttl`).
    """

    run_id: str
    lines: int | None
    chunks: int | None
    chunks_done: int = 0
    read: int = 0
    translated: int = 0
    statements: int = 0
    skipped: int = 0
    rejected: int = 0
    routed: int = 0
    unrouted: int = 0
    batches: int = 0
    batches_done: int = 0
    delivered: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    error: str = ""
    started: str = ""
    keep_rejects: bool = False
    skipped_by_reason: Mapping[tuple[str, str], int] = field(default_factory=dict)
    rejected_by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        """Whether Redis knows this run (it was started and has not expired)."""
        return bool(self.started)

    @property
    def finished(self) -> bool:
        """Every enqueued chunk is translated and every routed statement is settled."""
        return (
            self.chunks is not None
            and self.chunks_done >= self.chunks
            and self.delivered + self.dead_lettered >= self.routed
        )

    @property
    def reconciles(self) -> bool:
        """Every line read is in exactly one bucket, and every enqueued line was read."""
        buckets = self.translated + self.skipped + self.rejected
        return self.read == buckets and (self.lines is None or self.lines == self.read)

    def total_line(self) -> str:
        """The run's closing line, the same as an in-process forward's."""
        return forward_total(
            read=self.read,
            translated=self.translated,
            delivered=self.delivered,
            dead_lettered=self.dead_lettered,
            skipped=self.skipped,
            rejected=self.rejected,
        )

    def progress_line(self) -> str:
        """A line for an operator watching the run."""
        lines = "?" if self.lines is None else str(self.lines)
        return (
            f"run {self.run_id}: read {self.read} of {lines} lines, "
            f"{self.delivered + self.dead_lettered} of {self.routed} statements settled"
        )


def _int(raw: Mapping[bytes, bytes], name: str) -> int:
    value = raw.get(name.encode())
    return int(value) if value is not None else 0


class RunBook:
    """The Redis books of one run; every method is one or two round trips."""

    def __init__(self, client: redis.Redis, run_id: str) -> None:
        if not run_id or any(c in run_id for c in " :\n"):
            raise ValueError(f"not a run id: {run_id!r}")
        self.client = client
        self.run_id = run_id
        self.key = f"translator:run:{run_id}"
        self.chunks_key = f"{self.key}:chunks"
        self.batches_key = f"{self.key}:batches"
        self.rejects_key = f"{self.key}:rejects"
        self._commit = client.register_script(_COMMIT)

    def __repr__(self) -> str:
        return f"RunBook({self.run_id!r})"

    def begin(self, *, keep_rejects: bool = False) -> None:
        """Record that the run started (the CLI, before it enqueues anything), and whether the
        workers keep its rejected lines (else only their count and reasons)."""
        started = datetime.now(UTC).isoformat(timespec="seconds")
        pipe = self.client.pipeline()
        pipe.hsetnx(self.key, "started", started)
        if keep_rejects:
            pipe.hset(self.key, "keep_rejects", 1)
        pipe.expire(self.key, RUN_TTL)
        pipe.execute()

    def set_totals(self, *, lines: int, chunks: int) -> None:
        """Record what the CLI enqueued, once it has read all its input."""
        self.client.hset(self.key, mapping={"lines": lines, "chunks": chunks})

    def chunk_done(self, chunk: str) -> bool:
        """Whether this chunk was already translated and counted."""
        return bool(self.client.sismember(self.chunks_key, chunk))

    def batch_done(self, batch: str) -> bool:
        """Whether this batch was already settled and counted."""
        return bool(self.client.sismember(self.batches_key, batch))

    def keeps_rejects(self) -> bool:
        """Whether the run asked for its rejected lines (see `begin`)."""
        return self.client.hget(self.key, "keep_rejects") == b"1"

    def commit_chunk(
        self,
        chunk: str,
        counts: Mapping[str, int],
        rejects: Sequence[tuple[str, bytes]],
        *,
        rejects_ttl: float,
    ) -> bool:
        """Count a translated chunk and keep its rejected lines (for `rejects_ttl` seconds; give
        none for a run that did not ask for them), unless it was counted before.

        Returns False when it was (a redelivered message): nothing changes then.
        """
        ttl = max(1, int(rejects_ttl))
        return self._run(self.chunks_key, self.rejects_key, chunk, ttl, counts, rejects)

    def commit_batch(
        self,
        batch: str,
        counts: Mapping[str, int],
        dead_letters: Sequence[tuple[str, bytes]],
        *,
        dead_letter_key: str,
    ) -> bool:
        """Count a settled batch and store its dead letters (in the shared dead-letter hash,
        which never expires), unless it was counted before; returns False then."""
        return self._run(self.batches_key, dead_letter_key, batch, 0, counts, dead_letters)

    def _run(
        self,
        done_key: str,
        records_key: str,
        member: str,
        records_ttl: int,
        counts: Mapping[str, int],
        records: Sequence[tuple[str, bytes]],
    ) -> bool:
        unknown = {n for n in counts if n not in _COUNTS and not n.startswith((_SKIP, _REJECT))}
        if unknown:
            raise ValueError(f"unknown run counters {sorted(unknown)}")
        args: list[Any] = [member, RUN_TTL, records_ttl, len(counts)]
        for name, count in counts.items():
            args += [name, count]
        for key, record in records:
            args += [key, record]
        done = self._commit(keys=[done_key, self.key, records_key], args=args)
        return bool(done)

    def note_error(self, message: str) -> None:
        """Keep the last delivery error (no credential is ever in it) for `forward --wait`."""
        self.client.hset(self.key, "error", message)

    def clear_error(self) -> None:
        """Forget the last error once deliveries succeed again."""
        self.client.hdel(self.key, "error")

    def claim_finish(self) -> bool:
        """True for the one caller that first records the run as finished (it logs the total)."""
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        return bool(self.client.hsetnx(self.key, "finished", finished))

    def status(self) -> RunStatus:
        """The run's counts now."""
        raw: dict[bytes, bytes] = self.client.hgetall(self.key)  # type: ignore[assignment]
        lines = raw.get(b"lines")
        chunks = raw.get(b"chunks")
        skips: dict[tuple[str, str], int] = {}
        rejects: dict[str, int] = {}
        for name, value in raw.items():
            text = name.decode(errors="replace")
            if text.startswith(_SKIP):
                event, _, reason = text[len(_SKIP) :].partition("\x1f")
                skips[(event, reason)] = int(value)
            elif text.startswith(_REJECT):
                rejects[text[len(_REJECT) :]] = int(value)
        return RunStatus(
            run_id=self.run_id,
            lines=int(lines) if lines is not None else None,
            chunks=int(chunks) if chunks is not None else None,
            error=raw.get(b"error", b"").decode(),
            started=raw.get(b"started", b"").decode(),
            keep_rejects=raw.get(b"keep_rejects") == b"1",
            skipped_by_reason=skips,
            rejected_by_reason=rejects,
            **{name: _int(raw, name) for name in _COUNTS},
        )

    def rejects(self) -> list[bytes]:
        """The run's rejected lines (JSON records), in input order."""
        found = [
            (key.decode(), value)
            for key, value in self.client.hscan_iter(self.rejects_key, count=500)
        ]

        def order(item: tuple[str, bytes]) -> tuple[str, int]:
            source, _, line = item[0].rpartition(":")
            return (source, int(line) if line.isdigit() else 0)

        return [value for _, value in sorted(found, key=order)]

"""The dead-letter store: statements an LRS would not take, with why, kept for `replay`."""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import itertools
import os
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from translator.errors import DeliveryError

if TYPE_CHECKING:
    import redis

__all__ = [
    "DEFAULT_REDIS_KEY",
    "DeadLetter",
    "DeadLetterStore",
    "FileDeadLetterStore",
    "RedisDeadLetterStore",
]

DEFAULT_REDIS_KEY = "translator:dead-letters"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


_sequence = itertools.count()


def _new_key() -> str:
    """Unique, and sorting in creation order: nanosecond time, a process counter, randomness."""
    return f"{time.time_ns():016x}-{next(_sequence) % 2**32:08x}-{uuid.uuid4().hex[:12]}"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One statement that was not delivered, with everything needed to understand and replay it.

    `reason` says what went wrong in words, `status` and `answer` are the LRS's HTTP status (None
    when none came) and an excerpt of its body, `source` is the input `file:line`, `destination`
    the destination's name, `time` when it was recorded (UTC), `key` its identity in the store
    (keys sort in creation order).
    """

    statement: dict[str, Any]
    reason: str
    status: int | None
    answer: str
    source: str
    destination: str
    time: str = field(default_factory=_now)
    key: str = field(default_factory=_new_key)

    def to_json(self) -> bytes:
        """One JSON document, as stored."""
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        """Read back what `to_json` wrote. Raises ValueError on anything else."""
        try:
            raw = orjson.loads(data)
            return cls(
                statement=raw["statement"],
                reason=raw["reason"],
                status=raw["status"],
                answer=raw["answer"],
                source=raw["source"],
                destination=raw["destination"],
                time=raw["time"],
                key=raw["key"],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"not a dead letter: {exc}") from None


class DeadLetterStore(Protocol):
    """What both stores offer; `destination` arguments restrict to one destination's letters."""

    def add(self, *letters: DeadLetter) -> None:
        """Record letters durably."""

    def __iter__(self) -> Iterator[DeadLetter]:
        """Every letter, oldest first where the store knows the order."""

    def __len__(self) -> int:
        """How many letters are kept."""

    def list(self, *, destination: str | None = None) -> builtins.list[DeadLetter]:
        """The letters (of one destination), oldest first."""

    def remove(self, keys: Collection[str]) -> int:
        """Drop the letters with these keys; returns how many were dropped."""

    def purge(self, *, destination: str | None = None) -> int:
        """Drop every letter (of one destination); returns how many were dropped."""


class FileDeadLetterStore:
    """Dead letters as JSON lines in one file, for in-process forwarding.

    Adding appends and flushes; removing rewrites the file atomically (write, then rename). Many
    processes may share the file (a `forward` appending while `dead-letters replay` or `purge`
    rewrites): each change holds an exclusive lock on `<file>.lock` (flock, never renamed, so
    every process locks the same file), and reading holds it shared, so an append can never land
    in a file that a rewrite is about to replace. A line that cannot be read (a crash cut it) is
    skipped when reading but kept when rewriting, so nothing is lost silently.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self, operation: int) -> Iterator[None]:
        """Hold this process's lock and `operation` (LOCK_EX, LOCK_SH) on the lock file.
        Raises DeliveryError when the lock file cannot be opened."""
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handle = os.open(
                    self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600
                )
            except OSError as exc:
                raise DeliveryError(f"{self.path}: cannot lock dead letters: {exc}") from None
            try:
                fcntl.flock(handle, operation)
                yield
            finally:
                os.close(handle)  # closing releases the lock

    def __repr__(self) -> str:
        return f"FileDeadLetterStore({str(self.path)!r})"

    def add(self, *letters: DeadLetter) -> None:
        if not letters:
            return
        data = b"".join(letter.to_json() + b"\n" for letter in letters)
        with self._locked(fcntl.LOCK_EX):
            try:
                with self.path.open("ab") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
            except OSError as exc:
                raise DeliveryError(f"{self.path}: cannot write dead letters: {exc}") from None

    def _lines(self) -> builtins.list[bytes]:
        with self._locked(fcntl.LOCK_SH):
            return self._read()

    def _read(self) -> builtins.list[bytes]:
        try:
            return self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DeliveryError(f"{self.path}: cannot read dead letters: {exc}") from None

    def __iter__(self) -> Iterator[DeadLetter]:
        for line in self._lines():
            if line.strip():
                try:
                    yield DeadLetter.from_json(line)
                except ValueError:
                    continue

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def list(self, *, destination: str | None = None) -> builtins.list[DeadLetter]:
        return [d for d in self if destination is None or d.destination == destination]

    def remove(self, keys: Collection[str]) -> int:
        wanted = set(keys)
        return self._rewrite(lambda letter: letter.key in wanted)

    def purge(self, *, destination: str | None = None) -> int:
        return self._rewrite(
            lambda letter: destination is None or letter.destination == destination
        )

    def _rewrite(self, drop: Any) -> int:
        """Rewrite the file without the letters `drop` selects, atomically (write, then rename)."""
        with self._locked(fcntl.LOCK_EX):
            kept: builtins.list[bytes] = []
            dropped = 0
            for line in self._read():
                try:
                    letter = DeadLetter.from_json(line) if line.strip() else None
                except ValueError:
                    letter = None
                if letter is not None and drop(letter):
                    dropped += 1
                elif line.strip():
                    kept.append(line + b"\n")
            if not dropped:
                return 0
            temporary = self.path.with_name(self.path.name + ".tmp")
            try:
                with temporary.open("wb") as out:
                    out.writelines(kept)
                    out.flush()
                    os.fsync(out.fileno())
                temporary.replace(self.path)
                _sync_directory(self.path.parent)
            except OSError as exc:
                raise DeliveryError(f"{self.path}: cannot rewrite dead letters: {exc}") from None
            return dropped


def _sync_directory(directory: Path) -> None:
    """Make a rename durable (the directory entry), as a crash right after it would lose it."""
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class RedisDeadLetterStore:
    """Dead letters in one Redis hash (letter key -> JSON), shared by every worker."""

    def __init__(self, client: redis.Redis, *, key: str = DEFAULT_REDIS_KEY) -> None:
        self.client = client
        self.key = key

    def __repr__(self) -> str:
        return f"RedisDeadLetterStore(key={self.key!r})"

    def add(self, *letters: DeadLetter) -> None:
        if letters:
            self.client.hset(self.key, mapping={d.key: d.to_json() for d in letters})

    def __iter__(self) -> Iterator[DeadLetter]:
        for _, value in self.client.hscan_iter(self.key, count=500):
            try:
                yield DeadLetter.from_json(value)
            except ValueError:
                continue

    def __len__(self) -> int:
        return int(self.client.hlen(self.key))

    def list(self, *, destination: str | None = None) -> builtins.list[DeadLetter]:
        letters = [d for d in self if destination is None or d.destination == destination]
        letters.sort(key=lambda d: d.key)
        return letters

    def remove(self, keys: Collection[str]) -> int:
        return int(self.client.hdel(self.key, *keys)) if keys else 0

    def purge(self, *, destination: str | None = None) -> int:
        if destination is None:
            count = len(self)
            self.client.delete(self.key)
            return count
        return self.remove([d.key for d in self if d.destination == destination])

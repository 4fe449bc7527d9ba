"""Shared fixtures: the real services the tests run against (a Redis, a ralph LRS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from services import RalphLRS, RedisServer, ServiceError


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port, for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the session's Redis, its database emptied first."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def _ralph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RalphLRS]:
    """One ralph process for the session (it starts in about a second); `lrs` empties its store."""
    server = RalphLRS(Path(tmp_path_factory.mktemp("ralph")))
    try:
        server.start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lrs(_ralph_server: RalphLRS) -> RalphLRS:
    """A real ralph LRS with an empty store: `url`, `username`, `password`, `stored_statements()`,
    and `stop()`/`start()` on the same port and store to simulate an outage."""
    try:
        _ralph_server.start()
    except ServiceError as exc:
        pytest.fail(str(exc), pytrace=False)
    _ralph_server.clear()
    return _ralph_server

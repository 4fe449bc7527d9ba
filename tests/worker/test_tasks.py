"""The workers with real parts: a real Redis broker, real Celery worker processes, a real ralph LRS.

The jobs (worker.jobs) are first tested as plain functions; then `translator forward --queue`
is run against worker processes that the tests start, kill (SIGKILL, by process group) and stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis
from click.testing import CliRunner
from logs import CORE_MAPPINGS, write_log
from services import RalphLRS

from translator.cli import main
from translator.config import Settings, check_settings
from translator.errors import ConfigError, DestinationRefused
from translator.intake.lines import SourceLine, read_lines
from translator.sinks.dead_letters import RedisDeadLetterStore
from worker.app import celery_config, worker_settings
from worker.jobs import (
    WorkerContext,
    decode_lines,
    encode_lines,
    iter_chunks,
    process_batch,
    process_chunk,
)
from worker.runs import RunBook
from worker.tasks import backoff

ROOT = Path(__file__).resolve().parents[2]
SECRET = "worker-test-secret"
READY_TIMEOUT = 60.0


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)


def _settings(redis_url: str, lrs: RalphLRS, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "mappings_dir": CORE_MAPPINGS,
        "pseudonym_secret": SECRET,
        "redis_url": redis_url,
        "lrs_url": lrs.url,
        "lrs_username": lrs.username,
        "lrs_password": lrs.password,
        "batch_size": 4,
    }
    values.update(changes)
    return Settings(**values)


def _env(redis_url: str, lrs: RalphLRS, **changes: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "TRANSLATOR_MAPPINGS_DIR": str(CORE_MAPPINGS),
        "TRANSLATOR_PSEUDONYM_SECRET": SECRET,
        "TRANSLATOR_REDIS_URL": redis_url,
        "TRANSLATOR_LRS_URL": lrs.url,
        "TRANSLATOR_LRS_USERNAME": lrs.username,
        "TRANSLATOR_LRS_PASSWORD": lrs.password,
        "TRANSLATOR_BATCH_SIZE": "5",
        "TRANSLATOR_CHUNK_LINES": "5",
        "TRANSLATOR_RETRY_INITIAL": "0.2",
        "TRANSLATOR_RETRY_MAX": "1",
        # The session's Redis keeps no append-only file (tests/services.py): accept that here;
        # test_queue_and_workers_refuse_a_redis_without_persistence checks the refusal.
        "TRANSLATOR_ALLOW_VOLATILE_REDIS": "true",
    }
    env.update(changes)
    return env


def _ids(lrs: RalphLRS) -> list[str]:
    return [s["id"] for s in lrs.stored_statements()]


# --- the jobs as plain functions ---------------------------------------------------------------


def test_encode_lines_carries_raw_bytes_losslessly() -> None:
    lines = [
        SourceLine("t.log", 7, b'{"name": "caf\xc3\xa9"}'),
        SourceLine("t.log", 8, b'{"name": "caf\xe9"}'),  # latin-1, not UTF-8
        SourceLine("t.log", 9, b"", over_limit=1_000_000),
        SourceLine("t.log", 10, bytes(range(256))),
    ]
    encoded = encode_lines(lines)
    assert orjson.loads(orjson.dumps(encoded)) == encoded  # survives a JSON message
    assert decode_lines("t.log", 7, encoded, max_line_bytes=1_000_000) == lines


def test_iter_chunks_splits_by_size_and_source() -> None:
    lines = [SourceLine("a.log", n, b"{}") for n in range(1, 8)]
    lines += [SourceLine("b.log", n, b"{}") for n in range(1, 3)]
    chunks = [(c.source, c.first_lineno, len(c.lines)) for c in iter_chunks(lines, 3)]
    assert chunks == [("a.log", 1, 3), ("a.log", 4, 3), ("a.log", 7, 1), ("b.log", 1, 2)]


def test_iter_chunks_bounds_a_message_by_bytes() -> None:
    # 500 lines near the 1 MB line limit made one ~660 MB message: chunks are bounded by bytes
    # too, and a line longer than the bound goes alone.
    big = b"x" * 400_000
    lines = [SourceLine("a.log", n, big) for n in range(1, 6)]
    lines += [SourceLine("a.log", 6, b"y" * 1_500_000), SourceLine("a.log", 7, b"{}")]
    chunks = list(iter_chunks(lines, 500, max_bytes=1_048_576))
    assert [(c.first_lineno, len(c.lines)) for c in chunks] == [
        (1, 2),
        (3, 2),
        (5, 1),
        (6, 1),
        (7, 1),
    ]
    assert all(sum(len(x.text) for x in c.lines) <= 1_048_576 for c in chunks if len(c.lines) > 1)


def test_process_chunk_counts_once_rejects_and_routes_in_batches(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 6, junk=True)
    lines = encode_lines(list(read_lines([str(log)])))
    context = WorkerContext(_settings(redis_url, lrs))
    RunBook(redis_client, "run1").begin(keep_rejects=True)  # a run that asked for its rejects
    published: list[tuple[str, str, list[dict[str, Any]]]] = []

    def publish(run_id: str, destination: str, items: list[dict[str, Any]]) -> None:
        published.append((run_id, destination, items))

    report = process_chunk(context, "run1", str(log), 1, lines, publish=publish)
    assert report is not None and report.counted
    assert facts.statements == 12
    assert [len(items) for _, _, items in published] == [4, 4, 4]  # batch_size 4
    assert {(run, destination) for run, destination, _ in published} == {("run1", "default")}
    sources = [item["source"] for _, _, items in published for item in items]
    assert sources[0] == f"{log}:1" and len(sources) == facts.statements
    status = RunBook(redis_client, "run1").status()
    assert (status.read, status.translated, status.skipped, status.rejected) == (
        facts.lines,
        facts.translated,
        facts.skipped,
        facts.rejected,
    )
    assert (status.statements, status.routed, status.batches) == (12, 12, 3)
    rejects = [orjson.loads(r) for r in RunBook(redis_client, "run1").rejects()]
    assert [(r["line"], r["reason"]) for r in rejects] == [
        (2, "no JSON object on the line"),
        (3, "not valid UTF-8"),
    ]
    assert 0 < redis_client.ttl("translator:run:run1:rejects") <= 86400  # a day, not a week
    # The same message again (a redelivery) changes nothing.
    assert process_chunk(context, "run1", str(log), 1, lines, publish=publish) is None
    assert len(published) == 3
    assert RunBook(redis_client, "run1").status() == status
    context.close()


def test_process_batch_delivers_once_and_refused_credentials_keep_it(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    write_log(log, 4)
    context = WorkerContext(_settings(redis_url, lrs, batch_size=100))
    published: list[list[dict[str, Any]]] = []
    lines = encode_lines(list(read_lines([str(log)])))
    process_chunk(context, "run2", str(log), 1, lines, publish=lambda r, d, i: published.append(i))
    (items,) = published

    refused = WorkerContext(_settings(redis_url, lrs, lrs_password="wrong"))
    with pytest.raises(DestinationRefused, match="destination 'default'"):
        process_batch(refused, "run2", "default", items)
    assert _ids(lrs) == []
    assert RunBook(redis_client, "run2").status().batches_done == 0

    result = process_batch(context, "run2", "default", items)
    assert result is not None and result.delivered == len(items) == 8
    assert process_batch(context, "run2", "default", items) is None  # redelivered: not re-sent
    status = RunBook(redis_client, "run2").status()
    assert (status.delivered, status.dead_lettered, status.batches_done) == (8, 0, 1)
    assert sorted(_ids(lrs)) == sorted(i["statement"]["id"] for i in items)
    assert len(RedisDeadLetterStore(redis_client)) == 0
    context.close()
    refused.close()


def test_chunk_redone_after_dying_mid_publish_is_counted_and_delivered_once(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    log = tmp_path / "tracking.log"
    facts = write_log(log, 8)
    lines = encode_lines(list(read_lines([str(log)])))
    context = WorkerContext(_settings(redis_url, lrs, batch_size=3))
    queue: list[list[dict[str, Any]]] = []

    def dying(run_id: str, destination: str, items: list[dict[str, Any]]) -> None:
        queue.append(items)
        if len(queue) == 2:
            raise ConnectionError("the worker dies here")

    with pytest.raises(ConnectionError):
        process_chunk(context, "run3", str(log), 1, lines, publish=dying)
    assert RunBook(redis_client, "run3").status().chunks_done == 0
    process_chunk(context, "run3", str(log), 1, lines, publish=lambda r, d, i: queue.append(i))
    assert len(queue) == 2 + 6  # two batches went out twice
    for items in queue:
        process_batch(context, "run3", "default", items)
    status = RunBook(redis_client, "run3").status()
    assert (facts.lines, facts.statements) == (8, 16)
    assert (status.read, status.routed, status.delivered) == (8, 16, 16)
    assert status.batches == status.batches_done == 6
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    context.close()


def test_celery_config_is_safe_for_killed_workers(redis_url: str, lrs: RalphLRS) -> None:
    config = celery_config(_settings(redis_url, lrs, visibility_timeout=900.0))
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 900.0
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_ignore_result"] is True
    assert lrs.password not in repr(config)


def test_visibility_timeout_must_outlast_a_delivery_task(redis_url: str, lrs: RalphLRS) -> None:
    # A redelivery comes after visibility_timeout (600 s by default, was an hour); one shorter
    # than a task's request would hand a batch still being delivered to another worker.
    assert Settings().visibility_timeout == 600.0
    with pytest.raises(ConfigError, match=r"must be at least twice request_timeout \(30 s\)"):
        celery_config(_settings(redis_url, lrs, visibility_timeout=50.0))
    with pytest.raises(ConfigError, match="setting visibility_timeout: 50 s is shorter"):
        check_settings(_settings(redis_url, lrs, visibility_timeout=50.0))
    config = celery_config(_settings(redis_url, lrs, visibility_timeout=60.0))
    assert config["broker_transport_options"]["unacked_restore_interval"] == 10
    env = _env(redis_url, lrs, TRANSLATOR_VISIBILITY_TIMEOUT="20")
    worker = subprocess.run(
        [sys.executable, "-m", "translator", "worker", "--pool=solo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 2 and "visibility_timeout: 20 s is shorter" in worker.stderr


# --- real worker processes ---------------------------------------------------------------------


class WorkerProcess:
    """A Celery worker in its own process group, so that it and its pool die together."""

    def __init__(self, env: dict[str, str], log: Path, command: list[str] | None = None) -> None:
        self.env = env
        self.log = log
        self.command = command or [
            sys.executable,
            "-m",
            "translator",
            "worker",
            "--pool=prefork",
            "--concurrency=1",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{uuid.uuid4().hex[:8]}@%h",
        ]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, wait_ready: bool = True) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_ready:
            _until(lambda: " ready." in self.text(), READY_TIMEOUT, f"worker ready ({self.log})")
        return self

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pause(self) -> None:
        """SIGSTOP the worker and its pool, and wait until every one of them has stopped (a
        signal is delivered asynchronously): a snapshot in which nothing is acknowledged."""
        assert self.process is not None
        group = self.process.pid
        os.killpg(group, signal.SIGSTOP)
        _until(lambda: all(s == "T" for s in _group_states(group)), 10, "the worker to stop")

    def resume(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes at once: no goodbye, no acknowledgement."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """A warm shutdown (SIGTERM); SIGKILL if it does not end within 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _redis_contents(client: redis.Redis) -> bytes:
    """Every key and value in Redis, to show that no credential is stored there."""
    parts: list[bytes] = []
    for key in client.scan_iter():
        parts.append(key)
        kind = client.type(key)
        if kind == b"string":
            parts.append(client.get(key) or b"")
        elif kind == b"list":
            parts.extend(client.lrange(key, 0, -1))
        elif kind == b"hash":
            for field, value in client.hgetall(key).items():
                parts += [field, value]
        elif kind == b"set":
            parts.extend(client.smembers(key))
        elif kind == b"zset":
            parts.extend(client.zrange(key, 0, -1))
    return b"\n".join(parts)


def _group_states(group: int) -> list[str]:
    """The state letter of every process of a process group (from /proc/<pid>/stat)."""
    states = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == group:  # state, ppid, pgrp, ...
            states.append(fields[0])
    return states


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start workers with `workers(env)`; every one is stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(env: dict[str, str], **kwargs: Any) -> WorkerProcess:
        log = tmp_path / f"worker-{len(started) + 1}.log"
        process = WorkerProcess(env, log, **kwargs)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


def _enqueue(env: dict[str, str], *args: str) -> tuple[str, Any]:
    result = CliRunner().invoke(main, ["forward", "--queue", *args], env=env)
    first = result.stdout.splitlines()[0] if result.stdout else ""
    run_id = first.split()[1].rstrip(":") if first.startswith("run ") else ""
    return run_id, result


def _wait_finished(client: redis.Redis, run_id: str, timeout: float = 90.0) -> None:
    book = RunBook(client, run_id)
    _until(lambda: book.status().finished, timeout, f"run {run_id} to finish")


def test_queue_forward_lands_every_statement_exactly_once(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    env = _env(redis_url, lrs)
    worker = workers(env)
    log = tmp_path / "tracking.log"
    facts = write_log(log, 40, junk=True)
    rejects = tmp_path / "rejects.jsonl"
    run_id, result = _enqueue(env, "--wait", "--timeout", "90", "--rejects", str(rejects), str(log))
    assert result.exit_code == 1, result.output  # two lines are rejected
    assert f"enqueued {facts.lines} lines in 9 chunks" in result.stdout
    total = facts.total_line(delivered=facts.statements)
    assert result.stderr.strip().splitlines()[-1] == total
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    assert "1  some.unmapped.event: no mapping" in result.stderr
    assert "1  not valid UTF-8" in result.stderr
    reasons = [orjson.loads(line)["reason"] for line in rejects.read_bytes().splitlines()]
    assert reasons == ["no JSON object on the line", "not valid UTF-8"]
    _until(lambda: f"run {run_id} finished: {total}" in worker.text(), 10, "the run's log line")
    assert f"run {run_id}: {log}:1-5: read 5, translated 3" in worker.text()
    assert lrs.password not in worker.text()


def test_queue_forward_keeps_rejected_lines_in_redis_only_when_asked(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # Raw rejected lines may name learners: without --rejects only their count and reasons reach
    # Redis; with it, the lines are kept for a day (rejects_ttl), not the run's week.
    workers(_env(redis_url, lrs))
    log = tmp_path / "tracking.log"
    log.write_bytes(b'["ada@example.org", "203.0.113.9"]\n[2]\n')
    env = _env(redis_url, lrs)
    run_id, result = _enqueue(env, "--wait", "--timeout", "60", str(log))
    assert result.exit_code == 1, result.output
    assert "2  JSON value is an array, not an object" in result.stderr
    assert not redis_client.exists(f"translator:run:{run_id}:rejects")
    assert b"ada@example.org" not in _redis_contents(redis_client)
    assert b"203.0.113.9" not in _redis_contents(redis_client)
    assert RunBook(redis_client, run_id).status().rejected_by_reason == {
        "JSON value is an array, not an object": 2
    }

    rejects = tmp_path / "rejects.jsonl"
    env = _env(redis_url, lrs, TRANSLATOR_REJECTS_TTL="3600")
    run_id, result = _enqueue(env, "--wait", "--timeout", "60", "--rejects", str(rejects), str(log))
    assert result.exit_code == 1, result.output
    assert [orjson.loads(r)["line"] for r in rejects.read_bytes().splitlines()] == [1, 2]
    assert b"ada@example.org" in rejects.read_bytes()
    # The workers' setting (the default, a day) sets how long they stay.
    assert 3600 < redis_client.ttl(f"translator:run:{run_id}:rejects") <= 86400


def test_queue_and_workers_refuse_a_redis_without_persistence(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    # A restart of a Redis without an append-only file lost whole queued runs silently: every
    # queued command and a worker now refuse it, saying what is at stake and how to opt out.
    from services import RedisServer

    env = _env(
        redis_url,
        lrs,
        TRANSLATOR_ALLOW_VOLATILE_REDIS="false",
        TRANSLATOR_CHECKPOINT_PATH=str(tmp_path / "checkpoints.json"),
    )
    log = tmp_path / "tracking.log"
    write_log(log, 3)
    before = set(redis_client.scan_iter("translator:run:*"))
    for command in (
        ["forward", "--queue", str(log)],
        ["follow", "--queue", "--from-start", str(log)],
        ["consume", "--queue", "--from-start", "--stream", "refused", "--group", "refused"],
    ):
        result = CliRunner().invoke(main, command, env=env)
        assert result.exit_code == 2, (command, result.output)
        assert "keeps no append-only file" in result.stderr, command
        assert "restart loses all of the queued messages" in result.stderr, command
        assert "TRANSLATOR_ALLOW_VOLATILE_REDIS=true" in result.stderr, command
    assert set(redis_client.scan_iter("translator:run:*")) == before  # no run was started
    worker = subprocess.run(
        [sys.executable, "-m", "translator", "worker", "--pool=solo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.returncode == 2, worker.stderr
    assert "keeps no append-only file" in worker.stderr

    durable = RedisServer(tmp_path / "durable", persistent=True).start()
    try:
        env = _env(durable.url, lrs, TRANSLATOR_ALLOW_VOLATILE_REDIS="false")
        result = CliRunner().invoke(main, ["forward", "--queue", str(log)], env=env)
        assert result.exit_code == 0, result.output
        assert "enqueued 3 lines" in result.stdout
    finally:
        durable.stop()


def test_queue_wait_ends_when_redis_restarts_without_the_run(lrs: RalphLRS, tmp_path: Path) -> None:
    # Before, `forward --queue --wait` waited forever for a run that a restart of Redis had
    # erased. No worker runs here, so the messages wait in the queue when Redis goes.
    from services import RedisServer

    server = RedisServer(tmp_path / "redis").start()
    log = tmp_path / "tracking.log"
    write_log(log, 12)
    env = _env(server.url, lrs)
    client = redis.Redis.from_url(server.url)
    command = [sys.executable, "-m", "translator", "forward", "--queue", "--wait", str(log)]
    try:
        with subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as cli:
            try:
                _until(lambda: bool(client.llen("translator")), 30, "the run's messages queued")
                client.close()
                server.stop()
                server = RedisServer(tmp_path / "redis-again", port=server.port).start()
                assert cli.wait(timeout=60) == 1
            finally:
                if cli.poll() is None:
                    cli.kill()
            assert cli.stderr is not None
            stderr = cli.stderr.read().decode()
    finally:
        server.stop()
    assert "vanished: its books are gone from Redis" in stderr
    assert "forward the input again" in stderr


def test_producer_stops_reading_while_the_queue_is_full(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # Before, the producer read and enqueued its whole input at once (the CLI peaked at 3.45 GB
    # on a big log): it now waits while the queue holds queue_max_messages.
    import threading

    from worker.app import QUEUE
    from worker.producer import RunProducer

    log = tmp_path / "tracking.log"
    facts = write_log(log, 60)
    settings = _settings(
        redis_url, lrs, chunk_lines=50, chunk_bytes=2_000, queue_max_messages=3, batch_size=10
    )
    redis_client.delete(QUEUE)
    producer = RunProducer(settings)
    producer.poll_interval = 0.05
    enqueuing = threading.Thread(target=producer.enqueue, args=(read_lines([str(log)]),))
    enqueuing.start()
    try:
        _until(lambda: redis_client.llen(QUEUE) >= 3, 10, "the queue to fill")
        time.sleep(0.5)
        assert enqueuing.is_alive() and redis_client.llen(QUEUE) == 3 == producer.chunks
        workers(_env(redis_url, lrs))
        enqueuing.join(timeout=60)
        assert not enqueuing.is_alive()
    finally:
        if enqueuing.is_alive():
            redis_client.delete(QUEUE)  # lets it finish
            enqueuing.join(timeout=10)
        producer.close()
    assert producer.chunks > 10  # ~700 bytes a line: two or three lines a chunk
    _wait_finished(redis_client, producer.run_id)
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))


def test_queue_wait_ends_when_the_runs_messages_vanish(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    # The books survive but the messages do not (a partial loss): nothing is queued or held by
    # a worker while the run is unsettled, so --wait ends instead of waiting forever.
    from worker.app import QUEUE

    redis_client.delete(QUEUE, "unacked")
    log = tmp_path / "tracking.log"
    write_log(log, 6)
    command = [sys.executable, "-m", "translator", "forward", "--queue", "--wait", str(log)]
    with subprocess.Popen(
        command, cwd=ROOT, env=_env(redis_url, lrs), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as cli:
        try:
            _until(lambda: bool(redis_client.llen(QUEUE)), 30, "the run's messages queued")
            redis_client.delete(QUEUE)
            assert cli.wait(timeout=60) == 1
        finally:
            if cli.poll() is None:
                cli.kill()
        assert cli.stderr is not None
        stderr = cli.stderr.read().decode()
    assert "nothing is queued or held by a worker, yet it is not settled" in stderr


def test_worker_killed_mid_run_loses_and_duplicates_nothing(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # A short visibility timeout: the messages the killed worker held come back within seconds.
    env = _env(
        redis_url,
        lrs,
        TRANSLATOR_VISIBILITY_TIMEOUT="3",
        TRANSLATOR_REQUEST_TIMEOUT="1.5",  # the visibility timeout is at least twice it
        TRANSLATOR_BATCH_SIZE="3",
    )
    log = tmp_path / "tracking.log"
    facts = write_log(log, 300)
    run_id, result = _enqueue(env, str(log))
    assert result.exit_code == 0, result.output
    book = RunBook(redis_client, run_id)
    first = workers(env)

    def frozen_mid_run() -> bool:
        """Freeze the worker (SIGSTOP) when it is mid-run holding an unacknowledged message."""
        if book.status().batches_done < 10:
            return False
        first.pause()
        if redis_client.hlen("unacked") and not book.status().finished:
            return True
        first.resume()
        return False

    _until(frozen_mid_run, 60, "the worker to be mid-run")
    held = [orjson.loads(v)[0]["headers"]["id"] for v in redis_client.hvals("unacked")]
    first.kill()
    assert held and not book.status().finished

    second = workers(env)
    _wait_finished(redis_client, run_id)
    # What the killed worker held comes back once the visibility timeout has passed (even when
    # its work was done and counted before the kill: the acknowledgement was not sent).
    _until(
        lambda: all(f"[{task_id}] received" in second.text() for task_id in held),
        30,
        "the killed worker's messages to be redelivered",
    )
    _until(lambda: redis_client.hlen("unacked") == 0, 10, "every message acknowledged")
    status = book.status()
    assert status.reconciles and status.read == facts.lines
    assert status.statements == status.routed == status.delivered == facts.statements
    assert status.dead_lettered == 0
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))


def test_worker_with_refused_credentials_keeps_batches_until_fixed(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    wrong = "wrong-password"
    env = _env(redis_url, lrs, TRANSLATOR_VISIBILITY_TIMEOUT="10", TRANSLATOR_REQUEST_TIMEOUT="5")
    refused = workers({**env, "TRANSLATOR_LRS_PASSWORD": wrong})
    log = tmp_path / "tracking.log"
    facts = write_log(log, 12)
    run_id, result = _enqueue(env, str(log))
    assert result.exit_code == 0, result.output
    book = RunBook(redis_client, run_id)
    _until(lambda: "refused our credentials" in book.status().error, 30, "the refusal")
    _until(lambda: "DESTINATION REFUSED" in refused.text(), 10, "the refusal in the log")
    assert "destination 'default'" in refused.text()
    assert wrong not in refused.text() and wrong not in book.status().error
    everything = _redis_contents(redis_client)  # messages held, queued and retried, run books
    assert b"deliver_batch" in everything and wrong.encode() not in everything
    time.sleep(1.0)  # a few retries go by: still nothing lands, nothing is given up
    assert _ids(lrs) == [] and book.status().delivered == 0

    refused.stop()  # the fix: the right credentials, and a restart
    workers(env)
    _wait_finished(redis_client, run_id)
    status = book.status()
    assert (status.delivered, status.dead_lettered) == (facts.statements, 0)
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))


def test_worker_refuses_to_start_without_pseudonym_secret(
    redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    env = _env(redis_url, lrs)
    del env["TRANSLATOR_PSEUDONYM_SECRET"]
    command = [sys.executable, "-m", "celery", "-A", "worker", "worker", "--pool=solo"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in done.stdout + done.stderr
    cli = subprocess.run(
        [sys.executable, "-m", "translator", "worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 2
    assert "TRANSLATOR_PSEUDONYM_SECRET is not set" in cli.stderr


def test_queue_forward_survives_an_lrs_outage(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # The LRS is down when the run starts: workers retry with backoff and keep the batches;
    # once it is back, every statement lands, once.
    env = _env(redis_url, lrs)
    log = tmp_path / "tracking.log"
    facts = write_log(log, 30)
    lrs.stop()
    worker = workers(env)
    run_id, result = _enqueue(env, str(log))
    assert result.exit_code == 0, result.output
    _until(
        lambda: "is unavailable" in worker.text() and "nothing was dropped" in worker.text(),
        30,
        "a worker to retry the unreachable LRS",
    )
    assert not RunBook(redis_client, run_id).status().finished
    lrs.start()
    _wait_finished(redis_client, run_id)
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))


def test_follow_through_the_workers_survives_rotations_and_kills_and_stores_once(
    redis_url: str, lrs: RalphLRS, tmp_path: Path, workers: Callable[..., WorkerProcess]
) -> None:
    import shutil

    from logs import enrollment

    env = _env(
        redis_url,
        lrs,
        TRANSLATOR_CHECKPOINT_PATH=str(tmp_path / "checkpoints.json"),
        TRANSLATOR_BATCH_MAX_WAIT="0.3",
        TRANSLATOR_VISIBILITY_TIMEOUT="5",
        TRANSLATOR_REQUEST_TIMEOUT="2.5",
    )
    log = tmp_path / "tracking.log"
    written = 0

    def append(count: int) -> None:
        nonlocal written
        with log.open("ab") as out:
            for _ in range(count):
                out.write(orjson.dumps(enrollment(written)) + b"\n")
                written += 1

    def follower() -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "translator", "follow", "--queue", "--from-start"]
        return subprocess.Popen([*command, str(log)], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)

    def stored() -> int:
        return len(lrs.stored_statements())

    first_worker = workers(env)
    append(12)
    following = follower()
    try:
        _until(lambda: stored() >= 12, 60, "the first lines in the LRS")
        append(8)
        os.rename(log, tmp_path / "tracking.log.1")
        append(9)
        time.sleep(0.2)
        following.kill()  # SIGKILL: no goodbye, the checkpoint is what was enqueued
        following.wait()
        first_worker.kill()
        workers(env)
        following = follower()
        _until(lambda: stored() >= 29, 90, "the lines around the rotation in the LRS")
        append(6)
        shutil.copy(log, tmp_path / "tracking.log.2")
        log.write_bytes(b"")
        append(7)
        following.kill()  # a second SIGKILL, right after the copy-truncate
        following.wait()
        following = follower()
        append(3)
        _until(lambda: stored() >= written, 90, "every line in the LRS")
        following.send_signal(signal.SIGTERM)
        assert following.wait(timeout=30) == 0
    finally:
        if following.poll() is None:
            following.kill()
            following.wait()
    ids = _ids(lrs)
    assert len(ids) == len(set(ids)) == written == 45


def test_consume_through_the_workers_acknowledges_once_enqueued_and_stores_once(
    redis_url: str,
    redis_client: redis.Redis,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
) -> None:
    from logs import enrollment, tracker_event
    from services import produce_tracking_events

    env = _env(redis_url, lrs, TRANSLATOR_BATCH_MAX_WAIT="0.3")
    workers(env)
    stream, group = "dev-analytics", "translator"
    produce_tracking_events(redis_url, "dev", [tracker_event(enrollment(i)) for i in range(7)])
    redis_client.xadd(stream, {"id": "x", "type": "garbage", "event_data": b"\x00\x01"})
    command = [sys.executable, "-m", "translator", "consume", "--queue", "--from-start"]
    with subprocess.Popen(
        [*command, "--stream", stream, "--group", group],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as consumer:
        try:
            _until(lambda: len(lrs.stored_statements()) >= 7, 60, "the first events stored")
            produce_tracking_events(
                redis_url, "dev", [tracker_event(enrollment(i)) for i in range(7, 12)]
            )
            _until(lambda: len(lrs.stored_statements()) >= 12, 60, "every event stored")
            consumer.send_signal(signal.SIGTERM)
            assert consumer.wait(timeout=30) == 0
        finally:
            if consumer.poll() is None:
                consumer.kill()
        assert consumer.stderr is not None
        stderr = consumer.stderr.read().decode()
    ids = _ids(lrs)
    assert len(ids) == len(set(ids)) == 12
    assert "enqueued 12 entries" in stderr and "rejected 1 undecodable" in stderr
    assert redis_client.xpending(stream, group)["pending"] == 0  # every entry acknowledged


def test_queued_wait_says_when_no_worker_takes_the_run_and_runs_shows_it_later(
    redis_url: str,
    lrs: RalphLRS,
    tmp_path: Path,
    workers: Callable[..., WorkerProcess],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import translator.cli.queued as queued

    log = tmp_path / "tracking.log"
    facts = write_log(log, 6)
    env = _env(redis_url, lrs)
    monkeypatch.setattr(queued, "_IDLE_QUEUE_SECONDS", 1.0)  # 10 s in real use
    run_id, result = _enqueue(env, str(log), "--wait", "--timeout", "3")
    assert result.exit_code == 1, result.output
    assert "no worker is taking the run's messages" in result.stderr
    assert f"run {run_id} is not finished yet; so far:" in result.stderr
    assert "do not reconcile" not in result.stderr
    later = CliRunner().invoke(main, ["runs", run_id], env=env)
    assert later.exit_code == 1 and "(so far)" in later.output
    workers(env)
    _wait_finished(redis.Redis.from_url(redis_url), run_id)
    done = CliRunner().invoke(main, ["runs", run_id], env=env)
    assert done.exit_code == 0, done.output
    assert facts.total_line(delivered=facts.statements) in done.output
    listed = CliRunner().invoke(main, ["runs"], env=env)
    assert run_id in listed.output and "finished" in listed.output


def test_worker_metrics_show_what_every_worker_delivered(
    redis_url: str,
    redis_client: redis.Redis,  # an empty database: the totals start at nothing
    lrs: RalphLRS,
    tmp_path: Path,
    workers: Callable[..., WorkerProcess],
) -> None:
    import httpx
    from services import free_port

    port = free_port()
    env = _env(redis_url, lrs, TRANSLATOR_METRICS_PORT=str(port))
    workers(env)
    log = tmp_path / "tracking.log"
    facts = write_log(log, 6)
    run_id, result = _enqueue(_env(redis_url, lrs), str(log))
    assert result.exit_code == 0, result.output
    _wait_finished(redis.Redis.from_url(redis_url), run_id)
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    delivered = (
        f'translator_delivered_statements_total{{destination="default"}} {facts.statements}.0'
    )
    assert delivered in text
    assert 'translator_queue_messages{state="waiting"} 0.0' in text
    assert 'translator_batch_seconds_count{destination="default"}' in text


def test_queue_forward_poison_line_never_blocks_its_batch(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    # Line 3 nests 260 levels deep: before, its chunk's batch was retried for ever.
    env = _env(redis_url, lrs)
    workers(env)
    log = tmp_path / "tracking.log"
    facts = write_log(log, 12, poison_at=3)
    _, result = _enqueue(env, "--wait", "--timeout", "90", str(log))
    assert result.exit_code == 1, result.output  # the poison line is rejected
    assert result.stderr.strip().splitlines()[-1] == facts.total_line(delivered=facts.statements)
    assert "nested deeper than 32 levels" in result.stderr
    ids = _ids(lrs)
    assert len(ids) == facts.statements == len(set(ids))
    assert redis_client.hlen("unacked") == 0


@pytest.mark.parametrize("retry_after", [86400.0, 1e12])
def test_backoff_honours_retry_after_up_to_retry_max(
    monkeypatch: pytest.MonkeyPatch, retry_after: float
) -> None:
    monkeypatch.setenv("TRANSLATOR_RETRY_INITIAL", "0.5")
    monkeypatch.setenv("TRANSLATOR_RETRY_MAX", "20")
    worker_settings.cache_clear()
    try:
        delays = [backoff(retries, retry_after=retry_after) for retries in (0, 5, 40)]
    finally:
        worker_settings.cache_clear()
    assert all(20.0 <= delay <= 20.5 for delay in delays)


def test_worker_killed_mid_run_delivers_every_caliper_event_once(
    redis_client: redis.Redis,
    redis_url: str,
    lrs: RalphLRS,
    workers: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> None:
    from services import CaliperEndpoint

    from translator.engine import Translator
    from translator.intake.events import parse_line
    from translator.mapping.plan import load_plan
    from translator.targets.caliper import CALIPER

    log = tmp_path / "tracking.log"
    facts = write_log(log, 200)
    with CaliperEndpoint("caliper-kill-key") as endpoint:
        destinations = tmp_path / "destinations.toml"
        destinations.write_text(
            f'[[destination]]\nname = "caliper"\nkind = "caliper"\nurl = "{endpoint.url}"\n'
            'token = "caliper-kill-key"\nsensor = "https://lms.example/sensor"\n',
            encoding="utf-8",
        )
        env = _env(
            redis_url,
            lrs,
            TRANSLATOR_VISIBILITY_TIMEOUT="3",
            TRANSLATOR_REQUEST_TIMEOUT="1.5",  # the visibility timeout is at least twice it
            TRANSLATOR_BATCH_SIZE="3",
            TRANSLATOR_DESTINATIONS_FILE=str(destinations),
        )
        for name in ("TRANSLATOR_MAPPINGS_DIR", "TRANSLATOR_LRS_URL"):
            env.pop(name)  # the real mappings, with their Caliper folder; no LRS
        for name in ("TRANSLATOR_LRS_USERNAME", "TRANSLATOR_LRS_PASSWORD"):
            env.pop(name)
        settings = Settings(pseudonym_secret=SECRET)
        translator = Translator(load_plan(settings, CALIPER, environ={}), id_namespace=uuid.uuid4())
        expected = sum(
            len(translator.translate(parse_line(line)).statements)
            for line in read_lines([str(log)])
        )
        run_id, result = _enqueue(env, str(log))
        assert result.exit_code == 0, result.output
        book = RunBook(redis_client, run_id)
        first = workers(env)

        def frozen_mid_run() -> bool:
            if book.status().batches_done < 5:
                return False
            first.pause()
            if redis_client.hlen("unacked") and not book.status().finished:
                return True
            first.resume()
            return False

        _until(frozen_mid_run, 60, "the worker to be mid-run")
        first.kill()
        workers(env)
        _wait_finished(redis_client, run_id)
        _until(lambda: redis_client.hlen("unacked") == 0, 30, "every message acknowledged")
        status = book.status()
        assert status.reconciles and status.read == facts.lines
        assert status.dead_lettered == 0
        assert len(endpoint.events) == expected > 0  # every event stored, once by id


def test_worker_context_asks_for_the_pseudonym_secret_only_for_pseudonyms() -> None:
    with pytest.raises(ConfigError, match="TRANSLATOR_PSEUDONYM_SECRET is not set"):
        WorkerContext(Settings(mappings_dir=CORE_MAPPINGS)).translators()
    settings = Settings(mappings_dir=CORE_MAPPINGS, actor_identity="user-id")
    assert [t.plan.target.name for t in WorkerContext(settings).translators()] == ["xapi"]

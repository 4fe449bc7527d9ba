"""Workers with xAPI and Caliper destinations: one plan per target, each line translated once
per target in a chunk, batches routed by kind and delivered through the Caliper client."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import redis
from services import CaliperEndpoint, RalphLRS
from support.caliper_check import assert_valid_event

from translator.config import Settings
from translator.errors import TranslationError
from translator.intake.events import parse_line
from translator.intake.lines import read_lines
from worker.jobs import WorkerContext, encode_lines, process_batch, process_chunk
from worker.runs import RunBook

EXAMPLE_LOG = Path(__file__).resolve().parents[2] / "examples" / "tracking.log"


def _count_events(context: WorkerContext, target: str) -> int:
    """How many statements the example log gives for one target, translated here."""
    [translator] = [t for t in context.translators() if t.plan.target.name == target]
    count = 0
    for line in read_lines([str(EXAMPLE_LOG)]):
        try:
            count += len(translator.translate(parse_line(line)).statements)
        except TranslationError:
            continue
    return count


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("TRANSLATOR_"):
            monkeypatch.delenv(name)


def test_worker_translates_once_per_target_and_delivers_caliper_batches(
    redis_client: redis.Redis, redis_url: str, lrs: RalphLRS, tmp_path: Path
) -> None:
    with CaliperEndpoint("worker-key") as endpoint:
        destinations = tmp_path / "destinations.toml"
        destinations.write_text(
            f'[[destination]]\nname = "caliper"\nkind = "caliper"\nurl = "{endpoint.url}"\n'
            f'token = "worker-key"\nsensor = "https://lms.example/sensor"\n'
            f'[[destination]]\nname = "lrs"\nurl = "{lrs.url}"\n'
            f'username = "{lrs.username}"\npassword = "{lrs.password}"\n',
            encoding="utf-8",
        )
        settings = Settings(
            pseudonym_secret="worker-caliper",
            redis_url=redis_url,
            destinations_file=destinations,
            batch_size=10,
        )
        context = WorkerContext(settings)
        assert [t.plan.target.name for t in context.translators()] == ["caliper", "xapi"]
        published: list[tuple[str, list[dict[str, Any]]]] = []
        lines = encode_lines(list(read_lines([str(EXAMPLE_LOG)])))
        report = process_chunk(
            context,
            "runC",
            str(EXAMPLE_LOG),
            1,
            lines,
            publish=lambda _r, d, i: published.append((d, i)),
        )
        assert report is not None and report.counted
        status = RunBook(redis_client, "runC").status()
        caliper_events = _count_events(context, "caliper")
        assert (status.read, status.translated) == (52, 51)
        assert status.statements == 53 + caliper_events
        for name, items in published:
            result = process_batch(context, "runC", name, items)
            assert result is not None and result.dead_lettered == 0
        assert len(endpoint.events) == caliper_events and endpoint.received == caliper_events
        assert [len(e["data"]) for e in endpoint.envelopes] == [10] * (caliper_events // 10) + (
            [caliper_events % 10] if caliper_events % 10 else []
        )
        for event in endpoint.events.values():
            assert_valid_event(event)
        assert len(lrs.stored_statements()) == 53
        context.close()

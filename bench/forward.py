"""Benchmark: statements/s the Deliverer puts into a real ralph LRS, beside the LRS's own rate.

For each batch size, the same pre-built statements are posted twice into a fresh store: once by a
minimal keep-alive httpx client (pre-serialised bodies, nothing else: the LRS's own rate), once by
`translator.sinks.delivery.Deliverer`. The ratio shows what the forwarder costs on top of the LRS;
the goal is at least 90% at batch 100. Prints figures, asserts nothing about time.

    python bench/forward.py [--repeat 4] [--count 5000] [--batch-sizes 1,10,100,1000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from factories import xapi_statements  # noqa: E402
from services import RalphLRS  # noqa: E402

from translator.sinks.dead_letters import FileDeadLetterStore  # noqa: E402
from translator.sinks.delivery import Deliverer  # noqa: E402
from translator.sinks.destinations import Destination  # noqa: E402

__all__ = ["main"]


def _lrs_own_rate(lrs: RalphLRS, statements: list[dict[str, Any]], batch: int) -> float:
    """Post pre-serialised batches with a bare keep-alive client: the LRS's own ingest rate."""
    bodies = [orjson.dumps(statements[i : i + batch]) for i in range(0, len(statements), batch)]
    headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
    with httpx.Client(auth=(lrs.username, lrs.password), headers=headers, timeout=120) as client:
        start = time.perf_counter()
        for body in bodies:
            client.post(f"{lrs.url}/statements", content=body).raise_for_status()
        return len(statements) / (time.perf_counter() - start)


def _forwarder_rate(
    lrs: RalphLRS, statements: list[dict[str, Any]], batch: int, workdir: Path
) -> tuple[float, float]:
    """Deliver through a Deliverer: statements/s, and the forwarder's CPU µs per statement."""
    destination = Destination(
        name="bench", url=lrs.url, username=lrs.username, password=lrs.password
    )
    letters = FileDeadLetterStore(workdir / "dead-letters.jsonl")
    deliverer = Deliverer(
        destination, dead_letters=letters, batch_size=batch, batch_max_wait=3600, timeout=120
    )
    cpu, start = time.process_time(), time.perf_counter()
    for index, statement in enumerate(statements, start=1):
        deliverer.add(statement, f"bench.log:{index}")
    deliverer.close()
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    if deliverer.delivered != len(statements) or len(letters):
        raise SystemExit(f"forwarder lost statements: {deliverer!r}")
    return len(statements) / elapsed, cpu / len(statements) * 1e6


def _fresh(lrs: RalphLRS, run: Callable[[], Any], expected: int) -> Any:
    """Run against an empty store and check that exactly `expected` statements landed."""
    lrs.clear()
    result = run()
    stored = len(lrs.stored_statements())
    if stored != expected:
        raise SystemExit(f"the LRS holds {stored} statements, expected {expected}")
    return result


def _measure(
    lrs: RalphLRS, batch: int, count: int, repeat: int, workdir: Path
) -> tuple[float, float, float]:
    """Medians over `repeat` pairs of runs: LRS's own rate, forwarder's rate, forwarder's CPU."""
    own: list[float] = []
    forwarded: list[float] = []
    cpu: list[float] = []
    for run in range(repeat):
        # Alternate which goes first: ralph runs a little faster early in a pair.
        for forwarder in (False, True) if run % 2 == 0 else (True, False):
            statements = xapi_statements(count)
            if forwarder:
                rate, us = _fresh(
                    lrs, partial(_forwarder_rate, lrs, statements, batch, workdir), count
                )
                forwarded.append(rate)
                cpu.append(us)
            else:
                own.append(_fresh(lrs, partial(_lrs_own_rate, lrs, statements, batch), count))
    return statistics.median(own), statistics.median(forwarded), statistics.median(cpu)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=4, help="runs per figure (median shown)")
    parser.add_argument("--count", type=int, default=5000, help="statements per run")
    parser.add_argument("--count-batch-1", type=int, default=1000, help="statements at batch 1")
    parser.add_argument("--batch-sizes", default="1,10,100,1000")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.batch_sizes.split(",")]

    with tempfile.TemporaryDirectory(prefix="bench-forward-") as tmp:
        workdir = Path(tmp)
        lrs = RalphLRS(workdir / "ralph")
        lrs.start()
        try:
            _fresh(lrs, partial(_lrs_own_rate, lrs, xapi_statements(200), 100), 200)  # warm-up
            print(
                f"ralph LRS (fs backend, fresh store per run) on 127.0.0.1; "
                f"median of {args.repeat} runs\n"
            )
            print(
                f"{'batch':>5}  {'statements':>10}  {'LRS own (st/s)':>14}  "
                f"{'forwarder (st/s)':>16}  {'ratio':>6}  {'forwarder CPU (us/st)':>21}"
            )
            ratios: dict[int, float] = {}
            for batch in sizes:
                count = args.count_batch_1 if batch == 1 else args.count
                own_rate, fwd_rate, cpu = _measure(lrs, batch, count, args.repeat, workdir)
                ratios[batch] = fwd_rate / own_rate
                print(
                    f"{batch:>5}  {count:>10}  {own_rate:>14,.0f}  {fwd_rate:>16,.0f}  "
                    f"{ratios[batch]:>6.1%}  {cpu:>21.1f}",
                    flush=True,
                )
            if 100 in ratios:
                print(f"\nat batch 100 the forwarder delivers {ratios[100]:.1%} of the LRS's own")
                print("ingest rate (goal: at least 90%)")
        finally:
            lrs.stop()


if __name__ == "__main__":
    main()

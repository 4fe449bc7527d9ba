"""Benchmark: how long a line appended to a quiet log takes to be stored by a real ralph LRS.

`translator follow` runs against a fresh ralph LRS; one enrollment line is appended to the log at
a time, and the time until the LRS's store holds its statement is measured. On an idle log a
line waits for `batch_max_wait` (a partial batch), then one POST: the figure to compare is the
latency beyond `batch_max_wait`, beside the LRS's own latency for one POST of one statement
(measured in the same run with a bare keep-alive client). Prints figures, asserts nothing.

    python bench/follow_latency.py [--lines 30] [--max-wait 0.5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from factories import xapi_statement  # noqa: E402
from logs import CORE_MAPPINGS, enrollment  # noqa: E402
from services import RalphLRS  # noqa: E402

__all__ = ["main"]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _lrs_post_latency(lrs: RalphLRS, count: int) -> list[float]:
    """Seconds for one POST of one statement, with a bare keep-alive client."""
    headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
    latencies: list[float] = []
    with httpx.Client(auth=(lrs.username, lrs.password), headers=headers, timeout=30) as client:
        for index in range(count):
            body = orjson.dumps([xapi_statement(index)])
            start = time.perf_counter()
            client.post(f"{lrs.url}/statements", content=body).raise_for_status()
            latencies.append(time.perf_counter() - start)
    return latencies


def _follow_latency(lrs: RalphLRS, workdir: Path, lines: int, max_wait: float) -> list[float]:
    """Seconds from the append of each line to its statement in the LRS's store."""
    log = workdir / "tracking.log"
    log.touch()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRANSLATOR_")},
        "TRANSLATOR_MAPPINGS_DIR": str(CORE_MAPPINGS),
        "TRANSLATOR_PSEUDONYM_SECRET": "bench-secret",
        "TRANSLATOR_LRS_URL": lrs.url,
        "TRANSLATOR_LRS_USERNAME": lrs.username,
        "TRANSLATOR_LRS_PASSWORD": lrs.password,
        "TRANSLATOR_CHECKPOINT_PATH": str(workdir / "checkpoints.json"),
        "TRANSLATOR_DEAD_LETTER_PATH": str(workdir / "dead-letters.jsonl"),
        "TRANSLATOR_BATCH_MAX_WAIT": str(max_wait),
    }
    command = [sys.executable, "-m", "translator", "follow", "--from-end", str(log)]
    latencies: list[float] = []
    with subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL) as follower:
        try:
            time.sleep(1.5)  # start-up: plan compiled, log opened at its end
            for index in range(lines):
                with log.open("ab") as out:
                    out.write(orjson.dumps(enrollment(index)) + b"\n")
                start = time.perf_counter()
                while len(lrs.stored_statements()) <= index:
                    if time.perf_counter() - start > 30:
                        raise SystemExit(f"line {index + 1} never reached the LRS")
                    time.sleep(0.002)
                latencies.append(time.perf_counter() - start)
                time.sleep(max_wait / 2)  # the log is quiet again
        finally:
            follower.terminate()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--max-wait", type=float, default=0.5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        lrs = RalphLRS(Path(folder) / "lrs").start()
        try:
            post = _lrs_post_latency(lrs, args.lines)
            lrs.clear()
            follow = _follow_latency(lrs, Path(folder), args.lines, args.max_wait)
        finally:
            lrs.stop()
    beyond = [latency - args.max_wait for latency in follow]
    print(f"lines: {args.lines}, batch_max_wait: {args.max_wait:g} s")
    print(
        f"append -> stored : median {statistics.median(follow) * 1000:7.1f} ms, "
        f"p99 {_percentile(follow, 0.99) * 1000:7.1f} ms"
    )
    print(
        f"  beyond the wait: median {statistics.median(beyond) * 1000:7.1f} ms, "
        f"p99 {_percentile(beyond, 0.99) * 1000:7.1f} ms"
    )
    print(
        f"LRS POST of one  : median {statistics.median(post) * 1000:7.1f} ms, "
        f"p99 {_percentile(post, 0.99) * 1000:7.1f} ms"
    )
    ratio = statistics.median(beyond) / statistics.median(post)
    print(f"ratio            : {ratio:.2f}x the LRS's own POST latency beyond batch_max_wait")


if __name__ == "__main__":
    main()

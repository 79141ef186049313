"""Benchmark: what adaptive concurrency costs and gains, live against local fakes (every probe of the registry).

Each fake runs in its own process (bench/fault_latency_server.py), so it does not share the suite's GIL.

(b) a server that serves one request at a time and resets the others: wall time at the default concurrency
    as a ratio of the wall time at --concurrency 1 (goal <= 1.3: learning the server's capacity costs little).
(d) a server with 300 ms of latency per request: speed-up of concurrency 8 over concurrency 1 (goal >= 6x).

usage: python bench/concurrency.py [--only b|d] [--b-latency SECONDS] [--repeat N]
(b) alternates the two runs N times (default 3) and gives the median ratio: a shared machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs

SERVER = Path(__file__).resolve().parent / "fault_latency_server.py"


@contextmanager
def fake(*switches: str) -> Iterator[str]:
    """A fake server in a child process with these command-line switches; yields its base URL."""
    proc = subprocess.Popen([sys.executable, str(SERVER), *switches], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def timed_run(switches: list[str], concurrency: int | None) -> dict[str, Any]:
    """One run of every probe against a fresh fake: wall time, requests sent, retries, concurrency reached."""
    with fake(*switches) as base_url, tempfile.TemporaryDirectory() as tmp:
        target = Target("fake", base_url, "fake-model", high_temperature=2.0)
        started = time.perf_counter()
        results, engine = run_pairs([(target, p) for p in registry.PROBES], Path(tmp), "all", concurrency)
        wall = time.perf_counter() - started
    statuses = {r.verdict.status.value for r in results}
    unique = list({id(o): o for r in results for o in r.observations}.values())  # a shared control counts once
    return {"concurrency": concurrency or target.concurrency, "wall_s": round(wall, 2),
            "requests": engine.clients["fake"].live_requests, "retries": sum(o.retries for o in unique),
            "statuses": sorted(statuses), "adaptive": engine.clients["fake"].limit.summary()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("b", "d"), default=None)
    parser.add_argument("--b-latency", type=float, default=0.05, help="seconds per request of the fake (b)")
    parser.add_argument("--repeat", type=int, default=3, help="(b) pairs of runs; the median ratio is reported")
    args = parser.parse_args()
    report: dict[str, Any] = {}
    if args.only in (None, "b"):
        one_at_a_time = ["--max-in-flight", "1", "--latency", str(args.b_latency)]
        pairs = [(timed_run(one_at_a_time, 1), timed_run(one_at_a_time, None)) for _ in range(args.repeat)]
        ratios = sorted(round(default["wall_s"] / serial["wall_s"], 3) for serial, default in pairs)
        report["b_one_at_a_time"] = {"runs": [run for pair in pairs for run in pair], "ratios": ratios,
                                     "default_over_1": statistics.median(ratios), "goal": "<= 1.3"}
    if args.only in (None, "d"):
        latency = ["--latency", "0.3"]
        serial, eight = timed_run(latency, 1), timed_run(latency, 8)
        report["d_300ms_latency"] = {"runs": [serial, eight],
                                     "speedup_8_over_1": round(serial["wall_s"] / eight["wall_s"], 2),
                                     "goal": ">= 6"}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark (b): live against a local fake target with 300 ms injected latency per request.

Concurrency efficiency = ideal / wall, ideal = requests × latency / concurrency.
usage: python bench/latency.py [CONCURRENCY…]      (default: 1 4 8)
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conformance.features import registry
from conformance.model.targets import Target
from conformance.run.engine import run_pairs
from tests.fakeserver import FakeConfig, FakeServer

LATENCY = 0.3


def main() -> None:
    levels = [int(a) for a in sys.argv[1:]] or [1, 4, 8]
    rows = []
    with FakeServer(FakeConfig(latency=LATENCY)) as srv:
        for n in levels:
            target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0, concurrency=n)
            pairs = [(target, p) for p in registry.PROBES]
            before = len(srv.requests)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                run_pairs(pairs, Path(tmp), "all")
                wall = time.perf_counter() - t0
            requests = len(srv.requests) - before
            ideal = requests * LATENCY / n
            rows.append({"concurrency": n, "requests": requests, "wall_s": round(wall, 2),
                         "ideal_s": round(ideal, 2), "efficiency": round(ideal / wall, 3)})
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark (a): replay of the full suite for one target — wall time and per-probe overhead.

usage: python bench/replay.py [TARGET] [REPEATS]      (default: vllm, 3)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "vllm"
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    walls = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                            "--target", target, "--report-dir", out], cwd=ROOT, capture_output=True, check=False)
            walls.append(time.perf_counter() - t0)
            data = json.loads((Path(out) / "results.json").read_text())
    probes = data["run"]["counts"]["probes"]
    wall = statistics.median(walls)
    print(json.dumps({"target": target, "probes": probes, "requests_replayed": data["run"]["requests"],
                      "wall_s_median": round(wall, 2), "wall_s_all": [round(w, 2) for w in walls],
                      "engine_s": data["run"]["duration_s"],
                      "per_probe_ms": round(1000 * wall / probes, 1)}, indent=1))


if __name__ == "__main__":
    main()

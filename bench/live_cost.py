"""Benchmark (c): requests, tokens and time of a full live run against a reference server.

usage: python bench/live_cost.py [TARGET]      (default: vllm; the server must be running: servers/vllm.sh)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    target = sys.argv[1] if len(sys.argv) > 1 else "vllm"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--target",
                        target, "--record-mode=all", "--cassette-dir", f"{tmp}/c", "--report-dir", f"{tmp}/r"],
                       cwd=ROOT, capture_output=True, check=False)
        wall = time.perf_counter() - t0
        data = json.loads(Path(f"{tmp}/r/results.json").read_text())
    t = data["targets"][target]
    print(json.dumps({"target": target, "probes": data["run"]["counts"]["probes"], "requests": t["requests"],
                      "tokens": t["tokens"], "wall_s": round(wall, 2), "latency_ms": t["latency_ms"],
                      "ttft_ms": t["ttft_ms"]}, indent=1))


if __name__ == "__main__":
    main()

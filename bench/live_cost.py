"""Benchmark (c): requests, tokens and time of a full live run against a reference server, beside the pre-run
estimate (an upper bound: `estimate` must be >= `spent` on both counts).

usage: python bench/live_cost.py [TARGET] [pytest options...]   (default: vllm; the server must be running:
servers/vllm.sh; e.g. `python bench/live_cost.py litellm --probe tools --max-tokens 5000`)
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
    extra = sys.argv[2:]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--target",
                        target, "--record-mode=all", "--cassette-dir", f"{tmp}/c", "--report-dir", f"{tmp}/r", *extra],
                       cwd=ROOT, capture_output=True, check=False)
        wall = time.perf_counter() - t0
        data = json.loads(Path(f"{tmp}/r/results.json").read_text())
    t = data["targets"][target]
    run = data["run"]
    print(json.dumps({"target": target, "probes": run["counts"]["probes"], "requests": t["requests"],
                      "tokens": t["tokens"], "estimate": run.get("estimate"), "spent": run.get("spent"),
                      "bounded": all(run["spent"][k] <= run["estimate"][k] for k in ("requests", "tokens"))
                      if run.get("spent") and run.get("estimate") else None,
                      "wall_s": round(wall, 2), "latency_ms": t["latency_ms"], "ttft_ms": t["ttft_ms"]}, indent=1))


if __name__ == "__main__":
    main()

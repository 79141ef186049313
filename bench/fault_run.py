"""Wall time of a whole live run against the fault server (every chat request one fault, in turn), by hand:

    python bench/fault_run.py                       # default settings, the 20 s hang of issue 19
    python bench/fault_run.py --hang-seconds 5 -- --concurrency 1 --deadline 120

The fault server runs in its own process (bench/fault_latency_server.py --fault cycle), the suite in another
(`python -m pytest conformance --base-url … --record-mode=all` plus anything after `--`). Printed: the wall
time, the exit code, each status's cell count, the requests sent, and whether every report was written.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "bench" / "fault_latency_server.py"
REPORTS = ("results.json", "compat.html", "report.html", "summary.md", "junit.xml")


def main(argv: list[str] | None = None) -> int:
    """Run the suite once against the fault server; print what it took."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hang-seconds", type=float, default=20.0, help="the hang fault resets after this long")
    parser.add_argument("--keep", type=Path, default=None, help="write cassettes and reports here (kept)")
    parser.add_argument("extra", nargs="*", help="options for the suite (after --)")
    args = parser.parse_args(argv)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    server = subprocess.Popen([sys.executable, str(SERVER), "--fault", "cycle", "--hang-seconds",
                               str(args.hang_seconds)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert server.stdout is not None
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as scratch:
            tmp = args.keep or Path(scratch)
            reports = tmp / "reports"
            command = [sys.executable, "-m", "pytest", "conformance", "--base-url", base_url, "--model", "fake-model",
                       "--record-mode=all", "--cassette-dir", str(tmp / "cassettes"), "--report-dir",
                       str(reports), "-p", "no:cacheprovider", "-q", *args.extra]
            started = time.monotonic()
            proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
            wall = time.monotonic() - started
            missing = [name for name in REPORTS if not (reports / name).is_file()]
            results = json.loads((reports / "results.json").read_text()) if not missing else {}
    finally:
        server.terminate()
        server.wait(timeout=10)
    cells = Counter(c["status"] for per in results.get("features", {}).values() for c in per.values())
    fine = [f for f, per in results.get("features", {}).items() if any(c["status"] == "OK" for c in per.values())]
    run = results.get("run", {})
    print(f"wall time {wall:.1f} s, exit code {proc.returncode}")
    print(f"cells: {dict(cells)}{' (OK: ' + ', '.join(fine) + ')' if fine else ''}; requests {run.get('requests')}")
    for name, target in results.get("targets", {}).items():
        print(f"{name}: concurrency {target.get('concurrency', {}).get('reason')}")
    print(f"reports: {'all written' if not missing else 'missing ' + ', '.join(missing)}")
    print("last lines of the run:\n" + "\n".join(proc.stdout.splitlines()[-8:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

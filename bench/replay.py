"""Benchmark (a): replay of the embedded default (every reference target, offline) and the cassette parse time.

Replay: `pytest conformance` with no target option, as a user types it, in a subprocess; wall time and CPU time
(user+sys of the subprocess, which a busy machine does not inflate), median of N.
Parse: every bundled cassette through the pure-Python YAML loader, through libyaml, and through the suite's own
load path (`CassetteBook`: read once, parse, check the layout, vcrpy's conversion); the two loaders must agree.

usage: python bench/replay.py [REPEATS]      (default: 3)
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.plugin import PACKAGE_DIR  # noqa: E402
from conformance.wire.recording import CassetteBook  # noqa: E402

CASSETTES = PACKAGE_DIR / "data" / "cassettes"


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def replay_once(out: str) -> tuple[float, float, dict]:
    """Wall time, CPU time (user+sys: what a busy machine does not inflate) and results.json of one replay."""
    t0, cpu0 = time.perf_counter(), children_cpu()
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                           "--report-dir", out], cwd=ROOT, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    if proc.returncode != 0:
        sys.exit(f"the embedded default failed (exit {proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return wall, cpu, json.loads((Path(out) / "results.json").read_text())


def timed(fn, files: list[Path]) -> tuple[float, list]:  # type: ignore[no-untyped-def,type-arg]
    t0 = time.perf_counter()
    parsed = [fn(f) for f in files]
    return time.perf_counter() - t0, parsed


def parse_times() -> dict:  # type: ignore[type-arg]
    files = sorted(CASSETTES.rglob("*.yaml"))
    pure, by_python = timed(lambda f: yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.SafeLoader), files)
    row = {"cassettes": len(files), "pure_python_loader_s": round(pure, 2)}
    if hasattr(yaml, "CSafeLoader"):
        c, by_c = timed(lambda f: yaml.load(f.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader), files)
        row |= {"libyaml_loader_s": round(c, 2), "loaders_agree": by_python == by_c}
    else:
        row["libyaml_loader_s"] = "PyYAML without libyaml"
    book = CassetteBook(CASSETTES, "none")
    suite, _ = timed(book.may_record, files)  # opens (reads, parses, checks) each cassette as a replay does
    row["suite_load_s"] = round(suite, 2)
    return row


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    walls, cpus = [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as out:
            wall, cpu, data = replay_once(out)
            walls.append(wall)
            cpus.append(cpu)
    probes = data["run"]["counts"]["probes"]
    wall = statistics.median(walls)
    print(json.dumps({"targets": sorted(data["targets"]), "probes": probes,
                      "requests_replayed": data["run"]["requests"],
                      "wall_s_median": round(wall, 2), "wall_s_all": [round(w, 2) for w in walls],
                      "cpu_s_median": round(statistics.median(cpus), 2),
                      "engine_s_last": data["run"]["duration_s"], "per_probe_ms": round(1000 * wall / probes, 1),
                      "parse": parse_times()}, indent=1))


if __name__ == "__main__":
    main()

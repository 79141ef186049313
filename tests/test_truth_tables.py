"""Truth from the servers: the reference servers' hand-checked truth tables against the suite, cell by cell.

servers/truth/<target>.json holds, per feature, the verdict a person concluded from the server's raw answers
(servers/check_truth.py prints them) and the request that shows it. The replayed embedded default must give
exactly those verdicts; so must a live run when the servers are up; the golden expectations are built from them.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.features.registry import PROBES
from conformance.model.targets import load_targets
from conformance.model.verdicts import Conformance, Support

ROOT = Path(__file__).resolve().parents[1]
TRUTH = ROOT / "servers" / "truth"
REFERENCES = sorted(t.name for t in load_targets(ROOT / "targets.toml").values() if t.reference)
FEATURES = sorted({p.feature for p in PROBES})


def truth(name: str) -> dict[str, Any]:
    return json.loads((TRUTH / f"{name}.json").read_text(encoding="utf-8"))


def run_suite(tmp_path: Path, *extra: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                           "--report-dir", str(tmp_path / "report"), *extra],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads((tmp_path / "report" / "results.json").read_text())


def mismatches(results: dict[str, Any], names: list[str]) -> list[str]:
    wrong = []
    for name in names:
        for fid, entry in sorted(truth(name)["features"].items()):
            cell = results["features"].get(fid, {}).get(name)
            got = (cell["status"], cell["support"], cell["conformance"]) if cell else None
            if got != ("OK", entry["support"], entry["conformance"]):
                notes = (cell or {}).get("notes", [])[:2]
                wrong.append(f"{name} {fid}: truth {entry['support']}/{entry['conformance']} ({entry['why']}), "
                             f"suite {got} {notes}")
    return wrong


@pytest.mark.parametrize("name", REFERENCES)
def test_every_cell_of_the_embedded_default_has_a_hand_checked_truth(name: str) -> None:
    table = truth(name)
    assert sorted(table["features"]) == FEATURES
    for fid, entry in table["features"].items():
        assert entry["support"] in {s.value for s in Support}, fid
        assert entry["conformance"] in {c.value for c in Conformance}, fid
        assert entry["why"] and entry["why"] != "?", fid
        assert isinstance(entry.get("request"), dict), fid  # the one request that shows the behaviour


def test_golden_expectations_are_the_truth_tables() -> None:
    """conformance/data/expected/embedded-default.json is built from the truth tables, never from the suite."""
    sys.path.insert(0, str(ROOT / "servers"))
    try:
        from truth_expectations import expectations
    finally:
        sys.path.pop(0)
    golden = json.loads((ROOT / "conformance" / "data" / "expected" / "embedded-default.json").read_text())
    assert golden["targets"] == expectations()["targets"], "run: python3 servers/truth_expectations.py"


def test_replayed_verdicts_match_the_truth_tables(tmp_path: Path) -> None:
    results = run_suite(tmp_path)
    assert mismatches(results, REFERENCES) == []


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not (_listening(8011) and _listening(8012)),
                    reason="the reference servers are not running on 8011/8012 (servers/vllm.sh, servers/litellm.sh)")
def test_live_verdicts_match_the_truth_tables(tmp_path: Path) -> None:
    targets = [arg for name in REFERENCES for arg in ("--target", name)]
    results = run_suite(tmp_path, *targets, "--record-mode=all", "--cassette-dir", str(tmp_path / "cassettes"))
    assert mismatches(results, REFERENCES) == []

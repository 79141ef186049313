"""`pytest conformance` with no target options replays the bundled cassettes offline and writes a report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conformance.features.registry import PROBES
from conformance.model.targets import load_targets
from conformance.report.results_io import validate_results, verdict_text

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_default_replays_every_reference_target_offline(tmp_path: Path) -> None:
    references = sorted(t.name for t in load_targets(ROOT / "targets.toml").values() if t.reference)
    assert len(references) >= 2  # a side-by-side default
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                           "--report-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          check=False)
    # known deviations are shipped expectations: the first command a user types is green and says what it confirmed
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    tail = proc.stdout.strip().splitlines()[-4:]
    assert any(re.search(r"expectations of the embedded default: \d+ known deviations? confirmed", line)
               for line in tail), tail
    for name in ("results.json", "compat.html", "report.html", "summary.md", "junit.xml"):
        assert (tmp_path / name).is_file(), name
    for text in (proc.stdout, (tmp_path / "summary.md").read_text(), (tmp_path / "junit.xml").read_text()):
        assert not re.search(r"\bNone\b", text)  # user-facing text says null, or leaves an absent axis out
    data = json.loads((tmp_path / "results.json").read_text())
    assert validate_results(data) == []
    assert sorted(data["targets"]) == references
    assert data["run"]["record_mode"] == "none" and data["run"]["live_requests"] == 0
    assert data["run"]["counts"]["probes"] == len(PROBES) * len(references)
    not_ok = [(f, t, r["status"], r["notes"][:1]) for f, per in data["features"].items() for t, r in per.items()
              if r["status"] != "OK"]
    assert not_ok == []


EXPECTED = ROOT / "conformance" / "data" / "expected" / "embedded-default.json"


def run_with_expectations(expect: Path, report_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider",
                           "--report-dir", str(report_dir), "--expect", str(expect)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)


def test_embedded_default_matches_its_golden_expectations(tmp_path: Path) -> None:
    """The drift gate on the bundled replay: every verdict equals the stored expectations."""
    proc = run_with_expectations(EXPECTED, tmp_path)
    assert "DRIFT" not in proc.stdout, proc.stdout[-3000:]


def run_with_one_cell_changed(tmp_path: Path, axis: str, value: str) -> tuple[subprocess.CompletedProcess[str], str]:
    """The embedded default against its expectations with vllm · request.max_tokens changed on one axis; the
    line the failing test must print."""
    doc = json.loads(EXPECTED.read_text())
    cell = doc["targets"]["vllm"]["features"]["request.max_tokens"]
    got = verdict_text(cell)
    cell[axis] = value
    changed = tmp_path / "expect.json"
    changed.write_text(json.dumps(doc))
    line = f"vllm · request.max_tokens: expected {verdict_text(cell)}, got {got}"
    return run_with_expectations(changed, tmp_path / "r"), line


def test_a_changed_verdict_fails_the_run_with_the_drift_listed(tmp_path: Path) -> None:
    proc, line = run_with_one_cell_changed(tmp_path, "support", "IGNORED")
    assert proc.returncode == 1
    assert "request.max_tokens" in proc.stdout and "IGNORED" in proc.stdout and "SUPPORTED" in proc.stdout
    assert line in proc.stdout  # the failing test says it, with the verdict axes that differ


def test_a_known_deviation_that_disappears_fails_too(tmp_path: Path) -> None:
    """An expected FAILED cell that now passes is a changed verdict, not a silent pass (wpt: unexpected pass)."""
    proc, line = run_with_one_cell_changed(tmp_path, "conformance", "FAILED")
    assert proc.returncode == 1
    assert line in proc.stdout

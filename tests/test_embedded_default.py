"""`pytest conformance` with no target options replays the bundled cassettes offline and writes a report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conformance.features.registry import PROBES
from conformance.model.targets import load_targets
from conformance.report.results_io import validate_results, verdict_text
from tests.conftest import SuiteRun
from tests.plugin_helpers import run

ROOT = Path(__file__).resolve().parents[1]


def test_embedded_default_replays_every_reference_target_offline(embedded_default: SuiteRun) -> None:
    references = sorted(t.name for t in load_targets(ROOT / "targets.toml").values() if t.reference)
    assert len(references) >= 2  # a side-by-side default
    proc, tmp_path = embedded_default.proc, embedded_default.report_dir
    # known deviations are shipped expectations: the first command a user types is green and says what it confirmed
    assert proc.returncode == 0, embedded_default.output
    tail = proc.stdout.strip().splitlines()[-4:]
    assert any(re.search(r"expectations of the embedded default: \d+ known deviations? confirmed", line)
               for line in tail), tail
    for name in ("results.json", "compat.html", "report.html", "summary.md", "junit.xml"):
        assert (tmp_path / name).is_file(), name
    for text in (proc.stdout, (tmp_path / "summary.md").read_text(), (tmp_path / "junit.xml").read_text()):
        assert not re.search(r"\bNone\b", text)  # user-facing text says null, or leaves an absent axis out
    data = embedded_default.results()
    assert validate_results(data) == []
    assert sorted(data["targets"]) == references
    assert data["run"]["record_mode"] == "none" and data["run"]["live_requests"] == 0
    assert data["run"]["counts"]["probes"] == len(PROBES) * len(references)
    not_ok = [(f, t, r["status"], r["notes"][:1]) for f, per in data["features"].items() for t, r in per.items()
              if r["status"] != "OK"]
    assert not_ok == []


EXPECTED = ROOT / "conformance" / "data" / "expected" / "embedded-default.json"


def test_embedded_default_matches_its_golden_expectations(embedded_default: SuiteRun) -> None:
    """The drift gate on the bundled replay: every verdict equals the stored expectations (the embedded default
    is judged against them with no `--expect`)."""
    assert "DRIFT" not in embedded_default.proc.stdout, embedded_default.output
    assert embedded_default.proc.returncode == 0, embedded_default.output


def run_with_one_cell_changed(pytester: pytest.Pytester, tmp_path: Path, axis: str,
                              value: str) -> tuple[pytest.RunResult, str]:
    """The embedded default's request.max_tokens probes against its expectations with vllm · request.max_tokens
    changed on one axis; the line the failing test must print. (`--probe` keeps it short: the other expected
    cells are left out of the gate, and the one run in full is the fixture's.)"""
    doc = json.loads(EXPECTED.read_text())
    cell = doc["targets"]["vllm"]["features"]["request.max_tokens"]
    got = verdict_text(cell)
    cell[axis] = value
    changed = tmp_path / "expect.json"
    changed.write_text(json.dumps(doc))
    line = f"vllm · request.max_tokens: expected {verdict_text(cell)}, got {got}"
    return run(pytester, "--report-dir", str(tmp_path / "r"), "--expect", str(changed),
               "--probe", "request.max_tokens"), line


def test_a_changed_verdict_fails_the_run_with_the_drift_listed(pytester: pytest.Pytester, tmp_path: Path) -> None:
    result, line = run_with_one_cell_changed(pytester, tmp_path, "support", "IGNORED")
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:]
    assert "request.max_tokens" in out and "IGNORED" in out and "SUPPORTED" in out
    assert line in out  # the failing test says it, with the verdict axes that differ


def test_a_known_deviation_that_disappears_fails_too(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """An expected FAILED cell that now passes is a changed verdict, not a silent pass (wpt: unexpected pass)."""
    result, line = run_with_one_cell_changed(pytester, tmp_path, "conformance", "FAILED")
    assert result.ret == 1, result.stdout.str()[-3000:]
    assert line in result.stdout.str()

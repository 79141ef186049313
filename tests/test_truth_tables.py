"""Truth from the servers: the reference servers' hand-checked truth tables against the suite, cell by cell.

truth/tables/<target>.json holds, per feature, the verdict a person concluded from the server's raw answers
(`python3 -m truth.check` prints them) and the request that shows it. The replayed embedded default must give
exactly those verdicts; so must a live run when the servers are up; the golden expectations are built from them.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from conformance.features.registry import PROBES
from conformance.model.targets import load_targets
from conformance.model.verdicts import Conformance, Support
from tests.conftest import SuiteRun, run_suite
from truth import TABLES
from truth.expectations import expectations

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = sorted(t.name for t in load_targets(ROOT / "targets.toml").values() if t.reference)
FEATURES = sorted({p.feature for p in PROBES})


def truth(name: str) -> dict[str, Any]:
    return json.loads((TABLES / f"{name}.json").read_text(encoding="utf-8"))


def results_of(run: SuiteRun) -> dict[str, Any]:
    assert run.proc.returncode in (0, 1), run.output
    return run.results()


def _timing_finding(table: dict[str, Any], fid: str, cell: dict[str, Any]) -> bool:
    """The cell differs from the truth only by the table's one timing-dependent finding (e.g. llama-server's
    per-chunk `created`, visible when a recorded stream spans a second boundary)."""
    timing = table.get("timing_dependent") or {}
    return (fid in timing.get("features", []) and cell.get("conformance") == timing.get("conformance")
            and any(timing["finding"] in note for note in cell.get("notes", [])))


def mismatches(results: dict[str, Any], names: list[str]) -> list[str]:
    wrong = []
    for name in names:
        table = truth(name)
        for fid, entry in sorted(table["features"].items()):
            cell = results["features"].get(fid, {}).get(name)
            got = (cell["status"], cell["support"], cell["conformance"]) if cell else None
            if cell and got[:2] == ("OK", entry["support"]) and _timing_finding(table, fid, cell):
                continue
            alternative = entry.get("alternative")  # a second verdict the server gives at random, with its why
            if alternative and got == ("OK", alternative["support"], alternative["conformance"]):
                continue
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
        if entry.get("alternative"):
            assert entry["alternative"]["support"] in {s.value for s in Support}, fid
            assert entry["alternative"]["conformance"] in {c.value for c in Conformance}, fid
            assert entry["alternative"]["why"], fid
    timing = table.get("timing_dependent")
    if timing:  # a timing-dependent finding names its features, the finding, its conformance and why
        assert set(timing["features"]) <= set(FEATURES) and timing["finding"] and timing["why"]
        assert timing["conformance"] in {c.value for c in Conformance}


def test_golden_expectations_are_the_truth_tables() -> None:
    """conformance/data/expected/embedded-default.json is built from the truth tables, never from the suite."""
    golden = json.loads((ROOT / "conformance" / "data" / "expected" / "embedded-default.json").read_text())
    assert golden["targets"] == expectations()["targets"], "run: python3 -m truth.expectations"


def test_replayed_verdicts_match_the_truth_tables(embedded_default: SuiteRun) -> None:
    assert mismatches(results_of(embedded_default), REFERENCES) == []


TARGETS = load_targets(ROOT / "targets.toml")
START = {"vllm": "servers/vllm.sh", "litellm": "servers/litellm.sh", "llama": "servers/llama.sh",
         "litellm-vllm": "servers/vllm.sh, then UPSTREAM=http://127.0.0.1:8011/v1 servers/litellm.sh"}


def _not_served(name: str) -> str | None:
    """Why the reference target's server cannot be checked live now (None when it serves the target's models)."""
    target = TARGETS[name]
    try:
        with urllib.request.urlopen(target.base_url.rstrip("/") + "/models", timeout=3) as resp:  # noqa: S310
            listed = {m.get("id") for m in json.loads(resp.read()).get("data") or []}
    except (OSError, ValueError) as exc:
        return f"{name}: {target.base_url} does not answer ({exc}); start it: {START.get(name, 'servers/')}"
    wanted = {target.model, *target.models.values()}
    if not wanted <= listed:
        missing = sorted(wanted - listed)
        return f"{name}: {target.base_url} does not serve {missing}; start it: {START.get(name, 'servers/')}"
    return None


@pytest.mark.live
@pytest.mark.parametrize("name", REFERENCES)
def test_live_verdicts_match_the_truth_tables(name: str, tmp_path: Path) -> None:
    """Each reference target live (when its server runs), re-recorded into a temporary folder, cell by cell."""
    reason = _not_served(name)
    if reason:
        pytest.skip(reason)
    run = run_suite(tmp_path / "report", "--target", name, "--record-mode=all",
                    "--cassette-dir", str(tmp_path / "cassettes"))
    assert mismatches(results_of(run), [name]) == []

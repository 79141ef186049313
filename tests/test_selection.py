"""Selection never changes a verdict: for any --probe prefix, each selected cell equals the same cell of the full run
(a finding another feature owns is decided by the owner's probes, run for it when the selection left them out)."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from conformance.features.registry import PROBES, probe_by_id
from conformance.model.targets import Target, load_targets
from conformance.preflight import probes_matching
from conformance.run.engine import owners_of, run_pairs
from conformance.run.results import build_results, charge_unseen_findings, now, record_of
from tests.fakeserver import FakeConfig, FakeServer

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "conformance" / "data" / "cassettes"
REFERENCES = [t for t in load_targets(ROOT / "targets.toml").values() if t.reference]
GROUPS = sorted({p.id.split(".")[0] for p in PROBES})  # chat, conversation, errors, json, models, request, ...
SINGLES = ["tools.tool_choice.named", "stream.padding", "request.n.streamed", "sdk.openai.stream_tools",
           "stream.usage_chunk.requested", "request.temperature"]


def cells(targets: list[Target], prefixes: list[str], cassettes: Path, mode: str) -> dict[tuple[str, str], Any]:
    """(target, feature) → (status, support, conformance) of a run of the probes matching `prefixes`, judged the
    way the plugin judges them (owners' probes run for the findings, then results.json's aggregation)."""
    probes = probes_matching(prefixes, PROBES)
    pairs = [(t, p) for t in targets for p in probes]
    results, engine = run_pairs(pairs, cassettes, mode)
    records = charge_unseen_findings([record_of(r) for r in results], [record_of(r) for r in engine.owner_results])
    doc = build_results(records, targets, record_mode=mode, probes=probe_by_id(), started=now(), finished=now())
    return {(t, f): (c["status"], c["support"], c["conformance"]) for f, per in doc["features"].items()
            for t, c in per.items()}


@cache
def full_replay() -> dict[tuple[str, str], Any]:
    return cells(REFERENCES, [], BUNDLED, "none")


def differing(selected: dict[tuple[str, str], Any], full: dict[tuple[str, str], Any]) -> list[str]:
    return [f"{t} · {f}: {v} where the full run has {full.get((t, f))}" for (t, f), v in sorted(selected.items())
            if full.get((t, f)) != v]


@pytest.mark.slow
@pytest.mark.parametrize("prefix", GROUPS + SINGLES)
def test_a_selection_of_the_embedded_default_gives_the_full_runs_cells(prefix: str) -> None:
    selected = cells(REFERENCES, [prefix], BUNDLED, "none")
    assert selected and differing(selected, full_replay()) == []


def test_owner_probes_are_added_only_for_what_a_selection_leaves_out() -> None:
    """The full registry needs no owner's probe added; a selection gets only the owning features' probes it lacks."""
    target = REFERENCES[0]
    assert owners_of([(target, p) for p in PROBES]) == []
    added = owners_of([(target, probe_by_id()["tools.tool_choice.named"])])
    assert added and {p.feature for _, p in added} <= {"chat.completion", "request.stream", "request.tools",
                                                       "request.logprobs", "stream.done_sentinel", "stream.usage_chunk",
                                                       "stream.tool_call_deltas", "stream.n_interleave",
                                                       "tools.parallel_calls", "errors.invalid_value"}


def test_the_users_command_selecting_tools_on_vllm_is_green(tmp_path: Path) -> None:
    """The reported case: `--target vllm --probe tools` on the bundled recordings failed 12 cells ("DRIFT …
    SUPPORTED → SUPPORTED · NON_STRICT") because vllm's envelope findings came back to the tools probes."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--target",
                           "vllm", "--probe", "tools", "--report-dir", str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)
    # no DRIFT: every selected cell is the cell the embedded default's expectations (its full run) hold
    assert proc.returncode == 0 and "DRIFT" not in proc.stdout and "no verdict changed" in proc.stdout, \
        proc.stdout[-3000:]
    assert len(json.loads((tmp_path / "results.json").read_text())["features"]) > 10


@pytest.mark.slow
def test_a_live_selection_gives_the_full_live_runs_cells(tmp_path: Path) -> None:
    """Live against a fake whose streams break request.stream's rules (a JSON body where a stream was asked): the
    streaming probes' cells are the same whether the run selects them alone or runs everything."""
    with FakeServer(FakeConfig(ignore={"stream"})) as srv:
        target = Target("fake", srv.base_url, "fake-model", high_temperature=2.0)
        full = cells([target], [], tmp_path / "full", "all")
        for prefix in ("stream", "tools", "request.n", "sdk"):
            selected = cells([target], [prefix], tmp_path / prefix, "all")
            assert selected and differing(selected, full) == [], prefix


def test_a_finding_its_owner_never_shows_comes_back_to_the_probe_that_saw_it(tmp_path: Path) -> None:
    """litellm-vllm streams n=2 with no role in choice 1's first delta; request.stream's own probes (n=1) never
    show it. Selected alone, request.n.streamed still gets it back (the owner's probes ran and did not show it),
    as in the full run: request.n stays NON_STRICT, as its hand-checked truth says."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "conformance", "-q", "-p", "no:cacheprovider", "--target",
                           "litellm-vllm", "--probe", "request.n.streamed", "--report-dir", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert "DRIFT" not in proc.stdout and "no verdict changed" in proc.stdout, proc.stdout[-3000:]
    record = json.loads((tmp_path / "results.json").read_text())["features"]["request.n"]["litellm-vllm"]
    assert record["conformance"] == "NON_STRICT"
    assert any("charged here: request.stream's own probes do not show it" in n for n in record["notes"]), record


def rec(target: str, feature: str, findings: list[dict[str, Any]], also: list[dict[str, Any]]) -> dict[str, Any]:
    return {"target": target, "feature": feature, "probe": feature, "status": "OK", "support": "SUPPORTED",
            "conformance": "OK", "notes": [], "findings": findings, "measurements": {"also_seen": also}}


def test_the_owners_records_decide_and_deciding_twice_changes_nothing() -> None:
    finding = {"part": "stream", "pointer": "/chunks/0/x", "rule": "stream.content_type", "level": "compat",
               "message": "not an event stream", "expected": None, "actual": None}
    saw = rec("t", "stream.padding", [], [{"owner": "request.stream", **finding}])
    owner = rec("t", "request.stream", [finding], [])
    kept = charge_unseen_findings([saw], [owner])
    assert kept[0]["conformance"] == "OK" and kept[0]["measurements"]["also_seen"][0]["owner_shows"]
    assert charge_unseen_findings(kept) == kept  # build_results charges again without the owners' records
    back = charge_unseen_findings([saw], [rec("t", "request.stream", [], [])])
    assert back[0]["conformance"] == "FAILED" and back[0]["measurements"]["charged_back"]
    assert charge_unseen_findings(back) == back

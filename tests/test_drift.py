"""Drift gate: expectations written from results, compared, flaky handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.report.drift import (
    ExpectationsError,
    compare_to_expectations,
    failing,
    load_expectations,
    write_expectations,
)
from conformance.report.results_io import load_results

DATA = Path(__file__).parent / "data" / "results"


@pytest.fixture
def both() -> dict:
    return load_results(DATA / "openai_mistral.json")


def test_round_trip_has_no_changes(both: dict, tmp_path: Path) -> None:
    path = tmp_path / "exp.json"
    write_expectations(both, path)
    exp = load_expectations(path)
    assert exp["targets"]["mistral"]["features"]["request.seed"] == {
        "status": "OK", "support": "REJECTED", "conformance": "NON_STRICT"}
    assert exp["targets"]["openai"]["flaky"] == ["tools.parallel_calls"]  # flagged in the results
    assert compare_to_expectations(both, exp) == []


def test_results_file_works_as_expectations(both: dict) -> None:
    assert compare_to_expectations(both, load_expectations(DATA / "openai_mistral.json")) == []


def test_changed_absent_new(both: dict, tmp_path: Path) -> None:
    exp = load_expectations(DATA / "openai_mistral.json")
    both["features"]["request.temperature"]["openai"]["support"] = "IGNORED"
    del both["features"]["request.n"]["mistral"]
    both["features"]["request.brand_new"] = {"mistral": dict(both["features"]["request.seed"]["mistral"])}
    changes = compare_to_expectations(both, exp)
    by = {(c.target, c.feature): c for c in changes}
    temp = by[("openai", "request.temperature")]
    assert temp.kind == "changed" and temp.axes == ["support"] and temp.fails
    assert temp.was["support"] == "SUPPORTED" and temp.now["support"] == "IGNORED"
    assert "temperature" in temp.evidence or "HTTP 200" in temp.evidence
    assert by[("mistral", "request.n")].kind == "absent" and by[("mistral", "request.n")].fails
    assert by[("mistral", "request.brand_new")].kind == "new"
    assert not by[("mistral", "request.brand_new")].fails
    assert len(failing(changes)) == 2
    assert "SUPPORTED → IGNORED" in temp.describe()


def test_flaky_is_reported_never_fails(both: dict, tmp_path: Path) -> None:
    path = tmp_path / "exp.json"
    write_expectations(both, path)
    data = json.loads(path.read_text())
    data["targets"]["mistral"]["flaky"] = ["request.temperature"]
    path.write_text(json.dumps(data))
    both["features"]["request.temperature"]["mistral"]["support"] = "UNVERIFIABLE"
    changes = compare_to_expectations(both, load_expectations(path))
    assert len(changes) == 1 and changes[0].flaky and not changes[0].fails
    write_expectations(both, path)  # regenerating keeps the hand-kept flaky list
    assert json.loads(path.read_text())["targets"]["mistral"]["flaky"] == ["request.temperature"]


def test_only_some_targets_and_missing_target(both: dict, tmp_path: Path) -> None:
    path = tmp_path / "exp.json"
    write_expectations(both, path, targets=["mistral"])
    assert list(load_expectations(path)["targets"]) == ["mistral"]
    only_openai = load_results(DATA / "openai.json")
    changes = compare_to_expectations(only_openai, load_expectations(path))
    assert [(c.kind, c.fails) for c in changes] == [("target_absent", False)]


def test_bad_expectations_file(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    with pytest.raises(ExpectationsError, match="update-expectations"):
        load_expectations(bad)
    bad.write_text("not json")
    with pytest.raises(ExpectationsError, match="x.json"):
        load_expectations(bad)


def test_a_cell_skipped_for_a_missing_extra_is_not_drift_but_other_skips_are() -> None:
    """Without the [sdk] extra the SDK probes end SKIPPED: their expectations are not checked (and the run says
    what to install); a cell skipped for any other reason (no recording, no key) is still a changed verdict."""
    expectations = {"kind": "conformance-expectations", "version": 1, "targets": {"t": {"features": {
        "sdk.openai.chat": {"status": "OK", "support": "SUPPORTED", "conformance": "OK"},
        "request.seed": {"status": "OK", "support": "SUPPORTED", "conformance": "OK"}}}}}
    skipped = {"status": "SKIPPED", "support": None, "conformance": None, "evidence": []}
    missing = "the openai SDK is not installed: pip install 'openai-conformance[sdk]' (tested openai>=2.0,<4)"
    no_recording = "no recording of this request (replay only)"
    results = {"targets": {"t": {}}, "features": {  # the cause travels as data (SkipCause), not in the note's words
        "sdk.openai.chat": {"t": {**skipped, "notes": [missing], "evidence": [
            {"probe": "sdk.openai.chat", "status": "SKIPPED", "notes": [missing], "skip_cause": "no_client"}]}},
        "request.seed": {"t": {**skipped, "notes": [no_recording], "evidence": [
            {"probe": "request.seed", "status": "SKIPPED", "notes": [no_recording], "skip_cause": "no_recording"}]}}}}
    changes = {c.feature: c for c in compare_to_expectations(results, expectations)}
    assert changes["sdk.openai.chat"].kind == "not_installed" and not changes["sdk.openai.chat"].fails
    assert changes["request.seed"].kind == "changed" and changes["request.seed"].fails

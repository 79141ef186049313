"""The report command, results loading / merging, junit.xml and summary.md, all from results files."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.report.report_cli import main
from conformance.report.results_io import ResultsError, load_results, merge_results, validate_results
from conformance.report.summary_md import md_text, render_summary_md

DATA = Path(__file__).parent / "data" / "results"
OPENAI, MISTRAL, BOTH = DATA / "openai.json", DATA / "mistral.json", DATA / "openai_mistral.json"
OUTPUTS = ("results.json", "compat.html", "report.html", "summary.md", "junit.xml")


def test_report_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(OPENAI), str(MISTRAL), "-o", str(tmp_path), "--baseline", "openai"]) == 0
    for name in OUTPUTS:
        assert (tmp_path / name).stat().st_size > 0, name
    merged = load_results(tmp_path / "results.json")
    assert list(merged["targets"]) == ["openai", "mistral"]
    assert merged["run"]["baseline"] == "openai"
    assert merged["run"]["sources"] == [str(OPENAI), str(MISTRAL)]
    assert "Migration plan: from openai" in (tmp_path / "compat.html").read_text()
    assert "reports written" in capsys.readouterr().out


def test_junit_from_results(tmp_path: Path) -> None:
    assert main([str(BOTH), "-o", str(tmp_path)]) == 0
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert int(suite.get("tests")) == len(cases) == 45
    assert cases["mistral::stream.tool_call_deltas"].find("failure") is not None  # conformance FAILED
    assert cases["mistral::request.top_p"].find("failure") is not None  # TIMEOUT
    assert cases["mistral::tools.parallel_calls"].find("skipped") is not None
    assert cases["mistral::request.seed"].find("failure") is None  # REJECTED is a verdict, not a failure
    assert suite.get("failures") == "2" and suite.get("skipped") == "1"


def test_baseline_path_is_merged_in(tmp_path: Path) -> None:
    assert main([str(MISTRAL), "-o", str(tmp_path), "--baseline", str(OPENAI)]) == 0
    merged = json.loads((tmp_path / "results.json").read_text())
    assert merged["run"]["baseline"] == "openai"
    assert list(merged["targets"]) == ["openai", "mistral"]
    # the same target name in the baseline file is kept apart, named after its run date
    assert main([str(BOTH), "-o", str(tmp_path / "b"), "--baseline", str(OPENAI)]) == 0
    merged = json.loads((tmp_path / "b" / "results.json").read_text())
    assert merged["run"]["baseline"] == "openai@2026-11-20"
    assert "openai@2026-11-20" in merged["features"]["request.seed"]


def test_drift_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = tmp_path / "expectations" / "nightly.json"
    assert main([str(BOTH), "-o", str(tmp_path / "r"), "--expect", str(exp), "--update-expectations"]) == 0
    assert exp.exists()
    assert main([str(BOTH), "-o", str(tmp_path / "r"), "--expect", str(exp)]) == 0
    changed = load_results(BOTH)
    changed["features"]["request.temperature"]["mistral"]["support"] = "IGNORED"
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(changed))
    capsys.readouterr()
    assert main([str(path), "-o", str(tmp_path / "r"), "--expect", str(exp)]) == 1
    out = capsys.readouterr().out
    assert "DRIFT mistral · request.temperature: SUPPORTED → IGNORED" in out
    assert "Drift changes (fail the gate)" in (tmp_path / "r" / "summary.md").read_text()


def test_unusable_input_is_a_usage_error_exit_4_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"schema_version": 1, "run": {}, "targets": {}, "features": {}}))
    assert main([str(bad), "-o", str(tmp_path / "r")]) == 4
    err = capsys.readouterr().err
    assert "bad.json at /run" in err and "required property" in err and len(err.strip().splitlines()) == 1
    assert main([str(tmp_path / "missing.json"), "-o", str(tmp_path / "r")]) == 4
    assert main([str(BOTH), "-o", str(tmp_path / "r"), "--baseline", "nope"]) == 4
    assert "neither a results file nor a target" in capsys.readouterr().err
    assert main([str(BOTH), "-o", str(tmp_path / "r"), "--expect", str(tmp_path / "none.json")]) == 4
    (tmp_path / "uses.toml").write_text("features = 3")
    assert main([str(BOTH), "-o", str(tmp_path / "r"), "--uses", str(tmp_path / "uses.toml")]) == 4
    capsys.readouterr()
    assert main([str(BOTH), "--bogus"]) == 4
    assert capsys.readouterr().err.strip().splitlines() == [
        "python -m conformance report: error: unrecognized arguments: --bogus; see --help"]


def test_load_results_errors_name_file_and_pointer(tmp_path: Path) -> None:
    data = load_results(BOTH)
    data["features"]["request.seed"]["mistral"]["support"] = "MAYBE"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ResultsError) as info:
        load_results(path)
    assert info.value.pointer == "/features/request.seed/mistral/support"
    assert str(path) in str(info.value) and "MAYBE" in str(info.value)
    path.write_text("{")
    with pytest.raises(ResultsError, match="not JSON"):
        load_results(path)
    assert validate_results(load_results(BOTH)) == []


def test_merge_rules() -> None:
    a, b = load_results(OPENAI), load_results(MISTRAL)
    merged = merge_results([a, b], ["a.json", "b.json"])
    assert validate_results(merged) == []
    assert merged["run"]["requests"] == a["run"]["requests"] + b["run"]["requests"]
    assert merged["run"]["tokens"]["total"] == a["run"]["tokens"]["total"] + b["run"]["tokens"]["total"]
    assert merged["run"]["counts"]["support.SUPPORTED"] == (
        a["run"]["counts"]["support.SUPPORTED"] + b["run"]["counts"]["support.SUPPORTED"])
    assert merged["run"]["sources"] == ["a.json", "b.json"]
    assert merged["run"]["complete"] is True
    # same name, same base URL: the later file wins
    later = copy.deepcopy(a)
    later["run"]["started"] = "2026-11-22T00:00:00Z"
    later["features"]["request.seed"]["openai"]["support"] = "IGNORED"
    merged = merge_results([a, later])
    assert list(merged["targets"]) == ["openai"]
    assert merged["features"]["request.seed"]["openai"]["support"] == "IGNORED"
    # same name, different base URL: the later one is renamed with its run date
    other = copy.deepcopy(later)
    other["targets"]["openai"]["base_url"] = "http://127.0.0.1:8000/v1"
    other["run"]["complete"] = False
    merged = merge_results([a, other])
    assert list(merged["targets"]) == ["openai", "openai@2026-11-22"]
    assert merged["features"]["request.seed"]["openai"]["support"] == "SUPPORTED"
    assert merged["features"]["request.seed"]["openai@2026-11-22"]["support"] == "IGNORED"
    assert merged["run"]["complete"] is False
    assert a["targets"].keys() == {"openai"}  # inputs untouched


def test_summary_escapes_and_fits() -> None:
    assert md_text("a|b\nc") == "a\\|b c"
    assert md_text("<script>") == "&lt;script&gt;"
    assert md_text("x" * 1000).endswith("(840 more characters)")
    results = load_results(BOTH)
    results["features"]["request.seed"]["mistral"]["notes"] = ["evil | note\nwith newline " + "y" * 5000]
    md = render_summary_md(results, "openai")
    line = next(x for x in md.splitlines() if "`request.seed`" in x and "evil" in x)
    assert "\\|" in line and len(line) < 800
    assert md.index("## Top findings") < md.index("## Matrix")
    assert md.index("Conformance FAILED") < md.index("**REJECTED**")
    assert "| `request.seed` | SUPPORTED | REJECTED · NON_STRICT |" in md
    assert len(md.encode()) < 1_000_000


def test_merging_the_same_target_twice_keeps_the_later_run_and_counts_once(tmp_path: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    first = load_results(BOTH)
    later = copy.deepcopy(first)
    later["run"]["started"] = "2026-11-23T00:00:00Z"
    later["run"]["record_mode"] = "all"
    later["run"]["live_requests"] = later["run"]["requests"]
    later["run"]["problems"] = ["cassette x could not be saved"]
    for info in later["targets"].values():
        info["live"] = True
    del later["features"]["request.seed"]["openai"]  # not tested by the later run: the earlier verdict goes too
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(first))
    b.write_text(json.dumps(later))
    assert main([str(a), str(b), "-o", str(tmp_path / "out")]) == 0
    assert "b.json replaces" in capsys.readouterr().out
    merged = json.loads((tmp_path / "out" / "results.json").read_text())
    assert validate_results(merged) == []
    assert sorted(merged["targets"]) == sorted(first["targets"])
    probes = sum(len(c["evidence"]) for cells in later["features"].values() for c in cells.values())
    assert merged["run"]["counts"]["probes"] == probes  # not first + later
    assert merged["run"]["requests"] == later["run"]["requests"]
    assert "openai" not in merged["features"]["request.seed"]
    assert merged["run"]["problems"] == [f"{b}: cassette x could not be saved"]
    assert merged["run"]["record_mode"] == "all"  # live traffic is never labelled replay
    assert merged["run"]["record_modes"] == {str(a): "none", str(b): "all"}
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "a.json: none" in summary and "b.json: all" in summary
    assert len(merged["run"]["replaced"]) == len(first["targets"])

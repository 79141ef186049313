"""The conformance summary at the end of a run, built from a results dict alone."""

from __future__ import annotations

from pathlib import Path

from conformance.report.results_io import load_results
from conformance.report.terminal_summary import Severity, alert, summary_lines

DATA = Path(__file__).parent / "data" / "results"


def lines_of(**changes: object) -> list[str]:
    results = load_results(DATA / "openai_mistral.json")
    for key, value in changes.items():
        results["targets"][key]["concurrency"] = value
    return [line.text for line in summary_lines(results, "out", ["mistral · stream.tool_call_deltas"], "exp.json",
                                                [alert("DRIFT mistral · request.n: SUPPORTED → REJECTED")])]


def test_per_target_counts_failed_cells_with_their_rule_and_the_differences() -> None:
    text = "\n".join(lines_of())
    assert "openai (https://api.openai.com/v1, gpt-4o-mini): 20 SUPPORTED · 1 REJECTED · 2 UNVERIFIABLE" in text
    assert ("mistral · stream.tool_call_deltas: SUPPORTED · FAILED; rule required: 'index' is a required property "
            "[known deviation, expected]") in text
    assert "mistral · request.top_p: TIMEOUT; no answer within 30 s" in text  # no rule: the note says why
    assert "request.seed: mistral REJECTED · NON_STRICT, openai SUPPORTED" in text
    assert "55 requests replayed from cassettes, none sent live (nothing spent)" in text
    assert "reports: out/compat.html" in text
    assert "None" not in text


def test_the_last_line_counts_confirmed_deviations_and_changes() -> None:
    lines = lines_of()
    assert lines[-1] == "expectations exp.json: 1 known deviation confirmed, 1 verdict(s) changed"
    assert lines[-2] == "  DRIFT mistral · request.n: SUPPORTED → REJECTED"


def test_the_concurrency_reached_is_shown_when_the_run_recorded_it() -> None:
    text = "\n".join(lines_of(openai={"configured": 4, "reached": 1, "reason": "one request at a time"}))
    assert "concurrency 1 of 4 (one request at a time)" in text
    assert "concurrency" not in "\n".join(lines_of())


def test_a_failed_cell_names_the_probe_when_its_id_is_not_the_feature_id() -> None:
    """The terminal's test ids are probe ids, the reports' rows feature ids: both are shown together."""
    results = load_results(DATA / "openai_mistral.json")
    results["features"]["stream.tool_call_deltas"]["mistral"]["evidence"][0]["probe"] = "stream.tool_deltas.index"
    text = "\n".join(line.text for line in summary_lines(results, "out", [], None, []))
    assert "mistral · stream.tool_call_deltas (probe stream.tool_deltas.index): SUPPORTED · FAILED" in text


def test_lines_carry_their_severity_so_the_terminal_never_colours_by_words() -> None:
    results = load_results(DATA / "openai_mistral.json")
    results["run"]["problems"] = ["internal error in the suite: ValueError: x"]
    results["run"]["complete"] = False
    lines = summary_lines(results, "out", [], "exp.json", [alert("DRIFT x · y: OK → ERROR")])
    alerts = [line.text for line in lines if line.severity is Severity.ALERT]
    assert alerts[0].startswith("INCOMPLETE: ") and "PROBLEM: internal error in the suite: ValueError: x" in alerts
    assert alerts[-1].endswith("1 verdict(s) changed")
    calm = summary_lines(results | {"run": {**results["run"], "problems": [], "complete": True}}, "out", [], None, [])
    assert all(line.severity is Severity.INFO for line in calm)

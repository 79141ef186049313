"""The decision a reviewer reads first: per compared pair (or per target without a baseline) GO / GO WITH CHANGES /
NO-GO with the rule that made it, blocker and warning counts, unexpected failures apart from confirmed known
deviations, and the alerts (incomplete run, a run that fails). Built from the results dict alone, like every report.
"""

from __future__ import annotations

from typing import Any

from conformance.report.documented import resolve_baseline
from conformance.report.drift import is_known_deviation
from conformance.report.migration import NO_GO, migration_diff, self_plan
from conformance.report.results_io import is_failed, iter_cells

TOP_BLOCKERS = 3


def failures(results: dict[str, Any]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(unexpected, known): the failing (target, feature) cells, split by whether the run confirmed them as known
    deviations (expected cells, see report/drift.known_deviations)."""
    unexpected: list[tuple[str, str]] = []
    known: list[tuple[str, str]] = []
    for fid, name, res in iter_cells(results):
        if is_failed(res):
            (known if is_known_deviation(results, name, fid) else unexpected).append((name, fid))
    return unexpected, known


def alerts(results: dict[str, Any]) -> list[str]:
    """What a reviewer must see before any verdict: an incomplete run, a run that exits non-zero and why."""
    run = results.get("run", {})
    out: list[str] = []
    if not run.get("complete", True):
        out.append(f"INCOMPLETE RUN: {run.get('interrupted_reason') or 'not every probe ended'}. Missing cells mean "
                   "“not tested”, not “unsupported”.")
    unexpected, _known = failures(results)
    reasons = []
    if unexpected:
        reasons.append(f"{len(unexpected)} unexpected failure(s)")
    if run.get("drift_failures"):
        reasons.append(f"{run['drift_failures']} verdict(s) changed against the expectations")
    if run.get("problems"):
        reasons.append(f"{len(run['problems'])} problem(s) with the run's input")
    status = run.get("exit_status")
    if isinstance(status, int) and status != 0:
        out.append(f"THE RUN EXITED {status}" + (f": {'; '.join(reasons)}" if reasons else ""))
    elif reasons:
        out.append("FAILING: " + "; ".join(reasons) + " (a pytest run with these cells exits 1)")
    return out


def plan(results: dict[str, Any], baseline: str | None, uses: dict[str, Any] | None) -> dict[str, Any]:
    """The migration plan against the baseline, or every target judged on its own without one."""
    return migration_diff(results, baseline, uses) if baseline else self_plan(results, uses)


def first_screen(results: dict[str, Any], baseline: str | None, uses: dict[str, Any] | None,
                 the_plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"alerts", "unexpected", "known", "baseline", "uses", "pairs": [{baseline, target, decision, rule, counts,
    unexpected, known, top}]}: everything the first viewport of compat.html and the end of the terminal show."""
    the_plan = the_plan or plan(results, baseline, uses)
    unexpected, known = failures(results)
    pairs = []
    for name, entry in the_plan["targets"].items():
        blockers = [i for i in entry["items"] if i["rank"] == "blocker" and (uses is None or i["used"])]
        pairs.append({
            "baseline": baseline,
            "target": name,
            "decision": entry["decision"],
            "rule": entry["rule"],
            "counts": entry["scope_counts"],
            "unexpected": sum(1 for t, _ in unexpected if t == name),
            "known": sum(1 for t, _ in known if t == name),
            "top": blockers[:TOP_BLOCKERS],
        })
    return {"alerts": alerts(results), "unexpected": unexpected, "known": known, "baseline": baseline,
            "uses": (uses or {}).get("features"), "pairs": pairs, "rule": the_plan.get("rule")}


def decision_rows(results: dict[str, Any], baseline: str | None,
                  uses: dict[str, Any] | None) -> list[tuple[str, bool]]:
    """The terminal's closing lines, each with whether it is a NO-GO decision: verdict per pair with its rule, and
    the top blockers with their fixes."""
    results, baseline = resolve_baseline(results, baseline)
    screen = first_screen(results, baseline, uses)
    rows = [(f"migration decision (from {baseline}" + (f", for the {len(screen['uses'])} features the app uses"
                                                       if screen["uses"] is not None else "") + "):", False)]
    for pair in screen["pairs"]:
        rows.append((f"  {baseline} → {pair['target']}: {pair['rule']}", pair["decision"] == NO_GO))
        for item in pair["top"]:
            fix = (f"fix ({item['fix_status']}): {item['fix']}" if item.get("fix") else "no known fix")
            known = " [known deviation]" if item.get("known_deviation") else ""
            rows.append((f"    {item['feature']} ({item['harm']}){known}: {item['evidence_line'][:240]}; {fix}",
                         False))
    return rows


def decision_lines(results: dict[str, Any], baseline: str | None, uses: dict[str, Any] | None) -> list[str]:
    """The closing lines as text (the report command's output)."""
    return [text for text, _ in decision_rows(results, baseline, uses)]

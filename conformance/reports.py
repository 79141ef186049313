"""Writes every report file of a run from its results dict (never from pytest internals)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from conformance import drift, migration
from conformance.report_html import write_compat_html, write_report_html
from conformance.results_io import ResultsError, load_results, merge_results, validate_results


def resolve_baseline(results: dict[str, Any], baseline: str | None) -> tuple[dict[str, Any], str | None]:
    """A baseline is a target of this run, or a stored results.json merged in (its first target)."""
    if not baseline or baseline in results.get("targets", {}):
        return results, baseline
    path = Path(baseline)
    if not path.exists():
        raise ResultsError(path, "", f"--baseline {baseline}: neither a target of this run "
                                     f"({', '.join(results.get('targets', {}))}) nor a results file")
    stored = load_results(path)
    merged = merge_results([stored, results], sources=[str(path), "this run"])
    names = list(stored.get("targets", {}))
    return merged, (names[0] if names else None)


def write_report_files(results: dict[str, Any], out: Path, *, baseline: str | None = None, uses: str | None = None,
                       expect: str | None = None, update_expectations: bool = False,
                       pytest_files: bool = False) -> list[str]:
    """results.json, compat.html, summary.md (and, outside pytest, report.html and junit.xml).

    Returns the drift lines (empty when no --expect or nothing changed).
    """
    out.mkdir(parents=True, exist_ok=True)
    problems = validate_results(results)
    if problems:
        raise ResultsError(out / "results.json", "", "the run produced an invalid results.json: " + problems[0])
    (out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False, sort_keys=False))
    view, base_name = resolve_baseline(results, baseline)
    uses_doc = migration.load_uses(uses) if uses else None
    changes: list[Any] = []
    if expect:
        if update_expectations:
            drift.write_expectations(results, expect)
        else:
            changes = drift.compare_to_expectations(results, drift.load_expectations(expect))
    write_compat_html(view, out / "compat.html", baseline=base_name, uses=uses_doc)
    from conformance.summary_md import write_summary_md

    failing = drift.failing(changes)
    write_summary_md(view, out / "summary.md", baseline=base_name, uses=uses_doc, drift_changes=changes or None)
    if not pytest_files:
        write_report_html(view, out / "report.html")
        from conformance.report_cli import write_junit

        write_junit(view, out / "junit.xml")
    return [str(c) for c in failing]

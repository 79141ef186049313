"""`python -m conformance report RESULTS.json… -o DIR`: rebuild every report from results files, offline.

Writes DIR/results.json (merged), compat.html, report.html, summary.md and junit.xml.
Exit codes: 0 done; 1 drift changes against --expect; 2 unusable input (the message says which file).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conformance.drift import (
    Change,
    ExpectationsError,
    compare_to_expectations,
    failing,
    load_expectations,
    write_expectations,
)
from conformance.migration import UsesError, load_uses
from conformance.report_html import write_compat_html, write_report_html
from conformance.results_io import (
    ResultsError,
    iter_cells,
    load_results,
    merge_results,
    validate_results,
    verdict_text,
)
from conformance.summary_md import write_summary_md

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the report command."""
    p = argparse.ArgumentParser(
        prog="python -m conformance report",
        description="Rebuild compat.html, report.html, summary.md and junit.xml from results.json files "
        "(merged side by side), offline.",
    )
    p.add_argument("results", nargs="+", type=Path, help="results.json files; several are merged")
    p.add_argument("-o", "--output", type=Path, default=Path("reports"), help="report directory (default reports/)")
    p.add_argument("--baseline", metavar="NAME|PATH",
                   help="target to compare the others with, or a results.json whose targets are merged in as "
                   "the baseline (its first target)")
    p.add_argument("--uses", type=Path, metavar="FILE",
                   help="TOML/JSON listing the features or parameters the app uses (features = [...]); "
                   "gives a go / no-go per target")
    p.add_argument("--expect", type=Path, metavar="FILE",
                   help="expectations (or a results.json) for the drift gate: exit 1 when a verdict changed")
    p.add_argument("--update-expectations", action="store_true",
                   help="write this run's verdicts to --expect FILE (default DIR/expectations.json), keeping "
                   "its flaky lists, and exit 0")
    return p


def _merge_baseline_file(results: dict[str, Any], base: dict[str, Any], source: str) -> tuple[dict[str, Any], str]:
    """Merge a baseline results file in front of `results`; its targets are renamed if the names clash."""
    base = copy.deepcopy(base)
    date = str(base["run"].get("started", ""))[:10] or "baseline"
    rename = {}
    for name in list(base["targets"]):
        if name in results["targets"]:
            new = f"{name}@{date}"
            if new in results["targets"]:
                new = f"{name}@baseline"
            rename[name] = new
    base["targets"] = {rename.get(n, n): v for n, v in base["targets"].items()}
    for fid, cells in base["features"].items():
        base["features"][fid] = {rename.get(n, n): v for n, v in cells.items()}
    if not base["targets"]:
        raise ResultsError(source, "/targets", "the baseline results file has no targets")
    baseline = next(iter(base["targets"]))
    merged = merge_results([base, results], [source, *results["run"].get("sources", [])])
    return merged, baseline


def junit_xml(results: dict[str, Any]) -> bytes:
    """A JUnit XML document: one testcase per target::feature; failures for conformance FAILED and
    status ERROR/TIMEOUT, skipped for SKIPPED."""
    suite = ET.Element("testsuite", name="conformance")
    tests = fails = skips = 0
    for fid, target, res in iter_cells(results):
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=f"conformance.{target}", name=f"{target}::{fid}")
        notes = "\n".join(res.get("notes") or [])
        word = verdict_text(res)
        if res.get("status") in ("ERROR", "TIMEOUT") or res.get("conformance") == "FAILED":
            fails += 1
            el = ET.SubElement(case, "failure", message=_XML_BAD.sub("?", f"{word}: {notes[:300]}"),
                               type=str(res.get("status") if res.get("status") != "OK" else "FAILED"))
            el.text = _XML_BAD.sub("?", notes)
        elif res.get("status") == "SKIPPED":
            skips += 1
            ET.SubElement(case, "skipped", message=_XML_BAD.sub("?", notes[:300] or "precondition unmet"))
        out = ET.SubElement(case, "system-out")
        out.text = _XML_BAD.sub("?", f"verdict: {word}\n{notes}")
    suite.set("tests", str(tests))
    suite.set("failures", str(fails))
    suite.set("errors", "0")
    suite.set("skipped", str(skips))
    suite.set("time", str(results["run"].get("duration_s", 0)))
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write_reports(results: dict[str, Any], out: Path, baseline: str | None = None,
                  uses: dict[str, Any] | None = None, changes: list[Change] | None = None) -> None:
    """Write results.json, compat.html, report.html, summary.md and junit.xml into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    write_compat_html(results, out / "compat.html", baseline, uses)
    write_report_html(results, out / "report.html")
    write_summary_md(results, out / "summary.md", baseline, uses, changes)
    (out / "junit.xml").write_bytes(junit_xml(results))


def main(argv: list[str] | None = None) -> int:
    """Run the report command; returns the exit code (0 ok, 1 drift, 2 unusable input)."""
    args = build_parser().parse_args(argv)
    try:
        loaded = [load_results(p) for p in args.results]
        results = merge_results(loaded, [str(p) for p in args.results])
        baseline = args.baseline
        if baseline and (baseline.endswith(".json") or Path(baseline).is_file()):
            results, baseline = _merge_baseline_file(results, load_results(baseline), baseline)
        if baseline is None and results["run"].get("baseline") in results["targets"]:
            baseline = results["run"]["baseline"]
        if baseline is not None and baseline not in results["targets"]:
            known = ", ".join(results["targets"])
            print(f"error: --baseline {baseline!r} is neither a results file nor a target (targets: {known})",
                  file=sys.stderr)
            return 2
        results["run"]["baseline"] = baseline
        problems = validate_results(results)
        if problems:
            print(f"error: merged results are invalid: {problems[0]}", file=sys.stderr)
            return 2
        uses = load_uses(args.uses) if args.uses else None
        changes: list[Change] | None = None
        if args.expect and args.expect.exists():
            changes = compare_to_expectations(results, load_expectations(args.expect))
        elif args.expect and not args.update_expectations:
            print(f"error: --expect {args.expect}: no such file; create it with --update-expectations",
                  file=sys.stderr)
            return 2
    except (ResultsError, UsesError, ExpectationsError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    write_reports(results, args.output, baseline, uses, changes)
    print(f"reports written to {args.output}/ (compat.html, report.html, summary.md, junit.xml, results.json)")
    if args.update_expectations:
        target = args.expect or args.output / "expectations.json"
        write_expectations(results, target)
        print(f"expectations updated: {target}")
        return 0
    if changes is not None:
        bad = failing(changes)
        for c in changes:
            if c.kind in ("changed", "absent"):
                print(("DRIFT " if c.fails else "flaky ") + c.describe())
        if bad:
            print(f"{len(bad)} drift change(s) against {args.expect}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

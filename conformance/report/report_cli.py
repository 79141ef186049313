"""`python -m conformance report RESULTS.json… -o DIR`: rebuild every report from results files, offline.

Writes DIR/results.json (merged), compat.html, report.html, summary.md and junit.xml.
Exit codes: 0 done; 1 drift changes against --expect; 4 a usage error (one line: the option or file at fault).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, NoReturn

from conformance.model.verdicts import Conformance, Status
from conformance.report.decision import decision_lines
from conformance.report.documented import OPENAI, resolve_baseline
from conformance.report.drift import (
    Change,
    ExpectationsError,
    compare_to_expectations,
    failing,
    is_known_deviation,
    known_deviations,
    load_expectations,
    write_expectations,
)
from conformance.report.migration import UsesError, load_uses
from conformance.report.report_html import write_compat_html, write_report_html
from conformance.report.results_io import (
    ResultsError,
    is_failed,
    iter_cells,
    load_results,
    merge_results,
    validate_results,
    verdict_text,
)
from conformance.report.summary_md import write_summary_md
from conformance.report.terminal_summary import Line, alert, failing_probes

_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


USAGE_ERROR = 4  # every usage error of every command (pytest's code, so `run` says the same)


class UsageError(ValueError):
    """A command line that cannot work; the message is one line."""


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 4 (argparse prints the usage and exits 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: error: {message}; see --help")


def build_parser(prog: str = "python -m conformance report") -> argparse.ArgumentParser:
    """The argument parser of the report command."""
    p = CommandParser(
        prog=prog,
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


def baseline_target_of(base: dict[str, Any]) -> str | None:
    """The target a results file serves as a baseline with: the baseline its own run named, else its first target."""
    named = base["run"].get("baseline")
    return named if named in base["targets"] else next(iter(base["targets"]), None)


def _merge_baseline_file(results: dict[str, Any], base: dict[str, Any], source: str) -> tuple[dict[str, Any], str]:
    """Merge the baseline target of a results file (only that one) in front of `results`; renamed
    `name@<run date>` when `results` has a target of the same name."""
    chosen = baseline_target_of(base)
    if chosen is None:
        raise ResultsError(source, "/targets", "the baseline results file has no targets")
    base = copy.deepcopy(base)
    base["targets"] = {chosen: base["targets"][chosen]}
    base["features"] = {fid: {chosen: cells[chosen]} for fid, cells in base["features"].items() if chosen in cells}
    date = str(base["run"].get("started", ""))[:10] or "baseline"
    name = chosen
    if chosen in results["targets"]:
        name = f"{chosen}@{date}" if f"{chosen}@{date}" not in results["targets"] else f"{chosen}@baseline"
        base["targets"] = {name: base["targets"][chosen]}
        base["features"] = {fid: {name: cells[chosen]} for fid, cells in base["features"].items()}
    merged = merge_results([base, results], [source, *results["run"].get("sources", [])])
    return merged, name


def junit_xml(results: dict[str, Any]) -> bytes:
    """A JUnit XML document: one testcase per target::feature; failures for conformance FAILED and
    status ERROR/TIMEOUT, skipped for SKIPPED and for a confirmed known deviation (type "known-deviation")."""
    suite = ET.Element("testsuite", name="conformance")
    tests = fails = skips = 0
    for fid, target, res in iter_cells(results):
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=f"conformance.{target}", name=f"{target}::{fid}")
        notes = "\n".join(res.get("notes") or [])
        word = verdict_text(res)
        if is_failed(res) and is_known_deviation(results, target, fid):  # expected: never a plain failure
            skips += 1
            ET.SubElement(case, "skipped", type="known-deviation",
                          message=_XML_BAD.sub("?", f"known deviation (expected, confirmed): {word}: {notes[:300]}"))
        elif is_failed(res):
            fails += 1
            probes = failing_probes(res, fid)  # the pytest test ids of the same failure
            via = f" (probe {', '.join(probes)})" if probes else ""
            kind = res.get("status") if res.get("status") != Status.OK else Conformance.FAILED.value
            el = ET.SubElement(case, "failure", message=_XML_BAD.sub("?", f"{word}{via}: {notes[:300]}"),
                               type=str(kind))
            el.text = _XML_BAD.sub("?", notes)
        elif res.get("status") == Status.SKIPPED.value:
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
                  uses: dict[str, Any] | None = None, changes: list[Change] | None = None,
                  pytest_files: bool = False) -> None:
    """Write results.json, compat.html, summary.md, and (unless pytest writes them) report.html and junit.xml."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    view, shown = resolve_baseline(results, baseline)  # `openai` without an OpenAI target: the documented one
    write_compat_html(view, out / "compat.html", shown, uses)
    write_summary_md(view, out / "summary.md", shown, uses, changes)
    if not pytest_files:
        write_report_html(results, out / "report.html")
        (out / "junit.xml").write_bytes(junit_xml(results))


def prepare(results: dict[str, Any], baseline: str | None, uses_path: Path | None, expect: Path | None,
            update_expectations: bool) -> tuple[dict[str, Any], str | None, dict[str, Any] | None,
                                                 list[Change] | None]:
    """Resolve --baseline (a target or a results file), --uses and --expect; raises ResultsError and friends."""
    if baseline and (baseline.endswith(".json") or Path(baseline).is_file()):
        results, baseline = _merge_baseline_file(results, load_results(baseline), baseline)
    if baseline is None and (results["run"].get("baseline") in results["targets"]
                             or results["run"].get("baseline") == OPENAI):
        baseline = results["run"]["baseline"]
    if baseline is not None and baseline not in results["targets"] and baseline != OPENAI:  # openai: documented
        known = ", ".join(results["targets"])
        raise ResultsError(baseline, "", f"--baseline {baseline!r} is neither a results file nor a target "
                                         f"(targets: {known}), nor `openai` (OpenAI's documented behaviour)")
    results["run"]["baseline"] = baseline
    problems = validate_results(results)
    if problems:
        raise ResultsError("results", "", f"invalid results: {problems[0]}")
    uses = load_uses(uses_path) if uses_path else None
    if uses is not None:
        results["run"]["uses"] = {"features": uses["features"], "source": uses["source"]}
    changes: list[Change] | None = None
    if expect and expect.exists() and not update_expectations:
        expectations = load_expectations(expect)
        changes = compare_to_expectations(results, expectations)
        results["run"]["known_deviations"] = known_deviations(results, expectations, changes)
        results["run"]["drift_failures"] = len(failing(changes))
    elif expect and not update_expectations:
        raise ExpectationsError(f"--expect {expect}: no such file; create it with --update-expectations")
    return results, baseline, uses, changes


def drift_lines(changes: list[Change]) -> list[Line]:
    """A line per changed cell (an alert when it fails the drift gate), and one for the cells not run."""
    lines = [alert("DRIFT " + c.describe()) if c.fails else Line("flaky " + c.describe())
             for c in changes if c.kind in ("changed", "absent")]
    skipped = [c for c in changes if c.kind == "not_installed"]
    if skipped:  # once, not per cell: what to install to run them
        lines.append(Line(f"not run: {len(skipped)} expected cell(s) need an optional extra ({skipped[0].evidence}); "
                          "their expectations were not checked"))
    return lines


def finish(results: dict[str, Any], expect: Path | None, update_expectations: bool, out: Path,
           changes: list[Change] | None) -> tuple[int, list[str]]:
    """Write expectations when asked; the exit code (1 on drift) and the lines to print."""
    if update_expectations:
        target = expect or out / "expectations.json"
        write_expectations(results, target)
        return 0, [f"expectations updated: {target}"]
    if changes is None:
        return 0, []
    lines = [line.text for line in drift_lines(changes)]
    bad = failing(changes)
    if bad:
        return 1, lines + [f"{len(bad)} drift change(s) against {expect}"]
    return 0, lines


def main(argv: list[str] | None = None, prog: str = "python -m conformance report") -> int:
    """Run the report command; returns the exit code (0 ok, 1 drift, 4 a usage error: an option or a file that
    cannot be used, in one line)."""
    try:
        args = build_parser(prog).parse_args(argv)
        loaded = [load_results(p) for p in args.results]
        results = merge_results(loaded, [str(p) for p in args.results])
        results, baseline, uses, changes = prepare(results, args.baseline, args.uses, args.expect,
                                                   args.update_expectations)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return USAGE_ERROR
    except (ResultsError, UsesError, ExpectationsError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    write_reports(results, args.output, baseline, uses, changes)
    for note in results["run"].get("replaced") or []:
        print(f"note: {note}")
    print(f"reports written to {args.output}/ (compat.html, report.html, summary.md, junit.xml, results.json)")
    code, lines = finish(results, args.expect, args.update_expectations, args.output, changes)
    if baseline:  # the output ends with the decision
        lines = [*lines[:-1], *decision_lines(results, baseline, uses), *lines[-1:]] if code else [
            *lines, *decision_lines(results, baseline, uses)]
    for i, line in enumerate(lines):
        print(line, file=sys.stderr if code and i == len(lines) - 1 else sys.stdout)  # the count goes to stderr
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

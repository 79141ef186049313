"""The conformance story at the end of a pytest run, built from the results dict alone (like every report)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum
from typing import Any

from conformance.model.verdicts import Status
from conformance.report.decision import decision_rows
from conformance.report.drift import is_known_deviation
from conformance.report.results_io import STATUS_WORDS, SUPPORT_WORDS, is_failed, iter_cells, verdict_text, verdict_word

MAX_DIFFERENCES = 8
MAX_FAILED = 20


class Severity(str, Enum):
    INFO = "info"
    ALERT = "alert"  # the run needs a look: a problem, an incomplete run, a drift, a NO-GO (the terminal's red)


@dataclass(frozen=True)
class Line:
    """A line of the terminal summary, with how much it matters (the terminal colours by it, never by its words)."""

    text: str
    severity: Severity = Severity.INFO

    def __str__(self) -> str:
        return self.text


def alert(text: str) -> Line:
    return Line(text, Severity.ALERT)


def failed_rules(cell: dict[str, Any]) -> list[str]:
    """The MUST rules a cell broke ("rule: message"), from the compat-level findings of its evidence."""
    rules: list[str] = []
    for ev in cell.get("evidence") or []:
        for f in ev.get("findings") or []:
            line = f"{f.get('rule')}: {f.get('message')}"
            if f.get("level") == "compat" and line not in rules:
                rules.append(line)
    return rules


def failing_probes(cell: dict[str, Any], feature: str) -> list[str]:
    """The probe ids behind a failed cell, when they are not simply the feature id (the terminal's test ids)."""
    ids = [ev["probe"] for ev in cell.get("evidence") or [] if isinstance(ev, dict) and ev.get("probe")
           and is_failed(ev)]
    return [] if ids == [feature] else ids


def support_counts(results: dict[str, Any], target: str) -> str:
    """One target's feature cells counted by support verdict (and by status when there is none)."""
    counts: Counter[str] = Counter()
    for _fid, name, cell in iter_cells(results):
        if name == target:
            counts[cell.get("support") or cell.get("status") or "?"] += 1
    order = [*SUPPORT_WORDS, *(w for w in STATUS_WORDS if w != Status.OK.value)]
    return " · ".join(f"{counts[w]} {w}" for w in sorted(counts, key=lambda w: (w not in order, order.index(w)
                                                                                   if w in order else 0, w)))


def concurrency_text(info: dict[str, Any]) -> str:
    """`concurrency 2 of 4: why` when a live run recorded it for a target."""
    conc = info.get("concurrency")
    if not isinstance(conc, dict):
        return ""
    numbers, reason = f"{conc.get('reached')} of {conc.get('configured')}", str(conc.get("reason") or "")
    if reason.startswith(numbers):  # the run's own reason already starts with the numbers
        return f"concurrency {reason}"
    return f"concurrency {numbers}" + (f" ({reason})" if reason else "")


def differences(results: dict[str, Any]) -> list[str]:
    """Features whose support differs between targets, the most different first."""
    rows: list[tuple[int, str, str]] = []
    for fid, cells in results.get("features", {}).items():
        if len(cells) < 2:
            continue
        words = {name: verdict_text(cell) for name, cell in sorted(cells.items())}
        if len(set(words.values())) > 1:  # support differences first, then conformance-only ones
            rank = len({verdict_word(c) for c in cells.values()}) * 10 + len(set(words.values()))
            rows.append((rank, fid, ", ".join(f"{n} {w}" for n, w in words.items())))
    rows.sort(key=lambda r: (-r[0], r[1]))
    return [f"{fid}: {text}" for _, fid, text in rows]


def traffic_text(run: dict[str, Any]) -> str:
    """Requests sent live vs replayed, and tokens spent (only live requests cost anything)."""
    requests, live = run.get("requests", 0), run.get("live_requests", 0)
    replayed = requests - live
    if live == 0:
        return f"{replayed} requests replayed from cassettes, none sent live (nothing spent)"
    tokens = (run.get("tokens") or {}).get("total", 0)
    spent = run.get("spent") or {}
    unreported = f" ({spent['unreported']} answers without usage counted at their estimate)" if spent.get(
        "unreported") else ""
    cost = f"; spent {spent['requests']} requests, {spent['tokens']} tokens{unreported}" if spent else ""
    limit = f" of {estimate_text(run['estimate'])}" if spent and run.get("estimate") else ""
    return f"{live} requests sent live, {replayed} replayed from cassettes; {tokens} tokens in the answers{cost}{limit}"


def estimate_text(estimate: dict[str, Any]) -> str:
    """A live run's pre-run estimate: an upper bound on requests and tokens, every re-send counted."""
    return (f"at most {estimate['requests']} requests ({estimate['planned']} unless an answer calls for more) "
            f"and {estimate['tokens']} tokens")


def summary_lines(results: dict[str, Any], report_dir: str, confirmed: list[str], expectations: str | None,
                  drift: list[Line]) -> list[Line]:
    """The lines of the terminal summary: per target counts, failed cells with their rule, the biggest
    differences, traffic, expectations, problems and where the reports are."""
    run = results.get("run", {})
    lines = [Line(f"{len(results.get('targets', {}))} target(s), {run.get('counts', {}).get('probes', 0)} probes, "
                  f"record mode {run.get('record_mode')}; {traffic_text(run)}")]
    if not run.get("complete", True):
        lines.append(alert(f"INCOMPLETE: {run.get('interrupted_reason') or 'not every probe ended'}"))
    for name, info in results.get("targets", {}).items():
        extra = concurrency_text(info)
        lines.append(Line(f"  {name} ({info.get('base_url')}, {info.get('model')}): {support_counts(results, name)}"
                          + (f"; {extra}" if extra else "")))
    failed = [(fid, name, cell) for fid, name, cell in iter_cells(results) if is_failed(cell)]
    known = {f"{name} · {fid}" for fid, name, cell in failed if f"{name} · {fid}" in confirmed
             or is_known_deviation(results, name, fid)}
    unexpected = [f for f in failed if f"{f[1]} · {f[0]}" not in known]
    expected = [f for f in failed if f"{f[1]} · {f[0]}" in known]
    for title, cells, tag in ((f"failed cells ({len(unexpected)} unexpected):", unexpected, ""),
                              (f"known deviations ({len(expected)}, expected and confirmed: not failures):", expected,
                               " [known deviation, expected]")):
        if not cells:
            continue
        lines.append(Line(title))
        for fid, name, cell in cells[:MAX_FAILED]:
            rules = failed_rules(cell)
            why = f"rule {rules[0]}" if rules else (cell.get("notes") or ["no note"])[0]
            probes = failing_probes(cell, fid)
            via = f" (probe {', '.join(probes)})" if probes else ""
            lines.append(Line(f"  {name} · {fid}{via}: {verdict_text(cell)}; {why}{tag}"))
        if len(cells) > MAX_FAILED:
            lines.append(Line(f"  … and {len(cells) - MAX_FAILED} more (summary.md lists them all)"))
    diffs = differences(results)
    if diffs:
        lines.append(Line(f"biggest differences between targets ({len(diffs)} features differ):"))
        lines.extend(Line(f"  {d}") for d in diffs[:MAX_DIFFERENCES])
    for problem in run.get("problems") or []:
        lines.append(alert(f"PROBLEM: {problem}"))
    lines.append(Line(f"reports: {report_dir}/compat.html (the matrix), summary.md, results.json, report.html, "
                      "junit.xml"))
    if expectations:  # last: the line a CI log reader looks for
        lines.extend(Line(f"  {d.text}", d.severity) for d in drift)
        word = "deviation" if len(confirmed) == 1 else "deviations"
        changed = sum(1 for d in drift if d.severity is Severity.ALERT)
        text = (f"expectations {expectations}: {len(confirmed)} known {word} confirmed"
                + (f", {changed} verdict(s) changed" if changed else ", no verdict changed"))
        lines.append(alert(text) if changed else Line(text))
    baseline = run.get("baseline")
    if baseline:  # the terminal ends with the decision
        lines.extend(Line(text, Severity.ALERT if no_go else Severity.INFO)
                     for text, no_go in decision_rows(results, baseline, run.get("uses")))
    return lines

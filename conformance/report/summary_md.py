"""summary.md: a short Markdown report that fits a GitHub step summary (well under 1 MB).

The decision comes first (GO / GO WITH CHANGES / NO-GO per pair with its rule, alerts), then the top findings
(unexpected conformance FAILED apart from confirmed known deviations, REJECTED / IGNORED cells, drift changes,
migration blockers), then the ranked plan with the evidence that decided each row, and a compact matrix of verdict
words. Untrusted text (notes, error messages) is escaped for tables and truncated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.model.verdicts import FAILING_STATUS_WORDS, Conformance, Status, Support
from conformance.report.decision import first_screen, plan
from conformance.report.drift import Change, is_known_deviation
from conformance.report.results_io import (
    cell,
    is_failed,
    iter_cells,
    sorted_features,
    target_names,
    truncate,
    verdict_text,
)

MAX_BYTES = 900_000  # GitHub refuses step summaries over 1 MiB
MAX_ITEMS = 40  # per list of findings
TEXT_LIMIT = 160  # characters of one untrusted text
CELL_NOTE = (
    "Cells: support word when status is OK, else the status word; `· NON_STRICT` / `· FAILED` = conformance. "
    "NOT TESTED = the target did not run the probe. Evidence for every cell is in compat.html."
)


def md_text(text: Any, limit: int = TEXT_LIMIT) -> str:
    """Untrusted text made safe for one Markdown table cell or list item: one line, escaped, truncated."""
    s = " ".join(str(text).split())
    tail = f"… ({len(s) - limit} more characters)" if len(s) > limit else ""
    s = s[:limit]
    for ch, rep in (("\\", "\\\\"), ("|", "\\|"), ("<", "&lt;"), (">", "&gt;"), ("`", "'"), ("[", "\\["),
                    ("]", "\\]"), ("*", "\\*"), ("_", "\\_")):
        s = s.replace(ch, rep)
    return s + tail


def md_fix(text: Any, limit: int = 300) -> str:
    """A fix or hint for a table cell: one line, pipes and angle brackets escaped, `code` spans kept."""
    s = truncate(" ".join(str(text).split()), limit)
    s = s.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return s if s.count("`") % 2 == 0 else s.replace("`", "'")


def _code(text: str) -> str:
    return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"


def _first_note(res: dict[str, Any]) -> str:
    notes = res.get("notes") or []
    return f": {md_text(notes[0])}" if notes else ""


def _failed_rule(res: dict[str, Any]) -> str:
    """": <the rule that failed>" from the first probe whose conformance FAILED (else the first note)."""
    for ev in res.get("evidence") or []:
        if ev.get("conformance") == Conformance.FAILED.value:
            rule = next((f"{f.get('rule')}: {f.get('message')}" for f in ev.get("findings") or []
                         if f.get("level") == "compat"), None)
            if rule:
                return f": {md_text(rule)}"
            if ev.get("notes"):  # no schema finding (a reproducible 5xx): that probe's own reason
                return f": {md_text(ev['notes'][0])}"
    return _first_note(res)


def _fix_text(item: dict[str, Any]) -> str:
    """The change to make, with whether the suite verified it on that target."""
    if item.get("fix"):
        return f"{item['fix_status']}: {md_fix(item['fix'])}"
    return "no known fix"


def _bullets(title: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    out = [f"**{title}** ({len(lines)})", ""]
    out += [f"- {line}" for line in lines[:MAX_ITEMS]]
    if len(lines) > MAX_ITEMS:
        out.append(f"- … and {len(lines) - MAX_ITEMS} more (see compat.html)")
    return out + [""]


def _record_modes(run: dict[str, Any]) -> str:
    """The record mode, or each merged run's ("a.json: none, b.json: all") when they differ."""
    modes = run.get("record_modes") or {}
    if len(set(modes.values())) > 1:
        return ", ".join(f"{src}: {mode}" for src, mode in modes.items())
    return str(run.get("record_mode", ""))


def render_summary_md(results: dict[str, Any], baseline: str | None = None, uses: dict[str, Any] | None = None,
                      drift_changes: list[Change] | None = None) -> str:
    """The summary as a Markdown string (see write_summary_md)."""
    run = results["run"]
    names = target_names(results, baseline)
    lines = ["# OpenAI compatibility summary", ""]
    tokens = run.get("tokens", {}).get("total", "—")
    lines.append(
        f"suite {md_text(run.get('suite_version', '?'))} · git {md_text((run.get('git_sha') or '—')[:12])} · "
        f"{md_text(run.get('started', ''))} · record mode {md_text(_record_modes(run))} · "
        f"{'complete' if run.get('complete') else '**INCOMPLETE**'} · {run.get('requests', 0)} requests · "
        f"{tokens} tokens · targets: {', '.join(md_text(n) for n in names)}"
    )
    for lib, c in (run.get("clients") or {}).items():
        lines.append(f"\n{md_text(lib)} SDK {md_text(c.get('version') or 'not installed')} (sdk.* probes; tested "
                     f"{md_text(lib)}{md_text(c.get('tested') or '')})")
    lines.append("")
    if not run.get("complete", True):
        lines += [f"> **Incomplete:** {md_text(run.get('interrupted_reason') or 'not every probe ended', 300)}", ""]
    for name in names:
        if (results.get("targets", {}).get(name) or {}).get("usage_synthetic"):
            lines.append(f"> **{md_text(name)}:** {md_text(results['targets'][name].get('usage_note', ''))}")
            lines.append("")
    for problem in run.get("problems") or []:
        lines.append(f"> **Problem:** {md_text(problem)}")
        lines.append("")

    the_plan = plan(results, baseline, uses)
    screen = first_screen(results, baseline, uses, the_plan)
    lines += ["## Decision", ""]
    for alert in screen["alerts"]:
        lines += [f"> **{md_text(alert, 300)}**", ""]
    for pair in screen["pairs"]:
        where = f"{md_text(baseline)} → {md_text(pair['target'])}" if baseline else md_text(pair["target"])
        lines.append(f"- {where} — **{md_text(pair['rule'], 300)}** "
                     f"({pair['counts']['blocker']} blocker(s), {pair['counts']['warning']} warning(s); unexpected "
                     f"failures {pair['unexpected']}, known deviations {pair['known']})")
    lines += ["", f"Unexpected failures: **{len(screen['unexpected'])}** · known deviations (expected, confirmed): "
                  f"**{len(screen['known'])}**", ""]

    failed, known, rejected, ignored, errors = [], [], [], [], []
    for fid, t, res in iter_cells(results):
        where = f"{md_text(t)} · {_code(fid)}"
        if is_failed(res):
            if is_known_deviation(results, t, fid):
                known.append(f"{where}: {verdict_text(res)} — known deviation (expected, confirmed)"
                             f"{_failed_rule(res)}")
                continue
        if res.get("conformance") == Conformance.FAILED.value:
            failed.append(f"{where}{_failed_rule(res)}")
        if res.get("support") == Support.REJECTED.value:
            rejected.append(f"{where}{_first_note(res)}")
        elif res.get("support") == Support.IGNORED.value:
            ignored.append(f"{where}{_first_note(res)}")
        if res.get("status") in FAILING_STATUS_WORDS:
            errors.append(f"{where}: {res['status']}{_first_note(res)}")
    lines += ["## Top findings", ""]
    drift_fail = [c for c in drift_changes or [] if c.fails]
    drift_flaky = [c for c in drift_changes or [] if c.flaky and c.kind in ("changed", "absent")]
    blockers = []
    for name, entry in (the_plan if baseline else {"targets": {}})["targets"].items():
        for item in entry["items"]:
            if item["rank"] == "blocker":
                blockers.append(f"{md_text(name)} · {_code(item['feature'])} ({item['harm']}): "
                                f"{md_text(item['evidence_line'], 240)} → {_fix_text(item)}")
    sections = [
        ("Conformance FAILED", failed),  # unexpected: confirmed known deviations have their own list
        ("Drift changes (fail the gate)", [md_text(c.describe(), 300) for c in drift_fail]),
        (Support.REJECTED.value, rejected),
        ("IGNORED (silently)", ignored),
        (f"Migration blockers (from {md_text(baseline or '')}), by harm", blockers),
        ("ERROR / TIMEOUT", errors),
        ("Known deviations (expected, confirmed: the run stays green)", known),
        ("Flaky drift (reported, never fails)", [md_text(c.describe(), 300) for c in drift_flaky]),
    ]
    found = False
    for title, items in sections:
        block = _bullets(title, items)
        found = found or bool(block)
        lines += block
    tested = any(res.get("status") != Status.SKIPPED.value for _f, _t, res in iter_cells(results))
    if not found:
        lines += ["Nothing failed, rejected or ignored." if tested else "Nothing was tested: every probe was skipped.",
                  ""]

    title = f"Migration plan from {md_text(baseline)}" if baseline else "What holds against each target (no baseline)"
    lines += [f"## {title}", ""]
    if the_plan.get("rule"):
        lines += [md_text(the_plan["rule"], 400), ""]
    for name, entry in the_plan["targets"].items():
        c = entry["counts"]
        pair = f"{md_text(baseline)} → {md_text(name)}" if baseline else md_text(name)
        lines += [f"### {pair} — {md_text(entry['rule'], 300)}", "",
                  f"{c['blocker']} blocker(s), {c['warning']} warning(s), {c.get('info', 0)} info", ""]
        ranked = [i for i in entry["items"] if i["rank"] != "info"]
        rows = [i for i in ranked if uses is None or i["used"]]  # with --uses: the app's own features
        if rows:
            lines += ["| # | rank | feature | verdict | evidence that decided it | change to make |",
                      "|---|---|---|---|---|---|"]
            for n, item in enumerate(rows[:MAX_ITEMS * 2], 1):
                rank = item["rank"] + (f" ({item['harm']})" if item.get("harm") else "")
                rank += " · known deviation" if item.get("known_deviation") else ""
                verdict = (f"{item['baseline_word']} → " if baseline else "") + item["target_word"]
                lines.append(f"| {n} | {rank} | {_code(item['feature'])} | {verdict} | "
                             f"{md_text(item['evidence_line'], 240)} | {_fix_text(item)} |")
            lines.append("")
        if len(ranked) > len(rows):
            lines += [f"{len(ranked) - len(rows)} more blocker(s) and warning(s) on features the app does not use "
                      "(compat.html lists them).", ""]
    lines.append("Decision rule: " + "; ".join(f"**{k.upper()}**: {v}" for k, v in the_plan["decisions"].items()))
    lines.append("")

    lines += ["## Matrix", "", "| feature | " + " | ".join(md_text(n) for n in names) + " |",
              "|---|" + "---|" * len(names)]
    for fid in sorted_features(results):
        row = [verdict_text(cell(results, fid, n)) for n in names]
        lines.append(f"| {_code(fid)} | " + " | ".join(row) + " |")
    lines += ["", CELL_NOTE, ""]
    text = "\n".join(lines)
    if len(text.encode("utf-8")) > MAX_BYTES:
        cut = text.encode("utf-8")[:MAX_BYTES].decode("utf-8", "ignore")
        text = cut.rsplit("\n", 1)[0] + "\n\n… summary truncated to fit a step summary; see compat.html\n"
    return text


def write_summary_md(results: dict[str, Any], path: Path, baseline: str | None = None,
                     uses: dict[str, Any] | None = None, drift_changes: list[Change] | None = None) -> None:
    """Write summary.md (top findings, migration table when a baseline is given, compact matrix)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_summary_md(results, baseline, uses, drift_changes), encoding="utf-8")

"""summary.md: a short Markdown report that fits a GitHub step summary (well under 1 MB).

Top findings come first (conformance FAILED, REJECTED / IGNORED cells, drift changes, migration
blockers), then the migration table and a compact matrix of verdict words. Untrusted text (notes,
error messages) is escaped for tables and truncated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conformance.report.drift import Change
from conformance.report.migration import migration_diff
from conformance.report.results_io import (
    cell,
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
        if ev.get("conformance") == "FAILED":
            rule = next((f"{f.get('rule')}: {f.get('message')}" for f in ev.get("findings") or []
                         if f.get("level") == "compat"), None)
            if rule:
                return f": {md_text(rule)}"
            if ev.get("notes"):  # no schema finding (a reproducible 5xx): that probe's own reason
                return f": {md_text(ev['notes'][0])}"
    return _first_note(res)


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

    failed, rejected, ignored, errors = [], [], [], []
    for fid, t, res in iter_cells(results):
        where = f"{md_text(t)} · {_code(fid)}"
        if res.get("conformance") == "FAILED":
            failed.append(f"{where}{_failed_rule(res)}")
        if res.get("support") == "REJECTED":
            rejected.append(f"{where}{_first_note(res)}")
        elif res.get("support") == "IGNORED":
            ignored.append(f"{where}{_first_note(res)}")
        if res.get("status") in ("ERROR", "TIMEOUT"):
            errors.append(f"{where}: {res['status']}{_first_note(res)}")
    lines += ["## Top findings", ""]
    drift_fail = [c for c in drift_changes or [] if c.fails]
    drift_flaky = [c for c in drift_changes or [] if c.flaky and c.kind in ("changed", "absent")]
    mig = migration_diff(results, baseline, uses) if baseline else None
    blockers = []
    for name, entry in (mig or {}).get("targets", {}).items():
        for item in entry["items"]:
            if item["rank"] == "blocker":
                fix = f" → fix: {md_fix(item['fix'])}" if item["fix"] else (
                    f" ({md_text(item['no_fix_reason'], 300)})" if item.get("no_fix_reason") else " (no known fix)")
                if item.get("sdk_call"):
                    fix += f"; breaks the SDK call {md_fix(item['sdk_call'], 200)}"
                blockers.append(f"{md_text(name)} · {_code(item['feature'])}: {md_text(item['difference'])}{fix}")
    sections = [
        ("Conformance FAILED", failed),
        ("Drift changes (fail the gate)", [md_text(c.describe(), 300) for c in drift_fail]),
        ("REJECTED", rejected),
        ("IGNORED (silently)", ignored),
        (f"Migration blockers (from {md_text(baseline or '')})", blockers),
        ("ERROR / TIMEOUT", errors),
        ("Flaky drift (reported, never fails)", [md_text(c.describe(), 300) for c in drift_flaky]),
    ]
    found = False
    for title, items in sections:
        block = _bullets(title, items)
        found = found or bool(block)
        lines += block
    tested = any(res.get("status") != "SKIPPED" for _f, _t, res in iter_cells(results))
    if not found:
        lines += ["Nothing failed, rejected or ignored." if tested else "Nothing was tested: every probe was skipped.",
                  ""]

    if mig:
        lines += [f"## Migration from {md_text(baseline or '')}", ""]
        for name, entry in mig["targets"].items():
            c = entry["counts"]
            decision = f" — **{entry['decision'].upper()}**: {md_text(entry['decision_reason'], 300)}" \
                if entry["decision"] else ""
            head = (f"### {md_text(baseline or '')} → {md_text(name)}: {c['blocker']} blocker(s), "
                    f"{c['warning']} warning(s), {c['info']} info{decision}")
            lines += [head, ""]
            if entry["items"]:
                lines += ["| rank | feature | baseline | target | fix |", "|---|---|---|---|---|"]
                for item in entry["items"][:MAX_ITEMS * 2]:
                    lines.append(f"| {item['rank']} | {_code(item['feature'])} | {item['baseline_word']} | "
                                 f"{item['target_word']} | {md_fix(item['fix'] or '—')} |")
                lines.append("")
        lines.append("Ranks: " + "; ".join(f"**{k}**: {v}" for k, v in mig["ranks"].items()))
        if uses is not None:
            lines.append("")
            lines.append("Decisions: " + "; ".join(f"**{k}**: {v}" for k, v in mig["decisions"].items()))
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

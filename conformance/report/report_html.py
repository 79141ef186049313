"""Render the reviewer's HTML pages (compat.html matrix, report.html evidence) from results.json data.

Templates live in conformance/templates and are rendered by Jinja2 with autoescaping on: model output
and error texts are untrusted and are only ever shown as text. Pages are self-contained (inline CSS,
inline JS, inline SVG): no CDN, no network, they work from file://. Rendering is deterministic: the
same results give the same bytes.
"""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from conformance import __version__
from conformance.model.verdicts import Conformance, Status, Support
from conformance.report.decision import first_screen, plan
from conformance.report.documented import is_documented
from conformance.report.drift import is_known_deviation
from conformance.report.results_io import (
    GROUPS,
    NOT_TESTED,
    SUPPORT_WORDS,
    cell,
    feature_group,
    feature_title,
    is_failed,
    iter_cells,
    sorted_features,
    target_names,
    truncate,
    verdict_word,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
BODY_LIMIT = 20_000  # characters of one request/response body shown before truncation

# The legend: every verdict value with the rule that produces it (DESIGN.md, "Verdict").
LEGEND: list[dict[str, Any]] = [
    {"axis": "status", "title": "Status of the run (did the probe run?)", "values": [
        ("OK", "the probe ran and got an answer; only OK yields a support verdict"),
        ("ERROR", "a 5xx that the control also gets, or whose re-send fails differently; transport failure or "
                  "unparsable body; never blamed on the feature"),
        ("TIMEOUT", "no answer within the time limit"),
        ("INTERNAL", "a bug in the code of the suite itself (its traceback is in the evidence), never a verdict on "
                     "the target; the run fails until the suite is fixed"),
        ("SKIPPED", "a precondition was unmet (e.g. no tool model configured); the note says which"),
    ]},
    {"axis": "support", "title": "Support of the feature (what the target does with it)", "values": [
        ("SUPPORTED", "accepted (2xx) and an effect observed that a fair control (the same request without the "
                      "feature, or with its opposite) does not show; acceptance alone is never SUPPORTED"),
        ("PARTIAL", "only part of the effect, or some variants only (e.g. the stop text kept, logprobs only with "
                    "top_logprobs, n only unstreamed); the note names the part"),
        ("IGNORED", "accepted (2xx) but no effect against the control: silently ignored"),
        ("REJECTED", "4xx, or the same 5xx twice where the control succeeds; the error message and the offending "
                     "parameter (when named) are kept"),
        ("UNVERIFIABLE", "accepted; whether it is honoured cannot be seen with this model (no effect either way, "
                         "the control shows it too, or usage is synthetic); the note says why"),
        (NOT_TESTED, "absent: this target did not run the probe (unknown, not unsupported)"),
    ]},
    {"axis": "conformance", "title": "Conformance of the response (is the answer OpenAI-shaped?)", "values": [
        ("OK", "the rules this feature owns hold (a finding owned by another feature is listed as also seen, with "
               "that feature)"),
        ("NON_STRICT", "a SHOULD is broken: 422 instead of 400, error body not OpenAI-shaped, extra padding "
                       "fields, the stop text kept"),
        ("FAILED", "a MUST is broken: schema violation, stream without terminator, tool-call arguments not JSON, "
                   "a client error answered with a reproducible 5xx"),
    ]},
]
CELL_RULE = (
    "A cell shows the support word when the status is OK (or OK when the probe judges only conformance), "
    "otherwise the status word; the conformance word is added when it is not OK."
)
# compat.html carries the evidence compressed and opens it on demand (the page stays small); bodies are cut here,
# report.html and results.json keep them whole.
EMBED_BODY_LIMIT = 1_500
EMBED_SSE_EVENTS = 40
BAR_WORDS = tuple(s.value for s in (Support.SUPPORTED, Support.PARTIAL, Support.UNVERIFIABLE, Support.IGNORED,
                                     Support.REJECTED))


def _slug(word: str | None) -> str:
    return (word or "none").lower().replace(" ", "-").replace("_", "-")


def _pretty(value: Any, limit: int = BODY_LIMIT) -> str:
    """JSON value as indented text (strings as they are), truncated: always shown as text, never markup."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return truncate(text, limit)


def _compact(value: Any, limit: int = 2_000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return truncate(text, limit)


def _sse_rows(events: list[Any] | None) -> list[dict[str, str]]:
    rows = []
    for ev in events or []:
        if isinstance(ev, dict):
            t = next((ev[k] for k in ("t_ms", "t", "elapsed_ms", "time_ms") if k in ev), "")
            data = next((ev[k] for k in ("data", "raw", "json", "text") if k in ev), ev)
            event = ev.get("event") or ""
        else:
            t, data, event = "", ev, ""
        rows.append({"t": str(t), "event": str(event), "data": _compact(data)})
    return rows


def make_environment() -> Environment:
    """The Jinja2 environment of every report page: autoescape on, strict undefined, our filters."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pretty"] = _pretty
    env.filters["compact"] = _compact
    env.filters["slug"] = _slug
    env.filters["sse_rows"] = _sse_rows
    return env


def _count_bar(counts: dict[str, int], width: float = 360.0) -> dict[str, Any]:
    total = sum(counts.values())
    x = 0.0
    segments = []
    for word in BAR_WORDS:
        n = counts.get(word, 0)
        if not n:
            continue
        w = round(width * n / total, 2) if total else 0.0
        segments.append({"word": word, "slug": _slug(word), "count": n, "x": round(x, 2), "width": w})
        x += w
    return {"segments": segments, "total": total, "width": width}


def _timing_chart(targets: list[dict[str, Any]], key: str, width: float = 230.0) -> dict[str, Any] | None:
    rows = [(t["name"], t["info"].get(key)) for t in targets]
    rows = [(n, v) for n, v in rows if isinstance(v, dict) and ("p50" in v or "p95" in v)]
    if not rows:
        return None
    top = max(max(v.get("p50", 0), v.get("p95", 0)) for _, v in rows) or 1.0
    bars = []
    for i, (name, v) in enumerate(rows):
        p50, p95 = v.get("p50"), v.get("p95")
        bars.append({
            "name": name, "y": i * 34,
            "p50": p50, "p95": p95, "n": v.get("n"),
            "w50": round(width * (p50 or 0) / top, 2), "w95": round(width * (p95 or 0) / top, 2),
        })
    return {"bars": bars, "width": width, "height": len(bars) * 34, "key": key}


def _cell_view(results: dict[str, Any], fid: str, tname: str, i: int, j: int) -> dict[str, Any]:
    res = cell(results, fid, tname)
    word = verdict_word(res)
    conf = (res or {}).get("conformance")
    return {
        "target": tname,
        "id": f"ev-{i}-{j}",
        "key": f"{fid}|{tname}",
        "word": word,
        "slug": _slug(word),
        "conf": conf if conf and conf != Conformance.OK.value else None,
        "known": bool(res) and is_failed(res) and is_known_deviation(results, tname, fid),
        "failed": bool(res) and is_failed(res),
        "result": res,
    }


def build_context(results: dict[str, Any], baseline: str | None = None,
                  uses: dict[str, Any] | None = None, decide: bool = True) -> dict[str, Any]:
    """Everything the templates show, computed from results alone (no clock, no environment); `decide=False` leaves
    out what only compat.html shows (the decision, the plan, the embedded evidence)."""
    names = target_names(results, baseline)
    targets = []
    for name in names:
        info = results["targets"][name]
        counts: dict[str, int] = {}
        for fid in results.get("features", {}):
            res = cell(results, fid, name)
            if res and res.get("status") == Status.OK.value and res.get("support") in SUPPORT_WORDS:
                counts[res["support"]] = counts.get(res["support"], 0) + 1
        targets.append({"name": name, "info": info, "is_baseline": name == baseline, "counts": counts,
                        "bar": _count_bar(counts)})
    groups: dict[str, list[dict[str, Any]]] = {g: [] for g in GROUPS}
    info_all = results.get("feature_info", {})
    for i, fid in enumerate(sorted_features(results)):
        cells = [_cell_view(results, fid, t, i, j) for j, t in enumerate(names)]
        words = sorted({c["word"] for c in cells} | {c["conf"] for c in cells if c["conf"]})
        tested_texts = {(c["word"], c["conf"]) for c in cells}
        notes = " ".join(n for c in cells for n in (c["result"] or {}).get("notes", []))
        title = feature_title(results, fid)
        groups[feature_group(results, fid)].append({
            "fid": fid,
            "title": title,
            "why": info_all.get(fid, {}).get("why", ""),
            "cells": cells,
            "words": " ".join(w.replace(" ", "_") for w in words),
            "diff": len(tested_texts) > 1,
            "failed": any(c["failed"] and not c["known"] for c in cells),
            "search": f"{fid} {title} {notes}".lower(),
        })
    group_list = [{"name": g, "rows": rows} for g, rows in groups.items() if rows]
    all_words = sorted({w for g in group_list for r in g["rows"] for w in r["words"].split()})
    the_plan = plan(results, baseline, uses) if decide else None
    return {
        "screen": first_screen(results, baseline, uses, the_plan) if the_plan else None,
        "plan": the_plan,
        "evidence_blob": evidence_payload(results) if decide else "",
        "suite_version": results["run"].get("suite_version", __version__),
        "run": results["run"],
        "targets": targets,
        "groups": group_list,
        "all_words": all_words,
        "legend": LEGEND,
        "cell_rule": CELL_RULE,
        "latency": _timing_chart(targets, "latency_ms"),
        "ttft": _timing_chart(targets, "ttft_ms"),
        "migration": the_plan if baseline and decide else None,
        "baseline_documented": is_documented(results, baseline),
        "embed_limit": EMBED_BODY_LIMIT,
        "baseline": baseline,
        "features": results.get("features", {}),
        "feature_info": info_all,
    }


def _embed_exchange(x: dict[str, Any]) -> list[Any]:
    req, resp = x.get("request") or {}, x.get("response") or {}
    sse = resp.get("sse") or []
    events = [_compact(ev, 300) for ev in sse[:EMBED_SSE_EVENTS]]
    if len(sse) > EMBED_SSE_EVENTS:
        events.append(f"… {len(sse) - EMBED_SSE_EVENTS} more events (report.html has them all)")
    body = resp.get("body")
    return [x.get("role"), f"{req.get('method') or 'POST'} {req.get('path') or ''}",
            _pretty(req.get("body"), EMBED_BODY_LIMIT), resp.get("status"),
            None if body is None else _pretty(body, EMBED_BODY_LIMIT), events, resp.get("error"),
            str(x.get("cassette") or "").split("/cassettes/")[-1], x.get("replayed"),
            f"re-sent {x['retries']}×: {'; '.join(x.get('retry_reasons') or [])}" if x.get("retries") else None]


def evidence_payload(results: dict[str, Any]) -> str:
    """Every cell's evidence as gzip'd, base64'd JSON ({"x": [exchange…], "c": {"fid|target": [notes, hint,
    [[probe, status, support, conformance, notes, findings, [exchange index…]]…]]}}): exchanges the probes share
    (controls) are stored once. The page decompresses it in the browser (DecompressionStream) when a cell is opened
    and renders it as text. Deterministic: the same results give the same bytes."""
    index: dict[str, int] = {}
    exchanges: list[list[Any]] = []
    cells: dict[str, Any] = {}
    for fid, name, res in iter_cells(results):
        records = []
        for rec in res.get("evidence") or []:
            refs = []
            for x in rec.get("exchanges") or []:
                item = _embed_exchange(x)
                key = json.dumps(item, sort_keys=True, ensure_ascii=False)
                if key not in index:
                    index[key] = len(exchanges)
                    exchanges.append(item)
                refs.append(index[key])
            findings = [[f.get("part"), f.get("pointer"), f.get("rule"), f.get("level"), truncate(str(f.get("message")),
                         400), _compact(f.get("expected"), 300), _compact(f.get("actual"), 300)]
                        for f in rec.get("findings") or []]
            records.append([rec.get("probe"), rec.get("status"), rec.get("support"), rec.get("conformance"),
                            rec.get("notes") or [], findings, refs])
        cells[f"{fid}|{name}"] = [res.get("notes") or [], res.get("hint"), records]
    doc = json.dumps({"x": exchanges, "c": cells}, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(gzip.compress(doc.encode("utf-8"), mtime=0)).decode("ascii")


def embedded_evidence(html: str) -> dict[str, Any]:
    """The evidence a compat.html page carries (the inverse of evidence_payload), for tests and tools."""
    blob = html.split('id="evidence-data">', 1)[1].split("</script>", 1)[0]
    return json.loads(gzip.decompress(base64.b64decode(blob)))


def render_compat_html(results: dict[str, Any], baseline: str | None = None,
                       uses: dict[str, Any] | None = None) -> str:
    """The compat.html page as a string (see write_compat_html)."""
    return make_environment().get_template("compat.html.j2").render(**build_context(results, baseline, uses))


def write_compat_html(results: dict[str, Any], path: Path, baseline: str | None = None,
                      uses: dict[str, Any] | None = None) -> None:
    """Write the self-contained compatibility matrix (features × targets, evidence, legend, migration view)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_compat_html(results, baseline, uses), encoding="utf-8")


def render_report_html(results: dict[str, Any]) -> str:
    """The report.html evidence page (every probe of every target) as a string."""
    ctx = build_context(results, decide=False)
    return make_environment().get_template("report.html.j2").render(**ctx)


def write_report_html(results: dict[str, Any], path: Path) -> None:
    """Write report.html: a self-contained per-probe evidence page rebuilt from results alone."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report_html(results), encoding="utf-8")

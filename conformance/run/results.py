"""Building results.json from probe results: per feature and target, the verdict and its evidence."""

from __future__ import annotations

import statistics
import subprocess
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.judge.classify import probe_record
from conformance.judge.ownership import also_seen_head
from conformance.model.findings import Finding
from conformance.model.probes import Probe
from conformance.model.roles import RoleKind, kind_of
from conformance.model.targets import Target
from conformance.model.verdicts import (
    INTERNAL_ERROR,
    Conformance,
    SkipCause,
    Status,
    Support,
    conformance_of,
    fails,
    worst_conformance,
)
from conformance.run.engine import ProbeResult
from conformance.run.sdk import sdk_clients


def git_sha(cwd: Path | None = None) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _percentiles(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50": round(statistics.median(ordered), 1), "p95": round(p95, 1), "max": round(ordered[-1], 1),
            "n": len(ordered)}


def record_of(result: ProbeResult) -> dict[str, Any]:
    """A probe result as plain data (travels between pytest-xdist workers in user_properties)."""
    record = {"target": result.target, "feature": result.probe.feature, **probe_record(
        result.probe, result.verdict, result.observations)}
    if result.concurrency:
        record["concurrency"] = result.concurrency  # per target, not per probe: build_results lifts it out
    return record


def _concurrency(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per target, the lowest concurrency any record (any pytest-xdist worker) saw the run reach, with why."""
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        seen = rec.get("concurrency")
        if seen and (rec["target"] not in out or seen["reached"] < out[rec["target"]]["reached"]):
            out[rec["target"]] = seen
    return out


def _stats(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Requests, tokens and timings per target, counting each shared control once."""
    seen: set[tuple[str, str, str]] = set()
    out: dict[str, dict[str, Any]] = {}
    for rec in records:
        s = out.setdefault(rec["target"], {"requests": 0, "live": 0, "prompt": 0, "completion": 0,
                                           "lat": [], "ttft": []})
        for ex in rec["exchanges"]:
            if not ex.get("sent", ex["response"].get("status") is not None):
                continue  # never sent: no cassette, no key, budget
            if ex.get("shared") or kind_of(ex["role"]) is RoleKind.CONTROL:  # sent once, handed to several probes
                key = (rec["target"], ex.get("shared") or ex["role"], str(ex.get("cassette")))
                if key in seen:
                    continue
                seen.add(key)
            sent = 1 + ex.get("retries", 0)  # a re-sent request was sent again (and counted by --max-requests)
            s["requests"] += sent
            usage = ex.get("usage") or {}
            s["prompt"] += usage.get("prompt", 0)
            s["completion"] += usage.get("completion", 0)
            if not ex.get("replayed"):
                s["live"] += sent
                if ex.get("elapsed_ms") is not None:
                    s["lat"].append(ex["elapsed_ms"])
                if ex.get("ttft_ms") is not None and ex["response"].get("sse") is not None:
                    s["ttft"].append(ex["ttft_ms"])
    return out


def _usage_check(records: list[dict[str, Any]], target: str) -> dict[str, Any]:
    """The target's usage test, stated once: synthetic when any token-accounting probe found it so."""
    seen = [r["measurements"].get("usage_synthetic") for r in records
            if r["target"] == target and "usage_synthetic" in (r.get("measurements") or {})]
    if not any(v is not None for v in seen):
        return {}
    synthetic = any(seen)
    note = ("usage is synthetic (prompt_tokens do not move with prompt length): every token-accounting verdict "
            "is UNVERIFIABLE" if synthetic else "usage moves with prompt length: token accounting is judged")
    return {"usage_synthetic": synthetic, "usage_note": note}


def aggregate_feature(records: list[dict[str, Any]], probes: dict[str, Probe]) -> dict[str, Any]:
    """One feature on one target, from its probes' records.

    Rule: support comes from the OK `support` probes (all alike → that value; SUPPORTED mixed with
    others → PARTIAL with a note; UNVERIFIABLE only when nothing decisive); `check` and `hint`
    probes add notes; conformance is the worst of every OK probe; status is OK when any support
    probe ran OK, else the first non-OK status. The hint is offered only when its hint probe was SUPPORTED.
    """
    def role(rec: dict[str, Any]) -> str:
        return probes[rec["probe"]].role if rec["probe"] in probes else "support"

    support_recs = [r for r in records if role(r) == "support"] or records
    ok = [r for r in support_recs if r["status"] == Status.OK.value]
    notes: list[str] = []
    support: str | None = None
    status = Status.OK.value if ok else support_recs[0]["status"]
    values = [r["support"] for r in ok if r["support"]]
    decisive = [v for v in values if v != Support.UNVERIFIABLE.value] or values
    if decisive:
        kinds = set(decisive)
        if len(kinds) == 1:
            support = decisive[0]
        else:
            mixed = Support.PARTIAL if kinds & {Support.SUPPORTED, Support.PARTIAL} else (
                Support.REJECTED if Support.REJECTED in kinds else Support.IGNORED)
            support = mixed.value
            notes.append("variants differ: " + ", ".join(f"{r['probe']}: {r['support']}" for r in ok if r["support"]))
    backed_hint = None
    for r in records:
        if role(r) == "hint" and r["status"] == Status.OK.value:
            hint = probes[r["probe"]].hint if r["probe"] in probes else r["probe"]
            works = r["support"] == Support.SUPPORTED.value
            backed_hint = backed_hint or (hint if works else None)
            verdict = "works" if works else ("cannot tell whether it works" if r["support"] == Support.UNVERIFIABLE
                                             else "does not work")
            notes.append(f"alternative {verdict} ({r['support'] or 'no support verdict'}): {hint}")
        prefix = f"[{r['probe']}] " if len(records) > 1 else ""
        notes.extend(prefix + n for n in r["notes"][:4])
    if status != Status.OK.value:
        support = None
    conformance = worst_conformance(*[Conformance(r["conformance"]) for r in records
                                      if r["status"] == Status.OK.value and r["conformance"]])
    # "Send X instead" only where the probe of X was SUPPORTED on this target: advice the evidence backs.
    hint = backed_hint if support in (Support.REJECTED.value, Support.IGNORED.value, Support.PARTIAL.value) else None
    return {
        "status": status,
        "support": support,
        "conformance": conformance.value if conformance else None,
        "notes": notes,
        "hint": hint,
        "evidence": [{k: v for k, v in r.items() if k not in ("target", "feature", "concurrency")} for r in records],
    }


def charge_unseen_findings(records: list[dict[str, Any]],
                           owners: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One finding, one owner — when the owner shows it. A finding charged to another feature ("also seen")
    whose owner's own probes on that target do not show that rule comes back to the feature that saw it.

    The owner's probes decide: those of `records`, and `owners` (the owners' probes a run added only to decide:
    run/engine.owners_needed), so the decision never depends on which probes a run selected. A decided finding
    is marked (`owner_shows`) or moved to `charged_back`, so charging the charged records again changes nothing."""
    owned: set[tuple[str, str, str]] = {(r["target"], r["feature"], f["rule"]) for r in [*records, *(owners or [])]
                                        for f in r.get("findings") or []}
    out = []
    for r in records:
        if r["status"] != Status.OK.value or not (r.get("measurements") or {}).get("also_seen"):
            out.append(r)
            continue
        m = r["measurements"]
        shown = [{**f, "owner_shows": True} if (r["target"], f["owner"], f["rule"]) in owned else f
                 for f in m["also_seen"]]
        unseen = [f for f in shown if not f.get("owner_shows")]
        if not unseen:
            out.append({**r, "measurements": {**m, "also_seen": shown}})
            continue
        found = [Finding.from_dict(f) for f in unseen]
        worst = worst_conformance(Conformance(r["conformance"]) if r["conformance"] else None, conformance_of(found))
        notes = [n for n in r["notes"] if not any(n.startswith(also_seen_head(f["owner"])) for f in unseen)]
        notes += [f"{f['rule']} at {f['pointer'] or '/'}: {f['message']} (charged here: {f['owner']}'s own probes "
                  "do not show it)" for f in unseen[:3]]
        measurements = {**m, "also_seen": [f for f in shown if f.get("owner_shows")],
                        "charged_back": [*(m.get("charged_back") or []), *unseen]}
        out.append({**r, "conformance": worst.value if worst else None, "notes": notes, "measurements": measurements,
                    "findings": [*(r.get("findings") or []), *(f.to_dict() for f in found)]})
    return out


def build_results(
    records: list[dict[str, Any]], targets: list[Target], *, record_mode: str, probes: dict[str, Probe],
    started: datetime, finished: datetime, complete: bool = True, interrupted_reason: str | None = None,
) -> dict[str, Any]:
    """The results.json document (see schemas/results.schema.json)."""
    records = charge_unseen_findings(records)
    by_feature: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for r in records:
        by_feature.setdefault(r["feature"], {}).setdefault(r["target"], []).append(r)
    features = {fid: {t: aggregate_feature(rs, probes) for t, rs in sorted(per_target.items())}
                for fid, per_target in sorted(by_feature.items())}
    counts: Counter[str] = Counter()
    for r in records:
        counts[f"status.{r['status']}"] += 1
        if r["support"]:
            counts[f"support.{r['support']}"] += 1
        if r["conformance"]:
            counts[f"conformance.{r['conformance']}"] += 1
    counts["probes"] = len(records)
    info: dict[str, Any] = {}
    for r in records:
        p = probes.get(r["probe"])
        if p is not None:
            info.setdefault(p.feature, {"group": p.group, "title": p.why, "why": p.why})
    stats = _stats(records)
    concurrency = _concurrency(records)
    target_docs: dict[str, Any] = {}
    totals = {"prompt": 0, "completion": 0, "total": 0}
    requests = live = 0
    for t in targets:
        s = stats.get(t.name) or {"requests": 0, "live": 0, "prompt": 0, "completion": 0, "lat": [], "ttft": []}
        tok = {"prompt": s["prompt"], "completion": s["completion"], "total": s["prompt"] + s["completion"]}
        for k in totals:
            totals[k] += tok[k]
        requests += s["requests"]
        live += s["live"]
        target_docs[t.name] = {
            **t.describe(), **_usage_check(records, t.name), "live": s["live"] > 0, "requests": s["requests"],
            "tokens": tok,
            "latency_ms": _percentiles(s["lat"]), "ttft_ms": _percentiles(s["ttft"]),
            "duration_s": round(sum(s["lat"]) / 1000, 3),  # request time spent live (concurrent requests add up)
            "run_started": started.isoformat(timespec="seconds"),
        }
        if t.name in concurrency:
            target_docs[t.name]["concurrency"] = concurrency[t.name]
    return {
        "schema_version": 1,
        "run": {
            "suite_version": __version__, "git_sha": git_sha(Path(__file__).resolve().parent),
            "record_mode": record_mode, "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "duration_s": round((finished - started).total_seconds(), 3), "complete": complete,
            "interrupted_reason": interrupted_reason, "counts": dict(sorted(counts.items())),
            "requests": requests, "live_requests": live, "tokens": totals,
            **({"clients": sdk_clients()} if any(r["probe"].startswith("sdk.") for r in records) else {}),
        },
        "targets": target_docs,
        "feature_info": dict(sorted(info.items())),
        "features": features,
    }


def now() -> datetime:
    return datetime.now(timezone.utc)


def failed_rule(record: dict[str, Any]) -> str | None:
    """The rule that made a conformance FAILED (the first MUST finding, or the reproducible-5xx note)."""
    if record.get("conformance") != Conformance.FAILED.value:
        return None
    charged = (record.get("measurements") or {}).get("charged_back") or []
    for f in record.get("findings") or []:
        if f.get("level") == "compat":
            back = next((c for c in charged if c["rule"] == f.get("rule") and c["pointer"] == f.get("pointer")), None)
            where = (f" (seen in {record.get('probe')}; charged back from {back['owner']}, whose own probes do not "
                     "show it)") if back else ""
            return f"{f.get('rule')} at {f.get('pointer') or '/'}: {f.get('message')}{where}"
    return next((n for n in record.get("notes") or [] if "5xx" in n), (record.get("notes") or ["?"])[0])


def failed(record: dict[str, Any]) -> bool:
    """A pytest failure: conformance FAILED, or the probe could not run (ERROR / TIMEOUT)."""
    return fails(record)


MAX_INTERNAL = 5  # suite bugs named one by one in the run's problems (the rest counted)


def internal_problems(records: Any) -> list[str]:
    """A problem line for each probe the suite's own code failed on (INTERNAL): the run fails until it is fixed."""
    internal = [r for r in records if r.get("status") == Status.INTERNAL.value]
    lines = [f"{(r.get('notes') or [INTERNAL_ERROR])[0]} ({r['target']} · {r['probe']}; its traceback is in "
             "results.json: please report it)" for r in internal[:MAX_INTERNAL]]
    if len(internal) > MAX_INTERNAL:
        lines.append(f"{INTERNAL_ERROR}: {len(internal) - MAX_INTERNAL} more probes (results.json has them all)")
    return lines


# the skip causes counted as probes never run, in the words the run's summary uses
UNRUN = {SkipCause.NO_RECORDING.value: "without a recording", SkipCause.BUDGET.value: "over the request budget",
         SkipCause.MISCONFIGURED.value: "on a misconfigured target",
         SkipCause.DEADLINE.value: "after the run's --deadline"}


def skip_causes(records: Any) -> dict[str, int]:
    """Probes that were never run, by cause: no recording to replay, the request budget, a misconfigured target,
    the run's deadline (a key left unset is the user's choice and not counted)."""
    causes: Counter[str] = Counter()
    for r in records:
        cause = r.get("skip_cause") if r.get("status") == Status.SKIPPED.value else None
        if cause in UNRUN:
            causes[UNRUN[cause]] += 1
    return dict(causes)

"""Drift gate: compare a run's verdicts with stored expectations (after wpt's expectation files).

An expectations file is JSON: {"kind": "conformance-expectations", "version": 1, "targets": {name:
{"base_url", "features": {feature id: {status, support, conformance}}, "flaky": [feature ids]}}}.
A results.json works too: the verdicts of its features are the expectations.

Kinds of Change: "changed" (a verdict axis differs) and "absent" (expected, not tested now) fail the
gate; "new" (tested now, not expected), "target_absent" (a whole target did not run) and "not_installed"
(SKIPPED because an optional extra such as [sdk] is not installed: the note says what to install) are info
only; a change on a feature listed as flaky is reported with flaky=True and never fails.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from conformance.model.verdicts import SkipCause, Status, fails
from conformance.report.results_io import sorted_features, truncate, validate_results, verdict_text, verdict_triple

KIND = "conformance-expectations"
FAILING_KINDS = ("changed", "absent")
INTERNAL = Status.INTERNAL.value


class ExpectationsError(ValueError):
    """An expectations file that cannot be used: the message names the file and the fix."""


@dataclass(frozen=True)
class Change:
    """One difference between the expected and the current verdicts of a target's feature."""

    target: str
    feature: str
    was: dict[str, Any] | None
    now: dict[str, Any] | None
    evidence: str = ""
    kind: str = "changed"  # changed | absent | new | target_absent | not_installed
    flaky: bool = False
    axes: list[str] = field(default_factory=list)

    @property
    def fails(self) -> bool:
        """True when this change fails the drift gate (not flaky, not info only)."""
        return self.kind in FAILING_KINDS and not self.flaky

    def describe(self) -> str:
        """One line: target, feature, was → now, and the evidence summary."""
        was = verdict_text(self.was) if self.was else "not tested"
        now = verdict_text(self.now) if self.now else "not tested"
        if self.kind == "target_absent":
            return f"{self.target}: expected target did not run"
        tail = f" ({self.evidence})" if self.evidence else ""
        flaky = " [flaky]" if self.flaky else ""
        return f"{self.target} · {self.feature}: {was} → {now}{tail}{flaky}"

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for JSON output), including `fails`."""
        return {**asdict(self), "fails": self.fails}


def expectations_from_results(results: dict[str, Any], targets: list[str] | None = None) -> dict[str, Any]:
    """Build an expectations dict from results (all targets, or only `targets`)."""
    out: dict[str, Any] = {"kind": KIND, "version": 1, "targets": {}}
    run = results.get("run", {})
    out["generated_from"] = {"started": run.get("started"), "suite_version": run.get("suite_version"),
                             "git_sha": run.get("git_sha")}
    for name, info in results.get("targets", {}).items():
        if targets is not None and name not in targets:
            continue
        feats: dict[str, Any] = {}
        flaky: list[str] = []
        for fid in sorted_features(results):
            res = results["features"][fid].get(name)
            if res is None or res.get("status") == INTERNAL:  # a suite bug is never a target's expected verdict
                continue
            feats[fid] = verdict_triple(res)
            if res.get("flaky"):
                flaky.append(fid)
        out["targets"][name] = {"base_url": info.get("base_url"), "features": feats, "flaky": flaky}
    return out


def load_expectations(path: str | Path) -> dict[str, Any]:
    """Read an expectations file, or a results.json used as one; raise ExpectationsError naming the fix."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ExpectationsError(f"{p}: cannot read expectations ({exc}); pass a file written by "
                         "--update-expectations or a results.json") from exc
    if isinstance(data, dict) and "features" in data and "run" in data:
        problems = validate_results(data)
        if problems:
            raise ExpectationsError(f"{p}: a results.json used as expectations is invalid: {problems[0]}")
        return expectations_from_results(data)
    if not isinstance(data, dict) or data.get("kind") != KIND or not isinstance(data.get("targets"), dict):
        raise ExpectationsError(f"{p}: not an expectations file (expected \"kind\": \"{KIND}\" and \"targets\"); "
                         "write one with --update-expectations")
    for name, t in data["targets"].items():
        if not isinstance(t.get("features"), dict):
            raise ExpectationsError(f"{p}: /targets/{name}/features must be an object of feature id → verdicts")
        t.setdefault("flaky", [])
    return data


def write_expectations(results: dict[str, Any], path: str | Path, targets: list[str] | None = None) -> None:
    """Write the verdicts of `results` as expectations to `path`.

    The `flaky` list of each target in an existing file at `path` is kept (and features flagged
    flaky in the results are added); targets not in this run stay as they were.
    """
    p = Path(path)
    new = expectations_from_results(results, targets)
    if p.exists():
        try:
            old = load_expectations(p)
        except ExpectationsError:
            old = {"targets": {}}
        for name, t in old.get("targets", {}).items():
            if name in new["targets"]:
                merged = sorted(set(t.get("flaky", [])) | set(new["targets"][name]["flaky"]))
                new["targets"][name]["flaky"] = merged
            else:
                new["targets"][name] = t
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(new, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def evidence_summary(res: dict[str, Any] | None, limit: int = 240) -> str:
    """A short line of evidence for a feature result: first note, HTTP status, first finding pointer."""
    if not res:
        return ""
    bits: list[str] = []
    if res.get("notes"):
        bits.append(str(res["notes"][0]))
    for ev in res.get("evidence", []):
        for exch in ev.get("exchanges", []):
            resp = exch.get("response", {})
            if resp.get("error"):
                bits.append(str(resp["error"]))
            elif resp.get("status") is not None:
                bits.append(f"HTTP {resp['status']}")
            break
        if ev.get("findings"):
            f = ev["findings"][0]
            bits.append(f"{f.get('pointer') or '/'}: {f.get('message')}")
        break
    return truncate("; ".join(bits), limit)


def compare_to_expectations(results: dict[str, Any], expectations: dict[str, Any]) -> list[Change]:
    """Every difference between the run's verdicts and the expectations (see the module docstring)."""
    changes: list[Change] = []
    features = results.get("features", {})
    for name, exp in expectations.get("targets", {}).items():
        flaky = set(exp.get("flaky", []))
        if name not in results.get("targets", {}):
            changes.append(Change(name, "*", None, None, "target not in this run", "target_absent"))
            continue
        expected = exp.get("features", {})
        for fid in sorted(set(expected) | {f for f, cells in features.items() if name in cells}):
            was = expected.get(fid)
            res = features.get(fid, {}).get(name)
            now = verdict_triple(res)
            is_flaky = fid in flaky or bool((res or {}).get("flaky"))
            if was is None:
                changes.append(Change(name, fid, None, now, evidence_summary(res), "new", is_flaky))
            elif now is None:
                changes.append(Change(name, fid, was, None, "expected but not tested in this run", "absent",
                                      is_flaky))
            elif now.get("status") == Status.SKIPPED.value and _missing_extra(res):
                changes.append(Change(name, fid, was, now, evidence_summary(res), "not_installed", is_flaky))
            else:
                axes = [a for a in ("status", "support", "conformance") if was.get(a) != now.get(a)]
                if axes:
                    changes.append(Change(name, fid, was, now, evidence_summary(res), "changed", is_flaky, axes))
    return changes


def _missing_extra(res: dict[str, Any] | None) -> bool:
    """The cell was skipped because an optional extra is not installed (not a verdict that changed)."""
    return any(r.get("skip_cause") == SkipCause.NO_CLIENT.value for r in (res or {}).get("evidence", []))


def failing(changes: list[Change]) -> list[Change]:
    """The changes that fail the drift gate."""
    return [c for c in changes if c.fails]


def _fails(triple: dict[str, Any] | None) -> bool:
    return bool(triple) and fails(triple)


def known_deviations(results: dict[str, Any], expectations: dict[str, Any],
                     changes: list[Change]) -> list[dict[str, str]]:
    """The failing cells this run confirmed as expected ({"target", "feature"}): the cell fails (conformance FAILED,
    ERROR or TIMEOUT), its expectation fails the same way, and no drift change of that cell fails the gate."""
    drifted = {(c.target, c.feature) for c in changes if c.fails}
    out: list[dict[str, str]] = []
    for fid in sorted_features(results):
        for name, res in results["features"][fid].items():
            was = expectations.get("targets", {}).get(name, {}).get("features", {}).get(fid)
            now = verdict_triple(res)
            if _fails(now) and _fails(was) and (name, fid) not in drifted and now.get("status") != INTERNAL and (
                    now.get("status") == was.get("status") and now.get("conformance") == was.get("conformance")):
                out.append({"target": name, "feature": fid})
    return out


def is_known_deviation(results: dict[str, Any], target: str, fid: str) -> bool:
    """Whether this run confirmed the (target, feature) cell as a known deviation (run.known_deviations)."""
    return any(k.get("target") == target and k.get("feature") == fid
               for k in results.get("run", {}).get("known_deviations") or [])

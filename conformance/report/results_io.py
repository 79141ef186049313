"""Read, validate and merge results.json files; small helpers every report writer shares.

Reports are built from results.json alone, so this module is the one place that knows its layout.
"""

from __future__ import annotations

import copy
import fnmatch
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema

from conformance.model.probes import GROUPS as PREFIX_GROUPS
from conformance.model.verdicts import Conformance, Status, Support, fails

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "results.schema.json"

# Display order of feature groups, and the id prefix that implies each group when feature_info is silent.
GROUPS = ("basics", "parameters", "streaming", "tools", "json", "conversations", "errors", "models", "sdk")
_PREFIX_GROUP = PREFIX_GROUPS
SUPPORT_WORDS = tuple(s.value for s in Support)
STATUS_WORDS = tuple(s.value for s in Status)
CONFORMANCE_WORDS = tuple(c.value for c in Conformance)
NOT_TESTED = "NOT TESTED"


class ResultsError(Exception):
    """A results file that cannot be used: which file, where in it (JSON pointer) and what is wrong."""

    def __init__(self, path: str | Path, pointer: str, message: str) -> None:
        self.path = str(path)
        self.pointer = pointer
        self.message = message
        where = f"{self.path} at {pointer or '/'}" if pointer is not None else self.path
        super().__init__(f"{where}: {message}")


def _pointer(parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def _errors(data: Any) -> list[jsonschema.ValidationError]:
    validator = jsonschema.Draft202012Validator(_schema())
    return sorted(validator.iter_errors(data), key=lambda e: (list(map(str, e.absolute_path)), e.message))


def validate_results(data: Any) -> list[str]:
    """Return one message per schema violation of `data` ("<json pointer>: <message>"); [] when valid."""
    return [f"{_pointer(e.absolute_path) or '/'}: {e.message}" for e in _errors(data)]


def load_results(path: str | Path) -> dict[str, Any]:
    """Read and validate a results.json; raise ResultsError naming the file, the pointer and the fix."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultsError(p, "", f"cannot read the file ({exc.strerror or exc}); pass a results.json path") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultsError(p, "", f"not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from exc
    errors = _errors(data)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise ResultsError(
            p,
            _pointer(first.absolute_path),
            f"{first.message}{more}; expected a results.json as described by {SCHEMA_PATH.name}",
        )
    return data


def _run_date(results: dict[str, Any]) -> str:
    return str(results.get("run", {}).get("started", ""))[:10] or "unknown-date"


def _sum_tokens(a: dict[str, int] | None, b: dict[str, int] | None) -> dict[str, int]:
    out = dict(a or {})
    for key, value in (b or {}).items():
        out[key] = out.get(key, 0) + int(value)
    return out


def _counts_from_evidence(results: dict[str, Any]) -> dict[str, int] | None:
    """Probe counts recomputed from every cell's evidence (one record per probe); None when evidence is missing."""
    counts: dict[str, int] = {"probes": 0}
    for _fid, _target, res in iter_cells(results):
        records = res.get("evidence")
        if not records or not all(isinstance(r, dict) and "status" in r for r in records):
            return None
        for r in records:
            counts["probes"] += 1
            for axis in ("status", "support", "conformance"):
                if r.get(axis):
                    counts[f"{axis}.{r[axis]}"] = counts.get(f"{axis}.{r[axis]}", 0) + 1
    return dict(sorted(counts.items()))


def merge_results(results: list[dict[str, Any]], sources: list[str] | None = None) -> dict[str, Any]:
    """Merge several results side by side into one results dict (inputs are not modified).

    Targets keep their names. The same name in a later file replaces the earlier target and all its
    verdicts (the later run wins; `run.replaced` says so), unless the base URLs differ: then the later
    target is renamed `name@<run date>` so both stay. Counts are recomputed from the kept verdicts,
    requests and tokens summed over the kept targets, `complete` is true only when every run was complete,
    problems are kept, `run.sources` lists the merged files and `run.record_modes` each one's record mode.
    """
    if not results:
        raise ValueError("merge_results needs at least one results dict")
    names = list(sources or [])
    for i, r in enumerate(results):
        if i >= len(names):
            names.append(f"run@{r.get('run', {}).get('started', i)}")
    if len(results) == 1:
        merged = copy.deepcopy(results[0])
        merged["run"].setdefault("sources", names[:1])
        return merged

    merged: dict[str, Any] = {"schema_version": 1, "run": {}, "targets": {}, "feature_info": {}, "features": {}}
    run = merged["run"]
    all_sources: list[str] = []
    owner: dict[str, tuple[str, dict[str, Any]]] = {}  # target name → (source, its run) that it came from
    replaced: list[str] = []
    for i, r in enumerate(results):
        src_run = r.get("run", {})
        all_sources.extend(src_run.get("sources") or [names[i]])
        rename: dict[str, str] = {}
        for name, info in r.get("targets", {}).items():
            new = name
            old = merged["targets"].get(name)
            if old is not None and old.get("base_url") != info.get("base_url"):
                new = f"{name}@{_run_date(r)}"
                n = 2
                while new in merged["targets"] and merged["targets"][new].get("base_url") != info.get("base_url"):
                    new = f"{name}@{_run_date(r)}-{n}"
                    n += 1
            if new in merged["targets"]:  # the same target again: the later run wins, all of it
                replaced.append(f"target {new}: {names[i]} replaces {owner[new][0]} (the later run wins)")
                for cells in merged["features"].values():
                    cells.pop(new, None)
            rename[name] = new
            owner[new] = (names[i], src_run)
            entry = copy.deepcopy(info)
            entry.setdefault("run_started", src_run.get("started", ""))
            merged["targets"][new] = entry
        merged["feature_info"].update(copy.deepcopy(r.get("feature_info", {})))
        for fid, cells in r.get("features", {}).items():
            slot = merged["features"].setdefault(fid, {})
            for tname, cell in cells.items():
                slot[rename.get(tname, tname)] = copy.deepcopy(cell)
        if src_run.get("clients"):
            run.setdefault("clients", {}).update(copy.deepcopy(src_run["clients"]))
        for key in ("suite_version", "git_sha"):
            if key in src_run:
                run[key] = src_run[key]
        modes = run.setdefault("record_modes", {})
        modes[names[i]] = src_run.get("record_mode", "none")
        run["started"] = min(filter(None, [run.get("started"), src_run.get("started")]), default="")
        run["finished"] = max(filter(None, [run.get("finished"), src_run.get("finished")]), default="")
        if "duration_s" in src_run:
            run["duration_s"] = run.get("duration_s", 0) + src_run["duration_s"]
        run["complete"] = run.get("complete", True) and bool(src_run.get("complete", False))
        if src_run.get("interrupted_reason"):
            reasons = [x for x in [run.get("interrupted_reason"), src_run["interrupted_reason"]] if x]
            run["interrupted_reason"] = "; ".join(reasons)
        for problem in src_run.get("problems") or []:
            line = f"{names[i]}: {problem}"
            if line not in run.setdefault("problems", []):
                run["problems"].append(line)
        if src_run.get("baseline"):
            run["baseline"] = rename.get(src_run["baseline"], src_run["baseline"])
        for known in src_run.get("known_deviations") or []:  # confirmed by the run that tested the cell
            entry = {"target": rename.get(known["target"], known["target"]), "feature": known["feature"]}
            if entry not in run.setdefault("known_deviations", []):
                run["known_deviations"].append(entry)
        if isinstance(src_run.get("exit_status"), int):
            run["exit_status"] = max(run.get("exit_status", 0), src_run["exit_status"])
    merged["features"] = {fid: cells for fid, cells in merged["features"].items() if cells}
    # a live run among replays makes the merge live: never label live traffic "none"
    live_modes = [m for m in run["record_modes"].values() if m != "none"]
    run["record_mode"] = live_modes[-1] if live_modes else "none"
    _sum_kept_targets(run, merged["targets"], owner, [r.get("run", {}) for r in results])
    counts = _counts_from_evidence(merged)
    if counts is None:  # no per-probe evidence: sum what the kept runs say
        counts = {}
        for src_run in {id(o[1]): o[1] for o in owner.values()}.values():
            for key, value in src_run.get("counts", {}).items():
                counts[key] = counts.get(key, 0) + value
    run["counts"] = counts
    if replaced:
        run["replaced"] = replaced
    run["sources"] = all_sources
    if not merged["feature_info"]:
        del merged["feature_info"]
    return merged


def _sum_kept_targets(run: dict[str, Any], targets: dict[str, Any], owner: dict[str, tuple[str, dict[str, Any]]],
                      runs: list[dict[str, Any]]) -> None:
    """requests, live_requests and tokens of the merge: per kept target when the targets say, else per run."""
    if all("requests" in t and "tokens" in t for t in targets.values()):
        run["requests"] = sum(int(t["requests"]) for t in targets.values())
        run["tokens"] = _sum_tokens({}, {})
        for t in targets.values():
            run["tokens"] = _sum_tokens(run["tokens"], t["tokens"])
        # live requests are only known per run: a kept run's live share, for the targets it still contributes
        live = 0
        for src_run in {id(o[1]): o[1] for o in owner.values()}.values():
            kept = [t for name, t in targets.items() if owner[name][1] is src_run]
            if src_run.get("live_requests"):
                live += sum(int(t["requests"]) for t in kept if t.get("live"))
        run["live_requests"] = min(live, run["requests"])
        return
    for src_run in runs:
        for key in ("requests", "live_requests"):
            run[key] = run.get(key, 0) + int(src_run.get(key, 0))
        run["tokens"] = _sum_tokens(run.get("tokens"), src_run.get("tokens"))
    run.setdefault("requests", 0)


# --- helpers shared by the report writers -------------------------------------------------------


def feature_group(results: dict[str, Any], fid: str) -> str:
    """The display group of a feature: feature_info[fid].group, else implied by the id prefix."""
    group = results.get("feature_info", {}).get(fid, {}).get("group")
    if group in GROUPS:
        return group
    return _PREFIX_GROUP.get(fid.split(".", 1)[0], "basics")


def feature_title(results: dict[str, Any], fid: str) -> str:
    """The human title of a feature (feature_info[fid].title), or "" when none is given."""
    return str(results.get("feature_info", {}).get(fid, {}).get("title") or "")


def sorted_features(results: dict[str, Any]) -> list[str]:
    """Feature ids ordered by group (GROUPS order), then id: a stable order for every report."""
    return sorted(results.get("features", {}), key=lambda f: (GROUPS.index(feature_group(results, f)), f))


def target_names(results: dict[str, Any], baseline: str | None = None) -> list[str]:
    """Target names in file order, with the baseline (when given and known) first."""
    names = list(results.get("targets", {}))
    if baseline in names:
        names.remove(baseline)
        names.insert(0, baseline)
    return names


def cell(results: dict[str, Any], fid: str, target: str) -> dict[str, Any] | None:
    """The feature result of `target` for `fid`, or None when that target did not test it."""
    return results.get("features", {}).get(fid, {}).get(target)


def verdict_word(result: dict[str, Any] | None) -> str:
    """The main word shown for a cell: the status word unless OK, else the support word."""
    if result is None:
        return NOT_TESTED
    if result.get("status") != Status.OK.value:
        return str(result.get("status"))
    return str(result.get("support") or Status.OK.value)


def verdict_text(result: dict[str, Any] | None) -> str:
    """Main word plus the conformance word when conformance is not OK, e.g. "SUPPORTED · NON_STRICT"."""
    word = verdict_word(result)
    conf = (result or {}).get("conformance")
    if conf and conf != Status.OK.value:
        return f"{word} · {conf}"
    return word


def record_text(result: dict[str, Any]) -> str:
    """Every axis that has a value, e.g. "status OK, support SUPPORTED, conformance FAILED" (an absent axis is left
    out, never shown as None)."""
    return ", ".join(f"{axis} {result[axis]}" for axis in ("status", "support", "conformance") if result.get(axis))


def verdict_triple(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Only the three verdict axes of a feature result."""
    if result is None:
        return None
    return {k: result.get(k) for k in ("status", "support", "conformance")}


def is_failed(cell: dict[str, Any]) -> bool:
    """A cell that fails the run unless expected: conformance FAILED, or the target could not answer."""
    return fails(cell)


def iter_cells(results: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(feature id, target name, feature result) for every tested cell, in report order."""
    targets = target_names(results)
    for fid in sorted_features(results):
        for t in targets:
            res = cell(results, fid, t)
            if res is not None:
                yield fid, t, res


def matches_any(fid: str, patterns: list[str]) -> bool:
    """True when the feature id matches one of the glob patterns (fnmatch, e.g. "stream.*")."""
    return any(fnmatch.fnmatchcase(fid, p) for p in patterns)


def truncate(text: str, limit: int) -> str:
    """Cut `text` to `limit` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return text[:limit] + f"… [{len(text) - limit} more characters]"
